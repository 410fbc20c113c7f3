package store

import (
	mathbits "math/bits"
	"sync"
	"sync/atomic"

	"github.com/cachesrv/cachesrv/internal/evict"
)

// One eviction policy for the whole store.
//
// The policy sees every entry of every shard, so admission compares
// store-wide frequencies and victims come in store-wide policy order from any
// shard: a 2,000-key cache over 64 shards behaves like one 2,000-key cache,
// not like 64 caches of 31 keys.
//
// Shards do not call the policy. Under their own lock they record events in
// two per-shard rings, the shape Caffeine and otter use:
//
//   - reads (hits, overwrites' accesses) go into a lossy ring of readRing
//     slots: when it is full the access is dropped, so a read never waits;
//   - writes (insert, update, remove) go into a ring of writeRing slots that
//     is never lossy: when it is full the writer drains it itself.
//
// A maintenance pass drains the rings into the policy under the policy's
// own lock (storePolicy.mu). It runs after a shard lock is released
// (Shard.Unlock and friends) once some ring is half full, with TryLock, so
// no command waits for it and no shard lock is held while it runs. The
// exceptions drain one shard's rings under that shard's lock: a write that
// finds its ring full, OBJECT FREQ/IDLETIME, emptying a shard, and Evict's
// re-validation of a victim.
//
// Each ring has one producer (whoever holds the shard lock) and one
// consumer (whoever holds the policy lock); its head and tail are atomics.
//
// Lock order: a shard lock may be held while taking the policy lock, never
// the reverse. Evict picks a victim under the policy lock, releases it, then
// takes the victim's shard lock and re-validates the choice (see Evict).
//
// Identity: the policy names entries by a store-wide dense id (gid). The
// policy side maps (shard, local id) to gid and back; a gid is freed when the
// shard's remove of that entry is drained, so it cannot be reused while any
// ring still names the entry it stood for.
type storePolicy struct {
	mu    sync.Mutex
	p     evict.Policy
	now   int64      // the policy's clock, set per drained event
	owner []uint64   // gid -> shard<<32 | local id
	gen   []uint32   // gid -> times freed: tells a reused gid from the entry it stood for
	free  []uint32   // free gids
	local [][]uint32 // per shard: local id -> gid+1 (0: none)
	// localBytes is the capacity of the local tables in bytes, kept as
	// they grow and are dropped, so publishing the policy's memory after
	// a drain does not walk every shard's table.
	localBytes int64
	epoch      int64 // origin of the read ring's 32-bit time stamps
	bytes      atomic.Int64
	capac      int64 // the capacity last given to p; 0: p learns it itself
	report     int64 // bytes already added to Store.used, under mu

	drainReq atomic.Bool // some ring is half full
	// dirty marks the shards whose rings asked for a drain (bit i of word
	// i/64), so maintain drains those instead of touching every shard's
	// rings (64 cache lines) whenever one ring fills.
	dirty []atomic.Uint64
}

// requestDrain marks shard idx for the next maintenance pass.
func (st *Store) requestDrain(idx int) {
	w, bit := &st.pol.dirty[idx>>6], uint64(1)<<(uint(idx)&63)
	if w.Load()&bit == 0 {
		w.Or(bit)
	}
	st.pol.drainReq.Store(true)
}

const (
	readRing  = 32 // slots per shard; a power of two
	writeRing = 16 // slots per shard; a power of two
)

// Write events.
const (
	opInsert uint8 = iota
	opUpdate
	opUpdateAccess // an overwrite: Update then Access
	opRemove
)

type polOp struct {
	kind uint8
	id   uint32
	now  int64
	e    evict.Entry
}

// rings are a shard's event rings (see storePolicy).
type rings struct {
	rHead, rTail atomic.Uint32
	wHead, wTail atomic.Uint32
	reads        [readRing]uint64 // local id | (ms since epoch)<<32
	writes       [writeRing]polOp
}

const ringBytes = int64(readRing*8 + writeRing*40 + 16)

