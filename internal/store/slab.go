package store

import (
	"encoding/binary"
	"math/bits"
	"unsafe"

	"github.com/cachesrv/cachesrv/internal/bufpool"
)

// A ref addresses a record: the top 6 bits are the size class, the low 26 bits
// the slot index within that class (or, for classBig, the index into the big
// table). refFree marks an unused id.
type ref uint32

const (
	refClassShift = 26
	refIndexMask  = 1<<refClassShift - 1
	classBig      = 63
	refFree       = ref(0xFFFFFFFF)

	pageSize = 16 << 10
	// maxSlab is the largest record kept in slabs; larger records get a
	// buffer of the store's pool (package bufpool).
	maxSlab = 1024
)

func mkRef(class, idx int) ref { return ref(uint32(class)<<refClassShift | uint32(idx)) }
func (r ref) class() int       { return int(r >> refClassShift) }
func (r ref) index() int       { return int(r & refIndexMask) }

// classSizes are the slot sizes: steps of 8 bytes to 128, then steps of about
// 1/8 of the size (rounded to 16) up to maxSlab. Rounding waste stays under
// about 12%.
var classSizes = func() []int {
	var s []int
	for n := 16; n <= 128; n += 8 {
		s = append(s, n)
	}
	for n := 128; n < maxSlab; {
		step := (n / 8) &^ 15
		n += step
		if n > maxSlab {
			n = maxSlab
		}
		s = append(s, n)
	}
	return s
}()

// classFor maps a record size to its class index (the smallest class that
// holds it); size must be ≤ maxSlab.
var classIndex = func() [maxSlab/8 + 1]uint8 {
	var t [maxSlab/8 + 1]uint8
	c := 0
	for i := range t {
		n := i * 8
		for classSizes[c] < n {
			c++
		}
		t[i] = uint8(c)
	}
	return t
}()

func classFor(size int) int { return int(classIndex[(size+7)>>3]) }

// slabClass holds the slots of one size. Free slots form a list threaded
// through their first four bytes.
//
// Pages grow geometrically: the first holds firstCap slots (about 512
// bytes), each next one twice as many, up to full pages of pageSize. A
// size class that a shard barely uses therefore costs a few hundred bytes,
// not a whole page (64 shards × 20 classes of 16 KiB pages would be 20 MiB
// of mostly empty pages).
type slabClass struct {
	pages    [][]byte
	perPage  int // slots in a full page
	firstCap int // slots in the first page
	geoPages int // number of geometrically growing pages before full ones
	geoTotal int // slots in those pages
	size     int
	next     int    // slots handed out so far (bump allocation)
	free     uint32 // head of the free list, index+1; 0 = empty
	live     int
}

func newSlabClass(size int) slabClass {
	c := slabClass{size: size, perPage: pageSize / size}
	c.firstCap = max(1, 512/size)
	for cp := c.firstCap; cp < c.perPage; cp <<= 1 {
		c.geoPages++
		c.geoTotal += cp
	}
	return c
}

// locate maps a slot index to its page and the slot's index in the page.
func (c *slabClass) locate(idx int) (page, off int) {
	if idx >= c.geoTotal {
		i := idx - c.geoTotal
		return c.geoPages + i/c.perPage, i % c.perPage
	}
	k := bits.Len(uint(idx/c.firstCap+1)) - 1
	return k, idx - c.firstCap*(1<<k-1)
}

// pageCap is the number of slots of page k.
func (c *slabClass) pageCap(k int) int {
	if k < c.geoPages {
		return c.firstCap << k
	}
	return c.perPage
}

func (c *slabClass) slot(idx int) []byte {
	p, o := c.locate(idx)
	o *= c.size
	return c.pages[p][o : o+c.size : o+c.size]
}

// alloc returns the index of a free slot; allocating a page when needed. It
// reports the bytes of a newly allocated page (0 otherwise).
func (c *slabClass) alloc() (int, int) {
	c.live++
	if c.free != 0 {
		idx := int(c.free - 1)
		c.free = binary.LittleEndian.Uint32(c.slot(idx))
		return idx, 0
	}
	idx := c.next
	if idx >= refIndexMask {
		panic("BUG: slab class index overflow")
	}
	c.next++
	if p, _ := c.locate(idx); p >= len(c.pages) {
		n := c.pageCap(p) * c.size
		c.pages = append(c.pages, make([]byte, n))
		return idx, n
	}
	return idx, 0
}

func (c *slabClass) release(idx int) {
	c.live--
	binary.LittleEndian.PutUint32(c.slot(idx), c.free)
	c.free = uint32(idx + 1)
}

// slabs is one shard's record allocator.
type slabs struct {
	classes []slabClass
	big     [][]byte // records above maxSlab, each a whole buffer of pool
	bigFree []uint32
	pool    *bufpool.Pool
	pageMem int64 // bytes of slab pages allocated
}

func newSlabs(pool *bufpool.Pool) slabs {
	s := slabs{classes: make([]slabClass, len(classSizes)), pool: pool}
	for i, n := range classSizes {
		s.classes[i] = newSlabClass(n)
	}
	return s
}

// allocSize is the number of bytes charged for a record of n bytes: its
// slab slot, or above maxSlab the capacity of the pooled buffer that holds
// it (see package bufpool; what the Go allocator hands out up to 32 KiB, at
// most about 6% over n above). The slice header that points at a large
// record is charged with the big table, see overhead.
func allocSize(n int) int {
	if n <= maxSlab {
		return classSizes[classFor(n)]
	}
	return bufpool.ClassSize(n)
}

// alloc returns a reference to a record of n bytes and the record's slice
// (exactly n bytes long).
func (s *slabs) alloc(n int) (ref, []byte) {
	if n <= maxSlab {
		ci := classFor(n)
		c := &s.classes[ci]
		idx, grown := c.alloc()
		s.pageMem += int64(grown)
		return mkRef(ci, idx), c.slot(idx)[:n]
	}
	b := s.pool.Get(n)
	b, full := b[:n], b[:cap(b)]
	if k := len(s.bigFree); k > 0 {
		idx := s.bigFree[k-1]
		s.bigFree = s.bigFree[:k-1]
		s.big[idx] = full
		return mkRef(classBig, int(idx)), b
	}
	s.big = append(s.big, full)
	return mkRef(classBig, len(s.big)-1), b
}

// get returns the record's full slot (at least the record's length).
func (s *slabs) get(r ref) []byte {
	if r.class() == classBig {
		return s.big[r.index()]
	}
	return s.classes[r.class()].slot(r.index())
}

func (s *slabs) release(r ref) {
	if r.class() == classBig {
		s.pool.Put(s.big[r.index()])
		s.big[r.index()] = nil
		s.bigFree = append(s.bigFree, uint32(r.index()))
		return
	}
	s.classes[r.class()].release(r.index())
}

// overhead is the memory of the allocator's own tables.
func (s *slabs) overhead() int64 {
	n := int64(cap(s.big))*24 + int64(cap(s.bigFree))*4
	for i := range s.classes {
		n += int64(cap(s.classes[i].pages)) * 24
	}
	return n
}

// nextPow2 returns the smallest power of two ≥ n (n ≥ 1).
func nextPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}

// overlaps reports whether b and c share memory.
func overlaps(b, c []byte) bool {
	if len(b) == 0 || len(c) == 0 {
		return false
	}
	b0, c0 := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(c)))
	return b0 < c0+uintptr(len(c)) && c0 < b0+uintptr(len(b))
}
