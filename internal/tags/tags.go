// Package tags is cachesrv's tag index: tag-based, dependency-based and
// soft invalidation on top of the store.
//
// # Generations
//
// Every tag has a generation. An entry records, for each of its tags, the
// generation it was written at (store.TagRef). INVALIDATE does not walk the
// tag's keys: it bumps the generation and raises the tag's floor, an O(1)
// step, and every entry written below the floor is dead from that instant —
// the store asks TagState on each access and drops such entries lazily.
// A background reclaimer (Run) then walks the per-shard member lists of the
// invalidated generation and removes the dead entries, so their memory
// comes back within seconds even if nobody reads them.
//
// Soft invalidation raises a separate soft floor with a grace deadline:
// entries below it are stale (served to stale-aware reads) until the grace
// ends, then dead.
//
// # Dependencies
//
// An entry that depends on key K carries K's implicit dependency tag plus,
// copied at write time, every tag K carries and K's deadline at most. Any
// write or removal of K bumps K's dependency tag; invalidating one of K's
// tags reaches the dependents directly through the copied tag. Chains of
// dependencies are therefore followed without walking anything at
// invalidation time, and cycles cannot loop.
//
// # Concurrency
//
// The registry (names → tags) is guarded by mu. Generations, floors and
// live counts are atomics read by the store's hot path without locks. Member
// lists are per store shard and guarded by that shard's lock (the store's
// hooks run under it). Lock order: shard lock, then mu; never the reverse.
package tags

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/store"
)

// Errors for bad tag input, worded for RESP replies.
var (
	ErrTooManyTags = errors.New("too many tags")
	ErrTagTooLong  = errors.New("tag too long")
	ErrEmptyTag    = errors.New("tag must not be empty")
)

// Options bound tag input.
type Options struct {
	MaxPerKey int // tags per entry (user tags); default 32
	MaxLen    int // bytes per tag name; default 256
	// Remember is how long an invalidation of a tag that no live key
	// carries is remembered for InvalidatedSince (a lease granted before
	// it can still fill for that long): the longest lease. Default 10 min.
	Remember int64 // ms
	// MaxRemembered bounds those remembered invalidations; past it they
	// are forgotten and every lease granted before is treated as stale
	// (conservative). Default 65536.
	MaxRemembered int
}

// kind separates user tags from implicit dependency tags in the registry.
const (
	kindUser = 'u'
	kindDep  = 'd'
)

// tag is one registered tag. state packs gen<<32 | live count so a count
// change and an invalidation cannot interleave.
type tag struct {
	id        uint32
	db        int
	name      string // kind byte + name
	state     atomic.Uint64
	hardFloor atomic.Uint32 // entries with gen < hardFloor are dead
	softFloor atomic.Uint32 // entries with gen < softFloor are stale until softUntil
	softUntil atomic.Int64
	lists     atomic.Int32  // shard member lists alive plus pending writes (for garbage collection)
	lastSeq   atomic.Uint64 // invalidation sequence of the last bump
	bornSeq   uint64        // invalidation sequence when the tag was registered
	freed     bool          // guarded by Index.mu
}

func (t *tag) gen() uint32 { return uint32(t.state.Load() >> 32) }

// memberList holds the ids of one shard's entries written with one tag at
// one generation. Removed entries are not deleted from ids at once; live
// counts the real members and compaction drops the rest.
type memberList struct {
	tag  uint32
	gen  uint32
	ids  []uint32
	live int
	// epoch changes whenever ids is compacted, so a TAGKEYS cursor
	// pointing into it restarts instead of skipping members.
	epoch uint16
}

type shardLists struct {
	lists   map[uint32]*memberList
	reclaim []*memberList // detached lists of invalidated generations
}

// Stats are the tag index's counters.
type Stats struct {
	Tags                  int
	TaggedKeys            int64
	IndexBytes            int64
	Invalidations         uint64 // INVALIDATE calls
	SoftInvalidations     uint64
	KeysInvalidatedByTag  uint64
	KeysInvalidatedByDep  uint64
	DependencyBumps       uint64
	VersionRejections     uint64
	Reclaimed             uint64
	PendingReclaimEntries int64
}

