package persist

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cachesrv/cachesrv/internal/expire"
	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Unix(1_800_000_000, 0)

type world struct {
	st   *store.Store
	tags *tags.Index
	clk  *expire.FakeClock
}

func newWorld(t testing.TB, maxmemory int64, policy string) *world {
	t.Helper()
	clk := expire.NewFakeClock(epoch)
	st, err := store.New(store.Options{Shards: 4, Databases: 16, Clock: clk, MaxMemory: maxmemory, Policy: policy})
	if err != nil {
		t.Fatal(err)
	}
	return &world{st: st, clk: clk, tags: tags.New(st, tags.Options{MaxPerKey: 32, MaxLen: 256})}
}

func (w *world) set(t testing.TB, db int, key, val string, m store.Meta, tagNames ...string) {
	t.Helper()
	if len(tagNames) > 0 {
		var names [][]byte
		for _, n := range tagNames {
			names = append(names, []byte(n))
		}
		refs, err := w.tags.Resolve(db, names, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer w.tags.Release(refs)
		m.Tags = refs
	}
	h := w.st.Hash([]byte(key))
	sh := w.st.ShardFor(h)
	sh.Lock()
	defer sh.Unlock()
	if err := sh.SetLocked(db, []byte(key), h, []byte(val), m, w.st.NowMs()); err != nil {
		t.Fatal(err)
	}
}

// dump lists the store's entries with their metadata, tag names included.
func (w *world) dump(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	var pending []struct {
		id   string
		m    store.Meta
		refs []byte
		v    string
	}
	w.st.Walk(100, func(e *store.WalkEntry) {
		pending = append(pending, struct {
			id   string
			m    store.Meta
			refs []byte
			v    string
		}{fmt.Sprintf("%d/%s", e.DB, e.Key), e.Meta, bytes.Clone(e.Tags), string(e.Value)})
	}, func() error { return nil })
	for _, p := range pending {
		tg, deps := w.tags.Names(p.refs)
		out[p.id] = fmt.Sprintf("%s d=%d s=%d v=%d t=%d tags=%v deps=%v", p.v, p.m.Deadline, p.m.Soft, p.m.Version, p.m.Type, tg, deps)
	}
	return out
}

func newPersister(t testing.TB, w *world, dir string) *Persister {
	t.Helper()
	p, err := New(Options{Store: w.st, Tags: w.tags, Settings: Settings{Dir: dir, File: "dump.rdb"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func fill(t testing.TB, w *world) {
	now := epoch.UnixMilli()
	for i := range 300 {
		k := "key:" + strconv.Itoa(i)
		m := store.Meta{}
		switch i % 5 {
		case 1:
			m.Deadline = now + int64(i)*1000
		case 2:
			m.Version = uint64(i)
		case 3:
			m.Soft, m.Deadline = now+5000, now+60000
		}
		if i%7 == 0 {
			w.set(t, i%16, k, "v"+k, m, "user:"+strconv.Itoa(i%3), "all")
		} else {
			w.set(t, i%16, k, "v"+k, m)
		}
	}
	w.set(t, 0, "bin", "\x00\xff\r\n", store.Meta{})
	w.set(t, 0, "empty", "", store.Meta{})
}

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWorld(t, 0, "")
	fill(t, w)
	p := newPersister(t, w, dir)
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	want := w.dump(t)

	w2 := newWorld(t, 0, "")
	p2 := newPersister(t, w2, dir)
	ls, err := p2.LoadAtStart(false)
	if err != nil {
		t.Fatal(err)
	}
	if ls.Format != FormatSnapshot || ls.Keys != int64(len(want)) {
		t.Fatalf("load stats %+v, want %d keys", ls, len(want))
	}
	got := w2.dump(t)
	if len(got) != len(want) {
		t.Fatalf("loaded %d entries, saved %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: loaded %q, saved %q", k, got[k], v)
		}
	}
	// Tags work after the load: invalidating one drops its keys.
	if n := w2.tags.Invalidate(1, [][]byte{[]byte("user:1")}, false, 0, nil); n == 0 {
		t.Fatal("INVALIDATE after load found no keys")
	}
}

func TestDependenciesSurviveTheLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWorld(t, 0, "")
	dep := func(db int, key string, on ...string) {
		var refs []byte
		for _, d := range on {
			refs = w.tags.DependencyRef(db, []byte(d), refs)
		}
		defer w.tags.Release(refs)
		h := w.st.Hash([]byte(key))
		sh := w.st.ShardFor(h)
		sh.Lock()
		defer sh.Unlock()
		if err := sh.SetLocked(db, []byte(key), h, []byte("v"), store.Meta{Tags: refs}, w.st.NowMs()); err != nil {
			t.Fatal(err)
		}
	}
	// A chain a → b → c (a depends on b, b on c) plus d on a plain key,
	// written so that the walk may meet dependents first.
	w.set(t, 0, "c", "v", store.Meta{})
	w.set(t, 0, "plain", "v", store.Meta{})
	dep(0, "b", "c")
	dep(0, "a", "b")
	dep(0, "d", "plain")
	want := w.dump(t)
	if len(want) != 5 {
		t.Fatalf("setup: %v", want)
	}
	if err := newPersister(t, w, dir).Save(); err != nil {
		t.Fatal(err)
	}
	w2 := newWorld(t, 0, "")
	if _, err := newPersister(t, w2, dir).LoadAtStart(false); err != nil {
		t.Fatal(err)
	}
	got := w2.dump(t)
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: loaded %q, saved %q", k, got[k], v)
		}
	}
	// The dependencies are live: writing c invalidates b.
	w2.set(t, 0, "c", "new", store.Meta{})
	if _, ok := w2.dump(t)["0/b"]; ok {
		t.Fatal("b survived a write to c after the load")
	}
}

