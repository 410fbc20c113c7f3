package store

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/cachesrv/cachesrv/internal/bufpool"
	"github.com/cachesrv/cachesrv/internal/evict"
	"github.com/cachesrv/cachesrv/internal/expire"
)

// TagState is what the tag index says of an entry's tags.
type TagState uint8

// Tag states.
const (
	Fresh TagState = iota // every tag is at the generation the entry was written at
	Stale                 // softly invalidated: served to stale-aware reads only
	Dead                  // invalidated
)

// Hooks connect the tag index (and anything else that follows entries) to
// the store. They run under the shard's lock (sh is its index) and must not
// lock shards. key and the metadata's Tags alias the store's memory.
type Hooks interface {
	// TagState judges an entry's tag references.
	TagState(db int, tags []byte, now int64) TagState
	// Changed reports a write: an insert (old == nil), an overwrite or a
	// metadata change of the entry with id.
	Changed(sh int, id uint32, db int, key []byte, old, new *Meta)
	// Removed reports an entry leaving the keyspace.
	Removed(sh int, id uint32, db int, key []byte, m *Meta, r Reason)
}

// Options configure a Store.
type Options struct {
	Shards       int    // power of two; default 64
	Databases    int    // default 16
	MaxMemory    int64  // bytes; 0 = unlimited
	Policy       string // eviction policy name; default evict.Default
	LFULogFactor int
	LFUDecayTime int
	Samples      int // maxmemory-samples; 0 means 5
	Clock        expire.Clock
	Hooks        Hooks
	// Lag, when set, receives the expiration lag (reclaim time minus
	// deadline, ms) of every expired entry. It runs under a shard lock.
	Lag func(ms int64)
}

// Store is the sharded keyspace. Its methods are safe for concurrent use.
type Store struct {
	opts   Options
	seed   maphash.Seed
	shards []Shard
	mask   uint64
	clock  expire.Clock

	// dbmap maps logical to physical databases, dbrev the reverse. Both
	// change only while every shard is locked (SWAPDB), so reading them
	// under any shard lock is safe.
	dbmap []uint16
	dbrev []uint16

	maxmemory  atomic.Int64
	used       atomic.Int64
	slack      int64
	policyName atomic.Value // string
	evictOpts  evict.Options
	hooks      Hooks
	missObs    atomic.Pointer[func(db int, key []byte)] // ObserveMisses
	lag        func(int64)

	pol storePolicy // the one eviction policy of all shards

	// bufs holds the buffers of records above maxSlab and keeps freed ones
	// for reuse (bounded by poolBound).
	bufs *bufpool.Pool

	external atomic.Int64 // memory accounted by AddMemory
	allMu    sync.Mutex   // serialises LockAll callers
}

// New builds a store, validating its options.
func New(o Options) (*Store, error) {
	if o.Shards == 0 {
		o.Shards = 64
	}
	if o.Shards < 1 || o.Shards&(o.Shards-1) != 0 || o.Shards > 1<<16 {
		return nil, fmt.Errorf("shards must be a power of two between 1 and 65536, got %d", o.Shards)
	}
	if o.Databases == 0 {
		o.Databases = 16
	}
	if o.Databases < 1 || o.Databases > 1<<16 {
		return nil, fmt.Errorf("databases must be between 1 and 65536, got %d", o.Databases)
	}
	if o.Policy == "" {
		o.Policy = evict.Default
	}
	if o.Clock == nil {
		o.Clock = expire.System
	}
	st := &Store{
		opts:   o,
		seed:   maphash.MakeSeed(),
		shards: make([]Shard, o.Shards),
		mask:   uint64(o.Shards - 1),
		clock:  o.Clock,
		hooks:  o.Hooks,
		lag:    o.Lag,
		dbmap:  make([]uint16, o.Databases),
		dbrev:  make([]uint16, o.Databases),
		bufs:   bufpool.New(0),
	}
	for i := range st.dbmap {
		st.dbmap[i] = uint16(i)
		st.dbrev[i] = uint16(i)
	}
	st.evictOpts = evict.Options{
		LFULogFactor: o.LFULogFactor,
		LFUDecayTime: o.LFUDecayTime,
		Samples:      o.Samples,
		Now:          func() int64 { return st.clock.Now().UnixMilli() },
	}
	if _, err := evict.New(o.Policy, st.evictOpts); err != nil {
		return nil, err
	}
	st.policyName.Store(o.Policy)
	st.setMax(o.MaxMemory)
	now := st.NowMs()
	st.pol.epoch = now
	st.pol.now = now
	st.pol.local = make([][]uint32, o.Shards)
	st.pol.dirty = make([]atomic.Uint64, (o.Shards+63)/64)
	st.pol.p = st.newPolicy(o.Policy)
	st.publishPolLocked()
	for i := range st.shards {
		st.shards[i].init(st, i, now)
	}
	return st, nil
}

