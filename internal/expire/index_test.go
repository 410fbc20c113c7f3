package expire

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// t0 is a realistic wheel start (2024-01-01T00:00:00Z in unix ms).
const t0 = int64(1_704_067_200_000)

type hit struct {
	id uint32
	d  int64
}

// collect drains up to max due ids and returns them with Expired's results.
func collect(x *Index, now int64, max int) ([]hit, bool) {
	var got []hit
	_, more := x.Expired(now, max, func(id uint32, d int64) { got = append(got, hit{id, d}) })
	return got, more
}

func ids(hs []hit) []uint32 {
	out := make([]uint32, len(hs))
	for i, h := range hs {
		out[i] = h.id
	}
	return out
}

func TestIndexDeadlineBoundary(t *testing.T) {
	t.Parallel()
	for _, off := range []int64{0, 1, 63, 64, 65, 4095, 4096, 4097, 262_144, 1 << 30, 1 << 41, 1 << 42, 1 << 50} {
		x := NewIndex(t0)
		d := t0 + off
		x.Set(7, d)
		if got, more := collect(x, d-1, 10); len(got) != 0 || more {
			t.Fatalf("offset %d: Expired(deadline-1) = %v, more=%v; want nothing", off, got, more)
		}
		got, more := collect(x, d, 10)
		if len(got) != 1 || got[0] != (hit{7, d}) || more {
			t.Fatalf("offset %d: Expired(deadline) = %v, more=%v; want [{7 %d}]", off, got, more, d)
		}
		if x.Len() != 0 {
			t.Fatalf("offset %d: Len = %d after expiry", off, x.Len())
		}
	}
}

func TestIndexMillisecondPrecision(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	// Deadlines 3 ms apart, spread over several levels.
	const n = 3000
	for i := range n {
		x.Set(uint32(i), t0+1+int64(i)*3)
	}
	for now := t0; now <= t0+3*n+1; now++ {
		got, _ := collect(x, now, 10)
		want := 0
		if (now-t0-1)%3 == 0 && now > t0 && now <= t0+1+3*(n-1) {
			want = 1
		}
		if len(got) != want {
			t.Fatalf("now=t0+%d: got %v, want %d hit(s)", now-t0, got, want)
		}
		if want == 1 && got[0].d != now {
			t.Fatalf("now=t0+%d: reported deadline t0+%d", now-t0, got[0].d-t0)
		}
	}
}

func TestIndexReschedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		first, then int64 // offsets from t0
	}{
		{"earlier same level", 50, 10},
		{"later same level", 10, 50},
		{"earlier across levels", 1_000_000, 5},
		{"later across levels", 5, 1_000_000},
		{"into the past", 100, -100},
		{"out of overflow", 1 << 45, 20},
		{"into overflow", 20, 1 << 45},
		{"same deadline", 30, 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			x := NewIndex(t0)
			x.Set(1, t0+tt.first)
			x.Set(1, t0+tt.then)
			if x.Len() != 1 {
				t.Fatalf("Len = %d, want 1", x.Len())
			}
			if d, ok := x.Deadline(1); !ok || d != t0+tt.then {
				t.Fatalf("Deadline = %d, %v; want t0%+d", d-t0, ok, tt.then)
			}
			if tt.then > 0 {
				if got, _ := collect(x, t0+tt.then-1, 10); len(got) != 0 {
					t.Fatalf("reported %v before the new deadline", got)
				}
			}
			got, more := collect(x, max(t0+tt.then, t0), 10)
			if len(got) != 1 || got[0] != (hit{1, t0 + tt.then}) || more {
				t.Fatalf("at the new deadline: %v, more=%v", got, more)
			}
			if got, _ := collect(x, t0+tt.first+(1<<46), 10); len(got) != 0 {
				t.Fatalf("old deadline still scheduled: %v", got)
			}
		})
	}
}

