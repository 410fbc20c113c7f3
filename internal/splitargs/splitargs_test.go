package splitargs

import (
	"slices"
	"strings"
	"testing"
)

func TestStrings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{"", nil, false},
		{"   ", nil, false},
		{"a b\tc\n", []string{"a", "b", "c"}, false},
		{`FLUSHALL ""`, []string{"FLUSHALL", ""}, false},
		{`FLUSHALL ''`, []string{"FLUSHALL", ""}, false},
		{`"a b" 'c d'`, []string{"a b", "c d"}, false},
		{`"a\"b" "\x41\n"`, []string{`a"b`, "A\n"}, false},
		{`"\q"`, []string{"q"}, false},       // sdssplitargs: \ before any other byte is that byte
		{`'it\'s'`, []string{"it's"}, false}, // \' inside single quotes
		{`a"b c"`, []string{"ab c"}, false},  // a quote inside a word opens a quoted part, as in Redis
		{`"abc`, nil, true},
		{`'abc`, nil, true},
		{`'it\'`, nil, true},
		{`"a"b`, nil, true}, // a closing quote must be followed by a space
		{`'a'b`, nil, true},
	} {
		got, err := Strings(tc.in)
		if tc.err {
			if err != ErrUnbalanced {
				t.Errorf("Strings(%q) error = %v, want ErrUnbalanced", tc.in, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Strings(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitInPlace(t *testing.T) {
	t.Parallel()
	line := []byte(`set k "v\x00w"`)
	got, err := Split(line, nil)
	if err != nil || len(got) != 3 || string(got[2]) != "v\x00w" {
		t.Fatalf("Split = %q, %v", got, err)
	}
	if &got[0][0] != &line[0] {
		t.Fatal("words do not alias the line")
	}
}

// FuzzSplit checks that Join and Strings are inverse (the input is cut into
// words at NUL bytes) and that Split never panics.
func FuzzSplit(f *testing.F) {
	f.Add("FLUSHALL\x00")
	f.Add("a b\x00\"c\x00'\x00\xff")
	f.Add("\\x41\x00\a\b\x7f\x01")
	f.Fuzz(func(t *testing.T, s string) {
		words := strings.Split(s, "\x00")
		got, err := Strings(Join(words))
		if err != nil || !slices.Equal(got, words) {
			t.Fatalf("Strings(Join(%q)) = %q, %v", words, got, err)
		}
		_, _ = Split([]byte(s), nil)
	})
}
