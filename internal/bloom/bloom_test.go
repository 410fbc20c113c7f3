package bloom

import (
	"encoding/binary"
	"strconv"
	"testing"
)

func mustNew(t testing.TB, p Params) Filter {
	t.Helper()
	b, err := New(p)
	if err != nil {
		t.Fatalf("New(%+v): %v", p, err)
	}
	return Filter(b)
}

// add adds item, growing as BF.ADD does.
func add(t testing.TB, f Filter, item []byte) (Filter, AddResult) {
	t.Helper()
	for {
		switch r := f.Add(item); r {
		case NeedsGrowth:
			g, err := f.Grow()
			if err != nil {
				t.Fatalf("Grow: %v", err)
			}
			f = g
		default:
			return f, r
		}
	}
}

func TestNoFalseNegativesAndErrorRate(t *testing.T) {
	t.Parallel()
	for _, p := range []Params{
		{Capacity: 1000, Error: 0.01, Expansion: 2},
		{Capacity: 1000, Error: 0.001, Expansion: 2, NonScaling: true},
		{Capacity: 100, Error: 0.01, Expansion: 2}, // scales to ~8 sub-filters
		{Capacity: 10, Error: 0.05, Expansion: 1},
	} {
		t.Run(strconv.FormatFloat(p.Error, 'g', -1, 64)+"/"+strconv.FormatUint(p.Capacity, 10), func(t *testing.T) {
			t.Parallel()
			f := mustNew(t, p)
			n := int(p.Capacity)
			if !p.NonScaling {
				n = 5000
				if p.Expansion == 1 {
					n = 300 // 30 sub-filters
				}
			}
			added := 0
			for i := 0; i < n; i++ {
				var r AddResult
				f, r = add(t, f, []byte("item:"+strconv.Itoa(i)))
				if r == Added {
					added++
				}
			}
			if !f.Valid() {
				t.Fatal("invalid after adds")
			}
			if f.Items() != uint64(added) {
				t.Fatalf("items %d, added %d", f.Items(), added)
			}
			for i := 0; i < n; i++ {
				if !f.Exists([]byte("item:" + strconv.Itoa(i))) {
					t.Fatalf("false negative for %d", i)
				}
			}
			fp := 0
			const probes = 20000
			for i := 0; i < probes; i++ {
				if f.Exists([]byte("other:" + strconv.Itoa(i))) {
					fp++
				}
			}
			if rate := float64(fp) / probes; rate > p.Error*1.5 {
				t.Fatalf("false-positive rate %.4f, want <= %.4f", rate, p.Error)
			}
		})
	}
}

func TestScaling(t *testing.T) {
	t.Parallel()
	f := mustNew(t, Params{Capacity: 100, Error: 0.01, Expansion: 2})
	if f.NumFilters() != 1 || f.Capacity() != 100 || f.Expansion() != 2 || f.NonScaling() {
		t.Fatalf("new filter: %d filters, capacity %d", f.NumFilters(), f.Capacity())
	}
	for i := 0; f.Items() < 101; i++ {
		f, _ = add(t, f, []byte(strconv.Itoa(i)))
	}
	if f.NumFilters() != 2 || f.Capacity() != 300 {
		t.Fatalf("after 101 items: %d filters, capacity %d", f.NumFilters(), f.Capacity())
	}
	nf := mustNew(t, Params{Capacity: 2, Error: 0.01, Expansion: 2, NonScaling: true})
	nf.Add([]byte("a"))
	nf.Add([]byte("b"))
	if r := nf.Add([]byte("c")); r != Full {
		t.Fatalf("full non-scaling filter: %v", r)
	}
	if r := nf.Add([]byte("a")); r != Present {
		t.Fatalf("present item in a full filter: %v", r)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	if _, err := New(Params{Capacity: 1 << 40, Error: 0.01, Expansion: 2}); err != ErrTooLarge {
		t.Fatalf("huge filter: %v", err)
	}
	if _, err := SizeOf(Params{Capacity: 1, Error: 1e-300, Expansion: 1}); err != nil {
		t.Fatalf("tiny error rate: %v", err)
	}
	f := mustNew(t, Params{Capacity: 1, Error: 0.5, Expansion: 1})
	var err error
	for i := 1; i < MaxFilters; i++ {
		if f, err = f.Grow(); err != nil {
			t.Fatalf("grow %d: %v", i, err)
		}
	}
	if _, err := f.Grow(); err != ErrTooLarge {
		t.Fatalf("grow past MaxFilters: %v", err)
	}
	if !f.Valid() {
		t.Fatal("invalid")
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	f := mustNew(t, Params{Capacity: 100, Error: 0.01, Expansion: 2})
	bad := map[string]func(Filter) Filter{
		"short":       func(f Filter) Filter { return f[:10] },
		"truncated":   func(f Filter) Filter { return f[:len(f)-1] },
		"trailing":    func(f Filter) Filter { return append(f, 0) },
		"version":     func(f Filter) Filter { f[0] = 9; return f },
		"no filters":  func(f Filter) Filter { binary.LittleEndian.PutUint16(f[2:], 0); return f },
		"items":       func(f Filter) Filter { binary.LittleEndian.PutUint64(f[8:], 5); return f },
		"zero hashes": func(f Filter) Filter { binary.LittleEndian.PutUint32(f[hdrSize+32:], 0); return f },
	}
	for name, mod := range bad {
		g := mod(append(Filter(nil), f...))
		if g.Valid() {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzFilter(f *testing.F) {
	b, _ := New(Params{Capacity: 4, Error: 0.1, Expansion: 2})
	f.Add(b, []byte("x"))
	f.Add([]byte{1, 0, 1, 0}, []byte(""))
	f.Fuzz(func(t *testing.T, b []byte, item []byte) {
		fl := Filter(b)
		if !fl.Valid() {
			return
		}
		// A valid encoding must survive every operation.
		fl.Exists(item)
		_ = fl.Capacity()
		if r := fl.Add(item); r == NeedsGrowth {
			if g, err := fl.Grow(); err == nil && !g.Valid() {
				t.Fatal("grown filter invalid")
			}
		} else if !fl.Valid() {
			t.Fatal("invalid after add")
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	f := mustNew(b, Params{Capacity: 1 << 20, Error: 0.01, Expansion: 2})
	item := []byte("user:123456")
	b.ReportAllocs()
	for b.Loop() {
		f.Add(item)
	}
}

func BenchmarkExists(b *testing.B) {
	f := mustNew(b, Params{Capacity: 1 << 20, Error: 0.01, Expansion: 2})
	item := []byte("user:123456")
	b.ReportAllocs()
	for b.Loop() {
		f.Exists(item)
	}
}
