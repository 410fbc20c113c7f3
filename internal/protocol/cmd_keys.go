package protocol

import (
	"math"
	"strconv"

	"github.com/cachesrv/cachesrv/internal/expire"
	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/store"
)

func cmdDel(c *Client, args [][]byte) {
	keys := args[1:]
	if c.srv.origins != nil {
		for _, k := range keys {
			if !c.originWriteThrough(k, nil, true) {
				return
			}
		}
	}
	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	var n int64
	for _, k := range keys {
		h := c.st.Hash(k)
		if c.tx.Delete(c.db, k, h, store.Deleted) {
			n++
		}
		if c.srv.origins != nil && !c.originWrittenLocked(k, h, nil, true) {
			return
		}
	}
	c.addInt(n)
}

func cmdExists(c *Client, args [][]byte) { c.addInt(countLive(c, args[1:], store.NoTouch)) }

func cmdTouch(c *Client, args [][]byte) {
	c.addInt(countLive(c, args[1:], store.NoStats|c.lookupFlags()))
}

// countLive counts the live keys among keys (repeats counted, as Redis
// does), with every key's shard locked for the whole count so it reflects
// one point in time.
func countLive(c *Client, keys [][]byte, flags int) int64 {
	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	var n int64
	for _, k := range keys {
		h := c.st.Hash(k)
		if _, ok := c.tx.Lookup(c.db, k, h, flags); ok {
			n++
		}
	}
	return n
}

func cmdType(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[1])
	e, ok := c.tx.Lookup(c.db, args[1], h, store.NoTouch)
	c.tx.Release()
	if !ok {
		c.addSimple("none")
		return
	}
	c.addSimple(store.TypeName(e.Type))
}

// moveEntry copies (value, meta) of src in db sdb to dst in db ddb and
// deletes src unless keep. The caller holds both keys' shards.
func (c *Client) copyEntry(src []byte, sdb int, dst []byte, ddb int, replace, del bool) (int64, bool) {
	hs := c.st.Hash(src)
	e, ok := c.tx.Lookup(sdb, src, hs, store.NoStats|store.NoTouch)
	if !ok {
		return 0, false
	}
	hd := c.st.Hash(dst)
	if c.tx.Exists(ddb, dst, hd) && !replace {
		return 0, true
	}
	m := e.Meta
	if !del || sdb != ddb {
		m.Tags = nil // COPY and MOVE drop tags; RENAME keeps them
	}
	if err := c.tx.Set(ddb, dst, hd, e.Value, m); err != nil {
		c.replyErr(err)
		return -1, true
	}
	if m.Type == store.TypeList || m.Type == store.TypeZSet {
		c.srv.blocked.signal(ddb, dst) // RENAME/COPY/MOVE onto a key a client waits on
	}
	if del {
		c.tx.Delete(sdb, src, hs, store.Deleted)
	}
	return 1, true
}

func cmdRename(c *Client, args [][]byte)   { renameGeneric(c, args, false) }
func cmdRenameNX(c *Client, args [][]byte) { renameGeneric(c, args, true) }

func renameGeneric(c *Client, args [][]byte, nx bool) {
	src, dst := args[1], args[2]
	c.tx.Keys(c.now, args[1:3])
	defer c.tx.Release()
	if string(src) == string(dst) {
		h := c.st.Hash(src)
		if !c.tx.Exists(c.db, src, h) {
			c.addError(errNoSuchKey)
		} else if nx {
			c.addInt(0)
		} else {
			c.addOK()
		}
		return
	}
	n, found := c.copyEntry(src, c.db, dst, c.db, !nx, true)
	switch {
	case !found:
		c.addError(errNoSuchKey)
	case n < 0:
	case nx:
		c.addInt(n)
	default:
		c.addOK()
	}
}

