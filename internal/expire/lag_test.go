package expire

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestLagHistogramSnapshot(t *testing.T) {
	t.Parallel()
	var h LagHistogram
	for _, ms := range []int64{-3, 0, 1, 1, 7, 250, 999, 60_000, 120_000} {
		h.Observe(ms)
	}
	h.ObserveDuration(300 * time.Microsecond)
	buckets, counts, sum, count := h.Snapshot()
	if len(buckets) != len(counts) || buckets[0] != 0.0001 || buckets[len(buckets)-1] != 60 {
		t.Fatalf("buckets %v", buckets)
	}
	want := map[float64]uint64{ // cumulative, le
		0.0001: 2, 0.0005: 3, 0.001: 5, 0.01: 6, 0.25: 7, 1: 8, 30: 8, 60: 9,
	}
	for i, b := range buckets {
		if w, ok := want[b]; ok && counts[i] != w {
			t.Fatalf("count(le=%v) = %d, want %d (all: %v)", b, counts[i], w, counts)
		}
		if i > 0 && counts[i] < counts[i-1] {
			t.Fatalf("counts not cumulative: %v", counts)
		}
	}
	if count != 10 {
		t.Fatalf("count = %d, want 10", count)
	}
	if wantSum := (1 + 1 + 7 + 250 + 999 + 60_000 + 120_000 + 0.3) / 1000; math.Abs(sum-wantSum) > 1e-9 {
		t.Fatalf("sum = %v, want %v", sum, wantSum)
	}
	h.Observe(math.MaxInt64) // saturates, does not wrap negative
	if _, _, sum, _ := h.Snapshot(); sum <= 0 {
		t.Fatalf("sum = %v after a huge lag", sum)
	}
}

func TestLagHistogramQuantile(t *testing.T) {
	t.Parallel()
	var h LagHistogram
	if q := h.Quantile(0.5); q != 0 {
		t.Fatalf("empty histogram quantile %v", q)
	}
	// 100 observations: 50 at 3 ms, 49 at 80 ms, 1 at 2 minutes.
	for range 50 {
		h.Observe(3)
	}
	for range 49 {
		h.Observe(80)
	}
	h.Observe(120_000)
	for _, tt := range []struct {
		q      float64
		lo, hi float64
	}{
		{0, 0, 0.0025},
		{0.25, 0.0025, 0.005}, // inside the 2.5-5 ms bucket
		{0.5, 0.0025, 0.005},
		{0.9, 0.05, 0.1},
		{0.99, 0.05, 0.1},
		{1, 60, 60}, // beyond the last bound
	} {
		if got := h.Quantile(tt.q); got < tt.lo || got > tt.hi {
			t.Fatalf("Quantile(%v) = %v, want in [%v, %v]", tt.q, got, tt.lo, tt.hi)
		}
	}
}

func TestLagHistogramMergeReset(t *testing.T) {
	t.Parallel()
	var a, b, total LagHistogram
	a.Observe(1)
	b.Observe(2)
	b.Observe(5000)
	total.Merge(&a)
	total.Merge(&b)
	if _, _, sum, n := total.Snapshot(); n != 3 || math.Abs(sum-5.003) > 1e-9 {
		t.Fatalf("merged: n=%d sum=%v", n, sum)
	}
	total.Reset()
	if _, _, sum, n := total.Snapshot(); n != 0 || sum != 0 {
		t.Fatalf("after Reset: n=%d sum=%v", n, sum)
	}
}

func TestLagHistogramConcurrent(t *testing.T) {
	t.Parallel()
	var h LagHistogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				h.Observe(int64(g*1000 + i))
				if i%100 == 0 {
					h.Snapshot()
					h.Quantile(0.99)
				}
			}
		})
	}
	wg.Wait()
	if _, _, _, n := h.Snapshot(); n != 4000 {
		t.Fatalf("count = %d, want 4000", n)
	}
}

func TestLagHistogramObserveAllocs(t *testing.T) {
	var h LagHistogram
	if a := testing.AllocsPerRun(100, func() { h.Observe(42) }); a != 0 {
		t.Fatalf("Observe allocates %v", a)
	}
}

func BenchmarkLagObserve(b *testing.B) {
	var h LagHistogram
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		h.Observe(i & 1023)
	}
}