// Index is the tag index of one store.
type Index struct {
	st   *store.Store
	opts Options

	mu          sync.Mutex
	byName      []map[string]*tag // per logical database
	free        []uint32
	pendingTags []uint32 // invalidated since the reclaimer last ran

	// table maps id → tag: a directory of fixed-size chunks whose slots
	// are atomic, so registering a tag costs O(1) amortised (a new chunk
	// copies only the directory, once per tagChunkSize tags). Written
	// under mu, read without it.
	table  atomic.Pointer[[]*tagChunk]
	nextID uint32 // ids handed out so far (guarded by mu)

	shards []shardLists // guarded by the store's shard locks

	depTags atomic.Int64
	seq     atomic.Uint64
	// unknown remembers invalidations of tags that were not registered (no
	// live key carried them): db|name → when (guarded by mu). unknownFloor
	// is the sequence up to which forgotten ones may have happened.
	unknown      map[string]unknownInv
	unknownFloor uint64
	// freedSeq is the highest invalidation sequence of any tag freed so
	// far (guarded by mu): a freed tag forgets its own, so questions about
	// names registered after a point are answered conservatively.
	freedSeq uint64

	wake chan struct{}

	registryBytes atomic.Int64
	stats         struct {
		invalidations, soft, byTag, byDep, depBumps, versionRejections, reclaimed atomic.Uint64
		pending                                                                   atomic.Int64
	}
}

// New builds the index for st and installs itself as the store's hooks.
func New(st *store.Store, o Options) *Index {
	if o.MaxPerKey <= 0 {
		o.MaxPerKey = 32
	}
	if o.MaxLen <= 0 {
		o.MaxLen = 256
	}
	if o.Remember <= 0 {
		o.Remember = 10 * 60 * 1000
	}
	if o.MaxRemembered <= 0 {
		o.MaxRemembered = 1 << 16
	}
	x := &Index{
		st:      st,
		opts:    o,
		byName:  make([]map[string]*tag, st.Databases()),
		shards:  make([]shardLists, st.NumShards()),
		wake:    make(chan struct{}, 1),
		unknown: make(map[string]unknownInv),
	}
	for i := range x.byName {
		x.byName[i] = make(map[string]*tag)
	}
	for i := range x.shards {
		x.shards[i].lists = make(map[uint32]*memberList)
	}
	empty := []*tagChunk{}
	x.table.Store(&empty)
	st.SetHooks(x)
	return x
}

// SetLimits changes the input bounds (CONFIG SET).
func (x *Index) SetLimits(maxPerKey, maxLen int) {
	x.mu.Lock()
	x.opts.MaxPerKey, x.opts.MaxLen = maxPerKey, maxLen
	x.mu.Unlock()
}

// Limits returns the input bounds.
func (x *Index) Limits() (maxPerKey, maxLen int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.opts.MaxPerKey, x.opts.MaxLen
}

// tagChunkSize is the number of tags per table chunk.
const tagChunkSize = 1024

// tagChunk is one chunk of the id table. A registered tag's slot is part
// of its tagOverhead; chunks are kept, like ids, for reuse (8 bytes per tag
// at the peak).
type tagChunk [tagChunkSize]atomic.Pointer[tag]

func (x *Index) byID(id uint32) *tag {
	dir := *x.table.Load()
	if int(id/tagChunkSize) >= len(dir) {
		return nil
	}
	return dir[id/tagChunkSize][id%tagChunkSize].Load()
}

// setIDLocked stores t under its id, growing the directory by one chunk
// when the id is the first of a new chunk; x.mu is held.
func (x *Index) setIDLocked(t *tag) {
	dir := *x.table.Load()
	c := int(t.id / tagChunkSize)
	if c >= len(dir) {
		grown := make([]*tagChunk, c+1)
		copy(grown, dir)
		for i := len(dir); i <= c; i++ {
			grown[i] = new(tagChunk)
		}
		x.table.Store(&grown)
		dir = grown
	}
	dir[c][t.id%tagChunkSize].Store(t)
}