func cmdCopy(c *Client, args [][]byte) {
	ddb, replace := c.db, false
	for i := 3; i < len(args); i++ {
		switch {
		case eq(args[i], "replace"):
			replace = true
		case eq(args[i], "db") && i+1 < len(args):
			n, ok := c.parseDB(args[i+1])
			if !ok {
				return
			}
			ddb = n
			i++
		default:
			c.addError(errSyntax)
			return
		}
	}
	if ddb == c.db && string(args[1]) == string(args[2]) {
		c.addError(errSameObject)
		return
	}
	c.tx.Keys(c.now, args[1:3])
	defer c.tx.Release()
	n, _ := c.copyEntry(args[1], c.db, args[2], ddb, replace, false)
	if n >= 0 {
		c.wroteOtherDB(ddb, args[2])
		c.addInt(n)
	}
}

// parseDB parses a database index, replying with Redis's error when it is
// not one.
func (c *Client) parseDB(arg []byte) (int, bool) {
	n, ok := parseInt(arg)
	if !ok {
		c.addError(errNotInt)
		return 0, false
	}
	if n < 0 || n >= int64(c.st.Databases()) {
		c.addError(errDBRange)
		return 0, false
	}
	return int(n), true
}

func cmdMove(c *Client, args [][]byte) {
	n, ok := c.parseDB(args[2])
	if !ok {
		return
	}
	if n == c.db {
		c.addError(errSameObject)
		return
	}
	c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	moved, _ := c.copyEntry(args[1], c.db, args[1], n, false, true)
	if moved >= 0 {
		c.wroteOtherDB(n, args[1])
		c.addInt(moved)
	}
}

func cmdKeys(c *Client, args [][]byte) {
	pattern := args[1]
	all := len(pattern) == 1 && pattern[0] == '*'
	var keys [][]byte
	cursor := uint64(0)
	for {
		cursor = c.scan(cursor, 1024, func(k []byte, _ uint8) {
			if all || glob.MatchBytes(pattern, k, false) {
				keys = append(keys, append([]byte(nil), k...))
			}
		})
		if cursor == 0 {
			break
		}
	}
	c.addArray(len(keys))
	for _, k := range keys {
		c.addBulk(k)
	}
}

// scan walks the database, honouring locks already held by EXEC.
func (c *Client) scan(cursor uint64, count int, fn func([]byte, uint8)) uint64 {
	return c.tx.Scan(c.db, cursor, count, fn)
}

func cmdScan(c *Client, args [][]byte) {
	cursor, err := strconv.ParseUint(b2s(args[1]), 10, 64)
	if err != nil {
		c.addError("ERR invalid cursor")
		return
	}
	count := 10
	var match []byte
	typ := -1
	for i := 2; i < len(args); i++ {
		if i+1 >= len(args) {
			c.addError(errSyntax)
			return
		}
		switch {
		case eq(args[i], "count"):
			n, ok := parseInt(args[i+1])
			if !ok {
				c.addError(errNotInt)
				return
			}
			if n < 1 {
				c.addError(errSyntax)
				return
			}
			count = int(min(n, 1<<20))
		case eq(args[i], "match"):
			match = args[i+1]
			if len(match) == 1 && match[0] == '*' {
				match = nil
			}
		case eq(args[i], "type"):
			typ = 255 // unknown types match nothing
			if t, ok := typeByName(args[i+1]); ok {
				typ = int(t)
			}
		default:
			c.addError(errSyntax)
			return
		}
		i++
	}
	var keys [][]byte
	next := c.scan(cursor, count, func(k []byte, t uint8) {
		if typ >= 0 && int(t) != typ {
			return
		}
		if match != nil && !glob.MatchBytes(match, k, false) {
			return
		}
		keys = append(keys, append([]byte(nil), k...))
	})
	c.addArray(2)
	c.addBulkStr(strconv.FormatUint(next, 10))
	c.addArray(len(keys))
	for _, k := range keys {
		c.addBulk(k)
	}
}

func cmdRandomKey(c *Client, args [][]byte) {
	k, ok := c.tx.RandomKey(c.db, c.scratch[:0], c.rand())
	if !ok {
		c.addNull()
		return
	}
	c.addBulk(k)
	c.keepScratch(k)
}

func cmdDBSize(c *Client, args [][]byte) { c.addInt(c.tx.DBSize(c.db)) }

