package protocol

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/acl"
	"github.com/cachesrv/cachesrv/internal/cluster"
	"github.com/cachesrv/cachesrv/internal/expire"
	"github.com/cachesrv/cachesrv/internal/lease"
	"github.com/cachesrv/cachesrv/internal/origin"
	"github.com/cachesrv/cachesrv/internal/script"
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
	TCPKeepAlive     time.Duration // tcp-keepalive: probe period; 0 disables
	ProtoMaxBulkLen  int64
	QueryBufferLimit int64
	RequirePass      string
	ExpireJitter     float64
	SlowlogSlower    int64 // µs; negative disables
	SlowlogMaxLen    int
	Version          string
	Port             int
	// Clock, when set, is the time commands run at (TTLs, deadlines, idle
	// times); nil means the wall clock, read once per command with the
	// timing. Tests inject an expire.FakeClock (the store's clock).
	Clock expire.Clock
	// Info adds server-wide sections to INFO (expiry sweeper, tags...).
	Info func(section string) []InfoField
	// Shutdown is called by the SHUTDOWN command.
	Shutdown func()

	// Security (acl.go, audit.go).

	// ProtectedMode refuses clients from non-loopback addresses while the
	// default user needs no password.
	ProtectedMode bool
	// ACLFile is the aclfile setting, for ACL LOAD and ACL SAVE; loading
	// it at start is LoadACLFile's job.
	ACLFile string
	// AuditLogger, when not nil, receives the audit log.
	AuditLogger *slog.Logger
	// OutputLimit is client-output-buffer-limit for normal clients.
	OutputLimit OutputLimit
	// OutputTimeout closes a client whose replies make no progress for this
	// long (client-output-timeout); 0 never does.
	OutputTimeout time.Duration
	// Persistence runs SAVE, BGSAVE, LASTSAVE, the SHUTDOWN snapshot and
	// INFO persistence (cmd_persist.go); nil disables them.
	Persistence Persistence
	// PubSubLimit is client-output-buffer-limit for the pubsub class: it
	// bounds the pending messages of subscribed clients (push.go).
	PubSubLimit OutputLimit
	// TrackingMaxKeys is tracking-table-max-keys (0 = unlimited).
	TrackingMaxKeys int64
	// EventLoops is event-loops: the number of event loops serving plain
	// TCP connections (eventloop.go); 0 gives every connection a goroutine.
	EventLoops int
	// Cluster, when not nil, runs the server as a Redis Cluster node
	// (cmd_cluster.go); ClusterIndex is its per-slot key index.
	Cluster      *cluster.Node
	ClusterIndex *cluster.Index

	// Collaborators; nil turns their commands off.

	// Tags is the tag index (TAGSET, INVALIDATE, TAGKEYS, dependencies).
	Tags *tags.Index
	// Leases enables the CACHE.* commands (stampede protection); its
	// Written observes every write command's keys, so that writes and
	// deletes break leases.
	Leases *lease.Manager
	// Origins enables read-through and write-through origins.
	Origins *origin.Manager
}

// OutputLimit bounds a client's pending output: the replies produced but
// not yet accepted by the kernel. Over Hard bytes the client is closed at
// once; over Soft bytes for SoftSeconds it is closed too. Zero disables a
// limit. See flush for how this maps onto cachesrv's synchronous writer.
type OutputLimit struct {
	Hard, Soft  int64
	SoftSeconds int64
}

// InfoField is one "name:value" line of INFO.
type InfoField struct{ Name, Value string }

