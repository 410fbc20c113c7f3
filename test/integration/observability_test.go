package integration

// Observability: the Prometheus rules, the Grafana dashboard and the tools
// users put in front of cachesrv (prometheus-redis-exporter, Prometheus
// itself), run against real servers. Tests that need promtool, prometheus
// or prometheus-redis-exporter skip loudly when the binary is missing;
// .ci/run installs them.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

// Paths of the observability files, relative to this package's directory
// (where go test runs).
const (
	alertsFile     = "../../configs/prometheus/alerts.yml"
	alertsTestFile = "../../configs/prometheus/alerts_test.yml"
	promConfigFile = "../../configs/prometheus/prometheus.yml"
	dashboardFile  = "../../configs/grafana/cachesrv.json"
)

// TestPromtoolRules validates the rule file, runs its unit tests and
// checks the sample Prometheus configuration, with the same promtool
// commands docs/observability.md gives.
func TestPromtoolRules(t *testing.T) {
	t.Parallel()
	promtool := lookBinary(t, "promtool", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", alertsFile},
		{"test", "rules", alertsTestFile},
		{"check", "config", promConfigFile},
	} {
		t.Run(strings.Join(args[:2], "_"), func(t *testing.T) {
			out, err := exec.Command(promtool, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
			}
		})
	}
}

// TestPromtoolRulesMetricNames checks that the rules and their unit tests
// use only names cachesrv really exposes: promtool's tests feed synthetic
// series, so a misspelt metric would pass them and never fire in
// production. It also checks that every alert has a `for:`, a severity, a
// summary and a description, and a unit test.
func TestPromtoolRulesMetricNames(t *testing.T) {
	t.Parallel()
	exposed := scrapeExposedNames(t)
	rules := readFile(t, alertsFile)
	tests := readFile(t, alertsTestFile)
	records := yamlScalars(rules, "record")
	if len(records) == 0 {
		t.Fatal("no recording rules found in " + alertsFile)
	}
	known := func(name string) bool {
		return exposed[name] || slices.Contains(records, name) || name == "up" // up is Prometheus's own
	}

	for _, expr := range append(yamlScalars(rules, "expr"), yamlScalars(tests, "expr")...) {
		for _, name := range promqlMetricNames(expr) {
			if !known(name) {
				t.Errorf("rule expression uses %q, which cachesrv does not expose:\n%s", name, expr)
			}
		}
	}
	for _, series := range yamlScalars(tests, "series") {
		name, _, _ := strings.Cut(series, "{")
		if !known(strings.TrimSpace(name)) {
			t.Errorf("%s feeds series %q, which cachesrv does not expose", alertsTestFile, name)
		}
	}

	testedAlerts := yamlScalars(tests, "alertname")
	for _, block := range ruleBlocks(rules) {
		if block.kind == "record" {
			if !strings.Contains(tests, block.name) {
				t.Errorf("recording rule %s has no unit test in %s", block.name, alertsTestFile)
			}
			continue
		}
		for _, field := range []string{"for:", "severity:", "summary:", "description:"} {
			if !strings.Contains(block.text, field) {
				t.Errorf("alert %s has no %s", block.name, strings.TrimSuffix(field, ":"))
			}
		}
		if !slices.Contains(testedAlerts, block.name) {
			t.Errorf("alert %s has no unit test in %s", block.name, alertsTestFile)
		}
	}
}

