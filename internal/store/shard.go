package store

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cachesrv/cachesrv/internal/evict"
	"github.com/cachesrv/cachesrv/internal/expire"
)

// Reason says why an entry left the keyspace.
type Reason uint8

// Removal reasons, counted per shard.
const (
	Deleted Reason = iota
	Expired
	Evicted
	Invalidated
	numReasons
)

// String returns the reason's metric label.
func (r Reason) String() string {
	switch r {
	case Deleted:
		return "deleted"
	case Expired:
		return "expired"
	case Evicted:
		return "evicted"
	case Invalidated:
		return "invalidated"
	}
	return "unknown"
}

// Lookup flags.
const (
	// NoTouch leaves the eviction policy's view of the entry unchanged
	// (CLIENT NO-TOUCH, TTL, TYPE, OBJECT).
	NoTouch = 1 << iota
	// NoStats does not count a keyspace hit or miss.
	NoStats
	// AllowStale returns stale entries (past their soft deadline or softly
	// invalidated) instead of treating them as misses.
	AllowStale
)

// Errors returned by writes.
var (
	// ErrTooLarge is returned for an entry larger than the whole memory
	// budget: it could never be stored.
	ErrTooLarge = errors.New("value is larger than maxmemory")
	// ErrKeyTooLarge is returned for keys or values beyond the record
	// format's 4 GiB field limit.
	ErrKeyTooLarge = errors.New("key or value too large")
	// ErrTooManyTags is returned for an entry with more than MaxTags tags.
	ErrTooManyTags = errors.New("too many tags")
)

// Entry is a view of a stored entry. Value aliases the store's memory and is
// valid only while the shard lock is held.
type Entry struct {
	Value []byte
	Meta
	Stale bool // past its soft deadline or softly invalidated (AllowStale reads only)
}

// Watch is a WATCH registration: the store sets Dirty when a watched key is
// modified, deleted, expired or evicted.
type Watch struct {
	Dirty atomic.Bool
}

// ShardStats are the counters of one shard, read under its lock.
type ShardStats struct {
	Keys     []int64 // live entries per logical database
	Expires  []int64 // entries with a TTL per logical database
	TTLSum   []int64 // sum of (deadline - shard base time) of those entries
	Hits     []uint64
	Misses   []uint64
	Removed  [numReasons]uint64
	Inserted uint64
}

// Shard is one partition of the keyspace. All methods ending in Locked need
// the shard's lock held (Lock/Unlock).
type Shard struct {
	mu  sync.Mutex
	st  *Store
	idx int

	ht    []uint64 // frag<<32 | id+1; 0 = empty
	mask  uint32
	count int

	refs    []ref
	freeIDs []uint32
	slabs   slabs

	rings rings // events for the store's eviction policy (see storePolicy)
	// polEpoch is the policy's epoch (the origin of read time stamps), a
	// copy kept here so recording a read touches only the shard.
	polEpoch int64
	exp      *expire.Index // nil until the shard's first TTL: an index costs ~3.7 KB
	// fieldExp schedules hashes with field deadlines (collection.go); nil
	// until the first HEXPIRE in the shard.
	fieldExp *expire.Index
	reapFn   func(id uint32, deadline int64)

	entryBytes int64
	overhead   int64        // tables' memory as of the last publish
	pending    int64        // entry bytes not yet added to Store.used
	used       atomic.Int64 // entryBytes + overhead, for readers
	overheadA  atomic.Int64 // overhead, for readers (Evict sizes the policy)
	reported   int64        // part of used already added to Store.used

	stats    ShardStats
	nowMs    int64 // time of the last operation: the eviction policy's clock
	expireFn func(id uint32, deadline int64)
	base     int64 // time origin of TTLSum
	tagBuf   []byte
	watch    map[string][]*Watch

	_ [64]byte // keep neighbouring shards' locks off this cache line
}

// Lock takes the shard's lock.
func (sh *Shard) Lock() { sh.mu.Lock() }

