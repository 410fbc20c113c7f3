// Package bloom implements scalable Bloom filters with RedisBloom's
// semantics (BF.* commands), encoded in one byte slice so that a filter is an
// ordinary store value: memory-accounted, evictable and expirable like any
// key.
//
// # Semantics
//
// A filter is a chain of sub-filters. The first has the reserved capacity
// and, for scaling filters, half the requested error rate; when the last
// sub-filter holds as many items as its capacity, the next add appends a
// sub-filter with capacity × expansion and half the error rate of the one
// before (RedisBloom's tightening ratio 0.5), so the compound error rate
// stays below the requested one. Non-scaling filters refuse adds when full.
// An add reports 0 when the item is (probably) in any sub-filter already.
//
// Sub-filter sizing follows RedisBloom: bits per entry = -ln(error)/ln(2)²,
// hashes = ceil(ln(2) × bits per entry); the bit array is rounded up to
// 64-bit words. Items are hashed once (64-bit FNV-1a with a murmur3
// finaliser) and probed by double hashing.
//
// # Encoding
//
// All integers little endian:
//
//	[0]     format version (1)
//	[1]     flags: bit 0 = non-scaling
//	[2:4]   number of sub-filters n
//	[4:8]   expansion
//	[8:16]  items inserted, all sub-filters
//	then n sub-filters, each a 40-byte header and its bit array:
//	[0:8]   capacity
//	[8:16]  items inserted
//	[16:24] error rate (IEEE 754 bits)
//	[24:32] bits m (a multiple of 64)
//	[32:36] hashes k
//	[36:40] reserved
//	m/8 bytes of bits
//
// # Concurrency
//
// Functions work on the caller's bytes and keep no state; callers serialise
// access (the store's shard lock).
package bloom

import (
	"encoding/binary"
	"errors"
	"math"
)

const (
	version    = 1
	flagNoScal = 1

	hdrSize = 16
	subHdr  = 40

	// Tightening is the error-rate ratio between consecutive sub-filters.
	Tightening = 0.5
	// MaxFilters bounds the sub-filters of one filter.
	MaxFilters = 256
	// MaxBytes bounds the encoded size of one filter.
	MaxBytes = 512 << 20
	// maxHashes bounds the hash functions of a sub-filter (an error rate of
	// 1e-308 needs 1022).
	maxHashes = 2048
)

// RedisBloom's defaults for filters created by BF.ADD, BF.MADD and BF.INSERT.
const (
	DefaultError     = 0.01
	DefaultCapacity  = 100
	DefaultExpansion = 2
)

// Errors.
var (
	// ErrFull is returned by Add on a full non-scaling filter.
	ErrFull = errors.New("non scaling filter is full")
	// ErrTooLarge is returned when a filter would exceed MaxBytes or
	// MaxFilters.
	ErrTooLarge = errors.New("bloom filter too large")
	// ErrCorrupt is returned for bytes that are not an encoded filter.
	ErrCorrupt = errors.New("corrupt bloom filter")
)

// Params describe a new filter.
type Params struct {
	Capacity   uint64  // items of the first sub-filter, > 0
	Error      float64 // requested false-positive rate, 0 < Error < 1
	Expansion  uint32  // capacity factor of each new sub-filter, >= 1
	NonScaling bool
}

// sizing returns the bit count (a multiple of 64) and hash count of a
// sub-filter, or ok=false when it is too large.
func sizing(capacity uint64, errRate float64) (bits uint64, hashes uint32, ok bool) {
	bpe := -math.Log(errRate) / (math.Ln2 * math.Ln2)
	fb := math.Ceil(float64(capacity) * bpe)
	if math.IsNaN(fb) || fb > float64(MaxBytes)*8 {
		return 0, 0, false
	}
	bits = (uint64(fb) + 63) &^ 63
	if bits == 0 {
		bits = 64
	}
	k := math.Ceil(math.Ln2 * bpe)
	if k < 1 {
		k = 1
	}
	if k > maxHashes {
		return 0, 0, false
	}
	return bits, uint32(k), true
}

