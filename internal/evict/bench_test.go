package evict

import (
	"runtime"
	"testing"
)

// steady builds a policy holding n entries with a known capacity, past its
// first evictions, so that later calls run in steady state.
func steady(t testing.TB, name string, n int) (Policy, *clock) {
	clk := &clock{ms: 1_700_000_000_000}
	p := newPolicy(t, name, Options{Capacity: int64(n), Now: clk.now})
	for i := range n + 1 {
		p.Insert(uint32(i), volatileEntry(i))
	}
	for range 64 {
		if v, ok := p.Victim(); ok {
			p.Remove(v)
			p.Insert(v, volatileEntry(int(v)+n))
		}
	}
	return p, clk
}

// volatileEntry returns an entry with a deadline, evictable by every policy.
func volatileEntry(i int) Entry {
	return Entry{Hash: hashOf(i), Size: 1, Deadline: 1_000_000 + int64(i)}
}

// TestNoAllocsSteadyState proves that Access, Insert (of a reused id),
// Remove and Victim allocate nothing once the arrays have grown.
func TestNoAllocsSteadyState(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			const n = 4096
			p, clk := steady(t, name, n)
			i := 0
			allocs := testing.AllocsPerRun(10_000, func() {
				i++
				clk.ms++
				id := uint32(i*7919) % n
				p.Access(id)
				p.Update(id, volatileEntry(i))
				if v, ok := p.Victim(); ok {
					p.Remove(v)
					p.Insert(v, volatileEntry(i+n))
				}
				_, _ = p.Freq(id)
				_, _ = p.IdleMillis(id)
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per operation", allocs)
			}
		})
	}
}

func BenchmarkAccess(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			const n = 1 << 16
			p, clk := steady(b, name, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				clk.ms++
				p.Access(uint32(i*7919) % n)
			}
		})
	}
}

// BenchmarkInsertEvict measures a miss: Insert of a new entry, then Victim
// and Remove.
func BenchmarkInsertEvict(b *testing.B) {
	for _, name := range Names() {
		if name == NoEviction {
			continue
		}
		b.Run(name, func(b *testing.B) {
			const n = 1 << 16
			p, clk := steady(b, name, n)
			free := []uint32{}
			if v, ok := p.Victim(); ok {
				p.Remove(v)
				free = append(free, v)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				clk.ms++
				id := free[0]
				p.Insert(id, volatileEntry(i+2*n))
				v, ok := p.Victim()
				if !ok {
					b.Fatal("no victim")
				}
				p.Remove(v)
				free[0] = v
			}
		})
	}
}

func BenchmarkVictim(b *testing.B) {
	for _, name := range Names() {
		if name == NoEviction {
			continue
		}
		b.Run(name, func(b *testing.B) {
			p, _ := steady(b, name, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := p.Victim(); !ok {
					b.Fatal("no victim")
				}
			}
		})
	}
}

// TestBytesPerEntry reports the policy memory per entry at 256K entries.
// TestBytesPerEntry checks each policy's memory per entry twice: against a
// budget (what the store charges per key for its policy) and against the
// heap the policy really grew by, so Bytes neither under- nor over-reports.
// It does not run in parallel: the heap is measured.
func TestBytesPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	budget := map[string]float64{ // bytes per entry, half the entries volatile
		NoEviction: 10, VolatileTTL: 22, AllKeysWTinyLFU: 24,
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, name := range Names() {
		const n = 1 << 18
		before := heap()
		p := newPolicy(t, name, Options{Capacity: 1 << 18})
		for i := range n {
			p.Insert(uint32(i), entry(i))
		}
		for range 10 { // start the tuner
			if v, ok := p.Victim(); ok {
				p.Remove(v)
				p.Insert(v, entry(int(v)+n))
			}
		}
		grown := float64(heap()) - float64(before)
		reported := float64(p.Bytes())
		runtime.KeepAlive(p)
		per := reported / n
		limit, ok := budget[name]
		if !ok {
			limit = 14 // the sampled LRU / LFU / random policies
		}
		t.Logf("%-18s %5.1f bytes per entry reported, %5.1f measured", name, per, grown/n)
		if per > limit {
			t.Errorf("%s: %.1f bytes per entry, budget %.0f", name, per, limit)
		}
		// The heap figure includes the test's own garbage; allow 15% and
		// 64 KiB either way.
		if reported < grown*0.85-65536 || reported > grown*1.15+65536 {
			t.Errorf("%s: Bytes() = %.0f, heap grew %.0f", name, reported, grown)
		}
	}
}
