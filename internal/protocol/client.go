package protocol

import (
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachesrv/cachesrv/internal/acl"
	"github.com/cachesrv/cachesrv/internal/origin"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Client is one connection's state. Its fields are owned by the
// connection's goroutine, except those behind info (CLIENT LIST/SETNAME
// from other clients) and killed.
type Client struct {
	srv  *Server
	st   *store.Store
	nc   net.Conn
	id   int64
	addr string
	p    parser
	out  []byte

	scratch []byte // reusable buffer for formatting and value building
	keyIdx  []int

	db            int
	resp          int
	authenticated bool
	// user is the ACL user the connection runs as (the default user until
	// AUTH); other goroutines read it for CLIENT KILL and ACL DELUSER.
	user   atomic.Pointer[acl.Slot]
	aclIdx []int // key positions scratch for ACL checks

	// Output limits (flush): the write deadline in force, when the pending
	// output went over the soft limit, and whether the soft limit set the
	// deadline.
	wdl         time.Time
	overSoft    time.Time
	softBinding bool
	now         int64     // unix ms, read once per command
	mark        time.Time // end of the previous command (or arrival of input)
	cmd         *Command
	failed      bool
	closeAfter  bool
	noTouch     bool
	noEvict     bool
	replyOff    bool
	replySkip   int // replies to drop: 1 = the next one

	multi    bool
	multiErr bool
	queued   []queuedCmd
	inExec   bool
	watch    *store.Watch
	watched  []string // registrations (store.Shard.WatchLocked)
	// watchBytes is what the registrations hold, charged to the store's
	// used memory and bounded by maxWatchBytes.
	watchBytes int64

	// tx takes the store's locks for the running command; the panic
	// path releases it.
	tx       *store.Txn
	netIn    int64
	netOut   int64
	created  time.Time
	killed   atomic.Bool
	lastUsed atomic.Int64 // unix ms of the last command
	aDB      atomic.Int32 // copies for CLIENT LIST from other goroutines
	aResp    atomic.Int32
	aCmd     atomic.Pointer[Command]
	rnd      uint64
	bufAcct  int64 // buffer bytes added to the store's used memory
	fd       int64 // the socket's descriptor, for CLIENT LIST
	stat     wireStat

	// Out-of-band output (push.go): wmu serialises socket writes between
	// the connection goroutine and the push writer.
	wmu      sync.Mutex
	box      outbox
	subCount atomic.Int64 // channels + patterns subscribed (pubsub.go)
	ps       *clientPubSub
	trk      *clientTracking // nil while tracking is off (tracking.go)
	// CLIENT CACHING YES / NO for the next command (OPTIN / OPTOUT).
	caching, cachingNo bool
	trkKeys            [][]byte // scratch for trackRead

	// Event loops (eventloop.go): served by a loop now; the command just
	// dispatched, to run on a goroutine.
	inLoop    bool
	loopDefer *Command

	cl clusterClient // ASKING, READONLY (cmd_cluster.go)

	originTickets []origin.Ticket // write-behind writes to make durable after the command (cmd_origin.go)

	info struct {
		sync.Mutex
		name, libName, libVer string
		lastCmd               string
		user                  string
	}
}

type queuedCmd struct {
	cmd  *Command
	args [][]byte
}

func newClient(s *Server, nc net.Conn) *Client {
	c := &Client{
		srv:     s,
		st:      s.st,
		nc:      nc,
		id:      s.nextID.Add(1),
		addr:    nc.RemoteAddr().String(),
		resp:    2,
		created: time.UnixMilli(s.nowMs()),
		scratch: make([]byte, 0, 64),
	}
	c.tx = s.st.NewTxn(c.trackShard)
	c.p.buf = make([]byte, initialReadBuf)
	c.p.maxBulk = s.maxBulk.Load()
	c.p.maxQuery = s.maxQuery.Load()
	c.p.bufs = s.st.Buffers()
	c.resetUser()
	c.aResp.Store(2)
	c.fd = connFD(nc)
	c.stat.multi.Store(-1)
	return c
}

// resetUser puts the connection back on the default user, authenticated
// when that user needs no password (new connections, RESET).
func (c *Client) resetUser() {
	s := c.srv
	c.user.Store(s.acl.Default())
	c.authenticated = s.acl.DefaultOpen()
	if !c.authenticated {
		c.p.maxBulk = min(unauthMaxBulk, s.maxBulk.Load())
	} else {
		c.p.maxBulk = s.maxBulk.Load()
	}
	c.info.Lock()
	c.info.user = "default"
	c.info.Unlock()
}

// release drops the client's watches when it goes away.
func (c *Client) release() {
	c.unwatchAll()
	c.p.release()
	if c.bufAcct != 0 {
		c.st.AddMemory(-c.bufAcct)
		c.bufAcct = 0
	}
}

// accountBuffers keeps the store's used memory aware of this connection's
// buffers (query buffer, reply buffer, scratch), as Redis counts client
// buffers in used_memory: eviction then makes room for them, which keeps
// the process inside its memory bound when clients move large values.
// It runs once per read, comparing three capacities.
func (c *Client) accountBuffers() {
	cur := int64(cap(c.p.buf) + cap(c.out) + cap(c.scratch) + cap(c.p.offs)*8 + cap(c.p.args)*24)
	if d := cur - c.bufAcct; d != 0 {
		c.st.AddMemory(d)
		c.bufAcct = cur
	}
}

// queue stores a command for EXEC, copying its arguments out of the read
// buffer.
func (c *Client) queue(cmd *Command, args [][]byte) {
	cp := make([][]byte, len(args))
	for i, a := range args {
		cp[i] = append([]byte(nil), a...)
	}
	c.queued = append(c.queued, queuedCmd{cmd: cmd, args: cp})
}

// evictStart picks the shard eviction starts with: the one the command
// writes to.
func (c *Client) evictStart(args [][]byte, cmd *Command) int {
	if cmd.FirstKey > 0 && cmd.FirstKey < len(args) {
		return c.st.ShardOf(args[cmd.FirstKey])
	}
	return int(c.id)
}

func (c *Client) unwatchAll() {
	for _, reg := range c.watched {
		h := c.tx.Key(c.now, s2b(store.WatchedKey(reg)))
		c.tx.Unwatch(reg, h, c.watch)
		c.tx.Release()
	}
	clear(c.watched)
	c.watched = c.watched[:0]
	if c.watchBytes != 0 {
		c.st.AddMemory(-c.watchBytes)
		c.watchBytes = 0
	}
	if c.watch != nil {
		c.watch.Dirty.Store(false)
	}
}

func float64bits(f float64) uint64     { return math.Float64bits(f) }
func float64frombits(b uint64) float64 { return math.Float64frombits(b) }

// ID returns the client's id.
func (c *Client) ID() int64 { return c.id }
