package evict

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// clock is a settable clock for tests, in unix milliseconds.
type clock struct{ ms int64 }

func (c *clock) now() int64 { return c.ms }

func newPolicy(t testing.TB, name string, o Options) Policy {
	t.Helper()
	p, err := New(name, o)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	if p.Name() != name {
		t.Fatalf("Name() = %q, want %q", p.Name(), name)
	}
	return p
}

func isVolatile(name string) bool { return strings.HasPrefix(name, "volatile-") }

func hashOf(i int) uint64 { return mix(uint64(i) + 1) }

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// entry returns an entry for key i; even keys get a deadline.
func entry(i int) Entry {
	e := Entry{Hash: hashOf(i), Size: 1}
	if i%2 == 0 {
		e.Deadline = 1_000_000 + int64(i)
	}
	return e
}

func TestNewUnknown(t *testing.T) {
	t.Parallel()
	_, err := New("allkeys-fifo", Options{})
	if err == nil || err.Error() != `unknown eviction policy "allkeys-fifo"` {
		t.Fatalf("err = %v", err)
	}
	if _, err := New(Default, Options{Capacity: -1}); err == nil {
		t.Fatal("negative capacity accepted")
	}
	if !slices.Contains(Names(), Default) {
		t.Fatalf("Names() = %v lacks %s", Names(), Default)
	}
}

// TestConformance runs the same contract checks against every policy.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range conformanceCases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, name)
				})
			}
		})
	}
}

var conformanceCases = []struct {
	name string
	run  func(t *testing.T, name string)
}{
	{"bookkeeping", testBookkeeping},
	{"victim-live", testVictimLive},
	{"volatile-only", testVolatileOnly},
	{"noeviction", testNoEviction},
	{"id-reuse", testIDReuse},
	{"update-deadline", testUpdateDeadline},
	{"unknown-ids", testUnknownIDs},
	{"bytes-grow", testBytesGrow},
	{"freq-idle", testFreqIdle},
	{"model", testModel},
}

func testBookkeeping(t *testing.T, name string) {
	p := newPolicy(t, name, Options{Capacity: 100})
	for i := range 50 {
		p.Insert(uint32(i), entry(i))
	}
	if p.Len() != 50 {
		t.Fatalf("Len = %d, want 50", p.Len())
	}
	for i := 0; i < 50; i += 5 {
		p.Remove(uint32(i))
	}
	if p.Len() != 40 {
		t.Fatalf("Len = %d, want 40", p.Len())
	}
	p.Remove(0) // twice
	if p.Len() != 40 {
		t.Fatalf("Len after double Remove = %d, want 40", p.Len())
	}
	for i := range 50 {
		p.Remove(uint32(i))
	}
	if p.Len() != 0 {
		t.Fatalf("Len = %d, want 0", p.Len())
	}
	if _, ok := p.Victim(); ok {
		t.Fatal("Victim on empty policy returned ok")
	}
}

func testVictimLive(t *testing.T, name string) {
	p := newPolicy(t, name, Options{Capacity: 64})
	live := map[uint32]bool{}
	for i := range 200 {
		id := uint32(i)
		p.Insert(id, entry(i))
		live[id] = true
		if i%3 == 0 {
			p.Access(uint32(i / 2))
		}
		for p.Len() > 64 {
			v, ok := p.Victim()
			if !ok {
				break
			}
			if !live[v] {
				t.Fatalf("Victim returned %d, not live", v)
			}
			p.Remove(v)
			delete(live, v)
		}
	}
}

func testVolatileOnly(t *testing.T, name string) {
	if !isVolatile(name) {
		t.Skip("allkeys policy")
	}
	p := newPolicy(t, name, Options{Capacity: 10})
	for i := range 20 {
		p.Insert(uint32(i), Entry{Hash: hashOf(i), Size: 1}) // no deadline
	}
	if _, ok := p.Victim(); ok {
		t.Fatal("Victim ok with no volatile entries")
	}
	for i := 20; i < 30; i++ {
		p.Insert(uint32(i), Entry{Hash: hashOf(i), Size: 1, Deadline: int64(1000 + i)})
	}
	for range 10 {
		v, ok := p.Victim()
		if !ok {
			t.Fatal("Victim not ok with volatile entries")
		}
		if v < 20 {
			t.Fatalf("Victim returned %d, which has no deadline", v)
		}
		p.Remove(v)
	}
	if _, ok := p.Victim(); ok {
		t.Fatal("Victim ok after every volatile entry was removed")
	}
	if p.Len() != 20 {
		t.Fatalf("Len = %d, want 20", p.Len())
	}
}

