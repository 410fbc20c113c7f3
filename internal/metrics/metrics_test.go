package metrics

import (
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// fakeHist is a per-bucket latency histogram as the server keeps it:
// 2 calls under 1 µs, 5 under 8 µs, 3 beyond the last finite bound.
func fakeHist() []uint64 {
	h := make([]uint64, 26)
	h[0], h[3], h[25] = 2, 5, 3
	return h
}

func fakeSource() Source {
	return Source{
		Version: "1.2.3",
		Server: func() ServerStats {
			return ServerStats{
				Commands: []CommandStats{
					{Name: "config|get", Calls: 1, Usec: 3, Hist: []uint64{0, 0, 1, 0}},
					{Name: "get", Calls: 10, Failed: 1, Usec: 50_000_000, Hist: fakeHist()},
					{Name: "set", Calls: 0, Rejected: 4, Hist: make([]uint64, 26)},
				},
				ErrorReplies:     map[string]uint64{"ERR": 7, "WRONGTYPE": 2},
				Connections:      3,
				Accepted:         11,
				Rejected:         1,
				QueryLimitClosed: 2,
				NetIn:            1000,
				NetOut:           2000,
				Panics:           1,
				SlowlogLen:       5,
				Uptime:           90 * time.Second,
			}
		},
		Store: func() StoreStats {
			return StoreStats{
				DBs: []DBStats{
					{},                    // db 0: idle, still reported
					{},                    // db 1: idle, left out
					{Keys: 4, Expires: 1}, // db 2: keys only
					{Hits: 3},             // db 3: lookups only
					{Keys: 9, Expires: 2, Hits: 8, Misses: 2}, // db 4
				},
				Removed:    RemovedStats{Deleted: 5, Expired: 6, Evicted: 7, Invalidated: 8},
				UsedMemory: 1 << 20,
				MaxMemory:  1 << 30,
			}
		},
		Expire: func() ExpireStats {
			return ExpireStats{Cycles: 100, SweptKeys: 6, TimeCapReached: 2, Busy: 1500 * time.Millisecond, StalePerc: 25}
		},
		ExpireLag: func() Histogram {
			return Histogram{Bounds: []float64{0.001, 0.01, 0.1}, Counts: []uint64{1, 3, 4}, Sum: 0.5, Count: 6}
		},
	}
}

func gather(t testing.TB, src Source) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(src))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func TestCollectValues(t *testing.T) {
	t.Parallel()
	const want = `
# HELP cachesrv_build_info Always 1; labels carry the cachesrv version and the Go version it was built with.
# TYPE cachesrv_build_info gauge
cachesrv_build_info{goversion="GOVERSION",version="1.2.3"} 1
# HELP cachesrv_command_errors_total Executed commands that replied with an error.
# TYPE cachesrv_command_errors_total counter
cachesrv_command_errors_total{cmd="config|get"} 0
cachesrv_command_errors_total{cmd="get"} 1
cachesrv_command_errors_total{cmd="set"} 0
# HELP cachesrv_commands_rejected_total Commands refused before execution, such as writes refused under maxmemory.
# TYPE cachesrv_commands_rejected_total counter
cachesrv_commands_rejected_total{cmd="config|get"} 0
cachesrv_commands_rejected_total{cmd="get"} 0
cachesrv_commands_rejected_total{cmd="set"} 4
# HELP cachesrv_commands_total Commands executed, including those that replied with an error.
# TYPE cachesrv_commands_total counter
cachesrv_commands_total{cmd="config|get"} 1
cachesrv_commands_total{cmd="get"} 10
cachesrv_commands_total{cmd="set"} 0
# HELP cachesrv_connections Clients connected now.
# TYPE cachesrv_connections gauge
cachesrv_connections 3
# HELP cachesrv_connections_accepted_total Connections accepted by the listeners.
# TYPE cachesrv_connections_accepted_total counter
cachesrv_connections_accepted_total 11
# HELP cachesrv_connections_rejected_total Connections refused because maxclients was reached.
# TYPE cachesrv_connections_rejected_total counter
cachesrv_connections_rejected_total 1
# HELP cachesrv_error_replies_total Error replies sent, by the error's first word.
# TYPE cachesrv_error_replies_total counter
cachesrv_error_replies_total{prefix="ERR"} 7
cachesrv_error_replies_total{prefix="WRONGTYPE"} 2
# HELP cachesrv_evicted_keys_total Keys evicted to stay under maxmemory.
# TYPE cachesrv_evicted_keys_total counter
cachesrv_evicted_keys_total 7
# HELP cachesrv_expire_lag_seconds Expiration lag: time from a key's deadline to its removal.
# TYPE cachesrv_expire_lag_seconds histogram
cachesrv_expire_lag_seconds_bucket{le="0.001"} 1
cachesrv_expire_lag_seconds_bucket{le="0.01"} 3
cachesrv_expire_lag_seconds_bucket{le="0.1"} 4
cachesrv_expire_lag_seconds_bucket{le="+Inf"} 6
cachesrv_expire_lag_seconds_sum 0.5
cachesrv_expire_lag_seconds_count 6
# HELP cachesrv_expire_stale_ratio Estimated share of the keyspace holding due but not yet reclaimed keys, 0 to 1.
# TYPE cachesrv_expire_stale_ratio gauge
cachesrv_expire_stale_ratio 0.25
# HELP cachesrv_expire_sweep_cpu_seconds_total Wall-clock time spent inside active expiry sweep cycles (Redis expire_cycle_cpu_milliseconds).
# TYPE cachesrv_expire_sweep_cpu_seconds_total counter
cachesrv_expire_sweep_cpu_seconds_total 1.5
# HELP cachesrv_expired_keys_total Keys removed because their time to live ran out, lazily or by the sweeper.
# TYPE cachesrv_expired_keys_total counter
cachesrv_expired_keys_total 6
# HELP cachesrv_keys Live keys.
# TYPE cachesrv_keys gauge
cachesrv_keys{db="0"} 0
cachesrv_keys{db="2"} 4
cachesrv_keys{db="3"} 0
cachesrv_keys{db="4"} 9
# HELP cachesrv_keys_with_ttl Live keys with a time to live.
# TYPE cachesrv_keys_with_ttl gauge
cachesrv_keys_with_ttl{db="0"} 0
cachesrv_keys_with_ttl{db="2"} 1
cachesrv_keys_with_ttl{db="3"} 0
cachesrv_keys_with_ttl{db="4"} 2
# HELP cachesrv_keyspace_hits_total Key lookups that found a live key.
# TYPE cachesrv_keyspace_hits_total counter
cachesrv_keyspace_hits_total{db="0"} 0
cachesrv_keyspace_hits_total{db="2"} 0
cachesrv_keyspace_hits_total{db="3"} 3
cachesrv_keyspace_hits_total{db="4"} 8
# HELP cachesrv_keyspace_misses_total Key lookups that found no live key.
# TYPE cachesrv_keyspace_misses_total counter
cachesrv_keyspace_misses_total{db="0"} 0
cachesrv_keyspace_misses_total{db="2"} 0
cachesrv_keyspace_misses_total{db="3"} 0
cachesrv_keyspace_misses_total{db="4"} 2
# HELP cachesrv_memory_max_bytes The maxmemory bound; 0 means no bound.
# TYPE cachesrv_memory_max_bytes gauge
cachesrv_memory_max_bytes 1.073741824e+09
# HELP cachesrv_memory_used_bytes Memory accounted to the keyspace.
# TYPE cachesrv_memory_used_bytes gauge
cachesrv_memory_used_bytes 1.048576e+06
# HELP cachesrv_network_received_bytes_total Bytes read from clients.
# TYPE cachesrv_network_received_bytes_total counter
cachesrv_network_received_bytes_total 1000
# HELP cachesrv_network_sent_bytes_total Bytes written to clients.
# TYPE cachesrv_network_sent_bytes_total counter
cachesrv_network_sent_bytes_total 2000
# HELP cachesrv_panics_recovered_total Panics recovered at the command boundary.
# TYPE cachesrv_panics_recovered_total counter
cachesrv_panics_recovered_total 1
# HELP cachesrv_removed_keys_total Keys that left the keyspace, by reason (deleted, expired, evicted, invalidated).
# TYPE cachesrv_removed_keys_total counter
cachesrv_removed_keys_total{reason="deleted"} 5
cachesrv_removed_keys_total{reason="evicted"} 7
cachesrv_removed_keys_total{reason="expired"} 6
cachesrv_removed_keys_total{reason="invalidated"} 8
# HELP cachesrv_uptime_seconds Time since the server started.
# TYPE cachesrv_uptime_seconds gauge
cachesrv_uptime_seconds 90
# HELP cachesrv_expire_cycles_total Active expiry sweep cycles run.
# TYPE cachesrv_expire_cycles_total counter
cachesrv_expire_cycles_total 100
# HELP cachesrv_expire_time_cap_reached_total Sweep cycles stopped by their time budget with work left.
# TYPE cachesrv_expire_time_cap_reached_total counter
cachesrv_expire_time_cap_reached_total 2
# HELP cachesrv_expire_swept_keys_total Keys removed by the active expiry sweeper.
# TYPE cachesrv_expire_swept_keys_total counter
cachesrv_expire_swept_keys_total 6
# HELP cachesrv_connections_query_limit_closed_total Connections closed for exceeding client-query-buffer-limit.
# TYPE cachesrv_connections_query_limit_closed_total counter
cachesrv_connections_query_limit_closed_total 2
# HELP cachesrv_slowlog_entries Entries in the slow log.
# TYPE cachesrv_slowlog_entries gauge
cachesrv_slowlog_entries 5
`
	c := NewCollector(fakeSource())
	exp := strings.ReplaceAll(want, "GOVERSION", goVersion())
	// Every family except the command histogram, checked below.
	var names []string
	for line := range strings.Lines(exp) {
		if f := strings.Fields(line); len(f) > 2 && f[1] == "TYPE" {
			names = append(names, f[2])
		}
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(exp), names...); err != nil {
		t.Error(err)
	}
	// Nothing collected that the expectation above or the histogram test
	// does not cover.
	for name := range gather(t, fakeSource()) {
		if !slices.Contains(names, name) && name != "cachesrv_command_duration_seconds" {
			t.Errorf("unexpected family %s; add it to the expectation", name)
		}
	}
}

