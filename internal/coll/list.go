package coll

import "encoding/binary"

const listHdr = 12

// List is a list value: a gap buffer of elements (see the package doc). A
// List aliases store memory when it comes from a lookup; its in-place
// methods keep its length.
type List []byte

// Len returns the number of elements of a list value.
func (l List) Len() int {
	if len(l) < listHdr {
		return 0
	}
	return int(binary.LittleEndian.Uint32(l))
}

func (l List) head() int { return int(binary.LittleEndian.Uint32(l[4:])) }
func (l List) tail() int { return int(binary.LittleEndian.Uint32(l[8:])) }
func (l List) set(n, head, tail int) {
	binary.LittleEndian.PutUint32(l, uint32(n))
	binary.LittleEndian.PutUint32(l[4:], uint32(head))
	binary.LittleEndian.PutUint32(l[8:], uint32(tail))
}

// HeaderValid reports whether l's header is consistent with its length:
// the O(1) check done on every access (element reads are bounds-checked).
func (l List) HeaderValid() bool {
	if len(l) < listHdr {
		return false
	}
	h, t := l.head(), l.tail()
	return h <= t && t <= len(l)-listHdr && (l.Len() == 0) == (h == t)
}

// Valid reports whether l is a well-formed list encoding (walks it).
func (l List) Valid() bool {
	if len(l) < listHdr {
		return false
	}
	buf := l[listHdr:]
	h, t := l.head(), l.tail()
	if h > t || t > len(buf) {
		return false
	}
	n := 0
	for p := h; p < t; n++ {
		_, next, ok := elemAt(buf[:t], p)
		if !ok {
			return false
		}
		if _, prev, ok := elemBefore(buf[:next], next); !ok || prev != p {
			return false
		}
		p = next
	}
	return n == l.Len()
}

// ElemSize is the encoded size of an element of n bytes.
func ElemSize(n int) int { return 2*uvarintLen(uint64(n)) + n }

// elemAt reads the element starting at p; next is just past it.
func elemAt(buf []byte, p int) (e []byte, next int, ok bool) {
	if p < 0 || p >= len(buf) {
		return nil, 0, false
	}
	l, k := binary.Uvarint(buf[p:])
	if k <= 0 || l > uint64(len(buf)-p-k) {
		return nil, 0, false
	}
	s := p + k
	end := s + int(l)
	if end+k > len(buf) {
		return nil, 0, false
	}
	return buf[s:end:end], end + k, true
}

// elemBefore reads the element ending at q; prev is its start.
func elemBefore(buf []byte, q int) (e []byte, prev int, ok bool) {
	var l uint64
	i := q - 1
	for shift := uint(0); ; shift += 7 {
		if i < 0 || shift > 63 {
			return nil, 0, false
		}
		b := buf[i]
		l |= uint64(b&0x7f) << shift
		i--
		if b&0x80 == 0 {
			break
		}
	}
	k := q - 1 - i
	if l > uint64(i+1) {
		return nil, 0, false
	}
	s := i + 1 - int(l)
	prev = s - k
	if prev < 0 {
		return nil, 0, false
	}
	return buf[s : i+1 : i+1], prev, true
}

func putElem(buf []byte, p int, e []byte) int {
	p += binary.PutUvarint(buf[p:], uint64(len(e)))
	p += copy(buf[p:], e)
	var tmp [binary.MaxVarintLen64]byte
	k := binary.PutUvarint(tmp[:], uint64(len(e)))
	for i := 0; i < k; i++ {
		buf[p+i] = tmp[k-1-i]
	}
	return p + k
}

// BuildList appends a list holding elems to dst, with room for front
// bytes before the first element and back bytes after the last.
func BuildList(dst []byte, elems [][]byte, front, back int) List {
	used := 0
	for _, e := range elems {
		used += ElemSize(len(e))
	}
	start := len(dst)
	need := listHdr + front + back + used
	dst = append(dst, make([]byte, need)...)
	l := List(dst[start:])
	p := front
	buf := l[listHdr:]
	for _, e := range elems {
		p = putElem(buf, p, e)
	}
	l.set(len(elems), front, p)
	return l
}

// PushFront adds e before the first element in place and reports whether
// there was room.
func (l List) PushFront(e []byte) bool {
	sz := ElemSize(len(e))
	h := l.head()
	if h < sz {
		return false
	}
	putElem(l[listHdr:], h-sz, e)
	l.set(l.Len()+1, h-sz, l.tail())
	return true
}

// PushBack adds e after the last element in place and reports whether there
// was room.
func (l List) PushBack(e []byte) bool {
	sz := ElemSize(len(e))
	t := l.tail()
	if len(l)-listHdr-t < sz {
		return false
	}
	putElem(l[listHdr:], t, e)
	l.set(l.Len()+1, l.head(), t+sz)
	return true
}

// PopFront removes the first element in place; e aliases the freed bytes
// and stays valid until l is written again.
func (l List) PopFront() (e []byte, ok bool) {
	if l.Len() == 0 {
		return nil, false
	}
	e, next, ok := elemAt(l[listHdr:listHdr+l.tail()], l.head())
	if !ok {
		return nil, false
	}
	n := l.Len() - 1
	if n == 0 {
		l.set(0, (len(l)-listHdr)/2, (len(l)-listHdr)/2)
	} else {
		l.set(n, next, l.tail())
	}
	return e, true
}

// PopBack removes the last element in place (see PopFront).
func (l List) PopBack() (e []byte, ok bool) {
	if l.Len() == 0 {
		return nil, false
	}
	e, prev, ok := elemBefore(l[listHdr:listHdr+l.tail()], l.tail())
	if !ok || prev < l.head() {
		return nil, false
	}
	n := l.Len() - 1
	if n == 0 {
		l.set(0, (len(l)-listHdr)/2, (len(l)-listHdr)/2)
	} else {
		l.set(n, l.head(), prev)
	}
	return e, true
}

// Used returns the bytes the elements take.
func (l List) Used() int { return l.tail() - l.head() }

// Cap returns the size of the buffer.
func (l List) Cap() int { return len(l) - listHdr }

// Elems appends the elements (aliasing l) to dst.
func (l List) Elems(dst [][]byte) [][]byte {
	buf := l[listHdr : listHdr+l.tail()]
	for p := l.head(); p < l.tail(); {
		e, next, ok := elemAt(buf, p)
		if !ok {
			return dst
		}
		dst = append(dst, e)
		p = next
	}
	return dst
}

// Range calls fn for the elements with indexes start..stop (inclusive,
// already clamped to 0..Len()-1), walking from the nearer end.
func (l List) Range(start, stop int, fn func(e []byte)) {
	n := l.Len()
	if start > stop || start >= n {
		return
	}
	buf := l[listHdr : listHdr+l.tail()]
	if start <= n-1-stop {
		p := l.head()
		for i := 0; i <= stop; i++ {
			e, next, ok := elemAt(buf, p)
			if !ok {
				return
			}
			if i >= start {
				fn(e)
			}
			p = next
		}
		return
	}
	// Walk back from the tail to start, then forward.
	q := l.tail()
	p := q
	for i := n - 1; i >= start; i-- {
		_, prev, ok := elemBefore(buf, q)
		if !ok || prev < l.head() {
			return
		}
		q, p = prev, prev
	}
	for i := start; i <= stop; i++ {
		e, next, ok := elemAt(buf, p)
		if !ok {
			return
		}
		fn(e)
		p = next
	}
}
