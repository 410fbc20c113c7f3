// Package bufpool keeps freed large byte buffers for reuse.
//
// A cache that stores values of up to megabytes churns through large
// allocations: every SET of a large value would otherwise be a fresh Go
// allocation (zeroed, often page-faulted in after the scavenger returned the
// pages) and every eviction garbage for the collector. A Pool hands out
// buffers in size classes and takes them back, so the next value of a
// similar size reuses warm memory and the heap stops growing between
// collections.
//
// Classes follow the Go allocator's size classes from MinSize to 32 KiB (a
// buffer costs what make would cost), then grow by 1/16 of the size rounded
// up to the runtime's 8 KiB pages, so a buffer wastes at most about 6% of
// its size. Buffers above MaxPooled are plain allocations that are never
// kept.
//
// The free buffers a Pool keeps are bounded in bytes (SetMax); a buffer put
// back while the pool is full is left to the garbage collector.
//
// A Pool is safe for concurrent use; its one mutex is held for a few
// instructions per Get or Put.
package bufpool

import (
	"sort"
	"sync"
	"sync/atomic"
)

const (
	// MinSize is the smallest buffer a pool serves.
	MinSize = 1024
	// MaxPooled is the largest class size; larger buffers are not kept.
	MaxPooled = 64 << 20

	page = 8192
	// offHeapMin is the smallest class kept outside the Go heap.
	offHeapMin = 32<<10 + 1
)

// goSizeClasses are the Go runtime's small object size classes from 1 KiB
// (runtime/sizeclasses.go); a make([]byte, n) of up to 32 KiB gets the
// smallest class that holds n.
var goSizeClasses = []int{
	1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456,
	4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880,
	12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
	28672, 32768,
}

// classes are the class sizes, ascending.
var classes = func() []int {
	c := append([]int(nil), goSizeClasses...)
	for n := c[len(c)-1]; n < MaxPooled; {
		step := (n/16 + page - 1) / page * page
		n += step
		c = append(c, min(n, MaxPooled))
	}
	return c
}()

// ClassSize returns the capacity of the buffer a Pool hands out for n bytes:
// the smallest class size ≥ n, or, above MaxPooled, n rounded up to whole
// pages (what the Go allocator hands out). n must be ≥ 1.
func ClassSize(n int) int {
	if c := classOf(n); c >= 0 {
		return classes[c]
	}
	return (n + page - 1) / page * page
}

// classOf returns the class index for n bytes, or -1 when n is above
// MaxPooled. Sizes below MinSize map to class 0.
func classOf(n int) int {
	if n > MaxPooled {
		return -1
	}
	return sort.SearchInts(classes, n)
}

// Pool is a bounded store of free buffers by size class.
type Pool struct {
	mu   sync.Mutex
	free [][][]byte // per class, last in first out (warmest first)
	held int64      // bytes of the free buffers
	max  int64

	hits, remaps, misses, drops atomic.Uint64
	newBytes                    atomic.Uint64
	heldA                       atomic.Int64
}

// New returns a pool that keeps at most max bytes of free buffers.
func New(max int64) *Pool {
	return &Pool{free: make([][][]byte, len(classes)), max: max}
}

// SetMax changes the bound on the free buffers' bytes, releasing buffers
// (largest classes first) until they fit.
func (p *Pool) SetMax(max int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.max = max
	for c := len(p.free) - 1; c >= 0 && p.held > p.max; c-- {
		for len(p.free[c]) > 0 && p.held > p.max {
			k := len(p.free[c]) - 1
			release(p.free[c][k])
			p.free[c][k] = nil
			p.free[c] = p.free[c][:k]
			p.held -= int64(classes[c])
		}
	}
	p.heldA.Store(p.held)
}

// Get returns a buffer of length n and capacity ClassSize(n). Its contents
// are undefined (a reused buffer is not cleared).
//
// A buffer of the same class is reused when one is free. Otherwise, for the
// mapped classes, the free mapping of the nearest class is resized to fit
// (its pages stay resident, so only the difference is faulted in or given
// back); only when none is free does Get map new memory.
func (p *Pool) Get(n int) []byte {
	c := classOf(n)
	if c < 0 {
		return make([]byte, n, ClassSize(n))
	}
	size := classes[c]
	p.mu.Lock()
	if b := p.takeLocked(c); b != nil {
		p.mu.Unlock()
		p.hits.Add(1)
		return b[:n]
	}
	if offHeap && size >= offHeapMin {
		if f := p.nearestLocked(c); f >= 0 {
			b := p.takeLocked(f)
			p.mu.Unlock()
			if nb, ok := remapBuf(b, size); ok {
				p.remaps.Add(1)
				if d := size - cap(b); d > 0 {
					p.newBytes.Add(uint64(d))
				}
				return nb[:n]
			}
			unmapBuf(b)
			p.mu.Lock()
		}
	}
	p.mu.Unlock()
	p.misses.Add(1)
	p.newBytes.Add(uint64(size))
	return alloc(n, size)
}

