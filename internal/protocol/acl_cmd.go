package protocol

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachesrv/cachesrv/internal/acl"
)

// ACL LOG: denied commands, keys and authentications, newest first, with
// similar entries within a minute merged (Redis 7.2's fields).

const (
	aclLogMaxLen   = 128
	aclLogGroupMax = 60 * 1000 // ms
)

type aclLogEntry struct {
	count    int64
	reason   acl.Reason
	context  string // "toplevel" or "multi"
	object   string
	username string
	cinfo    string
	id       int64
	created  int64 // unix ms
	updated  int64 // unix ms
}

type aclLog struct {
	mu      sync.Mutex
	entries []*aclLogEntry
	nextID  int64
}

func (l *aclLog) add(e *aclLogEntry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, x := range l.entries {
		if i == 10 {
			break
		}
		d := x.updated - e.updated
		if d < 0 {
			d = -d
		}
		if x.reason == e.reason && x.context == e.context && d <= aclLogGroupMax &&
			x.object == e.object && x.username == e.username {
			x.count++
			x.updated = e.updated
			x.cinfo = e.cinfo
			copy(l.entries[1:i+1], l.entries[:i])
			l.entries[0] = x
			return
		}
	}
	e.id = l.nextID
	l.nextID++
	l.entries = append(l.entries, nil)
	copy(l.entries[1:], l.entries)
	l.entries[0] = e
	if len(l.entries) > aclLogMaxLen {
		l.entries = l.entries[:aclLogMaxLen]
	}
}

// aclDenied records a denial: ACL LOG, counters and the audit log. object
// is the command's full name, the key, or what AUTH was called as; user
// is the (attempted) user name.
func (s *Server) aclDenied(c *Client, reason acl.Reason, object, user string) {
	switch reason {
	case acl.DeniedAuth:
		s.secStats.deniedAuth.Add(1)
	case acl.DeniedCmd:
		s.secStats.deniedCmd.Add(1)
	case acl.DeniedKey:
		s.secStats.deniedKey.Add(1)
	}
	ctx := "toplevel"
	if c.multi || c.inExec {
		ctx = "multi"
	}
	now := time.Now().UnixMilli()
	s.aclLog.add(&aclLogEntry{count: 1, reason: reason, context: ctx, object: object, username: user,
		cinfo: c.infoLine(), created: now, updated: now})
	if s.audit != nil {
		if reason == acl.DeniedAuth {
			s.audit.auth(c, user, false)
		} else {
			s.audit.denied(c, reason.String(), c.cmd, object)
		}
	}
}

// aclAllowed checks u's permissions for cmd before it runs or is queued,
// replying NOPERM and logging when it is denied.
func (s *Server) aclAllowed(c *Client, slot *acl.Slot, u *acl.User, cmd *Command, args [][]byte) bool {
	reason, pos, idx := u.Check(cmd, args, c.aclIdx)
	c.aclIdx = idx
	if reason == acl.OK {
		return true
	}
	prev := c.cmd
	c.cmd = cmd
	if reason == acl.DeniedCmd {
		s.aclDenied(c, reason, cmd.FullName(), slot.Name())
		c.addError("NOPERM User " + slot.Name() + " has no permissions to run the '" + cmd.FullName() + "' command")
	} else {
		s.aclDenied(c, reason, string(args[pos]), slot.Name())
		c.addError("NOPERM No permissions to access a key")
	}
	c.cmd = prev
	s.stats.countCall(cmd.id, c.id, 0, true, true)
	return false
}

// aclAllowedAtExec re-checks a queued command at EXEC time, as Redis does,
// in case the rules changed since it was queued.
func (s *Server) aclAllowedAtExec(c *Client, cmd *Command, args [][]byte) bool {
	slot := c.user.Load()
	u := slot.User()
	if u.Unrestricted() {
		return true
	}
	reason, pos, idx := u.Check(cmd, args, c.aclIdx)
	c.aclIdx = idx
	if reason == acl.OK {
		return true
	}
	why := "no permission to execute the command or subcommand"
	object := cmd.FullName()
	if reason == acl.DeniedKey {
		why = "no permission to touch the specified keys"
		object = string(args[pos])
	}
	prev := c.cmd
	c.cmd = cmd
	s.aclDenied(c, reason, object, slot.Name())
	c.cmd = prev
	c.addError("NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: " + why)
	return false
}

// setUser authenticates c as slot's user.
func (c *Client) setUser(slot *acl.Slot) {
	c.user.Store(slot)
	c.authenticated = true
	c.p.maxBulk = c.srv.maxBulk.Load()
	c.info.Lock()
	c.info.user = slot.Name()
	c.info.Unlock()
}