// TestDashboardMetricNames parses the Grafana dashboard and checks that
// every query references only metrics cachesrv exposes (or recording rules
// of alerts.yml), that every panel uses the templated data source, and that
// the dashboard covers what operators look at first.
func TestDashboardMetricNames(t *testing.T) {
	t.Parallel()
	exposed := scrapeExposedNames(t)
	for _, name := range yamlScalars(readFile(t, alertsFile), "record") {
		exposed[name] = true
	}
	d := loadDashboard(t)

	used := map[string]bool{}
	for _, q := range d.queries {
		for _, name := range promqlMetricNames(q.expr) {
			used[name] = true
			if !exposed[name] {
				t.Errorf("%s: query uses %q, which cachesrv does not expose (nor alerts.yml records):\n%s", q.where, name, q.expr)
			}
		}
	}
	for _, name := range []string{
		"cachesrv:keyspace_hit_ratio:rate5m",
		"cachesrv_commands_total",
		"cachesrv_command_duration_seconds_bucket",
		"cachesrv_memory_used_bytes", "cachesrv_memory_max_bytes",
		"cachesrv_evicted_keys_total", "cachesrv_expired_keys_total",
		"cachesrv_keys",
		"cachesrv_connections",
		"cachesrv_network_received_bytes_total", "cachesrv_network_sent_bytes_total",
	} {
		if !used[name] {
			t.Errorf("the dashboard has no panel using %s", name)
		}
	}
	if len(d.panels) < 8 {
		t.Errorf("the dashboard has %d panels, want at least 8", len(d.panels))
	}
}