// Grow returns a buffer of length n (n ≥ len(b)) holding b's contents,
// giving b back. A mapped buffer from Get is resized in place of copying
// (mremap keeps its pages and may move them without a copy); any other
// buffer is copied into a buffer from Get. b must not be used afterwards.
func (p *Pool) Grow(b []byte, n int) []byte {
	size := ClassSize(n)
	if offHeap && isMapped(b) && classOf(n) >= 0 {
		if nb, ok := remapBuf(b[:cap(b)], size); ok {
			if d := size - cap(b); d > 0 {
				p.newBytes.Add(uint64(d))
			}
			p.remaps.Add(1)
			return nb[:n]
		}
	}
	nb := p.Get(n)
	copy(nb, b)
	p.Put(b)
	return nb
}

// isMapped reports whether b's capacity is that of a mapped class (buffers
// from Get of such a class are mappings, see alloc).
func isMapped(b []byte) bool {
	n := cap(b)
	if n < offHeapMin {
		return false
	}
	c := classOf(n)
	return c >= 0 && classes[c] == n
}

// takeLocked pops the warmest free buffer of class c, or returns nil.
func (p *Pool) takeLocked(c int) []byte {
	k := len(p.free[c]) - 1
	if k < 0 {
		return nil
	}
	b := p.free[c][k]
	p.free[c][k] = nil
	p.free[c] = p.free[c][:k]
	p.held -= int64(cap(b))
	p.heldA.Store(p.held)
	return b[:cap(b)]
}

// nearestLocked returns the mapped class nearest to c (larger first at the
// same distance) that has a free buffer, or -1.
func (p *Pool) nearestLocked(c int) int {
	for d := 1; ; d++ {
		up, down := c+d, c-d
		upOK, downOK := up < len(p.free), down >= 0 && classes[down] >= offHeapMin
		if !upOK && !downOK {
			return -1
		}
		if upOK && len(p.free[up]) > 0 {
			return up
		}
		if downOK && len(p.free[down]) > 0 {
			return down
		}
	}
}

// alloc returns a new buffer of length n and capacity size (a class size).
// When a mapping fails it falls back to the Go heap with a capacity that is
// no class size, so Put leaves it to the collector.
func alloc(n, size int) []byte {
	if size >= offHeapMin {
		if b, ok := mapBuf(size); ok {
			return b[:n]
		}
		return make([]byte, n, size+1)
	}
	return make([]byte, n, size)
}

// release drops a buffer the pool does not keep.
func release(b []byte) {
	if cap(b) >= offHeapMin {
		unmapBuf(b[:cap(b)])
	}
}

// Put gives a buffer from Get back for reuse; buffers that do not fit under
// the bound are released (unmapped, or left to the collector). Buffers
// whose capacity is not a class size are ignored. The caller must not use b
// afterwards, nor Put a buffer that Get did not return.
func (p *Pool) Put(b []byte) {
	n := cap(b)
	c := classOf(n)
	if c < 0 || classes[c] != n || n < MinSize {
		return
	}
	p.mu.Lock()
	if p.held+int64(n) > p.max {
		p.mu.Unlock()
		p.drops.Add(1)
		release(b)
		return
	}
	p.free[c] = append(p.free[c], b[:0])
	p.held += int64(n)
	p.heldA.Store(p.held)
	p.mu.Unlock()
}

// Stats are a pool's counters.
type Stats struct {
	Held     int64  // bytes of free buffers kept
	Hits     uint64 // Gets served by a kept buffer of the same class
	Remaps   uint64 // Gets served by resizing a kept buffer of another class
	Misses   uint64 // Gets that allocated
	NewBytes uint64 // bytes newly allocated or mapped (misses, remaps that grow)
	Drops    uint64 // Puts refused because the pool was full
}

// Stats returns the pool's counters.
func (p *Pool) Stats() Stats {
	return Stats{Held: p.heldA.Load(), Hits: p.hits.Load(), Remaps: p.remaps.Load(), Misses: p.misses.Load(), NewBytes: p.newBytes.Load(), Drops: p.drops.Load()}
}