// authenticate checks a user name (nil: "default") and password and
// switches c to that user. object is the command as the client typed it,
// for ACL LOG.
func (c *Client) authenticate(user, pass, object []byte) bool {
	name := "default"
	if user != nil {
		name = string(user)
	}
	s := c.srv
	slot := s.acl.Credentials(name, pass)
	if slot != nil {
		prev := c.user.Load()
		c.setUser(slot)
		if slot.Deleted() { // ACL DELUSER ran meanwhile
			c.user.Store(prev)
			slot = nil
		}
	}
	if slot == nil {
		s.aclDenied(c, acl.DeniedAuth, string(object), name)
		s.log.Info("authentication failed", "addr", c.addr, "user", name)
		return false
	}
	if s.audit != nil {
		s.audit.auth(c, name, true)
	}
	return true
}

// LoadACLFile replaces the users with those of the ACL file at path and
// closes connections of users that no longer exist (except by, whose
// connection closes after its reply). On error nothing changes.
func (s *Server) LoadACLFile(path string, by *Client) error {
	users, err := s.acl.Table().ReadFile(path)
	if err != nil {
		return err
	}
	s.killUsers(by, s.acl.Replace(users))
	return nil
}

// SaveACLFile writes the users to path in ACL file format, atomically.
func (s *Server) SaveACLFile(path string) error { return s.acl.Save(path) }

func (s *Server) aclFile() string { return s.opts.ACLFile }

// AuthRequired reports whether new connections must authenticate: the
// default user is off or has a password.
func (s *Server) AuthRequired() bool { return !s.acl.DefaultOpen() }

// PasswordUsers reports whether some enabled user has a password.
func (s *Server) PasswordUsers() bool { return s.acl.AnyPassword() }

// killUsers closes the connections authenticated as one of the slots (ACL
// DELUSER, ACL LOAD); the caller's own connection closes after its reply.
func (s *Server) killUsers(by *Client, gone []*acl.Slot) {
	if len(gone) == 0 {
		return
	}
	for _, o := range s.Clients() {
		slot := o.user.Load()
		for _, g := range gone {
			if slot == g {
				o.kill(by)
				break
			}
		}
	}
}

// ACL subcommands.

func cmdACLSetUser(c *Client, args [][]byte) {
	name := string(args[2])
	if acl.HasSpaces(name) {
		c.addError("ERR Usernames can't contain spaces or null characters")
		return
	}
	ops := make([]string, 0, len(args)-3)
	for _, a := range args[3:] {
		ops = append(ops, string(a))
	}
	if op, err := c.srv.acl.SetUser(name, ops); err != nil {
		c.addError("ERR Error in ACL SETUSER modifier '" + trunc(op, 128) + "': " + err.Error())
		return
	}
	c.addOK()
}

func cmdACLDelUser(c *Client, args [][]byte) {
	names := make([]string, 0, len(args)-2)
	for _, a := range args[2:] {
		if string(a) == "default" {
			c.addError("ERR The 'default' user cannot be removed")
			return
		}
		names = append(names, string(a))
	}
	gone := c.srv.acl.Delete(names)
	c.srv.killUsers(c, gone)
	c.addInt(int64(len(gone)))
}

func cmdACLGetUser(c *Client, args [][]byte) {
	slot := c.srv.acl.Get(string(args[2]))
	if slot == nil {
		c.addNull()
		return
	}
	u := slot.User()
	c.addMap(6)
	c.addBulkStr("flags")
	flags := u.Flags()
	c.addSet(len(flags))
	for _, f := range flags {
		c.addBulkStr(f)
	}
	c.addBulkStr("passwords")
	c.addArray(len(u.Passwords()))
	for _, p := range u.Passwords() {
		c.addBulkStr(p)
	}
	c.addBulkStr("commands")
	c.addBulkStr(u.CommandsString())
	c.addBulkStr("keys")
	c.addBulkStr(u.KeysString())
	c.addBulkStr("channels")
	c.addBulkStr(u.ChannelsString())
	c.addBulkStr("selectors")
	c.addArray(0)
}

func cmdACLList(c *Client, args [][]byte) { c.addBulkStrs(c.srv.acl.List()...) }

func cmdACLUsers(c *Client, args [][]byte) { c.addBulkStrs(c.srv.acl.Names()...) }

func cmdACLWhoami(c *Client, args [][]byte) { c.addBulkStr(c.user.Load().Name()) }