func (st *Store) setMax(limit int64) {
	st.maxmemory.Store(limit)
	st.bufs.SetMax(poolBound(limit))
	// Shards report to the shared counter in steps: large enough to keep the
	// counter off the hot path, small enough to bound the error (all shards
	// together lag by at most limit/1024 + shards*256 bytes, see headroom).
	slack := int64(64 << 10)
	if limit > 0 {
		if s := limit / int64(len(st.shards)) / 1024; s < slack {
			slack = s
		}
	}
	st.slack = max(slack, minSlack)
}

// poolBound is how many bytes of freed large buffers the store keeps for
// reuse: 1/8 of maxmemory between 1 and 256 MiB, 32 MiB without a bound.
// They are not charged to used_memory (like the free memory Redis's
// allocator keeps), so the bound is part of the RSS slack above maxmemory.
func poolBound(limit int64) int64 {
	if limit <= 0 {
		return 32 << 20
	}
	return min(max(limit/8, 1<<20), 256<<20)
}

// Buffers returns the store's pool of large buffers, for other holders of
// large transient buffers (a connection's read buffer) to share.
func (st *Store) Buffers() *bufpool.Pool { return st.bufs }

// newPolicy builds the store's policy; its clock is the time of the event
// being drained (set under the policy lock), so policies read no clock.
func (st *Store) newPolicy(name string) evict.Policy {
	o := st.evictOpts
	o.Now = func() int64 { return st.pol.now }
	// Capacity is not maxmemory: that also pays for tables and buffers,
	// and as a capacity it would overstate the room for entries and size
	// the policy's window, segments and tuner for a cache that is not
	// there. Evict sets it (sizePolLocked).
	o.Capacity = st.pol.capac
	p, err := evict.New(name, o)
	if err != nil {
		panic("BUG: policy validated at New: " + err.Error())
	}
	return p
}

// NowMs reads the store's clock in unix milliseconds.
func (st *Store) NowMs() int64 { return st.clock.Now().UnixMilli() }

// Clock returns the store's clock.
func (st *Store) Clock() expire.Clock { return st.clock }

// Databases returns the number of logical databases.
func (st *Store) Databases() int { return len(st.dbmap) }

// NumShards returns the number of shards.
func (st *Store) NumShards() int { return len(st.shards) }

// Hash returns the key's 64-bit hash; it picks the shard and is passed to
// the shard's methods.
func (st *Store) Hash(key []byte) uint64 { return maphash.Bytes(st.seed, key) }

func (st *Store) hash(key []byte) uint64 { return maphash.Bytes(st.seed, key) }

// ShardFor returns the shard that holds keys with hash h.
func (st *Store) ShardFor(h uint64) *Shard { return &st.shards[h&st.mask] }

// ShardOf returns the index of the shard holding key (eviction starts
// there).
func (st *Store) ShardOf(key []byte) int { return int(st.hash(key) & st.mask) }

// Shard returns shard i.
func (st *Store) Shard(i int) *Shard { return &st.shards[i] }

func (st *Store) logical(pdb uint16) int { return int(st.dbrev[pdb]) }

