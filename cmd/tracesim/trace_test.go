package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cachesrv/cachesrv/internal/tracefile"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func gz(data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestParseReadme(t *testing.T) {
	t.Parallel()
	md := `# Traces

| file | kind |
|---|---|
| x.arc.gz | db |

| trace | size | LRU | Redis-LRU | Redis-LFU | OPT |
|---|---:|---:|---:|---:|---:|
| oltp | 1,000 | 32.83 | 32.48 | 34.84 | 53.62 |
| loop | 250 | 0.00 | 0.00 | 13.65 | 24.68 |
| **mean of the 2** | | 16.41 | 16.24 | 24.25 | 39.15 |
`
	pts, err := parseReadme(strings.NewReader(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []refPoint{
		{trace: "oltp", size: 1000, lru: 32.83, redisLRU: 32.48, redisLFU: 34.84, opt: 53.62},
		{trace: "loop", size: 250, lru: 0, redisLRU: 0, redisLFU: 13.65, opt: 24.68},
	}
	if !slices.Equal(pts, want) {
		t.Fatalf("got %+v", pts)
	}
	if _, err := parseReadme(strings.NewReader("# nothing\n")); err == nil {
		t.Fatal("no table: no error")
	}
}

func TestSimulate(t *testing.T) {
	t.Parallel()
	// A loop over 5 keys at size 4: LRU-like policies never hit, the
	// default policy keeps most of the loop.
	var reqs []int32
	for i := range 5000 {
		reqs = append(reqs, int32(i%5))
	}
	tr := &tracefile.Trace{Reqs: reqs, Hashes: []uint64{tracefile.Mix64(1), tracefile.Mix64(2), tracefile.Mix64(3), tracefile.Mix64(4), tracefile.Mix64(5)}}
	lru, err := simulate(tr, "allkeys-lru", 4)
	if err != nil {
		t.Fatal(err)
	}
	w, err := simulate(tr, "allkeys-wtinylfu", 4)
	if err != nil {
		t.Fatal(err)
	}
	if w < 50 || w > 80.1 {
		t.Errorf("wtinylfu hit ratio %.1f%% on a 5-loop at size 4", w)
	}
	if lru > 60 {
		t.Errorf("lru hit ratio %.1f%%", lru)
	}
	if _, err := simulate(tr, "nope", 4); err == nil {
		t.Error("unknown policy accepted")
	}
}

// TestRunReadme runs the command end to end on a tiny README and traces.
func TestRunReadme(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var lirs strings.Builder
	for i := range 3000 {
		lirs.WriteString(string(rune('0' + i%7)))
		lirs.WriteString("\n")
	}
	writeFile(t, dir, "tiny.lirs.gz", gz([]byte(lirs.String())))
	var keys strings.Builder
	for i := range 3000 {
		keys.WriteString("k")
		keys.WriteString(string(rune('a' + i%11)))
		keys.WriteString("\n")
	}
	writeFile(t, dir, "mine.keys.none", []byte(keys.String()))
	readme := writeFile(t, dir, "README.md", []byte(`
| trace | size | LRU | Redis-LRU | Redis-LFU | OPT |
|---|---:|---:|---:|---:|---:|
| tiny | 5 | 0.00 | 10.00 | 50.00 | 70.00 |
| mine | 20 | 99.00 | 99.00 | 99.00 | 99.00 |
`))
	var out bytes.Buffer
	if err := run([]string{"-readme", readme, "-j", "2"}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"tiny", "mine", "mean of the 2", "allkeys-wtinylfu: mean", "worst point", "allkeys-lru"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	out.Reset()
	err := run([]string{"-trace", filepath.Join(dir, "mine.keys.none"), "-sizes", "5,20", "-policies", "allkeys-lru,allkeys-wtinylfu"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\nmine") != 2 {
		t.Errorf("want two rows:\n%s", out.String())
	}
	for _, args := range [][]string{
		{"-trace", "x.lirs"},
		{"-policies", "allkeys-nope", "-trace", "x.lirs", "-sizes", "1"},
		{"-trace", filepath.Join(dir, "mine.keys.none"), "-sizes", "0"},
		{"-readme", filepath.Join(dir, "missing.md")},
	} {
		if err := run(args, &out); err == nil {
			t.Errorf("run(%q): no error", args)
		}
	}
}
