package protocol

import (
	"math"
	"math/big"
	"strconv"

	"github.com/cachesrv/cachesrv/internal/expire"
	"github.com/cachesrv/cachesrv/internal/longdouble"
	"github.com/cachesrv/cachesrv/internal/store"
)

func (c *Client) lookupFlags() int {
	if c.noTouch {
		return store.NoTouch
	}
	return 0
}

func (c *Client) invalidExpire() {
	c.addError("ERR invalid expire time in '" + c.cmd.Name + "' command")
}

// jitterOpt is the NOJITTER / JITTER f option of SET, GETEX, TAGSET and
// CACHE.FILL: off turns jitter off, frac overrides the configured fraction
// (-1: use the configured one). Start from defaultJitter.
type jitterOpt struct {
	off  bool
	frac float64
}

var defaultJitter = jitterOpt{frac: -1}

// isJitterOpt reports whether a is NOJITTER or JITTER.
func isJitterOpt(a []byte) bool { return eq(a, "nojitter") || eq(a, "jitter") }

// parse consumes NOJITTER or JITTER f at args[i] (isJitterOpt) and returns
// how many arguments it used; ok=false means the error reply was written.
func (j *jitterOpt) parse(c *Client, args [][]byte, i int) (n int, ok bool) {
	if eq(args[i], "nojitter") {
		j.off = true
		return 1, true
	}
	if i+1 >= len(args) {
		c.addError(errSyntax)
		return 0, false
	}
	f, ok := parseFloat(args[i+1])
	if !ok || f < 0 || f > 1 {
		c.addError("ERR jitter must be a fraction between 0 and 1")
		return 0, false
	}
	j.frac = f
	return 2, true
}

// ttlDeadline turns an expire argument into an absolute deadline in unix
// ms. unit is 1000 for seconds and 1 for milliseconds; abs marks EXAT/PXAT
// style timestamps. Relative TTLs get jitter as jit says. ok=false means
// the reply (an error) was written.
func (c *Client) ttlDeadline(arg []byte, unit int64, abs bool, jit jitterOpt) (int64, bool) {
	n, ok := parseInt(arg)
	if !ok {
		c.addError(errNotInt)
		return 0, false
	}
	if n <= 0 || (unit == 1000 && n > math.MaxInt64/1000) {
		c.invalidExpire()
		return 0, false
	}
	ms := n * unit
	if abs {
		return ms, true
	}
	if jitter := jit.frac; !jit.off {
		if jitter < 0 {
			jitter = float64frombits(c.srv.jitter.Load())
		}
		if jitter > 0 {
			ms = expire.Jitter(ms, jitter, c.rand())
		}
	}
	if ms > math.MaxInt64-c.now {
		c.invalidExpire()
		return 0, false
	}
	return c.now + ms, true
}

// rand is a per-client xorshift generator (jitter, RANDOMKEY).
func (c *Client) rand() uint64 {
	if c.rnd == 0 {
		c.rnd = uint64(c.id)*0x9E3779B97F4A7C15 | 1
	}
	c.rnd ^= c.rnd << 13
	c.rnd ^= c.rnd >> 7
	c.rnd ^= c.rnd << 17
	return c.rnd
}

// replyString looks key up in its (locked) shard and replies with its
// string value, a null, or WRONGTYPE. ok reports that a value was sent.
func (c *Client) replyString(key []byte, h uint64) (e store.Entry, ok bool) {
	e, ok = c.tx.Lookup(c.db, key, h, c.lookupFlags())
	switch {
	case !ok:
		c.addNull()
	case e.Type != store.TypeString:
		c.addError(errWrongType)
		ok = false
	default:
		c.addBulk(e.Value)
	}
	return e, ok
}

func cmdGet(c *Client, args [][]byte) {
	if c.srv.origins != nil {
		originGet(c, args[1])
		return
	}
	h := c.tx.Key(c.now, args[1])
	c.replyString(args[1], h)
	c.tx.Release()
}

