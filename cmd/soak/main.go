// Command soak runs a long mixed load against a cachesrv (or Redis) server
// and reports its health as it goes.
//
// Usage:
//
//	soak [-addr 127.0.0.1:6379] [-conns 500] [-duration 10m] [-pipeline 16]
//	     [-keys 1000000] [-values 64,512,4096] [-pid PID] [-password P]
//
// It first fills the cache (SETs until the server evicts or holds every
// key), then runs -conns connections, each sending pipelines of
// -pipeline commands: GET, SET, DEL and, when the server has them
// (COMMAND INFO invalidate), TAGSET and INVALIDATE. Every 10 seconds it
// prints ops/s, errors by kind, the server's RSS (INFO used_memory_rss),
// clients, goroutines and descriptors (INFO, or /proc/<pid> with -pid),
// and at the end a summary. It exits with status 1 when a reply was an
// error or of the wrong type, or a connection failed, and 2 on bad usage.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	addr     string
	conns    int
	duration time.Duration
	pipeline int
	keys     int
	values   []int
	pid      int
	password string
	every    time.Duration
	prefill  bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:6379", "server address")
	fs.IntVar(&o.conns, "conns", 500, "connections")
	fs.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to run after the fill")
	fs.IntVar(&o.pipeline, "pipeline", 16, "commands per pipeline")
	fs.IntVar(&o.keys, "keys", 1_000_000, "key space")
	values := fs.String("values", "64,512,4096", "value sizes in bytes, picked at random")
	fs.IntVar(&o.pid, "pid", 0, "server process id, for RSS, threads and descriptors from /proc")
	fs.StringVar(&o.password, "password", "", "AUTH password")
	fs.DurationVar(&o.every, "report", 10*time.Second, "report interval")
	fs.BoolVar(&o.prefill, "fill", true, "fill the cache before the run")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	for _, s := range strings.Split(*values, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			fmt.Fprintf(stderr, "soak: bad -values %q\n", *values)
			return 2
		}
		o.values = append(o.values, n)
	}
	if o.conns < 1 || o.pipeline < 1 || o.keys < 1 || len(o.values) == 0 {
		fmt.Fprintln(stderr, "soak: -conns, -pipeline and -keys must be positive")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	s := &soak{o: o, out: stdout, errs: map[string]int64{}}
	if err := s.run(ctx); err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	if s.unexpected() > 0 {
		return 1
	}
	return 0
}

// conn is a minimal RESP client connection.
type conn struct {
	c  net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	nb []byte
}

func dial(o options) (*conn, error) {
	c, err := net.DialTimeout("tcp", o.addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	cn := &conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}
	if o.password != "" {
		cn.send("AUTH", o.password)
		if v, err := cn.flushRead(); err != nil || v.kind == '-' {
			c.Close()
			return nil, fmt.Errorf("AUTH: %v %s", err, v.s)
		}
	}
	return cn, nil
}

func (c *conn) send(args ...string) {
	c.nb = append(c.nb[:0], '*')
	c.nb = strconv.AppendInt(c.nb, int64(len(args)), 10)
	c.nb = append(c.nb, '\r', '\n')
	for _, a := range args {
		c.nb = append(c.nb, '$')
		c.nb = strconv.AppendInt(c.nb, int64(len(a)), 10)
		c.nb = append(c.nb, '\r', '\n')
		c.nb = append(c.nb, a...)
		c.nb = append(c.nb, '\r', '\n')
	}
	c.w.Write(c.nb)
}

// reply is one RESP reply; arrays keep only their length and elements'
// nil-ness (the soak needs no more).
type reply struct {
	kind byte // + - : $ * (and _ for null)
	s    string
	n    int64
	elem []reply
}