const tagOverhead = 96 // bytes charged per registered tag besides its name

// getLocked returns the tag, creating it; x.mu is held.
func (x *Index) getLocked(db int, name string) *tag {
	if t := x.byName[db][name]; t != nil {
		return t
	}
	t := &tag{db: db, name: name, bornSeq: x.seq.Load()}
	if k := len(x.free); k > 0 {
		t.id = x.free[k-1]
		x.free = x.free[:k-1]
		old := x.byID(t.id)
		// Continue the old generation so stale references stay dead.
		g := old.gen() + 1
		t.state.Store(uint64(g) << 32)
		t.hardFloor.Store(g)
	} else {
		t.id = x.nextID
		x.nextID++
	}
	x.setIDLocked(t)
	x.byName[db][name] = t
	if name[0] == kindDep {
		x.depTags.Add(1)
	}
	n := int64(len(name) + tagOverhead)
	x.registryBytes.Add(n)
	x.st.AddMemory(n)
	return t
}

// maybeFreeLocked drops a tag that has no live entries and no lists; x.mu
// is held.
func (x *Index) maybeFreeLocked(t *tag) {
	if t.freed || uint32(t.state.Load()) != 0 || t.lists.Load() != 0 {
		return
	}
	if x.byName[t.db][t.name] != t {
		return
	}
	delete(x.byName[t.db], t.name)
	t.freed = true
	if ls := t.lastSeq.Load(); ls > x.freedSeq {
		x.freedSeq = ls
	}
	x.free = append(x.free, t.id)
	if t.name[0] == kindDep {
		x.depTags.Add(-1)
	}
	n := int64(len(t.name) + tagOverhead)
	x.registryBytes.Add(-n)
	x.st.AddMemory(-n)
}

// Resolve turns tag names into references at their current generations,
// registering new tags, and appends them to refs. A tag is held alive by
// the references until the entry is stored or Release is called.
func (x *Index) Resolve(db int, names [][]byte, refs []byte) ([]byte, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(names) > x.opts.MaxPerKey {
		return refs, ErrTooManyTags
	}
	for _, n := range names {
		if len(n) == 0 {
			return refs, ErrEmptyTag
		}
		if len(n) > x.opts.MaxLen {
			return refs, ErrTagTooLong
		}
	}
	for _, n := range names {
		t := x.getLocked(db, string(append([]byte{kindUser}, n...)))
		refs = x.pinLocked(t, refs)
	}
	return refs, nil
}

// pinLocked appends t's current reference. The pending count keeps a
// brand-new tag from being collected before its first entry is stored:
// the entry's Changed hook counts it, and Release undoes an unused pin.
func (x *Index) pinLocked(t *tag, refs []byte) []byte {
	t.lists.Add(1)
	return store.AppendTag(refs, store.TagRef{ID: t.id, Gen: t.gen()})
}

// Release undoes Resolve/DependencyRefs pins once the write is done (stored
// or not).
func (x *Index) Release(refs []byte) {
	if len(refs) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := 0; i < store.NumTags(refs); i++ {
		if t := x.byID(store.TagAt(refs, i).ID); t != nil {
			t.lists.Add(-1)
			x.maybeFreeLocked(t)
		}
	}
}

// DependencyRef appends the reference of key's implicit dependency tag.
func (x *Index) DependencyRef(db int, key []byte, refs []byte) []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.getLocked(db, string(append([]byte{kindDep}, key...)))
	return x.pinLocked(t, refs)
}

// PinRefs pins existing references (tags copied from a dependency's entry)
// so they cannot be collected before the write; it skips references of
// freed tags (those entries are dead anyway).
func (x *Index) PinRefs(refs []byte, dst []byte) []byte {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := 0; i < store.NumTags(refs); i++ {
		r := store.TagAt(refs, i)
		t := x.byID(r.ID)
		if t == nil || t.freed {
			continue
		}
		t.lists.Add(1)
		dst = store.AppendTag(dst, r)
	}
	return dst
}

