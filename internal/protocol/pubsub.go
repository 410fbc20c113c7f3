package protocol

import (
	"slices"
	"sync"

	"github.com/cachesrv/cachesrv/internal/glob"
)

// Pub/sub (Redis 7 semantics): SUBSCRIBE, PSUBSCRIBE, their UNSUBSCRIBEs,
// PUBLISH and PUBSUB. Messages travel as pushes (push.go); subscription
// confirmations are ordinary replies. In RESP2 a subscribed client may
// only run the (P)SUBSCRIBE family, PING, QUIT and RESET.
//
// Concurrency: the registry is guarded by its RWMutex; PUBLISH holds the
// read lock while queueing messages (which never blocks). A client's own
// subscription sets are owned by its connection goroutine.

type pubsubRegistry struct {
	mu       sync.RWMutex
	channels map[string]map[*Client]struct{}
	patterns map[string]map[*Client]struct{}
	// patList is patterns' keys, for PUBLISH to walk without a map range.
	patList []string
}

func (r *pubsubRegistry) init() {
	r.channels = make(map[string]map[*Client]struct{})
	r.patterns = make(map[string]map[*Client]struct{})
}

// clientPubSub is a client's subscriptions.
type clientPubSub struct {
	channels map[string]struct{}
	patterns map[string]struct{}
}

func (c *Client) pubsubState() *clientPubSub {
	if c.ps == nil {
		c.ps = &clientPubSub{channels: map[string]struct{}{}, patterns: map[string]struct{}{}}
	}
	return c.ps
}

func (c *Client) numSubs() int64 {
	if c.ps == nil {
		return 0
	}
	return int64(len(c.ps.channels) + len(c.ps.patterns))
}

// addPushHeader writes a push header (an array in RESP2).
func (c *Client) addPushHeader(n int) {
	if c.resp == 3 {
		c.out = appendHeader(c.out, '>', n)
		return
	}
	c.addArray(n)
}

// subReply writes a (p)(un)subscribe confirmation; name nil is a null.
func (c *Client) subReply(kind string, name []byte, null bool) {
	c.addPushHeader(3)
	c.addBulkStr(kind)
	if null {
		c.addNull()
	} else {
		c.addBulk(name)
	}
	c.addInt(c.numSubs())
}

const errNoPermChannel = "NOPERM No permissions to access a channel"

// channelsAllowed checks every channel argument against the ACL.
func (c *Client) channelsAllowed(names [][]byte, pattern bool) bool {
	u := c.user.Load().User()
	for _, n := range names {
		if !u.ChannelOK(n, pattern) {
			c.srv.secStats.deniedCmd.Add(1)
			c.addError(errNoPermChannel)
			return false
		}
	}
	return true
}

func cmdSubscribe(c *Client, args [][]byte) {
	if !c.channelsAllowed(args[1:], false) {
		return
	}
	ps := c.pubsubState()
	r := &c.srv.pubsub
	for _, a := range args[1:] {
		if _, ok := ps.channels[string(a)]; !ok {
			name := string(a)
			ps.channels[name] = struct{}{}
			r.mu.Lock()
			set := r.channels[name]
			if set == nil {
				set = make(map[*Client]struct{})
				r.channels[name] = set
			}
			set[c] = struct{}{}
			r.mu.Unlock()
			c.subCount.Store(c.numSubs())
		}
		c.subReply("subscribe", a, false)
	}
}

func cmdPSubscribe(c *Client, args [][]byte) {
	if !c.channelsAllowed(args[1:], true) {
		return
	}
	ps := c.pubsubState()
	r := &c.srv.pubsub
	for _, a := range args[1:] {
		if _, ok := ps.patterns[string(a)]; !ok {
			name := string(a)
			ps.patterns[name] = struct{}{}
			r.mu.Lock()
			set := r.patterns[name]
			if set == nil {
				set = make(map[*Client]struct{})
				r.patterns[name] = set
				r.patList = append(r.patList, name)
			}
			set[c] = struct{}{}
			r.mu.Unlock()
			c.subCount.Store(c.numSubs())
		}
		c.subReply("psubscribe", a, false)
	}
}

func cmdUnsubscribe(c *Client, args [][]byte) {
	c.unsubscribe(args[1:], false, true)
}

func cmdPUnsubscribe(c *Client, args [][]byte) {
	c.unsubscribe(args[1:], true, true)
}

// unsubscribe leaves the named channels (patterns), or all of them when
// names is empty, replying for each when reply is set.
func (c *Client) unsubscribe(names [][]byte, pattern, reply bool) {
	kind := "unsubscribe"
	if pattern {
		kind = "punsubscribe"
	}
	ps := c.pubsubState()
	mine := ps.channels
	if pattern {
		mine = ps.patterns
	}
	if len(names) == 0 {
		for name := range mine {
			names = append(names, []byte(name))
		}
		if len(names) == 0 {
			if reply {
				c.subReply(kind, nil, true)
			}
			return
		}
	}
	r := &c.srv.pubsub
	for _, a := range names {
		if _, ok := mine[string(a)]; ok {
			delete(mine, string(a))
			r.mu.Lock()
			if pattern {
				r.removeLocked(r.patterns, string(a), c, true)
			} else {
				r.removeLocked(r.channels, string(a), c, false)
			}
			r.mu.Unlock()
			c.subCount.Store(c.numSubs())
		}
		if reply {
			c.subReply(kind, a, false)
		}
	}
}

func (r *pubsubRegistry) removeLocked(m map[string]map[*Client]struct{}, name string, c *Client, pattern bool) {
	set := m[name]
	delete(set, c)
	if len(set) == 0 {
		delete(m, name)
		if pattern {
			if i := slices.Index(r.patList, name); i >= 0 {
				r.patList = slices.Delete(r.patList, i, i+1)
			}
		}
	}
}