// Server speaks RESP to clients over any number of listeners.
type Server struct {
	opts  Options
	st    *store.Store
	log   *slog.Logger
	table *Table
	clock expire.Clock // nil: the wall clock (Options.Clock)

	maxClients  atomic.Int64
	idleTimeout atomic.Int64 // ns
	keepAlive   atomic.Int64 // ns (tcp-keepalive)
	maxBulk     atomic.Int64
	maxQuery    atomic.Int64
	jitter      atomic.Uint64 // math.Float64bits
	outLimit    atomic.Pointer[outputLimits]
	pubsubLimit atomic.Pointer[outputLimits]
	pushStats   pushStats
	pubsub      pubsubRegistry
	tracking    trackingTable
	monitors    monitors
	notify      atomic.Uint32 // notify-keyspace-events classes (notify.go)

	acl      *acl.Users
	aclLog   aclLog
	audit    *auditor // nil when audit-log is off
	redact   []bool   // by command id: arguments hidden from the slow log
	secStats struct {
		deniedAuth, deniedCmd, deniedKey  atomic.Int64
		outputLimit, protected, tlsFailed atomic.Int64
	}

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	clients   map[*Client]struct{}
	closing   atomic.Bool
	wg        sync.WaitGroup

	nextID atomic.Int64
	peak   atomic.Int64
	// writeObs is called after every write command (also inside EXEC)
	// for each of its key arguments, whether or not the key existed: the
	// leases' Written, so that a DEL or an overwrite fails the fills it
	// overtook. Set at New; nil without leases.
	writeObs func(db int, key []byte)
	blocked  blockRegistry // clients in BLPOP and friends (blocking.go)
	leases   *lease.Manager
	tags     *tags.Index
	origins  *origin.Manager // nil without origins (cmd_origin.go)
	started  time.Time
	stats    Stats
	slowlog  slowlog
	loading  atomic.Bool // a snapshot is loading: -LOADING (cmd_persist.go)

	loops      loopState      // event loops (eventloop.go)
	cluster    *cluster.Node  // nil unless cluster-enabled (cmd_cluster.go)
	clusterIdx *cluster.Index // the per-slot key index in cluster mode
	migrate    migrateConns   // MIGRATE's cached connections (cmd_migrate.go)
	// remoteInval applies other nodes' invalidations (cmd_cluster.go).
	remoteInval remoteInval
	// migrateDropped counts keys MIGRATE deleted without copying them.
	migrateDropped atomic.Int64

	scripts   *script.Engine // EVAL and friends (cmd_script.go)
	luaClient *Client        // the pseudo client scripts run commands on
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
		clock:     o.Clock,
	}
	s.maxClients.Store(int64(o.MaxClients))
	s.idleTimeout.Store(int64(o.IdleTimeout))
	s.keepAlive.Store(int64(o.TCPKeepAlive))
	s.maxBulk.Store(o.ProtoMaxBulkLen)
	s.maxQuery.Store(o.QueryBufferLimit)
	s.SetExpireJitter(o.ExpireJitter)
	s.SetOutputLimit(o.OutputLimit, o.OutputTimeout)
	s.SetPubSubLimit(o.PubSubLimit)
	s.pubsub.init()
	s.tracking.init(s, o.TrackingMaxKeys)
	s.slowlog.slower.Store(o.SlowlogSlower)
	s.slowlog.maxLen.Store(int64(o.SlowlogMaxLen))
	var lh *leaseHandlers
	if o.Leases != nil {
		lh = &leaseHandlers{m: o.Leases, opts: o.Leases.Options()}
		s.leases = o.Leases
		s.writeObs = o.Leases.Written
	}
	s.tags, s.origins = o.Tags, o.Origins
	s.table = buildTable(lh)
	if o.Cluster != nil {
		s.cluster, s.clusterIdx = o.Cluster, o.ClusterIndex
		s.clusterModeGuards()
	}
	s.stats.init(len(s.table.all))
	s.acl = acl.NewUsers(acl.NewTable(s.table.aclInfos()), o.RequirePass)
	if o.AuditLogger != nil {
		s.audit = newAuditor(o.AuditLogger, s.table)
	}
	s.initScripting()
	s.initLoops()
	s.redact = make([]bool, len(s.table.all))
	for _, name := range []string{"auth", "hello", "acl|setuser", "acl|deluser", "acl|getuser", "acl|dryrun", "config|set"} {
		if cmd := s.table.lookupFull(name); cmd != nil {
			s.redact[cmd.id] = true
		}
	}
	return s
}

// Table returns the command table.
func (s *Server) Table() *Table { return s.table }

// Setters for settings CONFIG SET may change at run time.
func (s *Server) SetMaxClients(n int)            { s.maxClients.Store(int64(n)) }
func (s *Server) SetIdleTimeout(d time.Duration) { s.idleTimeout.Store(int64(d)) }

