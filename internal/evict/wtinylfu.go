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
	stampMask  = 1<<30 - 1
	queueShift = 30

	// Caffeine's constants.
	percentMain          = 0.99   // the window starts at 1%
	percentMainProtected = 0.80   // of main
	climberRestart       = 0.05   // hit-rate change that resets the step
	climberStepPercent   = 0.0625 // of capacity
	climberStepDecay     = 0.98
	queueTransferMax     = 1000 // entries moved per window adjustment
	admitHashDoSMin      = 6    // candidate frequency that may win at random
)

// wtinylfu is W-TinyLFU with an adaptive window, after Caffeine and otter.
//
// New entries enter an LRU window. When the window is over its share, its
// least recent entry is a candidate for the main area, a segmented LRU of
// probation and protected entries; when the cache is full, the candidate only
// gets in if the count-min sketch says it is requested more often than the
// main area's least valuable entry, the victim. Otherwise it is the one
// evicted. A hill climber moves space between window and main each time a
// sample of 10 requests per entry has been seen, in the direction that raised
// the hit rate.
//
// Per id it keeps 16 bytes: prev/next links and a size code (8), queue and
// a seconds-resolution access stamp (4), and a 32-bit key hash (4), plus the
// sketch: 8 counters of 4 bits (4 bytes) per entry.
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

	// Hill climber.
	hits, misses int
	prevHitRate  float64
	stepSize     float64
	adjustment   int64

	// full is set by Insert when Victim was called since the previous
	// Insert: the store is at its budget, so window overflow must pass
	// admission instead of flowing into main.
	full, evicting, everFull bool

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
	for i := range p.q {
		p.q[i] = queue{head: nilID, tail: nilID}
	}
	p.SetCapacity(o.Capacity)
	return p
}

func (p *wtinylfu) Name() string { return AllKeysWTinyLFU }

func (p *wtinylfu) Len() int { return p.n }

func (p *wtinylfu) Bytes() int64 {
	return int64(cap(p.links))*8 + int64(cap(p.meta))*4 + int64(cap(p.hash))*4 +
		p.sk.bytes() + 256
}

// SetCapacity resizes window and protected area in proportion.
func (p *wtinylfu) SetCapacity(c int64) {
	if c < 0 {
		c = 0
	}
	old := p.capacity
	p.capacity = c
	if old == 0 || c == 0 {
		p.windowMax = c - int64((1-tune["window"])*float64(c))
		p.protectedMax = int64(tune["protect"] * float64(c-p.windowMax))
		p.stepSize = tune["sign"] * tune["step"] * float64(c)
	} else {
		scale := float64(c) / float64(old)
		p.windowMax = int64(float64(p.windowMax) * scale)
		p.protectedMax = int64(float64(p.protectedMax) * scale)
		p.stepSize *= scale
		p.adjustment = 0
	}
	p.demote()
}

func (p *wtinylfu) live(id uint32) bool {
	return id < uint32(len(p.meta)) && p.meta[id]>>queueShift != qNone
}

func (p *wtinylfu) queueOf(id uint32) uint32 { return p.meta[id] >> queueShift }

func (p *wtinylfu) prev(id uint32) uint32 { return uint32(p.links[id] & linkMask) }
func (p *wtinylfu) next(id uint32) uint32 { return uint32(p.links[id] >> linkBits & linkMask) }
func (p *wtinylfu) size(id uint32) int64  { return decodeSize(uint8(p.links[id] >> 56)) }

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
	p.links[id] = p.links[id]&^(1<<56-1) | uint64(nilID)<<linkBits | uint64(t)
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
	p.links[id] = uint64(encodeSize(e.Size)) << 56
	p.n++
	if !p.mini {
		p.meta[id] = p.seconds()
		p.sk.ensure(p.n)
		p.sk.increment(h)
		if p.tuner != nil {
			p.tuner.record(h)
		}
	}
	p.push(qWindow, id)
	if p.tuner == nil && !p.everFull && !p.mini && tune["mode"] == 1 && p.n == 64 && p.capacity > 0 {
		total := p.q[qWindow].size + p.q[qProbation].size + p.q[qProtected].size
		p.tuner = newTuner(p, int(p.capacity*int64(p.n)/max(1, total)))
	}

	p.full, p.evicting = p.evicting, false
	if !p.full {
		p.drain()
	}
	if p.everFull && !p.mini && tune["mode"] == 0 {
		p.misses++
		p.climb()
	}
	if p.adjustment != 0 {
		p.adjust()
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
	if p.everFull && !p.mini && tune["mode"] == 0 {
		p.hits++
		p.climb()
	}
	if p.adjustment != 0 {
		p.adjust()
	}
}

