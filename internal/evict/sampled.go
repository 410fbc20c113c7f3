package evict

import "math"

// kind selects what a sampled policy ranks entries by.
type kind uint8

const (
	kindNone   kind = iota // noeviction: never evicts
	kindLRU                // idle time
	kindLFU                // Redis's logarithmic counter
	kindRandom             // uniform pick, no ranking
	kindTTL                // nearest deadline
)

const (
	// posOutside marks a live entry that is not in the evictable set (an
	// entry without deadline under a volatile-* policy, or any entry under
	// noeviction).
	posOutside = ^uint32(0)

	// defaultSamples is Redis's default maxmemory-samples.
	defaultSamples = 5

	// lfuInitVal is Redis's LFU_INIT_VAL: the counter of a new entry, so
	// that it is not evicted before it had a chance to be accessed.
	lfuInitVal = 5

	// stampRebase is when the relative millisecond clock is moved forward
	// (about 37 days after the base) and stampKeep how much history it keeps
	// (about 12 days): entries idle for longer than that report that much.
	stampRebase = 3 << 30
	stampKeep   = 1 << 30
)

// sampled implements every Redis policy: noeviction, *-lru, *-lfu, *-random
// and volatile-ttl. The evictable entries (all of them, or only those with a
// deadline under volatile-*) live in a dense id array with a position index,
// so a uniform random pick and a removal are O(1).
//
// Per id it keeps 8 bytes (position and meta), plus 4 bytes of the dense
// array for evictable entries, plus 8 bytes of deadline for volatile-ttl.
// It is not safe for concurrent use.
type sampled struct {
	name     string
	kind     kind
	volatile bool
	opts     Options
	rng      rng
	samples  int // maxmemory-samples

	pos      []uint32 // 0: absent; posOutside: live, not evictable; else index+1 in set
	meta     []uint32 // LRU clock (ms since base) or, for LFU, ldt<<8 | counter
	deadline []int64  // only for volatile-ttl
	set      []uint32 // evictable ids
	n        int      // live entries
	base     int64    // unix ms of meta stamp 0
	pool     evictionPool
}

func newSampled(name string, k kind, volatile bool, o Options) *sampled {
	return &sampled{
		name:     name,
		kind:     k,
		volatile: volatile,
		opts:     o,
		rng:      rng{s: o.Seed},
		base:     o.Now(),
		samples:  samplesOrDefault(o.Samples),
	}
}

func samplesOrDefault(n int) int {
	if n < 1 {
		return defaultSamples
	}
	return n
}

// SetSamples implements Sampler.
func (p *sampled) SetSamples(n int) { p.samples = samplesOrDefault(n) }

func (p *sampled) Name() string { return p.name }

func (p *sampled) Len() int { return p.n }

func (p *sampled) SetCapacity(int64) {}

func (p *sampled) Bytes() int64 {
	return int64(cap(p.pos))*4 + int64(cap(p.meta))*4 + int64(cap(p.deadline))*8 +
		int64(cap(p.set))*4 + 160
}

func (p *sampled) live(id uint32) bool {
	return id < uint32(len(p.pos)) && p.pos[id] != 0
}

// evictable reports whether an entry belongs in the sampled set.
func (p *sampled) evictable(e Entry) bool {
	switch {
	case p.kind == kindNone:
		return false
	case p.volatile:
		return e.Deadline != 0
	}
	return true
}

func (p *sampled) Insert(id uint32, e Entry) {
	if p.live(id) {
		p.Remove(id)
	}
	p.pos = grow(p.pos, id)
	p.meta = grow(p.meta, id)
	if p.kind == kindLFU {
		p.meta[id] = p.lfuMinutes()<<8 | lfuInitVal
	} else {
		p.meta[id] = p.stamp()
	}
	if p.kind == kindTTL {
		p.deadline = grow(p.deadline, id)
		p.deadline[id] = e.Deadline
	}
	p.pos[id] = posOutside
	if p.evictable(e) {
		p.addToSet(id)
	}
	p.n++
}

func (p *sampled) Access(id uint32) {
	if !p.live(id) {
		return
	}
	if p.kind == kindLFU {
		c := p.lfuLogIncr(p.lfuDecr(p.meta[id]))
		p.meta[id] = p.lfuMinutes()<<8 | c
		return
	}
	p.meta[id] = p.stamp()
}

func (p *sampled) Update(id uint32, e Entry) {
	if !p.live(id) {
		return
	}
	if p.kind == kindTTL && p.deadline[id] != e.Deadline {
		p.deadline[id] = e.Deadline
		p.pool.remove(id) // its pooled score is stale
	}
	in := p.pos[id] != posOutside
	switch want := p.evictable(e); {
	case want && !in:
		p.addToSet(id)
	case !want && in:
		p.removeFromSet(id)
		p.pos[id] = posOutside
	}
}

func (p *sampled) Remove(id uint32) {
	if !p.live(id) {
		return
	}
	if p.pos[id] != posOutside {
		p.removeFromSet(id)
	}
	p.pos[id] = 0
	p.n--
}

func (p *sampled) addToSet(id uint32) {
	p.set = append(p.set, id)
	p.pos[id] = uint32(len(p.set))
}