func parseFlushMode(c *Client, args [][]byte) bool {
	if len(args) > 2 || (len(args) == 2 && !eq(args[1], "async") && !eq(args[1], "sync")) {
		c.addError(errSyntax)
		return false
	}
	return true
}

func cmdFlushDB(c *Client, args [][]byte) {
	if !parseFlushMode(c, args) {
		return
	}
	c.tx.All(c.now)
	c.srv.tracking.setFlushing(true)
	c.tx.FlushDB(c.db)
	c.srv.tracking.setFlushing(false)
	c.tx.Release()
	c.keyspaceReplaced()
	c.srv.tracking.flushed()
	c.addOK()
}

func cmdFlushAll(c *Client, args [][]byte) {
	if !parseFlushMode(c, args) {
		return
	}
	c.tx.All(c.now)
	c.srv.tracking.setFlushing(true)
	c.tx.FlushAll()
	c.srv.tracking.setFlushing(false)
	c.tx.Release()
	c.keyspaceReplaced()
	c.srv.tracking.flushed()
	c.addOK()
}

func cmdSelect(c *Client, args [][]byte) {
	n, ok := c.parseDB(args[1])
	if !ok {
		return
	}
	c.db = n
	c.aDB.Store(int32(n))
	c.addOK()
}

func cmdSwapDB(c *Client, args [][]byte) {
	a, ok := parseInt(args[1])
	if !ok {
		c.addError("ERR invalid first DB index")
		return
	}
	b, ok := parseInt(args[2])
	if !ok {
		c.addError("ERR invalid second DB index")
		return
	}
	n := int64(c.st.Databases())
	if a < 0 || a >= n || b < 0 || b >= n {
		c.addError(errDBRange)
		return
	}
	c.tx.All(c.now)
	c.tx.SwapDB(int(a), int(b))
	if c.srv.tags != nil {
		c.srv.tags.SwapDB(int(a), int(b))
	}
	c.tx.Release()
	c.keyspaceReplaced()
	c.srv.tracking.flushed()
	c.srv.blocked.signalDBs(int(a), int(b)) // waiters may find their keys now
	c.addOK()
}

// expireGeneric implements EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
func expireGeneric(c *Client, args [][]byte, unit int64, abs bool) {
	n, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	var nx, xx, gt, lt, noJitter bool
	jitter := -1.0
	for i := 3; i < len(args); i++ {
		a := args[i]
		switch {
		case eq(a, "nx"):
			nx = true
		case eq(a, "xx"):
			xx = true
		case eq(a, "gt"):
			gt = true
		case eq(a, "lt"):
			lt = true
		case eq(a, "nojitter"):
			noJitter = true
		case eq(a, "jitter") && i+1 < len(args):
			f, ok := parseFloat(args[i+1])
			if !ok || f < 0 || f > 1 {
				c.addError("ERR jitter must be a fraction between 0 and 1")
				return
			}
			jitter = f
			i++
		default:
			c.addError("ERR Unsupported option " + string(a))
			return
		}
	}
	if nx && (xx || gt || lt) {
		c.addError("ERR NX and XX, GT or LT options at the same time are not compatible")
		return
	}
	if gt && lt {
		c.addError("ERR GT and LT options at the same time are not compatible")
		return
	}
	if unit == 1000 && (n > math.MaxInt64/1000 || n < math.MinInt64/1000) {
		c.invalidExpire()
		return
	}
	when := n * unit
	if !abs {
		if when > 0 && !noJitter {
			j := jitter
			if j < 0 {
				j = float64frombits(c.srv.jitter.Load())
			}
			if j > 0 {
				when = expire.Jitter(when, j, c.rand())
			}
		}
		if (when > 0 && c.now > math.MaxInt64-when) || (when < 0 && c.now < math.MinInt64-when) {
			c.invalidExpire()
			return
		}
		when += c.now
	}
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, found := c.tx.Lookup(c.db, args[1], h, store.NoStats|store.NoTouch)
	if !found {
		c.addInt(0)
		return
	}
	cur := e.Deadline
	switch {
	case nx && cur != 0, xx && cur == 0:
		c.addInt(0)
		return
	case gt && (cur == 0 || when <= cur):
		c.addInt(0)
		return
	case lt && cur != 0 && when >= cur:
		c.addInt(0)
		return
	}
	if when <= c.now {
		c.tx.Delete(c.db, args[1], h, store.Expired)
		c.addInt(1)
		return
	}
	m := e.Meta
	m.Deadline = when
	c.tx.SetMeta(c.db, args[1], h, m)
	c.addInt(1)
}

