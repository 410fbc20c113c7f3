package store

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
)

func TestTxnSortBitmap(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 64, 4096} {
		st, _ := newTestStore(t, Options{Shards: n})
		tx := st.NewTxn(nil)
		for _, k := range []int{0, 1, 100, 10000} {
			idx := make([]int, k)
			for i := range idx {
				idx[i] = rand.IntN(n)
			}
			want := sortShards(slices.Clone(idx))
			if got := tx.sortBitmap(idx); !slices.Equal(got, want) {
				t.Fatalf("n=%d k=%d: %v want %v", n, k, got, want)
			}
		}
	}
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s did not panic", what)
		}
	}()
	f()
}

func TestTxnLocks(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, Options{Shards: 8})
	var events []int
	tx := st.NewTxn(func(i int, held bool) {
		if held {
			events = append(events, i)
		} else {
			events = append(events, -100-i)
		}
	})
	h := tx.Key(1, []byte("a"))
	if err := tx.Set(0, []byte("a"), h, []byte("v"), Meta{}); err != nil {
		t.Fatal(err)
	}
	// Another key's shard is not held: the store refuses to touch it.
	other := []byte("a")
	for i := 0; st.Hash(other)&st.mask == h&st.mask; i++ {
		other = []byte("k" + strconv.Itoa(i))
	}
	mustPanic(t, "an operation on a shard not held", func() { tx.Lookup(0, other, st.Hash(other), 0) })
	mustPanic(t, "Key while holding", func() { tx.Key(1, other) })
	tx.Release()
	tx.Release() // idempotent
	if len(events) != 2 || events[0] != int(h&st.mask) || events[1] != -100-int(h&st.mask) {
		t.Fatalf("track events %v", events)
	}

	// Keys: sorted, deduplicated, every key's shard held.
	keys := [][]byte{[]byte("z"), []byte("a"), []byte("q"), []byte("a")}
	tx.Keys(2, keys)
	if !slices.IsSorted(tx.set) || len(slices.Compact(slices.Clone(tx.set))) != len(tx.set) {
		t.Fatalf("shards %v", tx.set)
	}
	for _, k := range keys {
		if _, ok := tx.Lookup(0, k, tx.Hash(k), NoStats); ok != (string(k) == "a") {
			t.Fatalf("lookup %s: %v", k, ok)
		}
	}
	mustPanic(t, "FlushAll without All", func() { tx.FlushAll() })
	tx.Release()
	tx.Release()

	// Hold nests and makes Key/Release no-ops; Unhold releases at the end.
	tx.Hold(3)
	tx.Hold(3)
	if !tx.Held() {
		t.Fatal("Hold does not hold")
	}
	tx.Key(3, other)
	tx.Release()
	if _, ok := tx.Lookup(0, []byte("a"), st.Hash([]byte("a")), NoStats); !ok {
		t.Fatal("a lost")
	}
	tx.Unhold()
	if !tx.Held() {
		t.Fatal("inner Unhold released")
	}
	tx.Unhold()
	tx.Unhold() // without Hold: nothing
	// Every lock is free again: another Txn takes them all.
	done := make(chan struct{})
	go func() { st.NewTxn(nil).All(4); close(done) }()
	<-done
}

// TestTxnConcurrentKeys: Txns taking overlapping key sets in different
// orders never deadlock (the store sorts the shards).
func TestTxnConcurrentKeys(t *testing.T) {
	t.Parallel()
	st, _ := newTestStore(t, Options{Shards: 16})
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Go(func() {
			tx := st.NewTxn(nil)
			keys := make([][]byte, 8)
			for n := 0; n < 2000; n++ {
				for i := range keys {
					keys[i] = []byte("k" + strconv.Itoa(rand.IntN(64)))
				}
				tx.Keys(int64(n), keys)
				for _, k := range keys {
					tx.Set(0, k, tx.Hash(k), k, Meta{})
				}
				tx.Release()
			}
		})
	}
	wg.Wait()
}