// SizeOf returns the encoded size of a new filter with p, or ErrTooLarge.
func SizeOf(p Params) (int, error) {
	bits, _, ok := sizing(p.Capacity, firstError(p))
	if !ok || hdrSize+subHdr+bits/8 > MaxBytes {
		return 0, ErrTooLarge
	}
	return hdrSize + subHdr + int(bits/8), nil
}

func firstError(p Params) float64 {
	if p.NonScaling {
		return p.Error
	}
	return p.Error * Tightening
}

// New encodes an empty filter. The caller validated p (Capacity > 0,
// 0 < Error < 1, Expansion >= 1).
func New(p Params) ([]byte, error) {
	n, err := SizeOf(p)
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	b[0] = version
	if p.NonScaling {
		b[1] = flagNoScal
	}
	binary.LittleEndian.PutUint16(b[2:], 1)
	binary.LittleEndian.PutUint32(b[4:], p.Expansion)
	bits, k, _ := sizing(p.Capacity, firstError(p))
	putSub(b[hdrSize:], p.Capacity, firstError(p), bits, k)
	return b, nil
}

func putSub(s []byte, capacity uint64, errRate float64, bits uint64, k uint32) {
	binary.LittleEndian.PutUint64(s[0:], capacity)
	binary.LittleEndian.PutUint64(s[8:], 0)
	binary.LittleEndian.PutUint64(s[16:], math.Float64bits(errRate))
	binary.LittleEndian.PutUint64(s[24:], bits)
	binary.LittleEndian.PutUint32(s[32:], k)
}

// Filter is a view of an encoded filter. Methods that add modify the bytes
// in place.
type Filter []byte

// Valid checks the encoding: header, sub-filter headers and total length.
func (f Filter) Valid() bool {
	if len(f) < hdrSize || f[0] != version || f[1]&^flagNoScal != 0 {
		return false
	}
	n := int(binary.LittleEndian.Uint16(f[2:]))
	if n < 1 || n > MaxFilters {
		return false
	}
	off := hdrSize
	var items uint64
	for i := 0; i < n; i++ {
		if len(f)-off < subHdr {
			return false
		}
		s := f[off:]
		bits := binary.LittleEndian.Uint64(s[24:])
		k := binary.LittleEndian.Uint32(s[32:])
		if bits == 0 || bits%64 != 0 || bits/8 > uint64(len(f)-off-subHdr) || k == 0 || k > maxHashes {
			return false
		}
		items += binary.LittleEndian.Uint64(s[8:])
		off += subHdr + int(bits/8)
	}
	return off == len(f) && items == f.Items()
}

// NonScaling reports whether the filter refuses to grow.
func (f Filter) NonScaling() bool { return f[1]&flagNoScal != 0 }

// NumFilters returns the number of sub-filters.
func (f Filter) NumFilters() int { return int(binary.LittleEndian.Uint16(f[2:])) }

// Expansion returns the expansion factor.
func (f Filter) Expansion() uint32 { return binary.LittleEndian.Uint32(f[4:]) }

// Items returns the number of items added.
func (f Filter) Items() uint64 { return binary.LittleEndian.Uint64(f[8:]) }

// Capacity returns the summed capacity of the sub-filters.
func (f Filter) Capacity() uint64 {
	var c uint64
	f.each(func(s []byte) bool { c += binary.LittleEndian.Uint64(s); return true })
	return c
}

// each calls fn with every sub-filter (header and bits) until fn returns
// false.
func (f Filter) each(fn func(s []byte) bool) {
	off := hdrSize
	for i, n := 0, f.NumFilters(); i < n; i++ {
		bits := binary.LittleEndian.Uint64(f[off+24:])
		end := off + subHdr + int(bits/8)
		if !fn(f[off:end]) {
			return
		}
		off = end
	}
}

// last returns the last sub-filter.
func (f Filter) last() []byte {
	var l []byte
	f.each(func(s []byte) bool { l = s; return true })
	return l
}

