package origin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Journal record (little endian):
//
//	[0:4]  body length n
//	[4:8]  CRC-32C of the body
//	body:  [8] sequence number, [1] op (0 set, 1 delete), [4] key length,
//	       key bytes, value bytes
//
// A journal is a directory of segment files named wal-<first seq, 16 hex
// digits>.log plus a checkpoint file holding the highest sequence number
// the origin acknowledged (8 bytes and their CRC-32C). Records at or below
// the checkpoint are not replayed; segments wholly below it are deleted.
const (
	recHeader  = 8
	bodyFixed  = 8 + 1 + 4
	maxRecBody = 1<<31 - 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt reports a torn or corrupt journal tail.
var ErrCorrupt = errors.New("journal: torn or corrupt record")

// jrec is one journal record.
type jrec struct {
	seq uint64
	del bool
	key []byte
	val []byte
}

func recordSize(key, val []byte) int { return recHeader + bodyFixed + len(key) + len(val) }

func appendRecord(dst []byte, r jrec) []byte {
	n := bodyFixed + len(r.key) + len(r.val)
	start := len(dst)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = append(dst, 0, 0, 0, 0)
	b := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, r.seq)
	op := byte(0)
	if r.del {
		op = 1
	}
	dst = append(dst, op)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(r.key)))
	dst = append(dst, r.key...)
	dst = append(dst, r.val...)
	binary.LittleEndian.PutUint32(dst[start+4:], crc32.Checksum(dst[b:], castagnoli))
	return dst
}

// readRecords decodes records from data, calling fn for each (key and val
// alias data). It returns the length of the good prefix; err is ErrCorrupt
// when bytes after it do not form a whole, intact record (a torn write or
// corruption), and nil when data ends exactly after a record.
func readRecords(data []byte, fn func(jrec)) (good int, err error) {
	for good < len(data) {
		rest := data[good:]
		if len(rest) < recHeader {
			return good, ErrCorrupt
		}
		n := binary.LittleEndian.Uint32(rest)
		if n < bodyFixed || n > maxRecBody || uint64(n) > uint64(len(rest)-recHeader) {
			return good, ErrCorrupt
		}
		body := rest[recHeader : recHeader+int(n)]
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(rest[4:]) {
			return good, ErrCorrupt
		}
		op := body[8]
		klen := binary.LittleEndian.Uint32(body[9:])
		if op > 1 || uint64(klen) > uint64(len(body)-bodyFixed) {
			return good, ErrCorrupt
		}
		fn(jrec{
			seq: binary.LittleEndian.Uint64(body),
			del: op == 1,
			key: body[bodyFixed : bodyFixed+int(klen)],
			val: body[bodyFixed+int(klen):],
		})
		good += recHeader + int(n)
	}
	return good, nil
}

// Fsync policies.
const (
	fsyncAlways = iota
	fsyncEverySec
	fsyncNo
)

type segment struct {
	path  string
	first uint64
	last  uint64 // highest seq written to it (0 when none)
	bytes int64
}

// journal is one origin's write-behind log. Append is called with a store
// shard lock held and only copies into memory; Sync writes and fsyncs
// (group commit: one fsync covers every append before it).
type journal struct {
	dir    string
	policy int
	max    int64
	segMax int64

	mu      sync.Mutex // guards buf, next, bytes, segs, err
	buf     []byte
	bufLast uint64 // highest seq in buf
	next    uint64
	bytes   int64 // on disk plus buffered
	segs    []segment
	err     error // sticky write error

	ioMu   sync.Mutex // serialises writing, syncing and rotation
	f      *os.File
	synced atomic.Uint64 // every seq <= synced is durable (per policy)
	ckpt   atomic.Uint64 // acknowledged by the origin
}

// replayed is what openJournal found.
type replayed struct {
	recs      []jrec // after the checkpoint, in order
	truncated int64  // bytes dropped from a torn or corrupt tail
	lost      int    // segments with corruption before their end
}

func segName(first uint64) string { return fmt.Sprintf("wal-%016x.log", first) }

// openJournal opens (creating) dir, replays it and starts a new segment.
func openJournal(dir string, policy int, maxBytes int64) (*journal, *replayed, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create journal dir: %w", err)
	}
	j := &journal{dir: dir, policy: policy, max: maxBytes, segMax: min(maxBytes/4, 16<<20)}
	if j.segMax < 1<<20 {
		j.segMax = maxBytes
	}
	ck, err := readCheckpoint(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return nil, nil, err
	}
	j.ckpt.Store(ck)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read journal dir: %w", err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "wal-") && strings.HasSuffix(e.Name(), ".log") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	rp := &replayed{}
	maxSeq := ck
	for i, name := range names {
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("read journal: %w", err)
		}
		seg := segment{path: path}
		fmt.Sscanf(name, "wal-%016x.log", &seg.first)
		good, rerr := readRecords(data, func(r jrec) {
			seg.last = max(seg.last, r.seq)
			maxSeq = max(maxSeq, r.seq)
			if r.seq > ck {
				rp.recs = append(rp.recs, jrec{seq: r.seq, del: r.del, key: clone(r.key), val: clone(r.val)})
			}
		})
		if rerr != nil {
			rp.truncated += int64(len(data) - good)
			if i != len(names)-1 {
				rp.lost++
			}
			if err := os.Truncate(path, int64(good)); err != nil {
				return nil, nil, fmt.Errorf("truncate torn journal tail: %w", err)
			}
		}
		seg.bytes = int64(good)
		if seg.last <= ck {
			os.Remove(path)
			continue
		}
		j.segs = append(j.segs, seg)
		j.bytes += seg.bytes
	}
	j.next = maxSeq + 1
	j.synced.Store(maxSeq)
	if err := j.newSegmentLocked(); err != nil {
		return nil, nil, err
	}
	return j, rp, nil
}

