package persist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/rdb"
	"github.com/cachesrv/cachesrv/internal/store"
)

// TagIndex is what loading and saving need of the tag index (package tags):
// names of an entry's references, and references for names.
type TagIndex interface {
	Names(refs []byte) (tags, deps []string)
	Resolve(db int, names [][]byte, refs []byte) ([]byte, error)
	DependencyRef(db int, key []byte, refs []byte) []byte
	Release(refs []byte)
}

// Formats a file can have.
const (
	FormatSnapshot = "cachesrv"
	FormatRDB      = "rdb"
)

// LoadStats describes one load.
type LoadStats struct {
	Format  string
	Keys    int64            // entries stored
	Expired int64            // entries whose deadline had passed: dropped
	Evicted int64            // entries evicted during the load to stay under maxmemory
	Skipped int64            // entries not loaded: no room left (noeviction), or a database beyond "databases"
	Types   map[string]int64 // RDB keys of types cachesrv lacks, by type: skipped
	Bytes   int64
	Time    time.Duration
}

// loadProgress is read by INFO while a load runs.
type loadProgress struct {
	total, done atomic.Int64
	keys        atomic.Int64
	start       atomic.Int64 // unix seconds
}

// ErrNoFile is returned by Load when the snapshot file does not exist.
var ErrNoFile = errors.New("no snapshot file")

// loader inserts decoded entries into the store.
type loader struct {
	st       *store.Store
	tx       *store.Txn // the loading goroutine's hold on the store
	tags     TagIndex
	log      *slog.Logger
	stats    LoadStats
	full     bool // noeviction and over the limit: skip the rest
	evicted0 uint64
	n        int

	// scan is the first pass over a file larger than maxmemory: it only
	// sums entry sizes by frequency hint (hist) to find minFreq, the
	// lowest hint the second pass loads.
	refs    []byte
	scan    bool
	hist    [257]int64
	minFreq int
	fillTo  int64
}

// entryCost estimates the memory of an entry beyond its key and value.
const entryCost = 64

// threshold returns the lowest frequency hint whose entries, together with
// all hotter ones, fit in budget bytes.
func (l *loader) threshold(budget int64) int {
	var sum int64
	for f := 256; f >= 0; f-- {
		sum += l.hist[f]
		if sum > budget {
			return f // f-1 in hint terms: hist is indexed by hint+1
		}
	}
	return -1
}

// Load reads path into st. The format is detected from the file's first
// bytes: cachesrv's snapshot ("CSRVSNAP") or a Redis RDB ("REDIS"). The
// keyspace must be empty. On error the keyspace may hold part of the file;
// the caller flushes it. prog, when not nil, is updated as the file is read.
func Load(path string, st *store.Store, tags TagIndex, log *slog.Logger, maxLen int, prog *loadProgress) (LoadStats, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return LoadStats{}, ErrNoFile
	}
	if err != nil {
		return LoadStats{}, fmt.Errorf("open snapshot: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return LoadStats{}, fmt.Errorf("stat snapshot: %w", err)
	}
	if prog == nil {
		prog = new(loadProgress)
	}
	prog.total.Store(fi.Size())
	prog.done.Store(0)
	prog.keys.Store(0)
	prog.start.Store(time.Now().Unix())
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	l := &loader{st: st, tags: tags, log: log, evicted0: evictedCount(st), minFreq: -1}
	if max := st.MaxMemory(); max > 0 && fi.Size() > max/2 {
		// Possibly larger than maxmemory: a first pass finds how hot an
		// entry must be to be loaded, so the hottest part is kept.
		l.scan = true
		if err := l.pass(f, path, maxLen, new(loadProgress)); err != nil {
			return l.stats, fmt.Errorf("load %s: %w", path, err)
		}
		l.fillTo = max * 9 / 10
		budget := l.fillTo - st.UsedMemory()
		l.minFreq = l.threshold(budget)
		if l.minFreq >= 0 {
			log.Warn("snapshot is larger than maxmemory: loading the entries with the highest frequency hints",
				"min_frequency_hint", l.minFreq, "maxmemory", max)
		}
		l.scan = false
		l.stats = LoadStats{}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return l.stats, fmt.Errorf("load %s: %w", path, err)
		}
	}
	err = l.pass(f, path, maxLen, prog)
	l.stats.Bytes = fi.Size()
	l.stats.Time = time.Since(start)
	l.stats.Evicted = int64(evictedCount(st) - l.evicted0)
	if err != nil {
		return l.stats, fmt.Errorf("load %s: %w", path, err)
	}
	return l.stats, nil
}