// setOpts are SET's parsed options.
type setOpts struct {
	nx, xx, get, keepTTL bool
	deadline             int64
	hasTTL               bool
	// TAGSET extras
	tags        []byte // resolved tag references
	version     uint64 // 0 = none
	capDeadline int64  // the entry may not outlive this (its dependencies' deadline); 0 = none
}

// parseSetOpts parses SET's options from args[i:]. ok=false means the
// error reply was written.
func (c *Client) parseSetOpts(args [][]byte, o *setOpts) bool {
	jit := defaultJitter
	type ttlArg struct {
		arg  []byte
		unit int64
		abs  bool
	}
	var ttl *ttlArg
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := i+1 < len(args)
		switch {
		case eq(a, "nx") && !o.xx:
			o.nx = true
		case eq(a, "xx") && !o.nx:
			o.xx = true
		case eq(a, "get"):
			o.get = true
		case eq(a, "keepttl") && ttl == nil:
			o.keepTTL = true
		case eq(a, "ex") && next && ttl == nil && !o.keepTTL:
			ttl = &ttlArg{args[i+1], 1000, false}
			i++
		case eq(a, "px") && next && ttl == nil && !o.keepTTL:
			ttl = &ttlArg{args[i+1], 1, false}
			i++
		case eq(a, "exat") && next && ttl == nil && !o.keepTTL:
			ttl = &ttlArg{args[i+1], 1000, true}
			i++
		case eq(a, "pxat") && next && ttl == nil && !o.keepTTL:
			ttl = &ttlArg{args[i+1], 1, true}
			i++
		case isJitterOpt(a):
			n, ok := jit.parse(c, args, i)
			if !ok {
				return false
			}
			i += n - 1
		default:
			c.addError(errSyntax)
			return false
		}
	}
	if ttl != nil {
		d, ok := c.ttlDeadline(ttl.arg, ttl.unit, ttl.abs, jit)
		if !ok {
			return false
		}
		o.deadline, o.hasTTL = d, true
	}
	return true
}

// setGeneric implements SET and its relatives once the options are known.
// It writes the reply.
func (c *Client) setGeneric(key, val []byte, o *setOpts, okReply bool) {
	if c.srv.origins != nil && !c.originWriteThrough(key, val, false) {
		return
	}
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	e, exists := c.tx.Lookup(c.db, key, h, store.NoStats|store.NoTouch)
	if o.get {
		if exists && e.Type != store.TypeString {
			c.addError(errWrongType)
			return
		}
	}
	var old []byte
	if o.get && exists {
		old = append(c.scratch[:0], e.Value...)
		c.scratch = old
	}
	if (o.nx && exists) || (o.xx && !exists) {
		switch {
		case o.get:
			c.addOld(old, exists)
		case !okReply: // SETNX: an integer reply
			c.addInt(0)
		default:
			c.addNull()
		}
		return
	}
	if o.version != 0 && exists && e.Version >= o.version {
		if c.srv.tags != nil {
			c.srv.tags.CountVersionRejection()
		}
		c.addError("OLDVERSION stored version " + strconv.FormatUint(e.Version, 10) +
			" is not older than " + strconv.FormatUint(o.version, 10))
		return
	}
	m := store.Meta{Type: store.TypeString, Tags: o.tags, Version: o.version}
	if o.keepTTL && exists {
		m.Deadline = e.Deadline
	}
	if o.hasTTL {
		m.Deadline = o.deadline
	}
	if o.capDeadline != 0 && (m.Deadline == 0 || o.capDeadline < m.Deadline) {
		m.Deadline = o.capDeadline
	}
	if m.Deadline != 0 {
		if m.Deadline <= c.now {
			// A deadline in the past deletes the key: an expiry, not a write.
			if exists {
				c.tx.Delete(c.db, key, h, store.Expired)
			}
			c.replySetDone(o, old, exists, okReply)
			return
		}
	}
	if err := c.tx.Set(c.db, key, h, val, m); err != nil {
		c.replyErr(err)
		return
	}
	if c.srv.origins != nil && !c.originWrittenLocked(key, h, val, false) {
		return
	}
	c.replySetDone(o, old, exists, okReply)
}

