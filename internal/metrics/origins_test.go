package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func originSource() Source {
	return Source{Origins: func() []OriginStats {
		return []OriginStats{{
			Name: "users", Breaker: 1, BreakerOpened: 2,
			Ops: []OriginOpStats{{Op: "load", Calls: 3, Errors: map[string]uint64{"timeout": 1},
				Latency: Histogram{Bounds: []float64{0.01, 0.1}, Counts: []uint64{1, 2}, Sum: 0.2, Count: 3}}},
			CoalescedWaiters: 999, WriteBehind: true, QueueDepth: 5, OldestSeconds: 1.5, JournalBytes: 4096, DeadLetters: 1,
		}}
	}}
}

func TestOriginMetrics(t *testing.T) {
	c := NewCollector(originSource())
	exp := `
# HELP cachesrv_origin_breaker_state Circuit breaker state: 0 closed, 1 open, 2 half-open.
# TYPE cachesrv_origin_breaker_state gauge
cachesrv_origin_breaker_state{origin="users"} 1
# HELP cachesrv_origin_coalesced_waiters_total Reads that shared another read's origin load instead of calling the origin.
# TYPE cachesrv_origin_coalesced_waiters_total counter
cachesrv_origin_coalesced_waiters_total{origin="users"} 999
# HELP cachesrv_origin_errors_total Failed origin calls, by operation and kind (timeout, circuit_open, http_5xx, error...).
# TYPE cachesrv_origin_errors_total counter
cachesrv_origin_errors_total{kind="timeout",op="load",origin="users"} 1
# HELP cachesrv_origin_writebehind_queue_keys Keys with a write-behind write not yet acknowledged by the origin.
# TYPE cachesrv_origin_writebehind_queue_keys gauge
cachesrv_origin_writebehind_queue_keys{origin="users"} 5
# HELP cachesrv_origin_call_duration_seconds Latency of origin calls, by operation.
# TYPE cachesrv_origin_call_duration_seconds histogram
cachesrv_origin_call_duration_seconds_bucket{op="load",origin="users",le="0.01"} 1
cachesrv_origin_call_duration_seconds_bucket{op="load",origin="users",le="0.1"} 2
cachesrv_origin_call_duration_seconds_bucket{op="load",origin="users",le="+Inf"} 3
cachesrv_origin_call_duration_seconds_sum{op="load",origin="users"} 0.2
cachesrv_origin_call_duration_seconds_count{op="load",origin="users"} 3
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(exp), "cachesrv_origin_breaker_state", "cachesrv_origin_coalesced_waiters_total",
		"cachesrv_origin_errors_total", "cachesrv_origin_writebehind_queue_keys", "cachesrv_origin_call_duration_seconds"); err != nil {
		t.Fatal(err)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) != 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
}
