package expire

import (
	"math"
	"sync/atomic"
	"time"
)

// lagBoundsUs are the histogram's upper bounds in microseconds: 0.1 ms to
// 60 s in 1-2.5-5 steps; later observations fall in an implicit +Inf bucket.
var lagBoundsUs = [...]int64{
	100, 250, 500,
	1_000, 2_500, 5_000,
	10_000, 25_000, 50_000,
	100_000, 250_000, 500_000,
	1_000_000, 2_500_000, 5_000_000,
	10_000_000, 30_000_000, 60_000_000,
}

const numLagBuckets = len(lagBoundsUs) + 1

// LagBuckets returns the upper bounds, in seconds, of LagHistogram's finite
// buckets, in increasing order.
func LagBuckets() []float64 {
	b := make([]float64, len(lagBoundsUs))
	for i, us := range lagBoundsUs {
		b[i] = float64(us) / 1e6
	}
	return b
}

// LagHistogram is the distribution of expiration lag: reclaim time minus
// deadline. Its zero value is ready to use. Observe is lock-free (two atomic
// adds) and safe for concurrent use with every other method; a snapshot taken
// while observations land may be off by those observations. To keep cores
// from contending on one histogram, keep one per shard and Merge them at
// scrape time.
type LagHistogram struct {
	counts [numLagBuckets]atomic.Uint64
	sumUs  atomic.Uint64
}

// Observe records a lag of lagMs milliseconds; negative lags count as 0.
func (h *LagHistogram) Observe(lagMs int64) {
	if lagMs > math.MaxInt64/1000 {
		lagMs = math.MaxInt64 / 1000
	}
	h.observeUs(lagMs * 1000)
}

// ObserveDuration records a lag of d, at microsecond precision; negative lags
// count as 0.
func (h *LagHistogram) ObserveDuration(d time.Duration) {
	h.observeUs(d.Microseconds())
}

func (h *LagHistogram) observeUs(us int64) {
	us = max(us, 0)
	i := 0
	for i < len(lagBoundsUs) && us > lagBoundsUs[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumUs.Add(uint64(us))
}

// Snapshot returns the finite buckets' upper bounds in seconds (as
// LagBuckets), the cumulative count of observations <= each bound (the
// Prometheus "le" convention), the sum of all lags in seconds, and the total
// count, which includes lags beyond the last bound.
func (h *LagHistogram) Snapshot() (buckets []float64, counts []uint64, sum float64, count uint64) {
	buckets = LagBuckets()
	counts = make([]uint64, len(lagBoundsUs))
	for i := range lagBoundsUs {
		count += h.counts[i].Load()
		counts[i] = count
	}
	count += h.counts[len(lagBoundsUs)].Load()
	return buckets, counts, float64(h.sumUs.Load()) / 1e6, count
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the lag in seconds,
// interpolating linearly inside the bucket holding it as Prometheus's
// histogram_quantile does. Lags beyond the last bound report as 60 s. It
// returns 0 when nothing was observed.
func (h *LagHistogram) Quantile(q float64) float64 {
	var c [numLagBuckets]uint64
	var total uint64
	for i := range c {
		c[i] = h.counts[i].Load()
		total += c[i]
	}
	if total == 0 || math.IsNaN(q) {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := q * float64(total)
	var cum uint64
	for i, n := range c {
		if n == 0 || float64(cum+n) < rank {
			cum += n
			continue
		}
		if i == len(lagBoundsUs) {
			break
		}
		lo := 0.0
		if i > 0 {
			lo = float64(lagBoundsUs[i-1]) / 1e6
		}
		hi := float64(lagBoundsUs[i]) / 1e6
		return lo + (hi-lo)*(rank-float64(cum))/float64(n)
	}
	return float64(lagBoundsUs[len(lagBoundsUs)-1]) / 1e6
}

// Merge adds src's observations to h (for summing per-shard histograms).
func (h *LagHistogram) Merge(src *LagHistogram) {
	for i := range h.counts {
		h.counts[i].Add(src.counts[i].Load())
	}
	h.sumUs.Add(src.sumUs.Load())
}

// Reset forgets every observation.
func (h *LagHistogram) Reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.sumUs.Store(0)
}
