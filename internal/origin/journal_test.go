package origin

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestJournalReplayAndCheckpoint(t *testing.T) {
	dir := t.TempDir()
	j, rp, err := openJournal(dir, fsyncAlways, 1<<20)
	if err != nil || len(rp.recs) != 0 {
		t.Fatal(err, rp)
	}
	for i := 0; i < 10; i++ {
		if _, err := j.append(i%3 == 0, []byte(fmt.Sprintf("k%d", i)), []byte(fmt.Sprintf("v%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.sync(j.last(), true); err != nil {
		t.Fatal(err)
	}
	if err := j.checkpoint(4); err != nil {
		t.Fatal(err)
	}
	j.close()
	j2, rp, err := openJournal(dir, fsyncAlways, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer j2.close()
	if len(rp.recs) != 6 || rp.recs[0].seq != 5 || string(rp.recs[0].key) != "k4" || !rp.recs[2].del {
		t.Fatalf("replayed %+v", rp.recs)
	}
	if s, _ := j2.append(false, []byte("x"), nil); s != 11 {
		t.Fatalf("next seq %d, want 11", s)
	}
}

func TestJournalTornTail(t *testing.T) {
	dir := t.TempDir()
	j, _, _ := openJournal(dir, fsyncAlways, 1<<20)
	for i := 0; i < 5; i++ {
		j.append(false, []byte(fmt.Sprintf("k%d", i)), bytes.Repeat([]byte("v"), 100))
	}
	j.sync(j.last(), true)
	j.close()
	segs, _ := filepath.Glob(filepath.Join(dir, "wal-*.log"))
	var seg string
	for _, s := range segs {
		if fi, _ := os.Stat(s); fi.Size() > 0 {
			seg = s
		}
	}
	data, _ := os.ReadFile(seg)
	// A torn last record: cut it in the middle.
	os.WriteFile(seg, data[:len(data)-50], 0o600)
	j2, rp, err := openJournal(dir, fsyncAlways, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	j2.close()
	if len(rp.recs) != 4 || rp.truncated == 0 {
		t.Fatalf("torn tail: %d records, %d bytes dropped", len(rp.recs), rp.truncated)
	}
	// A flipped byte in the last record: corrupt, dropped, prefix kept.
	data, _ = os.ReadFile(seg)
	data[len(data)-3] ^= 0xff
	os.WriteFile(seg, data, 0o600)
	_, rp, err = openJournal(dir, fsyncAlways, 1<<20)
	if err != nil || len(rp.recs) != 3 {
		t.Fatalf("corrupt tail: %d records, %v", len(rp.recs), err)
	}
}

func TestJournalFull(t *testing.T) {
	j, _, _ := openJournal(t.TempDir(), fsyncNo, 4096)
	defer j.close()
	var err error
	n := 0
	for ; err == nil; n++ {
		_, err = j.append(false, []byte("key"), bytes.Repeat([]byte("x"), 100))
	}
	if err != ErrJournalFull || n < 30 || n > 40 {
		t.Fatalf("after %d appends: %v", n, err)
	}
}

func FuzzJournalReader(f *testing.F) {
	var good []byte
	for i := 0; i < 3; i++ {
		good = appendRecord(good, jrec{seq: uint64(i + 1), del: i == 1, key: []byte("user:1"), val: []byte("payload")})
	}
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		var recs []jrec
		n, err := readRecords(data, func(r jrec) { recs = append(recs, r) })
		if n < 0 || n > len(data) {
			t.Fatalf("good prefix %d of %d", n, len(data))
		}
		if (err == nil) != (n == len(data)) {
			t.Fatalf("err %v with prefix %d of %d", err, n, len(data))
		}
		// The good prefix re-encodes to itself.
		var re []byte
		for _, r := range recs {
			re = appendRecord(re, r)
		}
		if !bytes.Equal(re, data[:n]) {
			t.Fatal("good prefix does not re-encode to itself")
		}
	})
}

func TestRouteMatch(t *testing.T) {
	rt, err := compileRoute(specRoute("user:{id}:post:{pid}"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"user:1:post:2": "[1 2]", "user:1:post:": "", "user::post:2": "", "user:1:post:2:x": "",
		"user:a:b:post:2": "", "usr:1:post:2": "",
	} {
		vals, ok := rt.match([]byte(key), nil)
		got := ""
		if ok {
			got = fmt.Sprintf("%s", vals)
		}
		if got != want {
			t.Errorf("match(%q) = %q, want %q", key, got, want)
		}
	}
	for _, bad := range []string{"user", "user:{id", "user:{}", "{a}{b}", "x:{key}", "x:{a}:{a}"} {
		if _, err := compileRoute(specRoute(bad)); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
}
