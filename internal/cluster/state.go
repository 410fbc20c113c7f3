package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// NewNodeID returns a random 40-character hex node id, as Redis makes.
func NewNodeID() string {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("BUG: crypto/rand: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// bitmap is a set of slots.
type bitmap [Slots / 64]uint64

func (b *bitmap) has(s int) bool { return b[s>>6]&(1<<(s&63)) != 0 }
func (b *bitmap) set(s int)      { b[s>>6] |= 1 << (s & 63) }
func (b *bitmap) clear(s int)    { b[s>>6] &^= 1 << (s & 63) }

// ranges returns the slots as [start, end] ranges.
func (b *bitmap) ranges() [][2]int {
	var out [][2]int
	for s := 0; s < Slots; s++ {
		if !b.has(s) {
			continue
		}
		e := s
		for e+1 < Slots && b.has(e+1) {
			e++
		}
		out = append(out, [2]int{s, e})
		s = e
	}
	return out
}

// Record is what a node says about itself: its address, config epoch and
// the slots it claims. The node that a record describes is its only
// author; Version grows with each change it makes, and the copies other
// nodes hold are replaced by newer versions (gossip.go).
type Record struct {
	ID          string
	ShardID     string
	IP          string
	Port        int
	BusPort     int
	ConfigEpoch uint64
	Version     uint64
	Slots       bitmap
}

// node is a known node: its latest record and what this node observed.
type node struct {
	rec    Record
	failed bool      // unreachable for cluster-node-timeout (memberlist: dead)
	pfail  bool      // suspected
	seen   time.Time // last time gossip showed it alive
	joined bool      // memberlist has seen it (handshake done)
	hinted bool      // this node edited the record (DELSLOTS, SETSLOT NODE): not gossiped
}

// NodeInfo is a read-only description of a node, for CLUSTER NODES, SLOTS
// and SHARDS.
type NodeInfo struct {
	ID, ShardID   string
	IP            string
	Port, BusPort int
	ConfigEpoch   uint64
	Myself        bool
	Failed, PFail bool
	Handshake     bool
	Slots         [][2]int // ranges this node serves in this node's view
	Migrating     map[int]string
	Importing     map[int]string
	PongRecv      int64 // unix ms
}

// Options configure a Node.
type Options struct {
	// ConfigFile is where the node keeps its cluster state; "" keeps none
	// (tests).
	ConfigFile string
	// IP, Port, BusPort: the address clients and peers use.
	IP            string
	Port, BusPort int
	// NodeTimeout is cluster-node-timeout.
	NodeTimeout time.Duration
	// RequireFullCoverage is cluster-require-full-coverage.
	RequireFullCoverage bool
	// SlotTakeover lets the live masters share a failed master's slots.
	SlotTakeover bool
	// Keys counts the keys of a slot and deletes them; the per-slot index
	// (index.go) provides it. Nil means the node holds no keys.
	Keys KeyCounter
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// BusKey, when set (32 bytes), encrypts and authenticates every bus
	// message (memberlist's AES-GCM): nodes without the same key cannot
	// join or talk to the cluster.
	BusKey []byte
	// Logf logs cluster events; nil discards them.
	Logf func(msg string, args ...any)
}

// KeyCounter is the part of the key index the cluster state needs.
type KeyCounter interface {
	CountKeysInSlot(slot int) int
	DeleteKeysInSlot(slot int) int
}

// Node is this node's view of the cluster. Its methods are safe for
// concurrent use: mu guards the state, and every change publishes an
// immutable View that the dispatcher reads without locking.
type Node struct {
	opts Options

	mu           sync.Mutex
	myself       *node
	nodes        map[string]*node
	currentEpoch uint64
	migrating    map[int]string
	importing    map[int]string
	forgotten    map[string]time.Time // FORGET's ban list (60 s, as Redis)
	savedEpoch   uint64               // config epoch of the last fsynced save
	saved        bool
	view         atomic.Pointer[View]
	gmu          sync.Mutex // guards g.ml
	g            gossip

	// Cluster-wide invalidation (inval.go).
	invalidator Invalidator
	pending     map[string]map[string]*pendingInval // node id -> invalidation id
	waiters     map[string]chan invalAck
	seenInval   map[string]seenInval

	stats Stats
}

// Stats are cluster counters, read at scrape time.
type Stats struct {
	MovedReplies, AskReplies      atomic.Int64
	CrossSlotReplies, DownReplies atomic.Int64
	TryAgainReplies               atomic.Int64
	SlotsTakenOver                atomic.Int64
	KeysMigratedOut               atomic.Int64
	MessagesSent, MessagesRecv    atomic.Int64
	InvalidationsSent             atomic.Int64
	InvalidationsReceived         atomic.Int64
	InvalidationsExpired          atomic.Int64
}

type seenInval struct {
	count int64
	at    time.Time
}

// Stats returns the node's counters.
func (n *Node) Stats() *Stats { return &n.stats }

// New builds a node, loading its state from the config file when the file
// exists, or making a new node id otherwise (and writing the file).
func New(o Options) (*Node, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 15 * time.Second
	}
	n := &Node{
		opts:      o,
		nodes:     make(map[string]*node),
		migrating: make(map[int]string),
		importing: make(map[int]string),
		forgotten: make(map[string]time.Time),
		pending:   make(map[string]map[string]*pendingInval),
		waiters:   make(map[string]chan invalAck),
		seenInval: make(map[string]seenInval),
	}
	n.g = gossip{kick: make(chan struct{}, 1), meet: make(chan string, 64), reset: make(chan struct{}, 1),
		pending: make(map[string]time.Time), inval: make(chan struct{}, 1), out: make(chan outMsg, 1024)}
	loaded := false
	if o.ConfigFile != "" {
		var err error
		if loaded, err = n.load(o.ConfigFile); err != nil {
			return nil, fmt.Errorf("load cluster config %s: %w", o.ConfigFile, err)
		}
	}
	if !loaded {
		me := &node{rec: Record{ID: NewNodeID(), ShardID: NewNodeID()}, joined: true}
		n.myself = me
		n.nodes[me.rec.ID] = me
	}
	me := n.myself
	me.rec.IP, me.rec.Port, me.rec.BusPort = o.IP, o.Port, o.BusPort
	// Versions only grow, across restarts too: peers keep the newest
	// record they saw of this node.
	me.rec.Version = max(me.rec.Version, uint64(o.Now().UnixNano()))
	me.joined = true
	n.publishLocked()
	if err := n.saveLocked(); err != nil {
		return nil, err
	}
	return n, nil
}

// MyID returns the node id.
func (n *Node) MyID() string { return n.View().MyID }

// View returns the current routing view.
func (n *Node) View() *View { return n.view.Load() }

// View is an immutable snapshot of the slot map, read by the dispatcher on
// every keyed command without locks.
type View struct {
	MyID, MyShardID string
	MyEpoch         uint64
	CurrentEpoch    uint64
	owner           [Slots]int16 // index into addrs; -1 unassigned
	failed          []bool       // by owner index
	addrs           []string     // "ip:port" by owner index
	me              int16
	migrating       map[int]string // slot -> "ip:port" of the target
	importing       map[int]bool
	// OK is cluster_state: every slot has a live owner, or
	// cluster-require-full-coverage is no.
	OK            bool
	SlotsAssigned int
	SlotsOK       int
	SlotsFail     int
	SlotsPFail    int
	KnownNodes    int
	Size          int // masters serving at least one slot
}

// Owner returns the address of the slot's owner and whether this node is
// the owner; addr is "" when the slot is unassigned.
func (v *View) Owner(slot int) (addr string, mine bool) {
	i := v.owner[slot]
	if i < 0 {
		return "", false
	}
	return v.addrs[i], i == v.me
}

// Mine reports whether this node serves slot.
func (v *View) Mine(slot int) bool { return v.me >= 0 && v.owner[slot] == v.me }

// OwnerFailed reports whether the slot's owner is marked failed.
func (v *View) OwnerFailed(slot int) bool {
	i := v.owner[slot]
	return i >= 0 && v.failed[i]
}

// Migrating returns the target address of a slot this node migrates.
func (v *View) Migrating(slot int) (string, bool) {
	if len(v.migrating) == 0 {
		return "", false
	}
	a, ok := v.migrating[slot]
	return a, ok
}

// Importing reports whether this node imports slot.
func (v *View) Importing(slot int) bool { return len(v.importing) > 0 && v.importing[slot] }

// ownersLocked computes the effective owner of every slot: among the
// nodes whose record claims it, the highest config epoch wins; equal
// epochs go to the smaller node id.
func (n *Node) ownersLocked() (owner [Slots]*node) {
	for _, nd := range n.nodes {
		for w, word := range nd.rec.Slots {
			for word != 0 {
				b := trailingZeros(word)
				word &^= 1 << b
				s := w*64 + b
				cur := owner[s]
				if cur == nil || nd.rec.ConfigEpoch > cur.rec.ConfigEpoch ||
					nd.rec.ConfigEpoch == cur.rec.ConfigEpoch && nd.rec.ID < cur.rec.ID {
					owner[s] = nd
				}
			}
		}
	}
	return owner
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

// publishLocked rebuilds the View.
func (n *Node) publishLocked() {
	owner := n.ownersLocked()
	v := &View{MyID: n.myself.rec.ID, MyShardID: n.myself.rec.ShardID, MyEpoch: n.myself.rec.ConfigEpoch, KnownNodes: len(n.nodes)}
	idx := make(map[*node]int16)
	serving := make(map[*node]bool)
	for _, nd := range n.nodes {
		if nd.rec.ConfigEpoch > n.currentEpoch {
			n.currentEpoch = nd.rec.ConfigEpoch
		}
	}
	v.CurrentEpoch = n.currentEpoch
	for s, nd := range owner {
		if nd == nil {
			v.owner[s] = -1
			continue
		}
		i, ok := idx[nd]
		if !ok {
			i = int16(len(v.addrs))
			idx[nd] = i
			v.addrs = append(v.addrs, addrOf(nd.rec.IP, nd.rec.Port))
			v.failed = append(v.failed, nd.failed)
		}
		v.owner[s] = i
		v.SlotsAssigned++
		serving[nd] = true
		switch {
		case nd.failed:
			v.SlotsFail++
		case nd.pfail:
			v.SlotsPFail++
			v.SlotsOK++
		default:
			v.SlotsOK++
		}
	}
	v.me = -1
	if i, ok := idx[n.myself]; ok {
		v.me = i
	}
	v.Size = len(serving)
	if len(n.migrating) > 0 {
		v.migrating = make(map[int]string)
		for s, id := range n.migrating {
			if t := n.nodes[id]; t != nil {
				v.migrating[s] = addrOf(t.rec.IP, t.rec.Port)
			}
		}
	}
	if len(n.importing) > 0 {
		v.importing = make(map[int]bool)
		for s := range n.importing {
			v.importing[s] = true
		}
	}
	v.OK = !n.opts.RequireFullCoverage || v.SlotsOK == Slots
	if v.SlotsAssigned == 0 {
		v.OK = !n.opts.RequireFullCoverage
	}
	n.view.Store(v)
}

func addrOf(ip string, port int) string { return ip + ":" + strconv.Itoa(port) }

// Client-visible errors of CLUSTER subcommands, worded as Redis 7's.
var (
	ErrUnknownNode = errors.New("unknown node")
)

// ReplyError is an error whose text is the reply (without the "ERR ").
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

func errf(format string, args ...any) error { return ReplyError(fmt.Sprintf(format, args...)) }

// changedLocked publishes a new view, writes the config file and, when
// this node's own record changed, announces it.
func (n *Node) changedLocked(mine bool) {
	if mine {
		n.myself.rec.Version++
	}
	n.publishLocked()
	if err := n.saveLocked(); err != nil {
		n.opts.Logf("cannot save cluster config", "err", err)
	}
	if mine {
		n.kickLocked()
	}
}

// AddSlots assigns slots to this node (CLUSTER ADDSLOTS, ADDSLOTSRANGE).
// Nothing changes unless every slot is free.
func (n *Node) AddSlots(slots []int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	owner := n.ownersLocked()
	seen := make(map[int]bool, len(slots))
	for _, s := range slots {
		if owner[s] != nil {
			return errf("Slot %d is already busy", s)
		}
		if seen[s] {
			return errf("Slot %d specified multiple times", s)
		}
		seen[s] = true
	}
	for _, s := range slots {
		n.myself.rec.Slots.set(s)
		delete(n.importing, s)
	}
	n.changedLocked(true)
	return nil
}

// DelSlots unassigns slots in this node's view (CLUSTER DELSLOTS,
// DELSLOTSRANGE). As in Redis the change is local: other nodes keep their
// view until a node claims the slots.
func (n *Node) DelSlots(slots []int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	owner := n.ownersLocked()
	seen := make(map[int]bool, len(slots))
	for _, s := range slots {
		if owner[s] == nil {
			return errf("Slot %d is already unassigned", s)
		}
		if seen[s] {
			return errf("Slot %d specified multiple times", s)
		}
		seen[s] = true
	}
	mine := false
	for _, s := range slots {
		for _, nd := range n.nodes {
			if nd.rec.Slots.has(s) {
				nd.rec.Slots.clear(s)
				mine = mine || nd == n.myself
				nd.hinted = nd != n.myself
			}
		}
		delete(n.importing, s)
		delete(n.migrating, s)
	}
	n.changedLocked(mine)
	return nil
}

// FlushSlots unassigns every slot of this node (CLUSTER FLUSHSLOTS); the
// caller checked the keyspace is empty.
func (n *Node) FlushSlots() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.myself.rec.Slots = bitmap{}
	n.changedLocked(true)
}

// SetSlot runs CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE|STABLE [id].
func (n *Node) SetSlot(slot int, action, id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	owner := n.ownersLocked()
	me := n.myself
	switch action {
	case "migrating":
		if owner[slot] != me {
			return errf("I'm not the owner of hash slot %d", slot)
		}
		t := n.nodes[id]
		if t == nil {
			return errf("I don't know about node %s", id)
		}
		n.migrating[slot] = id
		n.changedLocked(false)
	case "importing":
		if owner[slot] == me {
			return errf("I'm already the owner of hash slot %d", slot)
		}
		t := n.nodes[id]
		if t == nil {
			return errf("I don't know about node %s", id)
		}
		n.importing[slot] = id
		n.changedLocked(false)
	case "stable":
		delete(n.migrating, slot)
		delete(n.importing, slot)
		n.changedLocked(false)
	case "node":
		t := n.nodes[id]
		if t == nil {
			return errf("Unknown node %s", id)
		}
		keys := 0
		if n.opts.Keys != nil {
			keys = n.opts.Keys.CountKeysInSlot(slot)
		}
		if owner[slot] == me && t != me && keys > 0 {
			return errf("Can't assign hashslot %d to a different node while I still hold keys for this hash slot.", slot)
		}
		if _, ok := n.migrating[slot]; ok && keys == 0 {
			delete(n.migrating, slot)
		}
		mine := owner[slot] == me || t == me
		if _, ok := n.importing[slot]; ok && t == me {
			delete(n.importing, slot)
			// Redis bumps the epoch without consensus so that the new
			// owner's claim wins everywhere (unless it already holds the
			// unique maximum).
			n.bumpEpochLocked(false)
		}
		for _, nd := range n.nodes {
			if nd.rec.Slots.has(slot) {
				nd.rec.Slots.clear(slot)
				nd.hinted = nd != me
			}
		}
		t.rec.Slots.set(slot)
		t.hinted = t != me
		if t == me && owner[slot] != me && me.rec.ConfigEpoch <= epochOf(owner[slot]) {
			n.bumpEpochLocked(true)
		}
		n.changedLocked(mine)
	default:
		return ReplyError("Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
	}
	return nil
}

func epochOf(nd *node) uint64 {
	if nd == nil {
		return 0
	}
	return nd.rec.ConfigEpoch
}

// bumpEpochLocked gives this node a config epoch above every known one
// unless it already holds the unique maximum (force bumps anyway). It
// reports whether it bumped.
func (n *Node) bumpEpochLocked(force bool) bool {
	me := n.myself
	var maxOther uint64
	for _, nd := range n.nodes {
		if nd != me && nd.rec.ConfigEpoch > maxOther {
			maxOther = nd.rec.ConfigEpoch
		}
	}
	if !force && me.rec.ConfigEpoch != 0 && me.rec.ConfigEpoch > maxOther {
		return false
	}
	n.currentEpoch = max(n.currentEpoch, maxOther, me.rec.ConfigEpoch) + 1
	me.rec.ConfigEpoch = n.currentEpoch
	return true
}

// BumpEpoch runs CLUSTER BUMPEPOCH: it returns the epoch and whether it
// changed.
func (n *Node) BumpEpoch() (uint64, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	me := n.myself
	var maxEpoch uint64
	for _, nd := range n.nodes {
		maxEpoch = max(maxEpoch, nd.rec.ConfigEpoch)
	}
	if me.rec.ConfigEpoch == 0 || me.rec.ConfigEpoch != maxEpoch {
		n.currentEpoch = max(n.currentEpoch, maxEpoch) + 1
		me.rec.ConfigEpoch = n.currentEpoch
		n.changedLocked(true)
		return me.rec.ConfigEpoch, true
	}
	return me.rec.ConfigEpoch, false
}

// SetConfigEpoch runs CLUSTER SET-CONFIG-EPOCH.
func (n *Node) SetConfigEpoch(e int64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e < 0 {
		return errf("Invalid config epoch specified: %d", e)
	}
	if len(n.nodes) > 1 {
		return ReplyError("The user can assign a config epoch only when the node does not know any other node.")
	}
	if n.myself.rec.ConfigEpoch != 0 {
		return ReplyError("Node config epoch is already non-zero")
	}
	n.myself.rec.ConfigEpoch = uint64(e)
	n.currentEpoch = max(n.currentEpoch, uint64(e))
	n.changedLocked(true)
	return nil
}

// Forget runs CLUSTER FORGET: the node is dropped and its gossip ignored
// for 60 seconds.
func (n *Node) Forget(id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	nd := n.nodes[id]
	if nd == nil {
		return errf("Unknown node %s", id)
	}
	if nd == n.myself {
		return ReplyError("I tried hard but I can't forget myself...")
	}
	delete(n.nodes, id)
	n.forgotten[id] = n.opts.Now().Add(60 * time.Second)
	for s, t := range n.migrating {
		if t == id {
			delete(n.migrating, s)
		}
	}
	for s, t := range n.importing {
		if t == id {
			delete(n.importing, s)
		}
	}
	n.changedLocked(false)
	return nil
}

// Reset runs CLUSTER RESET: forget every node and slot; hard also takes a
// new node id and zeroes the epochs. The caller checked for keys.
func (n *Node) Reset(hard bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	me := n.myself
	for id := range n.nodes {
		if id != me.rec.ID {
			delete(n.nodes, id)
		}
	}
	me.rec.Slots = bitmap{}
	clear(n.migrating)
	clear(n.importing)
	if hard {
		delete(n.nodes, me.rec.ID)
		me.rec.ID, me.rec.ShardID = NewNodeID(), NewNodeID()
		me.rec.ConfigEpoch, n.currentEpoch = 0, 0
		n.nodes[me.rec.ID] = me
	}
	n.changedLocked(true)
	select {
	case n.g.reset <- struct{}{}:
	default:
	}
}

// Known reports whether id is a known node.
func (n *Node) Known(id string) (known, myself bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	nd := n.nodes[id]
	return nd != nil, nd == n.myself
}

// Nodes describes every known node, this node first.
func (n *Node) Nodes() []NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	owner := n.ownersLocked()
	served := make(map[*node]*bitmap)
	for s, nd := range owner {
		if nd != nil {
			b := served[nd]
			if b == nil {
				b = new(bitmap)
				served[nd] = b
			}
			b.set(s)
		}
	}
	var out []NodeInfo
	for _, nd := range n.nodes {
		r := nd.rec
		info := NodeInfo{ID: r.ID, ShardID: r.ShardID, IP: r.IP, Port: r.Port, BusPort: r.BusPort,
			ConfigEpoch: r.ConfigEpoch, Myself: nd == n.myself, Failed: nd.failed, PFail: nd.pfail,
			Handshake: !nd.joined, PongRecv: nd.seen.UnixMilli()}
		if b := served[nd]; b != nil {
			info.Slots = b.ranges()
		}
		if nd == n.myself {
			info.PongRecv = 0
			info.Migrating, info.Importing = make(map[int]string), make(map[int]string)
			for s, id := range n.migrating {
				info.Migrating[s] = id
			}
			for s, id := range n.importing {
				info.Importing[s] = id
			}
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int {
		if a.Myself != b.Myself {
			if a.Myself {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Options returns the options the node was built with.
func (n *Node) Options() Options { return n.opts }

// SetClientPort sets the client port when it was not known at New (a
// listener on port 0); it does nothing when the port is already set.
func (n *Node) SetClientPort(port int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.myself.rec.Port == port {
		return
	}
	n.myself.rec.Port = port
	n.changedLocked(true)
}
