package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Membership and slot-map propagation run on hashicorp/memberlist (SWIM
// failure detection, gossip, TCP push/pull anti-entropy) on the bus port.
//
//   - Each node is the only author of its Record; a change (ADDSLOTS,
//     SETSLOT NODE, an epoch bump, a takeover) raises its Version and the
//     node sends its records to every member at once (reliable messages),
//     and push/pull repeats them every second.
//   - A receiver keeps the newest version of each record; slot owners are
//     derived from all records: the highest config epoch claiming a slot
//     wins. A node that sees its own slot claimed with a higher epoch drops
//     it and deletes its keys (as Redis does on an UPDATE).
//   - memberlist's dead declaration (tuned to cluster-node-timeout) marks
//     a node failed; with cluster-slot-takeover the live masters share its
//     slots (empty) by bumping their epochs.
//
// Callbacks from memberlist only touch this package's state; memberlist
// is never called with n.mu held.

type wireRecord struct {
	ID      string   `json:"id"`
	Shard   string   `json:"shard"`
	IP      string   `json:"ip"`
	Port    int      `json:"port"`
	Bus     int      `json:"bus"`
	Epoch   uint64   `json:"epoch"`
	Version uint64   `json:"ver"`
	Slots   [][2]int `json:"slots,omitempty"`
}

type wireMsg struct {
	Records []wireRecord  `json:"records,omitempty"`
	From    string        `json:"from,omitempty"`
	Inval   *Invalidation `json:"inval,omitempty"`
	Ack     *invalAck     `json:"ack,omitempty"`
}

func marshal(m *wireMsg) ([]byte, error) { return json.Marshal(m) }

func toWire(r *Record) wireRecord {
	return wireRecord{ID: r.ID, Shard: r.ShardID, IP: r.IP, Port: r.Port, Bus: r.BusPort,
		Epoch: r.ConfigEpoch, Version: r.Version, Slots: r.Slots.ranges()}
}

func fromWire(w wireRecord) (Record, bool) {
	r := Record{ID: w.ID, ShardID: w.Shard, IP: w.IP, Port: w.Port, BusPort: w.Bus, ConfigEpoch: w.Epoch, Version: w.Version}
	if len(w.ID) != 40 {
		return r, false
	}
	for _, rg := range w.Slots {
		if rg[0] < 0 || rg[1] >= Slots || rg[0] > rg[1] {
			return r, false
		}
		for s := rg[0]; s <= rg[1]; s++ {
			r.Slots.set(s)
		}
	}
	return r, true
}

// gossip is the memberlist side of a Node.
type gossip struct {
	ml      *memberlist.Memberlist
	kick    chan struct{} // my records changed: send them
	meet    chan string   // CLUSTER MEET bus addresses
	reset   chan struct{} // CLUSTER RESET: rejoin under the new identity
	pending map[string]time.Time
	inval   chan struct{} // invalidations to send
	out     chan outMsg   // acknowledgements to send
}

// Meet asks the node to join the node whose bus listens on ip:busPort
// (CLUSTER MEET). It returns at once; the join happens in Run.
func (n *Node) Meet(ip string, busPort int) {
	addr := net.JoinHostPort(ip, strconv.Itoa(busPort))
	select {
	case n.g.meet <- addr:
	default: // the queue is full: the join loop will get to the next MEET
	}
}

// Save writes the cluster config file (CLUSTER SAVECONFIG).
func (n *Node) Save() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.saveLocked()
}

func (n *Node) kickLocked() {
	select {
	case n.g.kick <- struct{}{}:
	default:
	}
}

