// Package glob matches strings against Redis glob patterns, the syntax of
// CONFIG GET, KEYS, SCAN MATCH and PSUBSCRIBE.
//
// The package is a leaf (standard library only) so that the core packages can
// use it without importing the configuration layer.
//
// Syntax, byte-wise as in Redis's stringmatchlen:
//
//   - any sequence of bytes, including none
//     ?        exactly one byte
//     [abc]    one byte from the set; [^abc] one byte not in the set
//     [a-z]    one byte in the range (bounds may be given in either order)
//     \x       the byte x literally, also inside a set
//
// An unterminated set ("[abc") runs to the end of the pattern, and a
// trailing backslash matches itself, as in Redis. With nocase, ASCII letters
// match regardless of case, except after a backslash inside a set (a Redis
// quirk that is kept for compatibility).
//
// Matching never allocates and takes O(len(pattern)·len(s)) time in the worst
// case: unlike Redis's recursive matcher it only ever backtracks to the most
// recent star, which gives the same answers because every other pattern token
// consumes exactly one byte. Two deliberate differences from stringmatchlen:
// an empty string matches a pattern made only of stars (Redis special-cases
// "*" in KEYS and SCAN instead), and deeply nested stars are not cut off
// after 1000 levels.
package glob

// Match reports whether s matches the Redis glob pattern.
func Match(pattern, s string, nocase bool) bool {
	return match(pattern, s, nocase)
}

// MatchBytes is Match for byte slices, for callers holding request buffers.
func MatchBytes(pattern, s []byte, nocase bool) bool {
	return match(pattern, s, nocase)
}

func match[P, S ~string | ~[]byte](p P, s S, nocase bool) bool {
	pi, si := 0, 0
	// Position after the most recent run of stars, and the string position
	// that run is currently assumed to stop at; starP < 0 means no star yet.
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			if p[pi] == '*' {
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if pi == len(p) {
					return true
				}
				starP, starS = pi, si
				continue
			}
			if n := token(p, pi, s[si], nocase); n > 0 {
				pi += n
				si++
				continue
			}
		}
		if starP < 0 {
			return false
		}
		// Let the last star swallow one more byte and retry from there.
		starS++
		pi, si = starP, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// token matches the single-byte pattern token at p[pi] (anything but a star)
// against c. It returns the token's length in the pattern, or 0 when c does
// not match.
func token[P ~string | ~[]byte](p P, pi int, c byte, nocase bool) int {
	switch p[pi] {
	case '?':
		return 1
	case '[':
		return class(p, pi, c, nocase)
	case '\\':
		if len(p)-pi >= 2 {
			if equal(p[pi+1], c, nocase) {
				return 2
			}
			return 0
		}
	}
	if equal(p[pi], c, nocase) {
		return 1
	}
	return 0
}

// class matches the set starting with '[' at p[pi], following the order of
// tests in Redis's stringmatchlen so that malformed sets behave the same.
func class[P ~string | ~[]byte](p P, pi int, c byte, nocase bool) int {
	i := pi + 1
	negate := i < len(p) && p[i] == '^'
	if negate {
		i++
	}
	matched := false
	end := len(p) // an unterminated set runs to the end of the pattern
scan:
	for ; i < len(p); i++ {
		switch {
		case p[i] == '\\' && len(p)-i >= 2:
			i++
			if p[i] == c { // case-sensitive even with nocase, as in Redis
				matched = true
			}
		case p[i] == ']':
			end = i + 1
			break scan
		case len(p)-i >= 3 && p[i+1] == '-':
			lo, hi, b := p[i], p[i+2], c
			if lo > hi {
				lo, hi = hi, lo
			}
			if nocase {
				lo, hi, b = lower(lo), lower(hi), lower(b)
			}
			if lo <= b && b <= hi {
				matched = true
			}
			i += 2
		default:
			if equal(p[i], c, nocase) {
				matched = true
			}
		}
	}
	if matched == negate {
		return 0
	}
	return end - pi
}

func equal(a, b byte, nocase bool) bool {
	if nocase {
		return lower(a) == lower(b)
	}
	return a == b
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