func cmdACLCat(c *Client, args [][]byte) {
	tab := c.srv.acl.Table()
	if len(args) == 2 {
		c.addBulkStrs(tab.Categories()...)
		return
	}
	if len(args) > 3 {
		c.addError("ERR wrong number of arguments for 'acl|cat' command")
		return
	}
	names, ok := tab.InCategory(string(args[2]))
	if !ok {
		c.addError("ERR Unknown category '" + trunc(string(args[2]), 128) + "'")
		return
	}
	c.addBulkStrs(names...)
}

func cmdACLGenPass(c *Client, args [][]byte) {
	bits := int64(256)
	if len(args) > 3 {
		c.addError("ERR wrong number of arguments for 'acl|genpass' command")
		return
	}
	if len(args) == 3 {
		n, ok := parseInt(args[2])
		if !ok {
			c.addError(errNotInt)
			return
		}
		bits = n
	}
	if bits <= 0 || bits > 4096 {
		c.addError("ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096")
		return
	}
	chars := (bits + 3) / 4
	buf := make([]byte, (chars+1)/2)
	rand.Read(buf)
	c.addBulkStr(hex.EncodeToString(buf)[:chars])
}

func cmdACLLog(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.addError("ERR wrong number of arguments for 'acl|log' command")
		return
	}
	l := &c.srv.aclLog
	count := int64(10)
	if len(args) == 3 {
		if eq(args[2], "reset") {
			l.mu.Lock()
			l.entries = nil
			l.mu.Unlock()
			c.addOK()
			return
		}
		n, ok := parseInt(args[2])
		if !ok {
			c.addError(errNotInt)
			return
		}
		count = max(n, 0)
	}
	l.mu.Lock()
	n := min(int(count), len(l.entries))
	entries := make([]aclLogEntry, n)
	for i := range entries {
		entries[i] = *l.entries[i]
	}
	l.mu.Unlock()
	now := time.Now().UnixMilli()
	c.addArray(n)
	for _, e := range entries {
		c.addMap(10)
		c.addBulkStr("count")
		c.addInt(e.count)
		c.addBulkStr("reason")
		c.addBulkStr(e.reason.String())
		c.addBulkStr("context")
		c.addBulkStr(e.context)
		c.addBulkStr("object")
		c.addBulkStr(e.object)
		c.addBulkStr("username")
		c.addBulkStr(e.username)
		c.addBulkStr("age-seconds")
		c.addDouble(float64(now-e.updated) / 1000)
		c.addBulkStr("client-info")
		c.addBulkStr(e.cinfo)
		c.addBulkStr("entry-id")
		c.addInt(e.id)
		c.addBulkStr("timestamp-created")
		c.addInt(e.created)
		c.addBulkStr("timestamp-last-updated")
		c.addInt(e.updated)
	}
}

func cmdACLDryRun(c *Client, args [][]byte) {
	slot := c.srv.acl.Get(string(args[2]))
	if slot == nil {
		c.addError("ERR User '" + trunc(string(args[2]), 128) + "' not found")
		return
	}
	sub := args[3:]
	cmd := c.srv.table.lookup(sub[0])
	if cmd != nil && cmd.Subs != nil && len(sub) > 1 {
		if s := lookupSub(cmd, sub[1]); s != nil {
			cmd = s
		}
	}
	if cmd == nil {
		c.addError("ERR Command '" + trunc(string(sub[0]), 128) + "' not found")
		return
	}
	if !arityOK(cmd.Arity, len(sub)) {
		c.addError("ERR wrong number of arguments for '" + cmd.FullName() + "' command")
		return
	}
	reason, pos, _ := slot.User().Check(cmd, sub, nil)
	switch reason {
	case acl.DeniedCmd:
		c.addBulkStr("User " + slot.Name() + " has no permissions to run the '" + cmd.FullName() + "' command")
	case acl.DeniedKey:
		c.addBulkStr("User " + slot.Name() + " has no permissions to access the '" + string(sub[pos]) + "' key")
	default:
		c.addOK()
	}
}

func cmdACLLoad(c *Client, args [][]byte) {
	path := c.srv.aclFile()
	if path == "" {
		c.addError(errNoACLFile)
		return
	}
	if err := c.srv.LoadACLFile(path, c); err != nil {
		c.addError("ERR " + strings.ReplaceAll(err.Error(), "\n", " "))
		return
	}
	c.addOK()
}