// Unlock releases the shard's lock, then lets the eviction policy catch up
// with the shards' events when it is due (see storePolicy).
func (sh *Shard) Unlock() {
	st := sh.st // read under the lock: a flush's reset rewrites sh.st
	sh.mu.Unlock()
	st.maintain()
}

// Index returns the shard's position in the store.
func (sh *Shard) Index() int { return sh.idx }

const initialSlots = 64

func (sh *Shard) init(st *Store, idx int, now int64) {
	sh.st = st
	sh.idx = idx
	sh.ht = make([]uint64, initialSlots)
	sh.mask = initialSlots - 1
	sh.count = 0
	sh.refs = nil
	sh.freeIDs = nil
	sh.slabs = newSlabs(st.bufs)
	sh.nowMs = now
	sh.polEpoch = st.pol.epoch
	sh.exp = nil
	sh.fieldExp = nil
	sh.entryBytes = 0
	n := st.opts.Databases
	sh.stats.Keys = make([]int64, n)
	sh.stats.Expires = make([]int64, n)
	sh.stats.TTLSum = make([]int64, n)
	sh.base = now
	if sh.stats.Hits == nil {
		sh.stats.Hits = make([]uint64, n)
		sh.stats.Misses = make([]uint64, n)
	}
	sh.publishLocked()
}

func (sh *Shard) overheadLocked() int64 {
	return int64(cap(sh.ht))*8 + int64(cap(sh.refs))*4 + int64(cap(sh.freeIDs))*4 +
		sh.slabs.overhead() + ringBytes + sh.expBytes() + sh.fieldExpBytes() + 1024
}

// publishLocked recomputes the shard's overhead and adds the change of its
// total to the store-wide counter.
func (sh *Shard) publishLocked() {
	sh.overhead = sh.overheadLocked()
	sh.overheadA.Store(sh.overhead)
	u := sh.entryBytes + sh.overhead
	sh.used.Store(u)
	sh.st.used.Add(u - sh.reported)
	sh.reported = u
	sh.pending = 0
}

// charge adjusts the record bytes; the store-wide counter learns of it in
// steps of the store's slack.
func (sh *Shard) charge(delta int64) {
	sh.entryBytes += delta
	sh.pending += delta
	sh.used.Store(sh.entryBytes + sh.overhead)
	if sh.pending > sh.st.slack || sh.pending < -sh.st.slack {
		sh.publishLocked()
	}
}

func (sh *Shard) frag(h uint64, pdb uint16) uint32 {
	return uint32(h>>32) ^ (uint32(pdb) * 0x9E3779B1)
}

func (sh *Shard) rec(id uint32) []byte {
	return sh.slabs.get(sh.refs[id])
}

// find locates (pdb, key). It returns the slot position of the entry, or of
// the empty slot where it would go.
func (sh *Shard) find(pdb uint16, key []byte, frag uint32) (pos uint32, id uint32, ok bool) {
	pos = frag & sh.mask
	for {
		s := sh.ht[pos]
		if s == 0 {
			return pos, 0, false
		}
		if uint32(s>>32) == frag {
			id = uint32(s) - 1
			rec := sh.rec(id)
			if recDB(rec) == pdb && bytes.Equal(recKey(rec), key) {
				return pos, id, true
			}
		}
		pos = (pos + 1) & sh.mask
	}
}

// posOf returns the slot position holding id.
func (sh *Shard) posOf(id uint32) uint32 {
	rec := sh.rec(id)
	frag := sh.frag(sh.st.hash(recKey(rec)), recDB(rec))
	pos := frag & sh.mask
	want := uint64(frag)<<32 | uint64(id+1)
	for sh.ht[pos] != want {
		if sh.ht[pos] == 0 {
			panic("BUG: entry missing from its shard's hash table")
		}
		pos = (pos + 1) & sh.mask
	}
	return pos
}

func (sh *Shard) grow() { sh.rehash(len(sh.ht) * 2) }