// TestDashboardPromQLParses has promtool parse every dashboard query (with
// Grafana's variables replaced by plain values), so a syntax error shows up
// here rather than as a broken panel.
func TestDashboardPromQLParses(t *testing.T) {
	t.Parallel()
	promtool := lookBinary(t, "promtool", "prometheus")
	d := loadDashboard(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range d.queries {
		expr, _ := json.Marshal(grafanaToPromQL(q.expr)) // a JSON string is a YAML string
		fmt.Fprintf(&b, "      - record: dashboard:query:%d\n        expr: %s\n", i, expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput(); err != nil {
		var list strings.Builder
		for i, q := range d.queries {
			fmt.Fprintf(&list, "dashboard:query:%d = %s: %s\n", i, q.where, q.expr)
		}
		t.Fatalf("a dashboard query does not parse: %v\n%s\nqueries:\n%s", err, out, list.String())
	}
}

// TestRedisExporter runs prometheus-redis-exporter against cachesrv, the
// way users with Redis dashboards will, and checks the exporter reads the
// Redis-named statistics from INFO: hits, misses, evictions and memory.
func TestRedisExporter(t *testing.T) {
	exporter := lookBinary(t, "prometheus-redis-exporter", "prometheus-redis-exporter")
	s := start(t, func(c *config.Config) { c.MaxMemory = 2 << 20 })
	rdb := s.client(2)
	ctx := context.Background()

	// About 10 MiB of values into a 2 MiB cache forces evictions.
	value := strings.Repeat("v", 16<<10)
	for batch := 0; batch < 10; batch++ {
		pipe := rdb.Pipeline()
		for i := 0; i < 64; i++ {
			pipe.Set(ctx, fmt.Sprintf("big:%d:%d", batch, i), value, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("writing values: %v", err)
		}
	}
	if err := rdb.Set(ctx, "hot", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := rdb.Get(ctx, "hot").Err(); err != nil {
			t.Fatalf("GET hot: %v", err)
		}
		if err := rdb.Get(ctx, fmt.Sprintf("absent:%d", i)).Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET absent: %v, want redis.Nil", err)
		}
	}

	p := startExternal(t, exporter, "/metrics", func(listen string) []string {
		return []string{"--redis.addr", "redis://" + s.Addr, "--web.listen-address", listen}
	})
	body := httpGetOK(t, "http://"+p.addr+"/metrics")
	got := sampleValues(t, body)
	for _, c := range []struct {
		name string
		ok   func(float64) bool
		want string
	}{
		{"redis_up", func(v float64) bool { return v == 1 }, "1"},
		{"redis_keyspace_hits_total", func(v float64) bool { return v > 0 }, "> 0"},
		{"redis_keyspace_misses_total", func(v float64) bool { return v > 0 }, "> 0"},
		{"redis_evicted_keys_total", func(v float64) bool { return v > 0 }, "> 0"},
		{"redis_memory_used_bytes", func(v float64) bool { return v > 0 }, "> 0"},
		{"redis_memory_max_bytes", func(v float64) bool { return v == 2<<20 }, "2097152"},
	} {
		v, ok := got[c.name]
		if !ok {
			t.Errorf("exporter did not emit %s", c.name)
			continue
		}
		if !c.ok(v) {
			t.Errorf("%s = %v, want %s", c.name, v, c.want)
		}
	}
	if t.Failed() {
		t.Logf("exporter log:\n%s", p.output())
	}
	// Commands the exporter sends that cachesrv refuses are reported, not
	// hidden: they show up in -v output for whoever implements them.
	for _, line := range strings.Split(p.output(), "\n") {
		if strings.Contains(line, "level=error") {
			t.Logf("NOTE: the exporter logged an error against cachesrv: %s", line)
		}
	}
}

// TestPrometheusScrapesRecordingRule runs a real Prometheus that scrapes a
// cachesrv every second and evaluates a copy of configs/prometheus/
// alerts.yml, generates a known mix of hits and misses, and waits for the
// hit-ratio recording rules to report it.
//
// The real rules (5m windows) work here without a test-only copy: rate()
// over a window that holds only a few seconds of samples is computed from
// the samples present, and because both counters are 0 at the first scrape
// (checked below) neither is extrapolated before it, so the ratio of the two
// rates is exactly hits/(hits+misses) once a scrape after the traffic has
// been evaluated.
func TestPrometheusScrapesRecordingRule(t *testing.T) {
	prometheus := lookBinary(t, "prometheus", "prometheus")
	s := start(t, nil)
	rdb := s.client(2)
	ctx := context.Background()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s.App.NewMetricsHandler(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close(); <-served })

	if h, m := keyspaceStats(t, rdb); h != 0 || m != 0 {
		t.Fatalf("a fresh server has keyspace_hits=%d keyspace_misses=%d, want 0 and 0", h, m)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alerts.yml"), []byte(readFile(t, alertsFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: cachesrv
    static_configs:
      - targets: [%q]
`, ln.Addr().String())
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startExternal(t, prometheus, "/-/ready", func(listen string) []string {
		return []string{
			"--config.file", filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path", filepath.Join(dir, "data"),
			"--web.listen-address", listen,
		}
	})
	api := &promAPI{t: t, base: "http://" + p.addr, proc: p}

	// Traffic only after Prometheus has seen the counters at 0.
	api.waitFor(`cachesrv_keyspace_misses_total{job="cachesrv",db="0"}`, func(v float64) bool { return v == 0 })
	const hits, misses = 300, 100
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pipe := rdb.Pipeline()
	for i := 0; i < hits; i++ {
		pipe.Get(ctx, "k")
	}
	for i := 0; i < misses; i++ {
		pipe.Get(ctx, "absent:"+strconv.Itoa(i))
	}
	_, _ = pipe.Exec(ctx) // the misses make Exec return redis.Nil
	h, m := keyspaceStats(t, rdb)
	if h != hits || m != misses {
		t.Fatalf("INFO keyspace_hits=%d keyspace_misses=%d, want %d and %d", h, m, hits, misses)
	}
	want := float64(hits) / float64(hits+misses)
	near := func(v float64) bool { return math.Abs(v-want) < 0.005 }

	api.waitFor(`cachesrv:keyspace_hit_ratio:rate5m{job="cachesrv"}`, near)
	api.waitFor(`cachesrv:keyspace_hit_ratio_by_db:rate5m{job="cachesrv",db="0"}`, near)

	// Every rule of alerts.yml evaluated without error against real series.
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name, Health, LastError string
				}
			}
		}
	}
	api.get("/api/v1/rules", nil, &rules)
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.Health != "ok" {
				t.Errorf("rule %s: health %q, error %q", r.Name, r.Health, r.LastError)
			}
		}
	}
	if want := len(ruleBlocks(readFile(t, alertsFile))); n != want {
		t.Errorf("Prometheus loaded %d rules, alerts.yml has %d", n, want)
	}

	// Every dashboard query runs on this Prometheus.
	for _, q := range loadDashboard(t).queries {
		var res struct{ Status, Error string }
		api.get("/api/v1/query", url.Values{"query": {grafanaToPromQL(q.expr)}}, &res)
		if res.Status != "success" {
			t.Errorf("%s: query fails on Prometheus: %s\n%s", q.where, res.Error, q.expr)
		}
	}
	if t.Failed() {
		t.Logf("prometheus log:\n%s", p.output())
	}
}

func TestPromqlMetricNames(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ expr, want string }{
		{`up{job="cachesrv"} == 0`, "up"},
		{`sum by (cmd) (rate(cachesrv_commands_total{job=~"$job", instance=~"${instance}"}[$__rate_interval]))`, "cachesrv_commands_total"},
		{`histogram_quantile(0.99, sum by (job, le) (rate(a_bucket[5m]))) > 0.1`, "a_bucket"},
		{"a / (b > 0) > 0.9", "a b"},
		{"x:y:rate5m < 0.8 and on (job, instance) x:z:rate5m >= 1e-3", "x:y:rate5m x:z:rate5m"},
		{`sum(rate(c_total[1m] offset 5m)) without (db) * 60`, "c_total"},
		{`a * on (i) group_left (db) b unless c or d`, "a b c d"},
		{`label_replace(m, "dst", "$1", "src", "(.*)")`, "m"},
		{`label_values(cachesrv_build_info{job=~"$job"}, instance)`, "cachesrv_build_info"},
		{`label_values(job)`, ""},
		{`vector(1) + Inf - NaN`, ""},
	} {
		got := strings.Join(promqlMetricNames(c.expr), " ")
		if got != c.want {
			t.Errorf("promqlMetricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

// lookBinary returns the path of an external tool or skips the test loudly.
func lookBinary(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("SKIPPING: %s not found; install it (apt-get install %s) to run this test. CI installs it.", name, pkg)
	}
	return p
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scrapeExposedNames starts a server, runs commands so that every family
// has samples (command histograms and error counters appear with their
// first use), scrapes its metrics handler and returns every sample name a
// PromQL query can select: histograms as _bucket, _sum and _count.
func scrapeExposedNames(t *testing.T) map[string]bool {
	t.Helper()
	s := start(t, withScrapeOrigin(t))
	rdb := s.client(2)
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	_ = rdb.Get(ctx, "k").Err()
	_ = rdb.Get(ctx, "absent").Err()
	if err := rdb.Incr(ctx, "k").Err(); err == nil {
		t.Fatal("INCR on a non-integer value succeeded")
	}

	hs := httptest.NewServer(s.App.NewMetricsHandler())
	t.Cleanup(hs.Close)
	body := httpGetOK(t, hs.URL+"/metrics")
	fams := parseMetrics(t, body)
	names := map[string]bool{}
	for name, f := range fams {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name], names[name+"_sum"], names[name+"_count"] = true, true, true
		default:
			names[name] = true
		}
	}
	if !names["cachesrv_keyspace_hits_total"] || !names["cachesrv_command_duration_seconds_bucket"] {
		t.Fatalf("the scrape lacks basic cachesrv metrics:\n%s", body)
	}
	return names
}

func parseMetrics(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse metrics: %v\n%s", err, body)
	}
	return fams
}

// sampleValues returns the value of every unlabelled counter, gauge or
// untyped metric in a text exposition (the first sample for labelled ones).
func sampleValues(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for name, f := range parseMetrics(t, body) {
		if len(f.Metric) == 0 {
			continue
		}
		m := f.Metric[0]
		switch {
		case m.Counter != nil:
			out[name] = m.Counter.GetValue()
		case m.Gauge != nil:
			out[name] = m.Gauge.GetValue()
		case m.Untyped != nil:
			out[name] = m.Untyped.GetValue()
		}
	}
	return out
}

func httpGetOK(t *testing.T, u string) string {
	t.Helper()
	code, body, err := httpGet(u)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: status %d, err %v\n%s", u, code, err, body)
	}
	return body
}

var httpClient = &http.Client{Timeout: 10 * time.Second}

func httpGet(u string) (int, string, error) {
	resp, err := httpClient.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// keyspaceStats returns keyspace_hits and keyspace_misses from INFO stats.
func keyspaceStats(t *testing.T, rdb *redis.Client) (hits, misses int) {
	t.Helper()
	info, err := rdb.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	hits, misses = -1, -1
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "keyspace_hits:"); ok {
			hits = atoi(v)
		} else if v, ok := strings.CutPrefix(line, "keyspace_misses:"); ok {
			misses = atoi(v)
		}
	}
	if hits < 0 || misses < 0 {
		t.Fatalf("INFO stats lacks keyspace_hits or keyspace_misses:\n%s", info)
	}
	return hits, misses
}

// extProcess is an external program started for one test.
type extProcess struct {
	addr   string // its web listen address
	out    *lockedBuffer
	exited chan struct{}
}

func (p *extProcess) output() string { return p.out.String() }

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startExternal runs bin with args(listen) on a free 127.0.0.1 port and
// waits until GET readyPath answers 200. A separate process cannot be
// handed a listener, so the port is picked by listening on :0 and closing;
// if another process takes it first, the start is retried on a new port.
// The process gets SIGINT at cleanup and SIGKILL 5 s later.
func startExternal(t *testing.T, bin, readyPath string, args func(listen string) []string) *extProcess {
	t.Helper()
	var last string
	for attempt := 0; attempt < 3; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()

		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, args(addr)...)
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = 5 * time.Second
		p := &extProcess{addr: addr, out: &lockedBuffer{}, exited: make(chan struct{})}
		cmd.Stdout, cmd.Stderr = p.out, p.out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("start %s: %v", bin, err)
		}
		go func() { _ = cmd.Wait(); close(p.exited) }()
		stop := func() { cancel(); <-p.exited }

		deadline := time.Now().Add(20 * time.Second)
		for {
			code, _, err := httpGet("http://" + addr + readyPath)
			if err == nil && code == http.StatusOK {
				t.Cleanup(stop)
				return p
			}
			select {
			case <-p.exited:
			case <-time.After(50 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue
				}
				stop()
				t.Fatalf("%s did not answer GET %s within 20s; output:\n%s", bin, readyPath, p.output())
			}
			break
		}
		stop()
		last = p.output()
		if !strings.Contains(last, "address already in use") {
			break
		}
	}
	t.Fatalf("%s exited before it was ready; output:\n%s", bin, last)
	return nil
}

// promAPI queries a test Prometheus's HTTP API.
type promAPI struct {
	t    *testing.T
	base string
	proc *extProcess
}

func (a *promAPI) get(path string, q url.Values, into any) {
	a.t.Helper()
	u := a.base + path
	if q != nil {
		u += "?" + q.Encode()
	}
	_, body, err := httpGet(u)
	if err != nil {
		a.t.Fatalf("GET %s: %v", u, err)
	}
	if err := json.Unmarshal([]byte(body), into); err != nil {
		a.t.Fatalf("GET %s: %v\n%s", u, err, body)
	}
}

// waitFor polls an instant query until it returns exactly one sample for
// which ok is true, and fails after 15 s with the last answer.
func (a *promAPI) waitFor(query string, ok func(float64) bool) float64 {
	a.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	last := "no answer"
	for time.Now().Before(deadline) {
		var res struct {
			Status, Error string
			Data          struct {
				Result []struct {
					Metric map[string]string
					Value  [2]any
				}
			}
		}
		a.get("/api/v1/query", url.Values{"query": {query}}, &res)
		last = fmt.Sprintf("status %s, error %q, result %v", res.Status, res.Error, res.Data.Result)
		if res.Status == "success" && len(res.Data.Result) == 1 {
			s, _ := res.Data.Result[0].Value[1].(string)
			if v, err := strconv.ParseFloat(s, 64); err == nil && ok(v) {
				return v
			}
		}
		time.Sleep(200 * time.Millisecond) // polling another process; nothing to wait on
	}
	a.t.Fatalf("query %s: no acceptable value within 15s; last answer: %s\nprometheus log:\n%s", query, last, a.proc.output())
	return 0
}

// dashboard is what the tests read from the Grafana JSON.
type dashboard struct {
	panels  []string   // titles of the non-row panels
	queries []dashExpr // every PromQL query: panel targets and variables
}

type dashExpr struct{ where, expr string }

// loadDashboard parses the dashboard and checks its structure: a
// datasource variable, every panel and query on it, unique panel ids, and
// at least one non-empty query per panel.
func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	type target struct {
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	}
	type panel struct {
		ID         int             `json:"id"`
		Type       string          `json:"type"`
		Title      string          `json:"title"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []target        `json:"targets"`
		Panels     []panel         `json:"panels"`
	}
	var raw struct {
		Title      string  `json:"title"`
		UID        string  `json:"uid"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string          `json:"name"`
				Type       string          `json:"type"`
				Query      json.RawMessage `json:"query"`
				Datasource json.RawMessage `json:"datasource"`
			} `json:"list"`
		} `json:"templating"`
	}
	dec := json.NewDecoder(strings.NewReader(readFile(t, dashboardFile)))
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("%s is not valid dashboard JSON: %v", dashboardFile, err)
	}
	if raw.Title == "" || raw.UID == "" {
		t.Errorf("the dashboard needs a title and a uid")
	}

	// The data source is a variable, so the dashboard imports into any
	// Grafana; every panel and query must use it.
	dsVar := ""
	for _, v := range raw.Templating.List {
		if v.Type == "datasource" && strings.Contains(string(v.Query), "prometheus") {
			dsVar = v.Name
		}
	}
	if dsVar == "" {
		t.Fatal("the dashboard has no Prometheus datasource variable")
	}
	wantDS := func(where string, ds json.RawMessage) {
		var ref struct{ Type, UID string }
		if err := json.Unmarshal(ds, &ref); err != nil || ref.UID != "${"+dsVar+"}" {
			t.Errorf("%s: datasource %s, want uid ${%s}", where, ds, dsVar)
		}
	}

	d := &dashboard{}
	for _, v := range raw.Templating.List {
		if v.Type != "query" {
			continue
		}
		wantDS("variable "+v.Name, v.Datasource)
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct{ Query string }
			_ = json.Unmarshal(v.Query, &obj)
			q = obj.Query
		}
		if q == "" {
			t.Errorf("variable %s has no query", v.Name)
			continue
		}
		d.queries = append(d.queries, dashExpr{"variable " + v.Name, q})
	}

	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			where := fmt.Sprintf("panel %q", p.Title)
			d.panels = append(d.panels, p.Title)
			wantDS(where, p.Datasource)
			if len(p.Targets) == 0 {
				t.Errorf("%s has no query", where)
			}
			for _, tg := range p.Targets {
				wantDS(where+" target", tg.Datasource)
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s has an empty query", where)
					continue
				}
				d.queries = append(d.queries, dashExpr{where, tg.Expr})
			}
		}
	}
	walk(raw.Panels)
	return d
}

// grafanaToPromQL replaces the dashboard's variables with values a plain
// Prometheus accepts, and turns a label_values() variable query into the
// series selector it wraps.
func grafanaToPromQL(expr string) string {
	if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
		expr = m[1]
		if expr == "" {
			expr = "up"
		}
	}
	return strings.NewReplacer(
		"$__rate_interval", "1m", "${__rate_interval}", "1m",
		"$__interval", "1m", "${__interval}", "1m",
		"$__range", "1h", "${__range}", "1h",
	).Replace(grafanaVarRE.ReplaceAllString(expr, ".*"))
}

var (
	// label_values(selector, label) or label_values(label).
	labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*?)\s*,)?\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*$`)
	grafanaVarRE  = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?\}|\$[A-Za-z][A-Za-z0-9_]*`)

	promqlStringRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchersRE = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlGroupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlTokenRE    = regexp.MustCompile(`[0-9][0-9A-Za-z_.]*|[A-Za-z_:][A-Za-z0-9_:]*`)
	promqlKeywords   = map[string]bool{
		"and": true, "or": true, "unless": true, "by": true, "without": true, "on": true,
		"ignoring": true, "group_left": true, "group_right": true, "bool": true, "offset": true,
		"inf": true, "nan": true, "atan2": true,
	}
)

// promqlMetricNames returns the metric names a PromQL (or Grafana variable)
// query selects, sorted and without duplicates. It is a small scanner, not
// a parser (the Prometheus parser is not a dependency of this module): it
// drops strings, label matchers, ranges, grouping labels and Grafana
// variables, then keeps the identifiers that are not keywords and not
// followed by "(" (functions and aggregations).
func promqlMetricNames(expr string) []string {
	if m := labelValuesRE.FindStringSubmatch(expr); m != nil {
		expr = m[1]
	}
	expr = promqlStringRE.ReplaceAllString(expr, " ")
	expr = grafanaVarRE.ReplaceAllString(expr, " ")
	expr = promqlMatchersRE.ReplaceAllString(expr, " ")
	expr = promqlGroupingRE.ReplaceAllString(expr, " ")
	var names []string
	for _, loc := range promqlTokenRE.FindAllStringIndex(expr, -1) {
		tok := expr[loc[0]:loc[1]]
		switch {
		case tok[0] >= '0' && tok[0] <= '9', promqlKeywords[strings.ToLower(tok)]:
		case strings.HasPrefix(strings.TrimLeft(expr[loc[1]:], " \t\n"), "("):
		default:
			if !slices.Contains(names, tok) {
				names = append(names, tok)
			}
		}
	}
	slices.Sort(names)
	return names
}

// yamlScalars returns the values of every `key:` in a YAML text, plain,
// quoted or as a `|`/`>` block (block lines joined with newlines). It
// understands the layout of the files in configs/prometheus, which keep to
// those forms, and saves this module a YAML dependency.
func yamlScalars(text, key string) []string {
	lines := strings.Split(text, "\n")
	re := regexp.MustCompile(`^(\s*)(- )?` + regexp.QuoteMeta(key) + `:\s*(.*?)\s*$`)
	var out []string
	for i := 0; i < len(lines); i++ {
		m := re.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent := len(m[1]) + len(m[2])
		v := m[3]
		if v == "" || strings.HasPrefix(v, "|") || strings.HasPrefix(v, ">") {
			var block []string
			for i+1 < len(lines) {
				next := lines[i+1]
				if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
					break
				}
				block = append(block, strings.TrimSpace(next))
				i++
			}
			out = append(out, strings.TrimSpace(strings.Join(block, "\n")))
			continue
		}
		if n := len(v); n >= 2 && (v[0] == '"' && v[n-1] == '"' || v[0] == '\'' && v[n-1] == '\'') {
			v = v[1 : n-1]
		}
		out = append(out, v)
	}
	return out
}

// ruleBlock is one rule of a rules file: its kind (alert or record), name
// and the text up to the next rule.
type ruleBlock struct{ kind, name, text string }

var ruleStartRE = regexp.MustCompile(`(?m)^\s*- (alert|record):\s*(\S+)\s*$`)

func ruleBlocks(text string) []ruleBlock {
	locs := ruleStartRE.FindAllStringSubmatchIndex(text, -1)
	out := make([]ruleBlock, len(locs))
	for i, l := range locs {
		end := len(text)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[i] = ruleBlock{kind: text[l[2]:l[3]], name: text[l[4]:l[5]], text: text[l[0]:end]}
	}
	return out
}
