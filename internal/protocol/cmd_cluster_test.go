package protocol

import (
	"net"
	"strconv"
	"testing"

	"github.com/cachesrv/cachesrv/internal/cluster"
	"github.com/cachesrv/cachesrv/internal/store"
)

// newClusterBenchClient is newBenchClient in cluster mode: a one-node
// cluster serving every slot.
func newClusterBenchClient(tb testing.TB) (*Server, *Client) {
	tb.Helper()
	st, err := store.New(store.Options{Shards: 64})
	if err != nil {
		tb.Fatal(err)
	}
	idx := cluster.NewIndex(st)
	n, err := cluster.New(cluster.Options{IP: "127.0.0.1", Port: 7000, BusPort: 17000, Keys: idx, RequireFullCoverage: true})
	if err != nil {
		tb.Fatal(err)
	}
	all := make([]int, cluster.Slots)
	for i := range all {
		all[i] = i
	}
	if err := n.AddSlots(all); err != nil {
		tb.Fatal(err)
	}
	s := New(Options{Store: st, SlowlogSlower: 10000, Cluster: n, ClusterIndex: idx})
	a, b := net.Pipe()
	tb.Cleanup(func() { a.Close(); b.Close() })
	return s, newClient(s, a)
}

// TestClusterHotPathAllocations: the slot check adds no allocation to GET
// and SET of an existing key. (Any store hooks cost the two Meta values
// they are handed; the app always installs the tag index's, so the
// baseline is a standalone server whose store has hooks too.)
func TestClusterHotPathAllocations(t *testing.T) {
	allocs := func(s *Server, c *Client) map[string]float64 {
		set := argv("SET", "key:000000000001", "value-value-value-value-value-32")
		get := argv("GET", "key:000000000001")
		s.execute(c, set)
		if string(c.out) != "+OK\r\n" {
			t.Fatalf("SET: %q", c.out)
		}
		c.out = c.out[:0]
		out := make(map[string]float64)
		for name, args := range map[string][][]byte{"GET": get, "SET existing": set} {
			out[name] = testing.AllocsPerRun(1000, func() {
				s.execute(c, args)
				c.out = c.out[:0]
			})
		}
		return out
	}
	st, err := store.New(store.Options{Shards: 64})
	if err != nil {
		t.Fatal(err)
	}
	cluster.NewIndex(st) // hooks, no cluster
	s := New(Options{Store: st, SlowlogSlower: 10000})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	base := allocs(s, newClient(s, a))
	got := allocs(newClusterBenchClient(t))
	for name, n := range got {
		if n != base[name] || name == "GET" && n != 0 {
			t.Errorf("%s allocates %.1f times per command in cluster mode, %.1f standalone", name, n, base[name])
		}
	}
}

func benchmarkClusterCommand(b *testing.B, args [][]byte) {
	s, c := newClusterBenchClient(b)
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

// Compare with BenchmarkExecuteGet/Set (standalone).
func BenchmarkClusterExecuteGet(b *testing.B) { benchmarkClusterCommand(b, argv("GET", "key:4242")) }
func BenchmarkClusterExecuteSet(b *testing.B) {
	benchmarkClusterCommand(b, argv("SET", "key:4242", "value-value-value-value-value-32"))
}
