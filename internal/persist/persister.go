package persist

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cachesrv/cachesrv/internal/store"
)

// SavePoint is one "save <seconds> <changes>" rule.
type SavePoint struct {
	After   time.Duration
	Changes int64
}

// Settings are the run-time persistence settings (CONFIG SET may change
// them; see Persister.Configure).
type Settings struct {
	Dir, File      string
	Schedule       []SavePoint
	SaveOnShutdown bool // snapshot at shutdown even without a schedule
}

// Options configure a Persister.
type Options struct {
	Store *store.Store
	Tags  TagIndex // may be nil
	Log   *slog.Logger
	// Changes returns a monotonic count of writes (rdb_changes_since_last_save
	// is its growth since the last successful save).
	Changes func() uint64
	// MaxLen bounds one key or value read from a file.
	MaxLen int
	Settings
}

// ErrInProgress refuses a save while another runs (Redis's wording).
//
//lint:ignore ST1005 Redis's wording, sent to clients as is
var ErrInProgress = errors.New("Background save already in progress")

// retryDelay is how long the schedule waits after a failed background save
// before trying again (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const retryDelay = 5 * time.Second

// walkBatch is how many entries a save copies per shard lock hold.
const walkBatch = 512

// Stats are the Persister's counters, for INFO and metrics.
type Stats struct {
	Loading          bool
	LoadStart        int64 // unix s
	LoadTotalBytes   int64
	LoadDoneBytes    int64
	LoadKeys         int64
	LastLoad         LoadStats
	InProgress       bool
	CurrentStart     time.Time
	ChangesSinceSave int64
	LastSave         int64 // unix s of the last successful save (start time if none)
	LastSaveOK       bool
	LastStatusSet    bool
	LastDuration     time.Duration // last background or foreground save
	LastBytes        int64
	LastKeys         int64
	SavesOK          uint64
	SavesFailed      uint64
	LastSuccess      time.Time // zero if no save succeeded yet
}

// Persister runs snapshots of one store. Save, BGSave, Shutdown and Stats
// are safe for concurrent use. It owns at most one background save
// goroutine at a time; Close waits for it.
type Persister struct {
	opts Options
	log  *slog.Logger

	mu            sync.Mutex
	set           Settings
	saving        bool
	scheduled     bool // BGSAVE SCHEDULE pending
	closed        bool
	shutdownDone  bool
	stats         Stats
	changesAtSave uint64
	lastTry       time.Time
	seq           int

	prog    loadProgress
	loading atomic.Bool
	wg      sync.WaitGroup

	// failAfter, when positive, makes writes fail with ENOSPC after that
	// many bytes (tests: disk full).
	failAfter int64
}

// limitWriter fails like a full disk after n bytes.
type limitWriter struct {
	w io.Writer
	n int64
}

func (l *limitWriter) Write(b []byte) (int, error) {
	if int64(len(b)) > l.n {
		k, _ := l.w.Write(b[:l.n])
		l.n = 0
		return k, syscall.ENOSPC
	}
	l.n -= int64(len(b))
	return l.w.Write(b)
}

// New returns a Persister. It does not load anything; see LoadAtStart.
func New(o Options) (*Persister, error) {
	if o.Store == nil {
		return nil, errors.New("persist: no store")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Changes == nil {
		o.Changes = func() uint64 { return 0 }
	}
	p := &Persister{opts: o, log: o.Log, set: o.Settings}
	p.stats.LastSave = time.Now().Unix()
	p.stats.LastSaveOK = true
	p.changesAtSave = o.Changes()
	return p, nil
}

// Configure replaces the settings (CONFIG SET dir/dbfilename/save).
func (p *Persister) Configure(s Settings) {
	p.mu.Lock()
	p.set = s
	p.mu.Unlock()
}

// Path returns the snapshot file's path.
func (p *Persister) Path() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return filepath.Join(p.set.Dir, p.set.File)
}

// Loading reports whether a load is running.
func (p *Persister) Loading() bool { return p.loading.Load() }

