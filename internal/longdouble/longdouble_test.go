package longdouble

import (
	"strings"
	"testing"
)

func add(t *testing.T, a, b string) (string, bool) {
	t.Helper()
	x, ok := Parse([]byte(a))
	if !ok {
		t.Fatalf("parse %q", a)
	}
	y, ok := Parse([]byte(b))
	if !ok {
		t.Fatalf("parse %q", b)
	}
	z, ok := Add(x, y)
	if !ok {
		return "", false
	}
	return string(AppendHuman(nil, z)), true
}

// The expected texts are redis-server 7.0's INCRBYFLOAT replies (x86-64).
func TestAddMatchesRedis(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"10.5", "0.1", "10.6"},
		{"5.0e3", "2.0e2", "5200"},
		{"3.0e3", "0", "3000"},
		{"9223372036854775807", "0", "9223372036854775807"},
		{"9223372036854775806", "1", "9223372036854775807"},
		{"5e-324", "0", "0"},
		{"-1", "1", "0"},
		{"-0.5", "0", "-0.5"},
		{"0x10", "1", "17"},
		{"1", "-1.1", "-0.1"},
	}
	for _, c := range cases {
		got, ok := add(t, c.a, c.b)
		if !ok || got != c.want {
			t.Errorf("%s + %s = %q (ok %v), want %q", c.a, c.b, got, ok, c.want)
		}
	}
	// 1e308 + 1e308 is finite in long double: redis-server 7.0 prints the
	// exact value of the nearest extended-precision number.
	const want = "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096"
	if got, ok := add(t, "1e308", "1e308"); !ok || got != want {
		t.Errorf("1e308+1e308 = %q (ok %v)", got, ok)
	}
	// Infinity parses (strtold reads it) but no sum with it is finite.
	for _, inc := range []string{"inf", "-inf", "Infinity"} {
		x, _ := Parse([]byte("1"))
		y, ok := Parse([]byte(inc))
		if !ok {
			t.Fatalf("Parse(%q) refused", inc)
		}
		if _, ok := Add(x, y); ok {
			t.Errorf("1 + %s accepted", inc)
		}
	}
	// The largest extended values overflow.
	if _, ok := add(t, "1e4932", "1e4932"); ok {
		t.Error("1e4932+1e4932 should overflow")
	}
}

func TestParseRejects(t *testing.T) {
	for _, s := range []string{"", " 1", "1 ", "abc", "nan", "--inf", "1_0", "1e5000", "1e-5000", strings.Repeat("1", MaxChars)} {
		if _, ok := Parse([]byte(s)); ok {
			t.Errorf("Parse(%q) accepted", s)
		}
	}
	for _, s := range []string{"0", "-0", "+1.5", "1e4931", "1e-4940", ".5", "5."} {
		if _, ok := Parse([]byte(s)); !ok {
			t.Errorf("Parse(%q) refused", s)
		}
	}
}

func FuzzParseFormat(f *testing.F) {
	for _, s := range []string{"1", "-0.5", "1e308", "0x1p-3", "5e-324"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := Parse([]byte(s))
		if !ok {
			return
		}
		out := AppendHuman(nil, v)
		if len(out) >= MaxChars {
			return // Redis would refuse to parse it back too
		}
		if _, ok := Parse(out); !ok {
			t.Fatalf("formatted %q of %q does not parse back", out, s)
		}
	})
}
