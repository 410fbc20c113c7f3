package protocol

import (
	"math"
	"strconv"
	"time"

	"github.com/cachesrv/cachesrv/internal/lease"
	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

// Stampede protection: the CACHE.* commands over internal/lease. The
// grammars and replies are documented in docs/stampede.md and in the
// command table's summaries.
//
// CACHE.GET replies with a 3-element array [state, value, token] in RESP2
// and RESP3 alike; value and token are null when absent:
//
//	HIT       fresh value; token set when this reader won an early refresh
//	STALE     stale value (grace period or soft invalidation); token set when
//	          this reader won the refresh lease
//	NOTFOUND  a negative entry: the origin said the key does not exist
//	LEASE     miss; this reader holds the fill lease (token)
//	PENDING   miss; another reader is filling (it did not wait, or its wait
//	          timed out)
//	MISS      miss and no lease (NOLEASE, or the lease table is full)

// Reply states of CACHE.GET.
const (
	stateHit      = "HIT"
	stateStale    = "STALE"
	stateNotFound = "NOTFOUND"
	stateLease    = "LEASE"
	statePending  = "PENDING"
	stateMiss     = "MISS"
)

// handler returns the CACHE.* handler called name; the table binds them
// when Options.Leases is set.
func (h *leaseHandlers) handler(name string) Handler {
	switch name {
	case "cache.get":
		return h.get
	case "cache.fill":
		return h.fill
	case "cache.notfound":
		return h.notFound
	case "cache.release":
		return h.release
	case "cache.stale":
		return h.stale
	}
	panic("BUG: no lease handler for " + name)
}

// cmdLeasesOff is the CACHE.* handler of a server without a lease manager.
func cmdLeasesOff(c *Client, args [][]byte) {
	c.addError("ERR stampede protection is not enabled on this server")
}

// leaseHandlers binds the CACHE.* commands to one lease manager.
type leaseHandlers struct {
	m    *lease.Manager
	opts lease.Options
}

// StampedeInfo returns the INFO "stampede" section of m.
func StampedeInfo(m *lease.Manager) []InfoField {
	s := m.Stats()
	u := func(n string, v uint64) InfoField { return InfoField{n, strconv.FormatUint(v, 10)} }
	return []InfoField{
		{"stampede_leases_active", strconv.FormatInt(s.Active, 10)},
		{"stampede_leases_bytes", strconv.FormatInt(s.Bytes, 10)},
		{"stampede_waiting_clients", strconv.FormatInt(s.Waiting, 10)},
		u("stampede_leases_granted", s.Granted),
		u("stampede_refresh_leases_granted", s.RefreshGranted),
		u("stampede_early_refreshes", s.EarlyRefreshes),
		u("stampede_leases_refused", s.Refused),
		u("stampede_leases_released", s.Released),
		u("stampede_leases_broken", s.Broken),
		u("stampede_leases_expired", s.Expired),
		u("stampede_fills", s.Fills),
		u("stampede_fills_rejected", s.FillsRejected),
		u("stampede_negative_fills", s.NegativeFills),
		u("stampede_negative_hits", s.NegativeHits),
		u("stampede_stale_serves", s.StaleServes),
		u("stampede_pending_replies", s.Pending),
		u("stampede_waits", s.Waits),
		u("stampede_wait_timeouts", s.WaitTimeouts),
		{"stampede_wait_time_ms", strconv.FormatInt(s.WaitTime.Milliseconds(), 10)},
		{"stampede_xfetch_beta", strconv.FormatFloat(m.Options().Beta, 'f', -1, 64)},
	}
}

// uniform returns a random float in (0, 1] from the client's generator.
func (c *Client) uniform() float64 {
	return float64(c.rand()>>11+1) / (1 << 53)
}

// addCacheReply writes CACHE.GET's [state, value, token] array.
func (c *Client) addCacheReply(state string, val []byte, hasVal bool, tok uint64) {
	c.addArray(3)
	c.addSimple(state)
	if hasVal {
		c.addBulk(val)
	} else {
		c.addNull()
	}
	if tok != 0 {
		c.addBulk(strconv.AppendUint(c.scratch[:0], tok, 10))
	} else {
		c.addNull()
	}
}

// parseMs parses a millisecond argument in [lo, hi]; ok=false means the
// error reply was written.
func (c *Client) parseMs(arg []byte, lo, hi int64, what string) (int64, bool) {
	n, ok := parseInt(arg)
	if !ok {
		c.addError(errNotInt)
		return 0, false
	}
	if n < lo || n > hi {
		c.addError("ERR " + what + " must be between " + itoa(lo) + " and " + itoa(hi) + " milliseconds")
		return 0, false
	}
	return n, true
}

// CACHE.GET key [LEASE ms] [WAIT ms] [BETA beta] [NOLEASE]
func (h *leaseHandlers) get(c *Client, args [][]byte) {
	// A routed key is read through its origin first (cmd_origin.go); the
	// reply is then HIT, or NOTFOUND for a negative entry.
	if c.srv.origins != nil && !c.originPreload(args[1]) {
		return
	}
	leaseMs := h.opts.TTL.Milliseconds()
	var waitMs int64
	beta := h.opts.Beta
	noLease := false
	for i := 2; i < len(args); i++ {
		a := args[i]
		next := i+1 < len(args)
		var ok bool
		switch {
		case eq(a, "lease") && next:
			i++
			if leaseMs, ok = c.parseMs(args[i], 1, h.opts.MaxTTL.Milliseconds(), "LEASE"); !ok {
				return
			}
		case eq(a, "wait") && next:
			i++
			if waitMs, ok = c.parseMs(args[i], 0, h.opts.MaxWait.Milliseconds(), "WAIT"); !ok {
				return
			}
		case eq(a, "beta") && next:
			i++
			if beta, ok = parseFloat(args[i]); !ok || beta < 0 || math.IsInf(beta, 0) {
				c.addError("ERR BETA must be a non-negative number")
				return
			}
		case eq(a, "nolease"):
			noLease = true
		default:
			c.addError(errSyntax)
			return
		}
	}
	key := args[1]
	flags := c.lookupFlags() | store.AllowStale
	waitUntil := c.now + waitMs
	var waitStart time.Time
	waited := false
	// done records the wait, if any, once the reply is known.
	done := func(timedOut bool) {
		if waited {
			h.m.Waited(time.Since(waitStart), timedOut, uint64(c.id))
		}
	}
	for {
		hk := c.tx.Key(c.now, key)
		e, ok := c.tx.Lookup(c.db, key, hk, flags)
		if ok {
			if e.Type != store.TypeString {
				c.tx.Release()
				c.addError(errWrongType)
				done(false)
				return
			}
			val, delta, negative := lease.ParseEnvelope(e.Value)
			var tok uint64
			switch {
			case negative:
				h.m.Count(lease.NegativeHit, uint64(c.id))
				c.addCacheReply(stateNotFound, nil, false, 0)
			case e.Stale:
				h.m.Count(lease.StaleServe, uint64(c.id))
				if !noLease {
					tok = h.m.Acquire(c.db, key, c.now, leaseMs, lease.Refresh, false).Token
				}
				c.addCacheReply(stateStale, val, true, tok)
			default:
				expiry := e.Soft
				if expiry == 0 {
					expiry = e.Deadline
				}
				if !noLease && lease.EarlyRefresh(c.now, expiry, delta, beta, c.uniform()) {
					tok = h.m.Acquire(c.db, key, c.now, leaseMs, lease.Early, false).Token
				}
				c.addCacheReply(stateHit, val, true, tok)
			}
			c.tx.Release()
			done(false)
			return
		}
		if noLease {
			c.tx.Release()
			c.addCacheReply(stateMiss, nil, false, 0)
			return
		}
		// Inside EXEC every shard is locked: never wait there.
		canWait := !c.inExec && c.now < waitUntil
		g := h.m.Acquire(c.db, key, c.now, leaseMs, lease.Fill, canWait)
		c.tx.Release()
		switch {
		case g.Token != 0:
			c.addCacheReply(stateLease, nil, false, g.Token)
			done(false)
			return
		case g.Expires == 0:
			c.addCacheReply(stateMiss, nil, false, 0)
			done(false)
			return
		case g.Wait == nil:
			h.m.Count(lease.Pending, uint64(c.id))
			c.addCacheReply(statePending, nil, false, 0)
			done(true)
			return
		}
		// Wait, holding no lock, until the lease ends, expires (then this
		// reader may win the next one) or the wait times out.
		if !waited {
			waited, waitStart = true, time.Now()
		}
		d := time.Duration(min(waitUntil, g.Expires)-c.now) * time.Millisecond
		t := time.NewTimer(max(d, time.Millisecond))
		stopping := false
		h.m.WaitStarted()
		select {
		case <-g.Wait:
		case <-t.C:
		case <-h.m.Done():
			stopping = true
		}
		h.m.WaitEnded()
		t.Stop()
		c.now = c.srv.nowMs()
		flags |= store.NoStats // count the read once
		if stopping {
			h.m.Count(lease.Pending, uint64(c.id))
			c.addCacheReply(statePending, nil, false, 0)
			done(true)
			return
		}
	}
}

// fillOpts are the parsed options of CACHE.FILL and CACHE.NOTFOUND.
type fillOpts struct {
	ttl   []byte
	unit  int64
	grace int64
	delta int64
	jit   jitterOpt
	tags  [][]byte
	deps  [][]byte
}

// parseFillOpts parses args; negative fills take no GRACE or DELTA.
// ok=false means the error reply was written.
func (c *Client) parseFillOpts(args [][]byte, negative bool, o *fillOpts) bool {
	o.jit = defaultJitter
	hasTags, hasDeps := false, false
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := i+1 < len(args)
		var ok bool
		switch {
		case (eq(a, "ex") || eq(a, "px")) && next && o.ttl == nil:
			o.ttl, o.unit = args[i+1], 1000
			if a[0] == 'p' || a[0] == 'P' {
				o.unit = 1
			}
			i++
		case eq(a, "grace") && next && !negative:
			i++
			if o.grace, ok = c.parseMs(args[i], 0, math.MaxInt32, "GRACE"); !ok {
				return false
			}
		case eq(a, "delta") && next && !negative:
			i++
			if o.delta, ok = c.parseMs(args[i], 0, math.MaxInt32, "DELTA"); !ok {
				return false
			}
		case isJitterOpt(a):
			n, ok := o.jit.parse(c, args, i)
			if !ok {
				return false
			}
			i += n - 1
		case (eq(a, "tags") && !hasTags || eq(a, "deps") && !hasDeps) && next:
			n, ok := parseInt(args[i+1])
			if !ok || n < 0 {
				c.addError("ERR numtags must be a non-negative integer")
				return false
			}
			if n > store.MaxTags {
				c.addError("ERR too many tags and dependencies (at most " + itoa(store.MaxTags) + " per key, counting inherited ones)")
				return false
			}
			if int64(len(args)-i-2) < n {
				c.addError(errSyntax)
				return false
			}
			list := args[i+2 : i+2+int(n)]
			if a[0] == 't' || a[0] == 'T' {
				o.tags, hasTags = list, true
			} else {
				o.deps, hasDeps = list, true
			}
			i += 1 + int(n)
		default:
			c.addError(errSyntax)
			return false
		}
	}
	if o.grace > 0 && o.ttl == nil {
		c.addError("ERR GRACE needs EX or PX")
		return false
	}
	return true
}