// CompactLocked gives memory back after mass removals: an empty shard
// drops its tables (and slab pages) entirely, a sparse one halves its hash
// table. Callers invoke it outside of walks over the shard's entries.
func (sh *Shard) CompactLocked() {
	switch {
	case sh.count == 0 && len(sh.refs) > 4096:
		sh.resetLocked(Deleted, sh.st.NowMs())
	case len(sh.ht) > initialSlots && sh.count < len(sh.ht)/8:
		sh.rehash(max(initialSlots, nextPow2(sh.count*2)))
	}
	sh.trimIDsLocked()
}

// trimIDsLocked drops the free ids at the end of the id table (live ids
// never move) and reallocates the id tables once they use under a quarter
// of their capacity: they grow again by doubling, so the two thresholds
// leave room for hysteresis.
func (sh *Shard) trimIDsLocked() {
	n := len(sh.refs)
	for n > 0 && sh.refs[n-1] == refFree {
		n--
	}
	if n == len(sh.refs) {
		return
	}
	k := 0
	for _, id := range sh.freeIDs {
		if int(id) < n {
			sh.freeIDs[k] = id
			k++
		}
	}
	sh.freeIDs = sh.freeIDs[:k]
	sh.refs = sh.refs[:n]
	if cap(sh.refs) > 4*n+64 {
		sh.refs = append(make([]ref, 0, n+n/4), sh.refs...)
	}
	if cap(sh.freeIDs) > 4*k+64 {
		sh.freeIDs = append(make([]uint32, 0, k+k/4), sh.freeIDs...)
	}
	sh.publishLocked()
}

func (sh *Shard) rehash(n int) {
	old := sh.ht
	sh.ht = make([]uint64, n)
	sh.mask = uint32(n - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		pos := uint32(s>>32) & sh.mask
		for sh.ht[pos] != 0 {
			pos = (pos + 1) & sh.mask
		}
		sh.ht[pos] = s
	}
	sh.publishLocked()
}

// htDelete empties slot pos with backward-shift deletion, so probe
// sequences stay unbroken without tombstones.
func (sh *Shard) htDelete(pos uint32) {
	m := sh.mask
	i, j := pos, pos
	for {
		j = (j + 1) & m
		s := sh.ht[j]
		if s == 0 {
			break
		}
		k := uint32(s>>32) & m
		if i <= j {
			if i < k && k <= j {
				continue
			}
		} else if i < k || k <= j {
			continue
		}
		sh.ht[i] = s
		i = j
	}
	sh.ht[i] = 0
}

// lookup finds a live entry, expiring it lazily when its deadline passed
// and dropping it when its tags were invalidated. stale reports an entry
// past its soft deadline or softly invalidated through a tag.
func (sh *Shard) lookup(pdb uint16, key []byte, h uint64, now int64) (pos, id uint32, rec []byte, stale, ok bool) {
	sh.nowMs = now
	frag := sh.frag(h, pdb)
	pos, id, ok = sh.find(pdb, key, frag)
	if !ok {
		return pos, 0, nil, false, false
	}
	rec = sh.rec(id)
	f := rec[0]
	if f == 0 {
		return pos, id, rec, false, true
	}
	if d := recDeadline(rec); d != 0 && d <= now {
		sh.removeLocked(pos, id, rec, Expired, now)
		return 0, 0, nil, false, false
	}
	if f&(flagSoft|flagTags) != 0 {
		m := recMeta(rec)
		if m.Soft != 0 && m.Soft <= now {
			stale = true
		}
		if len(m.Tags) != 0 && sh.st.hooks != nil {
			switch sh.st.hooks.TagState(sh.st.logical(pdb), m.Tags, now) {
			case Dead:
				sh.removeLocked(pos, id, rec, Invalidated, now)
				return 0, 0, nil, false, false
			case Stale:
				stale = true
			}
		}
	}
	return pos, id, rec, stale, true
}