func (p *wtinylfu) Update(id uint32, e Entry) {
	if !p.live(id) {
		return
	}
	k := p.queueOf(id)
	old := p.size(id)
	p.links[id] = p.links[id]&(1<<56-1) | uint64(encodeSize(e.Size))<<56
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
	p.evicting = true
	if !p.mini && tune["mode"] == 1 {
		if t := p.tuner; t == nil || p.n > 2*t.nEst || 2*p.n < t.nEst {
			p.tuner = newTuner(p, p.n)
		}
	}
	p.everFull = true
	if p.n == 0 {
		return 0, false
	}
	if p.capacity == 0 {
		p.learnCapacity()
	}
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

// learnCapacity takes the current total as the capacity when none was given.
func (p *wtinylfu) learnCapacity() {
	total := p.q[qWindow].size + p.q[qProbation].size + p.q[qProtected].size
	if total > 0 {
		p.SetCapacity(total)
		p.capacity = 0 // keep learning
	}
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

// drain moves the window's overflow to probation while the cache is not
// full (no admission test needed).
func (p *wtinylfu) drain() {
	w := &p.q[qWindow]
	for w.size > p.windowMax && w.n > 1 {
		p.move(qProbation, w.head)
	}
}

// demote moves the least recent protected entries to probation while the
// protected area is over its share.
func (p *wtinylfu) demote() {
	pq := &p.q[qProtected]
	for pq.size > p.protectedMax && pq.n > 0 {
		p.move(qProbation, pq.head)
	}
}

// climb runs the hill climber: after each sample it steps the window size in
// the direction that improved the hit rate, with a decaying step.
func (p *wtinylfu) climb() {
	if ss := min(int(tune["maxsample"]), max(int(tune["minsample"]), int(tune["sample"]*float64(p.sk.sizedFor)))); p.hits+p.misses >= ss && ss > 0 {
		rate := float64(p.hits) / float64(p.hits+p.misses)
		change := rate - p.prevHitRate
		amount := p.stepSize
		if change < 0 {
			amount = -amount
		}
		next := tune["decay"] * amount
		if change >= tune["restart"] || change <= -tune["restart"] {
			next = tune["step"] * float64(p.capacity)
			if amount < 0 {
				next = -next
			}
		}
		p.prevHitRate = rate
		p.stepSize = next
		p.hits, p.misses = 0, 0
		p.adjustment = int64(amount)
		if tune["debug"] > 0 {
			debugf("rate=%.4f win=%d/%d step=%.1f amount=%.1f\n", rate, p.windowMax, p.capacity, p.stepSize, amount)
		}
	}
}

// adjust applies a pending window change.
func (p *wtinylfu) adjust() {
	switch {
	case p.adjustment > 0:
		p.increaseWindow()
	case p.adjustment < 0:
		p.decreaseWindow()
	}
}

// setWindow aims the window at fraction f of the capacity; the move happens
// in bounded steps.
func (p *wtinylfu) setWindow(f float64) {
	target := int64(f * float64(p.capacity))
	p.adjustment = target - p.windowMax
	p.adjust()
}

func (p *wtinylfu) increaseWindow() {
	if p.protectedMax == 0 {
		p.adjustment = 0
		return
	}
	quota := min(p.adjustment, p.protectedMax)
	start := quota
	p.protectedMax -= quota
	p.windowMax += quota
	p.demote()
	for range queueTransferMax {
		id := p.q[qProbation].head
		if id == nilID || quota < p.size(id) {
			id = p.q[qProtected].head
		}
		if id == nilID || quota < p.size(id) {
			break
		}
		quota -= p.size(id)
		p.move(qWindow, id)
	}
	p.protectedMax += quota
	p.windowMax -= quota
	p.adjustment = quota
	if quota == start {
		p.adjustment = 0 // nothing could move; drop the rest of this step
	}
}

func (p *wtinylfu) decreaseWindow() {
	if p.windowMax <= 1 {
		p.adjustment = 0
		return
	}
	quota := min(-p.adjustment, max(0, p.windowMax-1))
	start := quota
	p.protectedMax += quota
	p.windowMax -= quota
	for range queueTransferMax {
		id := p.q[qWindow].head
		if id == nilID || quota < p.size(id) {
			break
		}
		quota -= p.size(id)
		p.move(qProbation, id)
	}
	p.protectedMax -= quota
	p.windowMax += quota
	p.adjustment = -quota
	if quota == start {
		p.adjustment = 0 // nothing could move; drop the rest of this step
	}
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
// bits and an exponent (within 1/16 of the size, rounded to nearest).
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