// parseToken parses a lease token: a nonzero decimal uint64, or "*" for an
// unconditional write (force).
func (c *Client) parseToken(arg []byte) (tok uint64, force, ok bool) {
	if len(arg) == 1 && arg[0] == '*' {
		return 0, true, true
	}
	t, err := strconv.ParseUint(b2s(arg), 10, 64)
	if err != nil || t == 0 {
		c.addError("ERR invalid lease token")
		return 0, false, false
	}
	return t, false, true
}

// fillRefs resolves a fill's TAGS and DEPS into tag references, as TAGSET
// does: the tags at their current generations, each dependency's implicit
// tag, and the tags a dependency carries. It returns the references to
// release once the write is done and the earliest deadline of the
// dependencies. ok=false means the error reply was written.
func (c *Client) fillRefs(x *tags.Index, key []byte, o *fillOpts) (refs []byte, capDeadline int64, ok bool) {
	refs, err := x.Resolve(c.db, o.tags, nil)
	if err != nil {
		c.replyErr(err)
		return refs, 0, false
	}
	for _, d := range o.deps {
		if string(d) == string(key) {
			continue // an entry cannot depend on itself
		}
		refs = x.DependencyRef(c.db, d, refs)
		h := c.tx.Key(c.now, d)
		if e, ok := c.tx.Lookup(c.db, d, h, store.NoStats|store.NoTouch); ok {
			var inherited []byte
			for i := 0; i < store.NumTags(e.Tags); i++ {
				if r := store.TagAt(e.Tags, i); !x.IsDependencyOf(c.db, key, r) {
					inherited = store.AppendTag(inherited, r)
				}
			}
			refs = x.PinRefs(inherited, refs)
			if e.Deadline != 0 && (capDeadline == 0 || e.Deadline < capDeadline) {
				capDeadline = e.Deadline
			}
		}
		c.tx.Release()
	}
	return refs, capDeadline, true
}