func TestLoadDropsExpiredAndCountsThem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWorld(t, 0, "")
	now := epoch.UnixMilli()
	w.set(t, 0, "short", "x", store.Meta{Deadline: now + 1000})
	w.set(t, 0, "long", "y", store.Meta{Deadline: now + 100000})
	if err := newPersister(t, w, dir).Save(); err != nil {
		t.Fatal(err)
	}
	w2 := newWorld(t, 0, "")
	w2.clk.Advance(10 * time.Second) // the restart took 10 s
	ls, err := newPersister(t, w2, dir).LoadAtStart(false)
	if err != nil {
		t.Fatal(err)
	}
	if ls.Keys != 1 || ls.Expired != 1 {
		t.Fatalf("stats %+v", ls)
	}
	got := w2.dump(t)
	if v := got["0/long"]; v == "" || !bytes.Contains([]byte(v), []byte("d="+strconv.FormatInt(now+100000, 10))) {
		t.Fatalf("long = %q: the deadline must be the original one", v)
	}
}

func TestEveryByteFlipAndTruncationDetected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWorld(t, 0, "")
	w.set(t, 0, "a", "1", store.Meta{Deadline: epoch.UnixMilli() + 5000})
	w.set(t, 3, "b", "hello", store.Meta{Version: 7}, "t1")
	if err := newPersister(t, w, dir).Save(); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "dump.rdb")
	try := func(p []byte) error {
		if err := os.WriteFile(bad, p, 0o600); err != nil {
			t.Fatal(err)
		}
		w2 := newWorld(t, 0, "")
		_, err := Load(bad, w2.st, w2.tags, nil, 0, nil)
		return err
	}
	for i := range good {
		for _, bit := range []byte{0x01, 0x10, 0x80} {
			p := bytes.Clone(good)
			p[i] ^= bit
			if err := try(p); err == nil {
				t.Fatalf("flip %#x at byte %d of %d not detected", bit, i, len(good))
			}
		}
	}
	for n := range len(good) {
		if err := try(good[:n]); err == nil {
			t.Fatalf("truncation to %d bytes not detected", n)
		}
	}
	if err := try(good); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptFileRefusedOrStartEmpty(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWorld(t, 0, "")
	fill(t, w)
	if err := newPersister(t, w, dir).Save(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dump.rdb")
	p, _ := os.ReadFile(path)
	p[len(p)/2] ^= 0x40
	os.WriteFile(path, p, 0o600)

	w2 := newWorld(t, 0, "")
	_, err := newPersister(t, w2, dir).LoadAtStart(false)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt file: err %v", err)
	}
	if n := len(w2.dump(t)); n != 0 {
		t.Fatalf("%d keys left after a refused load", n)
	}
	w3 := newWorld(t, 0, "")
	if _, err := newPersister(t, w3, dir).LoadAtStart(true); err != nil {
		t.Fatalf("start-empty: %v", err)
	}
	if n := len(w3.dump(t)); n != 0 {
		t.Fatalf("start-empty kept %d keys of a corrupt file", n)
	}
}

