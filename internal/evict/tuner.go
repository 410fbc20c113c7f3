package evict

import "math/bits"

// tuner picks the window size of a W-TinyLFU policy by miniature simulation
// (Waldspurger et al., "Cache Modeling and Optimization using Miniature
// Simulations", USENIX ATC 2017): a spatially hashed sample of 1 in rate keys
// is replayed through a few small W-TinyLFU caches of capacity/rate entries,
// each with a fixed window fraction, sharing the owner's frequency sketch.
// They all see the same requests, so their hit counts compare window sizes
// under the same traffic; the owner moves its window to the best one.
type tuner struct {
	owner  *wtinylfu
	rate   uint32 // power of two
	shift  uint32 // hash bits that must be zero to sample: log2(rate)
	nEst   int    // owner entries when built
	sims   []miniSim
	score  []float64
	count  int // sampled requests since the last decision
	period int
	best   int
}

type miniSim struct {
	p     *wtinylfu
	frac  float64
	cap   int
	table []uint64 // open addressing: hash<<32 | slot+1; 0 is empty
	mask  uint32
	bits  uint32
	next  uint32 // slots ever used
	free  []uint32
	hits  int
}

var tunerFractions = []float64{0.01, 0.05, 0.15, 0.3, 0.5, 0.7, 0.9, 0.99}

func newTuner(owner *wtinylfu, n int) *tuner {
	minMini := int(tune["minmini"])
	rate := uint32(1)
	for int(rate)*2*minMini <= n {
		rate *= 2
	}
	m := max(1, (n+int(rate)/2)/int(rate))
	t := &tuner{
		owner:  owner,
		rate:   rate,
		shift:  uint32(bits.TrailingZeros32(rate)),
		nEst:   n,
		period: max(16, int(tune["period"]*float64(m))),
	}
	for _, f := range tunerFractions {
		t.sims = append(t.sims, newMiniSim(owner, f, m))
		t.score = append(t.score, 0)
	}
	t.best = 0
	return t
}

func newMiniSim(owner *wtinylfu, f float64, m int) miniSim {
	p := &wtinylfu{opts: owner.opts, rng: rng{s: owner.rng.s ^ 0x5bd1e995}, sk: owner.sk, mini: true}
	for i := range p.q {
		p.q[i] = queue{head: nilID, tail: nilID}
	}
	c := int64(m)
	p.capacity = c
	initial := c - int64(percentMain*float64(c))
	p.windowMax = int64(f * float64(c))
	p.protectedMax = max(0, int64(tune["protect"]*float64(c-initial))-(p.windowMax-initial))
	b := uint32(bits.Len(uint(2*m - 1)))
	b = max(b, 4)
	return miniSim{p: p, frac: f, cap: m, table: make([]uint64, 1<<b), mask: 1<<b - 1, bits: b}
}

// sampled reports whether the key with hash h is in the sample.
func (t *tuner) sampled(h uint32) bool {
	return (h*0x9e3779b1)>>(32-t.shift)&(t.rate-1) == 0 || t.rate == 1
}

// record replays a request for h through every simulation.
func (t *tuner) record(h uint32) {
	if t.rate > 1 && (h*0x9e3779b1)>>(32-t.shift) != 0 {
		return
	}
	for i := range t.sims {
		t.sims[i].request(h)
	}
	t.count++
	if t.count >= t.period {
		t.decide()
	}
}

func (t *tuner) decide() {
	t.count = 0
	d := tune["sdecay"]
	best := t.best
	for i := range t.sims {
		t.score[i] = t.score[i]*d + float64(t.sims[i].hits)
		t.sims[i].hits = 0
	}
	for i := range t.sims {
		if t.score[i] > t.score[best]*(1+tune["hyst"]) {
			best = i
		}
	}
	for i := range t.sims {
		if t.score[i] > t.score[best] && t.score[i] > t.score[t.best]*(1+tune["hyst"]) {
			best = i
		}
	}
	if tune["debug"] > 0 {
		debugf("decide n=%d rate=%d best=%.2f hits=", t.owner.n, t.rate, tunerFractions[best])
		for i := range t.sims {
			debugf("%.0f ", t.score[i])
		}
		debugf("\n")
	}
	if best != t.best || true {
		t.best = best
		t.owner.setWindow(tunerFractions[best])
	}
}

func (m *miniSim) home(h uint32) uint32 { return (h * 0x85ebca6b) >> (32 - m.bits) }

func (m *miniSim) request(h uint32) {
	i := m.home(h)
	for {
		e := m.table[i]
		if e == 0 {
			break
		}
		if uint32(e>>32) == h {
			m.hits++
			m.p.Access(uint32(e) - 1)
			return
		}
		i = (i + 1) & m.mask
	}
	var slot uint32
	if n := len(m.free); n > 0 {
		slot = m.free[n-1]
		m.free = m.free[:n-1]
	} else {
		slot = m.next
		m.next++
	}
	m.table[i] = uint64(h)<<32 | uint64(slot+1)
	m.p.Insert(slot, Entry{Hash: uint64(h), Size: 1})
	for m.p.n > m.cap {
		v, ok := m.p.Victim()
		if !ok {
			break
		}
		m.delete(m.p.hash[v])
		m.p.Remove(v)
		m.free = append(m.free, v)
	}
}

// delete removes h with backward-shift deletion.
func (m *miniSim) delete(h uint32) {
	i := m.home(h)
	for {
		e := m.table[i]
		if e == 0 {
			return
		}
		if uint32(e>>32) == h {
			break
		}
		i = (i + 1) & m.mask
	}
	m.table[i] = 0
	j := i
	for {
		j = (j + 1) & m.mask
		e := m.table[j]
		if e == 0 {
			return
		}
		k := m.home(uint32(e >> 32))
		// Move e back to i unless its home lies cyclically in (i, j].
		if (i < j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			m.table[i] = e
			m.table[j] = 0
			i = j
		}
	}
}

func (m *miniSim) bytes() int64 {
	return int64(cap(m.table))*8 + int64(cap(m.free))*4 + m.p.Bytes() - m.p.sk.bytes()
}
