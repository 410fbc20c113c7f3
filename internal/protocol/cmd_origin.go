package protocol

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/cachesrv/cachesrv/internal/cmdtab"
	"github.com/cachesrv/cachesrv/internal/origin"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Origins: read-through, write-through and write-behind for routed keys
// (internal/origin), and the ORIGIN command. See docs/origins.md.
//
// The hooks are cheap for keys outside every route: GET and MGET take this
// path only when origins are configured, and a key that misses no route
// costs a prefix compare per route. Reads never hold a shard lock while
// waiting on an origin.

// errOriginsOff is the ORIGIN reply of a server without origins.
const errOriginsOff = "ERR no origins are configured"

func originCommands(t *Table) {
	const adm = FlagAdmin | FlagNoScript
	parent := t.add(&Command{Spec: cmdtab.Spec{Name: "origin", Arity: -2, Category: "origin", Group: "server", Since: "0.1.0", Summary: "Inspects and operates the origins (read-through, write-through, write-behind). ORIGIN HELP lists the subcommands."}, Subs: map[string]*Command{}})
	sub := func(name string, arity int, flags Flag, summary string, h Handler) {
		t.addSub(parent, &Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, Category: "origin", Group: "server", Since: "0.1.0", Summary: summary}, Handler: h})
	}
	sub("help", 2, FlagLoading|FlagStale, "Shows helpful text about the different subcommands.", cmdOriginHelp)
	sub("list", 2, FlagLoading|FlagStale, "Lists the routes: pattern, origin, read mode, write mode.", cmdOriginList)
	sub("status", 3, FlagLoading|FlagStale, "Shows an origin's state: ORIGIN STATUS name.", cmdOriginStatus)
	sub("warm", -3, adm, "Preloads a route from its origin's warm query: ORIGIN WARM pattern [timeout-seconds]. Replies the number of keys loaded.", cmdOriginWarm)
	sub("flush", -2, adm, "Waits until every write-behind write so far reached its origin: ORIGIN FLUSH [timeout-seconds].", cmdOriginFlush)
	sub("deadletter", -3, adm, "Dead-lettered write-behind writes: ORIGIN DEADLETTER LIST|RETRY|DROP origin [key].", cmdOriginDeadLetter)
}

var originHelp = []string{
	"ORIGIN <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"LIST",
	"    List the routes: pattern, origin, read mode, write mode.",
	"STATUS <origin>",
	"    Show an origin's breaker, calls, errors, write-behind queue and journal.",
	"WARM <pattern> [<timeout-seconds>]",
	"    Preload a route from its origin's warm query.",
	"FLUSH [<timeout-seconds>]",
	"    Wait until every write-behind write so far reached its origin.",
	"DEADLETTER LIST|RETRY|DROP <origin> [<key>]",
	"    List, retry (journal again) or drop the writes the origin refused.",
	"HELP",
	"    Print this help.",
}

func cmdOriginHelp(c *Client, args [][]byte) { c.addBulkStrsSimple(originHelp) }

func (c *Client) addBulkStrsSimple(lines []string) {
	c.addArray(len(lines))
	for _, l := range lines {
		c.addSimple(l)
	}
}

func cmdOriginList(c *Client, args [][]byte) {
	m := c.srv.origins
	if m == nil {
		c.addError(errOriginsOff)
		return
	}
	c.addArray(len(m.Routes()))
	for _, r := range m.Routes() {
		rd, wr := r.Mode()
		c.addBulkStrs(r.Name, r.Origin.Name, rd, wr)
	}
}

func cmdOriginStatus(c *Client, args [][]byte) {
	m := c.srv.origins
	if m == nil {
		c.addError(errOriginsOff)
		return
	}
	o := m.Origin(string(args[2]))
	if o == nil {
		c.addError("ERR no such origin '" + trunc(string(args[2]), 128) + "'")
		return
	}
	st := o.Stats()
	fields := st.Fields()
	c.addMap(len(fields))
	for _, f := range fields {
		c.addBulkStr(f[0])
		c.addBulkStr(f[1])
	}
}