func goVersion() string {
	return newCollector(Source{}).goVersion
}

func TestCommandDurationHistogram(t *testing.T) {
	t.Parallel()
	mf := gather(t, fakeSource())["cachesrv_command_duration_seconds"]
	if mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("type = %v, want histogram", mf.GetType())
	}
	var get *dto.Histogram
	for _, m := range mf.GetMetric() {
		if m.GetLabel()[0].GetValue() == "get" {
			get = m.GetHistogram()
		}
	}
	if get == nil {
		t.Fatal("no series for get")
	}
	if got, want := get.GetSampleCount(), uint64(10); got != want {
		t.Errorf("count = %d, want %d", got, want)
	}
	if got, want := get.GetSampleSum(), 50.0; got != want {
		t.Errorf("sum = %v, want %v", got, want)
	}
	b := get.GetBucket()
	if len(b) != 25 { // 26 server buckets, the last one is +Inf
		t.Fatalf("%d finite buckets, want 25", len(b))
	}
	for i, bk := range b {
		if want := float64(uint64(1)<<i) / 1e6; math.Abs(bk.GetUpperBound()-want) > want*1e-12 {
			t.Errorf("bucket %d bound = %v, want %v", i, bk.GetUpperBound(), want)
		}
		want := uint64(2) // hist[0]
		if i >= 3 {
			want += 5 // hist[3]
		}
		if bk.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v cumulative = %d, want %d", bk.GetUpperBound(), bk.GetCumulativeCount(), want)
		}
	}
}