// polAccess records a read of local id at now; it drops the record when the
// ring is full. Small enough to inline into the read paths.
func (sh *Shard) polAccess(id uint32, now int64) {
	r := &sh.rings
	t := r.rTail.Load()
	if t-r.rHead.Load() >= readRing {
		return
	}
	r.reads[t&(readRing-1)] = uint64(id) | uint64(uint32(now-sh.polEpoch))<<32
	r.rTail.Store(t + 1)
	if t&(readRing/2-1) == readRing/2-1 {
		sh.st.requestDrain(sh.idx)
	}
}

// polWrite records a write event; when the ring is full it drains it
// first, under the shard lock (lock order shard -> policy).
func (sh *Shard) polWrite(kind uint8, id uint32, e evict.Entry, now int64) {
	r := &sh.rings
	t := r.wTail.Load()
	if t-r.wHead.Load() >= writeRing {
		pol := &sh.st.pol
		pol.mu.Lock()
		sh.st.drainShardPolLocked(sh.idx)
		pol.mu.Unlock()
	}
	r.writes[t&(writeRing-1)] = polOp{kind: kind, id: id, now: now, e: e}
	r.wTail.Store(t + 1)
	if t+1-r.wHead.Load() >= writeRing/2 {
		sh.st.requestDrain(sh.idx)
	}
}

// sizePolLocked gives the policy the bytes that entries may really use:
// target less everything that is not an entry (tables, rings, the policy's
// own memory, memory accounted from outside). It changes the policy's
// capacity only when that moved by more than 1/8, as a new capacity
// rescales the policy's areas and restarts its tuner.
func (st *Store) sizePolLocked(target int64) {
	var all, entries int64
	for i := range st.shards {
		u := st.shards[i].used.Load()
		all += u
		entries += u - st.shards[i].overheadA.Load()
	}
	room := target - (all - entries) - st.external.Load() - st.pol.bytes.Load()
	if room <= 0 {
		return
	}
	pol := &st.pol
	if d := room - pol.capac; pol.capac == 0 || d > pol.capac/8 || -d > pol.capac/8 {
		pol.capac = room
		pol.p.SetCapacity(room)
	}
}

// maintain drains every ring into the policy when one asked for it and
// the policy lock is free. Callers hold no shard lock. The check is small
// enough to inline into every Unlock; the drain is not.
func (st *Store) maintain() {
	if st.pol.drainReq.Load() {
		st.maintainSlow()
	}
}

func (st *Store) maintainSlow() {
	if !st.pol.mu.TryLock() {
		return
	}
	st.pol.drainReq.Store(false)
	for w := range st.pol.dirty {
		bits := st.pol.dirty[w].Swap(0)
		for bits != 0 {
			st.drainShardPolLocked(w<<6 | mathbits.TrailingZeros64(bits))
			bits &= bits - 1
		}
	}
	st.publishPolLocked()
	st.pol.mu.Unlock()
}

// drainAllPolLocked drains every shard's rings; the policy lock is held.
func (st *Store) drainAllPolLocked() {
	for i := range st.shards {
		st.drainShardPolLocked(i)
	}
	st.publishPolLocked()
}

// drainShardPolLocked feeds shard i's rings to the policy: reads first,
// then writes, each in order. A read drained after the remove of its entry
// is ignored; one drained before the insert that reused its local id counts
// for the entry that is leaving.
func (st *Store) drainShardPolLocked(i int) {
	pol := &st.pol
	r := &st.shards[i].rings
	loc := pol.local[i]
	locCap := cap(loc)
	h, t := r.rHead.Load(), r.rTail.Load()
	if h != t {
		p, epoch := pol.p, pol.epoch
		for ; h != t; h++ {
			v := r.reads[h&(readRing-1)]
			if id := uint32(v); int(id) < len(loc) && loc[id] != 0 {
				pol.now = epoch + int64(uint32(v>>32))
				p.Access(loc[id] - 1)
			}
		}
		r.rHead.Store(h)
	}
	h, t = r.wHead.Load(), r.wTail.Load()
	for ; h != t; h++ {
		op := &r.writes[h&(writeRing-1)]
		pol.now = op.now
		switch op.kind {
		case opInsert:
			for int(op.id) >= len(loc) {
				loc = append(loc, 0)
			}
			if g := loc[op.id]; g != 0 {
				pol.releaseLocked(g - 1)
			}
			g := pol.allocLocked(i, op.id)
			loc[op.id] = g + 1
			pol.p.Insert(g, op.e)
		case opUpdate, opUpdateAccess:
			if int(op.id) < len(loc) && loc[op.id] != 0 {
				pol.p.Update(loc[op.id]-1, op.e)
				if op.kind == opUpdateAccess {
					pol.p.Access(loc[op.id] - 1)
				}
			}
		case opRemove:
			if int(op.id) < len(loc) && loc[op.id] != 0 {
				pol.releaseLocked(loc[op.id] - 1)
				loc[op.id] = 0
			}
		}
	}
	r.wHead.Store(h)
	pol.local[i] = loc
	pol.localBytes += int64(cap(loc)-locCap) * 4
}