// IsDependencyOf reports whether ref is key's own dependency tag.
func (x *Index) IsDependencyOf(db int, key []byte, ref store.TagRef) bool {
	t := x.byID(ref.ID)
	return t != nil && t.db == db && t.name[0] == kindDep && t.name[1:] == string(key)
}

// TagState implements store.Hooks.
func (x *Index) TagState(db int, refs []byte, now int64) store.TagState {
	state := store.Fresh
	for i := 0; i < store.NumTags(refs); i++ {
		r := store.TagAt(refs, i)
		t := x.byID(r.ID)
		if t == nil {
			return store.Dead
		}
		if r.Gen < t.hardFloor.Load() {
			return store.Dead
		}
		if r.Gen < t.softFloor.Load() {
			if now >= t.softUntil.Load() {
				return store.Dead
			}
			state = store.Stale
		}
	}
	return state
}

// Changed implements store.Hooks: it keeps live counts and member lists and
// fires the key's dependency tag.
func (x *Index) Changed(sh int, id uint32, db int, key []byte, old, m *store.Meta) {
	var oldTags []byte
	if old != nil {
		oldTags = old.Tags
	}
	if len(oldTags) != 0 || len(m.Tags) != 0 {
		for i := 0; i < store.NumTags(oldTags); i++ {
			r := store.TagAt(oldTags, i)
			if !hasRef(m.Tags, r) {
				x.leave(sh, id, r)
			}
		}
		for i := 0; i < store.NumTags(m.Tags); i++ {
			r := store.TagAt(m.Tags, i)
			if !hasRef(oldTags, r) {
				x.join(sh, id, r)
			}
		}
	}
	x.fireDependency(db, key)
}

// Removed implements store.Hooks.
func (x *Index) Removed(sh int, id uint32, db int, key []byte, m *store.Meta, r store.Reason) {
	for i := 0; i < store.NumTags(m.Tags); i++ {
		x.leave(sh, id, store.TagAt(m.Tags, i))
	}
	x.fireDependency(db, key)
}

func hasRef(refs []byte, r store.TagRef) bool {
	for i := 0; i < store.NumTags(refs); i++ {
		if store.TagAt(refs, i) == r {
			return true
		}
	}
	return false
}

// join counts an entry into its tag and shard list (shard lock held).
func (x *Index) join(sh int, id uint32, r store.TagRef) {
	t := x.byID(r.ID)
	if t == nil {
		return
	}
	for {
		v := t.state.Load()
		if uint32(v>>32) != r.Gen {
			return // written below the current generation: dead on arrival
		}
		if t.state.CompareAndSwap(v, v+1) {
			break
		}
	}
	sl := &x.shards[sh]
	l := sl.lists[r.ID]
	if l != nil && l.gen != r.Gen {
		x.detach(sh, l)
		l = nil
	}
	if l == nil {
		l = &memberList{tag: r.ID, gen: r.Gen}
		sl.lists[r.ID] = l
		t.lists.Add(1)
		x.st.Shard(sh).ChargeLocked(64)
	}
	if len(l.ids) == cap(l.ids) {
		before := cap(l.ids)
		l.ids = append(l.ids, id)
		x.st.Shard(sh).ChargeLocked(int64(cap(l.ids)-before) * 4)
	} else {
		l.ids = append(l.ids, id)
	}
	l.live++
}

