// Package splitargs splits a line into words the way Redis's sdssplitargs
// does, for inline commands, the configuration file and the ACL file, and
// quotes words so that Split reads them back.
//
// Grammar: words are separated by white space. A word may contain "..."
// parts with escapes (\xHH, \n, \r, \t, \b, \a; a backslash before any
// other byte stands for that byte) and '...' parts taken literally except
// for \'. A closing quote must be followed by white space or the end of the
// line. The package is a leaf (standard library only).
package splitargs

import "errors"

// ErrUnbalanced is returned for an unterminated quote or a closing quote
// followed by something other than white space.
var ErrUnbalanced = errors.New("unbalanced quotes")

// Split implements Redis's sdssplitargs in place over line (escapes are
// decoded into the line's own bytes, which are never longer) and appends
// the words to out. The words alias line.
func Split(line []byte, out [][]byte) ([][]byte, error) {
	i := 0
	for {
		for i < len(line) && IsSpace(line[i]) {
			i++
		}
		if i >= len(line) {
			return out, nil
		}
		start := i
		w := i // write position for decoded bytes
		inq, insq := false, false
		for {
			if inq {
				if i >= len(line) {
					return nil, ErrUnbalanced
				}
				c := line[i]
				if c == '\\' && i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
					line[w] = unhex(line[i+2])<<4 | unhex(line[i+3])
					i += 4
					w++
					continue
				}
				if c == '\\' && i+1 < len(line) {
					i++
					switch line[i] {
					case 'n':
						c = '\n'
					case 'r':
						c = '\r'
					case 't':
						c = '\t'
					case 'b':
						c = '\b'
					case 'a':
						c = '\a'
					default:
						c = line[i]
					}
					line[w] = c
					w++
					i++
					continue
				}
				if c == '"' {
					if i+1 < len(line) && !IsSpace(line[i+1]) {
						return nil, ErrUnbalanced
					}
					i++
					break
				}
				line[w] = c
				w++
				i++
				continue
			}
			if insq {
				if i >= len(line) {
					return nil, ErrUnbalanced
				}
				c := line[i]
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					line[w] = '\''
					w++
					i += 2
					continue
				}
				if c == '\'' {
					if i+1 < len(line) && !IsSpace(line[i+1]) {
						return nil, ErrUnbalanced
					}
					i++
					break
				}
				line[w] = c
				w++
				i++
				continue
			}
			if i >= len(line) || IsSpace(line[i]) {
				break
			}
			switch line[i] {
			case '"':
				inq = true
			case '\'':
				insq = true
			default:
				line[w] = line[i]
				w++
			}
			i++
		}
		out = append(out, line[start:w:w])
	}
}

// Strings is Split for a string; it copies s first.
func Strings(s string) ([]string, error) {
	words, err := Split([]byte(s), nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, w := range words {
		out = append(out, string(w))
	}
	return out, nil
}

// Quote returns w as one word that Split reads back: unchanged when it is
// printable ASCII without quotes or backslashes, else as AppendRepr writes
// it.
func Quote(w string) string {
	plain := w != ""
	for i := 0; i < len(w) && plain; i++ {
		c := w[i]
		plain = c > ' ' && c < 0x7f && c != '"' && c != '\'' && c != '\\'
	}
	if plain {
		return w
	}
	return string(AppendRepr(make([]byte, 0, len(w)+2), []byte(w)))
}

// AppendRepr appends a in double quotes the way Redis's sdscatrepr does
// (MONITOR, CONFIG REWRITE): \\, \", \n, \r, \t, \a, \b, printable ASCII as
// is and \xHH for every other byte. Split reads it back as one word.
func AppendRepr(b, a []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, ch := range a {
		switch ch {
		case '\\', '"':
			b = append(b, '\\', ch)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\a':
			b = append(b, '\\', 'a')
		case '\b':
			b = append(b, '\\', 'b')
		default:
			if ch >= 0x20 && ch < 0x7f {
				b = append(b, ch)
			} else {
				b = append(b, '\\', 'x', hex[ch>>4], hex[ch&15])
			}
		}
	}
	return append(b, '"')
}

// Join quotes every word and joins them with single spaces.
func Join(words []string) string {
	var b []byte
	for i, w := range words {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, Quote(w)...)
	}
	return string(b)
}

// IsSpace reports whether c separates words (C's isspace).
func IsSpace(c byte) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f'
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
