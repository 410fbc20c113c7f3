package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

func TestInlineAndPipelining(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	r := s.raw()
	r.send("SET a \"hello world\"\r\nGET a\r\nPING\r\n")
	for _, want := range []string{"+OK\r\n", "$11\r\nhello world\r\n", "+PONG\r\n"} {
		if got := r.reply(); got != want {
			t.Fatalf("got %q want %q", got, want)
		}
	}
	// A pipeline of 10,000 commands in one write gets 10,000 replies in order.
	var b strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&b, "*3\r\n$3\r\nSET\r\n$%d\r\nk%d\r\n$%d\r\n%d\r\n", len(fmt.Sprint(i))+1, i, len(fmt.Sprint(i)), i)
	}
	b.WriteString("*1\r\n$6\r\nDBSIZE\r\n")
	r.send(b.String())
	for i := 0; i < 10000; i++ {
		if got := r.reply(); got != "+OK\r\n" {
			t.Fatalf("reply %d: %q", i, got)
		}
	}
	if got := r.reply(); got != ":10001\r\n" {
		t.Fatal(got)
	}
	// go-redis pipelines
	c := s.client(2)
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := 0; i < 100; i++ {
			p.Get(ctx, fmt.Sprint("k", i))
		}
		return nil
	})
	if err != nil || len(cmds) != 100 || cmds[42].(*redis.StringCmd).Val() != "42" {
		t.Fatalf("pipeline: %v", err)
	}
}

func TestProtocolErrorsCloseOnlyThatClient(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.ProtoMaxBulkLen = 1 << 20 })
	good := s.client(2)
	cases := []struct{ in, want string }{
		{"*1\r\n$99999999\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*9999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"*1\r\nfoo\r\n", "-ERR Protocol error: expected '$', got 'f'\r\n"},
		{"SET \"a b\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n"},
		{"*2\r\n$3\r\nGET\r\n$1\r\nab\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
	}
	for _, c := range cases {
		r := s.raw()
		r.send(c.in)
		if got := r.reply(); got != c.want {
			t.Errorf("%q: got %q want %q", c.in, got, c.want)
		}
		if !r.closed() {
			t.Errorf("%q: connection left open", c.in)
		}
		want(t, good, "PONG", "ping")
	}
	// Garbage bytes: answered and closed, never a crash.
	r := s.raw()
	r.send(string(bytes.Repeat([]byte{0xff, 0x00, '*', '$', '\n'}, 1000)))
	r.closed()
	want(t, good, "PONG", "ping")
}

func TestErrorWording(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	long := strings.Repeat("a", 200)
	_, e := do(t, c, "foo", "bar", long)
	if e != "ERR unknown command 'foo', with args beginning with: 'bar' '"+long[:128-6]+"' " {
		t.Fatalf("%q", e)
	}
	wantErr(t, c, "ERR wrong number of arguments for 'set' command", "set", "a")
	wantErr(t, c, "ERR wrong number of arguments for 'config|get' command", "config", "get")
}

func TestBigValue(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.MaxMemory = 0 })
	c := s.client(2)
	big := strings.Repeat("x", 20<<20)
	want(t, c, "OK", "set", "big", big)
	v, _ := do(t, c, "get", "big")
	if v.(string) != big {
		t.Fatal("big value changed")
	}
	want(t, c, int64(20<<20+1), "append", "big", "y")
}

func TestMaxClients(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.MaxClients = 3 })
	var held []*raw
	for i := 0; i < 3; i++ {
		r := s.raw()
		r.cmd("ping")
		r.reply()
		held = append(held, r)
	}
	r := s.raw()
	if got := r.reply(); got != "-ERR max number of clients reached\r\n" {
		t.Fatalf("got %q", got)
	}
	if !r.closed() {
		t.Fatal("refused connection left open")
	}
	held[0].c.Close()
	// A slot frees once the server sees the close.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("PING\r\n"))
		buf := make([]byte, 64)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _ := c.Read(buf)
		c.Close()
		if string(buf[:n]) == "+PONG\r\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no slot after a client left: %q", buf[:n])
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, h := range held[1:] {
		h.c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	if info := s.client(2).Info(ctx, "stats").Val(); !strings.Contains(info, "rejected_connections:") || strings.Contains(info, "rejected_connections:0") {
		t.Fatalf("INFO stats: %q", info)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.Timeout = time.Second })
	r := s.raw()
	r.cmd("ping")
	r.reply()
	start := time.Now()
	if !r.closed() {
		t.Fatal("idle client not closed")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("closed after %v", d)
	}
}

func TestQueryBufferLimit(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) {
		c.ClientQueryBufferLimit = 1 << 20
		c.ProtoMaxBulkLen = 1 << 20
	})
	r := s.raw()
	// A command of a million small arguments outgrows the 1 MiB query
	// buffer: the client is closed.
	r.send("*1000000\r\n$3\r\nDEL\r\n")
	chunk := strings.Repeat("$1\r\nx\r\n", 8<<10)
	for i := 0; i < 40; i++ {
		r.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := r.c.Write([]byte(chunk)); err != nil {
			break
		}
	}
	if !r.closed() {
		t.Fatal("client over the query buffer limit was not closed")
	}
	want(t, s.client(2), "PONG", "ping")
}

func TestManyArguments(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := redis.NewClient(&redis.Options{Addr: s.Addr, ReadTimeout: 60 * time.Second, WriteTimeout: 60 * time.Second})
	defer c.Close()
	const n = 100000
	args := []any{"mset"}
	for i := 0; i < n; i++ {
		args = append(args, fmt.Sprint("k", i), "v")
	}
	if v, err := c.Do(ctx, args...).Result(); err != nil || v != "OK" {
		t.Fatalf("MSET of %d pairs: %v %v", n, v, err)
	}
	want(t, c, int64(n), "dbsize")
	dargs := []any{"del"}
	for i := 0; i < n; i++ {
		dargs = append(dargs, fmt.Sprint("k", i))
	}
	if v, err := c.Do(ctx, dargs...).Result(); err != nil || v != int64(n) {
		t.Fatalf("DEL of %d keys: %v %v", n, v, err)
	}
}

// TestGracefulShutdown: a pipeline being executed when shutdown starts is
// answered in full; new connections are refused; Run returns.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	r := s.raw()
	var b strings.Builder
	for i := 0; i < 50000; i++ {
		b.WriteString("*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.c.Write([]byte(b.String()))
	}()
	got := r.reply() // the pipeline is being executed
	if got != ":1\r\n" {
		t.Fatal(got)
	}
	s.App.Stop()
	// Everything read before shutdown is answered, in order, then the
	// server closes the connection (EOF, not a reset).
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	rest, err := io.ReadAll(r.rd)
	if err != nil {
		t.Fatalf("after shutdown: %v", err)
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(string(rest), "\r\n"), "\r\n")
	for i, l := range lines {
		if l != fmt.Sprintf(":%d", i+2) {
			t.Fatalf("reply %d after shutdown began: %q", i+2, l)
		}
	}
	t.Logf("%d replies after shutdown began", len(lines))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		c, err := net.Dial("tcp", s.Addr)
		if err != nil {
			break
		}
		c.Close()
		if ctx.Err() != nil {
			t.Fatal("still accepting after shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