// CACHE.FILL key token|* value [EX s|PX ms] [GRACE ms] [DELTA ms] [JITTER f|NOJITTER] [TAGS n tag ...] [DEPS n key ...]
func (h *leaseHandlers) fill(c *Client, args [][]byte) {
	h.fillGeneric(c, args[1], args[2], args[3], args[4:], false)
}

// CACHE.NOTFOUND key token|* [EX s|PX ms] [JITTER f|NOJITTER] [TAGS n tag ...] [DEPS n key ...]
func (h *leaseHandlers) notFound(c *Client, args [][]byte) {
	h.fillGeneric(c, args[1], args[2], nil, args[3:], true)
}

func (h *leaseHandlers) fillGeneric(c *Client, key, tokArg, val []byte, optArgs [][]byte, negative bool) {
	if len(tokArg) != 1 || tokArg[0] != '*' {
		// Only a forced fill is a write that breaks leases; a fill with a
		// token consumes its own lease or, refused, must leave another
		// client's alone.
		h.m.Exempt(c.db, key)
	}
	tok, force, ok := c.parseToken(tokArg)
	if !ok {
		return
	}
	var o fillOpts
	if !c.parseFillOpts(optArgs, negative, &o) {
		return
	}
	m := store.Meta{Type: store.TypeString}
	switch {
	case o.ttl != nil:
		d, ok := c.ttlDeadline(o.ttl, o.unit, false, o.jit)
		if !ok {
			return
		}
		m.Deadline = d
	case negative:
		m.Deadline = c.now + h.opts.NegativeTTL.Milliseconds()
	}
	if o.grace > 0 {
		if m.Deadline > math.MaxInt64-o.grace {
			c.invalidExpire()
			return
		}
		m.Soft, m.Deadline = m.Deadline, m.Deadline+o.grace
	}
	if len(o.tags) > 0 || len(o.deps) > 0 {
		x := c.tagIndex()
		if x == nil {
			return
		}
		refs, capDeadline, ok := c.fillRefs(x, key, &o)
		defer x.Release(refs)
		if !ok {
			return
		}
		m.Tags = dedupeRefs(refs)
		if store.NumTags(m.Tags) > store.MaxTags {
			c.addError("ERR too many tags and dependencies (at most " + itoa(store.MaxTags) + " per key, counting inherited ones)")
			return
		}
		if capDeadline != 0 && (m.Deadline == 0 || capDeadline < m.Deadline) {
			// A dependent entry lives no longer than what it depends on.
			m.Deadline = capDeadline
			if m.Soft >= m.Deadline {
				m.Soft = 0
			}
		}
	}
	v := val
	if negative || o.delta > 0 {
		v = lease.AppendEnvelope(c.scratch[:0], o.delta, negative, val)
		c.keepScratch(v)
	}
	hk := c.tx.Key(c.now, key)
	if !force && !h.m.Fill(c.db, key, tok, c.now, o.tags) {
		c.tx.Release()
		c.addInt(0)
		return
	}
	err := c.tx.Set(c.db, key, hk, v, m)
	c.tx.Release()
	if err != nil {
		c.replyErr(err)
		return
	}
	if negative {
		h.m.Count(lease.NegativeFill, uint64(c.id))
	}
	c.addInt(1)
}

