package origin

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// pent is the latest pending write of one key.
type pent struct {
	seq      uint64
	del      bool
	val      []byte
	since    time.Time // when the oldest unflushed write of the key was acknowledged
	attempts int
	lastErr  string
}

type fifoEnt struct {
	key string
	seq uint64
}

// DeadLetter is a write the origin refused max_attempts times.
type DeadLetter struct {
	Key      string
	Value    []byte
	Del      bool
	Attempts int
	Err      string
}

// writeBehind is one origin's journal, pending writes and flusher. Writers
// call enqueueLocked (with the key's store shard lock held, so the journal
// order of one key is its cache order) and then durable.
type writeBehind struct {
	o   *Origin
	j   *journal
	log *slog.Logger

	batch    int
	interval time.Duration
	attempts int
	backoff  time.Duration

	mu     sync.Mutex
	pend   map[string]*pent
	fifo   []fifoEnt
	head   int
	dead   []DeadLetter
	acked  uint64        // highest seq whose write the origin acknowledged (or dead-lettered)
	ackCh  chan struct{} // closed and replaced on every ack
	wake   chan struct{}
	nextAt time.Time // retry backoff: no batch before this
	fails  int       // consecutive failed rounds

	stats struct {
		flushed, coalesced, batches, retries, deadLettered uint64
		lagNanos                                           int64 // age of the last flushed write when it was acknowledged
	}
}

func newWriteBehind(o *Origin, dir string, log *slog.Logger) (*writeBehind, error) {
	wbs := o.spec.WriteBehind
	policy := fsyncEverySec
	switch wbs.Fsync {
	case "always":
		policy = fsyncAlways
	case "no":
		policy = fsyncNo
	}
	j, rp, err := openJournal(filepath.Join(dir, o.Name), policy, wbs.MaxJournalBytes)
	if err != nil {
		return nil, err
	}
	wb := &writeBehind{
		o: o, j: j, log: log,
		batch: wbs.BatchSize, interval: wbs.FlushInterval, attempts: wbs.MaxAttempts, backoff: wbs.RetryBackoff,
		pend: map[string]*pent{}, ackCh: make(chan struct{}), wake: make(chan struct{}, 1),
	}
	wb.acked = j.ckpt.Load()
	if rp.truncated > 0 {
		log.Warn("write-behind journal had a torn or corrupt tail; kept the good prefix",
			"origin", o.Name, "dropped_bytes", rp.truncated, "segments_with_lost_records", rp.lost)
	}
	now := time.Now()
	for _, r := range rp.recs {
		wb.addLocked(string(r.key), r.seq, r.del, r.val, now)
	}
	if len(rp.recs) > 0 {
		log.Info("write-behind journal replayed", "origin", o.Name, "writes", len(rp.recs), "keys", len(wb.pend))
	}
	if wb.dead, err = wb.loadDead(); err != nil {
		j.close()
		return nil, err
	}
	return wb, nil
}

func (wb *writeBehind) addLocked(key string, seq uint64, del bool, val []byte, now time.Time) {
	if p := wb.pend[key]; p != nil {
		p.seq, p.del, p.val = seq, del, val
		wb.stats.coalesced++
	} else {
		wb.pend[key] = &pent{seq: seq, del: del, val: val, since: now}
	}
	wb.fifo = append(wb.fifo, fifoEnt{key, seq})
}

// enqueueLocked journals a write; the caller holds the key's shard lock.
func (wb *writeBehind) enqueueLocked(del bool, key, val []byte) (uint64, error) {
	// Under wb.mu so that the FIFO is in sequence order (advanceLocked
	// relies on it).
	wb.mu.Lock()
	seq, err := wb.j.append(del, key, val)
	if err != nil {
		wb.mu.Unlock()
		return 0, err
	}
	wb.addLocked(string(key), seq, del, clone(val), time.Now())
	n := len(wb.pend)
	wb.mu.Unlock()
	if n >= wb.batch {
		select {
		case wb.wake <- struct{}{}:
		default:
		}
	}
	return seq, nil
}

// durable waits until seq is on disk per the fsync policy: always waits
// for the fsync; everysec and no return at once.
func (wb *writeBehind) durable(seq uint64) error {
	if wb.j.policy != fsyncAlways {
		return nil
	}
	return wb.j.sync(seq, true)
}

// pending returns the latest unflushed write of key, if any.
func (wb *writeBehind) pending(key []byte) (val []byte, del, ok bool) {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	p := wb.pend[string(key)]
	if p == nil {
		return nil, false, false
	}
	return p.val, p.del, true
}

