package lease

import (
	"bytes"
	"math"
	"testing"
)

func TestEnvelope(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		delta    int64
		negative bool
		val      string
		wrapped  bool
	}{
		{"plain", 0, false, "hello", false},
		{"delta", 42, false, "hello", true},
		{"big delta", math.MaxInt64, false, "", true},
		{"negative", 0, true, "", true},
		{"negative with delta", 7, true, "x", true},
		{"binary", 1, false, "\x00CF1\x01\x05", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := AppendEnvelope(nil, tc.delta, tc.negative, []byte(tc.val))
			if wrapped := !bytes.Equal(b, []byte(tc.val)); wrapped != tc.wrapped {
				t.Fatalf("wrapped=%v, want %v (%q)", wrapped, tc.wrapped, b)
			}
			if len(b) > len(tc.val)+EnvelopeOverhead {
				t.Fatalf("overhead %d", len(b)-len(tc.val))
			}
			v, d, neg := ParseEnvelope(b)
			if string(v) != tc.val || d != max(tc.delta, 0) || neg != tc.negative {
				t.Fatalf("parse: %q %d %v", v, d, neg)
			}
		})
	}
	for _, raw := range []string{"", "\x00CF1", "\x00CF1\x02\x01v", "\x00CF1\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", "hello"} {
		if v, d, neg := ParseEnvelope([]byte(raw)); string(v) != raw || d != 0 || neg {
			t.Errorf("ParseEnvelope(%q) = %q %d %v, want it unchanged", raw, v, d, neg)
		}
	}
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add(AppendEnvelope(nil, 42, false, []byte("v")))
	f.Add(AppendEnvelope(nil, 0, true, nil))
	f.Add([]byte("\x00CF1\x00\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, d, neg := ParseEnvelope(b)
		if d < 0 {
			t.Fatalf("negative delta %d", d)
		}
		if len(v) > len(b) {
			t.Fatal("value longer than input")
		}
		if d > 0 || neg {
			// A parsed envelope re-encodes to the same value.
			again := AppendEnvelope(nil, d, neg, v)
			v2, d2, neg2 := ParseEnvelope(again)
			if !bytes.Equal(v, v2) || d != d2 || neg != neg2 {
				t.Fatal("round trip")
			}
		}
	})
}

func TestEarlyRefresh(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name               string
		now, expiry, delta int64
		beta, u            float64
		want               bool
	}{
		{"no expiry", 1000, 0, 100, 1, 0.01, false},
		{"no delta", 1000, 2000, 0, 1, 0.01, false},
		{"beta off", 1000, 2000, 100, 0, 0.01, false},
		{"u=1 never early", 1999, 2000, 100, 1, 1, false},
		{"far from expiry", 1000, 2000, 100, 1, 0.5, false}, // 1000+69 < 2000
		{"close to expiry", 1950, 2000, 100, 1, 0.5, true},  // 1950+69 >= 2000
		{"unlucky draw", 1000, 2000, 100, 1, 1e-5, true},    // 1000+1151 >= 2000
		{"beta scales", 1900, 2000, 100, 2, 0.5, true},      // 1900+138 >= 2000
		{"past expiry", 2000, 2000, 100, 1, 0.9, true},
	}
	for _, tc := range tests {
		if got := EarlyRefresh(tc.now, tc.expiry, tc.delta, tc.beta, tc.u); got != tc.want {
			t.Errorf("%s: got %v", tc.name, got)
		}
	}
	// The probability grows as expiry nears: P = exp(-(expiry-now)/(delta*beta)).
	frac := func(now int64) float64 {
		n := 0
		const runs = 20000
		for i := 1; i <= runs; i++ {
			if EarlyRefresh(now, 2000, 100, 1, float64(i)/runs) {
				n++
			}
		}
		return float64(n) / runs
	}
	for _, c := range []struct {
		now  int64
		want float64
	}{{1500, math.Exp(-5)}, {1900, math.Exp(-1)}, {1990, math.Exp(-0.1)}} {
		if got := frac(c.now); math.Abs(got-c.want) > 0.01 {
			t.Errorf("P(early) at %d = %.3f, want %.3f", c.now, got, c.want)
		}
	}
}
