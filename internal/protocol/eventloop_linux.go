//go:build linux

package protocol

import (
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loopGroup is the set of running event loops.
type loopGroup struct {
	loops []*evLoop
	next  atomic.Uint32

	handoffs atomic.Int64
}

// evLoop is one event loop: an epoll instance, the connections it owns
// and an eventfd other goroutines use to hand it work.
type evLoop struct {
	s    *Server
	g    *loopGroup
	epfd int
	efd  int

	// Work from other goroutines, under mu.
	mu      sync.Mutex
	adds    []*Client // admitted clients to start watching
	attn    []*Client // clients with pushes queued
	exited  bool
	pending atomic.Bool // efd written and not read yet

	// Loop goroutine only.
	conns     []*Client // by descriptor
	n         int       // connections owned
	events    []unix.EpollEvent
	lastSweep int64
	spareAdds []*Client
	spareAttn []*Client
	efdBuf    [8]byte

	// waiting in Go's poller on the epoll descriptor
	epf      *os.File
	rc       syscall.RawConn
	readFn   func(uintptr) bool
	deadline int64
	n0       int
	err0     error

	wakes, nevents atomic.Int64
}

func rawWrite(fd int, b []byte) (int, error) { return unix.Write(fd, b) }
func rawClose(fd int) error                  { return unix.Close(fd) }
func rawShutdown(fd int)                     { unix.Shutdown(fd, unix.SHUT_RDWR) }

// loopWrap turns an admitted TCP connection into a loopConn when event
// loops are on, starting the loops on first use (admit, s.mu held). It
// returns nc itself when the connection stays on a goroutine.
func (s *Server) loopWrap(nc net.Conn) net.Conn {
	if s.loops.n <= 0 || s.origins != nil {
		return nc
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	s.loops.once.Do(s.startLoops)
	g := s.loops.group
	if g == nil {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	fd := -1
	var derr error
	if err := rc.Control(func(raw uintptr) {
		fd, derr = unix.FcntlInt(raw, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || derr != nil {
		return nc
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nc
	}
	lc := &loopConn{fd: fd, laddr: tc.LocalAddr(), raddr: tc.RemoteAddr()}
	lc.loop = g.loops[g.next.Add(1)%uint32(len(g.loops))]
	tc.Close() // the duplicate stays; Go's poller forgets the original
	return lc
}

// startLoops starts the event loops (once, s.mu held). On failure the
// server serves every connection with a goroutine.
func (s *Server) startLoops() {
	g := &loopGroup{}
	for i := 0; i < s.loops.n; i++ {
		l, err := newEvLoop(s, g)
		if err != nil {
			s.log.Error("cannot start event loops; serving connections with goroutines", "err", err)
			for _, l := range g.loops {
				l.epf.Close()
				unix.Close(l.efd)
			}
			return
		}
		g.loops = append(g.loops, l)
	}
	for _, l := range g.loops {
		s.wg.Add(1)
		go l.run()
	}
	s.loops.group = g
}

func newEvLoop(s *Server, g *loopGroup) (*evLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(efd)}); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("epoll_ctl eventfd: %w", err)
	}
	l := &evLoop{s: s, g: g, epfd: epfd, efd: efd, events: make([]unix.EpollEvent, 256)}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		unix.Close(efd)
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	l.epf = os.NewFile(uintptr(epfd), "epoll")
	rc, err := l.epf.SyscallConn()
	if err != nil {
		l.epf.Close()
		unix.Close(efd)
		return nil, fmt.Errorf("epoll descriptor: %w", err)
	}
	l.rc = rc
	l.readFn = l.poll
	return l, nil
}

// loopAdd gives a new client to its loop (admit, s.mu held); false when
// the client has a goroutine.
func (s *Server) loopAdd(c *Client) bool {
	lc, ok := c.nc.(*loopConn)
	if !ok {
		return false
	}
	lc.client = c
	// While the loop owns the client its outbox stays busy: pushes wait
	// and ask the loop for attention (push), which hands the client to a
	// goroutine that delivers them.
	c.box.mu.Lock()
	c.box.busy = true
	c.box.mu.Unlock()
	c.inLoop = true
	l := lc.loop
	l.mu.Lock()
	l.adds = append(l.adds, c)
	l.wakeLocked()
	l.mu.Unlock()
	return true
}

// loopAttention asks c's loop to hand c to a goroutine because a push is
// waiting (push, b.mu held). False when no loop owns c.
func (c *Client) loopAttention() bool {
	lc, ok := c.nc.(*loopConn)
	if !ok || lc.state.Load() != lcLoop {
		return false
	}
	if lc.attn.Swap(true) {
		return true
	}
	l := lc.loop
	l.mu.Lock()
	if !l.exited {
		l.attn = append(l.attn, c)
		l.wakeLocked()
	}
	l.mu.Unlock()
	return true
}

// wakeLoops wakes every loop (Shutdown).
func (s *Server) wakeLoops() {
	s.mu.Lock()
	g := s.loops.group
	s.mu.Unlock()
	if g == nil {
		return
	}
	for _, l := range g.loops {
		l.mu.Lock()
		l.wakeLocked()
		l.mu.Unlock()
	}
}

func (l *evLoop) wakeLocked() {
	if l.exited || l.pending.Swap(true) {
		return
	}
	one := [8]byte{1}
	unix.Write(l.efd, one[:])
}

// run is the loop goroutine: wait, serve every ready connection, take new
// work, sweep idle and killed clients once a second; on shutdown, close
// the connections gracefully and stop.
func (l *evLoop) run() {
	s := l.s
	defer s.wg.Done()
	for {
		n, err := l.wait()
		if err != nil && err != unix.EINTR {
			s.log.Error("epoll_wait failed", "err", err)
			time.Sleep(10 * time.Millisecond)
		}
		if n > 0 {
			l.wakes.Add(1)
			l.nevents.Add(int64(n))
		}
		for i := 0; i < n; i++ {
			fd := int(l.events[i].Fd)
			if fd == l.efd {
				unix.Read(l.efd, l.efdBuf[:])
				l.pending.Store(false)
				continue
			}
			if fd < len(l.conns) {
				if c := l.conns[fd]; c != nil {
					l.serve(c, c.nc.(*loopConn))
				}
			}
		}
		closing := s.closing.Load()
		l.takeWork()
		if closing {
			l.stop()
			return
		}
		if now := time.Now().UnixNano(); now-l.lastSweep >= int64(time.Second) {
			l.lastSweep = now
			l.sweep(now)
		}
	}
}

// wait returns the next ready events. The loop goroutine parks in Go's
// network poller until the epoll descriptor is readable, then collects the
// events without blocking. Blocking in epoll_wait instead costs more: a
// goroutine blocked in a system call keeps its P until sysmon takes it
// back, and the handoff and reacquisition on every wake-up measured 16-18
// µs of server CPU per request against 11-12 µs (docs/benchmarks.md).
// The read deadline wakes the loop for its once-a-second sweep.
func (l *evLoop) wait() (int, error) {
	if dl := l.lastSweep + int64(time.Second); dl != l.deadline {
		l.deadline = dl
		l.epf.SetReadDeadline(time.Unix(0, dl))
	}
	var n int
	var werr error
	l.n0, l.err0 = 0, nil
	err := l.rc.Read(l.readFn)
	n, werr = l.n0, l.err0
	if err != nil && n == 0 {
		return 0, nil // deadline: time to sweep
	}
	return n, werr
}

// poll collects ready events without blocking; false asks the poller to
// wait for the epoll descriptor to become readable.
func (l *evLoop) poll(fd uintptr) bool {
	l.n0, l.err0 = unix.EpollWait(int(fd), l.events, 0)
	return l.n0 != 0 || (l.err0 != nil && l.err0 != unix.EINTR && l.err0 != unix.EAGAIN)
}

// takeWork registers new clients and hands clients with pushes to
// goroutines.
func (l *evLoop) takeWork() {
	l.mu.Lock()
	adds, attn := l.adds, l.attn
	l.adds, l.attn = l.spareAdds[:0], l.spareAttn[:0]
	l.mu.Unlock()
	for i, c := range adds {
		l.register(c)
		adds[i] = nil
	}
	for i, c := range attn {
		lc := c.nc.(*loopConn)
		lc.attn.Store(false)
		if lc.state.Load() == lcLoop && lc.fd < len(l.conns) && l.conns[lc.fd] == c {
			l.toRoutine(c, lc, nil, false)
		}
		attn[i] = nil
	}
	l.spareAdds, l.spareAttn = adds[:0], attn[:0]
}

func (l *evLoop) register(c *Client) {
	lc := c.nc.(*loopConn)
	lc.mu.Lock()
	if lc.state.Load() != lcNew { // closed before it got here
		lc.mu.Unlock()
		l.s.endClient(c)
		return
	}
	lc.state.Store(lcLoop)
	lc.mu.Unlock()
	lc.lastRead = time.Now().UnixNano()
	c.accountBuffers()
	c.publishStat()
	for lc.fd >= len(l.conns) {
		l.conns = append(l.conns, make([]*Client, max(64, len(l.conns)))...)
	}
	l.conns[lc.fd] = c
	l.n++
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(lc.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, lc.fd, &ev); err != nil {
		l.s.log.Error("cannot watch a connection; serving it with a goroutine", "err", err)
		l.toRoutine(c, lc, nil, false)
	}
}

// unwatch stops watching c's descriptor.
func (l *evLoop) unwatch(lc *loopConn) {
	unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, lc.fd, nil)
	l.conns[lc.fd] = nil
	l.n--
}

// drop closes c at once (end of input, a killed client, errors).
func (l *evLoop) drop(c *Client, lc *loopConn) {
	l.unwatch(lc)
	lc.closeFd()
	c.inLoop = false
	l.s.endClient(c)
}

// toRoutine hands c to a goroutine running serveConn: first is a command
// to run before the rest of the pipeline; closing flushes the replies and
// closes the connection gracefully.
func (l *evLoop) toRoutine(c *Client, lc *loopConn, first [][]byte, closing bool) {
	l.unwatch(lc)
	c.inLoop = false
	l.g.handoffs.Add(1)
	if err := lc.toRoutine(); err != nil {
		l.s.log.Error("cannot hand a connection to a goroutine; closing it", "addr", c.addr, "err", err)
		c.killed.Store(true)
		l.s.endClient(c)
		return
	}
	go l.s.serveConn(c, first, closing)
}

// serve reads what one ready connection sent, runs the whole pipeline and
// writes the replies (the loop's counterpart of serveConn's loop body).
func (l *evLoop) serve(c *Client, lc *loopConn) {
	s := l.s
	defer func() {
		if r := recover(); r != nil {
			c.tx.Release()
			c.killed.Store(true)
			s.stats.panics.Add(1)
			s.log.Error("panic in event loop", "addr", c.addr, "panic", r, "stack", string(debug.Stack()))
			if lc.state.Load() == lcLoop {
				l.drop(c, lc)
			}
		}
	}()
	p := &c.p
	p.shrink()
	if !p.inMulti && (cap(p.offs) > 1<<17 || cap(p.args) > 1<<16) {
		p.offs, p.args = nil, nil
	}
	if p.w-p.r < len(p.buf) {
		p.need = 0
	}
	if err := p.makeRoom(); err != nil {
		s.log.Warn("closing client that reached the query buffer limit", "addr", c.addr)
		s.stats.queryLimitClosed.Add(1)
		l.toRoutine(c, lc, nil, true)
		return
	}
	c.accountBuffers()
	n, err := unix.Read(lc.fd, p.buf[p.w:])
	if n <= 0 {
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		l.drop(c, lc) // end of input, a reset, or shut down by Close
		return
	}
	p.w += n
	c.netIn += int64(n)
	s.stats.netIn.Add(int64(n))
	c.mark = time.Now()
	lc.lastRead = c.mark.UnixNano()
	for {
		if !c.authenticated {
			s.unauthLimits(c)
		}
		args, ok, err := p.next()
		if err == nil && !c.authenticated {
			err = s.unauthCheck(c, args, ok)
		}
		if err != nil {
			if err != errQueryBufLimit {
				c.addError(err.Error())
			}
			s.log.Debug("closing client after protocol error", "addr", c.addr, "err", err)
			l.toRoutine(c, lc, nil, true)
			return
		}
		if !ok {
			break
		}
		if args == nil {
			continue
		}
		s.execute(c, args)
		if c.loopDefer != nil {
			l.toRoutine(c, lc, args, false)
			return
		}
		if c.trk != nil {
			c.afterCommandTracking(args)
		}
		if c.closeAfter {
			l.toRoutine(c, lc, nil, true)
			return
		}
		if len(c.out) >= flushThreshold && !l.write(c, lc) {
			return
		}
	}
	if len(c.out) > 0 && !l.write(c, lc) {
		return
	}
	if c.killed.Load() {
		l.drop(c, lc)
		return
	}
	c.publishStat()
}

// write writes c's replies without waiting. What the socket does not take
// at once is written by a goroutine, which applies the output limits.
// False when the loop no longer owns c.
func (l *evLoop) write(c *Client, lc *loopConn) bool {
	s := l.s
	if lim := s.outLimit.Load(); lim.hard > 0 && int64(len(c.out)) > lim.hard {
		c.outputLimitClose("pending output over the hard limit", len(c.out))
		c.out = nil
		l.drop(c, lc)
		return false
	}
	n, err := unix.Write(lc.fd, c.out)
	if n > 0 {
		c.netOut += int64(n)
		s.stats.netOut.Add(int64(n))
	}
	if n == len(c.out) {
		if cap(c.out) > 64<<10 {
			c.out = nil
		} else {
			c.out = c.out[:0]
		}
		return true
	}
	if err != nil && err != unix.EAGAIN && err != unix.EINTR {
		l.drop(c, lc)
		return false
	}
	c.out = c.out[max(n, 0):]
	l.toRoutine(c, lc, nil, false)
	return false
}

// sweep closes clients idle for longer than the idle timeout and clients
// marked killed.
func (l *evLoop) sweep(now int64) {
	idle := l.s.idleTimeout.Load()
	for _, c := range l.conns {
		if c == nil {
			continue
		}
		lc := c.nc.(*loopConn)
		switch {
		case c.killed.Load():
			l.drop(c, lc)
		case idle > 0 && now-lc.lastRead > idle:
			l.s.log.Debug("closing idle client", "addr", c.addr)
			l.toRoutine(c, lc, nil, true)
		}
	}
}

// stop closes every connection gracefully and releases the loop's
// descriptors (shutdown).
func (l *evLoop) stop() {
	for _, c := range l.conns {
		if c != nil {
			l.toRoutine(c, c.nc.(*loopConn), nil, true)
		}
	}
	l.mu.Lock()
	l.exited = true
	unix.Close(l.efd)
	l.mu.Unlock()
	l.epf.Close()
}

// LoopStats returns the event loops' counters.
func (s *Server) LoopStats() LoopStats {
	s.mu.Lock()
	g := s.loops.group
	s.mu.Unlock()
	if g == nil {
		return LoopStats{}
	}
	st := LoopStats{Loops: len(g.loops), Handoffs: g.handoffs.Load()}
	for _, l := range g.loops {
		st.LoopWakes += l.wakes.Load()
		st.LoopEvents += l.nevents.Load()
	}
	return st
}