// SetTCPKeepAlive changes the keepalive period of connections accepted from
// now on (tcp-keepalive; 0 disables keepalive probes).
func (s *Server) SetTCPKeepAlive(d time.Duration)  { s.keepAlive.Store(int64(d)) }
func (s *Server) SetProtoMaxBulkLen(n int64)       { s.maxBulk.Store(n) }
func (s *Server) SetQueryBufferLimit(n int64)      { s.maxQuery.Store(n) }
func (s *Server) SetRequirePass(p string)          { s.acl.SetDefaultPassword(p) }
func (s *Server) SetSlowlog(slowerUs int64, n int) { s.slowlog.configure(slowerUs, n) }
func (s *Server) SetExpireJitter(f float64)        { s.jitter.Store(float64bits(f)) }

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
		setKeepAlive(nc, time.Duration(s.keepAlive.Load()))
		if !s.admit(nc) {
			continue
		}
	}
}

// refuseOOM answers a write refused for memory before it runs (and marks
// an open MULTI to abort).
func (s *Server) refuseOOM(c *Client, cmd *Command, msg string) {
	s.stats.countCall(cmd.id, c.id, 0, true, true)
	c.addError(msg)
	if c.multi {
		c.multiErr = true
	}
}

// setKeepAlive applies tcp-keepalive to an accepted TCP connection (as
// Redis: probes every period; 0 turns keepalive off).
func setKeepAlive(nc net.Conn, d time.Duration) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	if d <= 0 {
		tc.SetKeepAlive(false)
		return
	}
	tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: d, Interval: d / 3, Count: 3})
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// admit registers a new connection or refuses it when maxclients is
// reached.
func (s *Server) admit(nc net.Conn) bool {
	if s.opts.ProtectedMode && !isLocal(nc.RemoteAddr()) && s.acl.DefaultNopass() {
		s.secStats.protected.Add(1)
		s.log.Debug("refused a non-loopback client: protected mode is on and the default user has no password", "addr", nc.RemoteAddr().String())
		refuse(nc, errProtectedMode)
		return false
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		nc.Close()
		return false
	}
	if int64(len(s.clients)) >= s.maxClients.Load() {
		s.mu.Unlock()
		s.stats.rejected.Add(1)
		refuse(nc, "-ERR max number of clients reached\r\n")
		return false
	}
	c := newClient(s, s.loopWrap(nc))
	s.clients[c] = struct{}{}
	s.wg.Add(1)
	if !s.loopAdd(c) {
		go s.serveClient(c)
	}
	s.mu.Unlock()
	return true
}

// Shutdown stops accepting, lets clients finish the pipeline they are
// executing, and closes every connection when ctx ends. It returns ctx's
// error when connections had to be cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	s.blocked.close()
	for ln := range s.listeners {
		ln.Close()
	}
	// Wake clients blocked in a read: they have no pipeline in flight.
	for c := range s.clients {
		c.nc.SetReadDeadline(time.Now())
	}
	s.mu.Unlock()
	s.wakeLoops()
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
func (s *Server) serveClient(c *Client) { s.serveConn(c, nil, false) }