func testNoEviction(t *testing.T, name string) {
	if name != NoEviction {
		t.Skip("evicting policy")
	}
	p := newPolicy(t, name, Options{Capacity: 1})
	for i := range 100 {
		p.Insert(uint32(i), entry(i))
		if _, ok := p.Victim(); ok {
			t.Fatal("noeviction returned a victim")
		}
	}
	if p.Len() != 100 {
		t.Fatalf("Len = %d, want 100", p.Len())
	}
}

func testIDReuse(t *testing.T, name string) {
	p := newPolicy(t, name, Options{Capacity: 8})
	for round := range 50 {
		for i := range 8 {
			p.Insert(uint32(i), Entry{Hash: hashOf(round*8 + i), Size: 1, Deadline: 5000})
		}
		if p.Len() != 8 {
			t.Fatalf("round %d: Len = %d, want 8", round, p.Len())
		}
		if name != NoEviction {
			v, ok := p.Victim()
			if !ok || v >= 8 {
				t.Fatalf("round %d: Victim = %d, %v", round, v, ok)
			}
		}
		for i := range 8 {
			p.Remove(uint32(i))
		}
	}
	// Insert over a live id replaces it.
	p.Insert(3, entry(3))
	p.Insert(3, entry(4))
	if p.Len() != 1 {
		t.Fatalf("Len after re-Insert = %d, want 1", p.Len())
	}
}

func testUpdateDeadline(t *testing.T, name string) {
	p := newPolicy(t, name, Options{Capacity: 4})
	p.Insert(1, Entry{Hash: hashOf(1), Size: 1})
	_, ok := p.Victim()
	if want := !isVolatile(name) && name != NoEviction; ok != want {
		t.Fatalf("Victim ok = %v, want %v before deadline", ok, want)
	}
	p.Update(1, Entry{Hash: hashOf(1), Size: 1, Deadline: 99})
	v, ok := p.Victim()
	if want := name != NoEviction; ok != want || (ok && v != 1) {
		t.Fatalf("Victim = %d, %v after deadline set", v, ok)
	}
	p.Update(1, Entry{Hash: hashOf(1), Size: 1})
	_, ok = p.Victim()
	if want := !isVolatile(name) && name != NoEviction; ok != want {
		t.Fatalf("Victim ok = %v, want %v after deadline cleared", ok, want)
	}
	if p.Len() != 1 {
		t.Fatalf("Len = %d, want 1", p.Len())
	}
}

func testUnknownIDs(t *testing.T, name string) {
	p := newPolicy(t, name, Options{Capacity: 4})
	p.Remove(7)
	p.Access(7)
	p.Update(7, entry(7))
	p.Remove(1 << 20)
	p.Access(1 << 20)
	p.Insert(2, entry(2))
	p.Remove(2)
	p.Access(2)
	p.Update(2, entry(2))
	p.Remove(2)
	if _, ok := p.Freq(2); ok {
		t.Fatal("Freq ok for removed id")
	}
	if _, ok := p.IdleMillis(2); ok {
		t.Fatal("IdleMillis ok for removed id")
	}
	if p.Len() != 0 {
		t.Fatalf("Len = %d, want 0", p.Len())
	}
	if _, ok := p.Victim(); ok {
		t.Fatal("Victim ok on empty policy")
	}
}

func testBytesGrow(t *testing.T, name string) {
	p := newPolicy(t, name, Options{Capacity: 1 << 20})
	before := p.Bytes()
	for i := range 10_000 {
		p.Insert(uint32(i), entry(i))
	}
	after := p.Bytes()
	if after <= before || after < 10_000*8 {
		t.Fatalf("Bytes %d -> %d for 10,000 entries", before, after)
	}
}

