package expire

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestJitterUnchanged(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ttl  int64
		frac float64
	}{
		{"zero frac", 1000, 0},
		{"negative frac", 1000, -0.5},
		{"NaN frac", 1000, math.NaN()},
		{"zero ttl", 0, 0.5},
		{"negative ttl", -5, 0.5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, rnd := range []uint64{0, 1 << 63, math.MaxUint64} {
				if got := Jitter(tt.ttl, tt.frac, rnd); got != tt.ttl {
					t.Fatalf("Jitter(%d, %v, %#x) = %d, want unchanged", tt.ttl, tt.frac, rnd, got)
				}
			}
		})
	}
}

func TestJitterBounds(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		ttl    int64
		frac   float64
		lo, hi int64 // inclusive bounds of the result
	}{
		{10_000, 0.1, 9_000, 11_000},
		{1, 0.5, 1, 2},
		{1, 1, 1, 2},
		{3, 1, 1, 6},
		{10_000, 5, 1, 20_000}, // frac clamped to 1
		{math.MaxInt64, 0.5, math.MaxInt64 / 2, math.MaxInt64},
		{math.MaxInt64 - 1, 1, 1, math.MaxInt64},
	} {
		// The extremes of rnd give u = -frac and u just under +frac.
		for _, rnd := range []uint64{0, 1 << 11, 1 << 63, math.MaxUint64} {
			got := Jitter(tt.ttl, tt.frac, rnd)
			if got < tt.lo || got > tt.hi {
				t.Fatalf("Jitter(%d, %v, %#x) = %d, want in [%d, %d]", tt.ttl, tt.frac, rnd, got, tt.lo, tt.hi)
			}
		}
	}
	if got := Jitter(10_000, 0.1, 0); got != 9_000 {
		t.Fatalf("rnd=0 gives %d, want ttl*(1-frac) = 9000", got)
	}
	if got := Jitter(10_000, 0.1, 1<<63); got != 10_000 {
		t.Fatalf("rnd=2^63 gives %d, want ttl (u=0)", got)
	}
	if got := Jitter(10_000, 0.1, math.MaxUint64); got != 11_000 {
		t.Fatalf("rnd=max gives %d, want 11000 after rounding", got)
	}
	if got := Jitter(math.MaxInt64, 1, math.MaxUint64); got != math.MaxInt64 {
		t.Fatalf("overflow: got %d, want MaxInt64", got)
	}
}

// TestJitterUniform checks the spread with a chi-squared test over 20 bins.
func TestJitterUniform(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(7, 7))
	const (
		ttl  = 1_000_000
		frac = 0.2
		bins = 20
		n    = 100_000
	)
	var count [bins]int
	lo, hi := float64(ttl)*(1-frac), float64(ttl)*(1+frac)
	for range n {
		got := float64(Jitter(ttl, frac, r.Uint64()))
		if got < lo || got > hi {
			t.Fatalf("Jitter = %v out of [%v, %v]", got, lo, hi)
		}
		b := int((got - lo) / (hi - lo) * bins)
		count[min(b, bins-1)]++
	}
	chi2 := 0.0
	for _, c := range count {
		d := float64(c) - n/bins
		chi2 += d * d / (n / bins)
	}
	// 19 degrees of freedom: p=0.001 critical value is 43.8.
	if chi2 > 43.8 {
		t.Fatalf("chi-squared %.1f over %v: not uniform", chi2, count)
	}
}

func BenchmarkJitter(b *testing.B) {
	b.ReportAllocs()
	var sink int64
	for i := uint64(0); b.Loop(); i++ {
		sink += Jitter(60_000, 0.1, i*0x9e3779b97f4a7c15)
	}
	_ = sink
}
