package protocol

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

// ConfigBackend serves CONFIG GET/SET/REWRITE/RESETSTAT. It is implemented
// by the wiring in main, which owns the typed configuration.
type ConfigBackend interface {
	Get(pattern string) [][2]string
	Set(name, value string) error
	Rewrite() error
}

// Options configure a Server. Settings that CONFIG SET can change are
// applied with the Server's setters.
type Options struct {
	Store            *store.Store
	Logger           *slog.Logger
	Config           ConfigBackend
	MaxClients       int
	IdleTimeout      time.Duration
	ProtoMaxBulkLen  int64
	QueryBufferLimit int64
	RequirePass      string
	ExpireJitter     float64
	SlowlogSlower    int64 // µs; negative disables
	SlowlogMaxLen    int
	Version          string
	Port             int
	// Info adds server-wide sections to INFO (expiry sweeper, tags...).
	Info func(section string) []InfoField
	// Shutdown is called by the SHUTDOWN command.
	Shutdown func()
}

// InfoField is one "name:value" line of INFO.
type InfoField struct{ Name, Value string }

// Server speaks RESP to clients over any number of listeners.
type Server struct {
	opts  Options
	st    *store.Store
	log   *slog.Logger
	table *Table

	maxClients  atomic.Int64
	idleTimeout atomic.Int64 // ns
	maxBulk     atomic.Int64
	maxQuery    atomic.Int64
	requirePass atomic.Pointer[string]
	jitter      atomic.Uint64 // math.Float64bits

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	clients   map[*Client]struct{}
	closing   atomic.Bool
	wg        sync.WaitGroup

	nextID   atomic.Int64
	peak     atomic.Int64
	writeObs atomic.Pointer[func(db int, key []byte)]
	tags     *tags.Index
	started  time.Time
	stats    Stats
	slowlog  slowlog
}

// New builds a server around a store.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.MaxClients <= 0 {
		o.MaxClients = 10000
	}
	if o.ProtoMaxBulkLen <= 0 {
		o.ProtoMaxBulkLen = 512 << 20
	}
	if o.QueryBufferLimit <= 0 {
		o.QueryBufferLimit = 1 << 30
	}
	if o.SlowlogMaxLen == 0 {
		o.SlowlogMaxLen = 128
	}
	s := &Server{
		opts:      o,
		st:        o.Store,
		log:       o.Logger,
		listeners: make(map[net.Listener]struct{}),
		clients:   make(map[*Client]struct{}),
		started:   time.Now(),
	}
	s.maxClients.Store(int64(o.MaxClients))
	s.idleTimeout.Store(int64(o.IdleTimeout))
	s.maxBulk.Store(o.ProtoMaxBulkLen)
	s.maxQuery.Store(o.QueryBufferLimit)
	s.SetRequirePass(o.RequirePass)
	s.SetExpireJitter(o.ExpireJitter)
	s.slowlog.slower.Store(o.SlowlogSlower)
	s.slowlog.maxLen.Store(int64(o.SlowlogMaxLen))
	s.table = buildTable()
	s.stats.init(len(s.table.all))
	return s
}

// Table returns the command table.
func (s *Server) Table() *Table { return s.table }

// Setters for settings CONFIG SET may change at run time.
func (s *Server) SetMaxClients(n int)              { s.maxClients.Store(int64(n)) }
func (s *Server) SetIdleTimeout(d time.Duration)   { s.idleTimeout.Store(int64(d)) }
func (s *Server) SetProtoMaxBulkLen(n int64)       { s.maxBulk.Store(n) }
func (s *Server) SetQueryBufferLimit(n int64)      { s.maxQuery.Store(n) }
func (s *Server) SetRequirePass(p string)          { s.requirePass.Store(&p) }
func (s *Server) SetSlowlog(slowerUs int64, n int) { s.slowlog.configure(slowerUs, n) }
func (s *Server) SetExpireJitter(f float64)        { s.jitter.Store(float64bits(f)) }