func (pol *storePolicy) allocLocked(shard int, id uint32) uint32 {
	o := uint64(shard)<<32 | uint64(id)
	if n := len(pol.free); n > 0 {
		g := pol.free[n-1]
		pol.free = pol.free[:n-1]
		pol.owner[g] = o
		return g
	}
	pol.owner = append(pol.owner, o)
	pol.gen = append(pol.gen, 0)
	return uint32(len(pol.owner) - 1)
}

// releaseLocked removes gid g from the policy and frees it.
func (pol *storePolicy) releaseLocked(g uint32) {
	pol.p.Remove(g)
	pol.free = append(pol.free, g)
	pol.gen[g]++
}

// publishPolLocked brings the policy's memory into the store's count.
func (st *Store) publishPolLocked() {
	pol := &st.pol
	b := pol.p.Bytes() + int64(cap(pol.owner))*8 + int64(cap(pol.gen))*4 + int64(cap(pol.free))*4 + pol.localBytes
	if b != pol.report {
		st.used.Add(b - pol.report)
		pol.report = b
		pol.bytes.Store(b)
	}
}

// forgetShardPolLocked drops every entry of shard i from the policy (the
// shard is being emptied); the shard lock is held, the policy lock is not.
func (st *Store) forgetShardPol(i int) {
	pol := &st.pol
	pol.mu.Lock()
	defer pol.mu.Unlock()
	st.drainShardPolLocked(i)
	for id, g := range pol.local[i] {
		if g != 0 {
			pol.releaseLocked(g - 1)
			pol.local[i][id] = 0
		}
	}
	pol.localBytes -= int64(cap(pol.local[i])) * 4
	pol.local[i] = nil
	st.publishPolLocked()
}

// gidPolLocked returns the gid of local id of shard i after draining the
// shard's rings; the shard lock and the policy lock are held.
func (st *Store) gidPolLocked(i int, id uint32) (uint32, bool) {
	st.drainShardPolLocked(i)
	loc := st.pol.local[i]
	if int(id) >= len(loc) || loc[id] == 0 {
		return 0, false
	}
	return loc[id] - 1, true
}

// polFreqLocked and polIdleLocked answer OBJECT FREQ / IDLETIME for local
// id of shard sh (whose lock is held).
func (sh *Shard) polFreqLocked(id uint32, now int64) (int, bool) {
	pol := &sh.st.pol
	pol.mu.Lock()
	defer pol.mu.Unlock()
	g, ok := sh.st.gidPolLocked(sh.idx, id)
	if !ok {
		return 0, false
	}
	pol.now = now
	return pol.p.Freq(g)
}

func (sh *Shard) polIdleLocked(id uint32, now int64) (int64, bool) {
	pol := &sh.st.pol
	pol.mu.Lock()
	defer pol.mu.Unlock()
	g, ok := sh.st.gidPolLocked(sh.idx, id)
	if !ok {
		return 0, false
	}
	pol.now = now
	return pol.p.IdleMillis(g)
}

// nextVictim is for tests: the shard and local id of the policy's next
// victim, without evicting it.
func (st *Store) nextVictim() (shard int, id uint32, ok bool) {
	pol := &st.pol
	pol.mu.Lock()
	defer pol.mu.Unlock()
	st.drainAllPolLocked()
	pol.now = st.NowMs()
	g, ok := pol.p.Victim()
	st.publishPolLocked()
	if !ok {
		return 0, 0, false
	}
	o := pol.owner[g]
	return int(o >> 32), uint32(o), true
}