func (c *Client) replySetDone(o *setOpts, old []byte, existed, okReply bool) {
	switch {
	case o.get:
		c.addOld(old, existed)
	case okReply:
		c.addOK()
	default:
		c.addInt(1)
	}
}

func (c *Client) addOld(old []byte, existed bool) {
	if existed {
		c.addBulk(old)
	} else {
		c.addNull()
	}
}

// errOOMTooLarge answers a write of an entry that cannot fit under
// maxmemory at all.

func cmdSet(c *Client, args [][]byte) {
	var o setOpts
	if !c.parseSetOpts(args[3:], &o) {
		return
	}
	c.setGeneric(args[1], args[2], &o, true)
}

func cmdSetNX(c *Client, args [][]byte) {
	// The existence check and the write are one step under the key's lock:
	// a concurrent SET cannot slip between them.
	o := setOpts{nx: true}
	c.setGeneric(args[1], args[2], &o, false)
}

func cmdSetEX(c *Client, args [][]byte)  { setWithTTL(c, args, 1000) }
func cmdPSetEX(c *Client, args [][]byte) { setWithTTL(c, args, 1) }

func setWithTTL(c *Client, args [][]byte, unit int64) {
	d, ok := c.ttlDeadline(args[2], unit, false, defaultJitter)
	if !ok {
		return
	}
	o := setOpts{deadline: d, hasTTL: true}
	c.setGeneric(args[1], args[3], &o, true)
}

func cmdGetSet(c *Client, args [][]byte) {
	o := setOpts{get: true}
	c.setGeneric(args[1], args[2], &o, true)
}

func cmdGetDel(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	if _, ok := c.replyString(args[1], h); ok {
		c.tx.Delete(c.db, args[1], h, store.Deleted)
	}
}

func cmdGetEx(c *Client, args [][]byte) {
	var deadline int64
	persist, set := false, false
	jit := defaultJitter
	var ttl []byte
	var unit int64
	var abs bool
	for i := 2; i < len(args); i++ {
		a := args[i]
		next := i+1 < len(args)
		switch {
		case eq(a, "persist") && !set && !persist:
			persist = true
		case (eq(a, "ex") || eq(a, "px") || eq(a, "exat") || eq(a, "pxat")) && next && !set && !persist:
			set = true
			ttl = args[i+1]
			unit = 1000
			if a[0] == 'p' || a[0] == 'P' {
				unit = 1
			}
			abs = len(a) == 4
			i++
		case isJitterOpt(a):
			n, ok := jit.parse(c, args, i)
			if !ok {
				return
			}
			i += n - 1
		default:
			c.addError(errSyntax)
			return
		}
	}
	if c.srv.origins != nil && !c.originPreload(args[1]) {
		return
	}
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	// As Redis: a missing key (or a wrong type) is answered before the
	// expire time is validated, so GETEX missing EX 0 replies nil.
	e, ok := c.tx.Lookup(c.db, args[1], h, c.lookupFlags())
	switch {
	case !ok:
		c.addNull()
		return
	case e.Type != store.TypeString:
		c.addError(errWrongType)
		return
	}
	if set {
		d, ok := c.ttlDeadline(ttl, unit, abs, jit)
		if !ok {
			return
		}
		deadline = d
	}
	c.addBulk(e.Value)
	switch {
	case set && deadline <= c.now:
		c.tx.Delete(c.db, args[1], h, store.Expired)
	case set:
		m := e.Meta
		m.Deadline = deadline
		c.tx.SetMeta(c.db, args[1], h, m)
	case persist && e.Deadline != 0:
		m := e.Meta
		m.Deadline = 0
		c.tx.SetMeta(c.db, args[1], h, m)
	}
}

