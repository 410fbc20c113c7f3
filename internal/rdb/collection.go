package rdb

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
)

// TypeHashFieldTTL is cachesrv's own DUMP type for a hash whose fields
// carry deadlines (HEXPIRE): Redis 7.0 has no such type and refuses the
// payload ("Bad data format"); cachesrv nodes exchange it (MIGRATE). Body:
// length, then per field: field, value, 8-byte little-endian deadline in
// unix ms (0 = none).
const TypeHashFieldTTL byte = 200

// More Redis types read by ReadCollection (Redis 7.2 writes sets of
// strings as listpacks).
const TypeSetListpack byte = 20

// Collection is a decoded list, set, sorted set or hash.
type Collection struct {
	// Kind is KindList, KindSet, KindZSet or KindHash.
	Kind byte
	// Items holds list elements in order, set members, sorted set members
	// (with Scores), or hash field, value pairs.
	Items  [][]byte
	Scores []float64
	// Deadlines holds one deadline (unix ms, 0 = none) per hash field when
	// the hash came from TypeHashFieldTTL; nil otherwise.
	Deadlines []int64
	buf       []byte // backing store of Items
}

// Collection kinds.
const (
	KindList byte = iota + 1
	KindSet
	KindZSet
	KindHash
)

// Reset empties c, keeping its memory.
func (c *Collection) Reset() {
	c.Kind, c.Items, c.Scores, c.Deadlines, c.buf = 0, c.Items[:0], c.Scores[:0], nil, c.buf[:0]
}

// add appends one item, copying it into c's buffer.
func (c *Collection) add(b []byte) {
	c.buf = append(c.buf, b...)
	c.Items = append(c.Items, b) // re-pointed by finish
}

// finish re-points Items into c.buf (appends may have moved it).
func (c *Collection) finish() {
	off := 0
	for i, it := range c.Items {
		c.Items[i] = c.buf[off : off+len(it) : off+len(it)]
		off += len(it)
	}
}

// AppendCollection appends the DUMP encoding of c's value (without the
// type byte) and returns it with the RDB type to use: lists as
// TypeList, sets as TypeSet, sorted sets as TypeZSet2 and hashes as
// TypeHash (TypeHashFieldTTL when Deadlines is set): the plain encodings
// every Redis since 2.x loads.
func AppendCollection(dst []byte, c *Collection) ([]byte, byte) {
	switch c.Kind {
	case KindList, KindSet:
		dst = AppendLen(dst, uint64(len(c.Items)))
		for _, it := range c.Items {
			dst = AppendString(dst, it)
		}
		if c.Kind == KindList {
			return dst, TypeList
		}
		return dst, TypeSet
	case KindZSet:
		dst = AppendLen(dst, uint64(len(c.Items)))
		for i, it := range c.Items {
			dst = AppendString(dst, it)
			dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(c.Scores[i]))
		}
		return dst, TypeZSet2
	case KindHash:
		dst = AppendLen(dst, uint64(len(c.Items)/2))
		for i := 0; i+1 < len(c.Items); i += 2 {
			dst = AppendString(dst, c.Items[i])
			dst = AppendString(dst, c.Items[i+1])
			if c.Deadlines != nil {
				dst = binary.LittleEndian.AppendUint64(dst, uint64(c.Deadlines[i/2]))
			}
		}
		if c.Deadlines != nil {
			return dst, TypeHashFieldTTL
		}
		return dst, TypeHash
	}
	panic(fmt.Sprintf("BUG: rdb: collection kind %d", c.Kind))
}

// DumpCollection returns a DUMP payload for c.
func DumpCollection(dst []byte, c *Collection) []byte {
	_, typ := AppendCollection(nil, c)
	return AppendDump(dst, typ, func(b []byte) []byte {
		b, _ = AppendCollection(b, c)
		return b
	})
}

// IsCollectionType reports whether ReadCollection decodes type typ.
func IsCollectionType(typ byte) bool {
	switch typ {
	case TypeList, TypeSet, TypeZSet, TypeHash, TypeZSet2, TypeSetIntset, TypeHashListpack,
		TypeZSetListpack, TypeListQuicklist2, TypeSetListpack, TypeHashFieldTTL:
		return true
	}
	return false
}

// maxItems bounds a collection's announced length before reading it: an
// item takes at least one byte, so no honest payload announces more items
// than it has bytes left, and a hostile one cannot make us allocate.
const maxItems = 1 << 32