func cmdExpire(c *Client, args [][]byte)    { expireGeneric(c, args, 1000, false) }
func cmdPExpire(c *Client, args [][]byte)   { expireGeneric(c, args, 1, false) }
func cmdExpireAt(c *Client, args [][]byte)  { expireGeneric(c, args, 1000, true) }
func cmdPExpireAt(c *Client, args [][]byte) { expireGeneric(c, args, 1, true) }

// ttlGeneric implements TTL, PTTL, EXPIRETIME and PEXPIRETIME.
func ttlGeneric(c *Client, args [][]byte, ms, abs bool) {
	h := c.tx.Key(c.now, args[1])
	e, ok := c.tx.Lookup(c.db, args[1], h, store.NoTouch)
	c.tx.Release()
	switch {
	case !ok:
		c.addInt(-2)
	case e.Deadline == 0:
		c.addInt(-1)
	case abs && ms:
		c.addInt(e.Deadline)
	case abs:
		c.addInt(e.Deadline / 1000)
	case ms:
		c.addInt(max(e.Deadline-c.now, 0))
	default:
		c.addInt(max((e.Deadline-c.now+500)/1000, 0))
	}
}

func cmdTTL(c *Client, args [][]byte)         { ttlGeneric(c, args, false, false) }
func cmdPTTL(c *Client, args [][]byte)        { ttlGeneric(c, args, true, false) }
func cmdExpireTime(c *Client, args [][]byte)  { ttlGeneric(c, args, false, true) }
func cmdPExpireTime(c *Client, args [][]byte) { ttlGeneric(c, args, true, true) }

func cmdPersist(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, args[1], h, store.NoStats|store.NoTouch)
	if !ok || e.Deadline == 0 {
		c.addInt(0)
		return
	}
	m := e.Meta
	m.Deadline = 0
	c.tx.SetMeta(c.db, args[1], h, m)
	c.addInt(1)
}

func objectEncoding(v []byte) string {
	if len(v) <= 20 {
		if _, ok := parseInt(v); ok {
			return "int"
		}
	}
	if len(v) <= 44 {
		return "embstr"
	}
	return "raw"
}

func cmdObjectEncoding(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[2])
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, args[2], h, store.NoTouch|store.NoStats)
	if !ok {
		c.addNull()
		return
	}
	if e.Type != store.TypeString {
		c.addBulkStr(collEncoding(e.Type, e.Value))
		return
	}
	c.addBulkStr(objectEncoding(e.Value))
}

func cmdObjectRefcount(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[2])
	defer c.tx.Release()
	if !c.tx.Exists(c.db, args[2], h) {
		c.addNull()
		return
	}
	c.addInt(1)
}

func cmdObjectFreq(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[2])
	defer c.tx.Release()
	f, tracked, found := c.tx.Freq(c.db, args[2], h)
	switch {
	case !found:
		c.addNull()
	case !tracked:
		c.addError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	default:
		c.addInt(int64(f))
	}
}

func cmdObjectIdletime(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[2])
	defer c.tx.Release()
	ms, tracked, found := c.tx.Idle(c.db, args[2], h)
	switch {
	case !found:
		c.addNull()
	case !tracked:
		c.addError("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	default:
		c.addInt(ms / 1000)
	}
}

func cmdObjectHelp(c *Client, args [][]byte) {
	c.addHelp("OBJECT",
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
	)
}

// addHelp writes a HELP reply the way Redis formats them.
func (c *Client) addHelp(name string, lines ...string) {
	c.addArray(len(lines) + 2)
	c.addSimple(name + " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
	for _, l := range lines {
		c.addSimple(l)
	}
	c.addSimple("HELP")
	c.addSimple("    Print this help.")
}
