package persist

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cachesrv/cachesrv/internal/rdb"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Snapshot file layout (version 1):
//
//	header   "CSRVSNAP" u16le version, i64le creation time (unix ms)
//	entry*   0x01, uvarint db, type, flags,
//	         [varint deadline ms] [varint soft ms] [uvarint version] [freq byte]   (per flags)
//	         [uvarint n, n × (kind byte, uvarint len, name)]                      (flagTags)
//	         uvarint key length, key, uvarint value length, value
//	trailer  0xFF, uvarint entry count, u64le CRC-64 (Redis's) of every byte before it
//
// Deadlines are absolute unix milliseconds, so TTLs keep counting from the
// original deadlines across a restart. Tags are stored by name (kind 0) and
// dependencies by key (kind 1): tag ids and generations are per process.
const (
	snapMagic   = "CSRVSNAP"
	snapVersion = 1

	recEntry = 0x01
	recEnd   = 0xFF

	fDeadline = 1 << 0
	fSoft     = 1 << 1
	fVersion  = 1 << 2
	fFreq     = 1 << 3
	fTags     = 1 << 4
	fKnown    = fDeadline | fSoft | fVersion | fFreq | fTags

	tagUser = 0
	tagDep  = 1
)

// Errors of the snapshot reader.
var (
	// ErrCorrupt is wrapped by every error about a damaged snapshot.
	ErrCorrupt = errors.New("snapshot is corrupt")
)

// Record is one entry of a snapshot.
type Record struct {
	DB       int
	Type     uint8
	Deadline int64 // unix ms; 0 = none
	Soft     int64
	Version  uint64
	Freq     int // -1 = unknown
	Tags     []string
	Deps     []string
	Key      []byte
	Value    []byte
}

// crcWriter feeds Redis's CRC-64 with everything written through it.
type crcWriter struct {
	w   io.Writer
	crc uint64
	n   int64
}

func (c *crcWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc = rdb.CRC64(c.crc, p[:n])
	c.n += int64(n)
	return n, err
}

// SnapshotWriter encodes a snapshot.
type SnapshotWriter struct {
	cw    *crcWriter
	bw    *bufio.Writer
	buf   []byte
	count uint64
}

// NewSnapshotWriter writes the header to w.
func NewSnapshotWriter(w io.Writer, createdMs int64) (*SnapshotWriter, error) {
	cw := &crcWriter{w: w}
	sw := &SnapshotWriter{cw: cw, bw: bufio.NewWriterSize(cw, 256<<10)}
	h := append([]byte(snapMagic), 0, 0)
	binary.LittleEndian.PutUint16(h[len(snapMagic):], snapVersion)
	h = binary.LittleEndian.AppendUint64(h, uint64(createdMs))
	_, err := sw.bw.Write(h)
	return sw, err
}

// Write appends one record.
func (sw *SnapshotWriter) Write(r *Record) error {
	b := append(sw.buf[:0], recEntry)
	b = binary.AppendUvarint(b, uint64(r.DB))
	var f byte
	if r.Deadline != 0 {
		f |= fDeadline
	}
	if r.Soft != 0 {
		f |= fSoft
	}
	if r.Version != 0 {
		f |= fVersion
	}
	if r.Freq >= 0 {
		f |= fFreq
	}
	if len(r.Tags)+len(r.Deps) > 0 {
		f |= fTags
	}
	b = append(b, r.Type, f)
	if f&fDeadline != 0 {
		b = binary.AppendVarint(b, r.Deadline)
	}
	if f&fSoft != 0 {
		b = binary.AppendVarint(b, r.Soft)
	}
	if f&fVersion != 0 {
		b = binary.AppendUvarint(b, r.Version)
	}
	if f&fFreq != 0 {
		b = append(b, byte(min(r.Freq, 255)))
	}
	if f&fTags != 0 {
		b = binary.AppendUvarint(b, uint64(len(r.Tags)+len(r.Deps)))
		for _, t := range r.Tags {
			b = append(b, tagUser)
			b = binary.AppendUvarint(b, uint64(len(t)))
			b = append(b, t...)
		}
		for _, d := range r.Deps {
			b = append(b, tagDep)
			b = binary.AppendUvarint(b, uint64(len(d)))
			b = append(b, d...)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(r.Key)))
	b = append(b, r.Key...)
	b = binary.AppendUvarint(b, uint64(len(r.Value)))
	if cap(b) <= 64<<10 {
		sw.buf = b
	}
	if _, err := sw.bw.Write(b); err != nil {
		return err
	}
	if _, err := sw.bw.Write(r.Value); err != nil {
		return err
	}
	sw.count++
	return nil
}

// Close writes the trailer and flushes; it does not close the underlying
// writer. It returns the bytes written.
func (sw *SnapshotWriter) Close() (int64, error) {
	t := binary.AppendUvarint([]byte{recEnd}, sw.count)
	if _, err := sw.bw.Write(t); err != nil {
		return 0, err
	}
	if err := sw.bw.Flush(); err != nil {
		return 0, err
	}
	sum := binary.LittleEndian.AppendUint64(nil, sw.cw.crc)
	if _, err := sw.cw.w.Write(sum); err != nil {
		return 0, err
	}
	return sw.cw.n + 8, nil
}

// Count returns the number of records written.
func (sw *SnapshotWriter) Count() uint64 { return sw.count }