// LookupLocked returns the live entry for key in logical database db.
// Unless flags say otherwise it counts a keyspace hit or miss and tells the
// eviction policy about the access. A stale entry (see Meta.Soft) is a miss
// unless flags include AllowStale.
func (sh *Shard) LookupLocked(db int, key []byte, h uint64, now int64, flags int) (Entry, bool) {
	pdb := sh.st.dbmap[db]
	_, id, rec, stale, ok := sh.lookup(pdb, key, h, now)
	if !ok || (stale && flags&AllowStale == 0) {
		if flags&NoStats == 0 {
			sh.stats.Misses[db]++
			if f := sh.st.missObs.Load(); f != nil {
				(*f)(db, key)
			}
		}
		return Entry{}, false
	}
	if flags&NoStats == 0 {
		sh.stats.Hits[db]++
	}
	if flags&NoTouch == 0 {
		sh.polAccess(id, now)
	}
	return Entry{Value: recValue(rec), Meta: recMeta(rec), Stale: stale}, true
}

// ExistsLocked reports whether key is live (stale entries count), without
// counting or touching.
func (sh *Shard) ExistsLocked(db int, key []byte, h uint64, now int64) bool {
	_, _, _, _, ok := sh.lookup(sh.st.dbmap[db], key, h, now)
	return ok
}

// ownTags copies m.Tags into the shard's scratch space so that rewriting a
// record cannot clobber them.
func (sh *Shard) ownTags(m *Meta) {
	if len(m.Tags) != 0 {
		sh.tagBuf = append(sh.tagBuf[:0], m.Tags...)
		m.Tags = sh.tagBuf
	}
}

// SetLocked stores val under key with metadata m, replacing any entry. An
// overwrite counts as an access for the eviction policy.
func (sh *Shard) SetLocked(db int, key []byte, h uint64, val []byte, m Meta, now int64) error {
	pdb := sh.st.dbmap[db]
	if len(key) > 1<<32-1 || len(val) > 1<<32-1 {
		return ErrKeyTooLarge
	}
	if len(m.Tags) > 8*MaxTags {
		return ErrTooManyTags
	}
	n := recordSize(&m, len(key), len(val))
	sz := int64(allocSize(n))
	if max := sh.st.maxmemory.Load(); max > 0 && sz > max {
		return ErrTooLarge
	}
	sh.ownTags(&m)
	sh.nowMs = now
	frag := sh.frag(h, pdb)
	pos, id, ok := sh.find(pdb, key, frag)
	if ok {
		old := sh.refs[id]
		oldRec := sh.slabs.get(old)
		if d := recDeadline(oldRec); d != 0 && d <= now {
			// The old entry is logically gone: expire it and insert anew.
			sh.removeLocked(pos, id, oldRec, Expired, now)
			return sh.SetLocked(db, key, h, val, m, now)
		}
		oldMeta := recMeta(oldRec)
		oldSize := int64(allocSize(recSize(oldRec)))
		sh.notifyLocked(pdb, key)
		if sh.st.hooks != nil {
			sh.changedHook(id, db, key, oldMeta, true, m)
		}
		// Same slot size: rewrite in place (a large record keeps its pooled
		// buffer) unless the new value is read from the old record.
		if oldSize == sz && (old.class() != classBig || !overlaps(oldRec, val)) {
			writeRecord(oldRec[:n], pdb, &m, key, val)
		} else {
			r, rec := sh.slabs.alloc(n)
			writeRecord(rec, pdb, &m, key, val)
			sh.slabs.release(old)
			sh.refs[id] = r
		}
		sh.charge(sz - oldSize)
		sh.updateTTLLocked(db, id, oldMeta.Deadline, m.Deadline)
		if sz == oldSize && m.Deadline == oldMeta.Deadline {
			// Same size and deadline: to the policy the overwrite is only
			// an access (an Update would change nothing), recorded in the
			// cheaper read ring, lossy like any read.
			sh.polAccess(id, now)
		} else {
			sh.polWrite(opUpdateAccess, id, evict.Entry{Hash: h, Size: uint32(min(sz, 1<<32-1)), Deadline: m.Deadline}, now)
		}
		return nil
	}
	if sh.count+1 > len(sh.ht)*3/4 {
		sh.grow()
		pos, _, _ = sh.find(pdb, key, frag)
	}
	r, rec := sh.slabs.alloc(n)
	writeRecord(rec, pdb, &m, key, val)
	if k := len(sh.freeIDs); k > 0 {
		id = sh.freeIDs[k-1]
		sh.freeIDs = sh.freeIDs[:k-1]
		sh.refs[id] = r
	} else {
		id = uint32(len(sh.refs))
		if id == 1<<32-2 {
			panic("BUG: shard id space exhausted")
		}
		sh.refs = append(sh.refs, r)
	}
	sh.ht[pos] = uint64(frag)<<32 | uint64(id+1)
	sh.count++
	sh.stats.Keys[db]++
	sh.stats.Inserted++
	sh.notifyLocked(pdb, key)
	if sh.st.hooks != nil {
		sh.changedHook(id, db, key, Meta{}, false, m)
	}
	sh.updateTTLLocked(db, id, 0, m.Deadline)
	sh.polWrite(opInsert, id, evict.Entry{Hash: h, Size: uint32(min(sz, 1<<32-1)), Deadline: m.Deadline}, now)
	sh.charge(sz)
	return nil
}

