package evict

import "math/bits"

// rng is a small wyrand generator: one word of state, no allocation.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a uniform number in [0, n); n must be > 0.
func (r *rng) intn(n uint32) uint32 {
	hi, _ := bits.Mul64(r.next(), uint64(n))
	return uint32(hi)
}

// float returns a uniform number in [0, 1).
func (r *rng) float() float64 {
	return float64(r.next()>>11) / (1 << 53)
}

// grow returns s extended with zero values so that index i is valid.
func grow[T any](s []T, i uint32) []T {
	n := int(i) + 1
	if n <= len(s) {
		return s
	}
	if n <= cap(s) {
		return s[:n]
	}
	c := 2 * cap(s)
	if c < n {
		c = n
	}
	if c < 64 {
		c = 64
	}
	ns := make([]T, n, c)
	copy(ns, s)
	return ns
}
