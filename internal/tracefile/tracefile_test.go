package tracefile

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
	if err := Parse(bytes.NewReader(data), format, func(k uint64) { keys = append(keys, k) }); err != nil {
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
		{FormatARC, []byte("10 1 0 1\n20 3 0 2\n\n7 1 0 3\r\n"), []uint64{10, 20, 21, 22, 7}},
		{FormatLIRS, []byte("5\n*\n\n6\n 5 \n"), []uint64{5, 6, 5}},
		{FormatCache2k, be32(1, -1, 1<<30), []uint64{1, ^uint64(0), 1 << 30}},
		{FormatScarab, be64(1, 1<<63, 42), []uint64{1, 1 << 63, 42}},
	} {
		if got := collect(t, tc.data, tc.format); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.format, got, tc.want)
		}
	}
	keys := collect(t, []byte("user:1\nuser:2\r\n\nuser:1\nüñí cødé\n"), FormatKeys)
	if len(keys) != 4 || keys[0] != keys[2] || keys[0] == keys[1] {
		t.Errorf("keys: got %v", keys)
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		format, data, want string
	}{
		{FormatARC, "10 x 0 1\n", "line 1: bad count"},
		{FormatARC, "10\n", "line 1: want"},
		{FormatLIRS, "1\nabc\n", "line 2: bad block number"},
		{FormatCache2k, "\x00\x00\x00\x01\x00", "record 1: truncated 4-byte key"},
		{FormatScarab, "\x00\x00\x00", "record 0: truncated 8-byte key"},
		{"csv", "", "unknown trace format"},
	} {
		err := Parse(strings.NewReader(tc.data), tc.format, func(uint64) {})
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
		f, c, err := DetectFormat(tc.path)
		if err != nil || f != tc.format || c != tc.comp {
			t.Errorf("%s: %q %q %v", tc.path, f, c, err)
		}
	}
	if _, _, err := DetectFormat("trace.gz"); err == nil {
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
		tr, err := Load(p, "")
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !slices.Equal(tr.Reqs, []int32{0, 1, 0, 2}) || len(tr.Hashes) != 3 {
			t.Errorf("%s: reqs %v, %d keys", p, tr.Reqs, len(tr.Hashes))
		}
	}
	// -format overrides the name.
	p := writeFile(t, dir, "weird.name", raw)
	if _, err := Load(p, ""); err == nil {
		t.Error("undetectable name accepted")
	}
	if tr, err := Load(p, FormatKeys); err != nil || len(tr.Hashes) != 3 {
		t.Errorf("with -format keys: %v", err)
	}
	bad := writeFile(t, dir, "bad.lirs.gz", raw)
	if _, err := Load(bad, ""); err == nil {
		t.Error("plain data named .gz accepted")
	}
}

func FuzzParseTrace(f *testing.F) {
	f.Add(FormatARC, []byte("10 3 0 1\n"))
	f.Add(FormatLIRS, []byte("5\n*\n6\n"))
	f.Add(FormatCache2k, be32(1, 2, 3))
	f.Add(FormatScarab, be64(1, 2))
	f.Add(FormatKeys, []byte("a\nb\r\n"))
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		n := 0
		_ = Parse(bytes.NewReader(data), format, func(uint64) {
			n++
			if n > 1<<20 {
				t.Skip("huge ARC run")
			}
		})
	})
}