// memberlistConfig tunes memberlist so that a dead node is declared about
// cluster-node-timeout after it stopped answering.
func (n *Node) memberlistConfig() *memberlist.Config {
	conf := memberlist.DefaultLocalConfig()
	n.mu.Lock()
	me := n.myself.rec
	n.mu.Unlock()
	// The member name is the node id plus a session suffix, new for each
	// memberlist (start, RESET): peers still probing a former session (a
	// node reset by del-node, a crashed process) get no answer and drop
	// it, instead of being re-introduced to a node that forgot them.
	conf.Name = me.ID + "-" + NewNodeID()[:8]
	conf.BindAddr = me.IP
	conf.BindPort = me.BusPort
	conf.AdvertiseAddr = me.IP
	conf.AdvertisePort = me.BusPort
	t := n.opts.NodeTimeout
	conf.ProbeInterval = max(t/5, 20*time.Millisecond)
	conf.ProbeTimeout = max(conf.ProbeInterval/2, 10*time.Millisecond)
	conf.SuspicionMult = 4
	conf.SuspicionMaxTimeoutMult = 1
	conf.GossipInterval = min(conf.GossipInterval, conf.ProbeInterval)
	conf.PushPullInterval = time.Second
	conf.TCPTimeout = max(min(t, 2*time.Second), 200*time.Millisecond)
	conf.Delegate = (*delegate)(n)
	conf.Events = (*events)(n)
	conf.LogOutput = io.Discard
	if len(n.opts.BusKey) > 0 {
		conf.SecretKey = n.opts.BusKey
		conf.GossipVerifyIncoming, conf.GossipVerifyOutgoing = true, true
	}
	return conf
}

// Run joins the cluster bus and keeps the node's view up to date until
// ctx ends: memberlist, the sender of this node's records, MEETs and
// rejoins of known peers, failure marks and slot takeover.
func (n *Node) Run(ctx context.Context) error {
	ml, err := memberlist.Create(n.memberlistConfig())
	if err != nil {
		return fmt.Errorf("cluster bus: %w", err)
	}
	n.setBusPort(ml)
	n.gmu.Lock()
	n.g.ml = ml
	n.gmu.Unlock()
	defer func() {
		n.gmu.Lock()
		ml := n.g.ml
		n.g.ml = nil
		n.gmu.Unlock()
		if ml != nil {
			ml.Shutdown()
		}
	}()
	n.rejoin(ml)
	tick := time.NewTicker(max(min(n.opts.NodeTimeout/10, 100*time.Millisecond), 10*time.Millisecond))
	defer tick.Stop()
	lastJoin := time.Now()
	for {
		select {
		case <-ctx.Done():
			return nil
		case addr := <-n.g.meet:
			n.g.pending[addr] = time.Now()
			n.join(ml, []string{addr})
		case <-n.g.kick:
			n.send(ml)
		case <-n.g.inval:
			n.sendPending(ml)
		case o := <-n.g.out:
			n.sendOut(ml, o)
		case <-n.g.reset:
			ml.Shutdown()
			if ml, err = memberlist.Create(n.memberlistConfig()); err != nil {
				return fmt.Errorf("cluster bus after RESET: %w", err)
			}
			n.gmu.Lock()
			n.g.ml = ml
			n.gmu.Unlock()
		case <-tick.C:
			n.observe(ml)
			n.takeover()
			n.sendPending(ml)
			if time.Since(lastJoin) >= 500*time.Millisecond {
				lastJoin = time.Now()
				n.rejoin(ml)
			}
		}
	}
}

func (n *Node) setBusPort(ml *memberlist.Memberlist) {
	ln := ml.LocalNode()
	n.mu.Lock()
	defer n.mu.Unlock()
	if int(ln.Port) != n.myself.rec.BusPort {
		n.myself.rec.BusPort = int(ln.Port)
		n.changedLocked(true)
	}
}

// join joins addrs; successful MEETs leave the pending list, the others
// are retried for a minute.
func (n *Node) join(ml *memberlist.Memberlist, addrs []string) {
	for _, a := range addrs {
		if _, err := ml.Join([]string{a}); err == nil {
			delete(n.g.pending, a)
		} else if t, ok := n.g.pending[a]; ok && time.Since(t) > time.Minute {
			delete(n.g.pending, a)
		}
	}
}

