// Command mixload drives a RESP server with a fixed mix of SETs and GETs,
// the load scripts/bench-compare.sh calls mix-pN. It stands in for
// memtier_benchmark's --ratio=1:10, which is not installed here; running
// redis-benchmark -t set and -t get side by side does not hold the ratio on
// a busy client, because the two processes get equal CPU shares however
// unequal their work.
//
// Every connection sends, in order, one SET then -ratio GETs, over and
// over, -pipeline commands per round trip, on keys key:%012d drawn
// uniformly from 0..-keys-1 (the names redis-benchmark -r uses), with
// -d-byte values. With -prepopulate every key is first written once. The
// output is redis-benchmark's --csv format, one row per command type and a
// row "MIX" for all requests: requests per second, then latency in
// milliseconds (average, min, p50, p95, p99, max), each request's latency
// being the time from writing its pipeline to reading its reply.
//
//	mixload -addr 127.0.0.1:6379 -n 1000000 -c 50 -P 1 -ratio 10
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

type options struct {
	addr     string
	requests int
	conns    int
	pipeline int
	ratio    int
	keys     int
	size     int
	prepop   bool
	seed     uint64
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:6379", "server address")
	flag.IntVar(&o.requests, "n", 1_000_000, "total requests, SETs and GETs")
	flag.IntVar(&o.conns, "c", 50, "connections")
	flag.IntVar(&o.pipeline, "P", 1, "commands per round trip")
	flag.IntVar(&o.ratio, "ratio", 10, "GETs per SET")
	flag.IntVar(&o.keys, "keys", 100_000, "key space (key:000000000000 .. )")
	flag.IntVar(&o.size, "d", 64, "value size in bytes")
	flag.BoolVar(&o.prepop, "prepopulate", false, "SET every key once before the measured run")
	flag.Uint64Var(&o.seed, "seed", 1, "random seed")
	flag.Parse()
	if o.requests < 1 || o.conns < 1 || o.pipeline < 1 || o.ratio < 0 || o.keys < 1 || o.size < 0 {
		fmt.Fprintln(os.Stderr, "mixload: -n, -c, -P, -keys must be positive; -ratio and -d not negative")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "mixload:", err)
		os.Exit(1)
	}
}

// conn is one client connection with hand-rolled RESP encoding.
type conn struct {
	c     net.Conn
	r     *bufio.Reader
	buf   []byte
	val   []byte
	kinds []bool // command types of the pipeline in flight: true = SET
}

func dial(addr string, size int) (*conn, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	val := make([]byte, size)
	for i := range val {
		val[i] = 'x'
	}
	return &conn{c: c, r: bufio.NewReaderSize(c, 64<<10), val: val}, nil
}

func (c *conn) appendCmd(set bool, key int) {
	if set {
		c.buf = append(c.buf, "*3\r\n$3\r\nSET\r\n$16\r\nkey:"...)
	} else {
		c.buf = append(c.buf, "*2\r\n$3\r\nGET\r\n$16\r\nkey:"...)
	}
	var d [12]byte
	for i := 11; i >= 0; i-- {
		d[i] = byte('0' + key%10)
		key /= 10
	}
	c.buf = append(c.buf, d[:]...)
	c.buf = append(c.buf, "\r\n"...)
	if set {
		c.buf = append(c.buf, '$')
		c.buf = strconv.AppendInt(c.buf, int64(len(c.val)), 10)
		c.buf = append(c.buf, "\r\n"...)
		c.buf = append(c.buf, c.val...)
		c.buf = append(c.buf, "\r\n"...)
	}
}

// readReply reads one reply of a SET or GET and reports whether it was an
// error reply.
func (c *conn) readReply() (bool, error) {
	line, err := c.r.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	if len(line) < 3 {
		return false, fmt.Errorf("short reply %q", line)
	}
	switch line[0] {
	case '+':
		return false, nil
	case '-':
		return true, nil
	case '_': // RESP3 null, not expected on RESP2 but harmless
		return false, nil
	case '$':
		n, err := strconv.Atoi(string(line[1 : len(line)-2]))
		if err != nil {
			return false, fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return false, nil
		}
		_, err = c.r.Discard(n + 2)
		return false, err
	}
	return false, fmt.Errorf("unexpected reply %q", line)
}