// LockAll locks every shard in index order (transactions, FLUSH*, SWAPDB).
func (st *Store) LockAll() {
	st.allMu.Lock()
	for i := range st.shards {
		st.shards[i].mu.Lock()
	}
}

// UnlockAll undoes LockAll.
func (st *Store) UnlockAll() {
	for i := range st.shards {
		st.shards[i].mu.Unlock()
	}
	st.allMu.Unlock()
	st.maintain()
}

// MaxMemory returns the memory bound in bytes (0 = none).
func (st *Store) MaxMemory() int64 { return st.maxmemory.Load() }

// SetMaxMemory changes the memory bound; the next writes evict down to it.
func (st *Store) SetMaxMemory(max int64) {
	st.LockAll()
	defer st.UnlockAll()
	st.setMax(max)
	st.pol.mu.Lock()
	st.pol.capac = 0
	st.pol.p.SetCapacity(0) // set anew at the next eviction
	st.pol.mu.Unlock()
}

// Policy returns the eviction policy's name.
func (st *Store) Policy() string { return st.policyName.Load().(string) }

// SetPolicy switches the eviction policy of every shard, handing the live
// entries to the new policy.
func (st *Store) SetPolicy(name string) error {
	if _, err := evict.New(name, st.evictOpts); err != nil {
		return err
	}
	st.LockAll()
	defer st.UnlockAll()
	pol := &st.pol
	pol.mu.Lock()
	defer pol.mu.Unlock()
	st.drainAllPolLocked()
	st.policyName.Store(name)
	pol.now = st.NowMs()
	p := st.newPolicy(name)
	for i := range st.shards {
		sh := &st.shards[i]
		loc := pol.local[i]
		for id, r := range sh.refs {
			if r == refFree || id >= len(loc) || loc[id] == 0 {
				continue
			}
			rec := sh.slabs.get(r)
			p.Insert(loc[id]-1, evict.Entry{
				Hash:     st.hash(recKey(rec)),
				Size:     uint32(min(allocSize(recSize(rec)), 1<<32-1)),
				Deadline: recDeadline(rec),
			})
		}
	}
	pol.p = p
	st.publishPolLocked()
	return nil
}

// SetLFU changes the LFU parameters for policies created from now on and
// switches the current policy anew so they apply.
func (st *Store) SetLFU(logFactor, decayTime int) error {
	st.evictOpts.LFULogFactor = logFactor
	st.evictOpts.LFUDecayTime = decayTime
	return st.SetPolicy(st.Policy())
}

// SetSamples changes maxmemory-samples for the current policy (in place,
// keeping its state) and for policies created from now on.
func (st *Store) SetSamples(n int) {
	pol := &st.pol
	pol.mu.Lock()
	defer pol.mu.Unlock()
	st.evictOpts.Samples = n
	if s, ok := pol.p.(evict.Sampler); ok {
		s.SetSamples(n)
	}
}

// UsedMemory sums the exact memory figures of all shards.
func (st *Store) UsedMemory() int64 {
	n := st.external.Load() + st.pol.bytes.Load()
	for i := range st.shards {
		n += st.shards[i].used.Load()
	}
	return n
}

// Fits reports whether an entry with a key of klen bytes and a value of
// vlen bytes could be held under the memory bound at all. Commands that
// build a large value (SETRANGE, APPEND, SETBIT...) ask before allocating
// it; SetLocked refuses such an entry with ErrTooLarge anyway. The sums are
// overflow-safe for any non-negative lengths.
func (st *Store) Fits(klen, vlen int64) bool {
	max := st.maxmemory.Load()
	return max <= 0 || (klen <= max && vlen <= max-klen)
}

// OverLimit reports whether the (step-wise) memory counter exceeds the
// point where writes evict: the bound less its headroom.
func (st *Store) OverLimit() bool { return st.OverLimitFor(0) }

// OverLimitFor is OverLimit for a write about to add need bytes: true when
// memory plus need would pass the point where writes evict, so eviction
// can make room before a large value arrives rather than after.
func (st *Store) OverLimitFor(need int64) bool {
	max := st.maxmemory.Load()
	return max > 0 && st.used.Load()+roomFor(need, max) > max-st.headroom(max)
}

