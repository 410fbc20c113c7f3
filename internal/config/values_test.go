package config

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var bytesCases = []struct {
	in   string
	want int64
	ok   bool
}{
	{"0", 0, true},
	{"1", 1, true},
	{"100", 100, true},
	{"007", 7, true},
	{"5b", 5, true},
	{"5B", 5, true},
	{"1k", 1000, true},
	{"1K", 1000, true},
	{"1kb", 1024, true},
	{"1KB", 1024, true},
	{"1kB", 1024, true},
	{"1m", 1000000, true},
	{"100mb", 100 << 20, true},
	{"100MB", 100 << 20, true},
	{"1g", 1000000000, true},
	{"1gb", 1 << 30, true},
	{"2gb", 2 << 30, true},
	{"2GB", 2 << 30, true},
	{"9223372036854775807", math.MaxInt64, true},
	{"8589934591gb", 8589934591 << 30, true},
	{"", 0, false},
	{"kb", 0, false},
	{"-1", 0, false},
	{"+1", 0, false},
	{" 1", 0, false},
	{"1 ", 0, false},
	{"1 mb", 0, false},
	{"1.5gb", 0, false},
	{"1t", 0, false},
	{"1tb", 0, false},
	{"1kib", 0, false},
	{"1mbb", 0, false},
	{"0x10", 0, false},
	{"9223372036854775808", 0, false},
	{"8589934592gb", 0, false},
	{"99999999999999999999999", 0, false},
}

func TestParseBytes(t *testing.T) {
	t.Parallel()
	for _, tc := range bytesCases {
		got, err := ParseBytes(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && err.Error() != "argument must be a memory value" {
			t.Errorf("ParseBytes(%q) error = %q", tc.in, err)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{
		0: "0", 1: "1", 1000: "1000", 1024: "1kb", 1536: "1536", 256 << 20: "256mb",
		1 << 30: "1gb", 3 << 30: "3gb", 1<<30 + 1<<20: "1025mb", math.MaxInt64: "9223372036854775807",
	} {
		if got := FormatBytes(n); got != want {
			t.Errorf("FormatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func FuzzParseBytes(f *testing.F) {
	for _, tc := range bytesCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseBytes(s)
		if err != nil {
			if n != 0 {
				t.Fatalf("ParseBytes(%q) = %d with error %v", s, n, err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("ParseBytes(%q) = %d < 0", s, n)
		}
		if back, err := ParseBytes(FormatBytes(n)); err != nil || back != n {
			t.Fatalf("ParseBytes(FormatBytes(%d)) = %d, %v", n, back, err)
		}
		if u, err := ParseBytes(strings.ToUpper(s)); err != nil || u != n {
			t.Fatalf("units are case-sensitive: %q = %d, upper = %d, %v", s, n, u, err)
		}
		// The number is the leading digits; the rest is a unit.
		digits := strings.TrimRight(s, "bBkKmMgG")
		v, err := strconv.ParseInt(digits, 10, 64)
		if err != nil || v > n || (n != 0 && n%v != 0) {
			t.Fatalf("ParseBytes(%q) = %d does not scale %q", s, n, digits)
		}
	})
}

func TestParseOutputBufferLimits(t *testing.T) {
	t.Parallel()
	got, err := ParseOutputBufferLimits("normal 0 0 0 slave 256mb 64mb 60 PUBSUB 32mb 8mb 60 normal 1 2 3")
	if err != nil {
		t.Fatal(err)
	}
	want := []OutputBufferLimit{
		{"normal", 1, 2, 3},
		{"replica", 256 << 20, 64 << 20, 60},
		{"pubsub", 32 << 20, 8 << 20, 60},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "normal", "normal 0 0 -1", "master 0 0 0", "normal 1.5mb 0 0"} {
		if _, err := ParseOutputBufferLimits(bad); err == nil {
			t.Errorf("ParseOutputBufferLimits(%q) succeeded", bad)
		}
	}
}

// FuzzSet feeds arbitrary values to every setting's parser. A value that is
// accepted must leave a valid Config whose Get output parses back to the
// same value, and whose file form does too.
func FuzzSet(f *testing.F) {
	for i, p := range table {
		f.Add(uint8(i), nonDefault[p.Name])
		f.Add(uint8(i), Default().mustGet(p.Name))
	}
	for _, tc := range bytesCases {
		f.Add(uint8(slices.IndexFunc(table, func(p *param) bool { return p.Name == "maxmemory" })), tc.in)
	}
	f.Fuzz(func(t *testing.T, i uint8, value string) {
		p := table[int(i)%len(table)]
		c := Default()
		if err := c.set(p, value); err != nil {
			if diff := diffFields(Default(), c); len(diff) > 0 {
				t.Fatalf("%s: failed set(%q) changed %v", p.Name, value, diff)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: set(%q) accepted but Validate = %v", p.Name, value, err)
		}
		got := c.mustGet(p.Name)
		d := Default()
		if err := d.set(p, got); err != nil {
			t.Fatalf("%s: Get after set(%q) = %q, which does not parse: %v", p.Name, value, got, err)
		}
		if again := d.mustGet(p.Name); again != got {
			t.Fatalf("%s: Get round trip %q -> %q", p.Name, got, again)
		}
		if y, err := p.yaml(c); err == nil && !p.list {
			if u, err := strconv.Unquote(y); err == nil {
				y = u
			}
			e := Default()
			if err := e.set(p, y); err != nil || e.mustGet(p.Name) != got {
				t.Fatalf("%s: file form %q of %q does not read back: %v", p.Name, y, got, err)
			}
		}
	})
}

func (c *Config) mustGet(name string) string {
	v, ok := c.Get(name)
	if !ok {
		panic("unknown setting " + name)
	}
	return v
}