// worker results.
type result struct {
	set, get []uint32 // latencies in microseconds
	errs     int
	err      error
}

func (c *conn) work(o options, n int, rng *rand.Rand, res *result) {
	seq := 0 // position in the SET, GET x ratio cycle
	for done := 0; done < n; {
		batch := min(o.pipeline, n-done)
		c.buf = c.buf[:0]
		c.kinds = c.kinds[:0]
		for range batch {
			set := seq == 0
			seq++
			if seq > o.ratio {
				seq = 0
			}
			c.kinds = append(c.kinds, set)
			c.appendCmd(set, rng.IntN(o.keys))
		}
		start := time.Now()
		if _, err := c.c.Write(c.buf); err != nil {
			res.err = err
			return
		}
		for _, set := range c.kinds {
			isErr, err := c.readReply()
			if err != nil {
				res.err = err
				return
			}
			if isErr {
				res.errs++
			}
			us := uint32(min(time.Since(start).Microseconds(), 1<<31))
			if set {
				res.set = append(res.set, us)
			} else {
				res.get = append(res.get, us)
			}
		}
		done += batch
	}
}

func prepopulate(o options) error {
	c, err := dial(o.addr, o.size)
	if err != nil {
		return err
	}
	defer c.c.Close()
	const batch = 1000
	for i := 0; i < o.keys; i += batch {
		c.buf = c.buf[:0]
		end := min(i+batch, o.keys)
		for k := i; k < end; k++ {
			c.appendCmd(true, k)
		}
		if _, err := c.c.Write(c.buf); err != nil {
			return err
		}
		for k := i; k < end; k++ {
			isErr, err := c.readReply()
			if err != nil {
				return err
			}
			if isErr {
				return errors.New("prepopulate: SET returned an error")
			}
		}
	}
	return nil
}

func run(o options) error {
	if o.prepop {
		if err := prepopulate(o); err != nil {
			return fmt.Errorf("prepopulate: %w", err)
		}
	}
	conns := make([]*conn, o.conns)
	for i := range conns {
		c, err := dial(o.addr, o.size)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer c.c.Close()
		conns[i] = c
	}
	results := make([]result, o.conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		n := o.requests / o.conns
		if i < o.requests%o.conns {
			n++
		}
		rng := rand.New(rand.NewPCG(o.seed, uint64(i)))
		results[i].set = make([]uint32, 0, n/(o.ratio+1)+1)
		results[i].get = make([]uint32, 0, n)
		wg.Go(func() { c.work(o, n, rng, &results[i]) })
	}
	wg.Wait()
	wall := time.Since(start)

	var set, get []uint32
	errs := 0
	for _, r := range results {
		if r.err != nil && !errors.Is(r.err, io.EOF) {
			return fmt.Errorf("connection: %w", r.err)
		}
		if r.err != nil {
			return errors.New("connection closed by the server")
		}
		set = append(set, r.set...)
		get = append(get, r.get...)
		errs += r.errs
	}
	all := slices.Concat(set, get)
	fmt.Println(`"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"`)
	row("SET", set, wall)
	row("GET", get, wall)
	row("MIX", all, wall)
	if errs > 0 {
		fmt.Fprintf(os.Stderr, "mixload: %d error replies\n", errs)
	}
	return nil
}

// row prints one redis-benchmark style CSV row. The rps of SET and GET are
// their share of the whole run, so they add up to MIX's.
func row(name string, lat []uint32, wall time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var sum float64
	for _, v := range lat {
		sum += float64(v)
	}
	q := func(p float64) float64 {
		i := int(p*float64(len(lat))+0.5) - 1
		return float64(lat[min(max(i, 0), len(lat)-1)]) / 1000
	}
	fmt.Printf("%q,\"%.2f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\",\"%.3f\"\n", name,
		float64(len(lat))/wall.Seconds(), sum/float64(len(lat))/1000, float64(lat[0])/1000,
		q(0.50), q(0.95), q(0.99), float64(lat[len(lat)-1])/1000)
}