// roomFor bounds the room eviction makes ahead of a write to half the
// budget: a larger value is refused or stored by the store itself.
func roomFor(need, limit int64) int64 { return min(max(need, 0), limit/2) }

// minSlack is the least step in which a shard reports its memory.
const minSlack = 256

// headroom is how far under maxmemory eviction aims: the shards' counter
// lag (at most max/1024 + shards*minSlack) plus max/1024 for the write that
// follows the eviction, so that used_memory at rest stays under maxmemory.
func (st *Store) headroom(max int64) int64 {
	return max/512 + int64(len(st.shards))*minSlack
}

// ErrOOM is returned by Evict when it cannot get under the bound.
//
//lint:ignore ST1005 Redis's exact error text ends with a period.
var ErrOOM = errors.New("OOM command not allowed when used memory > 'maxmemory'.")

// Evict removes entries chosen by the store-wide eviction policy, from
// whichever shard holds them, until memory is under the bound. It does
// bounded work: at most maxVictims entries per call. start is unused (the
// policy, not the caller, says where victims are). It returns the number
// evicted and ErrOOM when the store is still over the bound and nothing
// more can be evicted.
//
// A victim is chosen under the policy lock and removed from the policy at
// once, so no other caller picks it too; then, with only its shard locked,
// the choice is re-validated (the shard's events are drained first: the
// entry may have been deleted, and its local id reused, meanwhile) before
// the entry is removed.
func (st *Store) Evict(start int) (int, error) { return st.EvictFor(start, 0) }

// EvictFor is Evict ahead of a write that adds need bytes: it aims that
// much lower (at most half the budget), so memory stays under the bound
// once the write lands. As with Evict, ErrOOM means nothing could be
// evicted while memory itself (without need) is past the write point, so
// noeviction refuses writes exactly as before.
func (st *Store) EvictFor(start int, need int64) (int, error) {
	const maxVictims = 256
	max := st.maxmemory.Load()
	if max <= 0 {
		return 0, nil
	}
	_ = start
	now := st.NowMs()
	base := max - st.headroom(max)
	target := base - roomFor(need, max)
	evicted, misses, empty := 0, 0, false
	for round := 0; round < 4 && evicted == 0 && !empty && st.used.Load() > target; round++ {
		// A round that evicted nothing only lost races (its victims were
		// rewritten or removed by others meanwhile): drain and try again
		// rather than refuse the write while entries are evictable.
		misses = 0
		evicted, empty = st.evictRound(now, target, maxVictims, &misses)
	}
	st.maintain()
	if st.used.Load() <= base || evicted > 0 {
		// Under the bound, or progress was made: the next write continues.
		return evicted, nil
	}
	// Nothing evictable and over the point where writes evict (maxmemory
	// less its headroom: noeviction refuses writes that close to the bound).
	return evicted, ErrOOM
}

// evictRound evicts victims in policy order until memory is at target or
// maxVictims were evicted or went stale; empty reports that the policy had
// no victim left.
func (st *Store) evictRound(now, target int64, maxVictims int, misses *int) (evicted int, empty bool) {
	pol := &st.pol
	first := true
	for evicted < maxVictims && *misses < maxVictims && st.used.Load() > target {
		pol.mu.Lock()
		if first {
			first = false
			// Once per call: later victims' shards are drained as
			// they are re-validated, and the write this eviction makes
			// room for has not happened yet.
			st.drainAllPolLocked()
			st.sizePolLocked(target)
		}
		pol.now = now
		g, ok := pol.p.Victim()
		if !ok {
			pol.mu.Unlock()
			return evicted, true
		}
		pol.p.Remove(g)
		o, gen := pol.owner[g], pol.gen[g]
		pol.mu.Unlock()
		sh := &st.shards[o>>32]
		id := uint32(o)
		sh.mu.Lock()
		sh.nowMs = now
		pol.mu.Lock()
		cur, live := st.gidPolLocked(sh.idx, id)
		same := live && cur == g && pol.gen[g] == gen
		pol.mu.Unlock()
		if same {
			sh.removeIDLocked(id, Evicted, now)
			sh.publishLocked()
			evicted++
		} else {
			*misses++
		}
		sh.mu.Unlock()
	}
	return evicted, false
}

