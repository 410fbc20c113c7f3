package rdb

import (
	"encoding/binary"
	"fmt"
	"strconv"
)

// AppendLen appends an RDB length.
func AppendLen(dst []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(dst, byte(n))
	case n < 1<<14:
		return append(dst, byte(n>>8)|len14bit<<6, byte(n))
	case n <= 0xffffffff:
		dst = append(dst, len32bit)
		return binary.BigEndian.AppendUint32(dst, uint32(n))
	}
	dst = append(dst, len64bit)
	return binary.BigEndian.AppendUint64(dst, n)
}

// AppendString appends s as Redis's rdbSaveRawString does without
// compression: short canonical integers in the int8/16/32 encodings, every
// other string raw.
func AppendString(dst, s []byte) []byte {
	if len(s) <= 11 && len(s) > 0 {
		if v, ok := canonicalInt(s); ok {
			switch {
			case v >= -1<<7 && v <= 1<<7-1:
				return append(dst, lenEnc<<6|encInt8, byte(int8(v)))
			case v >= -1<<15 && v <= 1<<15-1:
				dst = append(dst, lenEnc<<6|encInt16)
				return binary.LittleEndian.AppendUint16(dst, uint16(int16(v)))
			case v >= -1<<31 && v <= 1<<31-1:
				dst = append(dst, lenEnc<<6|encInt32)
				return binary.LittleEndian.AppendUint32(dst, uint32(int32(v)))
			}
		}
	}
	dst = AppendLen(dst, uint64(len(s)))
	return append(dst, s...)
}

// canonicalInt parses s when it is an integer written the way Redis prints
// it (no sign on zero, no leading zeros or plus), so it round-trips.
func canonicalInt(s []byte) (int64, bool) {
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, false
	}
	var b [20]byte
	return v, string(appendInt(b[:0], v)) == string(s)
}

// AppendDump appends a DUMP payload: the type byte, the value as
// encodeValue writes it, the RDB version and the CRC-64 of all before it.
func AppendDump(dst []byte, typ byte, encodeValue func([]byte) []byte) []byte {
	start := len(dst)
	dst = append(dst, typ)
	dst = encodeValue(dst)
	dst = binary.LittleEndian.AppendUint16(dst, Version)
	return binary.LittleEndian.AppendUint64(dst, CRC64(0, dst[start:]))
}

// DumpString returns the DUMP payload of a string value.
func DumpString(dst, val []byte) []byte {
	return AppendDump(dst, TypeString, func(b []byte) []byte { return AppendString(b, val) })
}

// ParseDump checks a DUMP payload's version and checksum as Redis's
// verifyDumpPayload does and returns its type byte and encoded value.
func ParseDump(p []byte) (typ byte, body []byte, err error) {
	if len(p) < 10+1 {
		return 0, nil, fmt.Errorf("%w: payload of %d bytes", ErrCorrupt, len(p))
	}
	foot := p[len(p)-10:]
	if v := binary.LittleEndian.Uint16(foot); v > MaxVersion {
		return 0, nil, fmt.Errorf("%w: payload version %d", ErrVersion, v)
	}
	if CRC64(0, p[:len(p)-8]) != binary.LittleEndian.Uint64(foot[2:]) {
		return 0, nil, ErrChecksum
	}
	return p[0], p[1 : len(p)-10], nil
}