func TestLatencyHistogram(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		hist       []uint64
		wantBounds []float64
		wantCounts []uint64
		wantCount  uint64
	}{
		{"empty", []uint64{0, 0, 0}, []float64{1e-6, 2e-6}, []uint64{0, 0}, 0},
		{"first", []uint64{4, 0, 0}, []float64{1e-6, 2e-6}, []uint64{4, 4}, 4},
		{"overflow only", []uint64{0, 0, 9}, []float64{1e-6, 2e-6}, []uint64{0, 0}, 9},
		{"spread", []uint64{1, 2, 3, 4}, []float64{1e-6, 2e-6, 4e-6}, []uint64{1, 3, 6}, 10},
		{"inf only", []uint64{5}, []float64{}, []uint64{}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := latencyHistogram(tc.hist, 2_500_000)
			if !slices.Equal(h.Bounds, tc.wantBounds) || !slices.Equal(h.Counts, tc.wantCounts) || h.Count != tc.wantCount {
				t.Errorf("got bounds %v counts %v count %d, want %v %v %d",
					h.Bounds, h.Counts, h.Count, tc.wantBounds, tc.wantCounts, tc.wantCount)
			}
			if h.Sum != 2.5 {
				t.Errorf("sum = %v, want 2.5", h.Sum)
			}
		})
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	problems, err := testutil.CollectAndLint(NewCollector(fakeSource()))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// The whole registry New builds, runtime collectors included.
	reg := prometheus.NewRegistry()
	if err := New(reg, fakeSource()); err != nil {
		t.Fatal(err)
	}
	problems, err = testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestLabelSetsClosed pins every family's label names and checks each label