// SetWriteObserver installs fn, called after every write command (also
// inside EXEC) for each of its key arguments, whether or not the key
// existed. The stampede protection's leases use it to fail fills that a
// DEL or an overwrite overtook. fn must be cheap and must not block.
func (s *Server) SetWriteObserver(fn func(db int, key []byte)) { s.writeObs.Store(&fn) }

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown and the accept error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of descriptors and the like: back off, as net/http does.
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				s.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		s.stats.accepted.Add(1)
		if !s.admit(nc) {
			continue
		}
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// admit registers a new connection or refuses it when maxclients is
// reached.
func (s *Server) admit(nc net.Conn) bool {
	c := newClient(s, nc)
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	if int64(len(s.clients)) >= s.maxClients.Load() {
		s.mu.Unlock()
		s.stats.rejected.Add(1)
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(nc, "-ERR max number of clients reached\r\n")
		nc.Close()
		return false
	}
	s.clients[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go s.serveClient(c)
	return true
}

// Shutdown stops accepting, lets clients finish the pipeline they are
// executing, and closes every connection when ctx ends. It returns ctx's
// error when connections had to be cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for ln := range s.listeners {
		ln.Close()
	}
	// Wake clients blocked in a read: they have no pipeline in flight.
	for c := range s.clients {
		c.nc.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.clients {
			c.nc.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// serveClient runs one connection's read–execute–write loop.
func (s *Server) serveClient(c *Client) {
	defer s.wg.Done()
	defer func() {
		c.release()
		c.closeGracefully()
		s.mu.Lock()
		delete(s.clients, c)
		s.mu.Unlock()
	}()
	for {
		for {
			args, ok, err := c.p.next()
			if err != nil {
				if err != errQueryBufLimit {
					c.addError(err.Error())
				}
				s.log.Debug("closing client after protocol error", "addr", c.addr, "err", err)
				c.flush()
				return
			}
			if !ok {
				break
			}
			if args == nil {
				continue
			}
			s.execute(c, args)
			if c.closeAfter {
				c.flush()
				return
			}
			if len(c.out) >= flushThreshold {
				if !c.flush() {
					return
				}
			}
		}
		if len(c.out) > 0 && !c.flush() {
			return
		}
		if s.closing.Load() || c.killed.Load() {
			return
		}
		c.p.shrink()
		if err := c.p.makeRoom(); err != nil {
			s.log.Warn("closing client that reached the query buffer limit", "addr", c.addr)
			s.stats.queryLimitClosed.Add(1)
			return
		}
		if d := s.idleTimeout.Load(); d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(time.Duration(d)))
		}
		n, err := c.nc.Read(c.p.buf[c.p.w:])
		if n > 0 {
			c.p.w += n
			c.netIn += int64(n)
			s.stats.netIn.Add(int64(n))
		}
		if err != nil {
			return
		}
	}
}

const flushThreshold = 64 << 10

// closeGracefully half-closes the connection and discards what the client
// still sends for a moment before closing. Closing a socket with unread
// input makes the kernel send a reset, which can destroy replies the client
// has not read yet (after QUIT, a protocol error, or during shutdown).
func (c *Client) closeGracefully() {
	tc, ok := c.nc.(*net.TCPConn)
	if !ok || c.killed.Load() {
		c.nc.Close()
		return
	}
	tc.CloseWrite()
	tc.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
	io.CopyN(io.Discard, tc, 8<<20)
	tc.Close()
}

// flush writes the pending replies; false means the connection is gone.
func (c *Client) flush() bool {
	if len(c.out) == 0 {
		return true
	}
	n, err := c.nc.Write(c.out)
	c.netOut += int64(n)
	c.srv.stats.netOut.Add(int64(n))
	if cap(c.out) > 1<<20 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err == nil
}