// ExpireShard implements expire.Target: it removes up to max due entries
// of shard i.
func (st *Store) ExpireShard(i int, nowMs int64, max int) (int, bool) {
	sh := &st.shards[i]
	sh.mu.Lock()
	n, more := sh.expireDueLocked(nowMs, max)
	// Hashes with expired fields are rewritten, not removed: they are not
	// counted as expired keys.
	if _, fmore := sh.reapFieldsLocked(nowMs, max); fmore {
		more = true
	}
	if !more && n > 0 {
		sh.CompactLocked()
	}
	sh.mu.Unlock()
	return n, more
}

// Stats are the store's counters summed over shards.
type Stats struct {
	Keys, Expires []int64 // per logical database
	Hits, Misses  []uint64
	Removed       [numReasons]uint64
	UsedMemory    int64
	MaxMemory     int64
	Entries       int64
	AvgTTL        []int64 // mean remaining TTL (ms) of entries with a TTL, per db
}

// Removed returns the removals for reason r.
func (s *Stats) RemovedBy(r Reason) uint64 { return s.Removed[r] }

// Stats sums the shards' counters, locking each shard in turn.
func (st *Store) Stats() Stats { return st.stats(false) }

func (st *Store) stats(held bool) Stats {
	n := len(st.dbmap)
	s := Stats{
		Keys: make([]int64, n), Expires: make([]int64, n),
		Hits: make([]uint64, n), Misses: make([]uint64, n),
		AvgTTL:    make([]int64, n),
		MaxMemory: st.maxmemory.Load(),
	}
	now := st.NowMs()
	ttlSum := make([]float64, n)
	s.Keys, s.Expires, s.Hits, s.Misses = s.Keys[:n], s.Expires[:n], s.Hits[:n], s.Misses[:n]
	for i := range st.shards {
		sh := &st.shards[i]
		sh.lock(held)
		// Slices of length n up front, so the loops run without bounds
		// checks (INFO sums 64 shards x 16 databases).
		keys, exps, hits, miss, ttls := sh.stats.Keys[:n], sh.stats.Expires[:n], sh.stats.Hits[:n], sh.stats.Misses[:n], sh.stats.TTLSum[:n]
		for db := range n {
			s.Keys[db] += keys[db]
			s.Hits[db] += hits[db]
			s.Misses[db] += miss[db]
			if c := exps[db]; c > 0 {
				s.Expires[db] += c
				ttlSum[db] += float64(ttls[db]) + float64(c)*float64(sh.base-now)
			}
		}
		for r := range s.Removed {
			s.Removed[r] += sh.stats.Removed[r]
		}
		s.Entries += int64(sh.count)
		sh.unlock(held)
	}
	s.UsedMemory = st.UsedMemory()
	for db := range s.AvgTTL {
		if s.Expires[db] > 0 {
			s.AvgTTL[db] = max(int64(ttlSum[db]/float64(s.Expires[db])), 0)
		}
	}
	return s
}

// Removed returns the number of entries removed for reason r, store-wide
// (one counter per shard, read under each shard's lock).
func (st *Store) Removed(r Reason) uint64 {
	var n uint64
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		n += sh.stats.Removed[r]
		sh.mu.Unlock()
	}
	return n
}

// ResetStats zeroes hit and miss counters (CONFIG RESETSTAT).
func (st *Store) ResetStats() {
	for i := range st.shards {
		sh := &st.shards[i]
		sh.mu.Lock()
		clear(sh.stats.Hits)
		clear(sh.stats.Misses)
		sh.stats.Removed = [numReasons]uint64{}
		sh.mu.Unlock()
	}
}

// DBSize returns the number of entries in logical database db (expired
// entries not yet reclaimed included, like Redis).
func (st *Store) DBSize(db int) int64 { return st.dbSize(db, false) }