// CACHE.RELEASE key token
func (h *leaseHandlers) release(c *Client, args [][]byte) {
	tok, force, ok := c.parseToken(args[2])
	if !ok {
		return
	}
	if !force && h.m.Release(c.db, args[1], tok) {
		c.addInt(1)
	} else {
		c.addInt(0)
	}
}

// CACHE.STALE key [GRACE ms]
func (h *leaseHandlers) stale(c *Client, args [][]byte) {
	grace := int64(-1)
	for i := 2; i < len(args); i++ {
		var ok bool
		switch {
		case eq(args[i], "grace") && i+1 < len(args) && grace < 0:
			i++
			if grace, ok = c.parseMs(args[i], 0, math.MaxInt32, "GRACE"); !ok {
				return
			}
		default:
			c.addError(errSyntax)
			return
		}
	}
	key := args[1]
	hk := c.tx.Key(c.now, key)
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, key, hk, store.NoStats|store.NoTouch|store.AllowStale)
	if !ok {
		c.addInt(0)
		return
	}
	if e.Type != store.TypeString {
		c.addError(errWrongType)
		return
	}
	if grace < 0 {
		grace = h.opts.Grace.Milliseconds()
		if e.Soft != 0 && e.Deadline > e.Soft {
			grace = e.Deadline - e.Soft
		}
	}
	if _, _, negative := lease.ParseEnvelope(e.Value); negative || grace == 0 {
		// Nothing worth serving stale: drop it.
		c.tx.Delete(c.db, key, hk, store.Deleted)
		c.addInt(1)
		return
	}
	m := e.Meta
	m.Soft = c.now
	m.Deadline = c.now + grace
	if e.Deadline != 0 && e.Deadline < m.Deadline {
		m.Deadline = e.Deadline
	}
	c.tx.SetMeta(c.db, key, hk, m)
	c.addInt(1)
}

// keyspaceReplaced breaks every outstanding lease: FLUSHDB, FLUSHALL and
// SWAPDB change the keys under all of them at once.
func (c *Client) keyspaceReplaced() {
	if m := c.srv.leases; m != nil {
		m.BreakAll()
	}
}

// wroteOtherDB breaks the lease on key in database db, written by a command
// whose key arguments the write observer sees in the client's database
// (MOVE, COPY ... DB).
func (c *Client) wroteOtherDB(db int, key []byte) {
	if m := c.srv.leases; m != nil && db != c.db {
		m.Written(db, key)
	}
}