func (sh *Shard) updateTTLLocked(db int, id uint32, old, deadline int64) {
	if old != 0 {
		sh.stats.TTLSum[db] -= old - sh.base
	}
	if deadline != 0 {
		sh.stats.TTLSum[db] += deadline - sh.base
	}
	switch {
	case old == 0 && deadline != 0:
		sh.stats.Expires[db]++
		if sh.exp == nil {
			sh.exp = expire.NewIndex(sh.nowMs)
			sh.publishLocked()
		}
		sh.exp.Set(id, deadline)
	case old != 0 && deadline == 0:
		sh.stats.Expires[db]--
		sh.exp.Remove(id)
	case old != deadline:
		sh.exp.Set(id, deadline)
	}
}

// SetMetaLocked replaces the metadata of a live entry (TTL, soft deadline,
// version, tags), keeping its value and type. It reports whether the key
// existed (stale entries included).
func (sh *Shard) SetMetaLocked(db int, key []byte, h uint64, m Meta, now int64) bool {
	pdb := sh.st.dbmap[db]
	_, id, rec, _, ok := sh.lookup(pdb, key, h, now)
	if !ok {
		return false
	}
	old := recMeta(rec)
	m.Type = old.Type
	if SameMeta(&old, &m) {
		return true
	}
	sh.ownTags(&m)
	sh.notifyLocked(pdb, key)
	if sh.st.hooks != nil {
		sh.changedHook(id, db, key, old, true, m)
	}
	val := recValue(rec)
	n := recordSize(&m, len(key), len(val))
	oldRef := sh.refs[id]
	oldSize := int64(allocSize(recSize(rec)))
	sz := int64(allocSize(n))
	oldDeadline := old.Deadline
	if sz == oldSize && m.optSize() == old.optSize() {
		// Same layout: the key and value stay where they are.
		writeMetaInPlace(rec, &m)
	} else {
		r, nrec := sh.slabs.alloc(n)
		writeRecord(nrec, pdb, &m, recKey(rec), val)
		sh.slabs.release(oldRef)
		sh.refs[id] = r
		sh.charge(sz - oldSize)
	}
	sh.updateTTLLocked(db, id, oldDeadline, m.Deadline)
	sh.polWrite(opUpdate, id, evict.Entry{Hash: h, Size: uint32(min(sz, 1<<32-1)), Deadline: m.Deadline}, now)
	return true
}

// writeMetaInPlace rewrites the optional fields of a record whose layout
// does not change.
func writeMetaInPlace(rec []byte, m *Meta) {
	klen, vlen := recKLen(rec), recVLen(rec)
	off := recKeyOff(rec)
	var hdr [hdrSize + 8*3 + 1 + 8*MaxTags]byte
	writeRecord(hdr[:off], recDB(rec), m, nil, nil)
	// writeRecord wrote zero lengths; restore them.
	copy(rec[:off], hdr[:off])
	binaryPutLens(rec, klen, vlen)
}

