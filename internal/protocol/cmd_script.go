package protocol

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/cachesrv/cachesrv/internal/acl"
	"github.com/cachesrv/cachesrv/internal/cmdtab"
	"github.com/cachesrv/cachesrv/internal/script"
)

// Scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (docs/scripting.md).
//
// Atomicity: a script runs like EXEC, with every shard of the store locked
// for its whole run, so no other client sees a half-done script. Its
// commands go through the same command table as the wire, on a pseudo
// client marked inExec (the handlers then take no locks of their own), and
// each is ACL-checked against the calling user. Lock order: shards, then
// the engine's VM lock, then its cache lock.
//
// Other clients reach the dispatcher without locks: once a script has run
// longer than busy-reply-threshold, execute replies -BUSY to every command
// without the allow_busy flag (SCRIPT KILL, SHUTDOWN NOSAVE, ...) before it
// would wait for a shard.

const busyMsg = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."

// initScripting builds the Lua engine; New calls it.
func (s *Server) initScripting() {
	s.scripts = script.New(script.Options{
		Account: s.st.AddMemory,
		Logger:  s.log.With(slog.String("component", "script")),
	})
	s.luaClient = &Client{srv: s, st: s.st, id: s.nextID.Add(1), resp: 2, addr: "lua", created: time.UnixMilli(s.nowMs()),
		authenticated: true, scratch: make([]byte, 0, 64)}
	s.luaClient.user.Store(s.acl.Default())
}

// SetBusyReplyThreshold sets busy-reply-threshold (lua-time-limit).
func (s *Server) SetBusyReplyThreshold(d time.Duration) { s.scripts.SetBusyThreshold(d) }

// ScriptCacheStats returns the number of cached scripts and their bytes.
func (s *Server) ScriptCacheStats() (int, int64) { return s.scripts.CacheStats() }

// busyRefused answers -BUSY while a script is past busy-reply-threshold.
// SHUTDOWN (allowed while busy) stops the script first, as Redis's
// SHUTDOWN NOSAVE does.
func (s *Server) busyRefused(c *Client, cmd *Command) bool {
	if !s.scripts.Busy() {
		return false
	}
	if cmd.Flags&FlagAllowBusy != 0 {
		if cmd.Name == "shutdown" {
			s.scripts.Kill(true)
		}
		return false
	}
	c.addError(busyMsg)
	if c.multi {
		c.multiErr = true
	}
	return true
}

func cmdEval(c *Client, args [][]byte)      { evalGeneric(c, args, false, false) }
func cmdEvalSHA(c *Client, args [][]byte)   { evalGeneric(c, args, true, false) }
func cmdEvalRO(c *Client, args [][]byte)    { evalGeneric(c, args, false, true) }
func cmdEvalSHARO(c *Client, args [][]byte) { evalGeneric(c, args, true, true) }

func evalGeneric(c *Client, args [][]byte, bySHA, readOnly bool) {
	s := c.srv
	numkeys, err := strconv.ParseInt(string(args[2]), 10, 64)
	if err != nil {
		c.addError("ERR value is not an integer or out of range")
		return
	}
	if numkeys < 0 {
		c.addError("ERR Number of keys can't be negative")
		return
	}
	if numkeys > int64(len(args)-3) {
		c.addError("ERR Number of keys can't be greater than number of args")
		return
	}
	var sc *script.Script
	if bySHA {
		sc, err = s.scripts.Lookup(args[1])
	} else {
		sc, err = s.scripts.Load(args[1])
	}
	if err != nil {
		c.addError(err.Error())
		return
	}
	readOnly = readOnly || sc.NoWrites
	if !readOnly && !sc.AllowOOM && !c.inExec && s.st.OverLimit() {
		if _, err := s.st.Evict(int(c.id)); err != nil {
			c.addError(err.Error())
			return
		}
	}
	c.tx.Hold(c.now)
	defer c.tx.Unhold()

	lc := s.luaClient
	lc.tx = c.tx // the script's commands run under the caller's Hold
	defer func() { lc.tx = nil }()
	lc.db = c.db
	lc.user.Store(c.user.Load())
	lc.inExec = true
	lc.noTouch = c.noTouch
	caller := &luaCaller{s: s, c: lc, caller: c, readOnly: readOnly}
	keys := args[3 : 3+numkeys]
	res := s.scripts.Run(sc, script.Request{Keys: keys, Args: args[3+numkeys:], ReadOnly: readOnly, Resp: c.resp, Caller: caller})
	lc.inExec = false
	if cap(lc.out) > 64<<10 {
		lc.out = nil
	}
	if res.Err != "" {
		c.addError(res.Err)
		return
	}
	c.out = append(c.out, res.Reply...)
}

// luaCaller runs a script's redis.call through the command table on the
// script's pseudo client.
type luaCaller struct {
	s        *Server
	c        *Client // the pseudo client
	caller   *Client // the client that sent EVAL (ACL log entries name it)
	readOnly bool
}

