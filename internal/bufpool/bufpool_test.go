package bufpool

import (
	"bytes"
	"testing"
)

func TestClassSize(t *testing.T) {
	t.Parallel()
	prev := 0
	for _, c := range classes {
		if c <= prev {
			t.Fatalf("classes not ascending at %d", c)
		}
		if c > 32<<10 && c%page != 0 {
			t.Errorf("class %d above 32 KiB is not whole pages", c)
		}
		if prev >= 32<<10 && float64(c-prev) > float64(prev)/16+page {
			t.Errorf("class %d after %d: step above 1/16 + a page", c, prev)
		}
		prev = c
	}
	for _, tc := range []struct{ n, want int }{
		{1, 1024}, {1024, 1024}, {1025, 1152}, {32 << 10, 32 << 10}, {32<<10 + 1, 40 << 10},
		{128 << 10, 128 << 10}, {MaxPooled, MaxPooled}, {MaxPooled + 1, MaxPooled + page},
	} {
		if got := ClassSize(tc.n); got != tc.want {
			t.Errorf("ClassSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
	for n := 1; n <= MaxPooled; n = n*3/2 + 1 {
		if c := ClassSize(n); c < n || (n > 32<<10 && float64(c) > float64(n)*17/16+page) {
			t.Errorf("ClassSize(%d) = %d: below n or more than 1/16 + a page above", n, c)
		}
	}
}

func TestGetPutReuses(t *testing.T) {
	t.Parallel()
	for _, n := range []int{2000, 100 << 10, 3 << 20} {
		p := New(64 << 20)
		b := p.Get(n)
		if len(b) != n || cap(b) != ClassSize(n) {
			t.Fatalf("Get(%d): len %d cap %d, want %d %d", n, len(b), cap(b), n, ClassSize(n))
		}
		b[0], b[n-1] = 1, 2
		p.Put(b)
		if s := p.Stats(); s.Held != int64(ClassSize(n)) {
			t.Fatalf("held %d after Put, want %d", s.Held, ClassSize(n))
		}
		c := p.Get(n - 1)
		if &c[0] != &b[0] {
			t.Errorf("Get(%d) after Put of the same class did not reuse the buffer", n-1)
		}
		if s := p.Stats(); s.Hits != 1 || s.Misses != 1 || s.Held != 0 {
			t.Errorf("stats %+v, want 1 hit, 1 miss, nothing held", s)
		}
		p.Put(c)
	}
}

func TestBoundDropsAndShrinks(t *testing.T) {
	t.Parallel()
	p := New(300 << 10)
	var bs [][]byte
	for range 4 {
		bs = append(bs, p.Get(100<<10))
	}
	for _, b := range bs {
		p.Put(b)
	}
	s := p.Stats()
	if s.Held != 3*104<<10 && s.Held > 300<<10 {
		t.Fatalf("held %d above the bound 300 KiB", s.Held)
	}
	if s.Drops == 0 {
		t.Errorf("no Put was dropped with 4 x 104 KiB over a 300 KiB bound: %+v", s)
	}
	p.SetMax(0)
	if s := p.Stats(); s.Held != 0 {
		t.Errorf("held %d after SetMax(0)", s.Held)
	}
}

// A free buffer of another mapped class serves a Get by being resized: the
// caller gets the class it asked for, the pool maps nothing new.
func TestGetResizesNearestFree(t *testing.T) {
	t.Parallel()
	if !offHeap {
		t.Skip("no mappings on this platform")
	}
	p := New(64 << 20)
	p.Put(p.Get(200 << 10))
	for _, n := range []int{150 << 10, 300 << 10} {
		b := p.Get(n)
		if len(b) != n || cap(b) != ClassSize(n) {
			t.Fatalf("Get(%d): len %d cap %d", n, len(b), cap(b))
		}
		for i := range b {
			b[i] = byte(i)
		}
		p.Put(b)
	}
	if s := p.Stats(); s.Misses != 1 || s.Remaps != 2 {
		t.Errorf("stats %+v, want 1 miss (the first Get) and 2 remaps", s)
	}
}

func TestGrowKeepsContents(t *testing.T) {
	t.Parallel()
	p := New(64 << 20)
	b := make([]byte, 4096)
	for i := range b {
		b[i] = byte(i * 7)
	}
	want := bytes.Clone(b)
	for n := 8192; n <= 4<<20; n *= 2 {
		b = p.Grow(b, n)
		if len(b) != n || !bytes.Equal(b[:len(want)], want) {
			t.Fatalf("Grow to %d: len %d, contents lost", n, len(b))
		}
		for i := len(want); i < n; i++ {
			b[i] = byte(i * 7)
		}
		want = bytes.Clone(b)
	}
	p.Put(b)
}

// A heap buffer put back by mistake with a mapped class's capacity is
// neither unmapped nor a crash when the pool releases it.
func TestPutForeignBufferIsSafe(t *testing.T) {
	t.Parallel()
	p := New(0)
	p.Put(make([]byte, 40<<10))
	p.Put(make([]byte, 10, 40<<10+1))
	if s := p.Stats(); s.Held != 0 || s.Drops != 1 {
		t.Errorf("stats %+v, want nothing held and 1 drop", s)
	}
}

func TestGetAllocatesNothingOnHit(t *testing.T) {
	p := New(64 << 20)
	p.Put(p.Get(100 << 10))
	if a := testing.AllocsPerRun(100, func() { p.Put(p.Get(100 << 10)) }); a != 0 {
		t.Errorf("Get+Put of a pooled class: %v allocations, want 0", a)
	}
}

func BenchmarkGetPut(b *testing.B) {
	p := New(64 << 20)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		p.Put(p.Get(64<<10 + i%(512<<10)))
	}
}
