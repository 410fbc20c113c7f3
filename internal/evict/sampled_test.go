package evict

import (
	"testing"
)

// TestLRUEvictsIdleFirst checks the sampling pool statistically: with
// entries touched in order, victims come from the least recently used part.
func TestLRUEvictsIdleFirst(t *testing.T) {
	t.Parallel()
	for _, name := range []string{AllKeysLRU, VolatileLRU} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{ms: 1_000_000}
			p := newPolicy(t, name, Options{Now: clk.now})
			const n = 10_000
			for i := range n {
				clk.ms++
				p.Insert(uint32(i), Entry{Hash: hashOf(i), Size: 1, Deadline: 1})
			}
			// Touch the first half again: the second half is now older.
			for i := range n / 2 {
				clk.ms++
				p.Access(uint32(i))
			}
			old := 0
			const evictions = 1000
			for range evictions {
				v, ok := p.Victim()
				if !ok {
					t.Fatal("no victim")
				}
				if v >= n/2 && v < n/2+n/4 {
					old++ // the oldest quarter
				}
				p.Remove(v)
			}
			// Uniform picks would give 25%; the pool gives far more.
			if old < evictions*7/10 {
				t.Fatalf("%d of %d victims from the oldest quarter", old, evictions)
			}
		})
	}
}

func TestTTLEvictsNearestDeadline(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, VolatileTTL, Options{})
	const n = 10_000
	for i := range n {
		p.Insert(uint32(i), Entry{Hash: hashOf(i), Size: 1, Deadline: int64(1_000_000 + i)})
	}
	soon := 0
	for range 1000 {
		v, _ := p.Victim()
		if v < n/4 {
			soon++
		}
		p.Remove(v)
	}
	if soon < 700 {
		t.Fatalf("%d of 1000 victims among the nearest quarter of deadlines", soon)
	}
}

func TestRandomIsUniform(t *testing.T) {
	t.Parallel()
	p := newPolicy(t, AllKeysRandom, Options{Seed: 3})
	for i := range 10 {
		p.Insert(uint32(i), entry(i))
	}
	var counts [10]int
	for range 10_000 {
		v, _ := p.Victim()
		counts[v]++
	}
	for id, c := range counts {
		if c < 800 || c > 1200 {
			t.Fatalf("id %d picked %d of 10,000 times", id, c)
		}
	}
}

func TestLFULogarithmicCounter(t *testing.T) {
	t.Parallel()
	clk := &clock{ms: 1_700_000_000_000}
	p := newPolicy(t, AllKeysLFU, Options{Now: clk.now, Seed: 11})
	p.Insert(1, entry(1))
	if f, _ := p.Freq(1); f != lfuInitVal {
		t.Fatalf("new entry Freq = %d, want %d", f, lfuInitVal)
	}
	// Redis's table for lfu-log-factor 10: 100 hits ~ 10, 1000 hits ~ 18,
	// 100K hits ~ 142.
	steps := []struct{ hits, lo, hi int }{
		{100, 8, 13},
		{1000, 15, 22},
		{100_000, 125, 160},
	}
	done := 0
	for _, s := range steps {
		for ; done < s.hits; done++ {
			p.Access(1)
		}
		if f, _ := p.Freq(1); f < s.lo || f > s.hi {
			t.Fatalf("after %d hits Freq = %d, want %d..%d", s.hits, f, s.lo, s.hi)
		}
	}
	// Factor 0 counts every hit.
	q := newPolicy(t, AllKeysLFU, Options{Now: clk.now, LFULogFactor: -1})
	q.Insert(1, entry(1))
	for range 100 {
		q.Access(1)
	}
	if f, _ := q.Freq(1); f != lfuInitVal+100 {
		t.Fatalf("factor 0: Freq = %d, want %d", f, lfuInitVal+100)
	}
}

