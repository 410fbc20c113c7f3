package glob

import (
	"strings"
	"testing"
)

var cases = []struct {
	pattern, s string
	nocase     bool
	want       bool
}{
	{"", "", false, true},
	{"", "a", false, false},
	{"a", "", false, false},
	{"*", "", false, true}, // Redis's stringmatchlen says no; see the package doc
	{"**", "", false, true},
	{"*", "anything", false, true},
	{"h?llo", "hello", false, true},
	{"h?llo", "hllo", false, false},
	{"h*llo", "hllo", false, true},
	{"h*llo", "heeeello", false, true},
	{"h*llo", "heeeellox", false, false},
	{"h[ae]llo", "hello", false, true},
	{"h[ae]llo", "hallo", false, true},
	{"h[ae]llo", "hillo", false, false},
	{"h[^e]llo", "hallo", false, true},
	{"h[^e]llo", "hello", false, false},
	{"h[a-b]llo", "hbllo", false, true},
	{"h[b-a]llo", "hallo", false, true}, // reversed range
	{"h[a-b]llo", "hcllo", false, false},
	{`h\*llo`, "h*llo", false, true},
	{`h\*llo`, "hello", false, false},
	{`\`, `\`, false, true}, // trailing backslash is literal
	{`a\`, `a\`, false, true},
	{`[\]]`, "]", false, true},
	{`[\-]`, "-", false, true},
	{"[]", "]", false, false},   // empty set, then nothing
	{"[]]", "]", false, false},  // "[]" is an empty set, then a literal "]"
	{"[]]", "x]", false, false}, // an empty set matches nothing
	{"[^]", "x", false, true},   // negated empty set
	{"[abc", "b", false, true},  // unterminated set runs to the end
	{"[abc", "bc", false, false},
	{"[", "x", false, false},
	{"[^", "x", false, true},
	{"[a-]", "]", false, true}, // Redis reads "a-]" as a range and keeps going
	{"maxmemory*", "maxmemory-policy", false, true},
	{"*memory*", "maxmemory-samples", false, true},
	{"MAXMEMORY", "maxmemory", false, false},
	{"MAXMEMORY", "maxmemory", true, true},
	{"MAX*", "maxmemory", true, true},
	{"[A-Z]", "q", true, true},
	{"[a-z]", "Q", true, true},
	{"[Z-a]", "_", false, true}, // '_' lies between 'Z' and 'a'
	{"[Z-a]", "_", true, false}, // with nocase the bounds become 'z' and 'a': range a..z
	{`[\A]`, "a", true, false},  // escaped byte in a set compares case-sensitively
	{`\A`, "a", true, true},
	{"a*b*c*d*e*f", "aXbXcXdXeXf", false, true},
	{"a*b*c*d*e*f", strings.Repeat("a", 60) + "bcde", false, false},
	{"*a*a*a*a*a*a*a*b", strings.Repeat("a", 200), false, false},
	{"?*?", "ab", false, true},
	{"?*?", "a", false, false},
	{"*?", "", false, false},
	{"user:*:name", "user:42:name", false, true},
	{"user:*:name", "user:42:names", false, false},
}

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range cases {
		if got := Match(tc.pattern, tc.s, tc.nocase); got != tc.want {
			t.Errorf("Match(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.nocase, got, tc.want)
		}
		if got := MatchBytes([]byte(tc.pattern), []byte(tc.s), tc.nocase); got != tc.want {
			t.Errorf("MatchBytes(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.nocase, got, tc.want)
		}
		if got := redisMatch(tc.pattern, tc.s, tc.nocase); got != tc.want {
			t.Errorf("reference(%q, %q, %v) = %v, want %v", tc.pattern, tc.s, tc.nocase, got, tc.want)
		}
	}
}

func TestMatchAllocs(t *testing.T) {
	p, s := "*a*[b-d]?\\e*[^xyz]*", strings.Repeat("ab", 50)+"ce!q"
	pb, sb := []byte(p), []byte(s)
	if n := testing.AllocsPerRun(100, func() {
		Match(p, s, true)
		MatchBytes(pb, sb, false)
	}); n != 0 {
		t.Fatalf("Match allocates %v times per run, want 0", n)
	}
}

// TestMatchLinear guards against exponential backtracking: this pattern makes
// a naive recursive matcher try ~len(s)^stars splits.
func TestMatchLinear(t *testing.T) {
	t.Parallel()
	p := strings.Repeat("*a", 30) + "b"
	s := strings.Repeat("a", 5000)
	if Match(p, s, false) {
		t.Fatal("unexpected match")
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, bc := range []struct{ name, p, s string }{
		{"literal", "user:1234:profile", "user:1234:profile"},
		{"prefix", "user:*", "user:1234:profile"},
		{"classes", "user:[0-9][0-9]*:pro?ile", "user:1234:profile"},
		{"backtrack", "*a*a*a*b", strings.Repeat("a", 64)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Match(bc.p, bc.s, false)
			}
		})
	}
}

// FuzzMatch compares Match with a line-by-line port of Redis's recursive
// stringmatchlen (memoized so that fuzzing stays fast) and checks invariants.
func FuzzMatch(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.pattern, tc.s, tc.nocase)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, nocase bool) {
		if len(pattern) > 64 || len(s) > 64 {
			return
		}
		got := Match(pattern, s, nocase)
		if want := redisMatch(pattern, s, nocase); got != want {
			t.Fatalf("Match(%q, %q, %v) = %v, reference says %v", pattern, s, nocase, got, want)
		}
		if MatchBytes([]byte(pattern), []byte(s), nocase) != got {
			t.Fatalf("MatchBytes disagrees with Match for (%q, %q, %v)", pattern, s, nocase)
		}
		// Every string matches itself once each byte is escaped, and
		// matches "*" and a run of "?" of its length.
		if !Match(escape(s), s, nocase) {
			t.Fatalf("escaped %q does not match itself", s)
		}
		if !Match("*", s, nocase) || !Match(strings.Repeat("?", len(s)), s, nocase) {
			t.Fatalf("%q does not match * or ?s", s)
		}
		// A pattern matches s iff it matches after adding a star run at a
		// point where one already is.
		if strings.Contains(pattern, "*") && !strings.Contains(pattern, "\\") && !strings.Contains(pattern, "[") {
			if Match(strings.Replace(pattern, "*", "**", 1), s, nocase) != got {
				t.Fatalf("doubling a star in %q changed the result for %q", pattern, s)
			}
		}
	})
}

func escape(s string) string {
	var b strings.Builder
	for i := range len(s) {
		b.WriteByte('\\')
		b.WriteByte(s[i])
	}
	return b.String()
}

// redisMatch is a port of stringmatchlen_impl from Redis 7 (src/util.c),
// keeping its control flow so that the quirks of malformed patterns line up.
// It differs in two ways only: results are memoized per (pattern, string)
// offset, and an empty string matches a pattern of stars (see the package doc).
func redisMatch(pattern, s string, nocase bool) bool {
	if s == "" {
		return strings.Trim(pattern, "*") == ""
	}
	memo := map[[2]int]bool{}
	var rec func(p, si int) bool
	rec = func(p, si int) bool {
		key := [2]int{p, si}
		if v, ok := memo[key]; ok {
			return v
		}
		r := redisMatchAt(pattern, p, s, si, nocase, rec)
		memo[key] = r
		return r
	}
	return rec(0, 0)
}

func redisMatchAt(pat string, p int, str string, si int, nocase bool, rec func(p, si int) bool) bool {
	at := func(i int) byte { // C strings are NUL-terminated
		if i < len(pat) {
			return pat[i]
		}
		return 0
	}
	tolower := func(b byte) byte { return lower(b) }
	for p < len(pat) && si < len(str) {
		switch pat[p] {
		case '*':
			for p < len(pat) && at(p+1) == '*' {
				p++
			}
			if len(pat)-p == 1 {
				return true
			}
			for si < len(str) {
				if rec(p+1, si) {
					return true
				}
				si++
			}
			return false
		case '?':
			si++
		case '[':
			p++
			not := at(p) == '^'
			if not {
				p++
			}
			match := false
			for {
				if at(p) == '\\' && len(pat)-p >= 2 {
					p++
					if pat[p] == str[si] {
						match = true
					}
				} else if at(p) == ']' && p < len(pat) {
					break
				} else if p >= len(pat) {
					p--
					break
				} else if len(pat)-p >= 3 && pat[p+1] == '-' {
					start, end, c := pat[p], pat[p+2], str[si]
					if start > end {
						start, end = end, start
					}
					if nocase {
						start, end, c = tolower(start), tolower(end), tolower(c)
					}
					p += 2
					if c >= start && c <= end {
						match = true
					}
				} else if !nocase {
					if pat[p] == str[si] {
						match = true
					}
				} else if tolower(pat[p]) == tolower(str[si]) {
					match = true
				}
				p++
			}
			if not {
				match = !match
			}
			if !match {
				return false
			}
			si++
		case '\\':
			if len(pat)-p >= 2 {
				p++
			}
			fallthrough
		default:
			if !nocase {
				if pat[p] != str[si] {
					return false
				}
			} else if tolower(pat[p]) != tolower(str[si]) {
				return false
			}
			si++
		}
		p++
		if si == len(str) {
			for at(p) == '*' && p < len(pat) {
				p++
			}
			break
		}
	}
	return p == len(pat) && si == len(str)
}
