package expire

import (
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// Wheel geometry. Level l has 64 slots, each 64^l ms wide, so level 0
// resolves single milliseconds and the seven levels together span 2^42 ms
// (about 139 years). An id sits at the lowest level whose slot still tells
// its deadline apart from the wheel's current time (the most significant
// 6-bit digit in which the two differ); when the wheel reaches a slot of a
// higher level, the ids in it cascade one or more levels down.
const (
	slotBits  = 6
	numSlots  = 1 << slotBits
	slotMask  = numSlots - 1
	numLevels = 7
	wheelBits = slotBits * numLevels

	wheelBuckets = numLevels * numSlots
	// overdueBucket holds ids scheduled at a deadline the wheel has already
	// passed; they are due as soon as nowMs reaches the wheel's time.
	overdueBucket = wheelBuckets
	// overflowBucket holds ids whose deadline lies in a later 2^42 ms block
	// than the wheel's time; they are re-placed when the wheel enters it.
	overflowBucket = wheelBuckets + 1
	numBuckets     = wheelBuckets + 2

	// A link is 0 (not scheduled), id+1 (a node), or bucketRef|b (the
	// sentinel of bucket b).
	bucketRef = 1 << 31
)

// MaxID is the largest entry id an Index accepts.
const MaxID = 1<<31 - 2 // bucketRef - 2

// cascadeFactor bounds the ids an Expired call may move between levels to
// cascadeFactor*max (+ cascadeMin), so that a lock hold stays short even when
// a wide slot holding hundreds of thousands of ids comes due.
const (
	cascadeFactor = 8
	cascadeMin    = 64
)

type links struct{ next, prev uint32 }

// node is the per-id state: 16 bytes, no pointers.
type node struct {
	links
	deadline int64
}

// Index is a per-shard hierarchical timer wheel of entry ids ordered by
// deadline (unix ms), with millisecond resolution. Set, Remove and Deadline
// are O(1); Expired costs O(reported + cascaded) and skips empty slots with
// per-level occupancy bitmaps, so a far clock jump does not walk millions of
// empty buckets.
//
// Memory: one 16-byte node per id up to the highest id ever scheduled (ids are
// dense and reused, so this tracks the shard's entry table), in a single
// pointer-free slice, plus about 3.7 KiB of fixed bucket heads per Index.
//
// Concurrency: an Index is not safe for concurrent use; the shard's lock
// guards it. The callback of Expired runs with that lock still held and may
// call Set and Remove on the same Index.
//
// Time: the wheel keeps its own notion of "now", advanced only by Expired to
// at most the nowMs it was given. Ids are never reported before their
// deadline. If callers pass a nowMs that goes backwards, ids scheduled in the
// past are reported once nowMs catches up with the latest value seen.
type Index struct {
	nodes []node
	heads [numBuckets]links
	occ   [numLevels]uint64 // bit s of occ[l]: bucket l*64+s is not empty
	now   int64             // wheel time, ms
	n     int

	overdueMin  int64 // lower bound of deadlines in overdueBucket
	overflowMin int64 // lower bound of deadlines in overflowBucket
}

// NewIndex returns an empty Index whose wheel starts at nowMs.
func NewIndex(nowMs int64) *Index {
	x := &Index{now: nowMs, overdueMin: math.MaxInt64, overflowMin: math.MaxInt64}
	for b := range x.heads {
		self := bucketRef | uint32(b)
		x.heads[b] = links{next: self, prev: self}
	}
	return x
}

// Len returns the number of scheduled ids.
func (x *Index) Len() int { return x.n }

// Bytes returns the memory held by the index structures, for accounting.
func (x *Index) Bytes() int64 {
	return int64(unsafe.Sizeof(*x)) + int64(cap(x.nodes))*int64(unsafe.Sizeof(node{}))
}

// Grow makes room for ids below n so that scheduling them does not
// allocate.
func (x *Index) Grow(n int) {
	if n > MaxID+1 {
		n = MaxID + 1
	}
	if n > cap(x.nodes) {
		x.nodes = slices.Grow(x.nodes, n-len(x.nodes))
	}
}

// Set schedules id at deadlineMs, or reschedules it if it is already
// scheduled. A deadline at or before the wheel's time is reported by the next
// Expired call whose nowMs is at least that time. Set panics if id > MaxID.
func (x *Index) Set(id uint32, deadlineMs int64) {
	if id > MaxID {
		panic("expire: BUG: entry id out of range")
	}
	if int(id) >= len(x.nodes) {
		x.extend(int(id) + 1)
	}
	nd := &x.nodes[id]
	if nd.next != 0 {
		if nd.deadline == deadlineMs {
			return
		}
		x.unlink(id)
	} else {
		x.n++
	}
	nd.deadline = deadlineMs
	x.place(id, deadlineMs)
}

// Remove unschedules id; it is a no-op if id is not scheduled.
func (x *Index) Remove(id uint32) {
	if int(id) < len(x.nodes) && x.nodes[id].next != 0 {
		x.unlink(id)
		x.n--
	}
}

// Deadline returns the deadline id is scheduled at, and whether it is
// scheduled.
func (x *Index) Deadline(id uint32) (int64, bool) {
	if int(id) < len(x.nodes) && x.nodes[id].next != 0 {
		return x.nodes[id].deadline, true
	}
	return 0, false
}

// Expired calls fn for up to max ids whose deadline is <= nowMs, earliest
// buckets first (ids sharing a millisecond come in scheduling order; ids
// scheduled at a deadline the wheel had already passed come before all
// others). Each id is removed from the index before fn is called with it and
// its deadline; fn may Set or Remove ids, including the one it was given.
//
// It returns how many ids were reported and whether more are due. Besides the
// max ids it reports, a call moves at most 8*max+64 ids down the wheel's
// levels. When that budget runs out, the call still reports the due ids that
// already reached level 0 (so order is then only roughly earliest-first), and
// more is true while the cascade is unfinished, even if none of the ids it
// still holds turns out to be due (the next call finds out).
func (x *Index) Expired(nowMs int64, max int, fn func(id uint32, deadlineMs int64)) (n int, more bool) {
	budget := cascadeMin
	if max > 0 {
		budget += cascadeFactor * min(max, 1<<32)
	}
	for {
		b, t := x.nextEvent(budget <= 0)
		if b < 0 || t > nowMs {
			if budget <= 0 {
				// Out of cascade budget: more if a cascade is still due.
				if b, t := x.nextEvent(false); b >= 0 && t <= nowMs {
					return n, true
				}
			}
			// Nothing is due: catch the wheel up so that new ids land at
			// low levels and cascade less.
			if nowMs > x.now {
				x.now = nowMs
			}
			return n, false
		}
		// t >= x.now. While a cascade is half done (budget out), t is a
		// level-0 time inside that cascade's slot, which stays current.
		x.now = t
		switch {
		case b == overdueBucket || b < numSlots:
			// Level 0 and overdue: every id in b is due.
			if n >= max {
				return n, true
			}
			for n < max {
				ref := x.heads[b].next
				if ref&bucketRef != 0 {
					break
				}
				id := ref - 1
				d := x.nodes[id].deadline
				x.unlink(id)
				x.n--
				n++
				fn(id, d)
			}
		case b == overflowBucket:
			budget -= x.replaceOverflow()
		default:
			for ; budget > 0; budget-- {
				ref := x.heads[b].next
				if ref&bucketRef != 0 {
					break
				}
				id := ref - 1
				x.unlink(id)
				x.place(id, x.nodes[id].deadline)
			}
		}
	}
}

// NextDeadline returns a lower bound of the earliest scheduled deadline:
// exact when it lies within 64 ms of the wheel's time, otherwise the start of
// its wheel slot. ok is false if the index is empty.
func (x *Index) NextDeadline() (deadlineMs int64, ok bool) {
	if x.n == 0 {
		return 0, false
	}
	best := int64(math.MaxInt64)
	if !x.empty(overdueBucket) {
		best = x.overdueMin
	}
	wheel := false
	for l := range numLevels {
		if _, start, ok := x.firstSlot(l); ok {
			wheel = true
			best = min(best, start)
		}
	}
	if !wheel && !x.empty(overflowBucket) {
		best = min(best, x.overflowMin)
	}
	return best, true
}

// firstSlot returns the first occupied slot of level l at or after the
// wheel's current slot, and that slot's start time.
func (x *Index) firstSlot(l int) (s int, start int64, ok bool) {
	shift := uint(l * slotBits)
	cur := uint(x.now>>shift) & slotMask
	m := x.occ[l] & (^uint64(0) << cur)
	if m == 0 {
		return 0, 0, false
	}
	s = bits.TrailingZeros64(m)
	base := x.now &^ (int64(1)<<(shift+slotBits) - 1)
	return s, base + int64(s)<<shift, true
}

// nextEvent returns the bucket the wheel must process next and the time at
// which it comes due (>= x.now), or b < 0 if there is none. With reportOnly
// it considers only the buckets whose ids are all due at their time (overdue
// and level 0), not cascades.
//
// Ordering: ids at level l share every digit above l with the wheel's time,
// so the slots of lower levels all come before those of higher ones, and the
// whole wheel comes before the overflow bucket.
func (x *Index) nextEvent(reportOnly bool) (b int, t int64) {
	if !x.empty(overdueBucket) {
		return overdueBucket, x.now
	}
	levels := numLevels
	if reportOnly {
		levels = 1
	}
	b = -1
	for l := range levels {
		s, start, ok := x.firstSlot(l)
		if !ok {
			continue
		}
		// A higher-level slot at the current position is a cascade that a
		// previous call left half done: it is due now.
		start = max(start, x.now)
		if b < 0 || start < t {
			b, t = l*numSlots+s, start
		}
	}
	if b < 0 && !reportOnly && !x.empty(overflowBucket) {
		return overflowBucket, max(x.now, x.overflowMin&^(1<<wheelBits-1))
	}
	return b, t
}

// replaceOverflow moves every id of the overflow bucket back through place
// (into the wheel, or into the overflow bucket again) and returns how many
// it moved. The wheel enters a new 2^42 ms block only once per 139 years of
// clock movement, so this is not budgeted.
func (x *Index) replaceOverflow() int {
	h := &x.heads[overflowBucket]
	self := uint32(bucketRef | overflowBucket)
	ref := h.next
	h.next, h.prev = self, self
	x.overflowMin = math.MaxInt64
	moved := 0
	for ref != self {
		id := ref - 1
		ref = x.nodes[id].next
		x.place(id, x.nodes[id].deadline)
		moved++
	}
	return moved
}

// place appends the unlinked id to the bucket its deadline d selects.
func (x *Index) place(id uint32, d int64) {
	var b int
	switch {
	case d < x.now:
		b = overdueBucket
		x.overdueMin = min(x.overdueMin, d)
	default:
		l := (63 - bits.LeadingZeros64(uint64(d^x.now)|slotMask)) / slotBits
		if l >= numLevels {
			b = overflowBucket
			x.overflowMin = min(x.overflowMin, d)
			break
		}
		s := int(d>>uint(l*slotBits)) & slotMask
		b = l*numSlots + s
		x.occ[l] |= 1 << uint(s)
	}
	ref := id + 1
	self := bucketRef | uint32(b)
	h := &x.heads[b]
	last := h.prev
	x.nodes[id].links = links{next: self, prev: last}
	x.link(last).next = ref
	h.prev = ref
}

// unlink takes id out of its bucket, keeping the occupancy bitmaps exact. It
// does not change x.n.
func (x *Index) unlink(id uint32) {
	nd := &x.nodes[id]
	p, q := nd.prev, nd.next
	nd.links = links{}
	x.link(p).next = q
	x.link(q).prev = p
	if p == q {
		// Only the sentinel is left: the bucket is empty.
		x.emptied(int(p &^ bucketRef))
	}
}

func (x *Index) emptied(b int) {
	switch {
	case b < wheelBuckets:
		x.occ[b>>slotBits] &^= 1 << uint(b&slotMask)
	case b == overdueBucket:
		x.overdueMin = math.MaxInt64
	default:
		x.overflowMin = math.MaxInt64
	}
}

func (x *Index) link(ref uint32) *links {
	if ref&bucketRef != 0 {
		return &x.heads[ref&^bucketRef]
	}
	return &x.nodes[ref-1].links
}

func (x *Index) empty(b int) bool {
	return x.heads[b].next == bucketRef|uint32(b)
}

// extend makes ids below n addressable. New nodes are zero (unscheduled).
func (x *Index) extend(n int) {
	if n > cap(x.nodes) {
		x.nodes = slices.Grow(x.nodes, n-len(x.nodes))
	}
	x.nodes = x.nodes[:n]
}
