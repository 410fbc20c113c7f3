package app_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
)

func newApp(tb testing.TB) *app.App {
	tb.Helper()
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Shards = 8
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		tb.Fatalf("app.New: %v", err)
	}
	return a
}

// run serves a on a 127.0.0.1:0 listener until the returned stop is called.
func run(t testing.TB, a *app.App) (addr string, stop func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, []net.Listener{ln}, nil) }()
	return ln.Addr().String(), func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("Run did not return")
		}
	}
}

// do sends one command as a RESP array and returns the reply's first line.
func do(t testing.TB, rw *bufio.ReadWriter, args ...string) string {
	t.Helper()
	rw.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		rw.WriteString("$" + strconv.Itoa(len(a)) + "\r\n" + a + "\r\n")
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	line, err := rw.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line[0] == '$' && line != "$-1" { // bulk string: read the payload
		n, _ := strconv.Atoi(line[1:])
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(rw, buf); err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	return line
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
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

// value returns the value of the series of family name whose labels are
// exactly lv ("name", "value" pairs), and whether it exists.
func value(mfs map[string]*dto.MetricFamily, name string, lv ...string) (float64, bool) {
	mf := mfs[name]
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel())*2 != len(lv) {
			continue
		}
		for i, l := range m.GetLabel() {
			if l.GetName() != lv[2*i] || l.GetValue() != lv[2*i+1] {
				continue next
			}
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetricsHandler(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	a := newApp(t)
	hs := httptest.NewServer(a.NewMetricsHandler())
	defer hs.Close()
	defer http.DefaultClient.CloseIdleConnections()

	if code, body := httpGet(t, hs.URL+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if code, _ := httpGet(t, hs.URL+"/readyz"); code != 503 {
		t.Errorf("/readyz before Run = %d, want 503", code)
	}

	addr, stop := run(t, a)
	defer stop()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rw := bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
	for _, step := range []struct {
		args []string
		want string
	}{
		{[]string{"SET", "k", "v"}, "+OK"},
		{[]string{"GET", "k"}, "v"},         // hit in db 0
		{[]string{"GET", "missing"}, "$-1"}, // miss in db 0
		{[]string{"DEL", "k"}, ":1"},
		{[]string{"GET"}, "-ERR wrong number of arguments for 'get' command"},
		{[]string{"SELECT", "3"}, "+OK"},
		{[]string{"SET", "t", "v", "EX", "1000"}, "+OK"},
	} {
		if got := do(t, rw, step.args...); got != step.want {
			t.Fatalf("%v = %q, want %q", step.args, got, step.want)
		}
	}

	if code, body := httpGet(t, hs.URL+"/readyz"); code != 200 || body != "ok\n" {
		t.Errorf("/readyz while running = %d %q, want 200 ok", code, body)
	}
	code, body := httpGet(t, hs.URL+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics = %d\n%s", code, body)
	}
	problems, err := promlint.New(strings.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	for _, c := range []struct {
		name string
		lv   []string
		want float64
	}{
		{"cachesrv_build_info", []string{"goversion", runtime.Version(), "version", app.Version}, 1},
		{"cachesrv_commands_total", []string{"cmd", "get"}, 2},
		{"cachesrv_commands_total", []string{"cmd", "set"}, 2},
		{"cachesrv_commands_total", []string{"cmd", "del"}, 1},
		{"cachesrv_command_duration_seconds", []string{"cmd", "get"}, 2},
		{"cachesrv_command_errors_total", []string{"cmd", "get"}, 0},
		{"cachesrv_commands_rejected_total", []string{"cmd", "set"}, 0},
		{"cachesrv_error_replies_total", []string{"prefix", "ERR"}, 1},
		{"cachesrv_keyspace_hits_total", []string{"db", "0"}, 1},
		{"cachesrv_keyspace_misses_total", []string{"db", "0"}, 1},
		{"cachesrv_keys", []string{"db", "0"}, 0},
		{"cachesrv_keys", []string{"db", "3"}, 1},
		{"cachesrv_keys_with_ttl", []string{"db", "3"}, 1},
		{"cachesrv_removed_keys_total", []string{"reason", "deleted"}, 1},
		{"cachesrv_removed_keys_total", []string{"reason", "expired"}, 0},
		{"cachesrv_removed_keys_total", []string{"reason", "evicted"}, 0},
		{"cachesrv_removed_keys_total", []string{"reason", "invalidated"}, 0},
		{"cachesrv_evicted_keys_total", nil, 0},
		{"cachesrv_expired_keys_total", nil, 0},
		{"cachesrv_connections", nil, 1},
		{"cachesrv_connections_accepted_total", nil, 1},
		{"cachesrv_connections_rejected_total", nil, 0},
		{"cachesrv_panics_recovered_total", nil, 0},
		{"cachesrv_memory_max_bytes", nil, 256 << 20},
		{"cachesrv_expire_lag_seconds", nil, 0},
	} {
		got, ok := value(mfs, c.name, c.lv...)
		if !ok || got != c.want {
			t.Errorf("%s%v = %v (present %v), want %v", c.name, c.lv, got, ok, c.want)
		}
	}
	for _, name := range []string{"cachesrv_memory_used_bytes", "cachesrv_network_received_bytes_total", "cachesrv_network_sent_bytes_total"} {
		if v, ok := value(mfs, name); !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want > 0", name, v, ok)
		}
	}
	for _, name := range []string{
		"cachesrv_uptime_seconds", "cachesrv_expire_cycles_total", "cachesrv_expire_sweep_cpu_seconds_total",
		"cachesrv_expire_time_cap_reached_total", "go_goroutines", "process_cpu_seconds_total",
	} {
		if _, ok := value(mfs, name); !ok {
			t.Errorf("%s missing from the scrape", name)
		}
	}
	// Idle databases other than 0 are left out.
	if _, ok := value(mfs, "cachesrv_keys", "db", "1"); ok {
		t.Error("idle db 1 reported")
	}
}

// BenchmarkMetricsScrape measures one full /metrics request against a
// server that has run a mix of commands in a few databases.
func BenchmarkMetricsScrape(b *testing.B) {
	defer goleak.VerifyNone(b, goleak.IgnoreCurrent())
	a := newApp(b)
	addr, stop := run(b, a)
	defer stop()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	rw := bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
	for db := range 4 {
		do(b, rw, "SELECT", strconv.Itoa(db))
		for _, cmd := range [][]string{
			{"SET", "k", "v"}, {"GET", "k"}, {"GET", "nope"}, {"EXISTS", "k"}, {"INCR", "n"},
			{"EXPIRE", "k", "100"}, {"TTL", "k"}, {"DEL", "k"}, {"PING"}, {"GET"}, {"NOSUCH"},
		} {
			do(b, rw, cmd...)
		}
	}
	h := a.NewMetricsHandler()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
