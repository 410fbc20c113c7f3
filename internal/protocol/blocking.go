package protocol

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX).
//
// A client that finds every key empty registers a waiter on its keys and
// waits, holding no lock, until a write signals one of them, its timeout
// passes, it is killed or the server shuts down. Waiters of a key queue in
// arrival order and a write wakes the first one not yet woken; a waiter
// that gets an element passes the signal on to the next one, so elements
// go to clients in the order they blocked. A woken client that finds
// nothing (another client was faster) keeps its place in the queue.
//
// Lock order: shard locks, then the registry's mutex. Waiters register
// while still holding the shard locks of their keys, so a write between
// their empty read and the registration cannot be missed.

type blockKey struct {
	db  int
	key string
}

type waiter struct {
	c        *Client
	keys     []blockKey
	ch       chan struct{} // capacity 1: a pending wake-up
	signaled bool          // woken and not yet retried (registry mutex)
}

// blockRegistry is the server's table of blocked clients. The zero value
// is ready to use.
type blockRegistry struct {
	n      atomic.Int64 // registered waiters: writes skip the mutex when 0
	mu     sync.Mutex
	queues map[blockKey][]*waiter
	byCli  map[*Client]*waiter
	closed bool
}

// add registers c as waiting on keys of db; nil when the server is
// shutting down.
func (r *blockRegistry) add(c *Client, db int, keys [][]byte) *waiter {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	if r.queues == nil {
		r.queues = make(map[blockKey][]*waiter)
		r.byCli = make(map[*Client]*waiter)
	}
	w := &waiter{c: c, ch: make(chan struct{}, 1)}
	for _, k := range keys {
		bk := blockKey{db, string(k)}
		dup := false
		for _, x := range w.keys {
			dup = dup || x == bk
		}
		if dup {
			continue
		}
		w.keys = append(w.keys, bk)
		r.queues[bk] = append(r.queues[bk], w)
	}
	r.byCli[c] = w
	r.n.Add(1)
	return w
}

// remove unregisters w.
func (r *blockRegistry) remove(w *waiter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range w.keys {
		q := r.queues[k]
		for i, x := range q {
			if x == w {
				q = append(q[:i], q[i+1:]...)
				break
			}
		}
		if len(q) == 0 {
			delete(r.queues, k)
		} else {
			r.queues[k] = q
		}
	}
	delete(r.byCli, w.c)
	r.n.Add(-1)
}

// retrying marks that w is about to look at its keys again.
func (r *blockRegistry) retrying(w *waiter) {
	r.mu.Lock()
	w.signaled = false
	r.mu.Unlock()
}

// signal wakes the first waiter on (db, key) not woken yet. The caller
// holds the key's shard lock, after a write that may serve a waiter.
func (r *blockRegistry) signal(db int, key []byte) {
	if r.n.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.queues[blockKey{db, string(key)}] {
		if !w.signaled {
			w.signaled = true
			select {
			case w.ch <- struct{}{}:
			default:
			}
			return
		}
	}
}

// signalDBs wakes every waiter on a key of the given databases, to look at
// its keys again (SWAPDB: the keys of both databases changed at once, as
// Redis's scanDatabaseForReadyKeys sees).
func (r *blockRegistry) signalDBs(dbs ...int) {
	if r.n.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for bk, q := range r.queues {
		if !slices.Contains(dbs, bk.db) {
			continue
		}
		for _, w := range q {
			if !w.signaled {
				w.signaled = true
				select {
				case w.ch <- struct{}{}:
				default:
				}
			}
		}
	}
}

// cancel wakes c if it is blocked (CLIENT KILL).
func (r *blockRegistry) cancel(c *Client) {
	if r.n.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if w := r.byCli[c]; w != nil {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

// close wakes every blocked client and refuses new waiters (shutdown).
func (r *blockRegistry) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, w := range r.byCli {
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

func (r *blockRegistry) isClosed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closed
}

// blocked returns the number of blocked clients (INFO blocked_clients).
func (r *blockRegistry) blocked() int64 { return r.n.Load() }

// parseTimeout parses a blocking command's timeout in seconds (a float;
// 0 waits forever) into milliseconds.
func (c *Client) parseTimeout(arg []byte) (int64, bool) {
	f, ok := parseFloat(arg)
	if !ok || f > 1e12 {
		c.addError("ERR timeout is not a float or out of range")
		return 0, false
	}
	if f < 0 {
		c.addError("ERR timeout is negative")
		return 0, false
	}
	return int64(f*1000 + 0.5), true
}

// block runs try under the shard locks of lock until it replies; between
// tries it waits for a write on one of the wait keys. try must write a
// reply (value or error) and return true, or write nothing and return
// false. timedOut writes the reply for a timeout; inside MULTI/EXEC the
// client never waits and times out at once.
func (c *Client) block(lock, wait [][]byte, timeoutMs int64, try func() bool, timedOut func()) {
	reg := &c.srv.blocked
	var deadline time.Time
	if timeoutMs > 0 {
		deadline = time.Now().Add(time.Duration(timeoutMs) * time.Millisecond)
	}
	var w *waiter
	for {
		c.tx.Keys(c.now, lock)
		if w != nil {
			reg.retrying(w)
		}
		if try() {
			c.tx.Release()
			if w != nil {
				reg.remove(w)
				// Pass the turn on: more elements may be left.
				for _, k := range wait {
					reg.signal(c.db, k)
				}
			}
			return
		}
		if !c.inExec && w == nil {
			w = reg.add(c, c.db, wait)
		}
		if w == nil { // inside EXEC, or shutting down
			c.tx.Release()
			timedOut()
			return
		}
		c.tx.Release()
		if !c.waitFor(w, deadline) {
			reg.remove(w)
			timedOut()
			return
		}
		c.now = c.srv.nowMs()
	}
}

// waitFor waits for a wake-up of w; false when the deadline passed or the
// client is going away (killed, server shutting down).
func (c *Client) waitFor(w *waiter, deadline time.Time) bool {
	var tc <-chan time.Time
	if !deadline.IsZero() {
		d := time.Until(deadline)
		if d <= 0 {
			return false
		}
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-w.ch:
		return !c.killed.Load() && !c.srv.blocked.isClosed()
	case <-tc:
		return false
	}
}
