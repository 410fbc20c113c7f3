package integration

// Hostile and broken clients, each against the real binary over real
// sockets, so the server's own memory can be measured (VmRSS and the peak,
// VmHWM, from /proc/<pid>/status). Every test checks that the server keeps
// serving a well-behaved client during and after the attack, and logs the
// peak RSS of the run ("go test -v -run Hostile ./test/integration").

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// proc is a cachesrv process started for one test.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	p := &proc{t: t, addr: "127.0.0.1:" + port, stderr: new(syncBuffer)}
	p.cmd = exec.Command(bin, append([]string{"--port", port, "--metrics-addr", "", "--shards", "16"}, args...)...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("cachesrv exited with %v; log:\n%s", err, p.stderr)
			}
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			t.Errorf("cachesrv did not exit after SIGTERM")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", p.addr)
		if err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("cachesrv never listened: %v\n%s", err, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mem returns the server's resident set and its peak, in bytes.
func (p *proc) mem() (rss, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		p.t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		n, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = n << 10
		case "VmHWM:":
			peak = n << 10
		}
	}
	return rss, peak
}

func (p *proc) logPeak(what string, base int64) {
	rss, peak := p.mem()
	p.t.Logf("MEMORY %s: baseline RSS %.1f MiB, now %.1f MiB, peak %.1f MiB", what, mib(base), mib(rss), mib(peak))
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// do sends one command on a fresh connection and returns the raw reply.
func (p *proc) do(args ...string) string {
	p.t.Helper()
	s := &server{t: p.t, Addr: p.addr}
	r := s.raw()
	defer r.c.Close()
	r.cmd(args...)
	return r.reply()
}

// info returns one INFO field.
func (p *proc) info(section, field string) int64 {
	p.t.Helper()
	for _, line := range strings.Split(p.do("info", section), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	p.t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

// watchdog PINGs the server on its own connection every 20ms while the
// attack runs and reports the slowest answer; a missing answer fails.
type watchdog struct {
	stop    chan struct{}
	done    chan struct{}
	slowest atomic.Int64
	pings   atomic.Int64
	err     atomic.Value
}

func (p *proc) watch() *watchdog {
	w := &watchdog{stop: make(chan struct{}), done: make(chan struct{})}
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		defer c.Close()
		rd := bufio.NewReader(c)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			c.SetDeadline(start.Add(5 * time.Second))
			if _, err := c.Write([]byte("PING\r\n")); err != nil {
				w.err.Store(err.Error())
				return
			}
			line, err := rd.ReadString('\n')
			if err != nil || line != "+PONG\r\n" {
				w.err.Store(fmt.Sprintf("%q %v", line, err))
				return
			}
			w.pings.Add(1)
			if d := int64(time.Since(start)); d > w.slowest.Load() {
				w.slowest.Store(d)
			}
		}
	}()
	return w
}

func (w *watchdog) check(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	if e := w.err.Load(); e != nil {
		t.Fatalf("a well-behaved client was not served during the attack: %v", e)
	}
	t.Logf("well-behaved client: %d PINGs, slowest %v", w.pings.Load(), time.Duration(w.slowest.Load()))
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedWithin reports whether the server closes c within d (reading and
// discarding whatever it sends).
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	ne, ok := err.(net.Error)
	return !(ok && ne.Timeout())
}

// TestHostileSlowloris: clients that announce a huge bulk (within
// proto-max-bulk-len), a huge multibulk, or half a line, and then stop.
// Without timeout they only cost what they sent; with timeout they are
// closed.
func TestHostileSlowloris(t *testing.T) {
	const n = 100
	for _, timeout := range []string{"0", "1"} {
		t.Run("timeout="+timeout, func(t *testing.T) {
			p := startProc(t, "--timeout", timeout)
			base, _ := p.mem()
			w := p.watch()
			var conns []net.Conn
			for i := 0; i < n; i++ {
				for _, in := range []string{
					"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000000\r\nabc", // 500 MB announced, 3 bytes sent
					"*1000000\r\n$3\r\nDEL\r\n$1\r\na\r\n",            // a million arguments announced
					"SET k \"never ends",                              // half an inline command
				} {
					c := dialRaw(t, p.addr)
					if _, err := c.Write([]byte(in)); err != nil {
						t.Fatal(err)
					}
					conns = append(conns, c)
				}
			}
			time.Sleep(300 * time.Millisecond) // let the server read them
			rss, _ := p.mem()
			t.Logf("%d stalled clients: RSS grew %.1f MiB (%.1f KiB each)", len(conns), mib(rss-base), float64(rss-base)/1024/float64(len(conns)))
			if rss-base > 256<<20 {
				t.Errorf("stalled clients cost %.0f MiB: announced sizes were reserved", mib(rss-base))
			}
			if timeout == "1" {
				for i, c := range conns {
					if !closedWithin(c, 5*time.Second) {
						t.Fatalf("stalled client %d not closed by timeout", i)
					}
				}
			} else if closedWithin(conns[0], 1500*time.Millisecond) {
				t.Fatal("stalled client closed without a timeout")
			}
			w.check(t)
			if got := p.do("ping"); got != "+PONG\r\n" {
				t.Fatal(got)
			}
			p.logPeak("slowloris timeout="+timeout, base)
		})
	}
}

// TestHostileProtocolAbuse: oversized bulk and multibulk lengths, garbage
// bytes from many concurrent clients; the server answers each with an
// error and closes it, counts no panic, and keeps serving.
func TestHostileProtocolAbuse(t *testing.T) {
	p := startProc(t, "--proto-max-bulk-len", "1mb")
	base, _ := p.mem()
	w := p.watch()
	for _, tc := range []struct{ in, want string }{
		{"*1\r\n$1048577\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*1048577\r\n", "-ERR Protocol error: invalid multibulk length\r\n"},
		{"*2\r\n$3\r\nGET\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n"},
		{"*" + strings.Repeat("9", 70000), "-ERR Protocol error: too big mbulk count string\r\n"},
		{strings.Repeat("x", 70000), "-ERR Protocol error: too big inline request\r\n"},
	} {
		c := dialRaw(t, p.addr)
		c.Write([]byte(tc.in))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, _ := bufio.NewReader(c).ReadString('\n')
		if got != tc.want {
			t.Errorf("%.20q: got %q want %q", tc.in, got, tc.want)
		}
	}
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				c, err := net.Dial("tcp", p.addr)
				if err != nil {
					t.Error(err)
					return
				}
				junk := make([]byte, 1+j*997)
				rand.Read(junk)
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write(junk)
				c.(*net.TCPConn).CloseWrite()
				io.Copy(io.Discard, c)
				c.Close()
			}
		}()
	}
	wg.Wait()
	w.check(t)
	if n := p.info("stats", "recovered_panics"); n != 0 {
		t.Fatalf("%d panics", n)
	}
	p.logPeak("protocol abuse", base)
}