// pass reads the whole file once, detecting its format by its magic.
func (l *loader) pass(f io.Reader, path string, maxLen int, prog *loadProgress) error {
	br := bufio.NewReaderSize(&progressReader{r: f, p: prog}, 64<<10)
	head, _ := br.Peek(8)
	switch {
	case string(head) == snapMagic:
		l.stats.Format = FormatSnapshot
		return l.snapshot(br, maxLen, prog)
	case len(head) >= 5 && string(head[:5]) == rdb.Magic:
		l.stats.Format = FormatRDB
		return l.rdb(br, maxLen, prog)
	}
	return fmt.Errorf("%w: %s is neither a cachesrv snapshot nor a Redis RDB file", ErrCorrupt, path)
}

type progressReader struct {
	r io.Reader
	p *loadProgress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.done.Add(int64(n))
	return n, err
}

func (l *loader) snapshot(src io.Reader, maxLen int, prog *loadProgress) error {
	sr, err := NewSnapshotReader(src, maxLen)
	if err != nil {
		return err
	}
	// Writing a key invalidates the entries that depend on it, so entries
	// with dependencies are stored last, after the keys they depend on.
	var deferred []Record
	var rec Record
	for {
		err := sr.Next(&rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if l.scan {
			l.measure(rec.Key, rec.Value, rec.Freq)
			continue
		}
		if len(rec.Deps) > 0 {
			deferred = append(deferred, Record{DB: rec.DB, Type: rec.Type, Deadline: rec.Deadline, Soft: rec.Soft,
				Version: rec.Version, Freq: rec.Freq, Tags: rec.Tags, Deps: rec.Deps,
				Key: bytes.Clone(rec.Key), Value: bytes.Clone(rec.Value)})
			rec.Tags, rec.Deps = nil, nil
			continue
		}
		if err := l.putRecord(&rec); err != nil {
			return err
		}
		l.progress(prog)
	}
	// Dependents after their dependencies: rounds, each storing the
	// entries none of whose dependencies is still pending.
	for len(deferred) > 0 {
		pending := make(map[string]bool, len(deferred))
		for i := range deferred {
			pending[strconv.Itoa(deferred[i].DB)+"\x00"+string(deferred[i].Key)] = true
		}
		var next []Record
		for i := range deferred {
			r := &deferred[i]
			blocked := false
			for _, d := range r.Deps {
				if pending[strconv.Itoa(r.DB)+"\x00"+d] && d != string(r.Key) {
					blocked = true
					break
				}
			}
			if blocked {
				next = append(next, *r)
			}
		}
		if len(next) == len(deferred) {
			next = nil // a cycle: store the rest as they come
		}
		for i := range deferred {
			r := &deferred[i]
			if next != nil && blockedBy(r, pending) {
				continue
			}
			if err := l.putRecord(r); err != nil {
				return err
			}
			l.progress(prog)
		}
		deferred = next
	}
	return nil
}

// blockedBy reports whether one of r's dependencies is pending.
func blockedBy(r *Record, pending map[string]bool) bool {
	for _, d := range r.Deps {
		if d != string(r.Key) && pending[strconv.Itoa(r.DB)+"\x00"+d] {
			return true
		}
	}
	return false
}

// putRecord stores a snapshot record, resolving its tags and dependencies.
func (l *loader) putRecord(rec *Record) error {
	var refs []byte
	if l.tags != nil && len(rec.Tags)+len(rec.Deps) > 0 && rec.DB < l.st.Databases() {
		names := make([][]byte, 0, len(rec.Tags))
		for _, t := range rec.Tags {
			names = append(names, []byte(t))
		}
		var err error
		refs, err = l.tags.Resolve(rec.DB, names, l.refs[:0])
		if err != nil {
			l.tags.Release(refs)
			return fmt.Errorf("%w: tags of %q: %v", ErrCorrupt, rec.Key, err)
		}
		for _, d := range rec.Deps {
			refs = l.tags.DependencyRef(rec.DB, []byte(d), refs)
		}
		l.refs = refs
	}
	m := store.Meta{Type: rec.Type, Deadline: rec.Deadline, Soft: rec.Soft, Version: rec.Version, Tags: refs}
	l.put(rec.DB, rec.Key, rec.Value, m, rec.Freq)
	if len(refs) > 0 {
		l.tags.Release(refs)
	}
	return nil
}

func (l *loader) rdb(src io.Reader, maxLen int, prog *loadProgress) error {
	fr, err := rdb.NewFileReader(src)
	if err != nil {
		return err
	}
	fr.SetMaxString(maxLen)
	var e rdb.Entry
	for {
		err := fr.Next(&e)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		val, typ := e.Value, store.TypeString
		if e.Coll != nil {
			var empty bool
			typ, val, _, empty = store.BuildCollection(e.Coll, l.st.NowMs())
			if empty {
				l.stats.Expired++ // every hash field had expired
				continue
			}
		}
		if l.scan {
			l.measure(e.Key, val, e.Freq)
			continue
		}
		l.put(e.DB, e.Key, val, store.Meta{Type: typ, Deadline: e.ExpireMs}, e.Freq)
		l.progress(prog)
	}
	l.stats.Types = fr.Skipped
	if l.scan {
		return nil
	}
	for t, n := range fr.Skipped {
		l.log.Warn("RDB import: skipped keys of a type cachesrv does not have", "type", t, "keys", n)
	}
	return nil
}

// freqTouchCap bounds the accesses a frequency hint replays (W-TinyLFU's
// sketch counters saturate at 15).
const freqTouchCap = 15

// progressEvery is how many entries pass between progress log lines.
const progressEvery = 1 << 20

// progress counts an entry and logs every progressEvery of them.
func (l *loader) progress(prog *loadProgress) {
	if n := prog.keys.Add(1); n%progressEvery == 0 {
		perc := 0.0
		if t := prog.total.Load(); t > 0 {
			perc = 100 * float64(prog.done.Load()) / float64(t)
		}
		l.log.Info("loading snapshot", "entries", n, "loaded_perc", fmt.Sprintf("%.1f", perc))
	}
}

// measure adds an entry to the first pass's histogram.
func (l *loader) measure(key, val []byte, freq int) {
	l.hist[max(freq, -1)+1] += int64(len(key) + len(val) + entryCost)
}

// put stores one entry, applying expiry, the frequency hint and maxmemory.
func (l *loader) put(db int, key, val []byte, m store.Meta, freq int) {
	now := l.st.NowMs()
	if m.Deadline != 0 && m.Deadline <= now {
		l.stats.Expired++
		return
	}
	if freq < l.minFreq && (freq < l.minFreq-1 || l.st.UsedMemory() >= l.fillTo) {
		// Colder than what fits; the bucket just below the threshold
		// fills the room that is left.
		l.stats.Skipped++
		return
	}
	if l.full || db >= l.st.Databases() {
		l.stats.Skipped++
		return
	}
	if l.tx == nil {
		l.tx = l.st.NewTxn(nil)
	}
	h := l.tx.Key(now, key)
	err := l.tx.Set(db, key, h, val, m)
	if err == nil && m.Type == store.TypeHash {
		// Hash fields with deadlines (HEXPIRE) are reaped actively again.
		if next := store.NextFieldDeadline(val); next != 0 {
			l.tx.SetFieldDeadline(db, key, h, next)
		}
	}
	if err == nil {
		for range min(freq, freqTouchCap) {
			l.tx.Lookup(db, key, h, store.NoStats)
		}
	}
	l.tx.Release()
	if err != nil {
		l.stats.Skipped++
		return
	}
	l.stats.Keys++
	if l.n++; l.n&63 == 0 && l.st.OverLimit() {
		// Over maxmemory: the eviction policy, fed the frequency hints,
		// drops the coldest entries; with noeviction the rest is skipped.
		for l.st.OverLimit() {
			n, err := l.st.Evict(int(h))
			if err != nil || n == 0 {
				l.full = true
				l.log.Warn("snapshot is larger than maxmemory and the policy cannot evict: skipping the rest")
				break
			}
		}
	}
}

func evictedCount(st *store.Store) uint64 {
	s := st.Stats()
	return s.RemovedBy(store.Evicted)
}