// LoadAtStart loads the snapshot file if there is one. A missing file is
// not an error. On a corrupt or unreadable file it empties the keyspace and
// returns the error unless startEmpty is set, in which case it logs the
// problem and starts empty.
func (p *Persister) LoadAtStart(startEmpty bool) (LoadStats, error) {
	path := p.Path()
	p.RemoveTempFiles()
	p.loading.Store(true)
	defer p.loading.Store(false)
	p.log.Info("loading snapshot", "path", path)
	ls, err := Load(path, p.opts.Store, p.opts.Tags, p.log, p.opts.MaxLen, &p.prog)
	if errors.Is(err, ErrNoFile) {
		p.log.Info("no snapshot file: starting empty", "path", path)
		return ls, nil
	}
	if err != nil {
		tx := p.opts.Store.NewTxn(nil)
		tx.All(p.opts.Store.NowMs())
		tx.FlushAll()
		tx.Release()
		if startEmpty {
			p.log.Error("snapshot is unusable; starting empty (start-empty-on-bad-snapshot yes)", "path", path, "err", err)
			return ls, nil
		}
		return ls, fmt.Errorf("%w (set start-empty-on-bad-snapshot yes to start with an empty keyspace instead)", err)
	}
	p.mu.Lock()
	p.stats.LastLoad = ls
	p.changesAtSave = p.opts.Changes()
	p.mu.Unlock()
	p.log.Info("snapshot loaded", "path", path, "format", ls.Format, "keys", ls.Keys, "expired_dropped", ls.Expired,
		"evicted", ls.Evicted, "skipped", ls.Skipped, "skipped_types", ls.Types, "bytes", ls.Bytes,
		"seconds", ls.Time.Seconds())
	return ls, nil
}

// SnapshotExists reports whether the snapshot file exists (something to
// load at start).
func (p *Persister) SnapshotExists() bool {
	_, err := os.Stat(p.Path())
	return err == nil
}

// RemoveTempFiles deletes the temporary files of saves a crash interrupted
// (never the snapshot itself). Call it at start, before any save.
func (p *Persister) RemoveTempFiles() {
	p.mu.Lock()
	dir := p.set.Dir
	p.mu.Unlock()
	if old, _ := filepath.Glob(filepath.Join(dir, "temp-*.csnap")); len(old) > 0 {
		for _, f := range old {
			os.Remove(f)
		}
		p.log.Warn("removed temporary files of interrupted saves", "files", old)
	}
}

// begin claims the right to save.
func (p *Persister) begin() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.saving {
		return ErrInProgress
	}
	if p.closed {
		return errors.New("server is shutting down")
	}
	p.saving = true
	p.stats.CurrentStart = time.Now()
	p.lastTry = time.Now()
	return nil
}

// Save writes a snapshot in the caller's goroutine (SAVE).
func (p *Persister) Save() error {
	if err := p.begin(); err != nil {
		return err
	}
	return p.run()
}

// BGSave starts a background save. With schedule, a save already running
// makes it schedule one for when that ends instead of failing. The reply
// text is Redis's.
func (p *Persister) BGSave(schedule bool) (string, error) {
	if err := p.begin(); err != nil {
		if errors.Is(err, ErrInProgress) && schedule {
			p.mu.Lock()
			p.scheduled = true
			p.mu.Unlock()
			return "Background saving scheduled", nil
		}
		return "", err
	}
	p.start()
	return "Background saving started", nil
}

// start runs a claimed save in a goroutine the Persister owns.
func (p *Persister) start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.run(); err != nil {
			p.log.Error("background save failed", "err", err)
		}
	}()
}

// run writes the snapshot; the caller has claimed it with begin.
func (p *Persister) run() error {
	p.mu.Lock()
	dir, file := p.set.Dir, p.set.File
	p.seq++
	seq := p.seq
	p.mu.Unlock()
	changes := p.opts.Changes()
	start := time.Now()
	n, keys, err := p.write(dir, file, seq)
	d := time.Since(start)
	p.mu.Lock()
	p.saving = false
	p.stats.LastDuration = d
	p.stats.LastStatusSet = true
	if err != nil {
		p.stats.LastSaveOK = false
		p.stats.SavesFailed++
	} else {
		p.stats.LastSaveOK = true
		p.stats.SavesOK++
		p.stats.LastSave = start.Unix()
		p.stats.LastSuccess = start
		p.stats.LastBytes = n
		p.stats.LastKeys = keys
		p.changesAtSave = changes
	}
	p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save snapshot: %w", err)
	}
	p.log.Info("snapshot saved", "path", filepath.Join(dir, file), "keys", keys, "bytes", n, "seconds", d.Seconds())
	return nil
}

// batchRec is one entry copied out of the store under a shard lock.
type batchRec struct {
	db, typ              int
	deadline, soft       int64
	version              uint64
	freq                 int
	koff, voff, toff, te int
}