// hash returns the two probe hashes of an item.
func hash(item []byte) (h1, h2 uint64) {
	h := uint64(14695981039346656037)
	for _, c := range item {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h1 = fmix64(h)
	h2 = fmix64(h1^0x9E3779B97F4A7C15) | 1
	return h1, h2
}

func fmix64(k uint64) uint64 {
	k ^= k >> 33
	k *= 0xff51afd7ed558ccd
	k ^= k >> 33
	k *= 0xc4ceb9fe1a85ec53
	k ^= k >> 33
	return k
}

func subHas(s []byte, h1, h2 uint64) bool {
	bits := binary.LittleEndian.Uint64(s[24:])
	k := binary.LittleEndian.Uint32(s[32:])
	arr := s[subHdr:]
	x := h1
	for i := uint32(0); i < k; i++ {
		p := x % bits
		if arr[p>>3]&(1<<(p&7)) == 0 {
			return false
		}
		x += h2
	}
	return true
}

func subSet(s []byte, h1, h2 uint64) {
	bits := binary.LittleEndian.Uint64(s[24:])
	k := binary.LittleEndian.Uint32(s[32:])
	arr := s[subHdr:]
	x := h1
	for i := uint32(0); i < k; i++ {
		p := x % bits
		arr[p>>3] |= 1 << (p & 7)
		x += h2
	}
}

// Exists reports whether item was probably added.
func (f Filter) Exists(item []byte) bool {
	h1, h2 := hash(item)
	found := false
	f.each(func(s []byte) bool {
		found = subHas(s, h1, h2)
		return !found
	})
	return found
}

// AddResult is the outcome of Add.
type AddResult uint8

// Add outcomes.
const (
	// Added: the item was new and is now in the filter.
	Added AddResult = iota
	// Present: the item was (probably) in the filter already.
	Present
	// NeedsGrowth: the last sub-filter is full; Grow, then add again.
	NeedsGrowth
	// Full: the filter is non-scaling and full.
	Full
)

// Add adds item in place.
func (f Filter) Add(item []byte) AddResult {
	h1, h2 := hash(item)
	found := false
	var last []byte
	f.each(func(s []byte) bool {
		last = s
		found = subHas(s, h1, h2)
		return !found
	})
	if found {
		return Present
	}
	if binary.LittleEndian.Uint64(last[8:]) >= binary.LittleEndian.Uint64(last[0:]) {
		if f.NonScaling() {
			return Full
		}
		return NeedsGrowth
	}
	subSet(last, h1, h2)
	binary.LittleEndian.PutUint64(last[8:], binary.LittleEndian.Uint64(last[8:])+1)
	binary.LittleEndian.PutUint64(f[8:], f.Items()+1)
	return Added
}

// GrownSize returns the encoded size Grow would give f, without
// allocating it (callers check it against their memory bound), or
// ErrTooLarge.
func (f Filter) GrownSize() (int, error) {
	_, _, bits, _, err := f.nextSub()
	if err != nil {
		return 0, err
	}
	return len(f) + subHdr + int(bits/8), nil
}

// nextSub sizes the sub-filter Grow appends.
func (f Filter) nextSub() (capacity uint64, errRate float64, bits uint64, k uint32, err error) {
	if f.NumFilters() >= MaxFilters {
		return 0, 0, 0, 0, ErrTooLarge
	}
	last := f.last()
	lastCap := binary.LittleEndian.Uint64(last[0:])
	exp := uint64(f.Expansion())
	if exp == 0 {
		exp = 1
	}
	if lastCap > math.MaxUint64/exp {
		return 0, 0, 0, 0, ErrTooLarge
	}
	capacity = lastCap * exp
	errRate = math.Float64frombits(binary.LittleEndian.Uint64(last[16:])) * Tightening
	bits, k, ok := sizing(capacity, errRate)
	if !ok || uint64(len(f))+subHdr+bits/8 > MaxBytes {
		return 0, 0, 0, 0, ErrTooLarge
	}
	return capacity, errRate, bits, k, nil
}

// Grow returns a copy of f with a new, empty sub-filter appended (capacity
// × expansion, error × Tightening), or ErrTooLarge.
func (f Filter) Grow() (Filter, error) {
	n := f.NumFilters()
	capacity, errRate, bits, k, err := f.nextSub()
	if err != nil {
		return nil, err
	}
	g := make(Filter, len(f)+subHdr+int(bits/8))
	copy(g, f)
	binary.LittleEndian.PutUint16(g[2:], uint16(n+1))
	putSub(g[len(f):], capacity, errRate, bits, k)
	return g, nil
}
