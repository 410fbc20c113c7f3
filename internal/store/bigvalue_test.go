package store

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func setKV(t *testing.T, st *Store, k, v []byte) {
	t.Helper()
	h := st.Hash(k)
	sh := st.ShardFor(h)
	sh.Lock()
	defer sh.Unlock()
	if err := sh.SetLocked(0, k, h, v, Meta{}, st.NowMs()); err != nil {
		t.Fatal(err)
	}
}

func getKV(st *Store, k []byte) ([]byte, bool) {
	h := st.Hash(k)
	sh := st.ShardFor(h)
	sh.Lock()
	defer sh.Unlock()
	e, ok := sh.LookupLocked(0, k, h, st.NowMs(), 0)
	return bytes.Clone(e.Value), ok
}

// fill makes a value whose bytes depend on the key and a version, so a
// value read back from a reused buffer that kept stale bytes shows.
func fill(b []byte, seed int) []byte {
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// Large values churned through a bounded store reuse the pool's buffers
// (most of the bytes written need no new memory) and every value reads
// back intact, whatever buffer it landed in.
func TestLargeValueChurnReusesBuffers(t *testing.T) {
	st, _ := newTestStore(t, Options{Shards: 16, MaxMemory: 32 << 20, Policy: "allkeys-lru"})
	r := rand.New(rand.NewPCG(1, 2))
	const keys = 2000
	version := make([]int, keys)
	var written uint64
	for i := range 6000 {
		n := int(math.Exp(r.Float64() * math.Log(1<<20)))
		k := r.IntN(keys)
		version[k] = i
		key := []byte("k" + strconv.Itoa(k))
		if _, err := st.EvictFor(0, int64(n)); err != nil {
			t.Fatal(err)
		}
		setKV(t, st, key, fill(make([]byte, n), i))
		written += uint64(n)
	}
	found := 0
	for k := range keys {
		key := []byte("k" + strconv.Itoa(k))
		v, ok := getKV(st, key)
		if !ok {
			continue
		}
		found++
		if !bytes.Equal(v, fill(make([]byte, len(v)), version[k])) {
			t.Fatalf("key %s: value of %d bytes does not match its last write", key, len(v))
		}
	}
	s := st.Buffers().Stats()
	t.Logf("%d keys held, %d MB written, pool %+v", found, written>>20, s)
	if found == 0 {
		t.Fatal("nothing held")
	}
	if s.NewBytes > written/2 {
		t.Errorf("%d of %d bytes written needed new memory, want under 1/2", s.NewBytes, written)
	}
}

// Overwriting a large value with one of the same size class rewrites its
// buffer in place, also when the new value is read from the old one.
func TestLargeValueOverwriteInPlace(t *testing.T) {
	st, _ := newTestStore(t, Options{Shards: 1})
	key := []byte("big")
	v := fill(make([]byte, 100_000), 1)
	setKV(t, st, key, v)
	before := st.Buffers().Stats()
	v2 := fill(make([]byte, 100_100), 2)
	setKV(t, st, key, v2)
	if got, _ := getKV(st, key); !bytes.Equal(got, v2) {
		t.Fatal("overwrite lost")
	}
	if s := st.Buffers().Stats(); s.Misses != before.Misses || s.Hits != before.Hits {
		t.Errorf("same-class overwrite went through the pool: %+v -> %+v", before, s)
	}
	// The new value aliases the stored one (shifted by one byte).
	h := st.Hash(key)
	sh := st.ShardFor(h)
	sh.Lock()
	e, _ := sh.LookupLocked(0, key, h, st.NowMs(), 0)
	want := bytes.Clone(e.Value[1:])
	if err := sh.SetLocked(0, key, h, e.Value[1:], Meta{}, st.NowMs()); err != nil {
		t.Fatal(err)
	}
	sh.Unlock()
	if got, _ := getKV(st, key); !bytes.Equal(got, want) {
		t.Fatal("overwrite from an alias of the old value corrupted it")
	}
}