func (st *Store) dbSize(db int, held bool) int64 {
	var n int64
	for i := range st.shards {
		sh := &st.shards[i]
		sh.lock(held)
		n += sh.stats.Keys[db]
		sh.unlock(held)
	}
	return n
}

// FlushDBLocked removes every entry of logical database db; the caller
// holds all shard locks. It returns the number removed.
func (st *Store) FlushDBLocked(db int) int {
	now := st.NowMs()
	pdb := st.dbmap[db]
	n := 0
	for i := range st.shards {
		sh := &st.shards[i]
		sh.dirtyAllLocked(int(pdb))
		if len(st.dbmap) == 1 || sh.stats.Keys[db] == int64(sh.count) {
			n += sh.count
			sh.resetLocked(Deleted, now)
			continue
		}
		for id, r := range sh.refs {
			if r == refFree {
				continue
			}
			if rec := sh.slabs.get(r); recDB(rec) == pdb {
				sh.removeIDLocked(uint32(id), Deleted, now)
				n++
			}
		}
		sh.CompactLocked()
		sh.publishLocked()
	}
	return n
}

// FlushAllLocked removes every entry; the caller holds all shard locks.
func (st *Store) FlushAllLocked() int {
	now := st.NowMs()
	n := 0
	for i := range st.shards {
		sh := &st.shards[i]
		sh.dirtyAllLocked(-1)
		n += sh.count
		sh.resetLocked(Deleted, now)
	}
	return n
}

// resetLocked empties the shard, keeping its counters, watches and stats.
func (sh *Shard) resetLocked(reason Reason, now int64) {
	if sh.st.hooks != nil {
		for id, r := range sh.refs {
			if r == refFree {
				continue
			}
			rec := sh.slabs.get(r)
			m := recMeta(rec)
			sh.st.hooks.Removed(sh.idx, uint32(id), sh.st.logical(recDB(rec)), recKey(rec), &m, reason)
		}
	}
	sh.stats.Removed[reason] += uint64(sh.count)
	sh.st.forgetShardPol(sh.idx)
	hits, misses, removed, watch := sh.stats.Hits, sh.stats.Misses, sh.stats.Removed, sh.watch
	sh.stats = ShardStats{}
	sh.stats.Hits, sh.stats.Misses, sh.stats.Removed = hits, misses, removed
	sh.init(sh.st, sh.idx, now)
	sh.watch = watch
}

// SwapDBLocked swaps logical databases a and b; the caller holds all shard
// locks.
func (st *Store) SwapDBLocked(a, b int) {
	if a == b {
		return
	}
	pa, pb := st.dbmap[a], st.dbmap[b]
	st.dbmap[a], st.dbmap[b] = pb, pa
	st.dbrev[pa], st.dbrev[pb] = uint16(b), uint16(a)
	for i := range st.shards {
		sh := &st.shards[i]
		sh.dirtyAllLocked(int(pa))
		sh.dirtyAllLocked(int(pb))
		sh.stats.Keys[a], sh.stats.Keys[b] = sh.stats.Keys[b], sh.stats.Keys[a]
		sh.stats.Expires[a], sh.stats.Expires[b] = sh.stats.Expires[b], sh.stats.Expires[a]
		sh.stats.TTLSum[a], sh.stats.TTLSum[b] = sh.stats.TTLSum[b], sh.stats.TTLSum[a]
		sh.stats.Hits[a], sh.stats.Hits[b] = sh.stats.Hits[b], sh.stats.Hits[a]
		sh.stats.Misses[a], sh.stats.Misses[b] = sh.stats.Misses[b], sh.stats.Misses[a]
	}
}

// Scan visits live keys of logical database db starting at cursor, calling
// fn for each (key is valid only during the call; fn must not use the
// store). It visits about count entries and returns the next cursor, 0 when
// the scan is complete. Every key present for the whole scan is returned
// exactly once: the cursor walks entry ids, which never move.
func (st *Store) Scan(db int, cursor uint64, count int, fn func(key []byte, typ uint8)) uint64 {
	return st.scan(db, cursor, count, false, fn)
}

