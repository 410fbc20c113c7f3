package protocol_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/apptest"
	"github.com/cachesrv/cachesrv/internal/config"
)

// FuzzServer feeds arbitrary bytes through the whole request path of a
// real server over a loopback socket (parser, dispatch, ACL, handlers,
// replies) and checks that the server never panics (panics are recovered
// and counted: the count must stay 0), always answers or closes the
// connection once the client stops sending, and still serves a fresh
// client afterwards.
func FuzzServer(f *testing.F) {
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Shards = 4
	cfg.MaxMemory = 64 << 20
	cfg.ProtoMaxBulkLen = 1 << 20
	cfg.ClientQueryBufferLimit = 4 << 20
	cfg.SlowlogLogSlowerThan = -1
	cfg.ClientOutputTimeout = 5 * time.Second
	// CONFIG SET and SHUTDOWN would change the server under the fuzzer.
	cfg.RenameCommands = map[string]string{"config": "", "shutdown": ""}
	a, addr := startFuzzServer(f, cfg)

	for _, seed := range []string{
		"PING\r\n",
		"*1\r\n$4\r\nPING\r\n",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"SET a \"hello \\x41 world\"\r\nGET a\r\nAPPEND a 'x'\r\n",
		"MULTI\r\nINCR n\r\nSET s v EX 10\r\nEXEC\r\n",
		"WATCH k\r\nMULTI\r\nDEL k\r\nEXEC\r\n",
		"ACL SETUSER u on >p ~k* +get\r\nAUTH u p\r\nGET k1\r\nGET x\r\nSET k v\r\nACL LOG\r\n",
		"ACL SETUSER default resetpass\r\nPING\r\nAUTH default x\r\n",
		"HELLO 3 AUTH default x SETNAME c\r\nCLIENT INFO\r\nCLIENT LIST\r\n",
		"AUTH a b c d\r\n*20\r\n",
		"CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n",
		"*1\r\n$99999999999\r\n",
		"*-1\r\n*0\r\n$-1\r\n",
		"*2\r\n$3\r\nGET\r\n$3\r\nab",
		"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100000\r\nxx",
		"\x00\xff*$\n\r\n\"unbalanced\r\n",
		"MSET a 1 b 2 c 3\r\nMGET a b c d\r\nKEYS *\r\nSCAN 0 MATCH [a-\r\nDBSIZE\r\nFLUSHALL\r\n",
		"EXPIRE k 10 NX\r\nTTL k\r\nOBJECT ENCODING k\r\nCOMMAND INFO get\r\nCOMMAND GETKEYS mset a b\r\n",
		"TAGSET k v TAGS 2 a b\r\nINVALIDATE a\r\nTAGS k\r\n",
		"SELECT 3\r\nSWAPDB 0 3\r\nMOVE k 1\r\nCOPY a b DB 2\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		go func() {
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			c.Write(in)
			c.(*net.TCPConn).CloseWrite()
		}()
		// The server must answer and close once the input ends.
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && !isReset(err) {
			t.Fatalf("the server neither answered nor closed: %v (input %q)", err, trunc(in))
		}
		if n := a.Server.Stats().Panics; n != 0 {
			t.Fatalf("%d panics recovered (input %q)", n, trunc(in))
		}
		a.Server.ResetACLForTest("")
		p, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		p.SetDeadline(time.Now().Add(10 * time.Second))
		p.Write([]byte("PING\r\n"))
		buf := make([]byte, 7)
		if _, err := io.ReadFull(p, buf); err != nil || !bytes.Equal(buf, []byte("+PONG\r\n")) {
			t.Fatalf("fresh client got %q, %v after input %q", buf, err, trunc(in))
		}
	})
}

// startFuzzServer runs an app built from cfg on a 127.0.0.1:0 listener
// until the fuzz test ends, and returns it with its address.
func startFuzzServer(f *testing.F, cfg *config.Config) (*app.App, string) {
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	ln := apptest.Listen(f)
	apptest.Serve(f, a, ln)
	return a, ln.Addr().String()
}

func trunc(b []byte) []byte {
	if len(b) > 200 {
		return b[:200]
	}
	return b
}

// isReset: the server may reset a connection it closes while input is
// still arriving; that is still closing.
func isReset(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne) && !ne.Timeout()
}