// write walks the store into a temporary file in dir, fsyncs it and
// renames it to file. The previous snapshot stays intact on any failure.
func (p *Persister) write(dir, file string, seq int) (int64, int64, error) {
	tmp := filepath.Join(dir, "temp-"+strconv.Itoa(os.Getpid())+"-"+strconv.Itoa(seq)+".csnap")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, 0, fmt.Errorf("create temporary file: %w", err)
	}
	fail := func(err error) (int64, int64, error) {
		f.Close()
		os.Remove(tmp)
		return 0, 0, err
	}
	var out io.Writer = f
	if p.failAfter > 0 {
		out = &limitWriter{w: f, n: p.failAfter}
	}
	sw, err := NewSnapshotWriter(out, time.Now().UnixMilli())
	if err != nil {
		return fail(fmt.Errorf("write header: %w", err))
	}
	var (
		arena []byte
		recs  []batchRec
		rec   Record
	)
	visit := func(e *store.WalkEntry) {
		b := batchRec{db: e.DB, typ: int(e.Type), deadline: e.Deadline, soft: e.Soft, version: e.Version, freq: e.Freq}
		b.koff = len(arena)
		arena = append(arena, e.Key...)
		b.voff = len(arena)
		arena = append(arena, e.Value...)
		b.toff = len(arena)
		arena = append(arena, e.Tags...)
		b.te = len(arena)
		recs = append(recs, b)
	}
	flush := func() error {
		for _, b := range recs {
			rec = Record{DB: b.db, Type: uint8(b.typ), Deadline: b.deadline, Soft: b.soft, Version: b.version, Freq: b.freq,
				Key: arena[b.koff:b.voff], Value: arena[b.voff:b.toff]}
			if b.te > b.toff && p.opts.Tags != nil {
				rec.Tags, rec.Deps = p.opts.Tags.Names(arena[b.toff:b.te])
			}
			if err := sw.Write(&rec); err != nil {
				return err
			}
		}
		recs = recs[:0]
		if cap(arena) > 4<<20 {
			arena = nil
		}
		arena = arena[:0]
		return nil
	}
	if err := p.opts.Store.Walk(walkBatch, visit, flush); err != nil {
		return fail(fmt.Errorf("write entries: %w", err))
	}
	n, err := sw.Close()
	if err != nil {
		return fail(fmt.Errorf("write trailer: %w", err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("fsync: %w", err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("close: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, file)); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("rename into place: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename durable; best effort
		d.Close()
	}
	return n, int64(sw.Count()), nil
}

// Tick runs the save schedule and pending BGSAVE SCHEDULE requests; Run
// calls it every second. It reports whether it started a save.
func (p *Persister) Tick(now time.Time) bool {
	p.mu.Lock()
	if p.saving || p.closed {
		p.mu.Unlock()
		return false
	}
	due := p.scheduled
	changes := int64(p.opts.Changes() - p.changesAtSave)
	if !due && (p.stats.LastSaveOK || now.Sub(p.lastTry) > retryDelay) {
		for _, sp := range p.set.Schedule {
			if changes >= sp.Changes && now.Unix()-p.stats.LastSave >= int64(sp.After/time.Second) {
				p.log.Info("save point reached: background save", "changes", changes, "seconds", int64(sp.After/time.Second))
				due = true
				break
			}
		}
	}
	if !due {
		p.mu.Unlock()
		return false
	}
	p.scheduled = false
	p.saving = true
	p.stats.CurrentStart = now
	p.lastTry = now
	p.mu.Unlock()
	p.start()
	return true
}

// Run drives the schedule until ctx ends, then waits for a running
// background save.
func (p *Persister) Run(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.wg.Wait()
			return nil
		case now := <-t.C:
			p.Tick(now)
		}
	}
}

// Shutdown modes (SHUTDOWN's arguments).
const (
	ShutdownDefault = iota // save when a schedule or save-on-shutdown is configured
	ShutdownSave           // always save
	ShutdownNoSave         // never save
)

// Shutdown takes the shutdown snapshot once: it waits for a running
// background save, then saves as mode says. Later calls do nothing, so
// SHUTDOWN and the SIGTERM path cannot save twice. An error means the
// snapshot failed (Redis then refuses to shut down on SHUTDOWN).
func (p *Persister) Shutdown(mode int) error {
	p.mu.Lock()
	if p.shutdownDone {
		p.mu.Unlock()
		return nil
	}
	save := mode == ShutdownSave || (mode == ShutdownDefault && (len(p.set.Schedule) > 0 || p.set.SaveOnShutdown))
	p.mu.Unlock()
	p.wg.Wait()
	if save {
		p.log.Info("saving the final snapshot before shutdown")
		for {
			err := p.Save()
			if errors.Is(err, ErrInProgress) { // a scheduled save slipped in
				p.wg.Wait()
				continue
			}
			if err != nil {
				return err
			}
			break
		}
	}
	p.mu.Lock()
	p.shutdownDone = true
	p.mu.Unlock()
	return nil
}

// Close stops new saves and waits for a running background save.
func (p *Persister) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

// LastSave returns the unix time of the last successful save (LASTSAVE).
func (p *Persister) LastSave() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats.LastSave
}

