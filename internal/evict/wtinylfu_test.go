package evict

import (
	"math/rand/v2"
	"testing"
)

// cacheSim drives a policy like a store with Size-1 entries: it maps keys to
// ids and evicts while over capacity.
type cacheSim struct {
	p     Policy
	cap   int
	ids   map[int]uint32
	keys  map[uint32]int
	free  []uint32
	next  uint32
	hits  int
	total int
	clk   *clock
}

func newCacheSim(t testing.TB, name string, capacity int) *cacheSim {
	clk := &clock{ms: 1_700_000_000_000}
	return &cacheSim{
		p:    newPolicy(t, name, Options{Capacity: int64(capacity), Now: clk.now}),
		cap:  capacity,
		ids:  map[int]uint32{},
		keys: map[uint32]int{},
		clk:  clk,
	}
}

func (c *cacheSim) get(key int) bool {
	c.total++
	c.clk.ms++
	if id, ok := c.ids[key]; ok {
		c.hits++
		c.p.Access(id)
		return true
	}
	var id uint32
	if n := len(c.free); n > 0 {
		id, c.free = c.free[n-1], c.free[:n-1]
	} else {
		id = c.next
		c.next++
	}
	c.ids[key] = id
	c.keys[id] = key
	c.p.Insert(id, Entry{Hash: hashOf(key), Size: 1})
	for c.p.Len() > c.cap {
		v, ok := c.p.Victim()
		if !ok {
			break
		}
		c.p.Remove(v)
		delete(c.ids, c.keys[v])
		delete(c.keys, v)
		c.free = append(c.free, v)
	}
	return false
}

func (c *cacheSim) has(key int) bool { _, ok := c.ids[key]; return ok }

func TestWTinyLFUScanResistant(t *testing.T) {
	t.Parallel()
	c := newCacheSim(t, AllKeysWTinyLFU, 1000)
	const hot = 500
	r := rand.New(rand.NewPCG(5, 5))
	for range 50_000 {
		c.get(r.IntN(hot))
	}
	// One pass over 100,000 keys never seen before.
	for k := range 100_000 {
		c.get(1_000_000 + k)
		if k%10 == 0 {
			c.get(r.IntN(hot)) // the hot set stays in use
		}
	}
	kept := 0
	for k := range hot {
		if c.has(k) {
			kept++
		}
	}
	if kept < hot*95/100 {
		t.Fatalf("%d of %d hot keys survived the scan", kept, hot)
	}
	// Without the hot traffic during the scan, LRU would keep none; the
	// frequency filter still keeps most.
	c2 := newCacheSim(t, AllKeysWTinyLFU, 1000)
	for range 50_000 {
		c2.get(r.IntN(hot))
	}
	for k := range 20_000 {
		c2.get(1_000_000 + k)
	}
	kept = 0
	for k := range hot {
		if c2.has(k) {
			kept++
		}
	}
	if kept < hot*9/10 {
		t.Fatalf("pure scan: %d of %d hot keys survived", kept, hot)
	}
}

func TestWTinyLFURequestedTwiceSurvives(t *testing.T) {
	t.Parallel()
	c := newCacheSim(t, AllKeysWTinyLFU, 1000)
	next := 1_000_000
	oneTime := func(n int) {
		for range n {
			c.get(next)
			next++
		}
	}
	oneTime(1000) // the cache is full of keys requested once
	// A new key requested again soon after its first request hits the
	// second time, passes admission when it leaves the window and stays
	// while more one-time keys go through.
	const trials = 10
	hit, survived := 0, 0
	for i := range trials {
		c.get(i)
		oneTime(5)
		if c.get(i) {
			hit++
		}
		oneTime(50)
	}
	for i := range trials {
		if c.has(i) {
			survived++
		}
	}
	if hit < trials || survived < trials*9/10 {
		t.Fatalf("of %d keys requested twice %d hit the second time and %d survived", trials, hit, survived)
	}
}

// TestWTinyLFUNewHotSet checks that established frequencies do not lock out
// a new working set: after the popular keys change, the new ones take over.
func TestWTinyLFUNewHotSet(t *testing.T) {
	t.Parallel()
	c := newCacheSim(t, AllKeysWTinyLFU, 1000)
	r := rand.New(rand.NewPCG(9, 9))
	for range 200_000 {
		c.get(r.IntN(800))
	}
	for range 40_000 {
		c.get(10_000 + r.IntN(800))
	}
	resident := 0
	for k := range 800 {
		if c.has(10_000 + k) {
			resident++
		}
	}
	if resident < 800*9/10 {
		t.Fatalf("%d of 800 keys of the new hot set resident", resident)
	}
}

func TestWTinyLFUWindowAdapts(t *testing.T) {
	t.Parallel()
	// Loop over 1.2x the capacity: LRU gets nothing, a small window with the
	// frequency filter keeps most of the loop.
	loop := newCacheSim(t, AllKeysWTinyLFU, 1000)
	for i := range 300_000 {
		loop.get(i % 1200)
	}
	w := loop.p.(*wtinylfu)
	if f := float64(w.windowMax) / float64(w.capacity); f > 0.2 {
		t.Fatalf("loop: window at %.2f of capacity", f)
	}
	if ratio := float64(loop.hits) / float64(loop.total); ratio < 0.6 {
		t.Fatalf("loop: hit ratio %.2f", ratio)
	}

	// Recency: every key is requested three times within a short span and
	// never again, so only a large window helps.
	rec := newCacheSim(t, AllKeysWTinyLFU, 1000)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 100_000 {
		rec.get(i - r.IntN(600))
	}
	w = rec.p.(*wtinylfu)
	if f := float64(w.windowMax) / float64(w.capacity); f < 0.3 {
		t.Fatalf("recency: window at %.2f of capacity", f)
	}
}

