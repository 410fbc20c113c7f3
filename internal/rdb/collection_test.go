package rdb

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
)

func readDumpCollection(t testing.TB, p []byte) (*Collection, error) {
	t.Helper()
	typ, body, err := ParseDump(p)
	if err != nil {
		return nil, err
	}
	var c Collection
	r := NewBytesReader(body)
	if err := r.ReadCollection(typ, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// TestReadRedisCollections decodes DUMP payloads made by redis-server 7.0
// (testdata/dump-*.bin: listpack, intset, quicklist-2, hashtable and
// skiplist encodings).
func TestReadRedisCollections(t *testing.T) {
	seq := func(format string, from, to int) []string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf(format, i))
		}
		return out
	}
	var hbig []string
	for i := 1; i <= 200; i++ {
		hbig = append(hbig, fmt.Sprintf("field%d", i), fmt.Sprintf("value%d", i))
	}
	for _, tc := range []struct {
		name   string
		kind   byte
		items  []string
		scores []float64
		sorted bool // compare as sets
	}{
		{"hsmall", KindHash, []string{"f1", "v1", "f2", "123", "f3", "-5"}, nil, false},
		{"hbig", KindHash, hbig, nil, false},
		{"sbig", KindSet, seq("m%d", 1, 200), nil, true},
		{"sint", KindSet, []string{"-70000", "1", "2", "300", "5000000000"}, nil, true},
		{"sstr", KindSet, []string{"x", "y", "z"}, nil, true},
		{"lsmall", KindList, []string{"a", "1", "-2", "300", "70000", "", "12345678901"}, nil, false},
		{"lbig", KindList, seq("e%d", 1, 200), nil, false},
		{"zsmall", KindZSet, []string{"c", "a", "b", "d"}, []float64{-3, 1, 2.5, 1e300}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := os.ReadFile("testdata/dump-" + tc.name + ".bin")
			if err != nil {
				t.Fatal(err)
			}
			c, err := readDumpCollection(t, p)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(c.Items))
			for i, it := range c.Items {
				got[i] = string(it)
			}
			want := slices.Clone(tc.items)
			if tc.sorted {
				slices.Sort(got)
				slices.Sort(want)
			}
			if c.Kind != tc.kind || !slices.Equal(got, want) {
				t.Fatalf("kind %d items %q, want %d %q", c.Kind, got, tc.kind, want)
			}
			if tc.scores != nil && !slices.Equal(c.Scores, tc.scores) {
				t.Fatalf("scores %v, want %v", c.Scores, tc.scores)
			}
		})
	}
	// The big sorted set (RDB_TYPE_ZSET_2, written from the tail).
	p, _ := os.ReadFile("testdata/dump-zbig.bin")
	c, err := readDumpCollection(t, p)
	if err != nil || c.Kind != KindZSet || len(c.Items) != 200 {
		t.Fatalf("zbig: %v %+v", err, c)
	}
	for i, m := range c.Items {
		var n int
		fmt.Sscanf(string(m), "m%d", &n)
		if c.Scores[i] != float64(n)+0.5 {
			t.Fatalf("zbig %s score %v", m, c.Scores[i])
		}
	}
}

// TestCollectionRoundTrip: what DumpCollection writes, ReadCollection reads
// back, for every kind, hashes with field deadlines included.
func TestCollectionRoundTrip(t *testing.T) {
	big := strings.Repeat("x", 70000)
	for _, c := range []Collection{
		{Kind: KindList, Items: [][]byte{[]byte("a"), []byte(""), []byte("12"), []byte(big)}},
		{Kind: KindSet, Items: [][]byte{[]byte("m1"), []byte("-5")}},
		{Kind: KindZSet, Items: [][]byte{[]byte("a"), []byte("b"), []byte("c")}, Scores: []float64{math.Inf(-1), 0.1, math.Inf(1)}},
		{Kind: KindHash, Items: [][]byte{[]byte("f"), []byte("v"), []byte("g"), []byte(big)}},
		{Kind: KindHash, Items: [][]byte{[]byte("f"), []byte("v"), []byte("g"), []byte("w")}, Deadlines: []int64{0, 1796685086413}},
	} {
		p := DumpCollection(nil, &c)
		got, err := readDumpCollection(t, p)
		if err != nil {
			t.Fatalf("kind %d: %v", c.Kind, err)
		}
		if got.Kind != c.Kind || len(got.Items) != len(c.Items) || !slices.Equal(got.Scores, c.Scores) && c.Scores != nil ||
			!slices.Equal(got.Deadlines, c.Deadlines) {
			t.Fatalf("round trip: %+v -> %+v", c, got)
		}
		for i := range c.Items {
			if string(got.Items[i]) != string(c.Items[i]) {
				t.Fatalf("item %d: %q", i, got.Items[i])
			}
		}
	}
}

// FuzzReadCollection: no input makes the decoder panic or allocate
// without bound.
func FuzzReadCollection(f *testing.F) {
	for _, n := range []string{"hsmall", "hbig", "sbig", "zbig", "lbig", "sint", "zsmall", "lsmall", "sstr"} {
		if p, err := os.ReadFile("testdata/dump-" + n + ".bin"); err == nil {
			f.Add(p[:len(p)-10])
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		if len(p) == 0 {
			return
		}
		var c Collection
		r := NewBytesReader(p[1:])
		r.MaxString = 1 << 20
		_ = r.ReadCollection(p[0], &c)
	})
}
