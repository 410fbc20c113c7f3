package rdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// DefaultMaxString is the default limit on one decoded string (Redis's
// proto-max-bulk-len default).
const DefaultMaxString = 512 << 20

// Reader decodes RDB primitives from a stream or a byte slice. It buffers
// its source and keeps a running CRC-64 of the bytes consumed. It is not
// safe for concurrent use.
type Reader struct {
	src    io.Reader
	buf    []byte
	r, w   int
	crcPos int // buf[crcPos:r] is consumed but not yet in crc
	crc    uint64
	off    int64 // bytes consumed before buf[0]
	err    error

	// MaxString bounds one decoded string; 0 means DefaultMaxString.
	MaxString int
	lzf       []byte
}

// NewReader returns a Reader over src with a 64 KiB buffer.
func NewReader(src io.Reader) *Reader {
	return &Reader{src: src, buf: make([]byte, 64<<10)}
}

// NewBytesReader returns a Reader over p (a DUMP payload body).
func NewBytesReader(p []byte) *Reader {
	return &Reader{buf: p, w: len(p), err: io.EOF}
}

// Offset returns the number of bytes consumed.
func (r *Reader) Offset() int64 { return r.off + int64(r.r) }

// Sum returns the CRC-64 of the bytes consumed so far.
func (r *Reader) Sum() uint64 {
	r.crc = CRC64(r.crc, r.buf[r.crcPos:r.r])
	r.crcPos = r.r
	return r.crc
}

// fill makes at least n bytes available (n ≤ len(buf)).
func (r *Reader) fill(n int) error {
	for r.w-r.r < n {
		if r.err != nil {
			if r.err == io.EOF {
				return fmt.Errorf("%w: unexpected end of data at offset %d", ErrCorrupt, r.Offset())
			}
			return r.err
		}
		if r.src == nil {
			r.err = io.EOF
			continue
		}
		if r.r > 0 {
			r.Sum()
			copy(r.buf, r.buf[r.r:r.w])
			r.off += int64(r.r)
			r.w -= r.r
			r.r, r.crcPos = 0, 0
		}
		m, err := r.src.Read(r.buf[r.w:])
		r.w += m
		if err != nil {
			r.err = err
		}
	}
	return nil
}

// next returns the next n bytes (n ≤ buffer size); the slice is valid
// until the next call.
func (r *Reader) next(n int) ([]byte, error) {
	if r.w-r.r < n {
		if n > len(r.buf) && r.src != nil {
			return nil, fmt.Errorf("BUG: rdb: read of %d bytes beyond the buffer", n)
		}
		if err := r.fill(n); err != nil {
			return nil, err
		}
	}
	p := r.buf[r.r : r.r+n]
	r.r += n
	return p, nil
}