// rejoin retries pending MEETs and joins known peers memberlist does not
// list (a restarted node finds its cluster through its config file).
func (n *Node) rejoin(ml *memberlist.Memberlist) {
	members := make(map[string]bool)
	for _, m := range ml.Members() {
		members[idOf(m.Name)] = true
	}
	var addrs []string
	for a := range n.g.pending {
		addrs = append(addrs, a)
	}
	n.mu.Lock()
	for id, nd := range n.nodes {
		if nd != n.myself && !members[id] && nd.rec.IP != "" {
			addrs = append(addrs, net.JoinHostPort(nd.rec.IP, strconv.Itoa(nd.rec.BusPort)))
		}
	}
	n.mu.Unlock()
	slices.Sort(addrs)
	n.join(ml, slices.Compact(addrs))
}

// send gives every member this node's records.
func (n *Node) send(ml *memberlist.Memberlist) {
	msg := n.localState()
	for _, m := range ml.Members() {
		if idOf(m.Name) == idOf(ml.LocalNode().Name) || m.State != memberlist.StateAlive {
			continue
		}
		if err := ml.SendReliable(m, msg); err == nil {
			n.stats.MessagesSent.Add(1)
		}
	}
}

// localState encodes the records this node can vouch for: its own and
// the latest versions it received (not its local edits of others').
func (n *Node) localState() []byte {
	n.mu.Lock()
	var msg wireMsg
	msg.From = n.myself.rec.ID
	for _, nd := range n.nodes {
		if !nd.hinted {
			msg.Records = append(msg.Records, toWire(&nd.rec))
		}
	}
	n.mu.Unlock()
	b, _ := json.Marshal(&msg)
	return b
}

// observe refreshes the failure marks from memberlist's member list.
func (n *Node) observe(ml *memberlist.Memberlist) {
	state := make(map[string]memberlist.NodeStateType)
	for _, m := range ml.Members() {
		if st, ok := state[idOf(m.Name)]; !ok || st != memberlist.StateAlive {
			state[idOf(m.Name)] = m.State
		}
	}
	now := n.opts.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	changed := false
	for id, nd := range n.nodes {
		if nd == n.myself {
			continue
		}
		st, member := state[id]
		pfail := member && st == memberlist.StateSuspect
		failed := nd.failed
		if member && st == memberlist.StateAlive {
			nd.seen, nd.joined, failed = now, true, false
		} else if !member && now.Sub(nd.seen) > n.opts.NodeTimeout {
			failed = true
		}
		if pfail != nd.pfail || failed != nd.failed {
			if failed && !nd.failed {
				n.opts.Logf("cluster node marked failed", "node", id, "addr", addrOf(nd.rec.IP, nd.rec.Port))
			}
			if !failed && nd.failed {
				n.opts.Logf("cluster node is reachable again", "node", id)
			}
			nd.pfail, nd.failed = pfail, failed
			changed = true
		}
	}
	for id, until := range n.forgotten {
		if now.After(until) {
			delete(n.forgotten, id)
		}
	}
	if changed {
		n.publishLocked()
	}
}