func (c *conn) read() (reply, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return reply{}, err
	}
	if len(line) < 3 {
		return reply{}, fmt.Errorf("short reply line %q", line)
	}
	body := string(line[1 : len(line)-2])
	switch line[0] {
	case '+', '-':
		return reply{kind: line[0], s: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return reply{kind: ':', n: n}, err
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return reply{}, err
		}
		if n < 0 {
			return reply{kind: '_'}, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, b); err != nil {
			return reply{}, err
		}
		return reply{kind: '$', s: string(b[:n])}, nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return reply{}, err
		}
		if n < 0 {
			return reply{kind: '_'}, nil
		}
		r := reply{kind: '*', n: int64(n)}
		for i := 0; i < n; i++ {
			e, err := c.read()
			if err != nil {
				return reply{}, err
			}
			r.elem = append(r.elem, e)
		}
		return r, nil
	}
	return reply{}, fmt.Errorf("unknown reply type %q", line[0])
}

func (c *conn) flushRead() (reply, error) {
	if err := c.w.Flush(); err != nil {
		return reply{}, err
	}
	return c.read()
}

// soak is one run.
type soak struct {
	o          options
	out        io.Writer
	invalidate bool // the server has TAGSET and INVALIDATE
	ops        atomic.Int64
	mu         sync.Mutex
	errs       map[string]int64 // by kind: error prefix, "conn:...", "reply:..."
	expected   int64            // errors that are not failures (none yet)
	peakRSS    int64
	start      time.Time
}

func (s *soak) count(kind string) {
	s.mu.Lock()
	s.errs[kind]++
	s.mu.Unlock()
}

func (s *soak) unexpected() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.errs {
		n += v
	}
	return n - s.expected
}

func (s *soak) run(ctx context.Context) error {
	ctl, err := dial(s.o)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer ctl.c.Close()
	ctl.send("PING")
	if v, err := ctl.flushRead(); err != nil || v.s != "PONG" {
		return fmt.Errorf("PING: %v %q", err, v.s)
	}
	ctl.send("COMMAND", "INFO", "invalidate", "tagset")
	if v, err := ctl.flushRead(); err == nil && v.kind == '*' && len(v.elem) == 2 && v.elem[0].kind == '*' && v.elem[1].kind == '*' {
		s.invalidate = true
	}
	info := s.info(ctl)
	fmt.Fprintf(s.out, "soak: %s, maxmemory %s, policy %s, %d connections, pipeline %d, %d keys, values %v, INVALIDATE %v\n",
		s.o.addr, info["maxmemory_human"], info["maxmemory_policy"], s.o.conns, s.o.pipeline, s.o.keys, s.o.values, s.invalidate)

	if s.o.prefill {
		if err := s.fill(ctx, ctl); err != nil {
			return err
		}
	}
	runCtx, cancel := context.WithTimeout(ctx, s.o.duration)
	defer cancel()
	s.start = time.Now()
	var wg sync.WaitGroup
	for i := 0; i < s.o.conns; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			s.worker(runCtx, rand.New(rand.NewPCG(seed, 0x50a4)))
		}(uint64(i) + 1)
	}
	tick := time.NewTicker(s.o.every)
	defer tick.Stop()
	last, lastOps := time.Now(), int64(0)
	for done := false; !done; {
		select {
		case <-runCtx.Done():
			done = true
		case now := <-tick.C:
			ops := s.ops.Load()
			s.report(ctl, float64(ops-lastOps)/now.Sub(last).Seconds())
			last, lastOps = now, ops
		}
	}
	wg.Wait()
	s.summary(ctl)
	return nil
}

