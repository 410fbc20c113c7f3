package cluster

import (
	"context"
	"time"

	"github.com/hashicorp/memberlist"
)

// Cluster-wide tag invalidation. Tags are not slot-local, so INVALIDATE
// and SOFTINVALIDATE on one node must reach every node:
//
//   - The origin applies the invalidation, sends it to every live member
//     over memberlist's reliable (TCP) messages and waits for their
//     acknowledgements, each carrying the count of keys invalidated there,
//     up to the wait limit (Broadcast's ctx).
//   - A node that does not acknowledge in time keeps the invalidation in
//     the origin's pending list, resent every 200 ms until it
//     acknowledges, for up to 10 minutes: at-least-once across a brief
//     absence. Receivers remember invalidation ids for 10 minutes and
//     apply each once, so a resend is harmless.
//   - Invalidations commute (each moves tag generations forward), so no
//     order between them is promised or needed.

// Invalidation is one INVALIDATE or SOFTINVALIDATE to apply on every node.
type Invalidation struct {
	ID    string   `json:"id"`
	Soft  bool     `json:"soft,omitempty"`
	Grace int64    `json:"grace,omitempty"` // ms (SOFTINVALIDATE)
	Tags  []string `json:"tags"`
}

// Invalidator applies an invalidation on this node and returns the number
// of keys it invalidated.
type Invalidator func(Invalidation) int64

type invalAck struct {
	ID    string `json:"id"`
	Count int64  `json:"count"`
}

type pendingInval struct {
	inv   Invalidation
	since time.Time
	sent  time.Time
}

type outMsg struct {
	to  string // node id
	msg []byte
}

const invalKeep = 10 * time.Minute

// SetInvalidator installs the function that applies invalidations sent by
// other nodes. Call it once, before Run.
func (n *Node) SetInvalidator(fn Invalidator) { n.invalidator = fn }

// Broadcast sends inv to every other known node and waits until each live
// one acknowledged or ctx ends. It returns the keys invalidated on the
// nodes that acknowledged, and how many nodes have not acknowledged yet
// (they keep getting it, see above). wait false returns at once.
func (n *Node) Broadcast(ctx context.Context, inv Invalidation, wait bool) (count int64, missing int) {
	acks := make(chan invalAck, 64)
	now := n.opts.Now()
	n.mu.Lock()
	var targets []string
	for id, nd := range n.nodes {
		if nd == n.myself {
			continue
		}
		targets = append(targets, id)
		if n.pending[id] == nil {
			n.pending[id] = make(map[string]*pendingInval)
		}
		n.pending[id][inv.ID] = &pendingInval{inv: inv, since: now}
	}
	if wait {
		n.waiters[inv.ID] = acks
	}
	n.mu.Unlock()
	n.stats.InvalidationsSent.Add(1)
	if len(targets) == 0 {
		return 0, 0
	}
	select { // the loop sends the pending invalidations now
	case n.g.inval <- struct{}{}:
	default:
	}
	if !wait {
		return 0, len(targets)
	}
	defer func() {
		n.mu.Lock()
		delete(n.waiters, inv.ID)
		n.mu.Unlock()
	}()
	got := make(map[string]bool)
	for {
		// Done when every target acknowledged or is failed.
		n.mu.Lock()
		missing = 0
		for _, id := range targets {
			nd := n.nodes[id]
			if nd != nil && !got[id] && !nd.failed {
				missing++
			}
		}
		n.mu.Unlock()
		if missing == 0 {
			return count, 0
		}
		select {
		case a := <-acks:
			if !got[a.ID] {
				got[a.ID] = true
				count += a.Count
			}
		case <-ctx.Done():
			return count, missing
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// onInval applies an invalidation received from another node, once.
func (n *Node) onInval(inv Invalidation, from string) {
	n.mu.Lock()
	cnt, seen := n.seenInval[inv.ID]
	n.mu.Unlock()
	if !seen {
		if n.invalidator != nil {
			cnt.count = n.invalidator(inv)
		}
		cnt.at = n.opts.Now()
		n.mu.Lock()
		n.seenInval[inv.ID] = cnt
		n.mu.Unlock()
		n.stats.InvalidationsReceived.Add(1)
	}
	b, _ := marshal(&wireMsg{From: n.MyID(), Ack: &invalAck{ID: inv.ID, Count: cnt.count}})
	select {
	case n.g.out <- outMsg{to: from, msg: b}:
	default: // the origin resends; the next ack gets through
	}
}

// onAck records an acknowledgement.
func (n *Node) onAck(a invalAck, from string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if p := n.pending[from]; p != nil {
		delete(p, a.ID)
	}
	if ch := n.waiters[a.ID]; ch != nil {
		select {
		case ch <- invalAck{ID: from, Count: a.Count}:
		default:
		}
	}
}

// sendPending (re)sends the invalidations not yet acknowledged, at most
// every 200 ms per invalidation, and forgets old ones.
func (n *Node) sendPending(ml *memberlist.Memberlist) {
	now := n.opts.Now()
	members := make(map[string]*memberlist.Node)
	for _, m := range ml.Members() {
		if m.State == memberlist.StateAlive || members[idOf(m.Name)] == nil {
			members[idOf(m.Name)] = m
		}
	}
	var out []outMsg
	n.mu.Lock()
	for id, p := range n.pending {
		if n.nodes[id] == nil {
			delete(n.pending, id)
			continue
		}
		for iid, pi := range p {
			if now.Sub(pi.since) > invalKeep {
				delete(p, iid)
				n.stats.InvalidationsExpired.Add(1)
				continue
			}
			if members[id] == nil || now.Sub(pi.sent) < 200*time.Millisecond {
				continue
			}
			pi.sent = now
			b, _ := marshal(&wireMsg{From: n.myself.rec.ID, Inval: &pi.inv})
			out = append(out, outMsg{to: id, msg: b})
		}
	}
	for id, s := range n.seenInval {
		if now.Sub(s.at) > invalKeep {
			delete(n.seenInval, id)
		}
	}
	n.mu.Unlock()
	for _, o := range out {
		if m := members[o.to]; m != nil && ml.SendReliable(m, o.msg) == nil {
			n.stats.MessagesSent.Add(1)
		}
	}
}

// sendOut delivers a queued message (acknowledgements).
func (n *Node) sendOut(ml *memberlist.Memberlist, o outMsg) {
	for _, m := range ml.Members() {
		if idOf(m.Name) == o.to && m.State == memberlist.StateAlive {
			if ml.SendReliable(m, o.msg) == nil {
				n.stats.MessagesSent.Add(1)
			}
			return
		}
	}
}

// PendingInvalidations returns how many (node, invalidation) pairs await
// an acknowledgement.
func (n *Node) PendingInvalidations() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, p := range n.pending {
		k += len(p)
	}
	return k
}