func TestIndexRemove(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	x.Remove(3)   // never scheduled, beyond the table
	x.Set(10, t0) // grows the table
	x.Remove(3)   // never scheduled, inside the table
	x.Set(3, t0+5)
	x.Set(4, t0+5)
	x.Set(5, t0+5)
	x.Remove(4) // middle of a bucket list
	x.Remove(4) // twice
	x.Remove(10)
	if x.Len() != 2 {
		t.Fatalf("Len = %d, want 2", x.Len())
	}
	if _, ok := x.Deadline(4); ok {
		t.Fatal("Deadline(4) reports a removed id")
	}
	got, _ := collect(x, t0+5, 10)
	if !slices.Equal(ids(got), []uint32{3, 5}) {
		t.Fatalf("got %v, want ids [3 5]", got)
	}
	// Removing the last id of every bucket kind empties the index.
	for i, d := range []int64{t0 - 1, t0 + 10, t0 + 5000, t0 + 1<<43} {
		x.Set(uint32(i), d)
	}
	for i := range 4 {
		x.Remove(uint32(i))
	}
	if x.Len() != 0 {
		t.Fatalf("Len = %d after removing everything", x.Len())
	}
	if _, ok := x.NextDeadline(); ok {
		t.Fatal("NextDeadline reports an empty index")
	}
	if got, more := collect(x, math.MaxInt64, 10); len(got) != 0 || more {
		t.Fatalf("empty index reported %v, more=%v", got, more)
	}
}

func TestIndexIDReuse(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	x.Set(0, t0+10)
	x.Expired(t0+10, 10, func(id uint32, _ int64) {
		// Reuse the id inside the callback, as a store freeing and
		// reallocating an entry id would.
		x.Set(id, t0+20)
	})
	if d, ok := x.Deadline(0); !ok || d != t0+20 {
		t.Fatalf("Deadline(0) = t0+%d, %v after reuse in callback", d-t0, ok)
	}
	x.Remove(0)
	x.Set(0, t0+30)
	if got, _ := collect(x, t0+25, 10); len(got) != 0 {
		t.Fatalf("reported %v before reused id's deadline", got)
	}
	if got, _ := collect(x, t0+30, 10); !slices.Equal(got, []hit{{0, t0 + 30}}) {
		t.Fatalf("got %v, want [{0 t0+30}]", got)
	}
}

func TestIndexPastDeadlines(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	x.Set(1, t0-1)
	x.Set(2, math.MinInt64)
	x.Set(3, -5)
	x.Set(4, t0)
	got, more := collect(x, t0, 10)
	if len(got) != 4 || more {
		t.Fatalf("got %v, more=%v; want all four", got, more)
	}
	if d, ok := x.NextDeadline(); ok {
		t.Fatalf("NextDeadline = %d on empty index", d)
	}
}

func TestIndexFarFuture(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	far := []int64{t0 + 1<<42, t0 + 1<<50, 1 << 62, math.MaxInt64}
	for i, d := range far {
		x.Set(uint32(i), d)
	}
	if got, _ := collect(x, t0+1<<41, 10); len(got) != 0 {
		t.Fatalf("reported %v 70 years early", got)
	}
	if nd, ok := x.NextDeadline(); !ok || nd > far[0] {
		t.Fatalf("NextDeadline = %d, %v; want <= %d", nd, ok, far[0])
	}
	for i, d := range far {
		if got, _ := collect(x, d-1, 10); len(got) != 0 {
			t.Fatalf("deadline %d: reported %v one ms early", d, got)
		}
		if got, _ := collect(x, d, 10); !slices.Equal(got, []hit{{uint32(i), d}}) {
			t.Fatalf("deadline %d: got %v", d, got)
		}
	}
}

func TestIndexClockJump(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	x := NewIndex(t0)
	const n = 50_000
	const tenYears = int64(10 * 365 * 24 * 3600 * 1000)
	for i := range n {
		x.Set(uint32(i), t0+1+r.Int64N(tenYears))
	}
	// One call far ahead reports everything, in deadline order, without
	// stepping through the ~3e11 empty milliseconds.
	last := int64(math.MinInt64)
	total := 0
	for {
		k, more := x.Expired(t0+2*tenYears, 1000, func(_ uint32, d int64) {
			if d < last {
				t.Fatalf("deadline %d reported after %d", d, last)
			}
			last = d
		})
		total += k
		if !more {
			break
		}
	}
	if total != n || x.Len() != 0 {
		t.Fatalf("reported %d of %d, Len = %d", total, n, x.Len())
	}
}

