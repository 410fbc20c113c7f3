package protocol

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Event loops (event-loops; eventloop_linux.go).
//
// With Options.EventLoops > 0, plain TCP connections are served by a few
// event loops instead of one goroutine each. A loop waits in epoll for every
// connection it owns; for each ready one it reads once, parses and executes
// the whole pipeline that arrived and writes the replies with one write. No
// goroutine is woken per request.
//
// A connection leaves its loop for a goroutine of its own (the same
// serveConn that serves connections when the loops are off) whenever it
// would make the loop wait:
//
//   - before a command that may block (BLPOP and friends, CACHE.GET WAIT,
//     DEBUG SLEEP, scripts, ORIGIN, MIGRATE) or that has more than
//     loopMaxArgs arguments (it runs long): loopBlocking decides, after arity,
//     auth, ACL and MULTI queueing, so that the check costs one slice index
//     for every other command;
//   - when a write cannot complete (a slow reader): the goroutine's flush
//     applies the output-buffer limits and client-output-timeout;
//   - when a push (pub/sub message, tracking invalidation, MONITOR line)
//     is queued for it: the goroutine's push writer delivers pushes to an
//     idle client;
//   - to close gracefully (QUIT, protocol errors, idle timeout, shutdown):
//     the half-close and drain wait for the peer.
//
// The move is one way: such clients are rare and the goroutine serves them
// exactly as before. TLS and Unix-socket connections always have a
// goroutine, and so do all connections while origins are configured (a
// read-through may wait on the origin database).
//
// Ownership: a loop client's fields are owned by its loop goroutine, as a
// goroutine client's are owned by its goroutine; the handoff starts the
// goroutine after the loop has stopped watching the descriptor. The
// loopConn is the client's net.Conn in both states: Close from another
// goroutine (CLIENT KILL, output limits, Shutdown) only shuts the socket
// down while the loop owns it, which wakes the loop, and the loop closes
// the descriptor; so a descriptor number is never reused under the loop.

// errLoopOwned is returned by loopConn I/O attempted from outside the loop
// while the loop owns the descriptor.
var errLoopOwned = errors.New("connection is served by an event loop")

// loop states of a loopConn
const (
	lcNew     = iota // wrapped, not yet in a loop: Close closes the descriptor
	lcLoop           // owned by a loop
	lcRoutine        // handed to a goroutine: every method delegates to tc
	lcClosed
)

// loopConn is a TCP connection whose descriptor an event loop may own. See
// the package comment above for its ownership rules.
type loopConn struct {
	fd           int
	laddr, raddr net.Addr
	loop         *evLoop

	mu    sync.Mutex // guards state changes and the descriptor's closing
	state atomic.Int32
	tc    atomic.Pointer[net.TCPConn] // set when handed to a goroutine

	attn     atomic.Bool // queued on the loop's attention list (a push)
	lastRead int64       // unix ns of the last input (loop goroutine)
	client   *Client
}

func (l *loopConn) routine() *net.TCPConn {
	if l.state.Load() == lcRoutine {
		return l.tc.Load()
	}
	return nil
}

// Read and Write serve the goroutine after a handoff; while the loop owns
// the descriptor, only the loop does I/O (with raw system calls), except a
// refusal written before the connection joined a loop.
func (l *loopConn) Read(b []byte) (int, error) {
	if tc := l.routine(); tc != nil {
		return tc.Read(b)
	}
	return 0, errLoopOwned
}

