package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func collect(t *testing.T, data []byte, format string) []uint64 {
	t.Helper()
	var keys []uint64
	if err := parseTrace(bytes.NewReader(data), format, func(k uint64) { keys = append(keys, k) }); err != nil {
		t.Fatalf("parse %s: %v", format, err)
	}
	return keys
}

func be32(vs ...int32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return b
}

func be64(vs ...uint64) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	return b
}

func TestParseFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format string
		data   []byte
		want   []uint64
	}{
		{formatARC, []byte("10 1 0 1\n20 3 0 2\n\n7 1 0 3\r\n"), []uint64{10, 20, 21, 22, 7}},
		{formatLIRS, []byte("5\n*\n\n6\n 5 \n"), []uint64{5, 6, 5}},
		{formatCache2k, be32(1, -1, 1<<30), []uint64{1, ^uint64(0), 1 << 30}},
		{formatScarab, be64(1, 1<<63, 42), []uint64{1, 1 << 63, 42}},
	} {
		if got := collect(t, tc.data, tc.format); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.format, got, tc.want)
		}
	}
	keys := collect(t, []byte("user:1\nuser:2\r\n\nuser:1\nüñí cødé\n"), formatKeys)
	if len(keys) != 4 || keys[0] != keys[2] || keys[0] == keys[1] {
		t.Errorf("keys: got %v", keys)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, data, want string
	}{
		{formatARC, "10 x 0 1\n", "line 1: bad count"},
		{formatARC, "10\n", "line 1: want"},
		{formatLIRS, "1\nabc\n", "line 2: bad block number"},
		{formatCache2k, "\x00\x00\x00\x01\x00", "record 1: truncated 4-byte key"},
		{formatScarab, "\x00\x00\x00", "record 0: truncated 8-byte key"},
		{"csv", "", "unknown trace format"},
	} {
		err := parseTrace(strings.NewReader(tc.data), tc.format, func(uint64) {})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: err = %v, want %q", tc.format, tc.data, err, tc.want)
		}
	}
}

func TestDetectFormat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ path, format, comp string }{
		{"/x/oltp.arc.gz", "arc", "gz"},
		{"orm-busy.cache2k.xz", "cache2k", "xz"},
		{"a.b.lirs.none", "lirs", "none"},
		{"my.keys", "keys", ""},
	} {
		f, c, err := detectFormat(tc.path)
		if err != nil || f != tc.format || c != tc.comp {
			t.Errorf("%s: %q %q %v", tc.path, f, c, err)
		}
	}
	if _, _, err := detectFormat("trace.gz"); err == nil {
		t.Error("trace.gz: no error")
	}
}

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

func TestLoadTraceCompressed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	raw := []byte("1\n2\n1\n3\n")
	paths := []string{
		writeFile(t, dir, "a.lirs.none", raw),
		writeFile(t, dir, "b.lirs.gz", gz(raw)),
	}
	if xz, err := exec.LookPath("xz"); err == nil {
		plain := writeFile(t, dir, "c.lirs", raw)
		if out, err := exec.Command(xz, "-z", plain).CombinedOutput(); err != nil {
			t.Fatalf("xz: %v %s", err, out)
		}
		paths = append(paths, plain+".xz")
	} else {
		t.Log("xz not installed; skipping the xz case")
	}
	for _, p := range paths {
		tr, err := loadTrace(p, "")
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !slices.Equal(tr.reqs, []int32{0, 1, 0, 2}) || len(tr.hashes) != 3 {
			t.Errorf("%s: reqs %v, %d keys", p, tr.reqs, len(tr.hashes))
		}
	}
	// -format overrides the name.
	p := writeFile(t, dir, "weird.name", raw)
	if _, err := loadTrace(p, ""); err == nil {
		t.Error("undetectable name accepted")
	}
	if tr, err := loadTrace(p, formatKeys); err != nil || len(tr.hashes) != 3 {
		t.Errorf("with -format keys: %v", err)
	}
	bad := writeFile(t, dir, "bad.lirs.gz", raw)
	if _, err := loadTrace(bad, ""); err == nil {
		t.Error("plain data named .gz accepted")
	}
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
	tr := &trace{reqs: reqs, hashes: []uint64{mix64(1), mix64(2), mix64(3), mix64(4), mix64(5)}}
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

func FuzzParseTrace(f *testing.F) {
	f.Add(formatARC, []byte("10 3 0 1\n"))
	f.Add(formatLIRS, []byte("5\n*\n6\n"))
	f.Add(formatCache2k, be32(1, 2, 3))
	f.Add(formatScarab, be64(1, 2))
	f.Add(formatKeys, []byte("a\nb\r\n"))
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		n := 0
		_ = parseTrace(bytes.NewReader(data), format, func(uint64) {
			n++
			if n > 1<<20 {
				t.Skip("huge ARC run")
			}
		})
	})
}
