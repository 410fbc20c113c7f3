package protocol_test

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/config"
)

// fuzzWords are the arguments the command-table fuzzer combines: option
// keywords of every family, numbers at the edges of their ranges, keys
// that collide, and odd strings.
var fuzzWords = []string{
	"k", "k2", "tag", "a", "", "0", "1", "-1", "2", "3", "10", "100", "1000", "5000", "60000",
	"9223372036854775807", "-9223372036854775808", "9223372036854775808", "4294967296", "536870912",
	"1e308", "-1e308", "inf", "-inf", "nan", "0.5", "1.5e-300", "0x10", "abc",
	"ex", "px", "exat", "pxat", "nx", "xx", "gt", "lt", "keepttl", "get", "persist", "ch", "incr",
	"tags", "deps", "version", "jitter", "nojitter", "lease", "wait", "beta", "nolease", "grace", "delta",
	"items", "capacity", "error", "expansion", "nocreate", "nonscaling",
	"count", "match", "type", "*", "[a-", "withscores", "limit", "byscore", "bylex", "rev",
	"replace", "db", "absttl", "idletime", "freq", "on", "off", "yes", "no", "reset",
	"default", "all", "everything", "string", "\x00\xff", "\r\n",
}

// fuzzSkip are commands that would stop the server, change it under the
// fuzzer or block the connection for long.
var fuzzSkip = map[string]bool{
	"shutdown": true, "config|set": true, "config|resetstat": true, "debug": true, "monitor": true,
	"subscribe": true, "psubscribe": true, "ssubscribe": true, "client|pause": true, "client|kill": true,
	"acl|setuser": true, "acl|deluser": true, "acl|load": true, "quit": true, "reset": true, "hello": true,
	"auth": true, "client|reply": true, "multi": true, "exec": true, "watch": true, "save": true,
	"bgsave": true, "script|kill": true, "function|kill": true,
}

// FuzzCommandTable runs every command of the table with arguments drawn
// from the fuzz input (a command index, then word indexes and raw bytes)
// against a real server, and fails on any recovered panic or on a command
// that does not answer in time (issue 12: no recovered panic reachable from
// input).
func FuzzCommandTable(f *testing.F) {
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Shards = 4
	cfg.MaxMemory = 32 << 20
	cfg.ProtoMaxBulkLen = 1 << 20
	cfg.SlowlogLogSlowerThan = -1
	a, addr := startFuzzServer(f, cfg)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { conn.Close() })
	rd := bufio.NewReader(conn)

	var cmds [][]string // name words of every runnable command
	for _, cmd := range a.Server.Table().All() {
		name := cmd.FullName()
		if fuzzSkip[name] || fuzzSkip[strings.SplitN(name, "|", 2)[0]] || cmd.Subs != nil {
			continue
		}
		cmds = append(cmds, strings.Split(name, "|"))
	}
	for i := range cmds {
		f.Add([]byte{byte(i), 0, 1, 6, 29, 7})
		f.Add([]byte{byte(i), 0, 30, 7, 35, 1, 36, 2, 0, 3})
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		args := append([]string(nil), cmds[int(in[0])%len(cmds)]...)
		for i := 1; i < len(in) && len(args) < 16; i++ {
			b := in[i]
			if b >= 0xf0 && i+1 < len(in) { // a raw byte string of up to 16 bytes
				n := min(int(b&0x0f)+1, len(in)-i-1)
				args = append(args, string(in[i+1:i+1+n]))
				i += n
				continue
			}
			args = append(args, fuzzWords[int(b)%len(fuzzWords)])
		}
		var sb strings.Builder
		sb.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
		for _, x := range args {
			sb.WriteString("$" + strconv.Itoa(len(x)) + "\r\n" + x + "\r\n")
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write([]byte(sb.String())); err != nil {
			t.Fatalf("write %q: %v", args, err)
		}
		if err := skipReply(rd); err != nil {
			t.Fatalf("%q: no reply: %v", args, err)
		}
		if n := a.Server.Stats().Panics; n != 0 {
			t.Fatalf("%d panics recovered after %q", n, args)
		}
	})
}

// skipReply reads one RESP2/RESP3 reply.
func skipReply(rd *bufio.Reader) error {
	line, err := rd.ReadString('\n')
	if err != nil {
		return err
	}
	if len(line) < 3 {
		return nil
	}
	n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
	switch line[0] {
	case '$', '=', '!':
		if n >= 0 {
			_, err = rd.Discard(n + 2)
		}
	case '*', '~', '>', '%', '|':
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		for i := 0; i < n && err == nil; i++ {
			err = skipReply(rd)
		}
	}
	return err
}
