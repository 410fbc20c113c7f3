package store

import (
	"runtime"
	"strconv"
	"testing"
)

func heapAlloc() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestUsedMemoryMatchesHeapGrowth: what used_memory charges for a loaded
// store is what the Go heap really grew by, up to the slab slack (see
// below), at small and large values and at 1 and 64 shards. (Not parallel:
// it reads the whole heap.)
func TestUsedMemoryMatchesHeapGrowth(t *testing.T) {
	for _, tc := range []struct {
		shards, keys, val int
	}{
		{64, 20_000, 100},
		{1, 20_000, 100},
		{64, 5_000, 4000},
		{64, 50_000, 30},
	} {
		t.Run(strconv.Itoa(tc.shards)+"x"+strconv.Itoa(tc.keys)+"x"+strconv.Itoa(tc.val), func(t *testing.T) {
			val := make([]byte, tc.val)
			keys := make([][]byte, tc.keys)
			for i := range keys {
				keys[i] = []byte("key:" + strconv.Itoa(1_000_000_000+i))
			}
			h0 := heapAlloc()
			st, _ := newTestStore(t, Options{Shards: tc.shards, MaxMemory: 0})
			u0 := st.UsedMemory()
			for _, k := range keys {
				h := st.Hash(k)
				sh := st.ShardFor(h)
				sh.Lock()
				if err := sh.SetLocked(0, k, h, val, Meta{}, st.NowMs()); err != nil {
					t.Fatal(err)
				}
				sh.Unlock()
			}
			st.nextVictim() // drain the rings, size the policy
			used := st.UsedMemory()
			grew := heapAlloc() - h0
			runtime.KeepAlive(st)
			runtime.KeepAlive(keys) // else they die during the loads and offset the growth
			t.Logf("used_memory %d (%.0f B/key, %d at start), heap grew %d (%.0f B/key): ratio %.3f",
				used, float64(used)/float64(tc.keys), u0, grew, float64(grew)/float64(tc.keys), float64(used)/float64(grew))
			// Records are charged their slab slots, not the free end of
			// each shard's newest page (at most one page per size class
			// in use per shard), as Redis's used_memory does not count
			// the allocator's slab slack: a freed slot is room for the
			// next record, so eviction must see it as freed.
			if r := float64(used) / float64(grew); r > 1.1 {
				t.Errorf("used_memory %d vs heap growth %d: ratio %.3f, overcharged by more than 10%%", used, grew, r)
			}
			if limit := used + used/20 + int64(tc.shards)*pageSize; grew > limit {
				t.Errorf("heap grew %d, more than used_memory %d + 5%% + one slab page per shard", grew, used)
			}
		})
	}
}
