package protocol

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/cachesrv/cachesrv/internal/splitargs"
)

// Redis 7's error replies shared by many commands.
const (
	errNotInt     = "ERR value is not an integer or out of range"
	errNotFloat   = "ERR value is not a valid float"
	errSyntax     = "ERR syntax error"
	errWrongType  = "WRONGTYPE Operation against a key holding the wrong kind of value"
	errOverflow   = "ERR increment or decrement would overflow"
	errNoSuchKey  = "ERR no such key"
	errDBRange    = "ERR DB index is out of range"
	errNaN        = "ERR increment would produce NaN or Infinity"
	errStrTooBig  = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
	errOffset     = "ERR offset is out of range"
	errSameObject = "ERR source and destination objects are the same"
)

// b2s views bytes as a string without copying; the string must not outlive
// the bytes.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// s2b views a string's bytes without copying; the bytes must not be
// modified.
func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// parseInt parses a Redis integer argument strictly (string2ll rules: no
// spaces, no '+', no leading zeros).
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := false
	i := 0
	if b[0] == '-' {
		neg = true
		i = 1
		if len(b) == 1 {
			return 0, false
		}
	}
	if b[i] < '1' || b[i] > '9' {
		return 0, false
	}
	var n uint64
	for ; i < len(b); i++ {
		c := b[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxUint64-9)/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if neg {
		if n > 1<<63 {
			return 0, false
		}
		return -int64(n), true
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	return int64(n), true
}

// parseFloat parses a Redis float argument (strtold rules: no spaces, inf
// allowed, nan refused).
func parseFloat(b []byte) (float64, bool) {
	if len(b) == 0 || splitargs.IsSpace(b[0]) || splitargs.IsSpace(b[len(b)-1]) {
		return 0, false
	}
	f, err := strconv.ParseFloat(b2s(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, !math.IsNaN(f)
		}
		return 0, false
	}
	if math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// eq compares an argument with a lower-case option name, ignoring case.
func eq(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