func clone(b []byte) []byte { return append([]byte{}, b...) }

func readCheckpoint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read journal checkpoint: %w", err)
	}
	if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) {
		// Written by rename, so this is not a torn write: refuse to guess.
		return 0, fmt.Errorf("journal checkpoint %s is corrupt", path)
	}
	return binary.LittleEndian.Uint64(b), nil
}

func writeCheckpoint(dir string, seq uint64) error {
	b := binary.LittleEndian.AppendUint64(nil, seq)
	b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	tmp := filepath.Join(dir, "checkpoint.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(dir, "checkpoint")); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// newSegmentLocked starts a segment for the next sequence number; ioMu (or
// exclusive access at open) is held.
func (j *journal) newSegmentLocked() error {
	first := j.next
	path := filepath.Join(j.dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create journal segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return fmt.Errorf("sync journal dir: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f = f
	j.mu.Lock()
	j.segs = append(j.segs, segment{path: path, first: first})
	j.mu.Unlock()
	return nil
}

// append adds a record and returns its sequence number. It only copies.
func (j *journal) append(del bool, key, val []byte) (uint64, error) {
	n := int64(recordSize(key, val))
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return 0, j.err
	}
	if j.bytes+n > j.max {
		return 0, ErrJournalFull
	}
	seq := j.next
	j.next++
	j.buf = appendRecord(j.buf, jrec{seq: seq, del: del, key: key, val: val})
	j.bufLast = seq
	j.bytes += n
	return seq, nil
}

// last returns the highest sequence number appended.
func (j *journal) last() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.next - 1
}

// size returns the journal's bytes on disk and buffered.
func (j *journal) size() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.bytes
}

// sync makes every record up to seq durable: written, and fsynced unless
// the policy is "no" (then only written). It is a group commit.
func (j *journal) sync(seq uint64, fsync bool) error {
	if j.synced.Load() >= seq {
		return nil
	}
	j.ioMu.Lock()
	defer j.ioMu.Unlock()
	if j.synced.Load() >= seq {
		return nil
	}
	return j.writeOutLocked(fsync)
}

// writeOutLocked writes the buffer to the current segment (rotating when
// it is full) and fsyncs it when asked; ioMu is held.
func (j *journal) writeOutLocked(fsync bool) error {
	j.mu.Lock()
	buf, last := j.buf, j.bufLast
	j.buf = nil
	err := j.err
	j.mu.Unlock()
	if err != nil {
		return err
	}
	if len(buf) > 0 {
		if _, err := j.f.Write(buf); err != nil {
			return j.fail(fmt.Errorf("write journal: %w", err))
		}
	}
	if fsync {
		if err := j.f.Sync(); err != nil {
			return j.fail(fmt.Errorf("fsync journal: %w", err))
		}
	}
	if len(buf) > 0 {
		j.mu.Lock()
		s := &j.segs[len(j.segs)-1]
		s.bytes += int64(len(buf))
		s.last = last
		full := s.bytes >= j.segMax
		j.mu.Unlock()
		j.synced.Store(last)
		if full {
			if !fsync {
				j.f.Sync()
			}
			if err := j.newSegmentLocked(); err != nil {
				return j.fail(err)
			}
		}
	}
	return nil
}

func (j *journal) fail(err error) error {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
	return err
}

// checkpoint records that the origin acknowledged every record up to seq
// and deletes the segments wholly below it.
func (j *journal) checkpoint(seq uint64) error {
	if seq <= j.ckpt.Load() {
		return nil
	}
	// A record must be on disk before the checkpoint passes it, or a crash
	// would leave a checkpoint beyond the journal's end: harmless for
	// replay, but keep the invariant simple.
	if err := j.sync(seq, j.policy != fsyncNo); err != nil {
		return err
	}
	if err := writeCheckpoint(j.dir, seq); err != nil {
		return fmt.Errorf("write journal checkpoint: %w", err)
	}
	j.ckpt.Store(seq)
	j.mu.Lock()
	var drop []string
	keep := j.segs[:0]
	for i, s := range j.segs {
		if i < len(j.segs)-1 && s.last != 0 && s.last <= seq || i < len(j.segs)-1 && s.last == 0 && s.bytes == 0 {
			drop = append(drop, s.path)
			j.bytes -= s.bytes
			continue
		}
		keep = append(keep, s)
	}
	j.segs = keep
	// The current segment: once everything in it is acknowledged and it
	// is big, the next write out rotates it (see writeOutLocked).
	j.mu.Unlock()
	for _, p := range drop {
		os.Remove(p)
	}
	return nil
}

// close writes out and fsyncs the buffer and closes the segment.
func (j *journal) close() error {
	j.ioMu.Lock()
	defer j.ioMu.Unlock()
	err := j.writeOutLocked(j.policy != fsyncNo)
	if j.f != nil {
		if cerr := j.f.Close(); err == nil {
			err = cerr
		}
		j.f = nil
	}
	return err
}

// readAllRecords reads a whole file of records (dead letters).
func readAllRecords(path string) ([]jrec, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	var out []jrec
	readRecords(data, func(r jrec) {
		out = append(out, jrec{seq: r.seq, del: r.del, key: clone(r.key), val: clone(r.val)})
	})
	return out, nil
}