// leave counts an entry out of its tag and shard list (shard lock held).
func (x *Index) leave(sh int, id uint32, r store.TagRef) {
	t := x.byID(r.ID)
	if t == nil {
		return
	}
	for {
		v := t.state.Load()
		if uint32(v>>32) != r.Gen || uint32(v) == 0 {
			break
		}
		if t.state.CompareAndSwap(v, v-1) {
			break
		}
	}
	sl := &x.shards[sh]
	l := sl.lists[r.ID]
	if l == nil || l.gen != r.Gen {
		return
	}
	l.live--
	switch {
	case l.live <= 0:
		delete(sl.lists, r.ID)
		x.dropList(sh, l)
	case len(l.ids) > 64 && len(l.ids) > 4*l.live:
		x.compact(sh, l)
	}
}

// detach moves a list of an old generation to the shard's reclaim queue.
func (x *Index) detach(sh int, l *memberList) {
	sl := &x.shards[sh]
	if sl.lists[l.tag] == l {
		delete(sl.lists, l.tag)
	}
	sl.reclaim = append(sl.reclaim, l)
	x.stats.pending.Add(int64(len(l.ids)))
	x.signal()
}

// dropList releases a list's memory and its hold on the tag.
func (x *Index) dropList(sh int, l *memberList) {
	x.st.Shard(sh).ChargeLocked(-int64(cap(l.ids))*4 - 64)
	l.ids = nil
	if t := x.byID(l.tag); t != nil && t.lists.Add(-1) == 0 && uint32(t.state.Load()) == 0 {
		x.mu.Lock()
		x.maybeFreeLocked(t)
		x.mu.Unlock()
	}
}

// member reports whether the entry with id carries (tag, gen) (shard lock
// held).
func (x *Index) member(sh int, id uint32, tagID, gen uint32) ([]byte, bool) {
	_, key, m, ok := x.st.Shard(sh).EntryLocked(id)
	if !ok {
		return nil, false
	}
	return key, hasRef(m.Tags, store.TagRef{ID: tagID, Gen: gen})
}