// fill writes keys in order until the server evicts or every key exists.
func (s *soak) fill(ctx context.Context, ctl *conn) error {
	start := time.Now()
	var next atomic.Int64
	var full atomic.Bool
	var wg sync.WaitGroup
	workers := min(s.o.conns, 32)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			c, err := dial(s.o)
			if err != nil {
				s.count("conn:fill")
				return
			}
			defer c.c.Close()
			rnd := rand.New(rand.NewPCG(seed, 1))
			for ctx.Err() == nil && !full.Load() {
				first := next.Add(int64(s.o.pipeline)) - int64(s.o.pipeline)
				if first >= int64(s.o.keys) {
					return
				}
				n := 0
				for k := first; k < first+int64(s.o.pipeline) && k < int64(s.o.keys); k++ {
					c.send("SET", key(int(k)), s.value(rnd))
					n++
				}
				if err := c.w.Flush(); err != nil {
					s.count("conn:fill")
					return
				}
				for i := 0; i < n; i++ {
					v, err := c.read()
					if err != nil {
						s.count("conn:fill")
						return
					}
					if v.kind == '-' {
						s.count(errKind(v.s))
					}
				}
			}
		}(uint64(w) + 100)
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		select {
		case <-done:
			info := s.info(ctl)
			fmt.Fprintf(s.out, "fill: %d keys written in %v; used_memory %s, evicted_keys %s, keys %s\n",
				min(next.Load(), int64(s.o.keys)), time.Since(start).Round(time.Millisecond), info["used_memory_human"], info["evicted_keys"], info["db0"])
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
			info := s.info(ctl)
			if ev, _ := strconv.ParseInt(info["evicted_keys"], 10, 64); ev > 0 {
				full.Store(true)
			}
		}
	}
}

func key(i int) string { return "soak:" + strconv.Itoa(i) }

func (s *soak) value(rnd *rand.Rand) string {
	n := s.o.values[rnd.IntN(len(s.o.values))]
	return strings.Repeat(string(rune('a'+n%26)), n)
}

// worker sends pipelines until ctx ends, checking every reply.
func (s *soak) worker(ctx context.Context, rnd *rand.Rand) {
	c, err := dial(s.o)
	if err != nil {
		s.count("conn:dial")
		return
	}
	defer c.c.Close()
	vals := make([]string, len(s.o.values))
	for i, n := range s.o.values {
		vals[i] = strings.Repeat("v", n)
	}
	kinds := make([]byte, s.o.pipeline)
	for ctx.Err() == nil {
		for i := range kinds {
			k := key(int(rnd.Uint64N(uint64(s.o.keys))))
			switch p := rnd.IntN(100); {
			case p < 70:
				c.send("GET", k)
				kinds[i] = 'g'
			case p < 85:
				c.send("SET", k, vals[rnd.IntN(len(vals))])
				kinds[i] = 's'
			case p < 92 && s.invalidate:
				c.send("TAGSET", k, vals[rnd.IntN(len(vals))], "TAGS", "1", "t"+strconv.Itoa(rnd.IntN(1000)))
				kinds[i] = 's'
			case p < 99:
				c.send("DEL", k)
				kinds[i] = 'i'
			case s.invalidate:
				c.send("INVALIDATE", "t"+strconv.Itoa(rnd.IntN(1000)))
				kinds[i] = 'i'
			default:
				c.send("DEL", k)
				kinds[i] = 'i'
			}
		}
		c.c.SetDeadline(time.Now().Add(30 * time.Second))
		if err := c.w.Flush(); err != nil {
			s.count("conn:" + errClass(err))
			return
		}
		for _, kind := range kinds {
			v, err := c.read()
			if err != nil {
				s.count("conn:" + errClass(err))
				return
			}
			switch {
			case v.kind == '-':
				s.count(errKind(v.s))
			case kind == 'g' && v.kind != '$' && v.kind != '_',
				kind == 's' && !(v.kind == '+' && v.s == "OK"),
				kind == 'i' && v.kind != ':':
				s.count("reply:unexpected-type")
			}
		}
		s.ops.Add(int64(len(kinds)))
	}
}

func errKind(msg string) string {
	if i := strings.IndexByte(msg, ' '); i > 0 {
		return msg[:i]
	}
	return msg
}

func errClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	}
	return "other"
}