// ReadByte reads one byte.
func (r *Reader) ReadByte() (byte, error) {
	p, err := r.next(1)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

// readBytes appends n bytes to dst, in chunks so a lying length fails at
// the end of the data instead of allocating it up front.
func (r *Reader) readBytes(dst []byte, n int) ([]byte, error) {
	for n > 0 {
		if r.r == r.w {
			if err := r.fill(1); err != nil {
				return dst, err
			}
		}
		k := min(n, r.w-r.r)
		dst = append(dst, r.buf[r.r:r.r+k]...)
		r.r += k
		n -= k
	}
	return dst, nil
}

// skip discards n bytes.
func (r *Reader) skip(n uint64) error {
	for n > 0 {
		if r.r == r.w {
			if err := r.fill(1); err != nil {
				return err
			}
		}
		k := min(n, uint64(r.w-r.r))
		r.r += int(k)
		n -= k
	}
	return nil
}

// ReadLen reads a length. When enc is true, n is a special string encoding
// (encInt8, encInt16, encInt32, encLZF) rather than a length.
func (r *Reader) ReadLen() (n uint64, enc bool, err error) {
	b, err := r.ReadByte()
	if err != nil {
		return 0, false, err
	}
	switch b >> 6 {
	case len6bit:
		return uint64(b & 0x3f), false, nil
	case len14bit:
		c, err := r.ReadByte()
		if err != nil {
			return 0, false, err
		}
		return uint64(b&0x3f)<<8 | uint64(c), false, nil
	case lenEnc:
		return uint64(b & 0x3f), true, nil
	}
	switch b {
	case len32bit:
		p, err := r.next(4)
		if err != nil {
			return 0, false, err
		}
		return uint64(binary.BigEndian.Uint32(p)), false, nil
	case len64bit:
		p, err := r.next(8)
		if err != nil {
			return 0, false, err
		}
		return binary.BigEndian.Uint64(p), false, nil
	}
	return 0, false, fmt.Errorf("%w: bad length byte %#x at offset %d", ErrCorrupt, b, r.Offset()-1)
}

// readLength reads a plain length (no string encoding allowed).
func (r *Reader) readLength() (uint64, error) {
	n, enc, err := r.ReadLen()
	if err == nil && enc {
		err = fmt.Errorf("%w: encoded value where a length was expected at offset %d", ErrCorrupt, r.Offset())
	}
	return n, err
}

func (r *Reader) maxString() int {
	if r.MaxString > 0 {
		return r.MaxString
	}
	return DefaultMaxString
}

// ReadString appends the next string (raw, integer or LZF encoded) to dst.
func (r *Reader) ReadString(dst []byte) ([]byte, error) {
	n, enc, err := r.ReadLen()
	if err != nil {
		return dst, err
	}
	if !enc {
		if n > uint64(r.maxString()) {
			return dst, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
		}
		return r.readBytes(dst, int(n))
	}
	switch n {
	case encInt8:
		p, err := r.next(1)
		if err != nil {
			return dst, err
		}
		return appendInt(dst, int64(int8(p[0]))), nil
	case encInt16:
		p, err := r.next(2)
		if err != nil {
			return dst, err
		}
		return appendInt(dst, int64(int16(binary.LittleEndian.Uint16(p)))), nil
	case encInt32:
		p, err := r.next(4)
		if err != nil {
			return dst, err
		}
		return appendInt(dst, int64(int32(binary.LittleEndian.Uint32(p)))), nil
	case encLZF:
		clen, err := r.readLength()
		if err != nil {
			return dst, err
		}
		ulen, err := r.readLength()
		if err != nil {
			return dst, err
		}
		if ulen > uint64(r.maxString()) || clen > uint64(r.maxString()) {
			return dst, fmt.Errorf("%w: compressed string of %d bytes", ErrTooLarge, ulen)
		}
		r.lzf, err = r.readBytes(r.lzf[:0], int(clen))
		if err != nil {
			return dst, err
		}
		start := len(dst)
		dst = grow(dst, int(ulen))
		if err := lzfDecompress(r.lzf, dst[start:start+int(ulen)]); err != nil {
			return dst[:start], err
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%w: unknown string encoding %d at offset %d", ErrCorrupt, n, r.Offset())
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n)
	copy(nb, b)
	return nb
}

// SkipString discards the next string.
func (r *Reader) SkipString() error {
	n, enc, err := r.ReadLen()
	if err != nil {
		return err
	}
	if !enc {
		return r.skip(n)
	}
	switch n {
	case encInt8:
		return r.skip(1)
	case encInt16:
		return r.skip(2)
	case encInt32:
		return r.skip(4)
	case encLZF:
		clen, err := r.readLength()
		if err != nil {
			return err
		}
		if _, err := r.readLength(); err != nil {
			return err
		}
		return r.skip(clen)
	}
	return fmt.Errorf("%w: unknown string encoding %d at offset %d", ErrCorrupt, n, r.Offset())
}

// ReadValue decodes a value of RDB type typ. Strings are appended to dst
// and returned. Every other type Redis 7.0 writes is skipped and reported as
// *UnsupportedTypeError; module values cannot be skipped without the
// module and are an error.
func (r *Reader) ReadValue(typ byte, dst []byte) ([]byte, error) {
	if typ == TypeString {
		return r.ReadString(dst)
	}
	if err := r.SkipValue(typ); err != nil {
		return dst, err
	}
	return dst, &UnsupportedTypeError{Type: typ}
}

// SkipValue discards a value of RDB type typ.
func (r *Reader) SkipValue(typ byte) error {
	switch typ {
	case TypeString, TypeHashZipmap, TypeListZiplist, TypeSetIntset, TypeZSetZiplist,
		TypeHashZiplist, TypeHashListpack, TypeZSetListpack:
		return r.SkipString()
	case TypeList, TypeSet, TypeListQuicklist:
		return r.skipStrings(1)
	case TypeHash:
		return r.skipStrings(2)
	case TypeZSet:
		n, err := r.readLength()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			if err := r.SkipString(); err != nil {
				return err
			}
			// Old-style score: length byte, or 253/254/255 for nan/+inf/-inf.
			b, err := r.ReadByte()
			if err != nil {
				return err
			}
			if b < 253 {
				if err := r.skip(uint64(b)); err != nil {
					return err
				}
			}
		}
		return nil
	case TypeZSet2:
		n, err := r.readLength()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			if err := r.SkipString(); err != nil {
				return err
			}
			if err := r.skip(8); err != nil {
				return err
			}
		}
		return nil
	case TypeListQuicklist2:
		n, err := r.readLength()
		if err != nil {
			return err
		}
		for ; n > 0; n-- {
			if _, err := r.readLength(); err != nil { // container kind
				return err
			}
			if err := r.SkipString(); err != nil {
				return err
			}
		}
		return nil
	case TypeStreamListpacks, TypeStreamListpacks2:
		return r.skipStream(typ)
	}
	return fmt.Errorf("%w: cannot skip value type %s", ErrCorrupt, TypeName(typ))
}

