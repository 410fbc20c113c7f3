package protocol

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

// Client-side caching (Redis 7 CLIENT TRACKING semantics).
//
// Default mode remembers, per key name (whatever the database, as in
// Redis), the ids of the clients that read it; the first change of the key
// sends each of them one invalidation and forgets the key. The table is
// bounded by tracking-table-max-keys: adding a key over the bound first
// invalidates and forgets other keys. BCAST mode keeps no per-key state:
// every change of a key under a registered prefix ("" = every key) is sent
// to the clients of that prefix.
//
// Invalidations come from the store's hooks (every write, removal, expiry
// and eviction, under the shard lock), from tag invalidation (the tracked
// keys carrying the tags, in frames of at most invalidateFrameKeys keys)
// and from FLUSHDB/FLUSHALL/SWAPDB (a null invalidation to every tracking
// client). Sending only queues a push (push.go), so it may run under a
// shard lock.
//
// Race with reads: a read registers its keys before the command reads the
// store, so a write that lands in between is always followed by an
// invalidation; the reader's outbox is busy until the read's reply is
// written, so that invalidation arrives after the reply, never before it.
//
// Lock order: shard lock, then trackingTable.mu, then an outbox's mu.

// invalidateFrameKeys bounds the keys of one invalidation frame.
const invalidateFrameKeys = 1024

// trackedKeyOverhead approximates the bytes of a table entry besides the
// key name and the client ids (map slot, header, slice).
const trackedKeyOverhead = 64

// trackingTable is the server's tracking state.
type trackingTable struct {
	s  *Server
	mu sync.Mutex
	// keys: key name → ids of the clients that may cache it.
	keys    map[string][]int64
	clients map[int64]*clientTracking
	// prefixes: BCAST prefix → clients.
	prefixes map[string]map[int64]*clientTracking
	items    int64
	bytes    int64
	unpaid   int64 // bytes not yet passed to used_memory (chargeLocked)
	maxKeys  atomic.Int64
	// active counts tracking clients; the hooks return at once while 0.
	active atomic.Int64
	// flushing suppresses per-key invalidations while a flush that sends a
	// null invalidation runs (set and read under every shard lock).
	flushing bool
	// owner[i] is the id of the client holding shard i's lock for a
	// command (NOLOOP); written and read under that lock.
	owner []int64
	// ownerCmd[i] is the command that client runs (keyspace events).
	ownerCmd []*Command
}

// clientTracking is one client's tracking options. It is immutable once
// registered; CLIENT TRACKING replaces it.
type clientTracking struct {
	c        *Client
	redirect *Client // nil: the client itself
	redirID  int64
	bcast    bool
	optin    bool
	optout   bool
	noloop   bool
	prefixes []string
}

func (t *trackingTable) init(s *Server, maxKeys int64) {
	t.s = s
	t.keys = make(map[string][]int64)
	t.clients = make(map[int64]*clientTracking)
	t.prefixes = make(map[string]map[int64]*clientTracking)
	t.maxKeys.Store(maxKeys)
	// The hooks are chained behind the store's existing ones (the tag
	// index, which the app always builds). A bare store keeps no hooks, so
	// that its write path stays allocation-free; tracking then sees no
	// changes.
	if s.st != nil && s.st.Hooks() != nil {
		t.owner = make([]int64, s.st.NumShards())
		t.ownerCmd = make([]*Command, s.st.NumShards())
		s.st.SetHooks(&trackingHooks{inner: s.st.Hooks(), t: t})
	}
}

// SetTrackingMaxKeys changes tracking-table-max-keys; the table shrinks
// to the new bound at once.
func (s *Server) SetTrackingMaxKeys(n int64) {
	t := &s.tracking
	t.maxKeys.Store(n)
	t.mu.Lock()
	t.trimLocked()
	t.mu.Unlock()
}

// trackingHooks chains the store hooks (the tag index) with tracking.
type trackingHooks struct {
	inner store.Hooks
	t     *trackingTable
}

func (h *trackingHooks) TagState(db int, tags []byte, now int64) store.TagState {
	if h.inner == nil {
		return store.Fresh
	}
	return h.inner.TagState(db, tags, now)
}

func (h *trackingHooks) Changed(sh int, id uint32, db int, key []byte, old, m *store.Meta) {
	if h.inner != nil {
		h.inner.Changed(sh, id, db, key, old, m)
	}
	if h.t.active.Load() != 0 {
		h.t.invalidateOne(key, h.t.owner[sh])
	}
	if h.t.s.notify.Load() != 0 {
		h.t.s.notifyChanged(h.t.ownerCmd[sh], db, key, old == nil, m)
	}
}