func TestIndexMaxBound(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	for i := range 1000 {
		x.Set(uint32(i), t0+int64(i%3)) // three buckets
	}
	seen := 0
	for call := 0; ; call++ {
		got, more := collect(x, t0+2, 64)
		if len(got) > 64 {
			t.Fatalf("call %d reported %d > max", call, len(got))
		}
		seen += len(got)
		if want := seen < 1000; more != want {
			t.Fatalf("call %d: more=%v after %d reported", call, more, seen)
		}
		if !more {
			break
		}
	}
	if got, more := collect(x, t0+2, 0); len(got) != 0 || more {
		t.Fatalf("max=0: %v, more=%v", got, more)
	}
	x.Set(1, t0)
	if got, more := collect(x, t0+2, 0); len(got) != 0 || !more {
		t.Fatalf("max=0 with a due id: %v, more=%v; want more", got, more)
	}
}

// bucketLen counts the ids linked into bucket b.
func (x *Index) bucketLen(b int) int {
	n := 0
	for ref := x.heads[b].next; ref&bucketRef == 0; ref = x.nodes[ref-1].next {
		n++
	}
	return n
}

func TestIndexCascadeBudget(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0 &^ (1<<18 - 1)) // start of a level-2 slot
	base := x.now
	const n = 100_000
	for i := range n {
		x.Set(uint32(i), base+2*(1<<12)+int64(i%4096)) // all in level-2 slot 2
	}
	b := 2*numSlots + int(base>>12+2)&slotMask
	if got := x.bucketLen(b); got != n {
		t.Fatalf("setup: bucket holds %d, want %d", got, n)
	}
	// Due time of the slot, but before any id's deadline: the call may only
	// move its budget's worth of ids.
	k, more := x.Expired(base+2*(1<<12), 16, func(uint32, int64) {})
	left := x.bucketLen(b)
	moved := n - left
	if budget := cascadeFactor*16 + cascadeMin; moved > budget+1 || moved == 0 {
		t.Fatalf("one call moved %d ids, budget %d", moved, budget)
	}
	if k != 1 || !more {
		t.Fatalf("Expired = %d, %v; want 1 (the id due at the slot start), true", k, more)
	}
	// Later calls finish the cascade; while it is unfinished they still
	// report the ids that reached level 0, so order is only rough.
	total := k
	now := base + 2*(1<<12) + 100
	for {
		k, more := x.Expired(now, 16, func(_ uint32, d int64) {
			if d > now {
				t.Fatalf("deadline %d reported at %d", d, now)
			}
		})
		total += k
		if !more {
			break
		}
	}
	due := 0
	for i := range n {
		if i%4096 <= 100 {
			due++
		}
	}
	if total != due {
		t.Fatalf("reported %d, want the %d ids due by slot start+100", total, due)
	}
	if got, more := collect(x, base+3*(1<<12), n); len(got) != n-due || more {
		t.Fatalf("reported %d, more=%v; want the other %d", len(got), more, n-due)
	}
}

func TestIndexClockBackwards(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	x.Expired(t0+1000, 10, nil) // wheel reaches t0+1000
	x.Set(1, t0+500)            // overdue for the wheel
	x.Set(2, t0+800)
	x.Set(3, t0+1500)
	// The caller's clock went back to t0+600: nothing may be reported early,
	// and the overdue ids wait until nowMs catches up with the wheel.
	if got, _ := collect(x, t0+600, 10); len(got) != 0 {
		t.Fatalf("reported %v with nowMs behind the wheel", got)
	}
	if got, _ := collect(x, t0+1000, 10); !slices.Equal(ids(got), []uint32{1, 2}) {
		t.Fatalf("got %v, want ids [1 2]", got)
	}
	if got, _ := collect(x, t0+1500, 10); !slices.Equal(ids(got), []uint32{3}) {
		t.Fatalf("got %v, want id 3", got)
	}
}