// serveConn is serveClient for a connection that may come from an event
// loop (eventloop.go): first, when not nil, is a command parsed and
// checked by the loop, to run before the rest of the pipeline; closing
// asks to write the pending replies and close.
func (s *Server) serveConn(c *Client, first [][]byte, closing bool) {
	defer func() {
		if r := recover(); r != nil {
			// Handlers recover their own panics; this is the parser or the
			// connection loop. Close this client, keep serving the others.
			c.tx.Release()
			c.killed.Store(true)
			s.stats.panics.Add(1)
			s.log.Error("panic in connection loop", "addr", c.addr, "panic", r, "stack", string(debug.Stack()))
		}
		s.endClient(c)
	}()
	if tc, ok := c.nc.(*tls.Conn); ok && !s.handshake(c, tc) {
		return
	}
	if closing {
		c.flush()
		return
	}
	for {
		for {
			if first != nil {
				// Dispatched by an event loop, which stopped before call.
				args, cmd := first, c.loopDefer
				first, c.loopDefer = nil, nil
				s.call(c, cmd, args)
				if !s.afterCommand(c, args) {
					return
				}
				continue
			}
			if !c.authenticated {
				s.unauthLimits(c)
			}
			args, ok, err := c.p.next()
			if err == nil && !c.authenticated {
				err = s.unauthCheck(c, args, ok)
			}
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
			if !s.afterCommand(c, args) {
				return
			}
		}
		if len(c.out) > 0 && !c.flush() {
			return
		}
		if !c.pushIdle() {
			return
		}
		if s.closing.Load() || c.killed.Load() {
			return
		}
		c.p.shrink()
		// One command with a million arguments must not pin its argument
		// tables (tens of MB) to the connection afterwards.
		if !c.p.inMulti && (cap(c.p.offs) > 1<<17 || cap(c.p.args) > 1<<16) {
			c.p.offs, c.p.args = nil, nil
		}
		// A bulk header announces its length; grow the buffer as its bytes
		// arrive instead of reserving it all at once, so that a client
		// announcing a large bulk it never sends costs what it sent.
		if c.p.w-c.p.r < len(c.p.buf) {
			c.p.need = 0
		}
		if err := c.p.makeRoom(); err != nil {
			s.log.Warn("closing client that reached the query buffer limit", "addr", c.addr)
			s.stats.queryLimitClosed.Add(1)
			return
		}
		c.accountBuffers()
		c.publishStat()
		if d := s.idleTimeout.Load(); d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(time.Duration(d)))
		}
		n, err := c.nc.Read(c.p.buf[c.p.w:])
		if n > 0 {
			c.pushBusy()
			c.p.w += n
			c.netIn += int64(n)
			s.stats.netIn.Add(int64(n))
		}
		if err != nil {
			return
		}
		c.mark = time.Now()
	}
}

const flushThreshold = 64 << 10

// afterCommand is what serveConn does after each command: tracking, QUIT,
// and flushing a large batch. False means the connection is done.
func (s *Server) afterCommand(c *Client, args [][]byte) bool {
	if c.trk != nil {
		c.afterCommandTracking(args)
	}
	if c.closeAfter {
		c.flush()
		return false
	}
	if len(c.out) >= flushThreshold {
		return c.flush()
	}
	return true
}

// endClient releases a connection that is done: pushes, watches,
// registrations, the socket, and its place in the client table.
func (s *Server) endClient(c *Client) {
	c.dropPushSources()
	c.release()
	c.stopPushes()
	c.closeGracefully()
	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	s.wg.Done()
}

// closeGracefully half-closes the connection and discards what the client
// still sends for a moment before closing. Closing a socket with unread
// input makes the kernel send a reset, which can destroy replies the client
// has not read yet (after QUIT, a protocol error, or during shutdown).
func (c *Client) closeGracefully() {
	nc := c.nc
	if lc, ok := nc.(*loopConn); ok {
		tc := lc.routine()
		if tc == nil {
			lc.Close() // closed by its event loop, or never served
			return
		}
		nc = tc
	}
	if c.killed.Load() {
		nc.Close()
		return
	}
	switch tc := nc.(type) {
	case *net.TCPConn:
		tc.CloseWrite()
	case *tls.Conn: // close_notify, then the TCP half-close
		if tc.CloseWrite() != nil {
			tc.Close()
			return
		}
	default:
		nc.Close()
		return
	}
	nc.SetReadDeadline(time.Now().Add(250 * time.Millisecond))
	io.CopyN(io.Discard, nc, 8<<20)
	nc.Close()
}