func (h *trackingHooks) Removed(sh int, id uint32, db int, key []byte, m *store.Meta, r store.Reason) {
	if h.inner != nil {
		h.inner.Removed(sh, id, db, key, m, r)
	}
	if h.t.active.Load() != 0 {
		h.t.invalidateOne(key, h.t.owner[sh])
	}
	if h.t.s.notify.Load() != 0 {
		h.t.s.notifyRemoved(h.t.ownerCmd[sh], db, key, r)
	}
}

// ownShard and disownShard record the client holding a shard's lock.
//
// The slots are written only while tracking or keyspace events are on:
// shards packed in one cache line would otherwise bounce it between cores
// on every command. A slot left unset only costs NOLOOP its suppression
// (an extra invalidation) or an event its command name.
// trackShard is the store.Txn's report of the shard locks c takes and
// releases (i = -1: every shard).
func (c *Client) trackShard(i int, held bool) {
	switch {
	case i < 0:
		c.ownAll(held)
	case held:
		c.ownShard(i)
	default:
		c.disownShard(i)
	}
}

func (c *Client) ownShard(i int) {
	if t := &c.srv.tracking; t.owner != nil && (t.active.Load() != 0 || c.srv.notify.Load() != 0) {
		t.owner[i], t.ownerCmd[i] = c.id, c.cmd
	}
}

func (c *Client) disownShard(i int) {
	if t := &c.srv.tracking; t.owner != nil && t.owner[i] != 0 {
		t.owner[i], t.ownerCmd[i] = 0, nil
	}
}

func (c *Client) ownAll(on bool) {
	t := &c.srv.tracking
	if on && t.active.Load() == 0 && c.srv.notify.Load() == 0 {
		return
	}
	id, cmd := c.id, c.cmd
	if !on {
		id, cmd = 0, nil
	}
	for i := range t.owner {
		if on || t.owner[i] != 0 {
			t.owner[i], t.ownerCmd[i] = id, cmd
		}
	}
}

// invalidateOne sends key's invalidation (store hook; shard lock held).
func (t *trackingTable) invalidateOne(key []byte, owner int64) {
	t.mu.Lock()
	if !t.flushing {
		var one [1][]byte
		one[0] = key
		t.invalidateLocked(one[:], owner)
	}
	t.mu.Unlock()
}

// invalidateLocked sends the invalidation of keys to the clients that
// track them and forgets them (t.mu held).
func (t *trackingTable) invalidateLocked(keys [][]byte, owner int64) {
	var per map[*clientTracking][][]byte
	add := func(ct *clientTracking, k []byte) {
		if ct.noloop && ct.c.id == owner {
			return
		}
		if len(keys) == 1 {
			t.send(ct, keys)
			return
		}
		if per == nil {
			per = make(map[*clientTracking][][]byte)
		}
		per[ct] = append(per[ct], k)
	}
	for _, k := range keys {
		if ids, ok := t.keys[string(k)]; ok {
			t.forgetLocked(string(k), ids)
			for _, id := range ids {
				if ct := t.clients[id]; ct != nil && !ct.bcast {
					add(ct, k)
				}
			}
		}
		for p, set := range t.prefixes {
			if bytes.HasPrefix(k, []byte(p)) {
				for _, ct := range set {
					add(ct, k)
				}
			}
		}
	}
	for ct, ks := range per {
		for len(ks) > 0 {
			n := min(len(ks), invalidateFrameKeys)
			t.send(ct, ks[:n])
			ks = ks[n:]
		}
	}
}

func (t *trackingTable) forgetLocked(k string, ids []int64) {
	delete(t.keys, k)
	t.items -= int64(len(ids))
	sz := int64(len(k)+trackedKeyOverhead) + 8*int64(cap(ids))
	t.chargeLocked(-sz)
}