func (p *sampled) removeFromSet(id uint32) {
	i := p.pos[id] - 1
	last := p.set[len(p.set)-1]
	p.set[i] = last
	p.pos[last] = i + 1
	p.set = p.set[:len(p.set)-1]
	p.pool.remove(id)
}

func (p *sampled) Victim() (uint32, bool) {
	if len(p.set) == 0 {
		return 0, false
	}
	n := uint32(len(p.set))
	if p.kind == kindRandom {
		return p.set[p.rng.intn(n)], true
	}
	// Redis's evictionPoolPopulate: sample, keep the best 16 across calls.
	var now uint32
	if p.kind == kindLRU {
		now = p.stamp()
	}
	for range p.samples {
		id := p.set[p.rng.intn(n)]
		if p.pool.has(id) {
			continue
		}
		var score uint64
		switch p.kind {
		case kindLRU:
			score = uint64(since(now, p.meta[id]))
		case kindLFU:
			score = 255 - uint64(p.lfuDecr(p.meta[id]))
		case kindTTL:
			score = math.MaxUint64 - uint64(p.deadline[id])
		}
		p.pool.insert(score, id)
	}
	return p.pool.best()
}

func (p *sampled) Freq(id uint32) (int, bool) {
	if p.kind != kindLFU || !p.live(id) {
		return 0, false
	}
	return int(p.lfuDecr(p.meta[id])), true
}

func (p *sampled) IdleMillis(id uint32) (int64, bool) {
	if p.kind == kindLFU || !p.live(id) {
		return 0, false
	}
	return int64(since(p.stamp(), p.meta[id])), true
}

// stamp returns the current time in ms since base, moving base forward (and
// every stamp with it) when the 32-bit range runs out.
func (p *sampled) stamp() uint32 {
	rel := p.opts.Now() - p.base
	if rel < 0 {
		return 0
	}
	if rel >= stampRebase {
		p.rebase(rel - stampKeep)
		rel = stampKeep
	}
	return uint32(rel)
}

// since returns now-then, or 0 when then is later (the clock went back).
func since(now, then uint32) uint32 {
	if then > now {
		return 0
	}
	return now - then
}

// rebase moves base forward by shift ms; stamps older than the new base
// become 0. O(ids), once every few weeks.
func (p *sampled) rebase(shift int64) {
	p.base += shift
	for id, pos := range p.pos {
		if pos == 0 {
			continue
		}
		if int64(p.meta[id]) <= shift {
			p.meta[id] = 0
		} else {
			p.meta[id] -= uint32(shift)
		}
	}
}

// lfuMinutes is Redis's LFUGetTimeInMinutes: a 16-bit minutes clock.
func (p *sampled) lfuMinutes() uint32 {
	return uint32(p.opts.Now()/60000) & 0xffff
}

// lfuDecr is Redis's LFUDecrAndReturn: the counter after decay, not stored.
func (p *sampled) lfuDecr(m uint32) uint32 {
	ldt, c := m>>8, m&255
	if p.opts.LFUDecayTime <= 0 {
		return c
	}
	now := p.lfuMinutes()
	var elapsed uint32
	if now >= ldt {
		elapsed = now - ldt
	} else {
		elapsed = 65535 - ldt + now
	}
	periods := elapsed / uint32(p.opts.LFUDecayTime)
	if periods >= c {
		return 0
	}
	return c - periods
}

// lfuLogIncr is Redis's LFULogIncr: increment with probability
// 1/((c-LFU_INIT_VAL)*lfu-log-factor+1).
func (p *sampled) lfuLogIncr(c uint32) uint32 {
	if c == 255 {
		return 255
	}
	base := float64(c) - lfuInitVal
	if base < 0 {
		base = 0
	}
	if p.rng.float() < 1/(base*float64(p.opts.LFULogFactor)+1) {
		c++
	}
	return c
}

// evictionPool is Redis's EVPOOL: up to 16 candidates sorted by ascending
// score; the last one is evicted first. It lives across Victim calls; ids
// leave it when removed from the policy, so it only holds live ids.
type evictionPool struct {
	e [16]poolEntry
	n int
}

type poolEntry struct {
	score uint64
	id    uint32
}

func (p *evictionPool) has(id uint32) bool {
	for i := range p.n {
		if p.e[i].id == id {
			return true
		}
	}
	return false
}

// insert follows evictionPoolPopulate: a full pool drops its best-kept
// (lowest score) entry to make room, and ignores a worse candidate.
func (p *evictionPool) insert(score uint64, id uint32) {
	k := 0
	for k < p.n && p.e[k].score < score {
		k++
	}
	switch {
	case k == 0 && p.n == len(p.e):
		return
	case p.n < len(p.e):
		copy(p.e[k+1:p.n+1], p.e[k:p.n])
		p.n++
	default:
		k--
		copy(p.e[:k], p.e[1:k+1])
	}
	p.e[k] = poolEntry{score: score, id: id}
}

func (p *evictionPool) best() (uint32, bool) {
	if p.n == 0 {
		return 0, false
	}
	return p.e[p.n-1].id, true
}

func (p *evictionPool) remove(id uint32) {
	for i := range p.n {
		if p.e[i].id == id {
			copy(p.e[i:p.n-1], p.e[i+1:p.n])
			p.n--
			return
		}
	}
}