// leavePubSub drops every subscription (RESET, disconnect).
func (c *Client) leavePubSub() {
	if c.ps == nil {
		return
	}
	c.unsubscribe(nil, false, false)
	c.unsubscribe(nil, true, false)
}

// messageFrames builds a message's frame once per protocol version.
type messageFrames struct {
	parts [][]byte
	f     [2][]byte
}

func (m *messageFrames) frame(resp int) []byte {
	i := 0
	if resp == 3 {
		i = 1
	}
	if m.f[i] == nil {
		var b []byte
		if resp == 3 {
			b = appendHeader(b, '>', len(m.parts))
		} else {
			b = appendHeader(b, '*', len(m.parts))
		}
		for _, p := range m.parts {
			b = appendHeader(b, '$', len(p))
			b = append(b, p...)
			b = append(b, '\r', '\n')
		}
		m.f[i] = b
	}
	return m.f[i]
}

// publish delivers payload on channel to its subscribers and to the
// clients of matching patterns; it returns the number of deliveries.
func (s *Server) publish(channel, payload []byte) int64 {
	r := &s.pubsub
	var n int64
	r.mu.RLock()
	if set := r.channels[string(channel)]; len(set) > 0 {
		m := messageFrames{parts: [][]byte{[]byte("message"), channel, payload}}
		for cl := range set {
			cl.push(m.frame(cl.respVersion()))
			n++
		}
	}
	for _, p := range r.patList {
		if !glob.MatchBytes([]byte(p), channel, false) {
			continue
		}
		m := messageFrames{parts: [][]byte{[]byte("pmessage"), []byte(p), channel, payload}}
		for cl := range r.patterns[p] {
			cl.push(m.frame(cl.respVersion()))
			n++
		}
	}
	r.mu.RUnlock()
	s.pushStats.messages.Add(uint64(n))
	return n
}

// aResp is the client's protocol version, readable from any goroutine.
func (c *Client) respVersion() int { return int(c.aResp.Load()) }

func cmdPublish(c *Client, args [][]byte) {
	if !c.channelsAllowed(args[1:2], false) {
		return
	}
	c.addInt(c.srv.publish(args[1], args[2]))
}

func cmdPubSubChannels(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.addError("ERR wrong number of arguments for 'pubsub|channels' command")
		return
	}
	r := &c.srv.pubsub
	var out []string
	r.mu.RLock()
	for name := range r.channels {
		if len(args) == 2 || glob.MatchBytes(args[2], []byte(name), false) {
			out = append(out, name)
		}
	}
	r.mu.RUnlock()
	slices.Sort(out)
	c.addBulkStrs(out...)
}

func cmdPubSubNumSub(c *Client, args [][]byte) {
	r := &c.srv.pubsub
	c.addArray(2 * (len(args) - 2))
	r.mu.RLock()
	counts := make([]int, 0, len(args)-2)
	for _, a := range args[2:] {
		counts = append(counts, len(r.channels[string(a)]))
	}
	r.mu.RUnlock()
	for i, a := range args[2:] {
		c.addBulk(a)
		c.addInt(int64(counts[i]))
	}
}

func cmdPubSubNumPat(c *Client, args [][]byte) {
	r := &c.srv.pubsub
	r.mu.RLock()
	n := len(r.patterns)
	r.mu.RUnlock()
	c.addInt(int64(n))
}

func cmdPubSubHelp(c *Client, args [][]byte) {
	c.addBulkStrs(
		"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> (default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"HELP",
		"    Print this help.",
	)
}

// subscribedModeAllows lists the commands a RESP2 client may run while
// subscribed.
func subscribedModeAllows(cmd *Command) bool {
	switch cmd.Name {
	case "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ping", "quit", "reset":
		return true
	}
	return false
}

// subscribedModeError is Redis 7's refusal of other commands in RESP2
// subscribed mode.
func subscribedModeError(cmd *Command) string {
	return "ERR Can't execute '" + cmd.FullName() + "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
}

// pubsubInfo is INFO's pubsub_channels and pubsub_patterns.
func (s *Server) pubsubInfo() (channels, patterns int) {
	r := &s.pubsub
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.channels), len(r.patterns)
}

// PubSubStats are pub/sub counters for metrics.
type PubSubStats struct {
	Channels, Patterns int
	Subscribers        int    // clients subscribed to anything
	Messages           uint64 // deliveries by PUBLISH
	Pushes             uint64 // every out-of-band frame queued
	Invalidations      uint64 // invalidation frames
	TrackingKeys       int64  // keys in the tracking table
	TrackingClients    int64  // clients with tracking on
	TrackingPrefixes   int64  // BCAST prefixes registered
	TrackingItems      int64  // (key, client) pairs in the table
}

// PubSubStats returns the pub/sub and tracking counters.
func (s *Server) PubSubStats() PubSubStats {
	var st PubSubStats
	st.Channels, st.Patterns = s.pubsubInfo()
	s.mu.Lock()
	for c := range s.clients {
		if c.subCount.Load() > 0 {
			st.Subscribers++
		}
	}
	s.mu.Unlock()
	st.Messages = s.pushStats.messages.Load()
	st.Pushes = s.pushStats.frames.Load()
	st.Invalidations = s.pushStats.invalidations.Load()
	s.tracking.stats(&st)
	return st
}

// dropPushSources ends the client's subscriptions and tracking (RESET,
// disconnect).
func (c *Client) dropPushSources() {
	c.stopMonitor()
	c.leavePubSub()
	if c.trk != nil {
		c.srv.tracking.register(c, nil)
	}
	c.caching, c.cachingNo = false, false
}