// ReadCollection decodes a collection of RDB type typ into c: the plain
// types every version writes, and the compact ones Redis 7.0–7.2 write
// (intset, listpack hashes, sorted sets and sets, quicklist-2 lists).
// Ziplist types (Redis < 7) and streams are *UnsupportedTypeError.
func (r *Reader) ReadCollection(typ byte, c *Collection) error {
	c.Reset()
	var err error
	switch typ {
	case TypeList, TypeSet:
		c.Kind = KindList
		if typ == TypeSet {
			c.Kind = KindSet
		}
		err = r.readStrings(c, 1)
	case TypeHash:
		c.Kind = KindHash
		err = r.readStrings(c, 2)
	case TypeHashFieldTTL:
		c.Kind = KindHash
		err = r.readHashTTL(c)
	case TypeZSet, TypeZSet2:
		c.Kind = KindZSet
		err = r.readZSet(c, typ == TypeZSet2)
	case TypeSetIntset:
		c.Kind = KindSet
		err = r.readIntset(c)
	case TypeHashListpack, TypeZSetListpack, TypeSetListpack:
		c.Kind = map[byte]byte{TypeHashListpack: KindHash, TypeZSetListpack: KindZSet, TypeSetListpack: KindSet}[typ]
		var lp []byte
		if lp, err = r.ReadString(nil); err == nil {
			err = c.addListpack(lp)
		}
		if err == nil && c.Kind != KindSet && len(c.Items)%2 != 0 {
			err = fmt.Errorf("%w: odd listpack for %s", ErrCorrupt, TypeName(typ))
		}
		if err == nil && c.Kind == KindZSet {
			err = c.splitScores()
		}
	case TypeListQuicklist2:
		c.Kind = KindList
		err = r.readQuicklist2(c)
	default:
		if err := r.SkipValue(typ); err != nil {
			return err
		}
		return &UnsupportedTypeError{Type: typ}
	}
	c.finish()
	return err
}

func (r *Reader) count(per uint64) (uint64, error) {
	n, err := r.readLength()
	if err != nil {
		return 0, err
	}
	if n > maxItems/per {
		return 0, fmt.Errorf("%w: collection of %d items", ErrCorrupt, n)
	}
	return n * per, nil
}

func (r *Reader) readStrings(c *Collection, per uint64) error {
	n, err := r.count(per)
	if err != nil {
		return err
	}
	var s []byte
	for range n {
		if s, err = r.ReadString(s[:0]); err != nil {
			return err
		}
		c.add(s)
	}
	return nil
}

func (r *Reader) readHashTTL(c *Collection) error {
	n, err := r.count(1)
	if err != nil {
		return err
	}
	var s []byte
	for range n {
		for range 2 {
			if s, err = r.ReadString(s[:0]); err != nil {
				return err
			}
			c.add(s)
		}
		p, err := r.next(8)
		if err != nil {
			return err
		}
		c.Deadlines = append(c.Deadlines, int64(binary.LittleEndian.Uint64(p)))
	}
	return nil
}

func (r *Reader) readZSet(c *Collection, binaryScores bool) error {
	n, err := r.count(1)
	if err != nil {
		return err
	}
	var s []byte
	for range n {
		if s, err = r.ReadString(s[:0]); err != nil {
			return err
		}
		c.add(s)
		var f float64
		if binaryScores {
			p, err := r.next(8)
			if err != nil {
				return err
			}
			f = math.Float64frombits(binary.LittleEndian.Uint64(p))
		} else {
			// RDB_TYPE_ZSET: a length byte, then the score as text (253,
			// 254, 255: NaN, +inf, -inf).
			b, err := r.ReadByte()
			if err != nil {
				return err
			}
			switch b {
			case 253:
				f = math.NaN()
			case 254:
				f = math.Inf(1)
			case 255:
				f = math.Inf(-1)
			default:
				p, err := r.next(int(b))
				if err != nil {
					return err
				}
				if f, err = strconv.ParseFloat(string(p), 64); err != nil {
					return fmt.Errorf("%w: score %q", ErrCorrupt, p)
				}
			}
		}
		if math.IsNaN(f) {
			return fmt.Errorf("%w: NaN score", ErrCorrupt)
		}
		c.Scores = append(c.Scores, f)
	}
	return nil
}

func (r *Reader) readIntset(c *Collection) error {
	b, err := r.ReadString(nil)
	if err != nil {
		return err
	}
	if len(b) < 8 {
		return fmt.Errorf("%w: intset header", ErrCorrupt)
	}
	width := int(binary.LittleEndian.Uint32(b))
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if (width != 2 && width != 4 && width != 8) || len(b) != 8+n*width {
		return fmt.Errorf("%w: intset of %d×%d bytes in %d", ErrCorrupt, n, width, len(b))
	}
	var num []byte
	for i := range n {
		p := b[8+i*width:]
		var v int64
		switch width {
		case 2:
			v = int64(int16(binary.LittleEndian.Uint16(p)))
		case 4:
			v = int64(int32(binary.LittleEndian.Uint32(p)))
		default:
			v = int64(binary.LittleEndian.Uint64(p))
		}
		num = strconv.AppendInt(num[:0], v, 10)
		c.add(num)
	}
	return nil
}

