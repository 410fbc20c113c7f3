// Command replay replays a cache request trace against a RESP server as
// cache-aside traffic and reports what a client sees: hit ratio, keys held,
// evictions and throughput.
//
// Every request of the trace becomes a GET of its key; on a miss the client
// SETs the key to a value of -value-size bytes. Requests are pipelined in
// batches of up to -pipeline GETs followed by the SETs of that batch's misses;
// a batch ends before a key it already holds, so every GET sees the SETs of
// all earlier requests, as in a sequential replay. Only the order of GETs and
// SETs inside one batch differs from a sequential replay.
//
// Keys are "key:" followed by the key's number in order of first appearance
// (12 digits), so every key is 16 bytes long. Trace formats are those of
// cmd/tracesim (see internal/tracefile).
//
// Keys held is the mean of DBSIZE samples taken every -sample requests over
// the second half of the replay (the cache is warm by then); evictions are
// the growth of INFO stats evicted_keys over the run.
//
// Usage:
//
//	replay -addr 127.0.0.1:6379 -trace oltp.arc.gz [-value-size 100] [-max 1000000] [-flush]
//
// It prints one line of key=value pairs (or, with -json, one JSON object).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cachesrv/cachesrv/internal/tracefile"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

// Result is what one replay measured.
type Result struct {
	Trace      string  `json:"trace"`
	Addr       string  `json:"addr"`
	Requests   int     `json:"requests"`
	Hits       int     `json:"hits"`
	HitRatio   float64 `json:"hit_ratio"` // percent
	KeysHeld   float64 `json:"keys_held"` // mean of DBSIZE samples over the second half
	FinalKeys  int64   `json:"final_keys"`
	Evictions  int64   `json:"evictions"`
	SetErrors  int     `json:"set_errors"` // SETs refused (OOM)
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_sec"` // GETs and SETs per second
	UsedMemory int64   `json:"used_memory"` // INFO memory used_memory at the end
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:6379", "RESP server `host:port`")
	path := fs.String("trace", "", "trace `file` (format from the name, see cmd/tracesim)")
	format := fs.String("format", "", "trace format, overriding the file name: "+strings.Join(tracefile.Formats, ", "))
	valueSize := fs.Int("value-size", 100, "bytes of the value SET on a miss")
	maxReqs := fs.Int("max", 0, "replay only the first `N` requests of the trace (0 = all)")
	pipeline := fs.Int("pipeline", 64, "GETs per pipelined batch")
	sample := fs.Int("sample", 0, "requests between DBSIZE samples (0 = 1% of the replay)")
	flush := fs.Bool("flush", false, "FLUSHALL before the replay")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	timeout := fs.Duration("timeout", 10*time.Second, "deadline of each network round trip")
	fill := fs.String("fill", "", "instead of replaying: SET keys 0..N-1 for each `N,N,...` in increasing order (values of -value-size bytes) and print used_memory after each step")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	case *path == "" && *fill == "":
		return errors.New("-trace or -fill is required")
	case *valueSize < 0 || *valueSize > 512<<20:
		return fmt.Errorf("bad -value-size %d", *valueSize)
	case *pipeline < 1 || *pipeline > 1<<16:
		return fmt.Errorf("bad -pipeline %d (want 1 to 65536)", *pipeline)
	case *maxReqs < 0 || *sample < 0:
		return errors.New("-max and -sample must not be negative")
	}
	var fills []int
	for _, f := range strings.Split(*fill, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 1<<31-1 || (len(fills) > 0 && n < fills[len(fills)-1]) {
			return fmt.Errorf("bad -fill %q: want increasing key counts", *fill)
		}
		fills = append(fills, n)
	}
	var tr *tracefile.Trace
	if len(fills) == 0 {
		var err error
		if tr, err = tracefile.Load(*path, *format); err != nil {
			return err
		}
	}
	conn, err := net.DialTimeout("tcp", *addr, *timeout)
	if err != nil {
		return fmt.Errorf("cannot connect to %s: %w", *addr, err)
	}
	defer conn.Close()
	c := newClient(conn, *timeout)
	if *flush {
		if _, err := c.do("FLUSHALL"); err != nil {
			return err
		}
	}
	if len(fills) > 0 {
		return fillKeys(c, out, fills, *valueSize, *pipeline)
	}
	reqs := tr.Reqs
	if *maxReqs > 0 && len(reqs) > *maxReqs {
		reqs = reqs[:*maxReqs]
	}
	res, err := replay(c, reqs, *valueSize, *pipeline, *sample)
	if err != nil {
		return err
	}
	res.Trace, res.Addr = tr.Name, *addr
	if *asJSON {
		return json.NewEncoder(out).Encode(res)
	}
	_, err = fmt.Fprintf(out, "trace=%s addr=%s requests=%d hits=%d hit_ratio=%.2f keys_held=%.0f final_keys=%d evictions=%d set_errors=%d used_memory=%d seconds=%.2f ops_per_sec=%.0f\n",
		res.Trace, res.Addr, res.Requests, res.Hits, res.HitRatio, res.KeysHeld, res.FinalKeys, res.Evictions, res.SetErrors, res.UsedMemory, res.Seconds, res.OpsPerSec)
	return err
}