func cmdMGet(c *Client, args [][]byte) {
	if c.srv.origins != nil {
		originMGet(c, args)
		return
	}
	// Every key's shard is locked for the whole read, so MGET sees one
	// point in time (a concurrent MSET or EXEC is all or nothing).
	c.tx.Keys(c.now, args[1:])
	defer c.tx.Release()
	c.addArray(len(args) - 1)
	flags := c.lookupFlags()
	for _, k := range args[1:] {
		h := c.st.Hash(k)
		e, ok := c.tx.Lookup(c.db, k, h, flags)
		if ok && e.Type == store.TypeString {
			c.addBulk(e.Value)
		} else {
			c.addNull()
		}
	}
}

func keysOf(args [][]byte, first, step int, dst [][]byte) [][]byte {
	for i := first; i < len(args); i += step {
		dst = append(dst, args[i])
	}
	return dst
}

func cmdMSet(c *Client, args [][]byte)   { msetGeneric(c, args, false) }
func cmdMSetNX(c *Client, args [][]byte) { msetGeneric(c, args, true) }

func msetGeneric(c *Client, args [][]byte, nx bool) {
	if len(args)%2 != 1 {
		c.addError("ERR wrong number of arguments for '" + c.cmd.Name + "' command")
		return
	}
	keys := keysOf(args, 1, 2, nil)
	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	if nx {
		for _, k := range keys {
			h := c.st.Hash(k)
			if c.tx.Exists(c.db, k, h) {
				c.addInt(0)
				return
			}
		}
	}
	for i := 1; i < len(args); i += 2 {
		h := c.st.Hash(args[i])
		if err := c.tx.Set(c.db, args[i], h, args[i+1], store.Meta{}); err != nil {
			c.replyErr(err)
			return
		}
	}
	if nx {
		c.addInt(1)
	} else {
		c.addOK()
	}
}

func cmdIncr(c *Client, args [][]byte) { incrBy(c, args[1], 1) }
func cmdDecr(c *Client, args [][]byte) { incrBy(c, args[1], -1) }

func cmdIncrBy(c *Client, args [][]byte) {
	n, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	incrBy(c, args[1], n)
}

func cmdDecrBy(c *Client, args [][]byte) {
	n, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	if n == math.MinInt64 {
		c.addError("ERR decrement would overflow")
		return
	}
	incrBy(c, args[1], -n)
}

func incrBy(c *Client, key []byte, by int64) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, key, h, store.NoStats)
	var cur int64
	m := store.Meta{}
	if ok {
		if e.Type != store.TypeString {
			c.addError(errWrongType)
			return
		}
		v, valid := parseInt(e.Value)
		if !valid {
			c.addError(errNotInt)
			return
		}
		cur = v
		m = e.Meta
	}
	if (by > 0 && cur > math.MaxInt64-by) || (by < 0 && cur < math.MinInt64-by) {
		c.addError(errOverflow)
		return
	}
	cur += by
	c.scratch = strconv.AppendInt(c.scratch[:0], cur, 10)
	if err := c.tx.Set(c.db, key, h, c.scratch, m); err != nil {
		c.replyErr(err)
		return
	}
	c.addInt(cur)
}

// cmdIncrByFloat adds in long double precision as Redis does (package
// longdouble), so replies match redis-server byte for byte.
func cmdIncrByFloat(c *Client, args [][]byte) {
	by, ok := longdouble.Parse(args[2])
	if !ok {
		c.addError(errNotFloat)
		return
	}
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, found := c.tx.Lookup(c.db, args[1], h, store.NoStats)
	cur := new(big.Float)
	m := store.Meta{}
	if found {
		if e.Type != store.TypeString {
			c.addError(errWrongType)
			return
		}
		v, valid := longdouble.Parse(e.Value)
		if !valid {
			c.addError(errNotFloat)
			return
		}
		cur, m = v, e.Meta
	}
	sum, ok := longdouble.Add(cur, by)
	if !ok {
		c.addError(errNaN)
		return
	}
	c.scratch = longdouble.AppendHuman(c.scratch[:0], sum)
	if err := c.tx.Set(c.db, args[1], h, c.scratch, m); err != nil {
		c.replyErr(err)
		return
	}
	c.addBulk(c.scratch)
}