// TestHostilePipelineNoRead: a client sends a million GETs and never reads
// a reply. Its writes block; client-output-timeout closes it and counts it.
func TestHostilePipelineNoRead(t *testing.T) {
	p := startProc(t, "--client-output-timeout", "2", "--client-output-buffer-limit", "normal 64mb 16mb 10")
	if got := p.do("set", "k", strings.Repeat("v", 100)); got != "+OK\r\n" {
		t.Fatal(got)
	}
	base, _ := p.mem()
	w := p.watch()
	c := dialRaw(t, p.addr)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	const n = 1_000_000
	cmd := []byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n")
	buf := bytes.Repeat(cmd, 10_000)
	start := time.Now()
	sent := 0
	var werr error
	c.SetWriteDeadline(time.Now().Add(60 * time.Second))
	for sent < n && werr == nil {
		_, werr = c.Write(buf)
		if werr == nil {
			sent += 10_000
		}
	}
	t.Logf("sent %d commands in %v before the server stopped reading them (write: %v)", sent, time.Since(start), werr)
	deadline := time.Now().Add(30 * time.Second)
	for p.info("stats", "client_output_buffer_limit_disconnections") < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the non-reading client was not disconnected\n%s", p.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !closedWithin(c, 10*time.Second) {
		t.Fatal("connection still open")
	}
	t.Logf("disconnected %v after the pipeline started", time.Since(start))
	w.check(t)
	if !strings.Contains(p.stderr.String(), "client-output-timeout") {
		t.Errorf("disconnection not logged:\n%s", p.stderr)
	}
	p.logPeak("1M-command pipeline, never read", base)
}