func (lc *luaCaller) Call(args [][]byte, resp int) ([]byte, bool) {
	s, c := lc.s, lc.c
	c.out = c.out[:0]
	c.resp = resp
	cmd := s.table.lookup(args[0])
	if cmd == nil {
		return errReply(c, "ERR Unknown Redis command called from script"), false
	}
	if cmd.Subs != nil && (len(args) > 1 || cmd.Handler == nil) {
		if len(args) < 2 {
			return errReply(c, "ERR Wrong number of args calling Redis command from script"), false
		}
		sub := lookupSub(cmd, args[1])
		if sub == nil {
			return errReply(c, "ERR unknown subcommand '"+trunc(string(args[1]), 128)+"'. Try "+upper(cmd.Name)+" HELP."), false
		}
		cmd = sub
	}
	if !arityOK(cmd.Arity, len(args)) {
		return errReply(c, "ERR Wrong number of args calling Redis command from script"), false
	}
	if cmd.Flags&FlagNoScript != 0 {
		return errReply(c, "ERR This Redis command is not allowed from script"), false
	}
	write := cmd.Flags&FlagWrite != 0
	if write && lc.readOnly {
		return errReply(c, "ERR Write commands are not allowed from read-only scripts."), false
	}
	if slot := c.user.Load(); !slot.User().Unrestricted() {
		u := slot.User()
		reason, pos, idx := u.Check(cmd, args, c.aclIdx)
		c.aclIdx = idx
		if reason != acl.OK {
			prev := lc.caller.cmd
			lc.caller.cmd = cmd
			if reason == acl.DeniedKey {
				s.aclDenied(lc.caller, reason, string(args[pos]), slot.Name())
				lc.caller.cmd = prev
				return errReply(c, "ERR The user executing the script can't access at least one of the keys mentioned in the command"), false
			}
			s.aclDenied(lc.caller, reason, cmd.FullName(), slot.Name())
			lc.caller.cmd = prev
			return errReply(c, "ERR The user executing the script can't run this command or subcommand"), false
		}
	}
	if cmd.Flags&FlagDenyOOM != 0 && s.st.OverLimit() {
		return errReply(c, "OOM command not allowed when used memory > 'maxmemory'."), false
	}
	if s.cluster != nil {
		if msg := s.clusterScriptCheck(lc.caller, cmd, args); msg != "" { // cmd_cluster.go
			return errReply(c, msg), false
		}
	}
	s.call(c, cmd, args)
	return c.out, write
}

func errReply(c *Client, msg string) []byte {
	c.addError(msg)
	return c.out
}

// SCRIPT subcommands.

func cmdScriptLoad(c *Client, args [][]byte) {
	sc, err := c.srv.scripts.Load(args[2])
	if err != nil {
		c.addError(err.Error())
		return
	}
	c.addBulkStr(sc.SHA)
}

func cmdScriptExists(c *Client, args [][]byte) {
	found := c.srv.scripts.Exists(args[2:])
	c.addArray(len(found))
	for _, ok := range found {
		if ok {
			c.addInt(1)
		} else {
			c.addInt(0)
		}
	}
}

func cmdScriptFlush(c *Client, args [][]byte) {
	if len(args) > 3 || len(args) == 3 && !eq(args[2], "sync") && !eq(args[2], "async") {
		c.addError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
		return
	}
	c.srv.scripts.Flush()
	c.addOK()
}

func cmdScriptKill(c *Client, args [][]byte) {
	if err := c.srv.scripts.Kill(false); err != nil {
		c.addError(err.Error())
		return
	}
	c.addOK()
}

func cmdScriptHelp(c *Client, args [][]byte) {
	c.addBulkStrs(
		"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"EXISTS <sha1> [<sha1> ...]",
		"    Return information about the existence of the scripts in the script cache.",
		"FLUSH [ASYNC|SYNC]",
		"    Flush the Lua scripts cache. Very dangerous on replicas.",
		"    When called without the optional mode argument, the behavior is determined by the",
		"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
		"    * ASYNC: Asynchronously flush the scripts cache.",
		"    * SYNC: Synchronously flush the scripts cache.",
		"KILL",
		"    Kill the currently executing Lua script.",
		"LOAD <script>",
		"    Load a script into the scripts cache without executing it.",
		"HELP",
		"    Prints this help.",
	)
}

// addScriptingCommands registers the scripting commands in the table.
func addScriptingCommands(t *Table) {
	ev := func(name string, flags Flag, summary string, h Handler) {
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: -3, Flags: flags | FlagNoScript | FlagStale | FlagSkipMonitor, Category: "scripting", Group: "scripting", Since: "2.6.0", Summary: summary}, Handler: h})
	}
	ev("eval", 0, "Executes a server-side Lua script.", cmdEval)
	ev("evalsha", 0, "Executes a server-side Lua script by SHA1 digest.", cmdEvalSHA)
	ev("eval_ro", FlagReadonly, "Executes a read-only server-side Lua script.", cmdEvalRO)
	ev("evalsha_ro", FlagReadonly, "Executes a read-only server-side Lua script by SHA1 digest.", cmdEvalSHARO)
	t.Lookup("eval_ro").Since, t.Lookup("evalsha_ro").Since = "7.0.0", "7.0.0"
	sc := t.add(&Command{Spec: cmdtab.Spec{Name: "script", Arity: -2, Category: "scripting", Group: "scripting", Since: "2.6.0", Summary: "A container for Lua scripts management commands."}, Subs: map[string]*Command{}})
	sub := func(name string, arity int, flags Flag, summary string, h Handler) {
		t.addSub(sc, &Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, Category: "scripting", Group: "scripting", Since: "2.6.0", Summary: summary}, Handler: h})
	}
	sub("load", 3, FlagNoScript|FlagStale, "Loads a server-side Lua script to the script cache.", cmdScriptLoad)
	sub("exists", -3, FlagNoScript, "Determines whether server-side Lua scripts exist in the script cache.", cmdScriptExists)
	sub("flush", -2, FlagNoScript, "Removes all server-side Lua scripts from the script cache.", cmdScriptFlush)
	sub("kill", 2, FlagNoScript|FlagAllowBusy, "Terminates a server-side Lua script during execution.", cmdScriptKill)
	sub("help", 2, FlagLoading|FlagStale, "Returns helpful text about the different subcommands.", cmdScriptHelp)
}
