package evict

import "math/bits"

const (
	// tunerEarlyStart is the entry count at which a policy with a known
	// capacity starts tuning, before the cache is full.
	tunerEarlyStart = 64
	// tunerMinEntries is the smallest simulated cache: the sampling rate is
	// the largest power of two leaving at least this many entries.
	tunerMinEntries = 256
	// tunerDecay weighs older decisions' hit counts.
	tunerDecay = 0.97
)

// tunerFractions are the window shares the simulations try; 1 is plain LRU.
var tunerFractions = [...]float64{0.01, 0.1, 0.3, 0.6, 1}

// tuner picks the window size of a W-TinyLFU policy by miniature simulation
// (Waldspurger et al., "Cache Modeling and Optimization using Miniature
// Simulations", USENIX ATC 2017). A spatially hashed sample of 1 in rate keys
// is replayed through small W-TinyLFU caches of entries/rate entries, one per
// window fraction, that read the owner's frequency sketch. They all see the
// same requests, so their hit counts compare window sizes on the same
// traffic, free of the noise that a hill climber comparing one period with
// the next suffers on bursty workloads. Every period (as many sampled
// requests as a simulated cache holds) the owner moves its window to the
// fraction with the most hits, counting older periods with decaying weight.
//
// With rate at least the number of simulations the extra work is under one
// simulated request per real one; caches smaller than
// tunerMinEntries*len(tunerFractions) pay more.
type tuner struct {
	owner  *wtinylfu
	rate   uint32 // power of two
	shift  uint32 // log2(rate)
	nEst   int    // owner entries the simulations are scaled for
	sims   [len(tunerFractions)]miniSim
	score  [len(tunerFractions)]float64
	count  int // sampled requests since the last decision
	period int
}

// miniSim is one simulated cache: a W-TinyLFU over slots, and an open
// addressing table from key hash to slot.
type miniSim struct {
	p     *wtinylfu
	cap   int
	table []uint64 // hash<<32 | slot+1; 0 is empty
	mask  uint32
	bits  uint32
	next  uint32 // slots ever used
	free  []uint32
	hits  int
}

func newTuner(owner *wtinylfu, n int) *tuner {
	rate := uint32(1)
	for int(rate)*2*tunerMinEntries <= n {
		rate *= 2
	}
	m := max(1, (n+int(rate)/2)/int(rate))
	t := &tuner{
		owner:  owner,
		rate:   rate,
		shift:  uint32(bits.TrailingZeros32(rate)),
		nEst:   n,
		period: max(16, m),
	}
	for i, f := range tunerFractions {
		t.sims[i] = newMiniSim(owner, f, m)
	}
	return t
}

func newMiniSim(owner *wtinylfu, f float64, m int) miniSim {
	p := &wtinylfu{opts: owner.opts, rng: rng{s: owner.rng.s ^ 0x5bd1e995}, sk: owner.sk, mini: true}
	p.init()
	p.capacity = int64(m)
	p.setFraction(f)
	b := max(4, uint32(bits.Len(uint(2*m-1))))
	return miniSim{p: p, cap: m, table: make([]uint64, 1<<b), mask: 1<<b - 1, bits: b}
}

// record replays a request for the key with hash h if it is sampled.
func (t *tuner) record(h uint32) {
	if t.shift > 0 && (h*0x9e3779b1)>>(32-t.shift) != 0 {
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
	best := 0
	for i := range t.sims {
		t.score[i] = t.score[i]*tunerDecay + float64(t.sims[i].hits)
		t.sims[i].hits = 0
		if t.score[i] > t.score[best] {
			best = i
		}
	}
	t.owner.setWindow(tunerFractions[best])
}

func (t *tuner) bytes() int64 {
	b := int64(256)
	for i := range t.sims {
		b += t.sims[i].bytes()
	}
	return b
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
	for j := (i + 1) & m.mask; m.table[j] != 0; j = (j + 1) & m.mask {
		k := m.home(uint32(m.table[j] >> 32))
		// Move the entry at j back to the hole at i unless its home lies
		// cyclically in (i, j].
		if (i < j && (k <= i || k > j)) || (i > j && k <= i && k > j) {
			m.table[i] = m.table[j]
			m.table[j] = 0
			i = j
		}
	}
}

func (m *miniSim) bytes() int64 {
	return int64(cap(m.table))*8 + int64(cap(m.free))*4 + m.p.Bytes()
}