// value against the closed set it must come from.
func TestLabelSetsClosed(t *testing.T) {
	t.Parallel()
	cmds := []string{"config|get", "get", "set"}
	dbs := func(v string) bool { _, err := strconv.Atoi(v); return err == nil }
	oneOf := func(set ...string) func(string) bool {
		return func(v string) bool { return slices.Contains(set, v) }
	}
	labels := map[string]map[string]func(string) bool{
		"cachesrv_build_info":               {"version": oneOf("1.2.3"), "goversion": oneOf(goVersion())},
		"cachesrv_commands_total":           {"cmd": oneOf(cmds...)},
		"cachesrv_command_errors_total":     {"cmd": oneOf(cmds...)},
		"cachesrv_commands_rejected_total":  {"cmd": oneOf(cmds...)},
		"cachesrv_command_duration_seconds": {"cmd": oneOf(cmds...)},
		"cachesrv_error_replies_total":      {"prefix": oneOf("ERR", "WRONGTYPE")},
		"cachesrv_keyspace_hits_total":      {"db": dbs},
		"cachesrv_keyspace_misses_total":    {"db": dbs},
		"cachesrv_keys":                     {"db": dbs},
		"cachesrv_keys_with_ttl":            {"db": dbs},
		"cachesrv_removed_keys_total":       {"reason": oneOf(ReasonDeleted, ReasonExpired, ReasonEvicted, ReasonInvalidated)},
	}
	for name, mf := range gather(t, fakeSource()) {
		want := labels[name] // nil: no labels
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				t.Errorf("%s: labels %v, want names of %v", name, m.GetLabel(), want)
				continue
			}
			for _, l := range m.GetLabel() {
				ok, known := want[l.GetName()]
				if !known || !ok(l.GetValue()) {
					t.Errorf("%s: label %s=%q outside its closed set", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestPartialSource(t *testing.T) {
	t.Parallel()
	mfs := gather(t, Source{Version: "v"})
	if len(mfs) != 1 || mfs["cachesrv_build_info"] == nil {
		t.Errorf("empty source: got %d families, want only cachesrv_build_info", len(mfs))
	}
}

func TestInvalidUTF8Labels(t *testing.T) {
	t.Parallel()
	src := Source{Server: func() ServerStats {
		return ServerStats{
			Commands: []CommandStats{{Name: "g\xffet", Calls: 1}},
			// Two prefixes cut inside a rune repair to the same value.
			ErrorReplies: map[string]uint64{"E\xff": 1, "E\xfe": 2, "E\uFFFD": 4, "ERR": 8},
		}
	}}
	mfs := gather(t, src)
	got := map[string]float64{}
	for _, m := range mfs["cachesrv_error_replies_total"].GetMetric() {
		got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
	}
	if want := map[string]float64{"E\uFFFD": 7, "ERR": 8}; len(got) != len(want) || got["E\uFFFD"] != 7 || got["ERR"] != 8 {
		t.Errorf("error replies = %v, want %v", got, want)
	}
	if v := mfs["cachesrv_commands_total"].GetMetric()[0].GetLabel()[0].GetValue(); v != "g\uFFFDet" {
		t.Errorf("cmd label = %q", v)
	}
}

func TestMalformedLagHistogram(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(Source{ExpireLag: func() Histogram {
		return Histogram{Bounds: []float64{1, 2}, Counts: []uint64{1}}
	}}))
	mfs, err := reg.Gather()
	if err == nil {
		t.Fatal("gather succeeded with a malformed histogram")
	}
	if len(mfs) == 0 {
		t.Error("a bad histogram dropped the other metrics")
	}
}

func TestExtra(t *testing.T) {
	t.Parallel()
	d := prometheus.NewDesc("cachesrv_example_extra_total", "Tag invalidations.", nil, nil)
	src := Source{
		Extra:      func(ch chan<- prometheus.Metric) { ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, 3) },
		ExtraDescs: []*prometheus.Desc{d},
	}
	mf := gather(t, src)["cachesrv_example_extra_total"] // pedantic registry
	if mf == nil || mf.GetMetric()[0].GetCounter().GetValue() != 3 {
		t.Errorf("extra metric = %v", mf)
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	t.Run("nil registerer", func(t *testing.T) {
		if err := New(nil, Source{}); err == nil {
			t.Error("New(nil) succeeded")
		}
	})
	t.Run("runtime collectors already there", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector())
		if err := New(reg, fakeSource()); err != nil {
			t.Fatal(err)
		}
		if n, err := testutil.GatherAndCount(reg, "go_goroutines", "cachesrv_uptime_seconds"); err != nil || n != 2 {
			t.Errorf("count = %d, %v; want 2", n, err)
		}
	})
	t.Run("twice", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		if err := New(reg, fakeSource()); err != nil {
			t.Fatal(err)
		}
		if err := New(reg, fakeSource()); err == nil {
			t.Error("second New on one registry succeeded")
		}
	})
}

func TestHandler(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if err := New(reg, fakeSource()); err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	srv := httptest.NewServer(Handler(reg, ready.Load))
	defer srv.Close()
	get := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, path string
		setReady     bool
		wantCode     int
		wantBody     string
	}{
		{"GET", "/healthz", false, 200, "ok\n"},
		{"GET", "/readyz", false, 503, "not ready\n"},
		{"GET", "/readyz", true, 200, "ok\n"},
		{"HEAD", "/healthz", true, 200, ""},
		{"POST", "/healthz", true, 405, ""},
		{"GET", "/nope", true, 404, ""},
		{"GET", "/metrics", true, 200, "cachesrv_build_info{"},
	} {
		ready.Store(tc.setReady)
		code, body := get(tc.method, tc.path)
		if code != tc.wantCode || !strings.Contains(body, tc.wantBody) {
			t.Errorf("%s %s: %d %q, want %d containing %q", tc.method, tc.path, code, body, tc.wantCode, tc.wantBody)
		}
	}
	// A nil ready func means always ready.
	rec := httptest.NewRecorder()
	Handler(reg, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 200 {
		t.Errorf("nil ready: /readyz = %d, want 200", rec.Code)
	}
}

func BenchmarkCollect(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(fakeSource()))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
