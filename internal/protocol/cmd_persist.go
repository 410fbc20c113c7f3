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
	sh, h := c.lockKey(args[1])
	defer c.unlock(sh)
	e, ok := sh.LookupLocked(c.db, args[1], h, c.now, store.NoTouch|store.NoStats)
	if !ok {
		c.addNull()
		return
	}
	if e.Type != store.TypeString {
		c.addError("ERR DUMP is not supported for values of type " + store.TypeName(e.Type))
		return
	}
	p := rdb.DumpString(c.scratch[:0], e.Value)
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
	sh, h := c.lockKey(key)
	defer c.unlock(sh)
	exists := sh.ExistsLocked(c.db, key, h, c.now)
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
	val, err := r.ReadValue(typ, c.scratch[:0])
	if err != nil {
		if t, unsupported := rdb.IsUnsupported(err); unsupported {
			c.addError("ERR RESTORE of values of type " + rdb.TypeName(t) + " is not supported by cachesrv")
			return
		}
		c.addError(errBadFormat)
		return
	}
	c.keepScratch(val)
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
			sh.DeleteLocked(c.db, key, h, c.now, store.Deleted)
		}
		c.addOK()
		return
	}
	if err := sh.SetLocked(c.db, key, h, val, store.Meta{Type: store.TypeString, Deadline: deadline}, c.now); err != nil {
		c.storeError(err)
		return
	}
	// A FREQ hint replays accesses so the eviction policy sees a hot key.
	// IDLETIME is validated but cannot be applied: no policy can backdate
	// an access.
	for range min(freq, restoreTouchCap) {
		sh.LookupLocked(c.db, key, h, c.now, store.NoStats)
	}
	c.addOK()
}
