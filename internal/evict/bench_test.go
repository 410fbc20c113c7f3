package evict

import (
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
func TestBytesPerEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	for _, name := range Names() {
		p := newPolicy(t, name, Options{Capacity: 1 << 18})
		const n = 1 << 18
		for i := range n {
			p.Insert(uint32(i), entry(i))
		}
		for range 10 { // start the tuner
			if v, ok := p.Victim(); ok {
				p.Remove(v)
				p.Insert(v, entry(int(v)+n))
			}
		}
		t.Logf("%-18s %5.1f bytes per entry (half the entries volatile)", name, float64(p.Bytes())/n)
	}
}