// DeleteLocked removes key for the given reason and reports whether it was
// live.
func (sh *Shard) DeleteLocked(db int, key []byte, h uint64, now int64, reason Reason) bool {
	pos, id, rec, _, ok := sh.lookup(sh.st.dbmap[db], key, h, now)
	if !ok {
		return false
	}
	sh.removeLocked(pos, id, rec, reason, now)
	return true
}

// removeLocked drops the entry with id at slot pos.
func (sh *Shard) removeLocked(pos, id uint32, rec []byte, reason Reason, now int64) {
	pdb := recDB(rec)
	db := sh.st.logical(pdb)
	m := recMeta(rec)
	key := recKey(rec)
	sh.notifyLocked(pdb, key)
	if sh.st.hooks != nil {
		sh.removedHook(id, db, key, m, reason)
	}
	if m.Deadline != 0 {
		sh.stats.Expires[db]--
		sh.stats.TTLSum[db] -= m.Deadline - sh.base
		sh.exp.Remove(id)
		if reason == Expired && sh.st.lag != nil {
			sh.st.lag(now - m.Deadline)
		}
	}
	sh.stats.Keys[db]--
	sh.stats.Removed[reason]++
	sh.polWrite(opRemove, id, evict.Entry{}, now)
	sz := int64(allocSize(recSize(rec)))
	r := sh.refs[id]
	sh.slabs.release(r)
	sh.refs[id] = refFree
	sh.freeIDs = append(sh.freeIDs, id)
	sh.htDelete(pos)
	sh.count--
	sh.charge(-sz)
}

// changedHook and removedHook keep the hooks' pointer arguments from
// making the callers' metadata escape to the heap when there are no hooks.
//
//go:noinline
func (sh *Shard) changedHook(id uint32, db int, key []byte, old Meta, hasOld bool, m Meta) {
	if !hasOld {
		sh.st.hooks.Changed(sh.idx, id, db, key, nil, &m)
		return
	}
	sh.st.hooks.Changed(sh.idx, id, db, key, &old, &m)
}

//go:noinline
func (sh *Shard) removedHook(id uint32, db int, key []byte, m Meta, r Reason) {
	sh.st.hooks.Removed(sh.idx, id, db, key, &m, r)
}

// aliveLocked applies lazy expiry and tag invalidation to the entry with id
// (whose record is rec) and reports whether it is still live.
func (sh *Shard) aliveLocked(id uint32, rec []byte, now int64) bool {
	f := rec[0]
	if f == 0 {
		return true
	}
	if d := recDeadline(rec); d != 0 && d <= now {
		sh.removeIDLocked(id, Expired, now)
		return false
	}
	if f&flagTags != 0 && sh.st.hooks != nil {
		m := recMeta(rec)
		if sh.st.hooks.TagState(sh.st.logical(recDB(rec)), m.Tags, now) == Dead {
			sh.removeIDLocked(id, Invalidated, now)
			return false
		}
	}
	return true
}

// EntryLocked returns the entry with id, if that id is live, without
// checking expiry or tags (for the tag index's walks). key aliases the
// store's memory.
func (sh *Shard) EntryLocked(id uint32) (db int, key []byte, m Meta, ok bool) {
	if int(id) >= len(sh.refs) || sh.refs[id] == refFree {
		return 0, nil, Meta{}, false
	}
	rec := sh.rec(id)
	return sh.st.logical(recDB(rec)), recKey(rec), recMeta(rec), true
}

// RemoveIDLocked drops the live entry with id for the given reason.
func (sh *Shard) RemoveIDLocked(id uint32, reason Reason, now int64) {
	sh.removeIDLocked(id, reason, now)
}

// ChargeLocked accounts memory held on the shard's behalf by another
// package (the tag index's per-shard lists).
func (sh *Shard) ChargeLocked(delta int64) { sh.charge(delta) }

// removeIDLocked drops a live entry by id.
func (sh *Shard) removeIDLocked(id uint32, reason Reason, now int64) {
	sh.removeLocked(sh.posOf(id), id, sh.rec(id), reason, now)
}

