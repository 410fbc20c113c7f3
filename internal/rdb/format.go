package rdb

import "errors"

// Version is the RDB version cachesrv writes in DUMP payloads: redis-server
// 7.0's, so every Redis from 7.0 accepts them.
const Version = 10

// MaxVersion is the newest RDB version the reader accepts (Redis 7.0).
const MaxVersion = 10

// Object types (the type byte before a key in a file and at the start of a
// DUMP payload). Redis 7.0 writes TypeString, TypeSet, TypeZSet2, TypeHash,
// TypeModule2, the *ListPack/*Intset encodings, TypeListQuicklist2 and
// TypeStreamListpacks2; the older ones appear in files from older servers.
const (
	TypeString           byte = 0
	TypeList             byte = 1
	TypeSet              byte = 2
	TypeZSet             byte = 3
	TypeHash             byte = 4
	TypeZSet2            byte = 5
	TypeModule           byte = 6
	TypeModule2          byte = 7
	TypeHashZipmap       byte = 9
	TypeListZiplist      byte = 10
	TypeSetIntset        byte = 11
	TypeZSetZiplist      byte = 12
	TypeHashZiplist      byte = 13
	TypeListQuicklist    byte = 14
	TypeStreamListpacks  byte = 15
	TypeHashListpack     byte = 16
	TypeZSetListpack     byte = 17
	TypeListQuicklist2   byte = 18
	TypeStreamListpacks2 byte = 19
)

// File opcodes.
const (
	opFunction2    = 0xF5
	opFunction     = 0xF6
	opModuleAux    = 0xF7
	opIdle         = 0xF8
	opFreq         = 0xF9
	opAux          = 0xFA
	opResizeDB     = 0xFB
	opExpireTimeMs = 0xFC
	opExpireTime   = 0xFD
	opSelectDB     = 0xFE
	opEOF          = 0xFF
)

// Length and string encodings.
const (
	len6bit  = 0
	len14bit = 1
	len32bit = 0x80
	len64bit = 0x81
	lenEnc   = 3

	encInt8  = 0
	encInt16 = 1
	encInt32 = 2
	encLZF   = 3
)

// Errors.
var (
	// ErrCorrupt is wrapped by every error about malformed input.
	ErrCorrupt = errors.New("rdb: corrupt data")
	// ErrChecksum reports a checksum mismatch.
	ErrChecksum = errors.New("rdb: checksum mismatch")
	// ErrVersion reports an RDB version newer than MaxVersion.
	ErrVersion = errors.New("rdb: unsupported version")
	// ErrTooLarge reports a string longer than the reader's limit.
	ErrTooLarge = errors.New("rdb: string longer than the limit")
)

// UnsupportedTypeError reports a value type cachesrv cannot hold; the value
// was skipped.
type UnsupportedTypeError struct{ Type byte }

func (e *UnsupportedTypeError) Error() string {
	return "rdb: unsupported value type " + TypeName(e.Type)
}

// TypeName names an RDB object type as Redis's TYPE command would, with
// the encoding when it helps.
func TypeName(t byte) string {
	switch t {
	case TypeString:
		return "string"
	case TypeList, TypeListZiplist, TypeListQuicklist, TypeListQuicklist2:
		return "list"
	case TypeSet, TypeSetIntset:
		return "set"
	case TypeZSet, TypeZSet2, TypeZSetZiplist, TypeZSetListpack:
		return "zset"
	case TypeHash, TypeHashZipmap, TypeHashZiplist, TypeHashListpack:
		return "hash"
	case TypeModule, TypeModule2:
		return "module"
	case TypeStreamListpacks, TypeStreamListpacks2:
		return "stream"
	}
	return "unknown(" + itoa(int64(t)) + ")"
}

func itoa(n int64) string {
	var b [20]byte
	return string(appendInt(b[:0], n))
}

func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		u := uint64(-n)
		return appendUint(dst, u)
	}
	return appendUint(dst, uint64(n))
}

func appendUint(dst []byte, u uint64) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}