// take picks the next batch: the oldest pending keys, each with its latest
// write.
func (wb *writeBehind) take() (keys []string, seqs []uint64, ops []Op) {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	seen := map[string]bool{}
	for i := wb.head; i < len(wb.fifo) && len(ops) < wb.batch; i++ {
		e := wb.fifo[i]
		p := wb.pend[e.key]
		if p == nil || seen[e.key] {
			continue
		}
		seen[e.key] = true
		keys = append(keys, e.key)
		seqs = append(seqs, p.seq)
		ops = append(ops, Op{Del: p.del, Key: []byte(e.key), Value: p.val})
	}
	return keys, seqs, ops
}

// ackLocked drops a key's pending write if it is still seq.
func (wb *writeBehind) ackLocked(key string, seq uint64, now time.Time) {
	if p := wb.pend[key]; p != nil && p.seq == seq {
		wb.stats.lagNanos = int64(now.Sub(p.since))
		delete(wb.pend, key)
	}
}

// advanceLocked pops acknowledged entries off the FIFO and returns the
// new checkpoint: everything below the oldest write still pending.
func (wb *writeBehind) advanceLocked() uint64 {
	for wb.head < len(wb.fifo) {
		e := wb.fifo[wb.head]
		if p := wb.pend[e.key]; p != nil && p.seq == e.seq {
			break
		}
		wb.head++
	}
	if wb.head > 1024 && wb.head*2 > len(wb.fifo) {
		wb.fifo = append(wb.fifo[:0], wb.fifo[wb.head:]...)
		wb.head = 0
	}
	if wb.head < len(wb.fifo) {
		return wb.fifo[wb.head].seq - 1
	}
	return wb.j.last()
}

// flushOnce sends one batch; it reports whether it did anything.
func (wb *writeBehind) flushOnce(ctx context.Context) bool {
	keys, seqs, ops := wb.take()
	if len(ops) == 0 {
		return false
	}
	err := wb.o.write(ctx, ops)
	now := time.Now()
	wb.mu.Lock()
	wb.stats.batches++
	if err == nil {
		for i, k := range keys {
			wb.ackLocked(k, seqs[i], now)
		}
		wb.stats.flushed += uint64(len(keys))
		wb.fails = 0
		wb.nextAt = time.Time{}
		wb.mu.Unlock()
	} else {
		wb.mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
		// An origin that is down, slow or has its breaker open is
		// retried without limit (backoff up to 5s); only writes the origin
		// refuses (a constraint, a type error, an HTTP 4xx) count toward
		// max_attempts. One refused write must not hold back the others:
		// they are retried one by one.
		anyFail := !permanent(err)
		for i, op := range ops {
			if anyFail && !permanent(err) {
				break
			}
			var e error
			if len(ops) == 1 {
				e = err
			} else {
				e = wb.o.write(ctx, []Op{op})
			}
			wb.mu.Lock()
			if e == nil {
				wb.ackLocked(keys[i], seqs[i], time.Now())
				wb.stats.flushed++
				wb.mu.Unlock()
				continue
			}
			anyFail = true
			wb.stats.retries++
			if !permanent(e) {
				wb.mu.Unlock()
				break
			}
			if p := wb.pend[keys[i]]; p != nil && p.seq == seqs[i] {
				p.attempts++
				p.lastErr = reason(unwrapOrigin(e))
				if p.attempts >= wb.attempts {
					wb.dead = append(wb.dead, DeadLetter{Key: keys[i], Value: p.val, Del: p.del, Attempts: p.attempts, Err: p.lastErr})
					wb.stats.deadLettered++
					delete(wb.pend, keys[i])
					wb.log.Error("write-behind write moved to dead letters", "origin", wb.o.Name, "key", keys[i], "attempts", p.attempts, "err", p.lastErr)
					wb.saveDeadLocked()
				}
			}
			wb.mu.Unlock()
		}
		if anyFail {
			wb.mu.Lock()
			wb.fails++
			d := wb.backoff << min(wb.fails-1, 20)
			d = min(d, maxBackoff)
			wb.nextAt = time.Now().Add(d)
			wb.mu.Unlock()
		}
	}
	wb.mu.Lock()
	ck := wb.advanceLocked()
	wb.mu.Unlock()
	if err := wb.j.checkpoint(ck); err != nil {
		wb.log.Error("write-behind checkpoint failed", "origin", wb.o.Name, "err", err)
	}
	wb.mu.Lock()
	if ck > wb.acked {
		wb.acked = ck
		close(wb.ackCh)
		wb.ackCh = make(chan struct{})
	}
	wb.mu.Unlock()
	return true
}