// execute dispatches one command: lookup, arity, auth, transaction
// queueing, memory check, the handler with panic recovery, and stats.
func (s *Server) execute(c *Client, args [][]byte) {
	cmd := s.table.lookup(args[0])
	if cmd == nil {
		c.unknownCommand(args)
		if c.multi {
			c.multiErr = true
		}
		return
	}
	if !arityOK(cmd.Arity, len(args)) {
		c.addError("ERR wrong number of arguments for '" + cmd.Name + "' command")
		if c.multi {
			c.multiErr = true
		}
		return
	}
	if cmd.Subs != nil && (len(args) > 1 || cmd.Handler == nil) {
		if len(args) < 2 {
			c.addError("ERR wrong number of arguments for '" + cmd.Name + "' command")
			return
		}
		sub := lookupSub(cmd, args[1])
		if sub == nil {
			c.addError("ERR unknown subcommand '" + trunc(string(args[1]), 128) + "'. Try " + upper(cmd.Name) + " HELP.")
			if c.multi {
				c.multiErr = true
			}
			return
		}
		if !arityOK(sub.Arity, len(args)) {
			c.addError("ERR wrong number of arguments for '" + sub.FullName() + "' command")
			if c.multi {
				c.multiErr = true
			}
			return
		}
		cmd = sub
	}
	if !c.authenticated && cmd.Flags&FlagNoAuth == 0 {
		c.addError("NOAUTH Authentication required.")
		if c.multi {
			c.multiErr = true
		}
		return
	}
	if cmd.Flags&FlagDenyOOM != 0 && !c.inExec && s.st.OverLimit() {
		if _, err := s.st.Evict(c.evictStart(args, cmd)); err != nil {
			s.stats.countCall(cmd.id, c.id, 0, true, true)
			c.addError(err.Error())
			if c.multi {
				c.multiErr = true
			}
			return
		}
	}
	if c.multi && cmd.Flags&FlagTxControl == 0 {
		if cmd.Flags&FlagNoMulti != 0 {
			c.addError("ERR Command not allowed inside a transaction")
			c.multiErr = true
			return
		}
		c.queue(cmd, args)
		c.addQueued()
		return
	}
	s.call(c, cmd, args)
}

// call runs a resolved command's handler, timing it and recovering panics.
func (s *Server) call(c *Client, cmd *Command, args [][]byte) {
	start := time.Now()
	c.now = start.UnixMilli()
	c.failed = false
	c.cmd = cmd
	c.aCmd.Store(cmd)
	c.lastUsed.Store(c.now)
	mark := len(c.out)
	s.invoke(c, cmd, args)
	if c.replyOff || c.replySkip > 0 {
		c.out = c.out[:mark]
		if c.replySkip > 0 {
			c.replySkip--
		}
	}
	if cmd.Flags&FlagWrite != 0 {
		if obs := s.writeObs.Load(); obs != nil {
			c.keyIdx = cmd.keyIndexes(args, c.keyIdx[:0])
			for _, i := range c.keyIdx {
				(*obs)(c.db, args[i])
			}
		}
	}
	d := time.Since(start)
	s.stats.countCall(cmd.id, c.id, d, c.failed, false)
	if us := d.Microseconds(); s.slowlog.enabled(us) && cmd.Flags&FlagSkipSlowlog == 0 {
		s.slowlog.add(c, args, start, us)
	}
}

func (s *Server) invoke(c *Client, cmd *Command, args [][]byte) {
	defer func() {
		if r := recover(); r != nil {
			c.unlockHeld()
			s.stats.panics.Add(1)
			s.log.Error("panic in command handler", "cmd", cmd.FullName(), "panic", r, "stack", string(debug.Stack()))
			c.addError("ERR internal error while executing '" + cmd.FullName() + "'")
		}
	}()
	cmd.Handler(c, args)
}

// unknownCommand writes Redis's unknown-command error.
func (c *Client) unknownCommand(args [][]byte) {
	msg := "ERR unknown command '" + trunc(string(args[0]), 128) + "', with args beginning with: "
	var rest []byte
	for _, a := range args[1:] {
		if len(rest) >= 128 {
			break
		}
		room := 128 - len(rest)
		rest = append(rest, '\'')
		rest = append(rest, trunc(string(a), room)...)
		rest = append(rest, '\'', ' ')
	}
	c.addError(msg + string(rest))
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func upper(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch >= 'a' && ch <= 'z' {
			b[i] = ch - 32
		}
	}
	return string(b)
}

// Clients returns a snapshot of the connected clients.
func (s *Server) Clients() []*Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Client, 0, len(s.clients))
	for c := range s.clients {
		out = append(out, c)
	}
	return out
}

// NumClients returns the number of connected clients.
func (s *Server) NumClients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}
