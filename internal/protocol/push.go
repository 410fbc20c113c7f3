package protocol

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Out-of-band output: pub/sub messages, tracking invalidations and
// MONITOR lines reach a client through its outbox, never through c.out.
//
// Any goroutine may push (a PUBLISH from another connection, a store hook
// under a shard lock): push only appends to the outbox under its mutex and
// wakes the client's push writer; it never blocks on the network.
//
// Ordering: a push must never land inside a reply, and must not overtake
// the replies of commands that ran before it was produced (a tracking
// client that read a key must see the read's reply before the key's
// invalidation, or it would cache a stale value). The connection goroutine
// marks the outbox busy as soon as it has read input, before any command of
// the batch runs; while busy, pushes wait, and the connection goroutine
// writes them after the batch's replies (idle). While the client is idle,
// the push writer goroutine writes them at once, without involving the
// read loop. Both write under c.wmu, so whole replies and whole pushes
// alternate on the socket.
//
// The push writer is started on the first push and is owned by the
// connection goroutine, which stops it and waits for it before leaving.
// Pending pushes are counted in used_memory and bounded by the pubsub class
// of client-output-buffer-limit for subscribed clients (the normal class
// otherwise): over the hard limit, or over the soft limit for soft-seconds,
// the client is closed.
type outbox struct {
	mu       sync.Mutex
	buf      []byte
	spare    []byte
	busy     bool
	started  bool
	closed   bool
	overSoft time.Time
	acct     int64
	wake     chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

// pushLimitClass says which output limit applies to pending pushes.
func (c *Client) pushLimits() (hard, soft int64, softDur time.Duration) {
	if c.subCount.Load() > 0 {
		if l := c.srv.pubsubLimit.Load(); l != nil {
			return l.hard, l.soft, l.softDur
		}
		return 0, 0, 0
	}
	l := c.srv.outLimit.Load()
	return l.hard, l.soft, l.softDur
}

// push queues one whole frame for the client. Safe from any goroutine;
// it does not block on the network.
func (c *Client) push(frame []byte) {
	b := &c.box
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.buf = append(b.buf, frame...)
	b.acct += int64(len(frame))
	c.st.AddMemory(int64(len(frame)))
	c.srv.pushStats.frames.Add(1)
	hard, soft, softDur := c.pushLimits()
	pending := int64(len(b.buf))
	kill := ""
	switch {
	case hard > 0 && pending > hard:
		kill = "pending pushes over the hard limit"
	case soft > 0 && pending > soft && softDur > 0:
		now := time.Now()
		if b.overSoft.IsZero() {
			b.overSoft = now
		} else if now.Sub(b.overSoft) >= softDur {
			kill = "pending pushes over the soft limit for too long"
		}
	case soft > 0 && pending > soft:
		kill = "pending pushes over the soft limit"
	default:
		b.overSoft = time.Time{}
	}
	if kill != "" {
		b.closeLocked(c)
		b.mu.Unlock()
		c.outputLimitClose(kill, int(pending))
		c.nc.Close()
		return
	}
	if !b.started {
		b.started = true
		b.wake = make(chan struct{}, 1)
		b.stop = make(chan struct{})
		b.wg.Add(1)
		go c.pushWriter()
	}
	if !b.busy {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	} else {
		c.loopAttention() // an event loop client: hand it to a goroutine
	}
	b.mu.Unlock()
}

// closeLocked drops the pending pushes and refuses new ones (b.mu held).
func (b *outbox) closeLocked(c *Client) {
	b.closed = true
	if b.acct != 0 {
		c.st.AddMemory(-b.acct)
		b.acct = 0
	}
	b.buf, b.spare = nil, nil
	if b.started {
		close(b.stop)
	}
}

// pushBusy marks the client as having commands in flight (connection
// goroutine, right after input arrived).
func (c *Client) pushBusy() {
	b := &c.box
	b.mu.Lock()
	b.busy = true
	b.mu.Unlock()
}

// pushIdle writes the pushes queued while the batch ran, after its
// replies, and hands delivery back to the push writer (connection
// goroutine). It returns false when the connection is gone.
func (c *Client) pushIdle() bool {
	return c.drainPushes(true)
}

// pushWriter delivers pushes to an idle client until the client goes away.
func (c *Client) pushWriter() {
	b := &c.box
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case <-b.wake:
		}
		if !c.drainPushes(false) {
			return
		}
	}
}

// drainPushes writes pending pushes under the write lock. From the push
// writer it stops while the client is busy; from the connection goroutine
// it clears busy once nothing is pending.
func (c *Client) drainPushes(fromConn bool) bool {
	b := &c.box
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for {
		b.mu.Lock()
		if b.closed {
			b.busy = false
			b.mu.Unlock()
			return !fromConn || !c.killed.Load()
		}
		if len(b.buf) == 0 || (!fromConn && b.busy) {
			if fromConn {
				b.busy = false
			}
			b.mu.Unlock()
			return true
		}
		buf := b.buf
		b.buf, b.spare = b.spare[:0], nil
		b.overSoft = time.Time{}
		b.mu.Unlock()

		err := c.writePushes(buf)

		b.mu.Lock()
		if !b.closed {
			b.acct -= int64(len(buf))
			c.st.AddMemory(-int64(len(buf)))
			if cap(buf) <= 64<<10 {
				b.spare = buf[:0]
			}
		}
		b.mu.Unlock()
		if err != nil {
			c.killed.Store(true)
			c.nc.Close()
			return false
		}
	}
}

// writePushes writes buf (c.wmu held), bounded by client-output-timeout.
func (c *Client) writePushes(buf []byte) error {
	lim := c.srv.outLimit.Load()
	if lim.timeout > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(lim.timeout))
	} else if !c.wdl.IsZero() {
		c.nc.SetWriteDeadline(time.Time{})
	}
	c.wdl = time.Time{}
	var err error
	for off := 0; off < len(buf) && err == nil; {
		var n int
		n, err = c.nc.Write(buf[off:min(off+writeChunk, len(buf))])
		off += n
		c.srv.stats.netOut.Add(int64(n))
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			c.outputLimitClose("client-output-timeout: the client is not reading its pushes", len(buf)-off)
		}
	}
	if lim.timeout > 0 {
		c.nc.SetWriteDeadline(time.Time{})
	}
	return err
}

// stopPushes stops the push writer and drops what is pending (connection
// goroutine, when the client goes away).
func (c *Client) stopPushes() {
	b := &c.box
	b.mu.Lock()
	started := b.started
	if !b.closed {
		b.closeLocked(c)
	}
	b.mu.Unlock()
	if started {
		// A writer blocked on a peer that stopped reading must not keep
		// the connection goroutine (and Shutdown) waiting.
		c.nc.SetWriteDeadline(time.Now())
	}
	b.wg.Wait()
}

// pushStats count out-of-band frames.
type pushStats struct {
	frames        atomic.Uint64 // frames queued (messages, invalidations)
	invalidations atomic.Uint64 // invalidation frames
	messages      atomic.Uint64 // PUBLISH deliveries
}