// TestHostileOutputLimits: the hard limit closes a client at once when a
// reply would exceed it; the soft limit closes a client that leaves more
// than soft bytes unread for soft-seconds.
func TestHostileOutputLimits(t *testing.T) {
	p := startProc(t, "--client-output-timeout", "0", "--client-output-buffer-limit", "normal 4mb 1mb 1")
	one := strings.Repeat("x", 1<<20)
	for i := 0; i < 5; i++ {
		if got := p.do("set", "big"+strconv.Itoa(i), one); got != "+OK\r\n" {
			t.Fatal(got)
		}
	}
	base, _ := p.mem()
	w := p.watch()
	// Hard: a 5 MiB reply with a 4 MiB limit; nothing is sent.
	s := &server{t: t, Addr: p.addr}
	r := s.raw()
	r.cmd("mget", "big0", "big1", "big2", "big3", "big4")
	start := time.Now()
	b, _ := io.ReadAll(r.rd)
	if len(b) != 0 || time.Since(start) > 3*time.Second {
		t.Fatalf("hard limit: read %d bytes in %v", len(b), time.Since(start))
	}
	// Within the hard limit a reader that keeps up is fine.
	r = s.raw()
	r.cmd("mget", "big0", "big1", "big2")
	if got := r.reply(); len(got) < 3<<20 {
		t.Fatalf("3 MiB reply: %d bytes", len(got))
	}
	// Soft: 3 MiB pending (twice), the client reads nothing.
	c := dialRaw(t, p.addr)
	c.(*net.TCPConn).SetReadBuffer(32 << 10)
	c.Write([]byte("*4\r\n$4\r\nMGET\r\n$4\r\nbig0\r\n$4\r\nbig1\r\n$4\r\nbig2\r\n*4\r\n$4\r\nMGET\r\n$4\r\nbig0\r\n$4\r\nbig1\r\n$4\r\nbig2\r\n"))
	start = time.Now()
	deadline := start.Add(15 * time.Second)
	for p.info("stats", "client_output_buffer_limit_disconnections") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("soft limit not enforced\n%s", p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("soft limit enforced after %v, before soft-seconds", d)
	}
	t.Logf("soft limit enforced after %v", time.Since(start))
	w.check(t)
	p.logPeak("output limits", base)
}