// compact drops removed entries (and duplicates) from a list.
func (x *Index) compact(sh int, l *memberList) {
	before := cap(l.ids)
	seen := make(map[uint32]struct{}, l.live)
	out := make([]uint32, 0, l.live+l.live/4+1)
	for _, id := range l.ids {
		if _, dup := seen[id]; dup {
			continue
		}
		if _, ok := x.member(sh, id, l.tag, l.gen); ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	l.ids = out
	l.live = len(out)
	l.epoch++
	x.st.Shard(sh).ChargeLocked(int64(cap(out)-before) * 4)
}

func (x *Index) signal() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// fireDependency invalidates the dependents of key (any write or removal
// of key). It costs one atomic load when no dependencies exist.
func (x *Index) fireDependency(db int, key []byte) {
	if x.depTags.Load() == 0 {
		return
	}
	x.mu.Lock()
	var buf [128]byte
	name := append(append(buf[:0], kindDep), key...)
	t := x.byName[db][string(name)]
	if t == nil {
		x.mu.Unlock()
		return
	}
	n := x.bumpLocked(t, false, 0, 0)
	x.mu.Unlock()
	x.stats.depBumps.Add(1)
	x.stats.byDep.Add(uint64(n))
}

// bumpLocked invalidates t (x.mu held) and returns its live count before.
func (x *Index) bumpLocked(t *tag, soft bool, now, grace int64) int64 {
	var old uint64
	for {
		old = t.state.Load()
		next := (old>>32 + 1) << 32
		if t.state.CompareAndSwap(old, next) {
			break
		}
	}
	g := uint32(old>>32) + 1
	if soft {
		t.softUntil.Store(now + grace)
		t.softFloor.Store(g)
	} else {
		t.hardFloor.Store(g)
	}
	x.seq.Add(1)
	t.lastSeq.Store(x.seq.Load())
	x.pendingTags = append(x.pendingTags, t.id)
	x.signal()
	return int64(uint32(old))
}

// Invalidate invalidates every entry carrying any of the named tags in db,
// at once, and returns the number of distinct live keys that carried them.
// With soft, the entries turn stale for grace milliseconds first. tx is
// the caller's store transaction (nil: none), which may hold every shard
// (EXEC); the walk then runs inside its locks.
func (x *Index) Invalidate(db int, names [][]byte, soft bool, grace int64, tx *store.Txn) int64 {
	held := tx != nil && tx.Held()
	now := x.st.NowMs()
	x.mu.Lock()
	var ts []*tag
	for _, n := range names {
		var buf [128]byte
		key := append(append(buf[:0], kindUser), n...)
		if t := x.byName[db][string(key)]; t != nil && !containsTag(ts, t) {
			ts = append(ts, t)
		}
	}
	if len(ts) < len(names) {
		x.rememberUnknownLocked(db, names, now)
	}
	x.mu.Unlock()
	if len(ts) == 0 {
		if soft {
			x.stats.soft.Add(1)
		} else {
			x.stats.invalidations.Add(1)
		}
		return 0
	}
	var overlap int64
	if len(ts) > 1 {
		overlap = x.overlap(ts, held)
	}
	x.mu.Lock()
	var total int64
	for _, t := range ts {
		total += x.bumpLocked(t, soft, now, grace)
	}
	x.mu.Unlock()
	total -= overlap
	if total < 0 {
		total = 0
	}
	if soft {
		x.stats.soft.Add(1)
	} else {
		x.stats.invalidations.Add(1)
	}
	x.stats.byTag.Add(uint64(total))
	return total
}

func containsTag(ts []*tag, t *tag) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// overlap counts the live entries that carry more than one of ts at their
// current generations, each counted once per extra tag, by walking the
// member lists of all but the first tag.
func (x *Index) overlap(ts []*tag, held bool) int64 {
	var n int64
	for sh := range x.shards {
		s := x.st.Shard(sh)
		if !held {
			s.Lock()
		}
		for k := 1; k < len(ts); k++ {
			l := x.shards[sh].lists[ts[k].id]
			if l == nil || l.gen != ts[k].gen() {
				continue
			}
			for _, id := range uniqueIDs(l.ids) {
				_, _, m, ok := s.EntryLocked(id)
				if !ok || !hasRef(m.Tags, store.TagRef{ID: ts[k].id, Gen: l.gen}) {
					continue
				}
				for j := 0; j < k; j++ {
					if hasRef(m.Tags, store.TagRef{ID: ts[j].id, Gen: ts[j].gen()}) {
						n++
						break
					}
				}
			}
		}
		if !held {
			s.Unlock()
		}
	}
	return n
}

func uniqueIDs(ids []uint32) []uint32 {
	if len(ids) < 2 {
		return ids
	}
	seen := make(map[uint32]struct{}, len(ids))
	out := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// Count returns the number of live keys carrying the tag.
func (x *Index) Count(db int, name []byte) int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.byName[db][string(append([]byte{kindUser}, name...))]
	if t == nil {
		return 0
	}
	return int64(uint32(t.state.Load()))
}

// Names returns the user tag names and dependency keys of an entry's
// references that are still current.
func (x *Index) Names(refs []byte) (tags, deps []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for i := 0; i < store.NumTags(refs); i++ {
		r := store.TagAt(refs, i)
		t := x.byID(r.ID)
		if t == nil || t.freed {
			continue
		}
		switch t.name[0] {
		case kindUser:
			tags = append(tags, t.name[1:])
		case kindDep:
			deps = append(deps, t.name[1:])
		}
	}
	return tags, deps
}

// Keys scans the keys carrying a tag, SCAN style: cursor 0 starts, the
// returned cursor 0 ends. Keys present for the whole scan are returned at
// least once. fn gets each key (valid during the call only). tx is as for
// Invalidate.
func (x *Index) Keys(db int, name []byte, cursor uint64, count int, tx *store.Txn, fn func(key []byte)) uint64 {
	held := tx != nil && tx.Held()
	x.mu.Lock()
	t := x.byName[db][string(append([]byte{kindUser}, name...))]
	x.mu.Unlock()
	if t == nil {
		return 0
	}
	if count < 1 {
		count = 10
	}
	sh := int(cursor >> 48)
	epoch := uint16(cursor >> 32)
	pos := int(uint32(cursor))
	now := x.st.NowMs()
	emitted := 0
	for ; sh < len(x.shards); sh, pos = sh+1, 0 {
		s := x.st.Shard(sh)
		if !held {
			s.Lock()
		}
		l := x.shards[sh].lists[t.id]
		if l != nil && l.gen == t.gen() {
			if pos != 0 && epoch != l.epoch {
				pos = 0 // compacted since the cursor was issued: start the list again
			}
			for pos < len(l.ids) {
				id := l.ids[pos]
				pos++
				_, key, m, ok := s.EntryLocked(id)
				if !ok || !hasRef(m.Tags, store.TagRef{ID: t.id, Gen: l.gen}) {
					continue
				}
				if x.TagState(db, m.Tags, now) == store.Dead || (m.Deadline != 0 && m.Deadline <= now) {
					continue
				}
				fn(key)
				emitted++
				if emitted >= count && pos < len(l.ids) {
					ep := l.epoch
					if !held {
						s.Unlock()
					}
					return uint64(sh)<<48 | uint64(ep)<<32 | uint64(pos)
				}
			}
		}
		if !held {
			s.Unlock()
		}
		if emitted >= count && sh+1 < len(x.shards) {
			return uint64(sh+1) << 48
		}
	}
	return 0
}

// Run reclaims the entries of invalidated generations in the background
// until ctx ends. The owner runs it in a goroutine and waits for it.
func (x *Index) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-x.wake:
		case <-tick.C:
		}
		x.ReclaimAll(ctx)
	}
}