func testFreqIdle(t *testing.T, name string) {
	clk := &clock{ms: 1_700_000_000_000}
	p := newPolicy(t, name, Options{Capacity: 10, Now: clk.now})
	p.Insert(1, entry(1))
	clk.ms += 5000
	idle, ok := p.IdleMillis(1)
	lfu := strings.HasSuffix(name, "-lfu")
	if ok == lfu {
		t.Fatalf("IdleMillis ok = %v for %s", ok, name)
	}
	if ok && (idle < 4000 || idle > 6000) {
		t.Fatalf("IdleMillis = %d after 5s", idle)
	}
	p.Access(1)
	if idle, ok := p.IdleMillis(1); ok && idle > 1000 {
		t.Fatalf("IdleMillis = %d just after Access", idle)
	}
	f, ok := p.Freq(1)
	if want := lfu || name == AllKeysWTinyLFU; ok != want {
		t.Fatalf("Freq ok = %v for %s", ok, name)
	}
	if ok && f < 1 {
		t.Fatalf("Freq = %d after an insert and an access", f)
	}
}

// testModel replays random operations against the policy and a map.
func testModel(t *testing.T, name string) {
	const capacity = 200
	clk := &clock{ms: 1_700_000_000_000}
	p := newPolicy(t, name, Options{Capacity: capacity, Now: clk.now, Seed: 7})
	r := rand.New(rand.NewPCG(1, 2))
	model := map[uint32]Entry{}
	var free, ids []uint32
	next := uint32(0)
	pick := func() (uint32, bool) {
		if len(ids) == 0 {
			return 0, false
		}
		return ids[r.IntN(len(ids))], true
	}
	drop := func(id uint32) {
		delete(model, id)
		i := slices.Index(ids, id)
		ids[i] = ids[len(ids)-1]
		ids = ids[:len(ids)-1]
		free = append(free, id)
	}
	for step := range 20_000 {
		clk.ms += int64(r.IntN(50))
		switch op := r.IntN(10); {
		case op < 4: // insert
			var id uint32
			if n := len(free); n > 0 && r.IntN(2) == 0 {
				id, free = free[n-1], free[:n-1]
			} else {
				id = next
				next++
			}
			e := Entry{Hash: r.Uint64(), Size: uint32(1 + r.IntN(3))}
			if r.IntN(2) == 0 {
				e.Deadline = clk.ms + int64(r.IntN(100_000))
			}
			p.Insert(id, e)
			model[id] = e
			ids = append(ids, id)
		case op < 7: // access, sometimes of a removed id
			if id, ok := pick(); ok {
				p.Access(id)
			}
			if n := len(free); n > 0 {
				p.Access(free[r.IntN(n)])
			}
		case op < 8: // update
			if id, ok := pick(); ok {
				e := model[id]
				e.Size = uint32(1 + r.IntN(100))
				if r.IntN(2) == 0 {
					e.Deadline = 0
				} else {
					e.Deadline = clk.ms + 1000
				}
				p.Update(id, e)
				model[id] = e
			}
		case op < 9: // delete
			if id, ok := pick(); ok {
				p.Remove(id)
				drop(id)
			}
		default: // evict while over capacity
			for len(model) > capacity {
				v, ok := p.Victim()
				if !ok {
					break
				}
				e, live := model[v]
				if !live {
					t.Fatalf("step %d: Victim %d is not live", step, v)
				}
				if isVolatile(name) && e.Deadline == 0 {
					t.Fatalf("step %d: Victim %d has no deadline", step, v)
				}
				p.Remove(v)
				drop(v)
			}
		}
		if p.Len() != len(model) {
			t.Fatalf("step %d: Len = %d, model has %d", step, p.Len(), len(model))
		}
	}
	// Drain: every evictable entry comes out exactly once.
	seen := map[uint32]bool{}
	for {
		v, ok := p.Victim()
		if !ok {
			break
		}
		if _, live := model[v]; !live || seen[v] {
			t.Fatalf("drain: Victim %d live=%v seen=%v", v, live, seen[v])
		}
		seen[v] = true
		p.Remove(v)
		delete(model, v)
	}
	for id, e := range model {
		switch {
		case name == NoEviction:
		case isVolatile(name) && e.Deadline == 0:
		default:
			t.Fatalf("drain stopped with evictable %d (%+v) left", id, e)
		}
	}
	if p.Len() != len(model) {
		t.Fatalf("after drain Len = %d, model %d", p.Len(), len(model))
	}
}