func TestWTinyLFUSizes(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, AllKeysWTinyLFU, Options{Capacity: 1 << 20})
	w := p.(*wtinylfu)
	var want int64
	for i := range 1000 {
		s := uint32(1 + i*997%100_000)
		p.Insert(uint32(i), Entry{Hash: hashOf(i), Size: s})
		want += int64(s)
	}
	if got := w.total(); got < want*15/16 || got > want*17/16 {
		t.Fatalf("total %d, sizes sum to %d", got, want)
	}
	for i := range 1000 {
		p.Update(uint32(i), Entry{Hash: hashOf(i), Size: 7})
	}
	if got := w.total(); got != 7000 {
		t.Fatalf("total after Update = %d, want 7000", got)
	}
	for i := range 1000 {
		p.Remove(uint32(i))
	}
	if got := w.total(); got != 0 {
		t.Fatalf("total after Remove = %d", got)
	}
}

// TestWTinyLFUByteBudget runs a store-like loop with variable sizes against
// a byte budget: without a Capacity the policy learns it and does as well as
// with it, and better than sampled LRU.
func TestWTinyLFUByteBudget(t *testing.T) {
	t.Parallel()
	const budget = 500_000
	const (
		postEvict  = iota // insert, then evict while over budget
		preEvict          // evict until the new entry fits, then insert
		burstEvict        // once over budget, evict 3% of it before inserting
	)
	run := func(name string, capacity int64, mode int) int {
		p := newPolicy(t, name, Options{Capacity: capacity})
		r := rand.New(rand.NewPCG(2, 2))
		ids := map[int]uint32{}
		keys := map[uint32]int{}
		sizes := map[uint32]int64{}
		var used int64
		var next uint32
		hits := 0
		for range 200_000 {
			k := int(r.ExpFloat64() * 1000)
			if id, ok := ids[k]; ok {
				hits++
				p.Access(id)
				continue
			}
			id := next
			next++
			s := int64(100 + k%900)
			// A store may make room before inserting, or insert and then
			// evict while over budget.
			target := int64(budget)
			if mode == burstEvict {
				target = budget * 97 / 100
			}
			for mode != postEvict && used+s > budget {
				for used+s > target {
					v, ok := p.Victim()
					if !ok {
						t.Fatal("no victim while over budget")
					}
					used -= sizes[v]
					delete(ids, keys[v])
					p.Remove(v)
				}
			}
			ids[k], keys[id], sizes[id] = id, k, s
			used += s
			p.Insert(id, Entry{Hash: hashOf(k), Size: uint32(s)})
			for used > budget {
				v, ok := p.Victim()
				if !ok {
					t.Fatal("no victim while over budget")
				}
				used -= sizes[v]
				delete(ids, keys[v])
				p.Remove(v)
			}
		}
		return hits
	}
	lru := run(AllKeysLRU, budget, postEvict)
	known := run(AllKeysWTinyLFU, budget, postEvict)
	learned := run(AllKeysWTinyLFU, 0, postEvict)
	pre := run(AllKeysWTinyLFU, budget, preEvict)
	burst := run(AllKeysWTinyLFU, budget, burstEvict)
	t.Logf("hits: lru %d, wtinylfu %d, without capacity %d, evicting before insert %d, in bursts %d",
		lru, known, learned, pre, burst)
	if known < lru || learned < known*97/100 || pre < known*97/100 || burst < known*97/100 {
		t.Fatalf("hits: lru %d, wtinylfu %d, without capacity %d, evicting before insert %d, in bursts %d",
			lru, known, learned, pre, burst)
	}
}

func TestSizeCode(t *testing.T) {
	t.Parallel()
	for _, s := range []uint32{0, 1, 15, 16, 17, 100, 1000, 65535, 1 << 20, 123456789, 1<<32 - 1} {
		d := decodeSize(encodeSize(s))
		if diff := d - int64(s); diff*16 > int64(s) || -diff*16 > int64(s) {
			t.Errorf("size %d decodes to %d", s, d)
		}
	}
}

func TestSketch(t *testing.T) {
	t.Parallel()
	var s sketch
	s.ensure(1000)
	for i := range 5 {
		for range i + 1 {
			s.increment(uint32(hashOf(i)))
		}
	}
	for i := range 5 {
		if f := s.frequency(uint32(hashOf(i))); f != i+1 {
			t.Errorf("frequency(%d) = %d, want %d", i, f, i+1)
		}
	}
	for range 100 {
		s.increment(7)
	}
	if f := s.frequency(7); f != 15 {
		t.Fatalf("saturated frequency = %d, want 15", f)
	}
	s.reset()
	if f := s.frequency(7); f != 7 {
		t.Fatalf("after reset frequency = %d, want 7", f)
	}
	// A grown table starts afresh.
	s.ensure(100_000)
	if f := s.frequency(7); f != 0 {
		t.Fatalf("after growth frequency = %d, want 0", f)
	}
	// Periodic reset keeps the counters aging.
	var a sketch
	a.ensure(100)
	for i := range 100_000 {
		a.increment(uint32(hashOf(i % 5000)))
	}
	if a.additions >= a.sampleSize {
		t.Fatalf("additions %d not reset at %d", a.additions, a.sampleSize)
	}
}
