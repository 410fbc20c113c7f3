package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/expire"
)

func newTestStore(t testing.TB, o Options) (*Store, *expire.FakeClock) {
	t.Helper()
	clk := expire.NewFakeClock(time.Unix(1_700_000_000, 0))
	if o.Clock == nil {
		o.Clock = clk
	}
	if o.Shards == 0 {
		o.Shards = 4
	}
	st, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return st, clk
}

func set(t testing.TB, st *Store, db int, key, val string, deadline int64) {
	t.Helper()
	k := []byte(key)
	h := st.Hash(k)
	sh := st.ShardFor(h)
	sh.Lock()
	defer sh.Unlock()
	if err := sh.SetLocked(db, k, h, []byte(val), Meta{Deadline: deadline}, st.NowMs()); err != nil {
		t.Fatal(err)
	}
}

func get(st *Store, db int, key string) (string, bool) {
	k := []byte(key)
	h := st.Hash(k)
	sh := st.ShardFor(h)
	sh.Lock()
	defer sh.Unlock()
	e, ok := sh.LookupLocked(db, k, h, st.NowMs(), 0)
	return string(e.Value), ok
}

func del(st *Store, db int, key string) bool {
	k := []byte(key)
	h := st.Hash(k)
	sh := st.ShardFor(h)
	sh.Lock()
	defer sh.Unlock()
	return sh.DeleteLocked(db, k, h, st.NowMs(), Deleted)
}

func TestNewValidates(t *testing.T) {
	for _, o := range []Options{{Shards: 3}, {Databases: -1}, {Policy: "nope"}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted bad options", o)
		}
	}
}

func TestSetGetDelete(t *testing.T) {
	st, _ := newTestStore(t, Options{})
	set(t, st, 0, "a", "1", 0)
	set(t, st, 1, "a", "other db", 0)
	if v, ok := get(st, 0, "a"); !ok || v != "1" {
		t.Fatalf("get a = %q %v", v, ok)
	}
	if v, _ := get(st, 1, "a"); v != "other db" {
		t.Fatalf("db 1: %q", v)
	}
	set(t, st, 0, "a", string(bytes.Repeat([]byte("x"), 5000)), 0) // moves to a big record
	if v, _ := get(st, 0, "a"); len(v) != 5000 {
		t.Fatalf("big overwrite: %d", len(v))
	}
	set(t, st, 0, "a", "small again", 0)
	if v, _ := get(st, 0, "a"); v != "small again" {
		t.Fatal(v)
	}
	if !del(st, 0, "a") || del(st, 0, "a") {
		t.Fatal("delete")
	}
	if _, ok := get(st, 0, "a"); ok {
		t.Fatal("deleted key visible")
	}
	if st.DBSize(0) != 0 || st.DBSize(1) != 1 {
		t.Fatal("dbsize")
	}
}

func TestLazyExpiryBoundary(t *testing.T) {
	st, clk := newTestStore(t, Options{})
	now := st.NowMs()
	set(t, st, 0, "k", "v", now+10)
	clk.Advance(9 * time.Millisecond)
	if _, ok := get(st, 0, "k"); !ok {
		t.Fatal("expired 1 ms early")
	}
	clk.Advance(time.Millisecond) // deadline == now: expired
	if _, ok := get(st, 0, "k"); ok {
		t.Fatal("visible at its deadline")
	}
	s := st.Stats()
	if s.RemovedBy(Expired) != 1 || s.Keys[0] != 0 || s.Expires[0] != 0 {
		t.Fatalf("stats after lazy expiry: %+v", s)
	}
}

func TestActiveExpiry(t *testing.T) {
	st, clk := newTestStore(t, Options{})
	now := st.NowMs()
	for i := 0; i < 1000; i++ {
		set(t, st, 0, strconv.Itoa(i), "v", now+int64(i%10)+1)
	}
	clk.Advance(20 * time.Millisecond)
	total := 0
	for i := 0; i < st.NumShards(); i++ {
		for {
			n, more := st.ExpireShard(i, st.NowMs(), 100)
			total += n
			if !more {
				break
			}
		}
	}
	if total != 1000 || st.DBSize(0) != 0 {
		t.Fatalf("swept %d, dbsize %d", total, st.DBSize(0))
	}
}

