package lease

import (
	"encoding/binary"
	"math"
)

// Value envelope. A fill that records its compute time (DELTA) or stores a
// negative entry wraps the value it stores:
//
//	[0:4]  magic "\x00CF1"
//	[4]    flags: bit 0 = negative ("not found at the origin")
//	[5:]   compute time in ms as an unsigned varint, then the value bytes
//
// Fills without DELTA store the value as is, so plain GET reads them
// unchanged; enveloped values are meant to be read with CACHE.GET, which
// unwraps them (plain GET returns the envelope bytes). A value that does not
// start with the magic is a plain value with no compute time.
const envMagic = "\x00CF1"

const envNegative = 1

// EnvelopeOverhead is the most bytes the envelope adds to a value.
const EnvelopeOverhead = len(envMagic) + 1 + binary.MaxVarintLen64

// AppendEnvelope appends val wrapped with its compute time delta (ms) and
// negative flag to dst. With delta <= 0 and negative unset it appends val
// unwrapped.
func AppendEnvelope(dst []byte, delta int64, negative bool, val []byte) []byte {
	if delta <= 0 && !negative {
		return append(dst, val...)
	}
	dst = append(dst, envMagic...)
	var f byte
	if negative {
		f |= envNegative
	}
	dst = append(dst, f)
	dst = binary.AppendUvarint(dst, uint64(max(delta, 0)))
	return append(dst, val...)
}

// ParseEnvelope unwraps a stored value: the value bytes (aliasing v), the
// compute time in ms (0 when not recorded) and whether the entry is
// negative. A value without a well-formed envelope is returned as is.
func ParseEnvelope(v []byte) (val []byte, delta int64, negative bool) {
	if len(v) < len(envMagic)+2 || string(v[:len(envMagic)]) != envMagic {
		return v, 0, false
	}
	f := v[len(envMagic)]
	if f&^envNegative != 0 {
		return v, 0, false
	}
	d, n := binary.Uvarint(v[len(envMagic)+1:])
	if n <= 0 || d > math.MaxInt64 {
		return v, 0, false
	}
	return v[len(envMagic)+1+n:], int64(d), f&envNegative != 0
}

// EarlyRefresh reports whether a read at now should refresh, ahead of time,
// an entry whose fresh period ends at expiry (unix ms) and whose value took
// delta ms to compute. It is XFetch (Vattani, Chierichetti and Lowenstein,
// "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015):
//
//	now - delta * beta * ln(u) >= expiry
//
// with u drawn uniformly from (0, 1]. beta > 1 favours earlier refreshes;
// beta <= 0, delta <= 0 or no expiry disable it.
func EarlyRefresh(now, expiry, delta int64, beta, u float64) bool {
	if expiry <= 0 || delta <= 0 || beta <= 0 || u <= 0 {
		return false
	}
	return float64(now)-float64(delta)*beta*math.Log(u) >= float64(expiry)
}