func cmdACLSave(c *Client, args [][]byte) {
	path := c.srv.aclFile()
	if path == "" {
		c.addError(errNoACLFile)
		return
	}
	if err := c.srv.SaveACLFile(path); err != nil {
		c.srv.log.Warn("ACL SAVE failed", "path", path, "err", err)
		c.addError("ERR There was an error trying to save the ACLs. Please check the server logs for more information")
		return
	}
	c.addOK()
}

const errNoACLFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration."

func cmdACLHelp(c *Client, args [][]byte) {
	c.addHelp("ACL",
		"CAT [<category>]", "    List all commands that belong to <category>, or all command categories",
		"    when no category is specified.",
		"DELUSER <username> [<username> ...]", "    Delete a list of users.",
		"DRYRUN <username> <command> [<arg> ...]", "    Returns whether the user can execute the given command without executing the command.",
		"GETUSER <username>", "    Get the user's details.",
		"GENPASS [<bits>]", "    Generate a secure 256-bit user password. The optional `bits` argument can",
		"    be used to specify a different size.",
		"LIST", "    Show users details in config file format.",
		"LOAD", "    Reload users from the ACL file.",
		"LOG [<count> | RESET]", "    Show the ACL log entries.",
		"SAVE", "    Save the current config to the ACL file.",
		"SETUSER <username> <attribute> [<attribute> ...]", "    Create or modify a user with the specified attributes.",
		"USERS", "    List all the registered usernames.",
		"WHOAMI", "    Return the current connection username.",
	)
}

// SecurityStats are the access-control and output-limit counters (INFO
// stats and metrics).
type SecurityStats struct {
	DeniedAuth, DeniedCmd, DeniedKey int64 // ACL denials by reason
	OutputLimitDisconnections        int64 // client-output-buffer-limit and client-output-timeout
	ProtectedModeRejections          int64 // non-loopback clients refused in protected mode
	TLSHandshakeFailures             int64
}

// SecurityStats returns a snapshot of the security counters.
func (s *Server) SecurityStats() SecurityStats {
	return SecurityStats{
		DeniedAuth:                s.secStats.deniedAuth.Load(),
		DeniedCmd:                 s.secStats.deniedCmd.Load(),
		DeniedKey:                 s.secStats.deniedKey.Load(),
		OutputLimitDisconnections: s.secStats.outputLimit.Load(),
		ProtectedModeRejections:   s.secStats.protected.Load(),
		TLSHandshakeFailures:      s.secStats.tlsFailed.Load(),
	}
}

// InfoFields returns the counters as INFO stats fields (Redis 7.2 names
// where Redis has them).
func (st SecurityStats) InfoFields() []InfoField {
	f := func(n string, v int64) InfoField { return InfoField{Name: n, Value: strconv.FormatInt(v, 10)} }
	return []InfoField{
		f("acl_access_denied_auth", st.DeniedAuth),
		f("acl_access_denied_cmd", st.DeniedCmd),
		f("acl_access_denied_key", st.DeniedKey),
		f("acl_access_denied_channel", 0),
		f("client_output_buffer_limit_disconnections", st.OutputLimitDisconnections),
		f("protected_mode_denied_connections", st.ProtectedModeRejections),
		f("tls_handshake_failures", st.TLSHandshakeFailures),
	}
}

// Positions that ACL key patterns check besides a command's key positions
// (Command.ACLArgs). Tag names share the key namespace for ACL purposes: a
// user restricted to ~app:* may tag with, invalidate and list only tags
// matching app:*, and a key can only come to carry a tag through a user
// allowed that tag. Dependency keys are keys.

// aclFrom lists every argument from position i on.
func aclFrom(from int) func(args [][]byte, dst []int) []int {
	return func(args [][]byte, dst []int) []int {
		for i := from; i < len(args); i++ {
			dst = append(dst, i)
		}
		return dst
	}
}

// aclCounted lists, from position i on, the items of every "TAGS n ..." and
// "DEPS n ..." group. Any argument spelling TAGS or DEPS opens a group,
// whatever it means to the command's parser, so the list is never shorter
// than what the command will use.
func aclCounted(from int) func(args [][]byte, dst []int) []int {
	return func(args [][]byte, dst []int) []int {
		for i := from; i < len(args); i++ {
			if !eq(args[i], "tags") && !eq(args[i], "deps") || i+1 >= len(args) {
				continue
			}
			n, ok := parseInt(args[i+1])
			if !ok || n < 0 {
				continue
			}
			for j := i + 2; j < len(args) && int64(j-i-2) < n; j++ {
				dst = append(dst, j)
			}
		}
		return dst
	}
}