// notifyLocked marks WATCH registrations of (pdb, key) dirty.
func (sh *Shard) notifyLocked(pdb uint16, key []byte) {
	if len(sh.watch) == 0 {
		return
	}
	ws := sh.watch[watchKey(pdb, key)]
	for _, w := range ws {
		w.Dirty.Store(true)
	}
}

func watchKey(pdb uint16, key []byte) string {
	var b strings.Builder
	b.Grow(2 + len(key))
	b.WriteByte(byte(pdb))
	b.WriteByte(byte(pdb >> 8))
	b.Write(key)
	return b.String()
}

// WatchLocked registers w for key in logical database db. It returns the
// registration, which names the physical database (so it outlives SWAPDB)
// and is what UnwatchLocked takes; added is false when w already watched
// the key (nothing new is held then).
func (sh *Shard) WatchLocked(db int, key []byte, w *Watch) (reg string, added bool) {
	if sh.watch == nil {
		sh.watch = make(map[string][]*Watch)
	}
	k := watchKey(sh.st.dbmap[db], key)
	if ws, ok := sh.watch[k]; ok {
		for _, x := range ws {
			if x == w {
				return k, false
			}
		}
	}
	sh.watch[k] = append(sh.watch[k], w)
	return k, true
}

// WatchedKey returns the key of a registration made by WatchLocked (it
// aliases reg).
func WatchedKey(reg string) string { return reg[2:] }

// UnwatchLocked removes w's registration reg (from WatchLocked).
func (sh *Shard) UnwatchLocked(reg string, w *Watch) {
	ws := sh.watch[reg]
	for i, x := range ws {
		if x == w {
			ws[i] = ws[len(ws)-1]
			ws = ws[:len(ws)-1]
			break
		}
	}
	if len(ws) == 0 {
		delete(sh.watch, reg)
	} else {
		sh.watch[reg] = ws
	}
}

// dirtyAllLocked marks every watch on physical database pdb dirty (FLUSHDB,
// SWAPDB).
func (sh *Shard) dirtyAllLocked(pdb int) {
	for k, ws := range sh.watch {
		if pdb >= 0 && (int(k[0])|int(k[1])<<8) != pdb {
			continue
		}
		for _, w := range ws {
			w.Dirty.Store(true)
		}
	}
}

// FreqLocked and IdleLocked report what the eviction policy sees of key.
func (sh *Shard) FreqLocked(db int, key []byte, h uint64, now int64) (freq int, tracked, found bool) {
	_, id, _, _, ok := sh.lookup(sh.st.dbmap[db], key, h, now)
	if !ok {
		return 0, false, false
	}
	f, t := sh.polFreqLocked(id, now)
	return f, t, true
}

// IdleLocked returns the entry's idle time in milliseconds as the eviction
// policy sees it.
func (sh *Shard) IdleLocked(db int, key []byte, h uint64, now int64) (idleMs int64, tracked, found bool) {
	_, id, _, _, ok := sh.lookup(sh.st.dbmap[db], key, h, now)
	if !ok {
		return 0, false, false
	}
	i, t := sh.polIdleLocked(id, now)
	return i, t, true
}

// expireDueLocked removes up to max entries whose deadline passed.
func (sh *Shard) expireDueLocked(now int64, max int) (int, bool) {
	sh.nowMs = now
	if sh.exp == nil {
		return 0, false
	}
	if sh.expireFn == nil {
		sh.expireFn = sh.expireOne // bound once: no closure per call
	}
	return sh.exp.Expired(now, max, sh.expireFn)
}

func (sh *Shard) expBytes() int64 {
	if sh.exp == nil {
		return 0
	}
	return sh.exp.Bytes()
}

// expireOne removes one entry the expiry index reported as due (the index
// has already dropped it).
func (sh *Shard) expireOne(id uint32, _ int64) {
	now := sh.nowMs
	rec := sh.rec(id)
	m := recMeta(rec)
	if m.Deadline == 0 || m.Deadline > now {
		// A stale schedule (should not happen): put it back.
		if m.Deadline != 0 {
			sh.exp.Set(id, m.Deadline)
		}
		return
	}
	sh.removeIDLocked(id, Expired, now)
}
