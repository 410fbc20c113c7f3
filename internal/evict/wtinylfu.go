package evict

import "math/bits"

// Queues of the W-TinyLFU policy, stored in the top two bits of meta.
const (
	qNone uint32 = iota
	qWindow
	qProbation
	qProtected
)

const (
	linkBits = 28
	linkMask = 1<<linkBits - 1
	// nilID terminates the intrusive lists; ids must be below it.
	nilID      = linkMask
	sizeShift  = 2 * linkBits
	stampMask  = 1<<30 - 1
	queueShift = 30

	// Caffeine's constants.
	percentMain          = 0.99 // the window starts at 1%
	percentMainProtected = 0.80 // of main
	queueTransferMax     = 1000 // entries moved per step of a window change
	admitHashDoSMin      = 6    // candidate frequency that may win at random

	// fullSlack is the least number of Inserts without a Victim call after
	// which the cache counts as having room again (at least 1/16 of the
	// entries).
	fullSlack = 64
)

// wtinylfu is W-TinyLFU with an adaptive window, after Caffeine and otter.
//
// New entries enter an LRU window. When the window is over its share, its
// least recent entry is a candidate for the main area, a segmented LRU of
// probation and protected entries. Once the cache is full, the candidate only
// gets in if the count-min sketch says it is requested more often than the
// victim, the least recent probation entry; otherwise the candidate is the
// one evicted. A frequency history that outlives residency makes the cache
// scan resistant, and the window lets a new entry that is requested again
// soon build up the frequency it needs.
//
// The window's share adapts to the workload: a tuner (see tuner) replays a
// hashed sample of the keys through small copies of the cache with different
// window sizes and moves the window to the best one.
//
// Per id it keeps 16 bytes: prev/next links and a size code (8), queue and a
// seconds-resolution access stamp (4), and a 32-bit key hash (4). The sketch
// adds 8 counters of 4 bits (4 to 8 bytes) per entry, the tuner a few
// thousand entries' worth in all.
//
// It is not safe for concurrent use.
type wtinylfu struct {
	opts Options
	rng  rng

	links []uint64 // prev | next<<28 | sizeCode<<56
	meta  []uint32 // queue<<30 | seconds since base
	hash  []uint32

	q        [4]queue // indexed by qWindow, qProbation, qProtected
	n        int
	base     int64 // unix ms of stamp 0
	sk       *sketch
	capacity int64 // in size units; 0 until known

	windowMax    int64
	protectedMax int64
	pending      int64 // window change still to make by moving entries, in size units

	// sinceVictim counts Inserts since the last Victim call. While it is
	// small the store is at its budget (it may evict in bursts, before or
	// after inserting), so window overflow must pass admission instead of
	// flowing into main. everFull is set by the first Victim call.
	sinceVictim int
	everFull    bool

	// mini marks a tuner's miniature simulation: it reads the owner's
	// sketch but does not update it, keeps no stamps and does not tune.
	mini  bool
	tuner *tuner
}

type queue struct {
	head, tail uint32
	size       int64
	n          int
}

func newWTinyLFU(o Options) *wtinylfu {
	p := &wtinylfu{opts: o, rng: rng{s: o.Seed}, base: o.Now(), sk: new(sketch)}
	p.init()
	p.SetCapacity(o.Capacity)
	return p
}

func (p *wtinylfu) init() {
	for i := range p.q {
		p.q[i] = queue{head: nilID, tail: nilID}
	}
}

func (p *wtinylfu) Name() string { return AllKeysWTinyLFU }

func (p *wtinylfu) Len() int { return p.n }

func (p *wtinylfu) Bytes() int64 {
	b := int64(cap(p.links))*8 + int64(cap(p.meta))*4 + int64(cap(p.hash))*4 + 256
	if !p.mini {
		b += p.sk.bytes()
	}
	if p.tuner != nil {
		b += p.tuner.bytes()
	}
	return b
}

// SetCapacity resizes window and protected area in proportion.
func (p *wtinylfu) SetCapacity(c int64) {
	c = max(c, 0)
	old := p.capacity
	p.capacity = c
	p.pending = 0
	if old == 0 || c == 0 {
		p.windowMax = c - int64(percentMain*float64(c))
		p.protectedMax = int64(percentMainProtected * float64(c-p.windowMax))
	} else {
		scale := float64(c) / float64(old)
		p.windowMax = int64(float64(p.windowMax) * scale)
		p.protectedMax = int64(float64(p.protectedMax) * scale)
	}
	if p.tuner != nil && old != c {
		p.tuner = nil // rebuilt for the new size at the next Victim
	}
	p.demote()
}

// setFraction sets the window to fraction f of the capacity. Its space comes
// out of the protected area first, as in Caffeine: probation keeps about 20%
// of main's initial share until the window takes more than 80%.
func (p *wtinylfu) setFraction(f float64) {
	c := p.capacity
	initial := c - int64(percentMain*float64(c))
	p.windowMax = int64(f * float64(c))
	p.protectedMax = max(0, int64(percentMainProtected*float64(c-initial))-(p.windowMax-initial))
}

