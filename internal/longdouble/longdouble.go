// Package longdouble does the arithmetic Redis does in C's long double
// (INCRBYFLOAT, HINCRBYFLOAT): on x86-64 that is the x87 80-bit extended
// format, a 64-bit significand with a 15-bit exponent. Values are
// math/big floats rounded to that precision and checked against that
// exponent range, parsed as strtold parses and formatted as Redis's
// ld2string(LD_STR_HUMAN) does ("%.17Lf" with trailing zeroes removed), so
// replies match redis-server byte for byte.
package longdouble

import (
	"math/big"
	"strings"
)

const (
	// Prec is the significand precision of the x87 extended format.
	Prec = 64
	// maxExp is the exponent (as math/big counts it, mantissa in [0.5, 1))
	// above which a value overflows to infinity: the largest finite value
	// is just below 2^16384.
	maxExp = 16384
	// minExp is the exponent of the smallest subnormal, 2^-16445.
	minExp = -16444
	// MaxChars bounds the text Redis parses or produces (MAX_LONG_DOUBLE_CHARS).
	MaxChars = 5 * 1024
)

// Parse reads s as Redis's string2ld does: the whole string is a number in
// strtold's syntax (decimal or hexadecimal, no leading space), not NaN, and
// neither overflowing nor underflowing to zero. ok is false otherwise.
func Parse(s []byte) (v *big.Float, ok bool) {
	if len(s) == 0 || len(s) >= MaxChars {
		return nil, false
	}
	str := string(s)
	switch str[0] {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return nil, false
	}
	if strings.ContainsRune(str, '_') {
		return nil, false // Go's syntax, not strtold's
	}
	lower := strings.ToLower(str)
	if t := strings.TrimLeft(lower, "+-"); len(lower)-len(t) <= 1 && (t == "inf" || t == "infinity") {
		// strtold reads infinity without ERANGE, so Redis accepts it; any
		// sum with it is then refused by Add.
		return new(big.Float).SetInf(lower[0] == '-'), true
	}
	lower = strings.TrimLeft(lower, "+-")
	if strings.HasPrefix(lower, "nan") {
		return nil, false
	}
	base := 10
	if strings.HasPrefix(lower, "0x") {
		base = 0
	}
	f, _, err := big.ParseFloat(str, base, Prec, big.ToNearestEven)
	if err != nil || f.IsInf() {
		return nil, false
	}
	if !inRange(f) {
		return nil, false
	}
	return f, true
}

// inRange reports whether f is finite in the extended format and, when f
// is not zero, does not underflow to zero.
func inRange(f *big.Float) bool {
	if f.Sign() == 0 {
		return true
	}
	exp := f.MantExp(nil)
	return exp <= maxExp && exp >= minExp
}

// Add returns a+b rounded to the extended format, and ok=false when the sum
// is infinite (Redis: "increment would produce NaN or Infinity").
func Add(a, b *big.Float) (*big.Float, bool) {
	if a.IsInf() || b.IsInf() {
		return nil, false // inf, or inf - inf (NaN)
	}
	z := new(big.Float).SetPrec(Prec).SetMode(big.ToNearestEven).Add(a, b)
	if z.IsInf() {
		return nil, false
	}
	if z.Sign() != 0 && z.MantExp(nil) > maxExp {
		return nil, false
	}
	if z.Sign() != 0 && z.MantExp(nil) < minExp {
		z.SetInt64(0) // below the smallest subnormal: the hardware gives 0
	}
	return z, true
}

// AppendHuman appends f as ld2string(LD_STR_HUMAN) formats it: fixed point
// with 17 decimals, trailing zeroes (and a trailing dot) removed, "-0" as
// "0".
func AppendHuman(dst []byte, f *big.Float) []byte {
	start := len(dst)
	dst = f.Append(dst, 'f', 17)
	if i := strings.IndexByte(string(dst[start:]), '.'); i >= 0 {
		for dst[len(dst)-1] == '0' {
			dst = dst[:len(dst)-1]
		}
		if dst[len(dst)-1] == '.' {
			dst = dst[:len(dst)-1]
		}
	}
	if string(dst[start:]) == "-0" {
		dst = append(dst[:start], '0')
	}
	return dst
}