// ReclaimAll detaches the lists of invalidated generations in every shard
// and removes their dead entries, holding each shard lock for at most a
// small batch at a time.
func (x *Index) ReclaimAll(ctx context.Context) {
	x.mu.Lock()
	pending := x.pendingTags
	x.pendingTags = nil
	x.mu.Unlock()
	const batch = 256
	for sh := range x.shards {
		s := x.st.Shard(sh)
		for {
			if ctx.Err() != nil {
				return
			}
			s.Lock()
			now := x.st.NowMs()
			sl := &x.shards[sh]
			for _, id := range pending {
				if l := sl.lists[id]; l != nil && x.deadList(l, now) {
					x.detach(sh, l)
				}
			}
			done := 0
			for done < batch && len(sl.reclaim) > 0 {
				l := sl.reclaim[len(sl.reclaim)-1]
				if !x.deadList(l, now) {
					// softly invalidated and still in its grace: later
					break
				}
				for done < batch && len(l.ids) > 0 {
					id := l.ids[len(l.ids)-1]
					l.ids = l.ids[:len(l.ids)-1]
					x.stats.pending.Add(-1)
					done++
					if _, ok := x.member(sh, id, l.tag, l.gen); ok {
						s.RemoveIDLocked(id, store.Invalidated, now)
						x.stats.reclaimed.Add(1)
					}
				}
				if len(l.ids) == 0 {
					sl.reclaim = sl.reclaim[:len(sl.reclaim)-1]
					x.dropList(sh, l)
				}
			}
			more := done >= batch
			if !more && done > 0 {
				s.CompactLocked()
			}
			s.Unlock()
			if !more {
				break
			}
		}
	}
}

// deadList reports whether a list's generation is invalidated for good.
func (x *Index) deadList(l *memberList, now int64) bool {
	t := x.byID(l.tag)
	if t == nil {
		return true
	}
	if l.gen < t.hardFloor.Load() {
		return true
	}
	return l.gen < t.softFloor.Load() && now >= t.softUntil.Load()
}

// Seq is the invalidation sequence: it grows with every invalidation.
func (x *Index) Seq() uint64 { return x.seq.Load() }