func (p *wtinylfu) live(id uint32) bool {
	return id < uint32(len(p.meta)) && p.meta[id]>>queueShift != qNone
}

func (p *wtinylfu) queueOf(id uint32) uint32 { return p.meta[id] >> queueShift }

func (p *wtinylfu) prev(id uint32) uint32 { return uint32(p.links[id] & linkMask) }
func (p *wtinylfu) next(id uint32) uint32 { return uint32(p.links[id] >> linkBits & linkMask) }
func (p *wtinylfu) size(id uint32) int64  { return decodeSize(uint8(p.links[id] >> sizeShift)) }

func (p *wtinylfu) setPrev(id, v uint32) {
	p.links[id] = p.links[id]&^linkMask | uint64(v)
}

func (p *wtinylfu) setNext(id, v uint32) {
	p.links[id] = p.links[id]&^(linkMask<<linkBits) | uint64(v)<<linkBits
}

// push appends id at the most recent end of queue k.
func (p *wtinylfu) push(k, id uint32) {
	q := &p.q[k]
	t := q.tail
	p.links[id] = p.links[id]&^(1<<sizeShift-1) | uint64(nilID)<<linkBits | uint64(t)
	if t == nilID {
		q.head = id
	} else {
		p.setNext(t, id)
	}
	q.tail = id
	q.size += p.size(id)
	q.n++
	p.meta[id] = p.meta[id]&stampMask | k<<queueShift
}

// unlink takes id out of its queue; its queue bits are left as they are.
func (p *wtinylfu) unlink(id uint32) {
	q := &p.q[p.queueOf(id)]
	pr, nx := p.prev(id), p.next(id)
	if pr == nilID {
		q.head = nx
	} else {
		p.setNext(pr, nx)
	}
	if nx == nilID {
		q.tail = pr
	} else {
		p.setPrev(nx, pr)
	}
	q.size -= p.size(id)
	q.n--
}

func (p *wtinylfu) move(k, id uint32) {
	p.unlink(id)
	p.push(k, id)
}

func (p *wtinylfu) total() int64 {
	return p.q[qWindow].size + p.q[qProbation].size + p.q[qProtected].size
}

// seconds returns the access stamp for now.
func (p *wtinylfu) seconds() uint32 {
	rel := (p.opts.Now() - p.base) / 1000
	switch {
	case rel < 0:
		return 0
	case rel > stampMask:
		return stampMask
	}
	return uint32(rel)
}

func (p *wtinylfu) Insert(id uint32, e Entry) {
	if id >= nilID {
		panic("evict: BUG: id out of range")
	}
	if p.live(id) {
		p.Remove(id)
	}
	p.links = grow(p.links, id)
	p.meta = grow(p.meta, id)
	p.hash = grow(p.hash, id)
	h := uint32(e.Hash ^ e.Hash>>32)
	p.hash[id] = h
	p.links[id] = uint64(encodeSize(e.Size)) << sizeShift
	p.meta[id] = 0
	p.n++
	if !p.mini {
		p.meta[id] = p.seconds()
		if p.capacity > 0 {
			// Without a capacity nothing is evicted yet: no sketch
			// until there is (SetCapacity, or the first Victim).
			p.sk.ensure(p.n)
		}
		p.sk.increment(h)
		if p.tuner == nil && !p.everFull && p.n == tunerEarlyStart && p.capacity > 0 {
			// Start tuning while the cache fills, assuming the entries
			// seen so far are of typical size.
			p.tuner = newTuner(p, int(p.capacity*int64(p.n)/max(1, p.total())))
		}
		if p.tuner != nil {
			p.tuner.record(h)
		}
	}
	p.push(qWindow, id)

	p.sinceVictim++
	if !p.everFull || p.sinceVictim > max(fullSlack, p.n/16) {
		p.drain()
	}
	if p.pending != 0 || p.q[qProtected].size > p.protectedMax {
		p.rebalance()
	}
}

func (p *wtinylfu) Access(id uint32) {
	if !p.live(id) {
		return
	}
	if !p.mini {
		h := p.hash[id]
		p.sk.increment(h)
		p.meta[id] = p.meta[id]&^stampMask | p.seconds()
		if p.tuner != nil {
			p.tuner.record(h)
		}
	}
	switch p.queueOf(id) {
	case qWindow:
		p.move(qWindow, id)
	case qProbation:
		p.move(qProtected, id)
		p.demote()
	case qProtected:
		p.move(qProtected, id)
	}
	if p.pending != 0 || p.q[qProtected].size > p.protectedMax {
		p.rebalance()
	}
}

func (p *wtinylfu) Update(id uint32, e Entry) {
	if !p.live(id) {
		return
	}
	k := p.queueOf(id)
	old := p.size(id)
	p.links[id] = p.links[id]&(1<<sizeShift-1) | uint64(encodeSize(e.Size))<<sizeShift
	p.q[k].size += p.size(id) - old
	if k == qProtected {
		p.demote()
	}
}