func TestFailedSaveKeepsPreviousSnapshot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWorld(t, 0, "")
	w.set(t, 0, "old", "1", store.Meta{})
	p := newPersister(t, w, dir)
	if err := p.Save(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	fill(t, w)
	for _, limit := range []int64{1, 100, 2000} {
		p.failAfter = limit // disk full after limit bytes
		if err := p.Save(); err == nil || !errors.Is(err, os.ErrNotExist) && !bytes.Contains([]byte(err.Error()), []byte("no space")) {
			t.Fatalf("limit %d: save error %v, want disk full", limit, err)
		}
		after, _ := os.ReadFile(filepath.Join(dir, "dump.rdb"))
		if !bytes.Equal(before, after) {
			t.Fatal("failed save changed the previous snapshot")
		}
		if s := p.Stats(); s.LastSaveOK || s.SavesFailed == 0 {
			t.Fatalf("stats after failure %+v", s)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	p.failAfter = 0
	if err := p.Save(); err != nil || !p.Stats().LastSaveOK {
		t.Fatalf("save after recovery: %v", err)
	}
}

func TestBGSaveAndSchedule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWorld(t, 0, "")
	fill(t, w)
	var changes uint64
	p, err := New(Options{Store: w.st, Tags: w.tags, Changes: func() uint64 { return changes },
		Settings: Settings{Dir: dir, File: "s.snap", Schedule: []SavePoint{{After: 60 * time.Second, Changes: 10}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	now := time.Now()
	if p.Tick(now.Add(120 * time.Second)) {
		t.Fatal("saved without changes")
	}
	changes = 10
	if p.Tick(now.Add(30 * time.Second)) {
		t.Fatal("saved before the interval")
	}
	if p.Stats().ChangesSinceSave != 10 {
		t.Fatalf("changes %d", p.Stats().ChangesSinceSave)
	}
	if !p.Tick(now.Add(61 * time.Second)) {
		t.Fatal("save point reached but no save")
	}
	// While it runs, BGSAVE fails and BGSAVE SCHEDULE queues.
	msg, err := p.BGSave(true)
	if err != nil || (msg != "Background saving scheduled" && msg != "Background saving started") {
		t.Fatalf("BGSAVE SCHEDULE: %q %v", msg, err)
	}
	p.wg.Wait()
	p.Tick(time.Now()) // runs a scheduled save, if one was queued
	p.wg.Wait()
	s := p.Stats()
	if s.SavesOK < 1 || s.ChangesSinceSave != 0 || s.InProgress {
		t.Fatalf("stats %+v", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "s.snap")); err != nil {
		t.Fatal(err)
	}
}

func TestLoadHottestPartOverMaxmemory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// The source runs allkeys-lfu: with main's store-wide W-TinyLFU, Freq
	// (OBJECT FREQ too) read 0 for keys read 10 times in this setup, so
	// the hints are taken from the policy whose counters are exact.
	w := newWorld(t, 64<<20, "allkeys-lfu")
	val := string(bytes.Repeat([]byte("v"), 200))
	for i := range 4200 {
		w.set(t, 0, "k"+strconv.Itoa(i), val, store.Meta{})
	}
	// A warm cache has been at maxmemory: evicting once sizes the policy
	// (its frequency sketch exists from then on).
	w.st.SetMaxMemory(w.st.UsedMemory() / 2)
	if _, err := w.st.Evict(0); err != nil {
		t.Fatal(err)
	}
	exists := func(w *world, k []byte) bool {
		h := w.st.Hash(k)
		sh := w.st.ShardFor(h)
		sh.Lock()
		defer sh.Unlock()
		return sh.ExistsLocked(0, k, h, w.st.NowMs())
	}
	// Make 200 of the surviving keys hot.
	var hotKeys [][]byte
	for i := 0; len(hotKeys) < 200; i++ {
		if k := []byte("k" + strconv.Itoa(i)); exists(w, k) {
			hotKeys = append(hotKeys, k)
		}
	}
	for range 10 {
		for _, k := range hotKeys {
			h := w.st.Hash(k)
			sh := w.st.ShardFor(h)
			sh.Lock()
			sh.LookupLocked(0, k, h, w.st.NowMs(), 0)
			sh.Unlock()
		}
	}
	if err := newPersister(t, w, dir).Save(); err != nil {
		t.Fatal(err)
	}
	saved := w.st.DBSize(0)
	full := w.st.UsedMemory()
	w2 := newWorld(t, full/4, "allkeys-wtinylfu")
	ls, err := newPersister(t, w2, dir).LoadAtStart(false)
	if err != nil {
		t.Fatal(err)
	}
	if ls.Skipped == 0 || w2.st.UsedMemory() > full/4+full/20 {
		t.Fatalf("over maxmemory: stats %+v used %d max %d", ls, w2.st.UsedMemory(), full/4)
	}
	hot := 0
	for _, k := range hotKeys {
		if exists(w2, k) {
			hot++
		}
	}
	kept := w2.st.DBSize(0)
	// The hot keys survive far more often than the average key.
	if float64(hot)/200 <= 1.5*float64(kept)/float64(saved) {
		t.Fatalf("kept %d of 200 hot keys and %d of %d overall", hot, kept, saved)
	}
	t.Logf("kept %d/200 hot keys, %d/%d overall, skipped %d", hot, kept, saved, ls.Skipped)
}

func FuzzSnapshotReader(f *testing.F) {
	var buf bytes.Buffer
	sw, _ := NewSnapshotWriter(&buf, 1)
	sw.Write(&Record{DB: 2, Key: []byte("k"), Value: []byte("v"), Deadline: 5, Soft: 3, Version: 9, Freq: 4, Tags: []string{"a"}, Deps: []string{"d"}})
	sw.Write(&Record{Key: []byte("x"), Freq: -1})
	sw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, p []byte) {
		sr, err := NewSnapshotReader(bytes.NewReader(p), 1<<20)
		if err != nil {
			return
		}
		var rec Record
		for range 1000 {
			if err := sr.Next(&rec); err != nil {
				return
			}
		}
	})
}
