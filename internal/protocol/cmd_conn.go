package protocol

import (
	"strconv"
	"strings"
	"time"

	"github.com/cachesrv/cachesrv/internal/store"
)

func cmdPing(c *Client, args [][]byte) {
	if c.resp == 2 && c.subCount.Load() > 0 && len(args) <= 2 {
		// RESP2 subscribed mode: PING answers like a message.
		c.addArray(2)
		c.addBulkStr("pong")
		if len(args) == 2 {
			c.addBulk(args[1])
		} else {
			c.addBulkStr("")
		}
		return
	}
	switch len(args) {
	case 1:
		c.addSimple("PONG")
	case 2:
		c.addBulk(args[1])
	default:
		c.addError("ERR wrong number of arguments for 'ping' command")
	}
}

func cmdEcho(c *Client, args [][]byte) { c.addBulk(args[1]) }

func cmdQuit(c *Client, args [][]byte) {
	c.addOK()
	c.closeAfter = true
}

const errWrongPass = "WRONGPASS invalid username-password pair or user is disabled."

func cmdAuth(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.addError(errSyntax)
		return
	}
	var user, pass []byte
	if len(args) == 3 {
		user, pass = args[1], args[2]
	} else {
		pass = args[1]
		if c.srv.acl.DefaultNopass() {
			c.addError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
			return
		}
	}
	if !c.authenticate(user, pass, args[0]) {
		c.addError(errWrongPass)
		return
	}
	c.addOK()
}

