package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestClusterMetrics(t *testing.T) {
	t.Parallel()
	c := newClusterCollector(func() ClusterStats {
		return ClusterStats{StateOK: true, SlotsOwned: 5461, KnownNodes: 3, Redirects: map[string]int64{"moved": 7, "ask": 2}}
	})
	exp := `# HELP cachesrv_cluster_redirects_total Keyed commands not served here, by reply (moved, ask, crossslot, down, tryagain).
# TYPE cachesrv_cluster_redirects_total counter
cachesrv_cluster_redirects_total{kind="ask"} 2
cachesrv_cluster_redirects_total{kind="crossslot"} 0
cachesrv_cluster_redirects_total{kind="down"} 0
cachesrv_cluster_redirects_total{kind="moved"} 7
cachesrv_cluster_redirects_total{kind="tryagain"} 0
# HELP cachesrv_cluster_slots_owned Hash slots this node serves.
# TYPE cachesrv_cluster_slots_owned gauge
cachesrv_cluster_slots_owned 5461
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(exp), "cachesrv_cluster_redirects_total", "cachesrv_cluster_slots_owned"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	reg := prometheus.NewPedanticRegistry()
	src := fakeSource()
	src.Cluster = func() ClusterStats { return ClusterStats{} }
	if err := New(reg, src); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg, "cachesrv_cluster_redirects_total"); err != nil || n != 5 {
		t.Fatalf("gathered %d series: %v", n, err)
	}
}