func (p *wtinylfu) Remove(id uint32) {
	if !p.live(id) {
		return
	}
	p.unlink(id)
	p.meta[id] = 0
	p.n--
}

func (p *wtinylfu) Victim() (uint32, bool) {
	p.sinceVictim = 0
	if p.n == 0 {
		return 0, false
	}
	if p.capacity == 0 && !p.mini {
		// No capacity given: learn it from when the store evicts.
		p.SetCapacity(p.total())
	}
	if !p.mini {
		if t := p.tuner; t == nil || p.n > 2*t.nEst || 2*p.n < t.nEst {
			p.tuner = newTuner(p, p.n)
		}
	}
	p.everFull = true
	w := &p.q[qWindow]
	if w.size > p.windowMax && w.n > 0 {
		cand := w.head
		vict, ok := p.mainVictim()
		if !ok || p.size(cand) > p.capacity {
			return cand, true
		}
		if p.admit(p.hash[cand], p.hash[vict]) {
			p.move(qProbation, cand)
			return vict, true
		}
		return cand, true
	}
	if v, ok := p.mainVictim(); ok {
		return v, true
	}
	return w.head, true
}

func (p *wtinylfu) mainVictim() (uint32, bool) {
	if p.q[qProbation].n > 0 {
		return p.q[qProbation].head, true
	}
	if p.q[qProtected].n > 0 {
		return p.q[qProtected].head, true
	}
	return 0, false
}

// admit reports whether the candidate should replace the victim. A warm
// candidate wins at random 1 in 128 times, so that an attacker cannot keep
// the cache closed by inflating the victims' counters.
func (p *wtinylfu) admit(cand, vict uint32) bool {
	cf := p.sk.frequency(cand)
	vf := p.sk.frequency(vict)
	if cf > vf {
		return true
	}
	return cf >= admitHashDoSMin && p.rng.next()&127 == 0
}

// drain moves the window's overflow to probation while the cache has room
// (no admission test needed).
func (p *wtinylfu) drain() {
	w := &p.q[qWindow]
	for w.size > p.windowMax && w.n > 1 {
		p.move(qProbation, w.head)
	}
}

// demote moves the least recent protected entries to probation while the
// protected area is over its share, at most queueTransferMax at a time.
func (p *wtinylfu) demote() {
	pq := &p.q[qProtected]
	for i := 0; pq.size > p.protectedMax && pq.n > 0 && i < queueTransferMax; i++ {
		p.move(qProbation, pq.head)
	}
}

// setWindow moves the window to fraction f of the capacity. As in Caffeine,
// a larger window takes main's least recent entries (probation first), a
// smaller one hands its least recent entries to probation; either way at most
// queueTransferMax entries move per call.
func (p *wtinylfu) setWindow(f float64) {
	old := p.windowMax
	p.setFraction(f)
	p.pending = p.windowMax - old
	p.rebalance()
}

// rebalance continues a window change, and demotes protected entries while
// the protected area is over its share.
func (p *wtinylfu) rebalance() {
	w := &p.q[qWindow]
	for i := 0; i < queueTransferMax && p.pending < 0; i++ {
		if w.size <= p.windowMax {
			p.pending = 0
			break
		}
		id := w.head
		p.pending += p.size(id)
		p.move(qProbation, id)
	}
	for i := 0; i < queueTransferMax && p.pending > 0; i++ {
		id := p.q[qProbation].head
		if id == nilID {
			id = p.q[qProtected].head
		}
		if id == nilID || w.size+p.size(id) > p.windowMax {
			p.pending = 0
			break
		}
		p.pending -= p.size(id)
		p.move(qWindow, id)
	}
	p.demote()
}

func (p *wtinylfu) Freq(id uint32) (int, bool) {
	if !p.live(id) {
		return 0, false
	}
	return p.sk.frequency(p.hash[id]), true
}

func (p *wtinylfu) IdleMillis(id uint32) (int64, bool) {
	if !p.live(id) {
		return 0, false
	}
	s := p.meta[id] & stampMask
	now := p.seconds()
	if s > now {
		return 0, true
	}
	return int64(now-s) * 1000, true
}

// encodeSize packs a size into 8 bits: exact below 16, else 4 significant
// bits and an exponent, rounded to nearest (within 1/16). Queue sizes add
// and subtract the decoded value, so they stay consistent.
func encodeSize(s uint32) uint8 {
	if s < 16 {
		return uint8(s)
	}
	e := uint32(bits.Len32(s)) - 4
	q := (uint64(s) + 1<<(e-1)) >> e // 8..16
	if q == 16 {
		q = 8
		e++
	}
	return uint8(16 + (e-1)*8 + uint32(q-8))
}

func decodeSize(c uint8) int64 {
	if c < 16 {
		return int64(c)
	}
	e := uint32(c-16)/8 + 1
	q := int64(8 + (c-16)%8)
	return q << e
}