// takeover shares the slots of failed masters among the live masters
// (cluster-slot-takeover): each live master that serves slots computes
// the same split (failed slots in order, in equal runs, masters by id) and
// claims its run with a new epoch.
func (n *Node) takeover() {
	if !n.opts.SlotTakeover {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	owner := n.ownersLocked()
	var lost []int
	liveSet := make(map[*node]bool)
	for s, nd := range owner {
		switch {
		case nd == nil:
		case nd.failed:
			lost = append(lost, s)
		default:
			liveSet[nd] = true
		}
	}
	if len(lost) == 0 || !liveSet[n.myself] {
		return
	}
	var live []*node
	for nd := range liveSet {
		live = append(live, nd)
	}
	slices.SortFunc(live, func(a, b *node) int {
		if a.rec.ID < b.rec.ID {
			return -1
		}
		return 1
	})
	i := slices.Index(live, n.myself)
	per := (len(lost) + len(live) - 1) / len(live)
	lo, hi := min(i*per, len(lost)), min((i+1)*per, len(lost))
	if lo == hi {
		return
	}
	for _, s := range lost[lo:hi] {
		n.myself.rec.Slots.set(s)
		delete(n.importing, s)
	}
	n.bumpEpochLocked(true)
	n.stats.SlotsTakenOver.Add(int64(hi - lo))
	n.opts.Logf("took over the slots of failed nodes", "slots", hi-lo, "epoch", n.myself.rec.ConfigEpoch)
	n.changedLocked(true)
}

// merge applies received records. It reports whether it changed anything.
func (n *Node) merge(recs []wireRecord) {
	n.mu.Lock()
	defer n.mu.Unlock()
	dirty := false
	for _, w := range recs {
		r, ok := fromWire(w)
		if !ok || r.ID == n.myself.rec.ID {
			continue
		}
		if _, banned := n.forgotten[r.ID]; banned {
			continue
		}
		nd := n.nodes[r.ID]
		if nd == nil {
			n.nodes[r.ID] = &node{rec: r, seen: n.opts.Now()}
			dirty = true
			continue
		}
		if r.Version > nd.rec.Version || nd.hinted && r.Version == nd.rec.Version {
			if r.ConfigEpoch != nd.rec.ConfigEpoch || r.Slots != nd.rec.Slots || r.IP != nd.rec.IP || r.Port != nd.rec.Port || r.BusPort != nd.rec.BusPort {
				dirty = true
			}
			nd.rec, nd.hinted = r, false
		}
	}
	if !dirty {
		return
	}
	mine := n.resolveLocked()
	n.changedLocked(mine)
}

// resolveLocked drops the slots of this node that others claim with a
// higher epoch (deleting their keys) and settles epoch collisions. It
// reports whether this node's record changed.
func (n *Node) resolveLocked() bool {
	me := n.myself
	changed := false
	for _, nd := range n.nodes {
		if nd != me && me.rec.ConfigEpoch != 0 && nd.rec.ConfigEpoch == me.rec.ConfigEpoch && nd.rec.ID < me.rec.ID {
			n.bumpEpochLocked(true)
			changed = true
			break
		}
	}
	owner := n.ownersLocked()
	for s := range Slots {
		if me.rec.Slots.has(s) && owner[s] != me {
			me.rec.Slots.clear(s)
			delete(n.migrating, s)
			changed = true
			if n.opts.Keys != nil {
				if k := n.opts.Keys.DeleteKeysInSlot(s); k > 0 {
					n.opts.Logf("slot lost to a higher epoch: keys deleted", "slot", s, "keys", k, "owner", owner[s].rec.ID)
				}
			}
		}
	}
	return changed
}

// delegate is memberlist's Delegate.
type delegate Node

func (d *delegate) NodeMeta(int) []byte { return nil }

func (d *delegate) NotifyMsg(b []byte) {
	n := (*Node)(d)
	n.stats.MessagesRecv.Add(1)
	var msg wireMsg
	if json.Unmarshal(b, &msg) != nil {
		return
	}
	if len(msg.Records) > 0 {
		n.merge(msg.Records)
	}
	if msg.Inval != nil && msg.From != "" {
		n.onInval(*msg.Inval, msg.From)
	}
	if msg.Ack != nil && msg.From != "" {
		n.onAck(*msg.Ack, msg.From)
	}
}

func (d *delegate) GetBroadcasts(int, int) [][]byte { return nil }

func (d *delegate) LocalState(bool) []byte { return (*Node)(d).localState() }

func (d *delegate) MergeRemoteState(b []byte, _ bool) {
	d.NotifyMsg(b)
}

// events is memberlist's EventDelegate: a join clears a failure mark at
// once; observe marks failures.
type events Node

func (e *events) NotifyJoin(m *memberlist.Node) {
	n := (*Node)(e)
	n.mu.Lock()
	defer n.mu.Unlock()
	id := idOf(m.Name)
	if nd := n.nodes[id]; nd != nil && nd != n.myself {
		nd.joined, nd.seen = true, n.opts.Now()
		if nd.failed {
			nd.failed = false
			n.publishLocked()
		}
	}
	if id != n.myself.rec.ID {
		n.kickLocked()
	}
}

// NotifyLeave does nothing: a node has several member names over its
// life (sessions), so observe decides from the whole member list.
func (e *events) NotifyLeave(*memberlist.Node) {}

func (e *events) NotifyUpdate(*memberlist.Node) {}

// idOf returns the node id of a memberlist member name (id-session).
func idOf(name string) string {
	if len(name) > 40 {
		return name[:40]
	}
	return name
}