// send queues one invalidation frame for ct (keys nil: a null one, after a
// flush). RESP3 clients get a push; RESP2 clients only through a redirect
// to a client subscribed to __redis__:invalidate, as in Redis.
func (t *trackingTable) send(ct *clientTracking, keys [][]byte) {
	target := ct.c
	if ct.redirect != nil {
		target = ct.redirect
	}
	var b []byte
	if target.respVersion() == 3 {
		b = append(b, ">2\r\n$10\r\ninvalidate\r\n"...)
	} else {
		if ct.redirect == nil || target.subCount.Load() == 0 {
			return
		}
		b = append(b, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"...)
	}
	if keys == nil {
		if target.respVersion() == 3 {
			b = append(b, "_\r\n"...)
		} else {
			b = append(b, "*-1\r\n"...)
		}
	} else {
		b = appendHeader(b, '*', len(keys))
		for _, k := range keys {
			b = appendHeader(b, '$', len(k))
			b = append(b, k...)
			b = append(b, '\r', '\n')
		}
	}
	target.push(b)
	t.s.pushStats.invalidations.Add(1)
}

// remember adds c to the readers of keys (before the command reads them).
func (t *trackingTable) remember(ct *clientTracking, keys [][]byte) {
	t.mu.Lock()
	for _, k := range keys {
		ids, ok := t.keys[string(k)]
		if ok {
			// ids is sorted: a key read by many clients costs a binary
			// search per read, not a scan.
			pos, found := slices.BinarySearch(ids, ct.c.id)
			if found {
				continue
			}
			oldCap := cap(ids)
			ids = slices.Insert(ids, pos, ct.c.id)
			t.keys[string(k)] = ids
			t.items++
			if d := 8 * int64(cap(ids)-oldCap); d != 0 {
				t.chargeLocked(d)
			}
			continue
		}
		ids = make([]int64, 1, 2)
		ids[0] = ct.c.id
		t.keys[string(k)] = ids
		t.items++
		t.chargeLocked(int64(len(k)+trackedKeyOverhead) + 16)
		t.trimLocked()
	}
	t.mu.Unlock()
}

// trimLocked invalidates and forgets keys until the table is within
// tracking-table-max-keys (t.mu held). Map iteration order picks the
// victims at random, as Redis does.
func (t *trackingTable) trimLocked() {
	max := t.maxKeys.Load()
	if max <= 0 {
		return
	}
	for int64(len(t.keys)) > max {
		for k, ids := range t.keys {
			t.forgetLocked(k, ids)
			kb := [][]byte{[]byte(k)}
			for _, id := range ids {
				if ct := t.clients[id]; ct != nil {
					t.send(ct, kb)
				}
			}
			break
		}
	}
}

// flushed sends a null invalidation to every tracking client and empties
// the table (FLUSHDB, FLUSHALL, SWAPDB).
func (t *trackingTable) flushed() {
	if t.active.Load() == 0 {
		return
	}
	t.mu.Lock()
	for k, ids := range t.keys {
		t.forgetLocked(k, ids)
	}
	for _, ct := range t.clients {
		t.send(ct, nil)
	}
	t.mu.Unlock()
}

// setFlushing brackets a flush (every shard lock held).
func (t *trackingTable) setFlushing(on bool) {
	if t.active.Load() == 0 && on {
		return
	}
	t.mu.Lock()
	t.flushing = on
	t.mu.Unlock()
}

// tracked filters keys down to those some client may cache (tag
// invalidation: only these are sent).
func (t *trackingTable) tracked(keys [][]byte) [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := keys[:0]
	for _, k := range keys {
		keep := false
		if _, ok := t.keys[string(k)]; ok {
			keep = true
		}
		for p := range t.prefixes {
			if !keep && bytes.HasPrefix(k, []byte(p)) {
				keep = true
			}
		}
		if keep {
			out = append(out, k)
		}
	}
	return out
}

// invalidateKeys sends the invalidations of keys (tag invalidation) and
// their keyspace events.
func (t *trackingTable) invalidateKeys(c *Client, keys [][]byte, soft bool) {
	if len(keys) == 0 {
		return
	}
	if t.s.notify.Load()&nfInvalidated != 0 {
		ev := "invalidated"
		if soft {
			ev = "softinvalidated"
		}
		for _, k := range keys {
			t.s.notifyEvent(nfInvalidated, ev, c.db, k)
		}
		keys = t.tracked(keys)
	}
	owner := c.id
	t.mu.Lock()
	t.invalidateLocked(keys, owner)
	t.mu.Unlock()
}

// register publishes ct as c's tracking state (nil: tracking off).
func (t *trackingTable) register(c *Client, ct *clientTracking) {
	t.mu.Lock()
	old := c.trk
	if old != nil {
		for _, p := range old.prefixes {
			if set := t.prefixes[p]; set != nil {
				delete(set, c.id)
				if len(set) == 0 {
					delete(t.prefixes, p)
				}
			}
		}
		delete(t.clients, c.id)
		t.active.Add(-1)
	}
	c.trk = ct
	if ct != nil {
		t.clients[c.id] = ct
		for _, p := range ct.prefixes {
			set := t.prefixes[p]
			if set == nil {
				set = make(map[int64]*clientTracking)
				t.prefixes[p] = set
			}
			set[c.id] = ct
		}
		t.active.Add(1)
	}
	t.mu.Unlock()
}

// chargeLocked counts table memory, passing it on to used_memory in steps
// of trackingChargeStep so that every read does not hit the store's
// shared counters (t.mu held).
func (t *trackingTable) chargeLocked(d int64) {
	t.bytes += d
	t.unpaid += d
	if t.unpaid >= trackingChargeStep || t.unpaid <= -trackingChargeStep || t.bytes == 0 {
		if t.s.st != nil {
			t.s.st.AddMemory(t.unpaid)
		}
		t.unpaid = 0
	}
}

// trackingChargeStep bounds the table memory not yet in used_memory.
const trackingChargeStep = 4 << 10

func (t *trackingTable) stats(st *PubSubStats) {
	t.mu.Lock()
	st.TrackingKeys = int64(len(t.keys))
	st.TrackingItems = t.items
	st.TrackingPrefixes = int64(len(t.prefixes))
	st.TrackingClients = int64(len(t.clients))
	t.mu.Unlock()
}

// trackRead registers the keys of a read-only command for a tracking
// client in default mode (server.call, before the handler runs).
func (c *Client) trackRead(cmd *Command, args [][]byte) {
	ct := c.trk
	if ct.bcast || cmd.Flags&FlagReadonly == 0 || cmd.FirstKey <= 0 {
		return
	}
	if (ct.optin && !c.caching) || (ct.optout && c.cachingNo) {
		return
	}
	c.keyIdx = cmd.KeyIndexes(args, c.keyIdx[:0])
	if len(c.keyIdx) == 0 {
		return
	}
	keys := c.trkKeys[:0]
	for _, i := range c.keyIdx {
		keys = append(keys, args[i])
	}
	c.srv.tracking.remember(ct, keys)
	clear(keys)
	c.trkKeys = keys[:0]
}

// afterCommandTracking clears CLIENT CACHING after a command, except after
// CLIENT subcommands and inside MULTI, as Redis does.
func (c *Client) afterCommandTracking(args [][]byte) {
	if c.multi || eq(args[0], "client") {
		return
	}
	c.caching, c.cachingNo = false, false
}

func cmdClientTracking(c *Client, args [][]byte) {
	var on bool
	switch {
	case eq(args[2], "on"):
		on = true
	case eq(args[2], "off"):
	default:
		c.addError(errSyntax)
		return
	}
	nt := &clientTracking{c: c}
	for i := 3; i < len(args); i++ {
		switch {
		case eq(args[i], "redirect") && i+1 < len(args):
			i++
			id, ok := parseInt(args[i])
			if !ok {
				c.addError("ERR value is not an integer or out of range")
				return
			}
			if id != c.id {
				target := c.srv.clientByID(id)
				if target == nil {
					c.addError("ERR The client ID you want redirect to does not exist")
					return
				}
				nt.redirect = target
			}
			nt.redirID = id
		case eq(args[i], "bcast"):
			nt.bcast = true
		case eq(args[i], "optin"):
			nt.optin = true
		case eq(args[i], "optout"):
			nt.optout = true
		case eq(args[i], "noloop"):
			nt.noloop = true
		case eq(args[i], "prefix") && i+1 < len(args):
			i++
			nt.prefixes = append(nt.prefixes, string(args[i]))
		default:
			c.addError(errSyntax)
			return
		}
	}
	if !on {
		if c.trk != nil {
			c.srv.tracking.register(c, nil)
		}
		c.caching, c.cachingNo = false, false
		c.addOK()
		return
	}
	old := c.trk
	if old != nil {
		if old.bcast != nt.bcast {
			c.addError("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		}
		if old.optin != nt.optin || old.optout != nt.optout {
			c.addError("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.")
			return
		}
	}
	if len(nt.prefixes) > 0 && !nt.bcast {
		c.addError("ERR PREFIX option requires BCAST mode to be enabled")
		return
	}
	if nt.optin && nt.optout {
		c.addError("ERR You can't use OPTIN and OPTOUT at the same time.")
		return
	}
	if nt.bcast && (nt.optin || nt.optout) {
		c.addError("ERR OPTIN and OPTOUT are not compatible with BCAST")
		return
	}
	if nt.bcast {
		if old != nil {
			nt.prefixes = append(append([]string(nil), old.prefixes...), nt.prefixes...)
		}
		if len(nt.prefixes) == 0 {
			nt.prefixes = []string{""}
		}
		if msg := prefixOverlap(nt.prefixes); msg != "" {
			c.addError(msg)
			return
		}
	}
	c.srv.tracking.register(c, nt)
	c.addOK()
}

// prefixOverlap checks a client's prefixes as Redis does; duplicates are
// kept once.
func prefixOverlap(ps []string) string {
	for i := range ps {
		for j := range i {
			a, b := ps[i], ps[j]
			if a == b {
				continue
			}
			if len(a) >= len(b) && a[:len(b)] == b || len(b) > len(a) && b[:len(a)] == a {
				return "ERR Prefix '" + a + "' overlaps with an existing prefix '" + b + "'. Prefixes for a single client must not overlap."
			}
		}
	}
	return ""
}

func cmdClientCaching(c *Client, args [][]byte) {
	ct := c.trk
	if ct == nil || (!ct.optin && !ct.optout) {
		c.addError("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")
		return
	}
	switch {
	case eq(args[2], "yes"):
		if !ct.optin {
			c.addError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
			return
		}
		c.caching = true
	case eq(args[2], "no"):
		if !ct.optout {
			c.addError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
			return
		}
		c.cachingNo = true
	default:
		c.addError(errSyntax)
		return
	}
	c.addOK()
}

func cmdClientGetRedir(c *Client, args [][]byte) {
	switch ct := c.trk; {
	case ct == nil:
		c.addInt(-1)
	default:
		c.addInt(ct.redirID)
	}
}

func cmdClientTrackingInfo(c *Client, args [][]byte) {
	ct := c.trk
	c.addMap(3)
	c.addBulkStr("flags")
	var flags []string
	if ct == nil {
		flags = append(flags, "off")
	} else {
		flags = append(flags, "on")
		if ct.bcast {
			flags = append(flags, "bcast")
		}
		if ct.optin {
			flags = append(flags, "optin")
			if c.caching {
				flags = append(flags, "caching-yes")
			}
		}
		if ct.optout {
			flags = append(flags, "optout")
			if c.cachingNo {
				flags = append(flags, "caching-no")
			}
		}
		if ct.noloop {
			flags = append(flags, "noloop")
		}
		if ct.redirect != nil && ct.redirect.killed.Load() {
			flags = append(flags, "broken_redirect")
		}
	}
	c.addSet(len(flags))
	for _, f := range flags {
		c.addBulkStr(f)
	}
	c.addBulkStr("redirect")
	if ct == nil {
		c.addInt(-1)
	} else {
		c.addInt(ct.redirID)
	}
	c.addBulkStr("prefixes")
	if ct == nil || !ct.bcast {
		c.addArray(0)
	} else {
		c.addArray(len(ct.prefixes))
		for _, p := range ct.prefixes {
			c.addBulkStr(p)
		}
	}
}

// clientByID finds a connected client.
func (s *Server) clientByID(id int64) *Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		if c.id == id {
			return c
		}
	}
	return nil
}

// trackingInfo is INFO's tracking fields.
func (s *Server) trackingInfo() []InfoField {
	var st PubSubStats
	s.tracking.stats(&st)
	ch, pat := s.pubsubInfo()
	return []InfoField{
		{"pubsub_channels", strconv.Itoa(ch)},
		{"pubsub_patterns", strconv.Itoa(pat)},
		{"tracking_clients", strconv.FormatInt(st.TrackingClients, 10)},
		{"tracking_total_keys", strconv.FormatInt(st.TrackingKeys, 10)},
		{"tracking_total_items", strconv.FormatInt(st.TrackingItems, 10)},
		{"tracking_total_prefixes", strconv.FormatInt(st.TrackingPrefixes, 10)},
	}
}

// numClients is INFO's tracking_clients.
func (t *trackingTable) numClients() int64 { return t.active.Load() }

// trackedTagKeys lists, before a tag invalidation, the keys carrying the
// tags that some client may cache. It walks the tags' members only while
// tracking is on; the keys are copied (the walk's are the store's).
func (c *Client) trackedTagKeys(x *tags.Index, names [][]byte) [][]byte {
	t := &c.srv.tracking
	notify := c.srv.notify.Load()&nfInvalidated != 0
	if t.active.Load() == 0 && !notify {
		return nil
	}
	var keys [][]byte
	for _, name := range names {
		var batch [][]byte
		for cur := uint64(0); ; {
			cur = x.Keys(c.db, name, cur, 1024, c.tx, func(k []byte) {
				batch = append(batch, append([]byte(nil), k...))
			})
			if !notify {
				batch = t.tracked(batch)
			}
			keys = append(keys, batch...)
			batch = batch[:0]
			if cur == 0 {
				break
			}
		}
	}
	return keys
}
