package store

import "encoding/binary"

// Record layout (little endian), stored in a slab slot or its own allocation:
//
//	[0]     flags (flagTTL, flagVersion, flagTags)
//	[1]     value type (TypeString, ...)
//	[2:4]   physical database
//	[4:8]   key length
//	[8:12]  value length
//	[..+8]  deadline in unix ms          (when flagTTL)
//	[..+8]  version                      (when flagVersion)
//	[..+4]  tag set reference            (when flagTags)
//	key bytes, value bytes
const (
	hdrSize = 12

	flagTTL     = 1 << 0
	flagVersion = 1 << 1
	flagTags    = 1 << 2
)

// Value types. Only strings exist today; the type is an explicit field so
// other types can come.
const (
	TypeString uint8 = 0
)

// TypeName returns the TYPE command's name for a value type.
func TypeName(t uint8) string {
	switch t {
	case TypeString:
		return "string"
	}
	return "none"
}

// Meta is the optional per-entry metadata stored in a record.
type Meta struct {
	Deadline int64  // unix ms; 0 = no TTL
	Version  uint64 // 0 = none
	Tags     uint32 // tag set reference; 0 = none
	Type     uint8
}

func (m *Meta) flags() byte {
	var f byte
	if m.Deadline != 0 {
		f |= flagTTL
	}
	if m.Version != 0 {
		f |= flagVersion
	}
	if m.Tags != 0 {
		f |= flagTags
	}
	return f
}

func optSize(f byte) int {
	n := 0
	if f&flagTTL != 0 {
		n += 8
	}
	if f&flagVersion != 0 {
		n += 8
	}
	if f&flagTags != 0 {
		n += 4
	}
	return n
}

// recordSize is the number of bytes a record with this metadata needs.
func recordSize(m *Meta, klen, vlen int) int {
	return hdrSize + optSize(m.flags()) + klen + vlen
}

// writeRecord encodes a record into rec, which must be recordSize bytes or
// more, and returns the value slice inside it.
func writeRecord(rec []byte, db uint16, m *Meta, key, val []byte) []byte {
	f := m.flags()
	rec[0] = f
	rec[1] = m.Type
	binary.LittleEndian.PutUint16(rec[2:], db)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(key)))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(val)))
	p := hdrSize
	if f&flagTTL != 0 {
		binary.LittleEndian.PutUint64(rec[p:], uint64(m.Deadline))
		p += 8
	}
	if f&flagVersion != 0 {
		binary.LittleEndian.PutUint64(rec[p:], m.Version)
		p += 8
	}
	if f&flagTags != 0 {
		binary.LittleEndian.PutUint32(rec[p:], m.Tags)
		p += 4
	}
	p += copy(rec[p:], key)
	copy(rec[p:], val)
	return rec[p : p+len(val)]
}

func recDB(rec []byte) uint16  { return binary.LittleEndian.Uint16(rec[2:]) }
func recKLen(rec []byte) int   { return int(binary.LittleEndian.Uint32(rec[4:])) }
func recVLen(rec []byte) int   { return int(binary.LittleEndian.Uint32(rec[8:])) }
func recType(rec []byte) uint8 { return rec[1] }
func recFlags(rec []byte) byte { return rec[0] }
func recKeyOff(rec []byte) int { return hdrSize + optSize(rec[0]) }
func recSize(rec []byte) int   { return recKeyOff(rec) + recKLen(rec) + recVLen(rec) }
func recKey(rec []byte) []byte { o := recKeyOff(rec); return rec[o : o+recKLen(rec)] }
func recValue(rec []byte) []byte {
	o := recKeyOff(rec) + recKLen(rec)
	return rec[o : o+recVLen(rec)]
}

func recDeadline(rec []byte) int64 {
	if rec[0]&flagTTL == 0 {
		return 0
	}
	return int64(binary.LittleEndian.Uint64(rec[hdrSize:]))
}

// recMeta decodes the record's metadata.
func recMeta(rec []byte) Meta {
	f := rec[0]
	m := Meta{Type: rec[1]}
	p := hdrSize
	if f&flagTTL != 0 {
		m.Deadline = int64(binary.LittleEndian.Uint64(rec[p:]))
		p += 8
	}
	if f&flagVersion != 0 {
		m.Version = binary.LittleEndian.Uint64(rec[p:])
		p += 8
	}
	if f&flagTags != 0 {
		m.Tags = binary.LittleEndian.Uint32(rec[p:])
	}
	return m
}