func (r *Reader) readQuicklist2(c *Collection) error {
	n, err := r.count(1)
	if err != nil {
		return err
	}
	var s []byte
	for range n {
		container, err := r.readLength()
		if err != nil {
			return err
		}
		if s, err = r.ReadString(s[:0]); err != nil {
			return err
		}
		switch container {
		case 1: // QUICKLIST_NODE_CONTAINER_PLAIN: one element
			c.add(s)
		case 2: // PACKED: a listpack of elements
			if err := c.addListpack(s); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: quicklist container %d", ErrCorrupt, container)
		}
	}
	return nil
}

// splitScores turns a listpack's member, score pairs into Items and Scores.
func (c *Collection) splitScores() error {
	c.finish()
	members := c.Items[:0]
	for i := 0; i+1 < len(c.Items); i += 2 {
		f, err := strconv.ParseFloat(string(c.Items[i+1]), 64)
		if err != nil || math.IsNaN(f) {
			return fmt.Errorf("%w: score %q", ErrCorrupt, c.Items[i+1])
		}
		members = append(members, c.Items[i])
		c.Scores = append(c.Scores, f)
	}
	// Items alias buf in order; rebuild buf without the scores.
	var buf []byte
	for _, m := range members {
		buf = append(buf, m...)
	}
	c.Items, c.buf = members, buf
	return nil
}

// addListpack appends the entries of a Redis listpack (integers as text).
func (c *Collection) addListpack(lp []byte) error {
	if len(lp) < 7 || int(binary.LittleEndian.Uint32(lp)) != len(lp) || lp[len(lp)-1] != 0xFF {
		return fmt.Errorf("%w: listpack header", ErrCorrupt)
	}
	want := int(binary.LittleEndian.Uint16(lp[4:]))
	p, got := 6, 0
	var num []byte
	for p < len(lp)-1 {
		b := lp[p]
		var hdr, size int // encoding bytes, data bytes
		var isInt bool
		var v int64
		switch {
		case b&0x80 == 0: // 0xxxxxxx: 7-bit unsigned
			hdr, isInt, v = 1, true, int64(b&0x7F)
		case b&0xC0 == 0x80: // 10xxxxxx: 6-bit length string
			hdr, size = 1, int(b&0x3F)
		case b&0xE0 == 0xC0: // 110xxxxx: 13-bit signed
			if p+2 > len(lp) {
				return fmt.Errorf("%w: listpack entry", ErrCorrupt)
			}
			u := uint16(b&0x1F)<<8 | uint16(lp[p+1])
			hdr, isInt, v = 2, true, int64(int16(u<<3)>>3)
		case b&0xF0 == 0xE0: // 1110xxxx: 12-bit length string
			if p+2 > len(lp) {
				return fmt.Errorf("%w: listpack entry", ErrCorrupt)
			}
			hdr, size = 2, int(b&0x0F)<<8|int(lp[p+1])
		case b == 0xF0: // 32-bit length string
			if p+5 > len(lp) {
				return fmt.Errorf("%w: listpack entry", ErrCorrupt)
			}
			hdr, size = 5, int(binary.LittleEndian.Uint32(lp[p+1:]))
		case b >= 0xF1 && b <= 0xF4: // 16, 24, 32, 64-bit signed
			w := [...]int{2, 3, 4, 8}[b-0xF1]
			if p+1+w > len(lp) {
				return fmt.Errorf("%w: listpack entry", ErrCorrupt)
			}
			var u uint64
			for i := w - 1; i >= 0; i-- {
				u = u<<8 | uint64(lp[p+1+i])
			}
			shift := 64 - 8*w
			hdr, isInt, v = 1+w, true, int64(u<<shift)>>shift
		default:
			return fmt.Errorf("%w: listpack encoding 0x%02x", ErrCorrupt, b)
		}
		if size < 0 || p+hdr+size > len(lp)-1 {
			return fmt.Errorf("%w: listpack entry overruns", ErrCorrupt)
		}
		if isInt {
			num = strconv.AppendInt(num[:0], v, 10)
			c.add(num)
		} else {
			c.add(lp[p+hdr : p+hdr+size])
		}
		l := hdr + size
		p += l + backlenSize(l)
		got++
	}
	if p != len(lp)-1 || (want != 0xFFFF && want != got) {
		return fmt.Errorf("%w: listpack of %d entries, header says %d", ErrCorrupt, got, want)
	}
	return nil
}

// backlenSize is the size of a listpack entry's back-length field.
func backlenSize(l int) int {
	switch {
	case l < 1<<7:
		return 1
	case l < 1<<14:
		return 2
	case l < 1<<21:
		return 3
	case l < 1<<28:
		return 4
	}
	return 5
}