func TestIndexNextDeadline(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	if _, ok := x.NextDeadline(); ok {
		t.Fatal("empty index has a next deadline")
	}
	x.Set(1, t0+10_000)
	if d, ok := x.NextDeadline(); !ok || d > t0+10_000 || d < t0 {
		t.Fatalf("NextDeadline = t0%+d, want in [t0, t0+10000]", d-t0)
	}
	x.Set(2, t0+40)
	if d, _ := x.NextDeadline(); d != t0+40 {
		t.Fatalf("NextDeadline = t0%+d, want exactly t0+40 within level 0", d-t0)
	}
	x.Set(3, t0-7)
	if d, _ := x.NextDeadline(); d != t0-7 {
		t.Fatalf("NextDeadline = t0%+d, want t0-7 (overdue)", d-t0)
	}
}

func TestIndexBytes(t *testing.T) {
	t.Parallel()
	x := NewIndex(t0)
	empty := x.Bytes()
	if empty <= 0 || empty > 8<<10 {
		t.Fatalf("empty index: %d bytes", empty)
	}
	x.Grow(1000)
	if got := x.Bytes() - empty; got < 16*1000 || got > 16*2000 {
		t.Fatalf("1000 ids: %d bytes of nodes, want ~16 KB", got)
	}
}

// TestIndexSteadyStateAllocs proves Set, Remove and Expired allocate nothing
// once the node table is sized.
func TestIndexSteadyStateAllocs(t *testing.T) {
	x := NewIndex(t0)
	x.Grow(1024)
	now := t0
	fn := func(id uint32, d int64) { x.Set(id, now+1+int64(id)*37%10_000) }
	for i := range 1024 {
		x.Set(uint32(i), now+int64(i)*37%10_000)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		now += 7
		x.Set(5, now+1234)
		x.Remove(6)
		x.Set(6, now+99_999)
		x.Expired(now, 256, fn)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

// model replays index operations against a plain map.
type model struct {
	t    testing.TB
	x    *Index
	m    map[uint32]int64
	high int64 // highest nowMs given to Expired
}

func newModel(t testing.TB, start int64) *model {
	return &model{t: t, x: NewIndex(start), m: map[uint32]int64{}, high: start}
}

func (md *model) set(id uint32, d int64) {
	md.x.Set(id, d)
	md.m[id] = d
}

func (md *model) remove(id uint32) {
	md.x.Remove(id)
	delete(md.m, id)
}

func (md *model) expired(now int64, max int, reentrant bool) {
	t := md.t
	k, more := md.x.Expired(now, max, func(id uint32, d int64) {
		want, ok := md.m[id]
		if !ok || want != d {
			t.Fatalf("Expired(%d) reported id %d deadline %d; model has %d, %v", now, id, d, want, ok)
		}
		if d > now {
			t.Fatalf("Expired(%d) reported id %d %d ms early", now, id, d-now)
		}
		if _, ok := md.x.Deadline(id); ok {
			t.Fatalf("id %d still scheduled inside the callback", id)
		}
		delete(md.m, id)
		if reentrant && id%3 == 0 {
			md.set(id^1, now+int64(id%5)-2) // may be due right away
		}
	})
	if k > max {
		t.Fatalf("Expired reported %d > max %d", k, max)
	}
	if now >= md.high {
		md.high = now
		if !more {
			for id, d := range md.m {
				if d <= now {
					t.Fatalf("Expired(%d) left due id %d (deadline %d) with more=false", now, id, d)
				}
			}
		}
	}
}

func (md *model) check() {
	t := md.t
	if md.x.Len() != len(md.m) {
		t.Fatalf("Len = %d, model has %d", md.x.Len(), len(md.m))
	}
	minD := int64(math.MaxInt64)
	for id, d := range md.m {
		got, ok := md.x.Deadline(id)
		if !ok || got != d {
			t.Fatalf("Deadline(%d) = %d, %v; model has %d", id, got, ok, d)
		}
		minD = min(minD, d)
	}
	nd, ok := md.x.NextDeadline()
	if ok != (len(md.m) > 0) || (ok && nd > minD) {
		t.Fatalf("NextDeadline = %d, %v; earliest is %d", nd, ok, minD)
	}
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// replay interprets data as a sequence of 5-byte operations.
func replay(t testing.TB, data []byte) {
	md := newModel(t, t0)
	now := t0
	for ; len(data) >= 5; data = data[5:] {
		op, id, v, class := data[0]%8, uint32(data[1]%48), int64(binary.LittleEndian.Uint16(data[2:])), data[4]
		switch op {
		case 0, 1, 2:
			var d int64
			switch class % 7 {
			case 0:
				d = now + v%64
			case 1:
				d = now + v*7
			case 2:
				d = now + v*997
			case 3:
				d = now - v
			case 4:
				d = satAdd(now, v<<30)
			case 5:
				d = math.MaxInt64 - v
			case 6:
				d = satAdd(now, v<<40)
			}
			md.set(id, d)
		case 3:
			md.remove(id)
		case 4, 5:
			switch class % 6 {
			case 0, 1:
				now += v % 64
			case 2:
				now += v * 13
			case 3:
				now += v << 20
			case 4:
				now -= v % 100 // clock steps back
			case 5:
				if now < 1<<60 {
					now += v << 34
				}
			}
		default:
			md.expired(now, int(class%16)+1, op == 7)
		}
		md.check()
	}
	// Drain: far enough ahead, everything is eventually reported.
	end := int64(math.MaxInt64)
	for i := 0; ; i++ {
		md.expired(end, 1000, false)
		if len(md.m) == 0 {
			break
		}
		if i > 100 {
			t.Fatalf("%d ids never reported", len(md.m))
		}
	}
	md.check()
}

func TestIndexModel(t *testing.T) {
	t.Parallel()
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 99))
		data := make([]byte, 5*400)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		replay(t, data)
	}
}

