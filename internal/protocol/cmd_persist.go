package protocol

import (
	"github.com/cachesrv/cachesrv/internal/rdb"
	"github.com/cachesrv/cachesrv/internal/store"
)

// DUMP and RESTORE speak Redis's serialization (package rdb) so tools that
// copy keys between servers work both ways between redis-server and
// cachesrv. Only strings have a Redis form today; tags, versions and soft
// deadlines are cachesrv's own and are not part of a DUMP payload.

const (
	errDumpPayload = "ERR DUMP payload version or checksum are wrong"
	errBusyKey     = "BUSYKEY Target key name already exists."
	errBadFormat   = "ERR Bad data format"
)

// restoreTouchCap bounds the accesses a FREQ hint replays into the eviction
// policy (W-TinyLFU's sketch counters saturate at 15).
const restoreTouchCap = 15

func cmdDump(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, args[1], h, store.NoTouch|store.NoStats)
	if !ok {
		c.addNull()
		return
	}
	var p []byte
	if e.Type == store.TypeString {
		p = rdb.DumpString(c.scratch[:0], e.Value)
	} else {
		var rc rdb.Collection
		if !c.collToRDB(e.Type, e.Value, &rc) {
			return
		}
		p = rdb.DumpCollection(c.scratch[:0], &rc)
	}
	c.addBulk(p)
	c.keepScratch(p)
}

func cmdRestore(c *Client, args [][]byte) {
	key := args[1]
	var replace, absTTL bool
	freq, idle := int64(-1), int64(-1)
	for i := 4; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case eq(args[i], "replace"):
			replace = true
		case eq(args[i], "absttl"):
			absTTL = true
		case eq(args[i], "idletime") && more >= 1 && freq == -1:
			v, ok := parseInt(args[i+1])
			if !ok {
				c.addError(errNotInt)
				return
			}
			if v < 0 {
				c.addError("ERR Invalid IDLETIME value, must be >= 0")
				return
			}
			idle = v
			i++
		case eq(args[i], "freq") && more >= 1 && idle == -1:
			v, ok := parseInt(args[i+1])
			if !ok {
				c.addError(errNotInt)
				return
			}
			if v < 0 || v > 255 {
				c.addError("ERR Invalid FREQ value, must be >= 0 and <= 255")
				return
			}
			freq = v
			i++
		default:
			c.addError(errSyntax)
			return
		}
	}
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	exists := c.tx.Exists(c.db, key, h)
	if !replace && exists {
		c.addError(errBusyKey)
		return
	}
	ttl, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	if ttl < 0 {
		c.addError("ERR Invalid TTL value, must be >= 0")
		return
	}
	typ, body, err := rdb.ParseDump(args[3])
	if err != nil {
		c.addError(errDumpPayload)
		return
	}
	r := rdb.NewBytesReader(body)
	r.MaxString = int(c.srv.maxBulk.Load())
	meta := store.Meta{Type: store.TypeString}
	var val []byte
	var fieldNext int64
	if rdb.IsCollectionType(typ) {
		var rc rdb.Collection
		if err := r.ReadCollection(typ, &rc); err != nil {
			if t, unsupported := rdb.IsUnsupported(err); unsupported {
				c.addError("ERR RESTORE of values of type " + rdb.TypeName(t) + " is not supported by cachesrv")
				return
			}
			c.addError(errBadFormat)
			return
		}
		var empty bool
		meta.Type, val, fieldNext, empty = store.BuildCollection(&rc, c.now)
		if empty {
			// Redis refuses empty collections in payloads; every field
			// of a restored hash already expired leaves nothing either.
			if len(rc.Items) == 0 {
				c.addError(errBadFormat)
				return
			}
			if exists {
				c.tx.Delete(c.db, key, h, store.Deleted)
			}
			c.addOK()
			return
		}
	} else {
		var err error
		val, err = r.ReadValue(typ, c.scratch[:0])
		if err != nil {
			if t, unsupported := rdb.IsUnsupported(err); unsupported {
				c.addError("ERR RESTORE of values of type " + rdb.TypeName(t) + " is not supported by cachesrv")
				return
			}
			c.addError(errBadFormat)
			return
		}
		c.keepScratch(val)
	}
	deadline := ttl
	if ttl != 0 && !absTTL {
		deadline = c.now + ttl
		if deadline < ttl { // overflow
			c.addError(errNotInt)
			return
		}
	}
	if deadline != 0 && deadline <= c.now {
		// Already expired: Redis replies OK and stores nothing (REPLACE
		// still removes the old key).
		if exists {
			c.tx.Delete(c.db, key, h, store.Deleted)
		}
		c.addOK()
		return
	}
	meta.Deadline = deadline
	if err := c.tx.Set(c.db, key, h, val, meta); err != nil {
		c.replyErr(err)
		return
	}
	if fieldNext != 0 {
		c.tx.SetFieldDeadline(c.db, key, h, fieldNext)
	}
	if meta.Type == store.TypeList || meta.Type == store.TypeZSet {
		c.srv.blocked.signal(c.db, key) // wake a BLPOP/BZPOPMIN waiter
	}
	// A FREQ hint replays accesses so the eviction policy sees a hot key.
	// IDLETIME is validated but cannot be applied: no policy can backdate
	// an access.
	for range min(freq, restoreTouchCap) {
		c.tx.Lookup(c.db, key, h, store.NoStats)
	}
	c.addOK()
}

