package coll

import (
	"encoding/binary"
	"errors"
	"math"
)

// FlagFieldTTL marks a hash whose items are field, value, deadline triples.
const FlagFieldTTL = 1 << 0

// ErrCorrupt is returned for bytes that are not a valid encoding.
var ErrCorrupt = errors.New("corrupt collection encoding")

// Decode appends the items of the sequence v to dst (the items alias v) and
// returns them with the sequence's flags.
func Decode(v []byte, dst [][]byte) ([][]byte, byte, error) {
	if len(v) == 0 {
		return dst, 0, nil
	}
	flags := v[0]
	p := 1
	n, k := binary.Uvarint(v[p:])
	if k <= 0 || n > uint64(len(v)) {
		return dst, 0, ErrCorrupt
	}
	p += k
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(v[p:])
		if k <= 0 || l > uint64(len(v)-p-k) {
			return dst, 0, ErrCorrupt
		}
		p += k
		dst = append(dst, v[p:p+int(l):p+int(l)])
		p += int(l)
	}
	if p != len(v) {
		return dst, 0, ErrCorrupt
	}
	return dst, flags, nil
}

// Count returns the number of items of the sequence v without decoding it.
func Count(v []byte) int {
	if len(v) == 0 {
		return 0
	}
	n, k := binary.Uvarint(v[1:])
	if k <= 0 {
		return 0
	}
	return int(n)
}

// Size returns the encoded size of a sequence of items.
func Size(items [][]byte) int {
	n := 1 + uvarintLen(uint64(len(items)))
	for _, it := range items {
		n += uvarintLen(uint64(len(it))) + len(it)
	}
	return n
}

// Encode appends the sequence encoding of items to dst.
func Encode(dst []byte, flags byte, items [][]byte) []byte {
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(items)))
	for _, it := range items {
		dst = binary.AppendUvarint(dst, uint64(len(it)))
		dst = append(dst, it...)
	}
	return dst
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// PutScore encodes a sorted set score so that it is an 8-byte item.
func PutScore(dst []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f))
}

// Score decodes an 8-byte score item (0 for a malformed one).
func Score(b []byte) float64 {
	if len(b) != 8 {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

// PutDeadline encodes a hash field deadline (unix ms, 0 = none).
func PutDeadline(dst []byte, ms int64) []byte {
	return binary.LittleEndian.AppendUint64(dst, uint64(ms))
}

// Deadline decodes an 8-byte hash field deadline.
func Deadline(b []byte) int64 {
	if len(b) != 8 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(b))
}
