// Package integration drives real cachesrv servers over real sockets with
// real clients (go-redis, redis-cli, raw RESP).
package integration

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/expire"
)

// server is a cachesrv instance started for one test.
type server struct {
	t    *testing.T
	App  *app.App
	Addr string
	// clock is the fake clock of a server started by startClock (nil
	// otherwise).
	clock *expire.FakeClock
}

// start runs a server on a 127.0.0.1:0 listener (no free-port race) until
// the test ends. mod adjusts the default configuration.
func start(t *testing.T, mod func(*config.Config)) *server {
	t.Helper()
	return startWith(t, func(cfg *config.Config) {
		cfg.Dir = t.TempDir() // SAVE and SHUTDOWN write snapshots here
		if mod != nil {
			mod(cfg)
		}
	}, nil, nil)
}

// client returns a go-redis client (RESP2 unless proto says otherwise).
func (s *server) client(proto int) *redis.Client {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Protocol: proto, MaxRetries: -1, DisableIdentity: false})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// raw is a plain TCP connection speaking RESP by hand.
type raw struct {
	t  *testing.T
	c  net.Conn
	rd *bufio.Reader
}

func (s *server) raw() *raw {
	s.t.Helper()
	c, err := net.Dial("tcp", s.Addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close() })
	return &raw{t: s.t, c: c, rd: bufio.NewReader(c)}
}

func (r *raw) send(s string) {
	r.t.Helper()
	r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// cmd sends a command as a RESP array.
func (r *raw) cmd(args ...string) {
	var b strings.Builder
	b.WriteString("*" + itoa(len(args)) + "\r\n")
	for _, a := range args {
		b.WriteString("$" + itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	r.send(b.String())
}

// reply reads one whole reply and returns its raw bytes.
func (r *raw) reply() string {
	r.t.Helper()
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	r.readValue(&b)
	return b.String()
}

func (r *raw) readLine() string {
	r.t.Helper()
	line, err := r.rd.ReadString('\n')
	if err != nil {
		r.t.Fatalf("read: %v (got %q)", err, line)
	}
	return line
}

func (r *raw) readValue(b *strings.Builder) {
	line := r.readLine()
	b.WriteString(line)
	n := 0
	if len(line) > 3 {
		n = atoi(line[1 : len(line)-2])
	}
	switch line[0] {
	case '$', '=':
		if n >= 0 {
			buf := make([]byte, n+2)
			if _, err := ioReadFull(r.rd, buf); err != nil {
				r.t.Fatalf("read bulk: %v", err)
			}
			b.Write(buf)
		}
	case '*', '~', '>':
		for i := 0; i < n; i++ {
			r.readValue(b)
		}
	case '%':
		for i := 0; i < 2*n; i++ {
			r.readValue(b)
		}
	}
}

// closed reports whether the server closed the connection.
func (r *raw) closed() bool {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := r.rd.ReadByte()
	return err != nil
}