// flush writes the pending replies; false means the connection is gone.
//
// Output limits on a synchronous writer: a client's pending output is c.out,
// the replies produced and not yet accepted by the kernel. While a write
// blocks because the client does not read, its connection reads no more
// commands, so pending output stays within one pipeline batch
// (flushThreshold) or one large reply, plus the kernel's socket buffers.
//
//   - Hard: pending output over the hard limit closes the client before
//     anything is written.
//   - Soft: pending output that stays over the soft limit for soft-seconds,
//     because the client reads it too slowly, closes the client.
//   - client-output-timeout: a write that makes no progress for that long
//     (the client stopped reading, e.g. a pipeline whose replies are never
//     read) closes the client, whatever the limits.
//
// Each closing is counted (client_output_buffer_limit_disconnections).
// Writes go out in chunks, the write deadline moving with their progress.
func (c *Client) flush() bool {
	if len(c.out) == 0 {
		return true
	}
	lim := c.srv.outLimit.Load()
	if lim.hard > 0 && int64(len(c.out)) > lim.hard {
		c.outputLimitClose("pending output over the hard limit", len(c.out))
		c.out = nil
		return false
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var err error
	for off := 0; off < len(c.out) && err == nil; {
		if lim.active || !c.wdl.IsZero() {
			c.armWrite(lim, len(c.out)-off)
		}
		var n int
		n, err = c.nc.Write(c.out[off:min(off+writeChunk, len(c.out))])
		off += n
		c.netOut += int64(n)
		c.srv.stats.netOut.Add(int64(n))
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			why := "client-output-timeout: the client is not reading its replies"
			if c.softBinding {
				why = "pending output over the soft limit for too long"
			}
			c.outputLimitClose(why, len(c.out)-off)
		}
	}
	c.overSoft = time.Time{}
	if cap(c.out) > 64<<10 {
		// Do not keep a big reply's buffer per connection: hundreds of
		// clients that once read a large value would pin it all.
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err == nil
}

const (
	writeChunk = 1 << 20
	// rearmSlack: the write deadline is moved at most this often while
	// writes progress, keeping SetWriteDeadline off the per-flush path.
	rearmSlack = 100 * time.Millisecond
)

// outputLimits is the immutable form of OutputLimit and OutputTimeout.
type outputLimits struct {
	hard, soft       int64
	softDur, timeout time.Duration
	active           bool // a write deadline is needed
}

// SetOutputLimit changes client-output-buffer-limit (normal class) and
// client-output-timeout.
func (s *Server) SetOutputLimit(l OutputLimit, timeout time.Duration) {
	o := &outputLimits{hard: l.Hard, soft: l.Soft, softDur: time.Duration(l.SoftSeconds) * time.Second, timeout: timeout}
	o.active = o.timeout > 0 || (o.soft > 0 && o.softDur > 0)
	s.outLimit.Store(o)
}

// SetPubSubLimit changes client-output-buffer-limit for the pubsub class.
func (s *Server) SetPubSubLimit(l OutputLimit) {
	s.pubsubLimit.Store(&outputLimits{hard: l.Hard, soft: l.Soft, softDur: time.Duration(l.SoftSeconds) * time.Second})
}

// armWrite sets the write deadline for writing pending bytes: timeout
// after now, or the moment the output went over the soft limit plus
// soft-seconds, whichever comes first.
func (c *Client) armWrite(lim *outputLimits, pending int) {
	now := time.Now()
	var dl time.Time
	if lim.timeout > 0 {
		dl = now.Add(lim.timeout)
	}
	c.softBinding = false
	if lim.soft > 0 && lim.softDur > 0 && int64(pending) > lim.soft {
		if c.overSoft.IsZero() {
			c.overSoft = now
		}
		if sd := c.overSoft.Add(lim.softDur); dl.IsZero() || sd.Before(dl) {
			dl, c.softBinding = sd, true
		}
	} else {
		c.overSoft = time.Time{}
	}
	if dl.IsZero() {
		if !c.wdl.IsZero() {
			c.nc.SetWriteDeadline(time.Time{})
			c.wdl = time.Time{}
		}
		return
	}
	if c.wdl.IsZero() || dl.Before(c.wdl) || dl.Sub(c.wdl) > rearmSlack {
		c.nc.SetWriteDeadline(dl)
		c.wdl = dl
	}
}

// outputLimitClose counts and logs a client closed by an output limit.
func (c *Client) outputLimitClose(why string, pending int) {
	c.killed.Store(true)
	c.srv.secStats.outputLimit.Add(1)
	c.srv.log.Warn("closing client: output limit", "addr", c.addr, "id", c.id, "reason", why, "pending_bytes", pending)
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
	if s.scripts.Running() && s.busyRefused(c, cmd) {
		return
	}
	if !c.authenticated && cmd.Flags&FlagNoAuth == 0 && !s.acl.DefaultOpen() {
		c.addError("NOAUTH Authentication required.")
		if c.multi {
			c.multiErr = true
		}
		return
	}
	// ACL: one branch for users allowed every command and key.
	if slot := c.user.Load(); !slot.User().Unrestricted() {
		if !s.aclAllowed(c, slot, slot.User(), cmd, args) {
			if c.multi {
				c.multiErr = true
			}
			return
		}
	}
	if s.loading.Load() && cmd.Flags&FlagLoading == 0 {
		c.addError(errLoading)
		if c.multi {
			c.multiErr = true
		}
		return
	}
	if c.resp == 2 && c.subCount.Load() > 0 && !subscribedModeAllows(cmd) {
		c.addError(subscribedModeError(cmd))
		if c.multi {
			c.multiErr = true
		}
		return
	}
	if s.cluster != nil && !s.clusterRoute(c, cmd, args) {
		return
	}
	// A write makes room for what it brings (its arguments' bytes) before it
	// runs, so a large value does not push memory past the bound first.
	if cmd.Flags&FlagDenyOOM != 0 && !c.inExec {
		var need, largest int64
		for _, a := range args[1:] {
			need += int64(len(a))
			largest = max(largest, int64(len(a)))
		}
		if s.st.OverLimitFor(need) {
			// An argument larger than the whole budget can never be
			// stored: refuse it before evicting anything on its behalf.
			if largest > s.st.MaxMemory() {
				s.refuseOOM(c, cmd, "OOM value is larger than maxmemory")
				return
			}
			if _, err := s.st.EvictFor(c.evictStart(args, cmd), need); err != nil {
				s.refuseOOM(c, cmd, err.Error())
				return
			}
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
	if c.inLoop && (len(args) > loopMaxArgs || s.loops.blocking[cmd.id]) && s.loopBlocking(c, cmd, args) {
		return // the loop hands c to a goroutine, which calls cmd
	}
	s.call(c, cmd, args)
}

// nowMs is the time commands run at, in unix milliseconds.
func (s *Server) nowMs() int64 {
	if s.clock != nil {
		return s.clock.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// call runs a resolved command's handler, timing it and recovering panics.
//
// The clock is read once per command: the time a command ends is the time
// the next one of the pipeline starts (clock reads are not free on every
// machine: about 200 ns under kvm-clock).
func (s *Server) call(c *Client, cmd *Command, args [][]byte) {
	start := c.mark
	if start.IsZero() {
		start = time.Now()
	}
	if s.clock != nil {
		c.now = s.clock.Now().UnixMilli()
	} else {
		c.now = start.UnixMilli()
	}
	c.failed = false
	c.cmd = cmd
	c.aCmd.Store(cmd)
	c.lastUsed.Store(c.now)
	mark := len(c.out)
	if c.trk != nil {
		c.trackRead(cmd, args)
	}
	if s.origins != nil && cmd.Flags&FlagWrite != 0 && !c.originCheckWrite(cmd, args) {
		c.failed = true
	} else {
		s.invoke(c, cmd, args)
	}
	if len(c.originTickets) > 0 {
		c.originDurable(mark)
	}
	if s.monitors.n.Load() > 0 {
		// After the command, as Redis 7 does.
		s.feedMonitors(c, cmd, args, start)
	}
	if c.replyOff || c.replySkip > 0 {
		c.out = c.out[:mark]
		if c.replySkip > 0 {
			c.replySkip--
		}
	}
	if cmd.Flags&FlagWrite != 0 {
		if obs := s.writeObs; obs != nil {
			c.keyIdx = cmd.KeyIndexes(args, c.keyIdx[:0])
			for _, i := range c.keyIdx {
				obs(c.db, args[i])
			}
		}
	}
	end := time.Now()
	c.mark = end
	d := end.Sub(start)
	s.stats.countCall(cmd.id, c.id, d, c.failed, false)
	if us := d.Microseconds(); s.slowlog.enabled(us) && cmd.Flags&FlagSkipSlowlog == 0 {
		s.slowlog.add(c, s.slowlogArgs(cmd, args), start, us)
	}
	if s.audit != nil && s.audit.cmds[cmd.id] {
		s.audit.admin(c, cmd, args, c.failed)
	}
}

var redacted = []byte("(redacted)")

// slowlogArgs hides passwords and ACL rules from the slow log, as Redis
// does.
func (s *Server) slowlogArgs(cmd *Command, args [][]byte) [][]byte {
	if !s.redact[cmd.id] {
		return args
	}
	out := slices.Clone(args)
	switch cmd.FullName() {
	case "auth":
		for i := 1; i < len(out); i++ {
			out[i] = redacted
		}
	case "config|set":
		for i := 2; i+1 < len(out); i += 2 {
			if eq(out[i], "requirepass") {
				out[i+1] = redacted
			}
		}
	default: // hello, acl subcommands
		for i := 2; i < len(out); i++ {
			out[i] = redacted
		}
	}
	return out
}

func (s *Server) invoke(c *Client, cmd *Command, args [][]byte) {
	defer func() {
		if r := recover(); r != nil {
			c.tx.Release()
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

// errProtectedMode is sent to clients refused by protected mode.
const errProtectedMode = "-DENIED cachesrv is running in protected mode because protected mode is enabled and no password is set for the default user. " +
	"In this mode connections are only accepted from the loopback interface. To accept clients from other computers, either " +
	"1) set a password for the default user (requirepass, or an ACL file), or " +
	"2) restart with '--protected-mode no' after making sure the server is not reachable from untrusted networks.\r\n"

// refuse answers a connection that is not admitted and closes it. The
// accept loop must not wait on a client: the reply gets a short deadline,
// and TLS connections are closed without one (it would need a handshake).
func refuse(nc net.Conn, msg string) {
	if _, isTLS := nc.(*tls.Conn); !isTLS {
		nc.SetDeadline(time.Now().Add(time.Second))
		io.WriteString(nc, msg)
	}
	nc.Close()
}

// isLocal reports whether addr is a loopback address or not an IP
// address at all (Unix sockets, in-memory pipes).
func isLocal(addr net.Addr) bool {
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UDPAddr:
		return a.IP.IsLoopback()
	}
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return true
	}
	ip := net.ParseIP(host)
	return ip == nil || ip.IsLoopback()
}

// handshakeTimeout bounds a TLS handshake.
const handshakeTimeout = 10 * time.Second

// handshake completes the TLS handshake before the first command, so that
// a client without a valid certificate (tls-auth-clients yes) is refused
// before it is served.
func (s *Server) handshake(c *Client, tc *tls.Conn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), handshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		s.secStats.tlsFailed.Add(1)
		s.log.Debug("TLS handshake failed", "addr", c.addr, "err", err)
		c.killed.Store(true)
		return false
	}
	return true
}

// Limits for connections that have not authenticated while the server
// requires it, as in Redis 7: at most 10 arguments of at most 16 KiB.
const (
	unauthMaxArgs = 10
	unauthMaxBulk = 16 << 10
)

var (
	errUnauthMbulk = errors.New("ERR Protocol error: unauthenticated multibulk length")
)

// unauthLimits applies or lifts the unauthenticated bulk limit as the
// default user's password comes and goes.
func (s *Server) unauthLimits(c *Client) {
	if s.acl.DefaultOpen() {
		c.p.maxBulk = s.maxBulk.Load()
	} else {
		c.p.maxBulk = min(unauthMaxBulk, s.maxBulk.Load())
	}
}

// unauthCheck refuses large commands from unauthenticated clients.
func (s *Server) unauthCheck(c *Client, args [][]byte, ok bool) error {
	if s.acl.DefaultOpen() {
		return nil
	}
	if (ok && len(args) > unauthMaxArgs) || (!ok && c.p.inMulti && c.p.argc > unauthMaxArgs) {
		return errUnauthMbulk
	}
	return nil
}

// RenameCommands applies rename-command: each old name becomes the new
// one, or disappears when the new name is "". A renamed command is unknown
// under its old name; it keeps its original name in replies, statistics
// and ACL rules, as in Redis. Call it before Serve.
func (s *Server) RenameCommands(m map[string]string) error {
	var errs []error
	moved := make(map[string]*Command)
	for _, old := range slices.Sorted(maps.Keys(m)) {
		cmd := s.table.byName[strings.ToLower(old)]
		if cmd == nil {
			errs = append(errs, fmt.Errorf("rename-command: no such command %q", old))
			continue
		}
		delete(s.table.byName, cmd.Name)
		if nu := strings.ToLower(m[old]); nu != "" {
			moved[nu] = cmd
		}
	}
	for _, nu := range slices.Sorted(maps.Keys(moved)) {
		if _, taken := s.table.byName[nu]; taken {
			errs = append(errs, fmt.Errorf("rename-command: cannot rename %q to %q: a command with that name exists", moved[nu].Name, nu))
			continue
		}
		s.table.byName[nu] = moved[nu]
	}
	return errors.Join(errs...)
}