// InvalidatedSince reports whether any of the named tags was invalidated
// after sequence seq (stampede leases use it to refuse stale fills). A tag
// that was freed since (its last key invalidated and reclaimed) and perhaps
// registered again cannot say; the answer is then yes whenever any freed
// tag was invalidated after seq — conservative, never stale.
func (x *Index) InvalidatedSince(db int, names [][]byte, seq uint64) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, n := range names {
		t := x.byName[db][string(append([]byte{kindUser}, n...))]
		if t != nil && t.lastSeq.Load() > seq {
			return true
		}
		if (t == nil || t.bornSeq > seq) && x.freedSeq > seq {
			return true
		}
		if u, ok := x.unknown[unknownKey(db, n)]; ok && u.seq > seq {
			return true
		}
	}
	return len(names) > 0 && x.unknownFloor > seq
}

// unknownInv is a remembered invalidation of an unregistered tag.
type unknownInv struct {
	seq uint64
	at  int64 // unix ms
}

// unknownCost is what one remembered invalidation is charged besides its
// name.
const unknownCost = 64

func unknownKey(db int, name []byte) string {
	return string(append([]byte{byte(db), byte(db >> 8)}, name...))
}

// rememberUnknownLocked records an invalidation of each of names that is
// not registered in db (x.mu held): no key carries the tag now, but a fill
// under a lease granted before may be about to store one that does. The
// memory is bounded (MaxRemembered) and charged to the store.
func (x *Index) rememberUnknownLocked(db int, names [][]byte, now int64) {
	for _, n := range names {
		var buf [128]byte
		if x.byName[db][string(append(append(buf[:0], kindUser), n...))] != nil {
			continue
		}
		seq := x.seq.Add(1)
		k := unknownKey(db, n)
		if _, ok := x.unknown[k]; !ok {
			if len(x.unknown) >= x.opts.MaxRemembered {
				x.pruneUnknownLocked(now)
			}
			x.st.AddMemory(int64(len(k) + unknownCost))
		}
		x.unknown[k] = unknownInv{seq: seq, at: now}
	}
}

// pruneUnknownLocked forgets remembered invalidations older than the
// longest lease; if that frees nothing it forgets them all and raises the
// floor, so every lease granted before now counts as stale.
func (x *Index) pruneUnknownLocked(now int64) {
	var freed int64
	for k, u := range x.unknown {
		if now-u.at > x.opts.Remember {
			delete(x.unknown, k)
			freed += int64(len(k) + unknownCost)
		}
	}
	if len(x.unknown) >= x.opts.MaxRemembered {
		for k, u := range x.unknown {
			x.unknownFloor = max(x.unknownFloor, u.seq)
			freed += int64(len(k) + unknownCost)
		}
		clear(x.unknown)
	}
	x.st.AddMemory(-freed)
}

// CountVersionRejection counts a write refused for an old version.
func (x *Index) CountVersionRejection() { x.stats.versionRejections.Add(1) }

// SwapDB swaps the registries of two databases (SWAPDB; all shard locks
// held by the caller).
func (x *Index) SwapDB(a, b int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byName[a], x.byName[b] = x.byName[b], x.byName[a]
	for _, t := range x.byName[a] {
		t.db = a
	}
	for _, t := range x.byName[b] {
		t.db = b
	}
}

// Stats returns the index's counters.
func (x *Index) Stats() Stats {
	x.mu.Lock()
	s := Stats{}
	for _, m := range x.byName {
		for _, t := range m {
			if t.name[0] == kindUser {
				s.Tags++
				s.TaggedKeys += int64(uint32(t.state.Load()))
			}
		}
	}
	x.mu.Unlock()
	s.IndexBytes = x.registryBytes.Load()
	s.Invalidations = x.stats.invalidations.Load()
	s.SoftInvalidations = x.stats.soft.Load()
	s.KeysInvalidatedByTag = x.stats.byTag.Load()
	s.KeysInvalidatedByDep = x.stats.byDep.Load()
	s.DependencyBumps = x.stats.depBumps.Load()
	s.VersionRejections = x.stats.versionRejections.Load()
	s.Reclaimed = x.stats.reclaimed.Load()
	s.PendingReclaimEntries = x.stats.pending.Load()
	return s
}