// scan is Scan; held says the caller holds every shard lock.
func (st *Store) scan(db int, cursor uint64, count int, held bool, fn func(key []byte, typ uint8)) uint64 {
	if count < 1 {
		count = 10
	}
	shardIdx := int(cursor >> 32)
	id := uint32(cursor)
	now := st.NowMs()
	emitted, visited := 0, 0
	for shardIdx < len(st.shards) {
		sh := &st.shards[shardIdx]
		sh.lock(held)
		pdb := st.dbmap[db]
		for int(id) < len(sh.refs) {
			r := sh.refs[id]
			cur := id
			id++
			visited++
			if r != refFree {
				rec := sh.slabs.get(r)
				if recDB(rec) == pdb && sh.aliveLocked(cur, rec, now) {
					fn(recKey(rec), recType(rec))
					emitted++
				}
			}
			if emitted >= count || visited >= count*16 {
				sh.unlock(held)
				if int(id) >= len(sh.refs) {
					shardIdx, id = shardIdx+1, 0
					if shardIdx >= len(st.shards) {
						return 0
					}
				}
				return uint64(shardIdx)<<32 | uint64(id)
			}
		}
		sh.unlock(held)
		shardIdx, id = shardIdx+1, 0
	}
	return 0
}

func (sh *Shard) lock(held bool) {
	if !held {
		sh.mu.Lock()
	}
}

func (sh *Shard) unlock(held bool) {
	if !held {
		sh.mu.Unlock()
	}
}

// RandomKey returns a random live key of logical database db (appended to
// dst) or ok=false when the database is empty.
func (st *Store) RandomKey(db int, dst []byte, rnd uint64) ([]byte, bool) {
	return st.randomKey(db, dst, rnd, false)
}

func (st *Store) randomKey(db int, dst []byte, rnd uint64, held bool) ([]byte, bool) {
	now := st.NowMs()
	n := len(st.shards)
	for tries := 0; tries < n*4; tries++ {
		rnd = rnd*6364136223846793005 + 1442695040888963407
		sh := &st.shards[int(rnd>>33)%n]
		sh.lock(held)
		if sh.stats.Keys[db] > 0 && len(sh.refs) > 0 {
			pdb := st.dbmap[db]
			for k := 0; k < 64; k++ {
				rnd = rnd*6364136223846793005 + 1442695040888963407
				r := sh.refs[int(rnd>>33)%len(sh.refs)]
				if r == refFree {
					continue
				}
				rec := sh.slabs.get(r)
				if recDB(rec) != pdb || !sh.aliveLocked(uint32(int(rnd>>33)%len(sh.refs)), rec, now) {
					continue
				}
				dst = append(dst, recKey(rec)...)
				sh.unlock(held)
				return dst, true
			}
		}
		sh.unlock(held)
	}
	// Sparse database: fall back to a walk.
	var found bool
	cursor := uint64(0)
	for {
		cursor = st.scan(db, cursor, 64, held, func(key []byte, _ uint8) {
			if !found {
				dst = append(dst, key...)
				found = true
			}
		})
		if found || cursor == 0 {
			return dst, found
		}
	}
}

// SetHooks installs the hooks (before the store is used).
func (st *Store) SetHooks(h Hooks) { st.hooks = h }

// ObserveMisses makes every counted keyspace miss (a read of a missing key
// by LookupLocked without NoStats) call fn, under the key's shard lock;
// nil stops it. It costs one atomic load per miss.
func (st *Store) ObserveMisses(fn func(db int, key []byte)) {
	if fn == nil {
		st.missObs.Store(nil)
		return
	}
	st.missObs.Store(&fn)
}

// Hooks returns the installed hooks.
func (st *Store) Hooks() Hooks { return st.hooks }

// AddMemory accounts memory held outside the shards (the tag registry).
func (st *Store) AddMemory(delta int64) {
	st.used.Add(delta)
	st.external.Add(delta)
}