// skipStrings skips a length-prefixed list of per strings per element.
func (r *Reader) skipStrings(per uint64) error {
	n, err := r.readLength()
	if err != nil {
		return err
	}
	if n > math.MaxUint64/per {
		return fmt.Errorf("%w: element count %d", ErrCorrupt, n)
	}
	for n *= per; n > 0; n-- {
		if err := r.SkipString(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Reader) skipLens(k int) error {
	for ; k > 0; k-- {
		if _, err := r.readLength(); err != nil {
			return err
		}
	}
	return nil
}

// skipStream skips a stream (RDB_TYPE_STREAM_LISTPACKS and _2).
func (r *Reader) skipStream(typ byte) error {
	v2 := typ == TypeStreamListpacks2
	n, err := r.readLength()
	if err != nil {
		return err
	}
	for ; n > 0; n-- {
		if err := r.SkipString(); err != nil { // master ID
			return err
		}
		if err := r.SkipString(); err != nil { // listpack
			return err
		}
	}
	if err := r.skipLens(3); err != nil { // length, last ID ms and seq
		return err
	}
	if v2 {
		if err := r.skipLens(5); err != nil { // first ID, max deleted ID, entries added
			return err
		}
	}
	groups, err := r.readLength()
	if err != nil {
		return err
	}
	for ; groups > 0; groups-- {
		if err := r.SkipString(); err != nil { // name
			return err
		}
		if err := r.skipLens(2); err != nil { // last ID
			return err
		}
		if v2 {
			if err := r.skipLens(1); err != nil { // entries read
				return err
			}
		}
		pel, err := r.readLength()
		if err != nil {
			return err
		}
		for ; pel > 0; pel-- {
			if err := r.skip(16 + 8); err != nil { // raw ID, delivery time
				return err
			}
			if err := r.skipLens(1); err != nil { // delivery count
				return err
			}
		}
		consumers, err := r.readLength()
		if err != nil {
			return err
		}
		for ; consumers > 0; consumers-- {
			if err := r.SkipString(); err != nil { // name
				return err
			}
			if err := r.skip(8); err != nil { // seen time
				return err
			}
			cpel, err := r.readLength()
			if err != nil {
				return err
			}
			if cpel > math.MaxUint64/16 {
				return fmt.Errorf("%w: consumer PEL of %d", ErrCorrupt, cpel)
			}
			if err := r.skip(cpel * 16); err != nil {
				return err
			}
		}
	}
	return nil
}

// IsUnsupported reports whether err is an UnsupportedTypeError and its type.
func IsUnsupported(err error) (byte, bool) {
	var u *UnsupportedTypeError
	if errors.As(err, &u) {
		return u.Type, true
	}
	return 0, false
}

// Fixed returns the next n bytes (n ≤ 64 KiB); the slice is valid until
// the next call. Other formats (cachesrv's snapshot) use the Reader for
// its buffering and running checksum.
func (r *Reader) Fixed(n int) ([]byte, error) { return r.next(n) }

// AppendBytes appends the next n bytes to dst, growing it as data arrives
// (so a lying length fails at the end of the input, not in an allocation).
func (r *Reader) AppendBytes(dst []byte, n int) ([]byte, error) { return r.readBytes(dst, n) }

// ReadUvarint reads an unsigned LEB128 varint (encoding/binary's).
func (r *Reader) ReadUvarint() (uint64, error) {
	var x uint64
	var s uint
	for i := 0; i < 10; i++ {
		b, err := r.ReadByte()
		if err != nil {
			return 0, err
		}
		if b < 0x80 {
			if i == 9 && b > 1 {
				break
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, fmt.Errorf("%w: varint overflows at offset %d", ErrCorrupt, r.Offset())
}
