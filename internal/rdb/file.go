package rdb

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Magic is how every RDB file starts ("REDIS" then a 4-digit version).
const Magic = "REDIS"

// Entry is one key read from a file. Key and Value are valid until the next
// call to Next.
type Entry struct {
	DB    int
	Key   []byte
	Value []byte
	Type  byte
	// Coll holds the value of a list, set, sorted set or hash (Value is
	// then empty); nil for a string.
	Coll     *Collection
	ExpireMs int64 // absolute unix ms; 0 = none
	Freq     int   // LFU counter; -1 when the file has none
	IdleSec  int64 // LRU idle seconds; -1 when the file has none
}

// FileReader streams the keys of a dump.rdb. It is not safe for
// concurrent use.
type FileReader struct {
	r       *Reader
	Version int
	// Aux holds the file's auxiliary fields (redis-ver, ctime, ...).
	Aux map[string]string
	// Skipped counts the keys of unsupported types by type name.
	Skipped map[string]int64
	db      int
	done    bool
	coll    Collection
}

// NewFileReader reads and checks the header of an RDB file.
func NewFileReader(src io.Reader) (*FileReader, error) {
	r := NewReader(src)
	h, err := r.next(9)
	if err != nil {
		return nil, fmt.Errorf("read rdb header: %w", err)
	}
	if !bytes.HasPrefix(h, []byte(Magic)) {
		return nil, fmt.Errorf("%w: not an RDB file (no REDIS magic)", ErrCorrupt)
	}
	v, err := strconv.Atoi(string(h[5:9]))
	if err != nil || v < 1 {
		return nil, fmt.Errorf("%w: bad RDB version %q", ErrCorrupt, h[5:9])
	}
	if v > MaxVersion {
		return nil, fmt.Errorf("%w: RDB version %d (newest supported: %d, redis-server 7.0)", ErrVersion, v, MaxVersion)
	}
	return &FileReader{r: r, Version: v, Aux: map[string]string{}, Skipped: map[string]int64{}}, nil
}

// Offset returns the number of bytes consumed.
func (f *FileReader) Offset() int64 { return f.r.Offset() }

// SetMaxString bounds one decoded string.
func (f *FileReader) SetMaxString(n int) { f.r.MaxString = n }

// Next reads the next key of a supported type into e, skipping (and
// counting) the others. At the end of the file it checks the checksum and
// returns io.EOF.
func (f *FileReader) Next(e *Entry) error {
	if f.done {
		return io.EOF
	}
	e.ExpireMs, e.Freq, e.IdleSec = 0, -1, -1
	r := f.r
	for {
		op, err := r.ReadByte()
		if err != nil {
			return err
		}
		switch op {
		case opEOF:
			return f.finish()
		case opSelectDB:
			n, err := r.readLength()
			if err != nil {
				return err
			}
			if n > 1<<16 {
				return fmt.Errorf("%w: database %d", ErrCorrupt, n)
			}
			f.db = int(n)
			continue
		case opResizeDB:
			if err := r.skipLens(2); err != nil {
				return err
			}
			continue
		case opAux:
			k, err := r.ReadString(nil)
			if err != nil {
				return err
			}
			v, err := r.ReadString(nil)
			if err != nil {
				return err
			}
			if len(f.Aux) < 64 {
				f.Aux[string(k)] = string(v)
			}
			continue
		case opExpireTimeMs:
			p, err := r.next(8)
			if err != nil {
				return err
			}
			e.ExpireMs = int64(binary.LittleEndian.Uint64(p))
			continue
		case opExpireTime:
			p, err := r.next(4)
			if err != nil {
				return err
			}
			e.ExpireMs = int64(binary.LittleEndian.Uint32(p)) * 1000
			continue
		case opFreq:
			b, err := r.ReadByte()
			if err != nil {
				return err
			}
			e.Freq = int(b)
			continue
		case opIdle:
			n, err := r.readLength()
			if err != nil {
				return err
			}
			e.IdleSec = int64(min(n, 1<<62))
			continue
		case opFunction2:
			if err := r.SkipString(); err != nil {
				return err
			}
			f.Skipped["function"]++
			continue
		case opModuleAux, opFunction:
			return fmt.Errorf("%w: opcode %#x (module aux data or pre-7.0 functions) is not supported", ErrCorrupt, op)
		}
		key, err := r.ReadString(e.Key[:0])
		if err != nil {
			return err
		}
		e.Key = key
		if IsCollectionType(op) {
			err := r.ReadCollection(op, &f.coll)
			if t, ok := IsUnsupported(err); ok {
				f.Skipped[TypeName(t)]++
				e.ExpireMs, e.Freq, e.IdleSec = 0, -1, -1
				continue
			}
			if err != nil {
				return err
			}
			e.DB, e.Type, e.Value, e.Coll = f.db, op, e.Value[:0], &f.coll
			return nil
		}
		e.Coll = nil
		val, err := r.ReadValue(op, e.Value[:0])
		if t, ok := IsUnsupported(err); ok {
			f.Skipped[TypeName(t)]++
			e.ExpireMs, e.Freq, e.IdleSec = 0, -1, -1
			continue
		}
		if err != nil {
			return err
		}
		e.DB, e.Type, e.Value = f.db, op, val
		return nil
	}
}

// finish checks the trailing checksum (version 5 and later; zero means the
// writer had checksums off).
func (f *FileReader) finish() error {
	f.done = true
	if f.Version < 5 {
		return io.EOF
	}
	sum := f.r.Sum()
	p, err := f.r.next(8)
	if err != nil {
		return fmt.Errorf("%w: missing checksum", ErrCorrupt)
	}
	if want := binary.LittleEndian.Uint64(p); want != 0 && want != sum {
		return fmt.Errorf("%w: file checksum %#x, computed %#x", ErrChecksum, want, sum)
	}
	return io.EOF
}
