package protocol

import (
	"net"
	"strconv"
	"testing"

	"github.com/cachesrv/cachesrv/internal/store"
)

// newBenchClient returns a server and a client whose replies accumulate in
// c.out (nothing is written to the pipe).
func newBenchClient(tb testing.TB) (*Server, *Client) {
	tb.Helper()
	st, err := store.New(store.Options{Shards: 64})
	if err != nil {
		tb.Fatal(err)
	}
	s := New(Options{Store: st, SlowlogSlower: 10000})
	a, b := net.Pipe()
	tb.Cleanup(func() { a.Close(); b.Close() })
	return s, newClient(s, a)
}

func argv(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// TestHotPathAllocations: GET, and SET of an existing key, allocate nothing
// in the command layer (dispatch, handler, reply writing) or the store.
func TestHotPathAllocations(t *testing.T) {
	s, c := newBenchClient(t)
	set := argv("SET", "key:000000000001", "value-value-value-value-value-32")
	get := argv("GET", "key:000000000001")
	s.execute(c, set)
	c.out = c.out[:0]
	for name, args := range map[string][][]byte{"GET": get, "SET existing": set} {
		n := testing.AllocsPerRun(1000, func() {
			s.execute(c, args)
			c.out = c.out[:0]
		})
		if n != 0 {
			t.Errorf("%s allocates %.1f times per command", name, n)
		}
	}
}

func benchmarkCommand(b *testing.B, args [][]byte) {
	s, c := newBenchClient(b)
	for i := 0; i < 100000; i++ {
		s.execute(c, argv("SET", "key:"+strconv.Itoa(i), "value-value-value-value-value-32"))
		c.out = c.out[:0]
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.execute(c, args)
		c.out = c.out[:0]
	}
}

func BenchmarkExecuteGet(b *testing.B) { benchmarkCommand(b, argv("GET", "key:4242")) }
func BenchmarkExecuteSet(b *testing.B) {
	benchmarkCommand(b, argv("SET", "key:4242", "value-value-value-value-value-32"))
}

// BenchmarkPipeline parses and executes a 16-command GET pipeline from a
// read buffer, as the connection loop does.
func BenchmarkPipeline(b *testing.B) {
	s, c := newBenchClient(b)
	s.execute(c, argv("SET", "k", "value-value-value-value-value-32"))
	var in []byte
	for i := 0; i < 16; i++ {
		in = append(in, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"...)
	}
	c.p.buf = make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.p.r, c.p.w = 0, copy(c.p.buf, in)
		for {
			args, ok, err := c.p.next()
			if err != nil || !ok {
				break
			}
			s.execute(c, args)
		}
		c.out = c.out[:0]
	}
}