func (l *loopConn) Write(b []byte) (int, error) {
	if tc := l.routine(); tc != nil {
		return tc.Write(b)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state.Load() != lcNew {
		return 0, errLoopOwned
	}
	return rawWrite(l.fd, b)
}

// Close closes the connection. While a loop owns it, it shuts the socket
// down instead; the loop sees the end of input and closes the descriptor.
func (l *loopConn) Close() error {
	if tc := l.routine(); tc != nil {
		return tc.Close()
	}
	l.mu.Lock()
	switch l.state.Load() {
	case lcNew:
		l.state.Store(lcClosed)
		err := rawClose(l.fd)
		l.mu.Unlock()
		return err
	case lcLoop:
		rawShutdown(l.fd)
		l.mu.Unlock()
		return nil
	case lcRoutine:
		l.mu.Unlock()
		return l.tc.Load().Close()
	}
	l.mu.Unlock()
	return net.ErrClosed
}

// CloseWrite half-closes a connection served by a goroutine.
func (l *loopConn) CloseWrite() error {
	if tc := l.routine(); tc != nil {
		return tc.CloseWrite()
	}
	return errLoopOwned
}

func (l *loopConn) LocalAddr() net.Addr  { return l.laddr }
func (l *loopConn) RemoteAddr() net.Addr { return l.raddr }

// Deadlines apply to a connection served by a goroutine; a loop applies
// the idle timeout itself and never waits on a write.
func (l *loopConn) SetDeadline(t time.Time) error {
	if tc := l.routine(); tc != nil {
		return tc.SetDeadline(t)
	}
	return nil
}

func (l *loopConn) SetReadDeadline(t time.Time) error {
	if tc := l.routine(); tc != nil {
		return tc.SetReadDeadline(t)
	}
	return nil
}

func (l *loopConn) SetWriteDeadline(t time.Time) error {
	if tc := l.routine(); tc != nil {
		return tc.SetWriteDeadline(t)
	}
	return nil
}

// toRoutine gives the descriptor to Go's network poller (loop goroutine,
// after the loop stopped watching it).
func (l *loopConn) toRoutine() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := os.NewFile(uintptr(l.fd), "tcp")
	nc, err := net.FileConn(f) // a duplicate, in the poller
	f.Close()
	if err != nil {
		l.state.Store(lcClosed)
		return err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		nc.Close()
		l.state.Store(lcClosed)
		return errors.New("BUG: event loop descriptor is not a TCP connection")
	}
	l.tc.Store(tc)
	l.state.Store(lcRoutine)
	return nil
}

// closeFd closes a loop-owned descriptor (loop goroutine).
func (l *loopConn) closeFd() {
	l.mu.Lock()
	if l.state.Load() == lcLoop || l.state.Load() == lcNew {
		rawClose(l.fd)
		l.state.Store(lcClosed)
	}
	l.mu.Unlock()
}

// loopMaxArgs: commands with more arguments run on a goroutine.
const loopMaxArgs = 4096

// loopBlockingNames are the commands that may wait and so run on a
// goroutine of their own (loopBlocking refines cache.get and debug).
var loopBlockingNames = []string{
	"blpop", "brpop", "blmove", "brpoplpush", "blmpop", "bzpopmin", "bzpopmax", "bzmpop",
	"cache.get", "debug", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
	"origin", "wait", "waitaof", "migrate",
}

// initLoops prepares the event-loop settings (New).
func (s *Server) initLoops() {
	s.loops.n = s.opts.EventLoops
	s.loops.blocking = make([]bool, len(s.table.all))
	for _, name := range loopBlockingNames {
		if cmd := s.table.lookupFull(name); cmd != nil {
			s.loops.blocking[cmd.id] = true
			for _, sub := range cmd.Subs {
				s.loops.blocking[sub.id] = true
			}
		}
	}
}

// loopBlocking reports whether cmd, about to run for a client served by an
// event loop, may wait; the loop then hands the client to a goroutine,
// which runs the command. Called by execute just before call.
func (s *Server) loopBlocking(c *Client, cmd *Command, args [][]byte) bool {
	if len(args) > loopMaxArgs {
		// A command with a million arguments runs for seconds: the other
		// clients of the loop must not wait for it.
		c.loopDefer = cmd
		return true
	}
	if !s.loops.blocking[cmd.id] {
		return false
	}
	switch cmd.Name {
	case "cache.get":
		for _, a := range args[2:] {
			if eq(a, "wait") {
				c.loopDefer = cmd
				return true
			}
		}
		return false
	case "debug":
		if !eq(args[1], "sleep") {
			return false
		}
	}
	c.loopDefer = cmd
	return true
}

// loopState is the Server's part of the event loops.
type loopState struct {
	n        int    // loops to run; 0 = goroutine per connection
	blocking []bool // by command id: may wait (loopBlocking)
	group    *loopGroup
	once     sync.Once
}

// LoopStats describes the event loops for INFO.
type LoopStats struct {
	Loops      int   // event loops running
	Handoffs   int64 // clients handed to a goroutine so far
	LoopWakes  int64 // epoll waits that returned events
	LoopEvents int64 // ready connections served
}