// SnapshotReader decodes a snapshot. Every field is bounded, and the
// checksum is verified when the trailer is read: a caller must not serve
// anything it read before Next returned io.EOF.
type SnapshotReader struct {
	r       *rdb.Reader
	Created int64
	count   uint64
	done    bool
	maxLen  int
}

// NewSnapshotReader reads and checks the header.
func NewSnapshotReader(src io.Reader, maxLen int) (*SnapshotReader, error) {
	r := rdb.NewReader(src)
	h, err := r.Fixed(len(snapMagic) + 2 + 8)
	if err != nil {
		return nil, fmt.Errorf("read snapshot header: %w", err)
	}
	if string(h[:len(snapMagic)]) != snapMagic {
		return nil, fmt.Errorf("%w: bad magic", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint16(h[len(snapMagic):]); v != snapVersion {
		return nil, fmt.Errorf("%w: snapshot version %d, this cachesrv reads version %d", ErrCorrupt, v, snapVersion)
	}
	if maxLen <= 0 {
		maxLen = rdb.DefaultMaxString
	}
	r.MaxString = maxLen
	return &SnapshotReader{r: r, Created: int64(binary.LittleEndian.Uint64(h[len(snapMagic)+2:])), maxLen: maxLen}, nil
}

// Offset returns the bytes consumed.
func (sr *SnapshotReader) Offset() int64 { return sr.r.Offset() }

func (sr *SnapshotReader) corrupt(what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrCorrupt, what, sr.r.Offset())
}

func (sr *SnapshotReader) bytes(dst []byte) ([]byte, error) {
	n, err := sr.r.ReadUvarint()
	if err != nil {
		return dst, sr.wrap(err)
	}
	if n > uint64(sr.maxLen) {
		return dst, sr.corrupt(fmt.Sprintf("length %d over the limit", n))
	}
	b, err := sr.r.AppendBytes(dst, int(n))
	return b, sr.wrap(err)
}

func (sr *SnapshotReader) wrap(err error) error {
	if err == nil || errors.Is(err, ErrCorrupt) {
		return err
	}
	if errors.Is(err, rdb.ErrCorrupt) {
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	return err
}

// Next reads the next record into rec (reusing its slices). At the end it
// verifies the entry count and checksum and returns io.EOF.
func (sr *SnapshotReader) Next(rec *Record) error {
	if sr.done {
		return io.EOF
	}
	r := sr.r
	kind, err := r.ReadByte()
	if err != nil {
		return sr.wrap(err)
	}
	switch kind {
	case recEnd:
		n, err := r.ReadUvarint()
		if err != nil {
			return sr.wrap(err)
		}
		sum := r.Sum()
		p, err := r.Fixed(8)
		if err != nil {
			return sr.wrap(err)
		}
		if binary.LittleEndian.Uint64(p) != sum {
			return fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
		}
		if n != sr.count {
			return fmt.Errorf("%w: trailer counts %d entries, read %d", ErrCorrupt, n, sr.count)
		}
		sr.done = true
		return io.EOF
	case recEntry:
	default:
		return sr.corrupt(fmt.Sprintf("unknown record kind %#x", kind))
	}
	db, err := r.ReadUvarint()
	if err != nil {
		return sr.wrap(err)
	}
	if db > 1<<16 {
		return sr.corrupt("database number out of range")
	}
	tf, err := r.Fixed(2)
	if err != nil {
		return sr.wrap(err)
	}
	typ, f := tf[0], tf[1]
	if f&^fKnown != 0 {
		return sr.corrupt("unknown entry flags")
	}
	*rec = Record{DB: int(db), Type: typ, Freq: -1, Key: rec.Key[:0], Value: rec.Value[:0], Tags: rec.Tags[:0], Deps: rec.Deps[:0]}
	if f&fDeadline != 0 {
		if rec.Deadline, err = binary.ReadVarint(r); err != nil {
			return sr.wrap(err)
		}
	}
	if f&fSoft != 0 {
		if rec.Soft, err = binary.ReadVarint(r); err != nil {
			return sr.wrap(err)
		}
	}
	if f&fVersion != 0 {
		if rec.Version, err = r.ReadUvarint(); err != nil {
			return sr.wrap(err)
		}
	}
	if f&fFreq != 0 {
		b, err := r.ReadByte()
		if err != nil {
			return sr.wrap(err)
		}
		rec.Freq = int(b)
	}
	if f&fTags != 0 {
		n, err := r.ReadUvarint()
		if err != nil {
			return sr.wrap(err)
		}
		if n > store.MaxTags {
			return sr.corrupt("too many tags")
		}
		for ; n > 0; n-- {
			k, err := r.ReadByte()
			if err != nil {
				return sr.wrap(err)
			}
			name, err := sr.bytes(nil)
			if err != nil {
				return err
			}
			switch k {
			case tagUser:
				rec.Tags = append(rec.Tags, string(name))
			case tagDep:
				rec.Deps = append(rec.Deps, string(name))
			default:
				return sr.corrupt("unknown tag kind")
			}
		}
	}
	if rec.Key, err = sr.bytes(rec.Key); err != nil {
		return err
	}
	if rec.Value, err = sr.bytes(rec.Value); err != nil {
		return err
	}
	sr.count++
	return nil
}
