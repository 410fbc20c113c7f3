package cluster

import (
	"github.com/cachesrv/cachesrv/internal/store"
)

// Index is the per-slot key index: for each store shard, the entry ids of
// database 0 by slot. It follows the store through its hooks (chained in
// front of the existing ones) and is only built in cluster mode, so a
// standalone server pays nothing for it. Its per-shard maps are guarded by
// the shard's own lock: the hooks run under it, and the readers take it.
type Index struct {
	st     *store.Store
	inner  store.Hooks
	shards []slotMap
}

type slotMap struct {
	bySlot map[uint16]map[uint32]struct{}
	_      [40]byte // keep neighbouring shards' maps off one cache line
}

// NewIndex builds the index for st and installs it as st's hooks, chained
// in front of the hooks st has. Call it before the store holds keys.
func NewIndex(st *store.Store) *Index {
	x := &Index{st: st, inner: st.Hooks(), shards: make([]slotMap, st.NumShards())}
	for i := range x.shards {
		x.shards[i].bySlot = make(map[uint16]map[uint32]struct{})
	}
	st.SetHooks(x)
	return x
}

// TagState implements store.Hooks.
func (x *Index) TagState(db int, tags []byte, now int64) store.TagState {
	if x.inner == nil {
		return store.Fresh
	}
	return x.inner.TagState(db, tags, now)
}

// Changed implements store.Hooks: inserts into database 0 are indexed.
func (x *Index) Changed(sh int, id uint32, db int, key []byte, old, m *store.Meta) {
	if x.inner != nil {
		x.inner.Changed(sh, id, db, key, old, m)
	}
	if old != nil || db != 0 {
		return
	}
	slot := uint16(KeySlot(key))
	set := x.shards[sh].bySlot[slot]
	if set == nil {
		set = make(map[uint32]struct{})
		x.shards[sh].bySlot[slot] = set
	}
	set[id] = struct{}{}
}

// Removed implements store.Hooks.
func (x *Index) Removed(sh int, id uint32, db int, key []byte, m *store.Meta, r store.Reason) {
	if x.inner != nil {
		x.inner.Removed(sh, id, db, key, m, r)
	}
	if db != 0 {
		return
	}
	slot := uint16(KeySlot(key))
	set := x.shards[sh].bySlot[slot]
	if set == nil {
		return
	}
	delete(set, id)
	if len(set) == 0 {
		delete(x.shards[sh].bySlot, slot)
	}
}

// CountKeysInSlot returns the number of keys of database 0 in slot
// (CLUSTER COUNTKEYSINSLOT), expired keys not yet reclaimed included.
func (x *Index) CountKeysInSlot(slot int) int {
	n := 0
	for i := range x.shards {
		sh := x.st.Shard(i)
		sh.Lock()
		n += len(x.shards[i].bySlot[uint16(slot)])
		sh.Unlock()
	}
	return n
}

// KeysInSlot appends up to count keys of slot to dst (CLUSTER
// GETKEYSINSLOT); the keys are copies.
func (x *Index) KeysInSlot(slot, count int, dst [][]byte) [][]byte {
	for i := range x.shards {
		if count <= 0 {
			break
		}
		sh := x.st.Shard(i)
		sh.Lock()
		for id := range x.shards[i].bySlot[uint16(slot)] {
			if count <= 0 {
				break
			}
			if _, key, _, ok := sh.EntryLocked(id); ok {
				dst = append(dst, append([]byte(nil), key...))
				count--
			}
		}
		sh.Unlock()
	}
	return dst
}

// DeleteKeysInSlot removes every key of slot and returns how many it
// removed (a slot lost to another node's claim).
func (x *Index) DeleteKeysInSlot(slot int) int {
	n := 0
	var ids []uint32
	now := x.st.NowMs()
	for i := range x.shards {
		sh := x.st.Shard(i)
		sh.Lock()
		ids = ids[:0]
		for id := range x.shards[i].bySlot[uint16(slot)] {
			ids = append(ids, id)
		}
		for _, id := range ids {
			sh.RemoveIDLocked(id, store.Deleted, now)
			n++
		}
		sh.Unlock()
	}
	return n
}