// replay runs reqs through c as cache-aside traffic.
func replay(c *client, reqs []int32, valueSize, pipeline, sample int) (Result, error) {
	var res Result
	if sample == 0 {
		sample = max(len(reqs)/100, 1)
	}
	ev0, err := c.infoInt("stats", "evicted_keys")
	if err != nil {
		return res, err
	}
	value := []byte(strings.Repeat("v", valueSize))
	keyBuf := make([][]byte, 0, pipeline)
	batchKeys := make([]int32, 0, pipeline)
	inBatch := make(map[int32]struct{}, pipeline)
	var sum float64
	samples := 0
	nextSample := sample
	ops := 0
	start := time.Now()
	for i := 0; i < len(reqs); {
		// One batch: GETs of distinct keys.
		batchKeys, keyBuf = batchKeys[:0], keyBuf[:0]
		clear(inBatch)
		for i < len(reqs) && len(batchKeys) < pipeline {
			k := reqs[i]
			if _, dup := inBatch[k]; dup {
				break
			}
			inBatch[k] = struct{}{}
			batchKeys = append(batchKeys, k)
			i++
		}
		for _, k := range batchKeys {
			key := appendKey(nil, k)
			keyBuf = append(keyBuf, key)
			c.writeCmd([]byte("GET"), key)
		}
		if err := c.flush(); err != nil {
			return res, err
		}
		misses := keyBuf[:0:0]
		for j := range batchKeys {
			hit, err := c.readBulkPresent()
			if err != nil {
				return res, fmt.Errorf("GET: %w", err)
			}
			if hit {
				res.Hits++
			} else {
				misses = append(misses, keyBuf[j])
			}
		}
		ops += len(batchKeys) + len(misses)
		if len(misses) > 0 {
			for _, key := range misses {
				c.writeCmd([]byte("SET"), key, value)
			}
			if err := c.flush(); err != nil {
				return res, err
			}
			for range misses {
				if err := c.readOK(); err != nil {
					var se serverError
					if !errors.As(err, &se) {
						return res, fmt.Errorf("SET: %w", err)
					}
					res.SetErrors++
				}
			}
		}
		if i >= nextSample {
			nextSample += sample
			if i >= len(reqs)/2 {
				n, err := c.dbsize()
				if err != nil {
					return res, err
				}
				sum += float64(n)
				samples++
			}
		}
	}
	res.Seconds = time.Since(start).Seconds()
	res.Requests = len(reqs)
	if len(reqs) > 0 {
		res.HitRatio = 100 * float64(res.Hits) / float64(len(reqs))
	}
	if res.Seconds > 0 {
		res.OpsPerSec = float64(ops) / res.Seconds
	}
	if res.FinalKeys, err = c.dbsize(); err != nil {
		return res, err
	}
	if samples > 0 {
		res.KeysHeld = sum / float64(samples)
	} else {
		res.KeysHeld = float64(res.FinalKeys)
	}
	ev1, err := c.infoInt("stats", "evicted_keys")
	if err != nil {
		return res, err
	}
	res.Evictions = ev1 - ev0
	if res.UsedMemory, err = c.infoInt("memory", "used_memory"); err != nil {
		return res, err
	}
	return res, nil
}

// fillKeys GETs and SETs keys 0..n-1 for every n of fills, printing "fill=N
// used_memory=M keys=K" after each.
func fillKeys(c *client, out io.Writer, fills []int, valueSize, pipeline int) error {
	value := []byte(strings.Repeat("v", valueSize))
	k := 0
	for _, n := range fills {
		for k < n {
			// GETs first, then SETs, as a replay's batch of misses sends
			// them, so the server's client buffers are what they are in a
			// replay.
			b := min(n-k, pipeline)
			for j := range b {
				c.writeCmd([]byte("GET"), appendKey(nil, int32(k+j)))
			}
			if err := c.flush(); err != nil {
				return err
			}
			for range b {
				if _, err := c.readBulkPresent(); err != nil {
					return fmt.Errorf("GET: %w", err)
				}
			}
			for j := range b {
				c.writeCmd([]byte("SET"), appendKey(nil, int32(k+j)), value)
			}
			k += b
			if err := c.flush(); err != nil {
				return err
			}
			for range b {
				if err := c.readOK(); err != nil {
					return fmt.Errorf("SET: %w", err)
				}
			}
		}
		used, err := c.infoInt("memory", "used_memory")
		if err != nil {
			return err
		}
		keys, err := c.dbsize()
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(out, "fill=%d used_memory=%d keys=%d\n", n, used, keys); err != nil {
			return err
		}
	}
	return nil
}