// TestModel replays random operations against the store and a plain map.
func TestModel(t *testing.T) {
	st, clk := newTestStore(t, Options{Databases: 3, Shards: 2})
	type entry struct {
		val      string
		deadline int64
	}
	model := make([]map[string]entry, 3)
	for i := range model {
		model[i] = map[string]entry{}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	live := func(db int, k string) (entry, bool) {
		e, ok := model[db][k]
		if ok && e.deadline != 0 && e.deadline <= st.NowMs() {
			delete(model[db], k)
			return entry{}, false
		}
		return e, ok
	}
	for op := 0; op < 200000; op++ {
		db := rng.IntN(3)
		k := "k" + strconv.Itoa(rng.IntN(500))
		switch r := rng.IntN(100); {
		case r < 40:
			n := rng.IntN(50)
			if rng.IntN(20) == 0 {
				n = 1000 + rng.IntN(3000)
			}
			v := string(bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, n))
			var d int64
			if rng.IntN(4) == 0 {
				d = st.NowMs() + int64(rng.IntN(50)+1)
			}
			set(t, st, db, k, v, d)
			model[db][k] = entry{v, d}
		case r < 75:
			got, ok := get(st, db, k)
			e, want := live(db, k)
			if ok != want || got != e.val {
				t.Fatalf("op %d: get %s in db %d = %q,%v; model %q,%v", op, k, db, got, ok, e.val, want)
			}
		case r < 90:
			_, want := live(db, k)
			if got := del(st, db, k); got != want {
				t.Fatalf("op %d: del %s = %v, model %v", op, k, got, want)
			}
			delete(model[db], k)
		case r < 95:
			clk.Advance(time.Duration(rng.IntN(5)) * time.Millisecond)
		case r < 97:
			for i := 0; i < st.NumShards(); i++ {
				st.ExpireShard(i, st.NowMs(), 10)
			}
		case r < 98:
			a, b := rng.IntN(3), rng.IntN(3)
			st.LockAll()
			st.SwapDBLocked(a, b)
			st.UnlockAll()
			model[a], model[b] = model[b], model[a]
		default:
			// full check, including SCAN and DBSIZE convergence
			for db := range model {
				seen := map[string]bool{}
				cur := uint64(0)
				for {
					cur = st.Scan(db, cur, 37, func(key []byte, _ uint8) {
						if seen[string(key)] {
							t.Fatalf("scan returned %s twice", key)
						}
						seen[string(key)] = true
					})
					if cur == 0 {
						break
					}
				}
				for k := range model[db] {
					if _, ok := live(db, k); ok && !seen[k] {
						t.Fatalf("op %d: scan of db %d missed %s", op, db, k)
					}
				}
				for k := range seen {
					if _, ok := live(db, k); !ok {
						t.Fatalf("op %d: scan of db %d returned dead %s", op, db, k)
					}
				}
				if n := st.DBSize(db); n != int64(len(seen)) {
					t.Fatalf("op %d: dbsize %d, scan saw %d", op, n, len(seen))
				}
			}
		}
	}
	// All memory comes back after a flush.
	st.LockAll()
	st.FlushAllLocked()
	st.UnlockAll()
	s := st.Stats()
	for db := range s.Keys {
		if s.Keys[db] != 0 || s.Expires[db] != 0 {
			t.Fatalf("after flush: %+v", s)
		}
	}
}

func TestMemoryAccounting(t *testing.T) {
	st, _ := newTestStore(t, Options{Shards: 1})
	base := st.UsedMemory()
	for i := 0; i < 10000; i++ {
		set(t, st, 0, fmt.Sprintf("key:%08d", i), "0123456789abcdef0123456789abcdef", 0)
	}
	used := st.UsedMemory() - base
	per := float64(used) / 10000
	if per < 60 || per > 120 {
		t.Fatalf("accounted %.1f bytes per 12-byte key + 32-byte value entry; want 60..120", per)
	}
	for i := 0; i < 10000; i++ {
		del(st, 0, fmt.Sprintf("key:%08d", i))
	}
	// Records are all released; the tables keep their capacity (a cache
	// refills), which stays accounted.
	sh := st.Shard(0)
	sh.Lock()
	if sh.entryBytes != 0 {
		t.Fatalf("after deleting everything %d record bytes still accounted", sh.entryBytes)
	}
	// The store-wide counter follows within its slack.
	sh.publishLocked()
	sh.Unlock()
	if st.used.Load() != st.UsedMemory() {
		t.Fatalf("published %d, exact %d", st.used.Load(), st.UsedMemory())
	}
}