func FuzzIndex(f *testing.F) {
	f.Add([]byte{0, 1, 10, 0, 0, 4, 0, 20, 0, 0, 6, 0, 0, 0, 3})
	f.Add([]byte{0, 1, 10, 0, 4, 1, 2, 10, 0, 6, 4, 0, 255, 255, 5, 6, 0, 0, 0, 9})
	f.Add([]byte{2, 3, 1, 0, 3, 4, 0, 50, 0, 4, 7, 0, 0, 0, 2, 0, 3, 1, 0, 0, 6, 0, 0, 0, 15})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 5000 {
			data = data[:5000]
		}
		replay(t, data)
	})
}

func BenchmarkIndexSet(b *testing.B) {
	x := NewIndex(t0)
	const n = 1 << 16
	x.Grow(n)
	r := rand.New(rand.NewPCG(1, 1))
	ds := make([]int64, n)
	for i := range ds {
		ds[i] = t0 + 1 + r.Int64N(10_000)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		x.Set(uint32(i)&(n-1), ds[(i+i>>16)&(n-1)])
	}
}

func BenchmarkIndexSetRemove(b *testing.B) {
	x := NewIndex(t0)
	const n = 1 << 16
	x.Grow(n)
	for i := range n {
		x.Set(uint32(i), t0+1+int64(i)*7919%600_000)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := uint32(i) & (n - 1)
		x.Remove(id)
		x.Set(id, t0+1+int64(i)*7919%600_000)
	}
}

// BenchmarkIndexExpired measures reclaiming ids with TTLs spread over 1-10 s,
// cascades included: each op is one id reported and scheduled again. The
// sizes are a store shard's share of 1M keys and a whole 1M keys in one index.
func BenchmarkIndexExpired(b *testing.B) {
	for _, n := range []int{1 << 14, 1 << 20} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			x := NewIndex(t0)
			x.Grow(n)
			r := rand.New(rand.NewPCG(2, 2))
			now := t0
			for id := range n {
				x.Set(uint32(id), now+1000+r.Int64N(9000))
			}
			fn := func(id uint32, _ int64) { x.Set(id, now+1000+r.Int64N(9000)) }
			b.ReportAllocs()
			b.ResetTimer()
			reported := 0
			for reported < b.N {
				now++
				for {
					k, more := x.Expired(now, 256, fn)
					reported += k
					if !more {
						break
					}
				}
			}
		})
	}
}