// raiseNofile raises this process's open files limit to the hard limit.
func raiseNofile(t *testing.T, need uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Skip(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	if rl.Cur < need {
		t.Skipf("SKIPPING: open files limit %d < %d", rl.Cur, need)
	}
}

// dialMany opens n connections with bounded concurrency (the accept
// backlog is finite) and sends each a PING so it is registered.
func dialMany(t *testing.T, addr string, n int, ping bool) []net.Conn {
	conns := make([]net.Conn, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				c, err := net.DialTimeout("tcp", addr, 10*time.Second)
				if err != nil {
					failed.Add(1)
					continue
				}
				conns[i] = c
				if ping {
					c.SetDeadline(time.Now().Add(10 * time.Second))
					c.Write([]byte("PING\r\n"))
					b := make([]byte, 7)
					if _, err := io.ReadFull(c, b); err != nil {
						failed.Add(1)
					}
					c.SetDeadline(time.Time{})
				}
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 && ping {
		t.Fatalf("%d of %d connections failed", f, n)
	}
	return conns
}

// TestHostileIdleConnections: 10,000 idle connections; reports the
// server's memory per idle connection.
func TestHostileIdleConnections(t *testing.T) {
	const n = 10_000
	raiseNofile(t, n+200)
	p := startProc(t, "--maxclients", strconv.Itoa(n+100))
	base, _ := p.mem()
	w := p.watch()
	start := time.Now()
	conns := dialMany(t, p.addr, n, true)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	time.Sleep(500 * time.Millisecond)
	rss, _ := p.mem()
	if got := p.info("clients", "connected_clients"); got < n {
		t.Fatalf("connected_clients %d", got)
	}
	t.Logf("%d idle connections opened in %v: RSS grew %.1f MiB, %.1f KiB per connection", n, time.Since(start), mib(rss-base), float64(rss-base)/1024/n)
	w.check(t)
	p.logPeak("10,000 idle connections", base)
}

// TestHostileConnectionStorm: far more simultaneous connections than
// maxclients: the excess is refused with an error, the server survives
// and serves afterwards.
func TestHostileConnectionStorm(t *testing.T) {
	const max, storm = 200, 3000
	raiseNofile(t, storm+200)
	p := startProc(t, "--maxclients", strconv.Itoa(max))
	base, _ := p.mem()
	w := p.watch() // holds one of the slots
	conns := dialMany(t, p.addr, storm, false)
	var refused, served atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			switch line {
			case "-ERR max number of clients reached\r\n":
				refused.Add(1)
			case "+PONG\r\n":
				served.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("storm of %d: %d served, %d refused", storm, served.Load(), refused.Load())
	if served.Load() > max || refused.Load() < storm-max-50 {
		t.Errorf("served %d refused %d with maxclients %d", served.Load(), refused.Load(), max)
	}
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	w.check(t)
	deadline := time.Now().Add(10 * time.Second)
	for p.do("ping") != "+PONG\r\n" {
		if time.Now().After(deadline) {
			t.Fatal("not serving after the storm")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := p.info("stats", "rejected_connections"); r < int64(storm-max-50) {
		t.Errorf("rejected_connections %d", r)
	}
	p.logPeak("connection storm", base)
}

// TestHostileMillionArguments: commands with a million arguments (the
// limit is 1,048,576) are executed while other clients are served.
func TestHostileMillionArguments(t *testing.T) {
	p := startProc(t)
	base, _ := p.mem()
	w := p.watch()
	const n = 1_000_000
	build := func(name string, args func(i int) []string, count int) []byte {
		var b bytes.Buffer
		b.Grow(count * 24)
		first := args(0)
		fmt.Fprintf(&b, "*%d\r\n$%d\r\n%s\r\n", 1+count*len(first), len(name), name)
		for i := 0; i < count; i++ {
			for _, a := range args(i) {
				fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
			}
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		req  []byte
		want string
	}{
		{"MSET", build("MSET", func(i int) []string { return []string{"k" + strconv.Itoa(i), "v"} }, n/2), "+OK\r\n"},
		{"EXISTS", build("EXISTS", func(i int) []string { return []string{"k" + strconv.Itoa(i)} }, n), ":500000\r\n"},
		{"DEL", build("DEL", func(i int) []string { return []string{"k" + strconv.Itoa(i)} }, n), ":500000\r\n"},
	} {
		c := dialRaw(t, p.addr)
		start := time.Now()
		go c.Write(tc.req)
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if line != tc.want {
			t.Fatalf("%s of %d arguments (%d MiB): %q %v", tc.name, n, len(tc.req)>>20, line, err)
		}
		t.Logf("%s with %d arguments (%.1f MiB request) answered in %v", tc.name, n, mib(int64(len(tc.req))), time.Since(start))
	}
	w.check(t)
	p.logPeak("million-argument commands", base)
}
