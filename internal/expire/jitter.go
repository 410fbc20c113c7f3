package expire

import "math"

// Jitter spreads a relative TTL so that keys written together do not all
// expire in the same millisecond.
//
// Exact semantics:
//   - If ttlMs <= 0, or frac is NaN or <= 0, ttlMs is returned unchanged.
//   - frac above 1 is treated as 1.
//   - Otherwise u = frac*(2r-1), where r = (rnd>>11)/2^53 is uniform in
//     [0, 1) when rnd is uniform over uint64 (e.g. math/rand/v2's Uint64), so
//     u is uniform in [-frac, +frac). The result is ttlMs*(1+u) rounded to the
//     nearest millisecond, then clamped to [1, math.MaxInt64]: it is never
//     below 1 ms and never overflows.
//
// Jitter is pure and allocation-free. It only makes sense for relative TTLs
// (EX, PX, EXPIRE…); callers leave absolute deadlines (EXAT, PXAT) alone.
func Jitter(ttlMs int64, frac float64, rnd uint64) int64 {
	if ttlMs <= 0 || !(frac > 0) {
		return ttlMs
	}
	frac = min(frac, 1)
	r := float64(rnd>>11) / (1 << 53)
	delta := math.Round(float64(ttlMs) * frac * (2*r - 1))
	if delta >= 0 {
		if delta >= float64(math.MaxInt64-ttlMs) {
			return math.MaxInt64
		}
		return ttlMs + int64(delta)
	}
	// |delta| <= ttlMs after rounding to float64, which may round up to
	// 2^63: int64(-2^63) is still exact.
	return max(ttlMs+int64(delta), 1)
}
