package main

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/evict"
	"github.com/cachesrv/cachesrv/internal/expire"
	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tracefile"
)

// storePrefix names a column that runs the real store instead of a bare
// policy: "store" (the default policy) or "store:<policy>".
const storePrefix = "store"

// storeOpts shape the store columns (-store-shards, -store-value).
type storeOpts struct{ shards, value int }

// storeOptions holds the storeOpts in force; run replaces them whole, so
// simulations running meanwhile (tests in parallel) read a consistent set.
var storeOptions atomic.Pointer[storeOpts]

func init() { storeOptions.Store(&storeOpts{shards: 64, value: 100}) }

// isStore reports whether the column name asks for the store, and with
// which policy.
func isStore(name string) (policy string, ok bool) {
	if name == storePrefix {
		return evict.Default, true
	}
	if p, found := strings.CutPrefix(name, storePrefix+":"); found {
		return p, true
	}
	return "", false
}

// simulateStore replays t through the sharded store, with its memory
// accounting, as cache-aside traffic: a hit is a lookup that finds the key;
// a miss evicts when the store is over its bound (as the server does before
// a write) and SETs the key with a value of storeOptions.value bytes. The
// store's maxmemory is what it uses when holding size such entries
// (measured by filling a store, then corrected by what a store at that
// budget keeps), so the column compares with the policy columns at about
// the same number of entries; the number it really
// held is reported through held. The clock runs at 1,000 requests per
// second, as for the policies.
func simulateStore(t *tracefile.Trace, policy string, size int) (ratio float64, held int64, err error) {
	so := storeOptions.Load()
	val := make([]byte, so.value)
	key := func(k int32) []byte { return strconv.AppendInt([]byte("key:"), int64(k), 10) }
	clk := expire.NewFakeClock(time.UnixMilli(1_700_000_000_000))
	o := store.Options{Shards: so.shards, Policy: policy, Clock: clk, Databases: 1}
	// Budget: what size entries use, corrected once by the entries a
	// store at that budget really keeps under a stream of new keys (the
	// policy's own tables grow once it evicts).
	probe, err := store.New(o)
	if err != nil {
		return 0, 0, err
	}
	empty := probe.UsedMemory()
	ptx := probe.NewTxn(nil)
	for i := range size {
		if err := set(probe, ptx, key(int32(-1-i)), val); err != nil {
			return 0, 0, err
		}
	}
	perEntry := max(1, (probe.UsedMemory()-empty)/int64(max(size, 1)))
	o.MaxMemory = probe.UsedMemory()
	probe, err = store.New(o)
	if err != nil {
		return 0, 0, err
	}
	ptx = probe.NewTxn(nil)
	for i := range 3 * size {
		if probe.OverLimit() {
			if _, err := probe.Evict(0); err != nil {
				return 0, 0, fmt.Errorf("store: %w", err)
			}
		}
		if err := set(probe, ptx, key(int32(-1-i)), val); err != nil {
			return 0, 0, err
		}
	}
	o.MaxMemory += (int64(size) - probe.DBSize(0)) * perEntry
	st, err := store.New(o)
	if err != nil {
		return 0, 0, err
	}
	hits := 0
	var heldSum float64
	samples := 0
	every := max(len(t.Reqs)/100, 1)
	tx := st.NewTxn(nil)
	for i, k := range t.Reqs {
		clk.Set(time.UnixMilli(1_700_000_000_000 + int64(i)*1000/requestsPerSecond))
		kb := key(k)
		h := tx.Key(st.NowMs(), kb)
		_, ok := tx.Lookup(0, kb, h, 0)
		tx.Release()
		if ok {
			hits++
		} else {
			if st.OverLimit() {
				if _, err := st.Evict(0); err != nil {
					return 0, 0, fmt.Errorf("store: %w", err)
				}
			}
			if err := set(st, tx, kb, val); err != nil {
				return 0, 0, err
			}
		}
		if i%every == 0 && i >= len(t.Reqs)/2 {
			heldSum += float64(st.DBSize(0))
			samples++
		}
	}
	if samples > 0 {
		held = int64(heldSum / float64(samples))
	}
	if len(t.Reqs) == 0 {
		return 0, held, nil
	}
	return 100 * float64(hits) / float64(len(t.Reqs)), held, nil
}

func set(st *store.Store, tx *store.Txn, k, val []byte) error {
	h := tx.Key(st.NowMs(), k)
	defer tx.Release()
	return tx.Set(0, k, h, val, store.Meta{})
}