// parseTimeoutArg reads an optional timeout in seconds (default def).
func (c *Client) parseTimeoutArg(args [][]byte, i int, def time.Duration) (time.Duration, bool) {
	if len(args) <= i {
		return def, true
	}
	if len(args) > i+1 {
		c.addError(errSyntax)
		return 0, false
	}
	f, ok := parseFloat(args[i])
	if !ok || f <= 0 || f > 3600 {
		c.addError("ERR timeout must be a number of seconds between 0 and 3600")
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func cmdOriginWarm(c *Client, args [][]byte) {
	m := c.srv.origins
	if m == nil {
		c.addError(errOriginsOff)
		return
	}
	rt := m.Route(string(args[2]))
	if rt == nil {
		c.addError("ERR no such route '" + trunc(string(args[2]), 128) + "'")
		return
	}
	d, ok := c.parseTimeoutArg(args, 3, 60*time.Second)
	if !ok {
		return
	}
	if c.tx.Held() {
		c.addError("ERR ORIGIN WARM cannot run inside MULTI")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := m.Warm(ctx, rt)
	if err != nil {
		c.addError(err.Error())
		return
	}
	c.addInt(int64(n))
}

func cmdOriginFlush(c *Client, args [][]byte) {
	m := c.srv.origins
	if m == nil {
		c.addError(errOriginsOff)
		return
	}
	d, ok := c.parseTimeoutArg(args, 2, 30*time.Second)
	if !ok {
		return
	}
	if c.tx.Held() {
		c.addError("ERR ORIGIN FLUSH cannot run inside MULTI")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := m.Flush(ctx); err != nil {
		c.addError("ERR ORIGIN FLUSH timed out with writes still pending")
		return
	}
	c.addOK()
}

func cmdOriginDeadLetter(c *Client, args [][]byte) {
	m := c.srv.origins
	if m == nil {
		c.addError(errOriginsOff)
		return
	}
	if len(args) < 4 || len(args) > 5 {
		c.addError("ERR wrong number of arguments for 'origin|deadletter' command")
		return
	}
	o := m.Origin(string(args[3]))
	if o == nil {
		c.addError("ERR no such origin '" + trunc(string(args[3]), 128) + "'")
		return
	}
	key := ""
	if len(args) == 5 {
		key = string(args[4])
	}
	switch {
	case eq(args[2], "list"):
		dl, err := o.DeadLetters()
		if err != nil {
			c.addError("ERR " + err.Error())
			return
		}
		c.addArray(len(dl))
		for _, d := range dl {
			op := "set"
			if d.Del {
				op = "del"
			}
			c.addArray(5)
			c.addBulkStr(d.Key)
			c.addBulkStr(op)
			c.addBulk(d.Value)
			c.addInt(int64(d.Attempts))
			c.addBulkStr(d.Err)
		}
	case eq(args[2], "retry"):
		n, err := o.RetryDeadLetters(key)
		if err != nil {
			c.addError(err.Error())
			return
		}
		c.addInt(int64(n))
	case eq(args[2], "drop"):
		n, err := o.DropDeadLetters(key)
		if err != nil {
			c.addError(err.Error())
			return
		}
		c.addInt(int64(n))
	default:
		c.addError("ERR unknown subcommand '" + trunc(string(args[2]), 128) + "'. Try ORIGIN HELP.")
	}
}

// OriginsInfo returns the INFO "origins" section.
func OriginsInfo(m *origin.Manager) []InfoField {
	var out []InfoField
	out = append(out, InfoField{"origins", strconv.Itoa(len(m.Origins()))}, InfoField{"origin_routes", strconv.Itoa(len(m.Routes()))})
	for _, o := range m.Origins() {
		var b strings.Builder
		for i, f := range o.Stats().Fields() {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(f[0])
			b.WriteByte('=')
			b.WriteString(f[1])
		}
		out = append(out, InfoField{"origin_" + o.Name, b.String()})
	}
	return out
}

// originReply writes an origin error as "-ORIGIN <origin>: <reason>".
func (c *Client) originError(err error) {
	var oe *origin.Error
	if !errors.As(err, &oe) {
		c.addError("ORIGIN " + err.Error())
		return
	}
	c.replyErr(err)
}

// originLoad reads a routed key that missed through its origin. It must be
// called without locks. ok=false means an error reply was written.
func (c *Client) originLoad(rt *origin.Route, key []byte) (val []byte, found, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	val, found, err := c.srv.origins.Load(ctx, c.db, key, rt)
	if err != nil {
		c.originError(err)
		return nil, false, false
	}
	return val, found, true
}

// originGet is GET when origins are configured.
func originGet(c *Client, key []byte) {
	m := c.srv.origins
	h := c.tx.Key(c.now, key)
	e, ok := c.tx.Lookup(c.db, key, h, c.lookupFlags())
	if ok {
		switch {
		case e.Type != store.TypeString:
			c.addError(errWrongType)
		case m.Hit(c.db, key, e.Value, e.Deadline, c.now):
			c.addNull()
		default:
			c.addBulk(e.Value)
		}
		c.tx.Release()
		return
	}
	c.tx.Release()
	rt := m.Match(key)
	if rt == nil || c.tx.Held() || !rt.ReadThrough() {
		c.addNull()
		return
	}
	val, found, ok := c.originLoad(rt, key)
	switch {
	case !ok:
	case !found:
		c.addNull()
	default:
		c.addBulk(val)
	}
}

// originMGet is MGET when origins are configured: hits first, then the
// routed misses through their origins (without locks), in argument order.
func originMGet(c *Client, args [][]byte) {
	m := c.srv.origins
	keys := args[1:]
	vals := make([][]byte, len(keys))
	have := make([]bool, len(keys))
	var miss []int
	for i, k := range keys {
		h := c.tx.Key(c.now, k)
		e, ok := c.tx.Lookup(c.db, k, h, c.lookupFlags())
		if ok && e.Type == store.TypeString && !m.Hit(c.db, k, e.Value, e.Deadline, c.now) {
			vals[i], have[i] = append([]byte(nil), e.Value...), true
		} else if !ok {
			miss = append(miss, i)
		}
		c.tx.Release()
	}
	if !c.tx.Held() {
		for _, i := range miss {
			rt := m.Match(keys[i])
			if rt == nil || !rt.ReadThrough() {
				continue
			}
			v, found, ok := c.originLoad(rt, keys[i])
			if !ok {
				return
			}
			if found {
				vals[i], have[i] = v, true
			}
		}
	}
	c.addArray(len(keys))
	for i := range keys {
		if have[i] {
			c.addBulk(vals[i])
		} else {
			c.addNull()
		}
	}
}

// originPreload loads a routed key that is not cached (GETEX, CACHE.GET),
// so that the command then finds it. ok=false means an error reply was
// written.
func (c *Client) originPreload(key []byte) bool {
	m := c.srv.origins
	if c.tx.Held() {
		return true
	}
	rt := m.Match(key)
	if rt == nil || !rt.ReadThrough() {
		return true
	}
	h := c.tx.Key(c.now, key)
	exists := c.tx.Exists(c.db, key, h)
	c.tx.Release()
	if exists {
		return true
	}
	_, _, ok := c.originLoad(rt, key)
	return ok
}

// originWriteThrough writes a SET or DEL of a write-through key to the
// origin before the cache changes. ok=false means an error reply was
// written and the command must not touch the cache.
func (c *Client) originWriteThrough(key, val []byte, del bool) bool {
	rt := c.srv.origins.Match(key)
	if rt == nil || !rt.WriteThrough() {
		return true
	}
	if c.tx.Held() {
		c.addError("ERR ORIGIN write-through keys cannot be written inside MULTI")
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.srv.origins.WriteThrough(ctx, rt, key, val, del); err != nil {
		c.originError(err)
		return false
	}
	return true
}

// originWrittenLocked journals a write-behind SET or DEL after the cache
// changed, with the key's shard lock held. On failure (journal full) it
// removes the key from the cache, so that reads go to the origin, and
// writes the error reply; ok=false then.
func (c *Client) originWrittenLocked(key []byte, h uint64, val []byte, del bool) bool {
	rt := c.srv.origins.Match(key)
	if rt == nil || !rt.WriteBehind() {
		return true
	}
	t, err := c.srv.origins.EnqueueLocked(rt, key, val, del)
	if err != nil {
		c.tx.Delete(c.db, key, h, store.Deleted)
		c.originError(err)
		return false
	}
	c.originTickets = append(c.originTickets, t)
	return true
}

// originDurable runs after a command that journaled write-behind writes,
// without locks: it waits for the journal per its fsync policy and turns
// the reply into the error when the journal could not be written.
func (c *Client) originDurable(mark int) {
	var err error
	for _, t := range c.originTickets {
		if e := c.srv.origins.Durable(t); e != nil && err == nil {
			err = e
		}
	}
	c.originTickets = c.originTickets[:0]
	if err != nil && mark <= len(c.out) {
		c.out = c.out[:mark]
		c.originError(err)
	}
}

// originWriteOnly lists the write commands that would change a
// write-through or write-behind key in the cache without telling the
// origin; they are refused on such keys.
var originWriteOnly = map[string]bool{
	"getset": true, "getdel": true, "mset": true, "msetnx": true, "incr": true, "incrby": true,
	"decr": true, "decrby": true, "incrbyfloat": true, "append": true, "setrange": true,
	"rename": true, "renamenx": true, "copy": true, "move": true, "tagset": true,
	"cache.fill": true, "cache.notfound": true,
}

// originCheckWrite refuses originWriteOnly commands on keys whose route
// writes to an origin. ok=false means the error reply was written.
func (c *Client) originCheckWrite(cmd *Command, args [][]byte) bool {
	if !originWriteOnly[cmd.Name] {
		return true
	}
	c.keyIdx = cmd.KeyIndexes(args, c.keyIdx[:0])
	for _, i := range c.keyIdx {
		if rt := c.srv.origins.Match(args[i]); rt != nil && (rt.WriteThrough() || rt.WriteBehind()) {
			c.addError("ERR ORIGIN key '" + trunc(string(args[i]), 128) + "' of route '" + rt.Name +
				"' writes to origin " + rt.Origin.Name + " only through SET and DEL")
			return false
		}
	}
	return true
}