func cmdHello(c *Client, args [][]byte) {
	proto := c.resp
	i := 1
	if len(args) > 1 {
		n, ok := parseInt(args[1])
		if !ok {
			c.addError("ERR Protocol version is not an integer or out of range")
			return
		}
		if n < 2 || n > 3 {
			c.addError("NOPROTO unsupported protocol version")
			return
		}
		proto = int(n)
		i = 2
	}
	var name []byte
	setName := false
	for ; i < len(args); i++ {
		more := len(args) - i - 1
		switch {
		case eq(args[i], "auth") && more >= 2:
			if !c.authenticate(args[i+1], args[i+2], args[0]) {
				c.addError(errWrongPass)
				return
			}
			i += 2
		case eq(args[i], "setname") && more >= 1:
			if !validClientName(args[i+1]) {
				c.addError("ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			name, setName = args[i+1], true
			i++
		default:
			c.addError("ERR Syntax error in HELLO option '" + string(args[i]) + "'")
			return
		}
	}
	if !c.authenticated && !c.srv.acl.DefaultOpen() {
		c.addError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	if setName {
		c.info.Lock()
		c.info.name = string(name)
		c.info.Unlock()
	}
	c.resp = proto
	c.aResp.Store(int32(proto))
	c.addMap(7)
	c.addBulkStr("server")
	c.addBulkStr("redis")
	c.addBulkStr("version")
	c.addBulkStr(RedisVersion)
	c.addBulkStr("proto")
	c.addInt(int64(proto))
	c.addBulkStr("id")
	c.addInt(c.id)
	c.addBulkStr("mode")
	c.addBulkStr("standalone")
	c.addBulkStr("role")
	c.addBulkStr("master")
	c.addBulkStr("modules")
	c.addArray(0)
}

// RedisVersion is the Redis version whose behaviour cachesrv follows; it is
// what HELLO and INFO report as redis_version so clients enable the right
// features.
const RedisVersion = "7.0.15"

func validClientName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func cmdReset(c *Client, args [][]byte) {
	c.dropPushSources()
	c.discard()
	c.unwatchAll()
	c.db = 0
	c.aDB.Store(0)
	c.resp = 2
	c.aResp.Store(2)
	c.noTouch, c.noEvict, c.replyOff, c.replySkip = false, false, false, 0
	c.resetUser()
	c.info.Lock()
	c.info.name = ""
	c.info.Unlock()
	c.addSimple("RESET")
}

// Transactions.

func (c *Client) discard() {
	c.multi, c.multiErr = false, false
	c.queued = nil
}

func cmdMulti(c *Client, args [][]byte) {
	if c.multi {
		c.addError("ERR MULTI calls can not be nested")
		return
	}
	c.multi = true
	c.addOK()
}

func cmdDiscard(c *Client, args [][]byte) {
	if !c.multi {
		c.addError("ERR DISCARD without MULTI")
		return
	}
	c.discard()
	c.unwatchAll()
	c.addOK()
}

func cmdExec(c *Client, args [][]byte) {
	if !c.multi {
		c.addError("ERR EXEC without MULTI")
		return
	}
	queued, aborted := c.queued, c.multiErr
	c.discard()
	if aborted {
		c.unwatchAll()
		c.addError("EXECABORT Transaction discarded because of previous errors.")
		return
	}
	c.tx.Hold(c.now)
	if c.watch != nil && c.watch.Dirty.Load() {
		c.tx.Unhold()
		c.unwatchAll()
		c.addNullArray()
		return
	}
	c.inExec = true
	func() {
		defer func() {
			c.inExec = false
			c.tx.Unhold()
		}()
		c.addArray(len(queued))
		for _, q := range queued {
			if c.srv.aclAllowedAtExec(c, q.cmd, q.args) {
				c.srv.call(c, q.cmd, q.args)
			}
		}
	}()
	c.unwatchAll()
}

func cmdWatch(c *Client, args [][]byte) {
	if c.multi {
		c.addError("ERR WATCH inside MULTI is not allowed")
		return
	}
	if c.watch == nil {
		c.watch = new(store.Watch)
	}
	var need int64
	for _, k := range args[1:] {
		need += watchCost(len(k))
	}
	if c.watchBytes+need > maxWatchBytes {
		c.addError("ERR too many watched key bytes on this connection (at most " + strconv.Itoa(maxWatchBytes>>20) + " MiB)")
		return
	}
	for _, k := range args[1:] {
		h := c.tx.Key(c.now, k)
		reg, added := c.tx.Watch(c.db, k, h, c.watch)
		c.tx.Release()
		if added {
			c.watched = append(c.watched, reg)
			c.watchBytes += watchCost(len(k))
			c.st.AddMemory(watchCost(len(k)))
		}
	}
	c.addOK()
}

// maxWatchBytes bounds what one connection's WATCH registrations hold.
const maxWatchBytes = 64 << 20

// watchCost is what a registration of a key of n bytes holds: the
// registration string (shared by the shard's map and the client's list),
// the map entry and the two slice slots.
func watchCost(n int) int64 { return int64(n) + 2 + 64 }

func cmdUnwatch(c *Client, args [][]byte) {
	if !c.inExec {
		c.unwatchAll()
	}
	c.addOK()
}

// CLIENT subcommands.

func cmdClientID(c *Client, args [][]byte) { c.addInt(c.id) }

func cmdClientSetName(c *Client, args [][]byte) {
	if !validClientName(args[2]) {
		c.addError("ERR Client names cannot contain spaces, newlines or special characters.")
		return
	}
	c.info.Lock()
	c.info.name = string(args[2])
	c.info.Unlock()
	c.addOK()
}

func cmdClientGetName(c *Client, args [][]byte) {
	c.info.Lock()
	name := c.info.name
	c.info.Unlock()
	if name == "" {
		c.addNull()
		return
	}
	c.addBulkStr(name)
}

func cmdClientSetInfo(c *Client, args [][]byte) {
	val := string(args[3])
	for _, ch := range args[3] {
		if ch < '!' || ch > '~' {
			c.addError("ERR " + upper(string(args[2])) + " cannot contain spaces, newlines or special characters.")
			return
		}
	}
	c.info.Lock()
	defer c.info.Unlock()
	switch {
	case eq(args[2], "lib-name"):
		c.info.libName = val
	case eq(args[2], "lib-ver"):
		c.info.libVer = val
	default:
		c.addError("ERR Unrecognized option '" + string(args[2]) + "'")
		return
	}
	c.addOK()
}

func onOff(c *Client, arg []byte) (bool, bool) {
	switch {
	case eq(arg, "on"):
		return true, true
	case eq(arg, "off"):
		return false, true
	}
	c.addError(errSyntax)
	return false, false
}

func cmdClientNoEvict(c *Client, args [][]byte) {
	if v, ok := onOff(c, args[2]); ok {
		c.noEvict = v
		c.addOK()
	}
}

func cmdClientNoTouch(c *Client, args [][]byte) {
	if v, ok := onOff(c, args[2]); ok {
		c.noTouch = v
		c.addOK()
	}
}

func cmdClientReply(c *Client, args [][]byte) {
	switch {
	case eq(args[2], "on"):
		c.replyOff, c.replySkip = false, 0
		c.addOK()
	case eq(args[2], "off"):
		c.replyOff = true
	case eq(args[2], "skip"):
		c.replySkip = 2 // this command's (empty) reply and the next one
	default:
		c.addError(errSyntax)
	}
}

// infoLine is CLIENT LIST's line for c.
func (c *Client) infoLine() string {
	c.info.Lock()
	name, libName, libVer, user := c.info.name, c.info.libName, c.info.libVer, c.info.user
	c.info.Unlock()
	now := time.UnixMilli(c.srv.nowMs())
	cmd := "NULL"
	if p := c.aCmd.Load(); p != nil {
		cmd = p.FullName()
	}
	st := &c.stat
	var b strings.Builder
	b.WriteString("id=" + itoa(c.id))
	b.WriteString(" addr=" + c.addr)
	b.WriteString(" laddr=" + c.nc.LocalAddr().String())
	b.WriteString(" fd=" + itoa(c.fd) + " name=" + name)
	b.WriteString(" age=" + itoa(int64(now.Sub(c.created).Seconds())))
	idle := int64(0)
	if lu := c.lastUsed.Load(); lu > 0 {
		idle = (now.UnixMilli() - lu) / 1000
	}
	b.WriteString(" idle=" + itoa(idle))
	b.WriteString(" flags=" + st.flagString())
	b.WriteString(" db=" + itoa(int64(c.aDB.Load())))
	b.WriteString(" sub=" + itoa(st.subs.Load()) + " psub=" + itoa(st.psubs.Load()) + " ssub=0")
	b.WriteString(" multi=" + itoa(st.multi.Load()))
	b.WriteString(" qbuf=" + itoa(st.qbuf.Load()) + " qbuf-free=" + itoa(st.qbufFree.Load()))
	b.WriteString(" argv-mem=0 multi-mem=0 rbs=0 rbp=0")
	b.WriteString(" obl=" + itoa(st.obl.Load()) + " oll=0 omem=0")
	b.WriteString(" tot-mem=" + itoa(st.totMem.Load()) + " events=r")
	b.WriteString(" cmd=" + cmd)
	b.WriteString(" user=" + user + " redir=-1 resp=" + itoa(int64(c.aResp.Load())))
	b.WriteString(" lib-name=" + libName + " lib-ver=" + libVer)
	return b.String()
}

func cmdClientInfo(c *Client, args [][]byte) {
	c.publishStat()
	c.addVerbatim(c.infoLine() + "\n")
}

func cmdClientList(c *Client, args [][]byte) {
	c.publishStat()
	var ids map[int64]bool
	for i := 2; i < len(args); i++ {
		switch {
		case eq(args[i], "type") && i+1 < len(args):
			t := strings.ToLower(string(args[i+1]))
			if t != "normal" && t != "master" && t != "replica" && t != "pubsub" {
				c.addError("ERR Unknown client type '" + string(args[i+1]) + "'")
				return
			}
			if t != "normal" {
				c.addVerbatim("")
				return
			}
			i++
		case eq(args[i], "id") && i+1 < len(args):
			ids = map[int64]bool{}
			for i++; i < len(args); i++ {
				n, ok := parseInt(args[i])
				if !ok || n <= 0 {
					c.addError("ERR Invalid client ID")
					return
				}
				ids[n] = true
			}
		default:
			c.addError(errSyntax)
			return
		}
	}
	var b strings.Builder
	for _, o := range c.srv.Clients() {
		if ids != nil && !ids[o.id] {
			continue
		}
		b.WriteString(o.infoLine())
		b.WriteByte('\n')
	}
	c.addVerbatim(b.String())
}

func cmdClientKill(c *Client, args [][]byte) {
	// Old form: CLIENT KILL addr:port
	if len(args) == 3 {
		for _, o := range c.srv.Clients() {
			if o.addr == string(args[2]) {
				o.kill(c)
				c.addOK()
				return
			}
		}
		c.addError("ERR No such client")
		return
	}
	if len(args)%2 != 0 {
		c.addError(errSyntax)
		return
	}
	var id int64
	var addr, laddr, user string
	skipMe := true
	for i := 2; i < len(args); i += 2 {
		v := string(args[i+1])
		switch {
		case eq(args[i], "id"):
			n, ok := parseInt(args[i+1])
			if !ok || n <= 0 {
				c.addError("ERR client-id should be greater than 0")
				return
			}
			id = n
		case eq(args[i], "addr"):
			addr = v
		case eq(args[i], "laddr"):
			laddr = v
		case eq(args[i], "user"):
			if c.srv.acl.Get(v) == nil {
				c.addError("ERR No such user '" + v + "'")
				return
			}
			user = v
		case eq(args[i], "type"):
			if t := strings.ToLower(v); t != "normal" && t != "master" && t != "replica" && t != "pubsub" && t != "slave" {
				c.addError("ERR Unknown client type '" + v + "'")
				return
			}
		case eq(args[i], "skipme"):
			switch {
			case eq(args[i+1], "yes"):
				skipMe = true
			case eq(args[i+1], "no"):
				skipMe = false
			default:
				c.addError(errSyntax)
				return
			}
		default:
			c.addError(errSyntax)
			return
		}
	}
	var n int64
	for _, o := range c.srv.Clients() {
		if (id != 0 && o.id != id) || (addr != "" && o.addr != addr) ||
			(laddr != "" && o.nc.LocalAddr().String() != laddr) || (user != "" && user != o.user.Load().Name()) {
			continue
		}
		if o == c && skipMe {
			continue
		}
		o.kill(c)
		n++
	}
	c.addInt(n)
}

// kill closes o; when o is the caller, after its reply.
func (o *Client) kill(by *Client) {
	o.killed.Store(true)
	if o == by {
		o.closeAfter = true
		return
	}
	o.nc.Close()
	o.srv.blocked.cancel(o) // a client blocked in BLPOP and friends
}

func cmdClientHelp(c *Client, args [][]byte) {
	c.addHelp("CLIENT",
		"GETNAME", "    Return the name of the current connection.",
		"ID", "    Return the ID of the current connection.",
		"INFO", "    Return information about the current client connection.",
		"KILL <ip:port>", "    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]", "    Kill connections. Options are: ID, ADDR, LADDR, USER, TYPE, SKIPME.",
		"LIST [options ...]", "    Return information about client connections. Options: TYPE, ID.",
		"NO-EVICT (ON|OFF)", "    Protect current client connection from eviction.",
		"NO-TOUCH (ON|OFF)", "    Will not touch LRU/LFU stats when this mode is on.",
		"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
		"SETNAME <name>", "    Assign the name <name> to the current connection.",
		"SETINFO <option> <value>", "    Set client meta attr. Options are LIB-NAME and LIB-VER.",
	)
}

func cmdTime(c *Client, args [][]byte) {
	now := time.Now()
	c.addArray(2)
	c.addBulkStr(strconv.FormatInt(now.Unix(), 10))
	c.addBulkStr(strconv.FormatInt(int64(now.Nanosecond()/1000), 10))
}

func cmdShutdown(c *Client, args [][]byte) {
	for _, a := range args[1:] {
		if !eq(a, "nosave") && !eq(a, "save") && !eq(a, "now") && !eq(a, "force") && !eq(a, "abort") {
			c.addError(errSyntax)
			return
		}
		if eq(a, "abort") {
			c.addError("ERR No shutdown in progress.")
			return
		}
	}
	if !c.shutdownSave(args) {
		return
	}
	c.srv.log.Warn("SHUTDOWN requested by client", "addr", c.addr)
	c.closeAfter = true
	if c.srv.opts.Shutdown != nil {
		c.srv.opts.Shutdown() // must not block: it cancels main's context
	}
}