// info fetches INFO everything as a map.
func (s *soak) info(c *conn) map[string]string {
	m := map[string]string{}
	c.send("INFO", "everything")
	v, err := c.flushRead()
	if err != nil {
		s.count("conn:control")
		return m
	}
	for _, line := range strings.Split(v.s, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok {
			m[k] = val
		}
	}
	return m
}

// procStats reads threads, descriptors and RSS of pid from /proc.
func procStats(pid int) (threads, fds int, rss int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1, -1, -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "Threads:":
			threads, _ = strconv.Atoi(f[1])
		case "VmRSS:":
			rss, _ = strconv.ParseInt(f[1], 10, 64)
			rss <<= 10
		}
	}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err == nil {
		fds = len(ents)
	}
	return threads, fds, rss
}

func (s *soak) report(ctl *conn, opsPerSec float64) {
	info := s.info(ctl)
	rss, _ := strconv.ParseInt(info["used_memory_rss"], 10, 64)
	goroutines, fds := info["go_goroutines"], info["open_fds"]
	extra := ""
	if s.o.pid > 0 {
		threads, pfds, prss := procStats(s.o.pid)
		rss = prss
		fds = strconv.Itoa(pfds)
		extra = fmt.Sprintf(" threads=%d", threads)
	}
	if rss > s.peakRSS {
		s.peakRSS = rss
	}
	s.mu.Lock()
	errs := formatErrs(s.errs)
	s.mu.Unlock()
	line := fmt.Sprintf("[%6s] ops/s=%.0f errors={%s} rss=%.1fMiB used_memory=%s clients=%s goroutines=%s fds=%s%s evicted=%s hit_ratio=%s",
		time.Since(s.start).Round(time.Second), opsPerSec, errs, float64(rss)/(1<<20), info["used_memory_human"],
		info["connected_clients"], goroutines, fds, extra, info["evicted_keys"], hitRatio(info))
	fmt.Fprintln(s.out, line)
}

func hitRatio(info map[string]string) string {
	h, _ := strconv.ParseFloat(info["keyspace_hits"], 64)
	m, _ := strconv.ParseFloat(info["keyspace_misses"], 64)
	if h+m == 0 {
		return "-"
	}
	return strconv.FormatFloat(h/(h+m), 'f', 3, 64)
}

func formatErrs(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.FormatInt(m[k], 10)
	}
	return strings.Join(parts, " ")
}

func (s *soak) summary(ctl *conn) {
	elapsed := time.Since(s.start)
	ops := s.ops.Load()
	info := s.info(ctl)
	rss, _ := strconv.ParseInt(info["used_memory_rss"], 10, 64)
	if s.o.pid > 0 {
		_, _, rss = procStats(s.o.pid)
	}
	s.peakRSS = max(s.peakRSS, rss)
	s.mu.Lock()
	errs := formatErrs(s.errs)
	s.mu.Unlock()
	verdict := "PASS"
	if s.unexpected() > 0 {
		verdict = "FAIL"
	}
	fmt.Fprintf(s.out, "summary: %s: %d ops in %v (%.0f ops/s), errors={%s}, final rss=%.1fMiB peak rss=%.1fMiB, used_memory=%s, evicted_keys=%s, expired_keys=%s, invalidated_keys=%s, hit_ratio=%s, clients=%s goroutines=%s fds=%s, recovered_panics=%s, client_output_buffer_limit_disconnections=%s\n",
		verdict, ops, elapsed.Round(time.Second), float64(ops)/elapsed.Seconds(), errs, float64(rss)/(1<<20), float64(s.peakRSS)/(1<<20),
		info["used_memory_human"], info["evicted_keys"], info["expired_keys"], info["invalidated_keys"], hitRatio(info),
		info["connected_clients"], info["go_goroutines"], info["open_fds"], info["recovered_panics"], info["client_output_buffer_limit_disconnections"])
}