const errLoading = "LOADING Redis is loading the dataset in memory"

// Persistence is what the persistence commands need (package persist
// implements it; the app wires it in).
type Persistence interface {
	// Save writes a snapshot before returning (SAVE).
	Save() error
	// BGSave starts a background save and returns Redis's status text.
	BGSave(schedule bool) (string, error)
	// LastSave is the unix time of the last successful save.
	LastSave() int64
	// Shutdown takes the shutdown snapshot as mode says (ShutdownDefault,
	// ShutdownSave, ShutdownNoSave).
	Shutdown(mode int) error
	// Info returns the INFO persistence fields.
	Info() [][2]string
}

// SHUTDOWN snapshot modes.
const (
	ShutdownDefault = iota // save when a save schedule (or save-on-shutdown) is configured
	ShutdownSave
	ShutdownNoSave
)

// SetLoading turns the loading state on or off: while on, commands without
// the loading flag get Redis's -LOADING error.
func (s *Server) SetLoading(on bool) { s.loading.Store(on) }

// WriteCalls returns the number of successful write commands so far
// (rdb_changes_since_last_save counts their growth).
func (s *Server) WriteCalls() uint64 {
	var n uint64
	for _, cmd := range s.table.all {
		if cmd.Flags&FlagWrite == 0 {
			continue
		}
		for i := range s.stats.cmds {
			st := &s.stats.cmds[i][cmd.id]
			n += st.calls.Load() - st.failed.Load()
		}
	}
	return n
}

func (c *Client) persistence() Persistence {
	p := c.srv.opts.Persistence
	if p == nil {
		c.addError("ERR persistence is not available")
	}
	return p
}

func cmdSave(c *Client, args [][]byte) {
	p := c.persistence()
	if p == nil {
		return
	}
	if err := p.Save(); err != nil {
		c.addError("ERR " + err.Error())
		return
	}
	c.addOK()
}

func cmdBGSave(c *Client, args [][]byte) {
	schedule := false
	if len(args) > 2 {
		c.addError(errSyntax)
		return
	}
	if len(args) == 2 {
		if !eq(args[1], "schedule") {
			c.addError(errSyntax)
			return
		}
		schedule = true
	}
	p := c.persistence()
	if p == nil {
		return
	}
	msg, err := p.BGSave(schedule)
	if err != nil {
		c.addError("ERR " + err.Error())
		return
	}
	c.addSimple(msg)
}

func cmdLastSave(c *Client, args [][]byte) {
	p := c.persistence()
	if p == nil {
		return
	}
	c.addInt(p.LastSave())
}

// shutdownSave takes the SHUTDOWN snapshot; on failure it replies as Redis
// does and the server keeps running.
func (c *Client) shutdownSave(args [][]byte) bool {
	p := c.srv.opts.Persistence
	if p == nil {
		return true
	}
	mode := ShutdownDefault
	for _, a := range args[1:] {
		switch {
		case eq(a, "nosave"):
			mode = ShutdownNoSave
		case eq(a, "save"):
			mode = ShutdownSave
		}
	}
	if err := p.Shutdown(mode); err != nil {
		c.srv.log.Error("SHUTDOWN: snapshot failed; not shutting down", "err", err)
		c.addError("ERR Errors trying to SHUTDOWN. Check logs.")
		return false
	}
	return true
}
