package store

import "encoding/binary"

// Record layout (little endian), stored in a slab slot or its own allocation:
//
//	[0]     flags (flagTTL, flagSoft, flagVersion, flagTags)
//	[1]     value type (TypeString, ...)
//	[2:4]   physical database
//	[4:8]   key length
//	[8:12]  value length
//	[..+8]  deadline in unix ms                       (when flagTTL)
//	[..+8]  stale-after time in unix ms               (when flagSoft)
//	[..+8]  version                                   (when flagVersion)
//	[..+1+8n] tag count n, then n × (tag id, generation) (when flagTags)
//	key bytes, value bytes
const (
	hdrSize = 12

	flagTTL     = 1 << 0
	flagVersion = 1 << 1
	flagTags    = 1 << 2
	flagSoft    = 1 << 3

	// MaxTags is the most tags one entry can carry.
	MaxTags = 255
)

// Value types. Only strings exist today; the type is an explicit field so
// other types can come.
const (
	TypeString uint8 = 0
	TypeBloom  uint8 = 1
	TypeHash   uint8 = 2 // encoded by package coll
	TypeList   uint8 = 3
	TypeSet    uint8 = 4
	TypeZSet   uint8 = 5
)

// TypeName returns the TYPE command's name for a value type.
func TypeName(t uint8) string {
	switch t {
	case TypeString:
		return "string"
	case TypeBloom:
		return "MBbloom--"
	case TypeHash:
		return "hash"
	case TypeList:
		return "list"
	case TypeSet:
		return "set"
	case TypeZSet:
		return "zset"
	}
	return "none"
}

// Meta is the optional per-entry metadata stored in a record.
type Meta struct {
	Deadline int64  // unix ms; 0 = no TTL
	Soft     int64  // unix ms after which the entry is stale (served only to stale-aware reads) until Deadline; 0 = never stale
	Version  uint64 // 0 = none
	// Tags holds the entry's tag references, 8 bytes each (see TagRef). In
	// a view it aliases the store's memory; the store copies it on write.
	Tags []byte
	Type uint8
}

// TagRef is one tag reference of an entry: the tag's id and the tag
// generation the entry was written at.
type TagRef struct{ ID, Gen uint32 }

// NumTags returns the number of tag references in an encoded tag list.
func NumTags(tags []byte) int { return len(tags) / 8 }

// TagAt decodes the i-th tag reference.
func TagAt(tags []byte, i int) TagRef {
	return TagRef{binary.LittleEndian.Uint32(tags[i*8:]), binary.LittleEndian.Uint32(tags[i*8+4:])}
}

// AppendTag encodes a tag reference.
func AppendTag(tags []byte, r TagRef) []byte {
	tags = binary.LittleEndian.AppendUint32(tags, r.ID)
	return binary.LittleEndian.AppendUint32(tags, r.Gen)
}

// SameMeta reports whether two metadata values are equal.
func SameMeta(a, b *Meta) bool {
	return a.Deadline == b.Deadline && a.Soft == b.Soft && a.Version == b.Version &&
		a.Type == b.Type && string(a.Tags) == string(b.Tags)
}

func (m *Meta) flags() byte {
	var f byte
	if m.Deadline != 0 {
		f |= flagTTL
	}
	if m.Soft != 0 {
		f |= flagSoft
	}
	if m.Version != 0 {
		f |= flagVersion
	}
	if len(m.Tags) != 0 {
		f |= flagTags
	}
	return f
}

// optSize is the size of the optional fields.
func (m *Meta) optSize() int {
	n := 0
	if m.Deadline != 0 {
		n += 8
	}
	if m.Soft != 0 {
		n += 8
	}
	if m.Version != 0 {
		n += 8
	}
	if len(m.Tags) != 0 {
		n += 1 + len(m.Tags)
	}
	return n
}

// recordSize is the number of bytes a record with this metadata needs.
func recordSize(m *Meta, klen, vlen int) int {
	return hdrSize + m.optSize() + klen + vlen
}

// writeRecord encodes a record into rec, which must be recordSize bytes or
// more. m.Tags must not alias rec.
func writeRecord(rec []byte, db uint16, m *Meta, key, val []byte) {
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
	if f&flagSoft != 0 {
		binary.LittleEndian.PutUint64(rec[p:], uint64(m.Soft))
		p += 8
	}
	if f&flagVersion != 0 {
		binary.LittleEndian.PutUint64(rec[p:], m.Version)
		p += 8
	}
	if f&flagTags != 0 {
		rec[p] = byte(len(m.Tags) / 8)
		p += 1 + copy(rec[p+1:], m.Tags)
	}
	p += copy(rec[p:], key)
	copy(rec[p:], val)
}

func recDB(rec []byte) uint16  { return binary.LittleEndian.Uint16(rec[2:]) }
func recKLen(rec []byte) int   { return int(binary.LittleEndian.Uint32(rec[4:])) }
func recVLen(rec []byte) int   { return int(binary.LittleEndian.Uint32(rec[8:])) }
func recType(rec []byte) uint8 { return rec[1] }
func recKey(rec []byte) []byte { o := recKeyOff(rec); return rec[o : o+recKLen(rec)] }
func recSize(rec []byte) int   { return recKeyOff(rec) + recKLen(rec) + recVLen(rec) }

// recKeyOff returns the offset of the key: after the optional fields.
func recKeyOff(rec []byte) int {
	f := rec[0]
	p := hdrSize
	if f&flagTTL != 0 {
		p += 8
	}
	if f&flagSoft != 0 {
		p += 8
	}
	if f&flagVersion != 0 {
		p += 8
	}
	if f&flagTags != 0 {
		p += 1 + 8*int(rec[p])
	}
	return p
}

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

// recMeta decodes the record's metadata; Tags aliases rec.
func recMeta(rec []byte) Meta {
	f := rec[0]
	m := Meta{Type: rec[1]}
	p := hdrSize
	if f&flagTTL != 0 {
		m.Deadline = int64(binary.LittleEndian.Uint64(rec[p:]))
		p += 8
	}
	if f&flagSoft != 0 {
		m.Soft = int64(binary.LittleEndian.Uint64(rec[p:]))
		p += 8
	}
	if f&flagVersion != 0 {
		m.Version = binary.LittleEndian.Uint64(rec[p:])
		p += 8
	}
	if f&flagTags != 0 {
		n := int(rec[p])
		m.Tags = rec[p+1 : p+1+8*n : p+1+8*n]
	}
	return m
}

func binaryPutLens(rec []byte, klen, vlen int) {
	binary.LittleEndian.PutUint32(rec[4:], uint32(klen))
	binary.LittleEndian.PutUint32(rec[8:], uint32(vlen))
}