// run is the flusher: every flush_interval (at once when a batch is full)
// it sends batches until nothing is pending, honouring the retry backoff.
// On ctx's end it flushes what it can within drain, then closes the
// journal.
func (wb *writeBehind) run(ctx context.Context, drain time.Duration) {
	syncEvery := time.NewTicker(time.Second)
	defer syncEvery.Stop()
	tick := time.NewTicker(wb.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), drain)
			// Drain while the origin takes writes; a failed round ends it
			// (the journal keeps the rest for the next start).
			for dctx.Err() == nil && wb.depth() > 0 && wb.flushOnce(dctx) {
				wb.mu.Lock()
				failed := wb.fails > 0
				wb.mu.Unlock()
				if failed {
					break
				}
			}
			cancel()
			if n := wb.depth(); n > 0 {
				wb.log.Warn("write-behind writes left in the journal at shutdown; they are replayed at the next start", "origin", wb.o.Name, "keys", n)
			}
			if err := wb.j.close(); err != nil {
				wb.log.Error("close write-behind journal", "origin", wb.o.Name, "err", err)
			}
			return
		case <-syncEvery.C:
			if wb.j.policy != fsyncAlways {
				if err := wb.j.sync(wb.j.last(), wb.j.policy == fsyncEverySec); err != nil {
					wb.log.Error("write-behind journal sync failed", "origin", wb.o.Name, "err", err)
				}
			}
			continue
		case <-tick.C:
		case <-wb.wake:
		}
		for ctx.Err() == nil {
			wb.mu.Lock()
			wait := time.Until(wb.nextAt)
			wb.mu.Unlock()
			if wait > 0 {
				break
			}
			if !wb.flushOnce(ctx) {
				break
			}
			if wb.depth() < wb.batch {
				break
			}
		}
	}
}

func (wb *writeBehind) depth() int {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return len(wb.pend)
}

// oldest is the age of the oldest pending write.
func (wb *writeBehind) oldest(now time.Time) time.Duration {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	for i := wb.head; i < len(wb.fifo); i++ {
		if p := wb.pend[wb.fifo[i].key]; p != nil {
			return now.Sub(p.since)
		}
	}
	return 0
}

// flushed waits until everything appended before the call is acknowledged
// (or dead-lettered), or ctx ends.
func (wb *writeBehind) flushed(ctx context.Context) error {
	target := wb.j.last()
	for {
		wb.mu.Lock()
		done := wb.acked >= target || (len(wb.pend) == 0 && wb.j.last() >= target)
		ch := wb.ackCh
		wb.mu.Unlock()
		if done {
			return nil
		}
		select {
		case wb.wake <- struct{}{}:
		default:
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (wb *writeBehind) deadPath() string { return filepath.Join(wb.j.dir, "deadletters.log") }

func (wb *writeBehind) loadDead() ([]DeadLetter, error) {
	recs, err := readAllRecords(wb.deadPath())
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetter, 0, len(recs))
	for _, r := range recs {
		out = append(out, DeadLetter{Key: string(r.key), Value: r.val, Del: r.del, Attempts: int(r.seq)})
	}
	return out, nil
}

// saveDeadLocked rewrites the dead-letter file (seq carries the attempts).
func (wb *writeBehind) saveDeadLocked() {
	var buf []byte
	for _, d := range wb.dead {
		buf = appendRecord(buf, jrec{seq: uint64(d.Attempts), del: d.Del, key: []byte(d.Key), val: d.Value})
	}
	tmp := wb.deadPath() + ".tmp"
	if err := os.WriteFile(tmp, buf, 0o600); err != nil {
		wb.log.Error("save dead letters", "origin", wb.o.Name, "err", err)
		return
	}
	if f, err := os.Open(tmp); err == nil {
		f.Sync()
		f.Close()
	}
	if err := os.Rename(tmp, wb.deadPath()); err != nil {
		wb.log.Error("save dead letters", "origin", wb.o.Name, "err", err)
	}
}

// deadLetters returns a copy of the dead letters.
func (wb *writeBehind) deadLetters() []DeadLetter {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	return append([]DeadLetter(nil), wb.dead...)
}

// takeDead removes the dead letters of key ("" = all) and returns them.
func (wb *writeBehind) takeDead(key string) []DeadLetter {
	wb.mu.Lock()
	defer wb.mu.Unlock()
	var out []DeadLetter
	keep := wb.dead[:0]
	for _, d := range wb.dead {
		if key == "" || d.Key == key {
			out = append(out, d)
		} else {
			keep = append(keep, d)
		}
	}
	wb.dead = keep
	if len(out) > 0 {
		wb.saveDeadLocked()
	}
	return out
}

// maxBackoff caps the retry delay, so that writes reach an origin that
// came back within seconds.
const maxBackoff = 5 * time.Second

// permanent reports whether the origin refused the write itself (so that
// retrying the same write cannot help): a PostgreSQL error other than
// connection, resource, shutdown or serialization trouble, or an HTTP 4xx.
func permanent(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", "40", "53", "57", "58":
			return false
		}
		return true
	}
	var he *httpStatusError
	return errors.As(err, &he) && he.code >= 400 && he.code < 500 && he.code != 408 && he.code != 429
}

var errNoWriteBehind = errors.New("origin has no write-behind route")

// unwrapOrigin strips the "ORIGIN name:" wrapper.
func unwrapOrigin(err error) error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe.Err
	}
	return err
}