// Stats returns the counters.
func (p *Persister) Stats() Stats {
	p.mu.Lock()
	s := p.stats
	s.InProgress = p.saving
	s.ChangesSinceSave = int64(p.opts.Changes() - p.changesAtSave)
	p.mu.Unlock()
	s.Loading = p.loading.Load()
	s.LoadStart = p.prog.start.Load()
	s.LoadTotalBytes = p.prog.total.Load()
	s.LoadDoneBytes = p.prog.done.Load()
	s.LoadKeys = p.prog.keys.Load()
	return s
}

// Info returns the INFO persistence fields, with Redis's names.
func (p *Persister) Info() [][2]string {
	s := p.Stats()
	var out [][2]string
	add := func(k string, v any) { out = append(out, [2]string{k, fmt.Sprint(v)}) }
	add("loading", b2i(s.Loading))
	add("async_loading", 0)
	add("current_cow_peak", 0)
	add("current_cow_size", 0)
	add("current_cow_size_age", 0)
	add("current_fork_perc", "0.00")
	add("current_save_keys_processed", 0)
	add("current_save_keys_total", 0)
	add("rdb_changes_since_last_save", s.ChangesSinceSave)
	add("rdb_bgsave_in_progress", b2i(s.InProgress))
	add("rdb_last_save_time", s.LastSave)
	status := "ok"
	if !s.LastSaveOK {
		status = "err"
	}
	add("rdb_last_bgsave_status", status)
	last := int64(-1)
	if s.LastStatusSet {
		last = int64(s.LastDuration.Round(time.Second) / time.Second)
	}
	add("rdb_last_bgsave_time_sec", last)
	cur := int64(-1)
	if s.InProgress {
		cur = int64(time.Since(s.CurrentStart) / time.Second)
	}
	add("rdb_current_bgsave_time_sec", cur)
	add("rdb_saves", s.SavesOK)
	add("rdb_last_cow_size", 0)
	add("rdb_last_load_keys_expired", s.LastLoad.Expired)
	add("rdb_last_load_keys_loaded", s.LastLoad.Keys)
	add("aof_enabled", 0)
	add("aof_rewrite_in_progress", 0)
	add("aof_rewrite_scheduled", 0)
	add("aof_last_rewrite_time_sec", -1)
	add("aof_current_rewrite_time_sec", -1)
	add("aof_last_bgrewrite_status", "ok")
	add("aof_rewrites", 0)
	add("aof_last_write_status", "ok")
	add("aof_last_cow_size", 0)
	add("module_fork_in_progress", 0)
	add("module_fork_last_cow_size", 0)
	if s.Loading {
		perc := 0.0
		if s.LoadTotalBytes > 0 {
			perc = 100 * float64(s.LoadDoneBytes) / float64(s.LoadTotalBytes)
		}
		elapsed := time.Now().Unix() - s.LoadStart
		eta := int64(1)
		if s.LoadDoneBytes > 0 {
			eta = int64(float64(s.LoadTotalBytes-s.LoadDoneBytes) * float64(max(elapsed, 1)) / float64(s.LoadDoneBytes))
		}
		add("loading_start_time", s.LoadStart)
		add("loading_total_bytes", s.LoadTotalBytes)
		add("loading_rdb_used_mem", 0)
		add("loading_loaded_bytes", s.LoadDoneBytes)
		add("loading_loaded_perc", fmt.Sprintf("%.2f", perc))
		add("loading_eta_seconds", eta)
	}
	add("cachesrv_last_save_keys", s.LastKeys)
	add("cachesrv_last_save_bytes", s.LastBytes)
	add("cachesrv_last_load_keys_evicted", s.LastLoad.Evicted)
	add("cachesrv_last_load_keys_skipped", s.LastLoad.Skipped)
	return out
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