func TestLFUDecay(t *testing.T) {
	t.Parallel()
	clk := &clock{ms: 1_700_000_000_000}
	p := newPolicy(t, VolatileLFU, Options{Now: clk.now, LFULogFactor: -1, LFUDecayTime: 2})
	p.Insert(1, Entry{Hash: 1, Size: 1, Deadline: 1})
	for range 15 {
		p.Access(1)
	}
	if f, _ := p.Freq(1); f != 20 {
		t.Fatalf("Freq = %d, want 20", f)
	}
	clk.ms += 10 * 60_000 // 10 minutes: 5 decay periods of 2 minutes
	if f, _ := p.Freq(1); f != 15 {
		t.Fatalf("after 10 minutes Freq = %d, want 15", f)
	}
	clk.ms += 60 * 60_000
	if f, _ := p.Freq(1); f != 0 {
		t.Fatalf("after 70 minutes Freq = %d, want 0", f)
	}
	// Decay 0 never decays.
	q := newPolicy(t, AllKeysLFU, Options{Now: clk.now, LFUDecayTime: -1})
	q.Insert(1, entry(1))
	clk.ms += 1000 * 60_000
	if f, _ := q.Freq(1); f != lfuInitVal {
		t.Fatalf("no decay: Freq = %d, want %d", f, lfuInitVal)
	}
}

func TestLFUEvictsColdFirst(t *testing.T) {
	t.Parallel()
	clk := &clock{ms: 1_700_000_000_000}
	p := newPolicy(t, AllKeysLFU, Options{Now: clk.now})
	const n = 1000
	for i := range n {
		p.Insert(uint32(i), entry(i))
	}
	for i := range n / 2 { // the first half is hot
		for range 50 {
			p.Access(uint32(i))
		}
	}
	cold := 0
	for range 200 {
		v, _ := p.Victim()
		if v >= n/2 {
			cold++
		}
		p.Remove(v)
	}
	if cold < 190 {
		t.Fatalf("%d of 200 victims cold", cold)
	}
}

func TestIdleSurvivesRebase(t *testing.T) {
	t.Parallel()
	clk := &clock{ms: 1_700_000_000_000}
	p := newPolicy(t, AllKeysLRU, Options{Now: clk.now})
	p.Insert(1, entry(1))
	p.Insert(2, entry(2))
	day := int64(24 * 3600 * 1000)
	for range 100 { // 100 days, one access of 2 a day
		clk.ms += day
		p.Access(2)
	}
	if idle, _ := p.IdleMillis(2); idle != 0 {
		t.Fatalf("idle of 2 = %d", idle)
	}
	idle, _ := p.IdleMillis(1)
	if idle < 12*day || idle > 100*day {
		t.Fatalf("idle of 1 = %d days, want at least 12", idle/day)
	}
	if v, _ := p.Victim(); v != 1 {
		t.Fatalf("Victim = %d, want the idle entry 1", v)
	}
}

// TestSamplesChangeVictimAge checks that maxmemory-samples is used: the
// first victim of a fresh LRU policy is the oldest of Samples random picks,
// so more samples find older entries, and SetSamples changes it in place.
func TestSamplesChangeVictimAge(t *testing.T) {
	t.Parallel()
	const n, trials = 1000, 300
	meanRank := func(samples int, set bool) float64 {
		sum := 0
		for trial := range trials {
			clk := &clock{ms: 1_000_000}
			o := Options{Now: clk.now, Seed: uint64(trial + 1)}
			if !set {
				o.Samples = samples
			}
			p := newPolicy(t, AllKeysLRU, o)
			if set {
				p.(Sampler).SetSamples(samples)
			}
			for i := range n {
				clk.ms++
				p.Insert(uint32(i), Entry{Hash: hashOf(i), Size: 1})
			}
			v, ok := p.Victim()
			if !ok {
				t.Fatal("no victim")
			}
			sum += int(v) // id == age rank: id 0 is the oldest
		}
		return float64(sum) / trials
	}
	one, ten, def := meanRank(1, false), meanRank(10, false), meanRank(0, false)
	set := meanRank(10, true)
	// Expected ranks: 1 sample ≈ n/2, 5 ≈ n/6, 10 ≈ n/11.
	if one < n/3 || def > n/4 || def < n/10 || ten > n/7 {
		t.Fatalf("mean victim rank: samples=1 %.0f, default %.0f, samples=10 %.0f", one, def, ten)
	}
	if set != ten {
		t.Fatalf("SetSamples(10): mean rank %.0f, Options.Samples=10: %.0f", set, ten)
	}
}