func TestTooLarge(t *testing.T) {
	st, _ := newTestStore(t, Options{MaxMemory: 1 << 20})
	k := []byte("k")
	h := st.Hash(k)
	sh := st.ShardFor(h)
	sh.Lock()
	err := sh.SetLocked(0, k, h, make([]byte, 2<<20), Meta{}, st.NowMs())
	sh.Unlock()
	if err != ErrTooLarge {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestEvictKeepsBound(t *testing.T) {
	const max = 4 << 20
	for _, policy := range []string{"allkeys-lru", "allkeys-lfu", "allkeys-random", "allkeys-wtinylfu"} {
		t.Run(policy, func(t *testing.T) {
			st, _ := newTestStore(t, Options{MaxMemory: max, Policy: policy})
			val := string(make([]byte, 200))
			for i := 0; i < 100000; i++ {
				if st.OverLimit() {
					if _, err := st.Evict(i); err != nil {
						t.Fatalf("evict: %v", err)
					}
				}
				set(t, st, 0, strconv.Itoa(i), val, 0)
			}
			if used := st.UsedMemory(); used > max+max/10 {
				t.Fatalf("used %d, bound %d", used, max)
			}
			s := st.Stats()
			if s.RemovedBy(Evicted) == 0 || s.Keys[0] == 0 {
				t.Fatalf("stats: %+v", s)
			}
		})
	}
}

func TestNoEvictionOOM(t *testing.T) {
	st, _ := newTestStore(t, Options{MaxMemory: 1 << 20, Policy: "noeviction"})
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		if st.OverLimit() {
			_, err = st.Evict(0)
			continue
		}
		set(t, st, 0, strconv.Itoa(i), "0123456789012345678901234567890123456789", 0)
	}
	if err != ErrOOM {
		t.Fatalf("got %v, want ErrOOM", err)
	}
}

func TestVolatileEvictsOnlyTTLKeys(t *testing.T) {
	st, _ := newTestStore(t, Options{MaxMemory: 2 << 20, Policy: "volatile-lru"})
	now := st.NowMs()
	val := string(make([]byte, 100))
	for i := 0; i < 3000; i++ {
		set(t, st, 0, "p"+strconv.Itoa(i), val, 0)
	}
	for i := 0; i < 100000; i++ {
		if st.OverLimit() {
			if _, err := st.Evict(i); err != nil {
				break
			}
		}
		set(t, st, 0, "v"+strconv.Itoa(i), val, now+1e9)
	}
	for i := 0; i < 3000; i++ {
		if _, ok := get(st, 0, "p"+strconv.Itoa(i)); !ok {
			t.Fatalf("volatile-lru evicted persistent key p%d", i)
		}
	}
}

func TestGetSetAllocateNothing(t *testing.T) {
	st, _ := newTestStore(t, Options{})
	k, v := []byte("key:000001"), []byte("value-value-value-value-value-32")
	set(t, st, 0, string(k), string(v), 0)
	h := st.Hash(k)
	sh := st.ShardFor(h)
	now := st.NowMs()
	if n := testing.AllocsPerRun(1000, func() {
		sh.Lock()
		sh.LookupLocked(0, k, st.Hash(k), now, 0)
		sh.Unlock()
	}); n != 0 {
		t.Errorf("GET allocates %.1f times", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		sh.Lock()
		sh.SetLocked(0, k, st.Hash(k), v, Meta{}, now)
		sh.Unlock()
	}); n != 0 {
		t.Errorf("SET of an existing key allocates %.1f times", n)
	}
}

func BenchmarkGet(b *testing.B) {
	st, _ := newTestStore(b, Options{Shards: 64})
	keys := make([][]byte, 100000)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%010d", i))
		set(b, st, 0, string(keys[i]), "value-value-value-value-value-32", 0)
	}
	now := st.NowMs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		h := st.Hash(k)
		sh := st.ShardFor(h)
		sh.Lock()
		sh.LookupLocked(0, k, h, now, 0)
		sh.Unlock()
	}
}

func BenchmarkSet(b *testing.B) {
	st, _ := newTestStore(b, Options{Shards: 64})
	keys := make([][]byte, 100000)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%010d", i))
	}
	v := []byte("value-value-value-value-value-32")
	now := st.NowMs()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		h := st.Hash(k)
		sh := st.ShardFor(h)
		sh.Lock()
		sh.SetLocked(0, k, h, v, Meta{}, now)
		sh.Unlock()
	}
}

// BenchmarkGetLarge measures GET with ten million keys loaded (-bench
// GetLarge; skipped with -short). The GC-quiet layout should keep it close
// to BenchmarkGet.
func BenchmarkGetLarge(b *testing.B) {
	if testing.Short() {
		b.Skip("loads 10M keys")
	}
	st, _ := newTestStore(b, Options{Shards: 64})
	const n = 10_000_000
	key := make([]byte, 0, 16)
	v := []byte("value-value-value-value-value-32")
	now := st.NowMs()
	for i := 0; i < n; i++ {
		key = strconv.AppendInt(key[:0], int64(i), 10)
		h := st.Hash(key)
		sh := st.ShardFor(h)
		sh.Lock()
		sh.SetLocked(0, key, h, v, Meta{}, now)
		sh.Unlock()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key = strconv.AppendInt(key[:0], int64(i*7919%n), 10)
		h := st.Hash(key)
		sh := st.ShardFor(h)
		sh.Lock()
		sh.LookupLocked(0, key, h, now, 0)
		sh.Unlock()
	}
}

func TestSlabPagesGrowGeometrically(t *testing.T) {
	for _, size := range classSizes {
		c := newSlabClass(size)
		seen := map[[2]int]bool{}
		for idx := 0; idx < 5*c.perPage+c.geoTotal; idx++ {
			p, o := c.locate(idx)
			if o < 0 || o >= c.pageCap(p) || seen[[2]int{p, o}] {
				t.Fatalf("size %d: idx %d -> page %d slot %d (cap %d)", size, idx, p, o, c.pageCap(p))
			}
			seen[[2]int{p, o}] = true
		}
		if first := c.pageCap(0) * size; first > 1024 && size <= 512 {
			t.Fatalf("size %d: first page %d bytes", size, first)
		}
	}
}