func cmdAppend(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, args[1], h, store.NoStats)
	m := store.Meta{}
	var v []byte
	if ok {
		if e.Type != store.TypeString {
			c.addError(errWrongType)
			return
		}
		if int64(len(e.Value)+len(args[2])) > c.srv.maxBulk.Load() {
			c.addError(errStrTooBig)
			return
		}
		if !c.st.Fits(int64(len(args[1])), int64(len(e.Value)+len(args[2]))) {
			c.replyErr(store.ErrTooLarge)
			return
		}
		m = e.Meta
		v = append(append(c.scratch[:0], e.Value...), args[2]...)
	} else {
		v = append(c.scratch[:0], args[2]...)
	}
	c.keepScratch(v)
	if err := c.tx.Set(c.db, args[1], h, v, m); err != nil {
		c.replyErr(err)
		return
	}
	c.addInt(int64(len(v)))
}

// keepScratch retains a grown scratch buffer unless it became huge.
func (c *Client) keepScratch(b []byte) {
	if cap(b) <= 64<<10 {
		c.scratch = b[:0]
	}
}

func cmdStrlen(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, args[1], h, c.lookupFlags())
	switch {
	case !ok:
		c.addInt(0)
	case e.Type != store.TypeString:
		c.addError(errWrongType)
	default:
		c.addInt(int64(len(e.Value)))
	}
}

func cmdGetRange(c *Client, args [][]byte) {
	start, ok1 := parseInt(args[2])
	end, ok2 := parseInt(args[3])
	if !ok1 || !ok2 {
		c.addError(errNotInt)
		return
	}
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, args[1], h, c.lookupFlags())
	if !ok {
		c.addBulk(nil)
		return
	}
	if e.Type != store.TypeString {
		c.addError(errWrongType)
		return
	}
	n := int64(len(e.Value))
	if start < 0 && end < 0 && start > end {
		c.addBulk(nil)
		return
	}
	if start < 0 {
		start = n + start
	}
	if end < 0 {
		end = n + end
	}
	if start < 0 {
		start = 0
	}
	if end < 0 {
		end = 0
	}
	if end >= n {
		end = n - 1
	}
	if start > end || n == 0 {
		c.addBulk(nil)
		return
	}
	c.addBulk(e.Value[start : end+1])
}

func cmdSetRange(c *Client, args [][]byte) {
	off, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	if off < 0 {
		c.addError(errOffset)
		return
	}
	val := args[3]
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, found := c.tx.Lookup(c.db, args[1], h, store.NoStats)
	if found && e.Type != store.TypeString {
		c.addError(errWrongType)
		return
	}
	if len(val) == 0 {
		if found {
			c.addInt(int64(len(e.Value)))
		} else {
			c.addInt(0)
		}
		return
	}
	// Checked before anything is allocated, overflow-safe: off may be
	// close to MaxInt64.
	if off > c.srv.maxBulk.Load()-int64(len(val)) {
		c.addError(errStrTooBig)
		return
	}
	if !c.st.Fits(int64(len(args[1])), off+int64(len(val))) {
		c.replyErr(store.ErrTooLarge)
		return
	}
	var cur []byte
	m := store.Meta{}
	if found {
		cur, m = e.Value, e.Meta
	}
	size := int(off) + len(val)
	if len(cur) > size {
		size = len(cur)
	}
	buf := c.scratch[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = buf[:size]
	copy(buf, cur)
	clear(buf[len(cur):])
	copy(buf[off:], val)
	c.keepScratch(buf)
	if err := c.tx.Set(c.db, args[1], h, buf, m); err != nil {
		c.replyErr(err)
		return
	}
	c.addInt(int64(size))
}