// appendKey appends "key:" and k in 12 decimal digits.
func appendKey(dst []byte, k int32) []byte {
	dst = append(dst, "key:000000000000"...)
	n := len(dst)
	for v := uint32(k); v > 0 && n > 4; v /= 10 {
		n--
		dst[n] = byte('0' + v%10)
	}
	return dst
}

// serverError is an error reply.
type serverError string

func (e serverError) Error() string { return "server error: " + string(e) }

// client is a minimal pipelining RESP2 client.
type client struct {
	conn    net.Conn
	w       *bufio.Writer
	r       *bufio.Reader
	timeout time.Duration
	num     []byte
}

func newClient(conn net.Conn, timeout time.Duration) *client {
	return &client{conn: conn, w: bufio.NewWriterSize(conn, 1<<16), r: bufio.NewReaderSize(conn, 1<<16), timeout: timeout}
}

func (c *client) writeCmd(args ...[]byte) {
	c.w.WriteByte('*')
	c.num = strconv.AppendInt(c.num[:0], int64(len(args)), 10)
	c.w.Write(c.num)
	c.w.WriteString("\r\n")
	for _, a := range args {
		c.w.WriteByte('$')
		c.num = strconv.AppendInt(c.num[:0], int64(len(a)), 10)
		c.w.Write(c.num)
		c.w.WriteString("\r\n")
		c.w.Write(a)
		c.w.WriteString("\r\n")
	}
}

func (c *client) flush() error {
	c.conn.SetDeadline(time.Now().Add(c.timeout))
	return c.w.Flush()
}

func (c *client) line() (string, error) {
	s, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if len(s) < 3 || s[len(s)-2] != '\r' {
		return "", fmt.Errorf("malformed reply line %q", s)
	}
	s = s[:len(s)-2]
	if s[0] == '-' {
		return "", serverError(s[1:])
	}
	return s, nil
}

// readBulk reads a bulk string reply; ok is false for a nil reply.
func (c *client) readBulk() (b []byte, ok bool, err error) {
	s, err := c.line()
	if err != nil {
		return nil, false, err
	}
	if s[0] == '_' || s == "$-1" {
		return nil, false, nil
	}
	if s[0] != '$' {
		return nil, false, fmt.Errorf("want a bulk string, got %q", s)
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 0 {
		return nil, false, fmt.Errorf("bad bulk length %q", s)
	}
	b = make([]byte, n+2)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, false, err
	}
	return b[:n], true, nil
}

// readBulkPresent reads a bulk reply and reports whether it was not nil,
// discarding its bytes.
func (c *client) readBulkPresent() (bool, error) {
	s, err := c.line()
	if err != nil {
		return false, err
	}
	if s[0] == '_' || s == "$-1" {
		return false, nil
	}
	if s[0] != '$' {
		return false, fmt.Errorf("want a bulk string, got %q", s)
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 0 {
		return false, fmt.Errorf("bad bulk length %q", s)
	}
	_, err = c.r.Discard(n + 2)
	return true, err
}

func (c *client) readOK() error {
	s, err := c.line()
	if err != nil {
		return err
	}
	if s != "+OK" {
		return fmt.Errorf("want +OK, got %q", s)
	}
	return nil
}

// do sends one command and returns its simple or integer reply as text.
func (c *client) do(args ...string) (string, error) {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	c.writeCmd(bs...)
	if err := c.flush(); err != nil {
		return "", err
	}
	s, err := c.line()
	if err != nil {
		return "", fmt.Errorf("%s: %w", args[0], err)
	}
	return s[1:], nil
}

func (c *client) dbsize() (int64, error) {
	s, err := c.do("DBSIZE")
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(s, 10, 64)
}

// infoInt reads field from INFO section.
func (c *client) infoInt(section, field string) (int64, error) {
	c.writeCmd([]byte("INFO"), []byte(section))
	if err := c.flush(); err != nil {
		return 0, err
	}
	b, ok, err := c.readBulk()
	if err != nil || !ok {
		return 0, fmt.Errorf("INFO %s: %v", section, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(strings.TrimRight(l, "\r"), field+":"); found {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("INFO %s has no %s", section, field)
}
