package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/apptest"
	"github.com/cachesrv/cachesrv/internal/config"
)

// TestMain checks that the servers the tests start leave no goroutine
// behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer runs a cachesrv on a 127.0.0.1:0 listener until the test ends.
func startServer(t *testing.T, maxmemory int64) string {
	t.Helper()
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Shards = 8
	cfg.MaxMemory = maxmemory
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln := apptest.Listen(t)
	apptest.Serve(t, a, ln)
	return ln.Addr().String()
}

// TestReplayAgainstServer replays a loop of 50 keys, then 200, over a real
// socket: every request after the first pass hits while the keys fit, and
// the counts reported match what the server says.
func TestReplayAgainstServer(t *testing.T) {
	addr := startServer(t, 0)
	dir := t.TempDir()
	var b strings.Builder
	for range 10 {
		for k := range 50 {
			b.WriteString(strconv.Itoa(k) + "\n")
		}
	}
	path := filepath.Join(dir, "loop.lirs")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run([]string{"-addr", addr, "-trace", path, "-value-size", "10", "-pipeline", "7", "-json", "-flush"}, &out); err != nil {
		t.Fatal(err)
	}
	var res Result
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("%v: %q", err, out.String())
	}
	if res.Requests != 500 || res.Hits != 450 || res.FinalKeys != 50 || res.KeysHeld != 50 || res.Evictions != 0 || res.SetErrors != 0 {
		t.Fatalf("result %+v", res)
	}
	// -fill loads keys in the replay's shape and reports used_memory.
	out.Reset()
	if err := run([]string{"-addr", addr, "-fill", "100,300", "-value-size", "10"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "fill=100 used_memory=") || !strings.HasSuffix(lines[1], " keys=300") {
		t.Fatalf("fill output %q", out.String())
	}
}

// TestReplayUnderMaxmemory: with a small maxmemory the server evicts and
// the replay reports the evictions.
func TestReplayUnderMaxmemory(t *testing.T) {
	addr := startServer(t, 2<<20)
	dir := t.TempDir()
	var b strings.Builder
	for i := range 60_000 {
		b.WriteString(strconv.Itoa(i%30_000) + "\n")
	}
	path := filepath.Join(dir, "scan.lirs")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run([]string{"-addr", addr, "-trace", path, "-value-size", "100"}, &out); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	for _, want := range []string{"requests=60000 ", "set_errors=0 "} {
		if !strings.Contains(line, want) {
			t.Fatalf("missing %q in %q", want, line)
		}
	}
	if strings.Contains(line, " evictions=0 ") {
		t.Fatalf("no evictions at 2 MB with 30,000 keys: %q", line)
	}
}

func TestReplayBadArgs(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-trace", "x.lirs", "-pipeline", "0"},
		{"-trace", "x.lirs", "-value-size", "-1"},
		{"-fill", "10,5"},
		{"-trace", "x.lirs", "extra"},
	} {
		if err := run(args, &strings.Builder{}); err == nil {
			t.Errorf("run(%q): no error", args)
		}
	}
}
