package acl

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/splitargs"
)

// Users follow Redis 7's model: a user has flags (on/off, nopass),
// SHA-256 password hashes, key patterns, channel patterns (checked by the
// pub/sub commands) and a bitmap of allowed commands indexed by command id.
// Selectors ("(...)"), %R~/%W~ key permissions and first-argument rules
// ("+select|0") are not supported.

// stdCategories are Redis 7's ACL categories in ACL CAT order.
var stdCategories = []string{
	"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
	"bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
	"blocking", "dangerous", "connection", "transaction", "scripting",
}

// Reason is the outcome of a check: OK or why it was denied.
type Reason int

// Denial reasons (ACL LOG "reason").
const (
	OK Reason = iota
	DeniedCmd
	DeniedKey
	DeniedAuth
)

var reasonNames = [...]string{OK: "", DeniedCmd: "command", DeniedKey: "key", DeniedAuth: "auth"}

// String is the reason as ACL LOG names it ("command", "key", "auth").
func (r Reason) String() string { return reasonNames[r] }

// ruleError is why one ACL SETUSER rule failed; the texts are Redis's.
// The registry returns it as the error of SetUser.
type ruleError int

const (
	errUnknown      ruleError = iota + 1 // ENOENT
	errSyntax                            // EINVAL
	errKeyAfterAll                       // EEXIST
	errChanAfterAll                      // EISDIR
	errNoSuchPass                        // ENODEV
	errBadHash                           // EBADMSG
	errDuplicate                         // EALREADY
	errFirstArgSub                       // ECHILD
)

func (e ruleError) Error() string {
	switch e {
	case errUnknown:
		return "Unknown command or category name in ACL"
	case errSyntax:
		return "Syntax error"
	case errKeyAfterAll:
		return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
	case errChanAfterAll:
		return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
	case errNoSuchPass:
		return "The password you are trying to remove from the user does not exist"
	case errBadHash:
		return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
	case errDuplicate:
		return "Duplicate user found. A user can only be defined once in config files"
	case errFirstArgSub:
		return "Allowing first-arg of a subcommand is not supported"
	}
	return "Wrong format"
}

// User is one immutable version of a user's rules.
type User struct {
	name         string
	enabled      bool
	nopass       bool
	skipSanitize bool
	passwords    []string   // lower-case hex SHA-256, in the order added
	digests      [][32]byte // the same, decoded
	allKeys      bool
	patterns     [][]byte
	allChannels  bool
	channels     []string
	allFuture    bool     // the rules start with +@all (vs -@all)
	rules        []string // command rules after that, e.g. "+get", "-@admin"
	allowed      []uint64 // bitmap over command ids
	// unrestricted: every command and every key; dispatch skips the checks.
	unrestricted bool
}

func (u *User) clone() *User {
	d := *u
	d.passwords = slices.Clone(u.passwords)
	d.digests = slices.Clone(u.digests)
	d.patterns = slices.Clone(u.patterns)
	d.channels = slices.Clone(u.channels)
	d.rules = slices.Clone(u.rules)
	d.allowed = slices.Clone(u.allowed)
	return &d
}

func (u *User) can(id int) bool { return u.allowed[id>>6]&(1<<(uint(id)&63)) != 0 }

func (u *User) setBit(id int, on bool) {
	if on {
		u.allowed[id>>6] |= 1 << (uint(id) & 63)
	} else {
		u.allowed[id>>6] &^= 1 << (uint(id) & 63)
	}
}

// keyOK reports whether key matches one of the user's key patterns.
func (u *User) keyOK(key []byte) bool {
	if u.allKeys {
		return true
	}
	for _, p := range u.patterns {
		if glob.MatchBytes(p, key, false) {
			return true
		}
	}
	return false
}

// Command is what Check needs to know about the command being run.
type Command interface {
	// ACLID is the command's index in the table given to NewTable.
	ACLID() int
	// ACLNoAuth reports whether the command runs without permission
	// (AUTH, HELLO, QUIT...).
	ACLNoAuth() bool
	// ACLKeys appends the positions of args that key patterns must allow:
	// the keys, then other arguments sharing the key namespace (tag names,
	// dependency keys).
	ACLKeys(args [][]byte, dst []int) []int
}

// Check decides whether u may run cmd with args. It returns OK, or the
// reason and the position of the offending argument (for keys). scratch is
// reusable space for key positions, returned for the next call; Check does
// not allocate once it is large enough.
func (u *User) Check(cmd Command, args [][]byte, scratch []int) (reason Reason, pos int, _ []int) {
	if !cmd.ACLNoAuth() && !u.can(cmd.ACLID()) {
		return DeniedCmd, 0, scratch
	}
	if !u.allKeys {
		scratch = cmd.ACLKeys(args, scratch[:0])
		for _, i := range scratch {
			if !u.keyOK(args[i]) {
				return DeniedKey, i, scratch
			}
		}
	}
	return OK, 0, scratch
}

// Name is the user's name.
func (u *User) Name() string { return u.name }

// Unrestricted reports whether u may run every command on every key; the
// dispatcher then skips Check.
func (u *User) Unrestricted() bool { return u.unrestricted }

// KeyOK reports whether key matches one of the user's key patterns.
func (u *User) KeyOK(key []byte) bool { return u.keyOK(key) }

// Passwords lists the user's password hashes (lower-case hex SHA-256) in
// the order they were added.
func (u *User) Passwords() []string { return u.passwords }

// ChannelOK reports whether u may use the channel, or with pattern the
// PSUBSCRIBE pattern, name (Redis's ACLCheckChannelAgainstList: a channel
// must match one of the user's patterns; a pattern must equal one).
func (u *User) ChannelOK(name []byte, pattern bool) bool {
	if u.allChannels {
		return true
	}
	for _, p := range u.channels {
		if pattern {
			if p == string(name) {
				return true
			}
		} else if glob.MatchBytes([]byte(p), name, false) {
			return true
		}
	}
	return false
}

// Slot is a user's identity: connections point to it, ACL SETUSER
// replaces what it holds.
type Slot struct {
	name    string
	cur     atomic.Pointer[User]
	deleted atomic.Bool
}

// Name is the user's name.
func (s *Slot) Name() string { return s.name }

// User is the user's current rules.
func (s *Slot) User() *User { return s.cur.Load() }

// Deleted reports whether the user was deleted (ACL DELUSER, ACL LOAD).
func (s *Slot) Deleted() bool { return s.deleted.Load() }

// Table is what the ACL rules need to know about the command table. It
// is built from the original command names: ACL rules name commands as
// they were before rename-command, as in Redis.
type Table struct {
	n        int               // command ids
	byName   map[string]*entry // top-level commands by original name
	inCat    map[string][]*entry
	catNames []string // ACL CAT order: Redis's categories, then ours
}

// CommandInfo describes one entry of the command table to the rules.
type CommandInfo struct {
	Name       string   // lower case; "parent|sub" for a subcommand
	Categories []string // ACL categories
	Container  bool     // the command has subcommands (CONFIG, CLIENT...)
}

// entry is a command as the rules see it; id is its index in the table.
type entry struct {
	id     int
	name   string // full name
	parent *entry
	subs   map[string]*entry // non-nil for a container
}

// NewTable describes the command table to the rules: cmds[i] is the command
// with id i (Command.ACLID). A subcommand names its parent, which must be
// in cmds.
func NewTable(cmds []CommandInfo) *Table {
	at := &Table{n: len(cmds), byName: make(map[string]*entry), inCat: make(map[string][]*entry)}
	known := map[string]bool{}
	for _, c := range stdCategories {
		known[c] = true
		at.catNames = append(at.catNames, c)
	}
	all := make([]*entry, len(cmds))
	for id, info := range cmds {
		e := &entry{id: id, name: info.Name}
		if info.Container {
			e.subs = make(map[string]*entry)
		}
		all[id] = e
		if !strings.Contains(info.Name, "|") {
			at.byName[info.Name] = e
		}
	}
	var extra []string
	for id, info := range cmds {
		e := all[id]
		if i := strings.IndexByte(info.Name, '|'); i >= 0 {
			p := at.byName[info.Name[:i]]
			if p == nil || p.subs == nil {
				panic("BUG: acl: subcommand " + info.Name + " without its container")
			}
			e.parent = p
			p.subs[info.Name[i+1:]] = e
		}
		for _, cat := range info.Categories {
			at.inCat[cat] = append(at.inCat[cat], e)
			if !known[cat] {
				known[cat] = true
				extra = append(extra, cat)
			}
		}
	}
	sort.Strings(extra)
	at.catNames = append(at.catNames, extra...)
	return at
}

func (at *Table) knownCategory(cat string) bool { return slices.Contains(at.catNames, cat) }

// Categories lists the ACL categories in ACL CAT order: Redis's, then ours.
func (at *Table) Categories() []string { return at.catNames }

// InCategory lists the full names of the commands in the category, in id
// order; ok is false for an unknown category (matched case-insensitively).
func (at *Table) InCategory(cat string) (names []string, ok bool) {
	cat = strings.ToLower(cat)
	if !at.knownCategory(cat) {
		return nil, false
	}
	for _, e := range at.inCat[cat] {
		names = append(names, e.name)
	}
	return names, true
}

// lookup finds "cmd" or "cmd|sub" by original name.
func (at *Table) lookup(name string) *entry {
	name = strings.ToLower(name)
	if i := strings.IndexByte(name, '|'); i >= 0 {
		p := at.byName[name[:i]]
		if p == nil || p.subs == nil {
			return nil
		}
		return p.subs[name[i+1:]]
	}
	return at.byName[name]
}

// newUser is a user as ACL SETUSER creates it: off, no passwords, no keys,
// no channels, no commands.
func (at *Table) newUser(name string) *User {
	u := &User{name: name, allowed: make([]uint64, (at.n+63)/64)}
	at.finish(u)
	return u
}

// DefaultUser is the default user for requirepass (nopass when empty).
func (at *Table) DefaultUser(requirepass string) *User {
	u := at.newUser("default")
	for _, op := range []string{"+@all", "~*", "&*", "on"} {
		if err := at.apply(u, op); err != nil {
			panic("BUG: default user: " + err.Error())
		}
	}
	setDefaultPassword(u, requirepass)
	at.finish(u)
	return u
}

// setDefaultPassword does what requirepass does to the default user:
// resetpass, then >password or nopass.
func setDefaultPassword(u *User, pass string) {
	u.passwords, u.digests, u.nopass = nil, nil, false
	if pass == "" {
		u.nopass = true
		return
	}
	u.addDigest(sha256.Sum256([]byte(pass)))
}

func (u *User) addDigest(d [32]byte) {
	for _, x := range u.digests {
		if x == d {
			return
		}
	}
	u.digests = append(u.digests, d)
	u.passwords = append(u.passwords, hex.EncodeToString(d[:]))
}

func (u *User) removeDigest(d [32]byte) bool {
	for i, x := range u.digests {
		if x == d {
			u.digests = slices.Delete(u.digests, i, i+1)
			u.passwords = slices.Delete(u.passwords, i, i+1)
			return true
		}
	}
	return false
}

// finish recomputes the derived fields after rules changed.
func (at *Table) finish(u *User) {
	all := u.allKeys
	for id := 0; all && id < at.n; id++ {
		all = u.can(id)
	}
	u.unrestricted = all
}

// applyAll applies rules in order to a copy of u (a new user when u is
// nil) and returns the copy, or the first failing rule and its error.
func (at *Table) applyAll(u *User, name string, ops []string) (*User, string, error) {
	if u == nil {
		u = at.newUser(name)
	} else {
		u = u.clone()
	}
	for _, op := range ops {
		if err := at.apply(u, op); err != nil {
			return nil, op, err
		}
	}
	at.finish(u)
	return u, "", nil
}

// apply applies one ACL SETUSER rule to u in place (Redis's ACLSetUser).
func (at *Table) apply(u *User, op string) error {
	if op == "" {
		return nil
	}
	lop := strings.ToLower(op)
	switch lop {
	case "on":
		u.enabled = true
	case "off":
		u.enabled = false
	case "skip-sanitize-payload":
		u.skipSanitize = true
	case "sanitize-payload":
		u.skipSanitize = false
	case "nopass":
		u.nopass = true
		u.passwords, u.digests = nil, nil
	case "resetpass":
		u.nopass = false
		u.passwords, u.digests = nil, nil
	case "reset":
		for _, o := range []string{"resetpass", "resetkeys", "resetchannels", "off", "sanitize-payload", "-@all"} {
			at.apply(u, o)
		}
	case "allkeys", "~*":
		u.allKeys, u.patterns = true, nil
	case "resetkeys":
		u.allKeys, u.patterns = false, nil
	case "allchannels", "&*":
		u.allChannels, u.channels = true, nil
	case "resetchannels":
		u.allChannels, u.channels = false, nil
	case "allcommands", "+@all":
		for i := range u.allowed {
			u.allowed[i] = ^uint64(0)
		}
		u.allFuture, u.rules = true, nil
	case "nocommands", "-@all":
		clear(u.allowed)
		u.allFuture, u.rules = false, nil
	case "clearselectors":
	default:
		return at.applyValued(u, op)
	}
	return nil
}

func (at *Table) applyValued(u *User, op string) error {
	switch op[0] {
	case '>', '<', '#', '!':
		// '>' and '<' take a password, '#' and '!' its SHA-256 in hex;
		// '>' and '#' add it, '<' and '!' remove it.
		var d [32]byte
		if op[0] == '>' || op[0] == '<' {
			d = sha256.Sum256([]byte(op[1:]))
		} else {
			var ok bool
			if d, ok = parseHash(op[1:]); !ok {
				return errBadHash
			}
		}
		if op[0] == '>' || op[0] == '#' {
			u.addDigest(d)
			u.nopass = false
			return nil
		}
		if !u.removeDigest(d) {
			return errNoSuchPass
		}
		return nil
	case '~':
		if u.allKeys {
			return errKeyAfterAll
		}
		pat := op[1:]
		if HasSpaces(pat) {
			return errSyntax
		}
		for _, p := range u.patterns {
			if string(p) == pat {
				return nil
			}
		}
		u.patterns = append(u.patterns, []byte(pat))
		return nil
	case '&':
		if u.allChannels {
			return errChanAfterAll
		}
		pat := op[1:]
		if HasSpaces(pat) {
			return errSyntax
		}
		if !slices.Contains(u.channels, pat) {
			u.channels = append(u.channels, pat)
		}
		return nil
	case '+', '-':
		allow := op[0] == '+'
		if len(op) > 1 && op[1] == '@' {
			cat := strings.ToLower(op[2:])
			if !at.knownCategory(cat) {
				return errUnknown
			}
			for _, cmd := range at.inCat[cat] {
				at.changePerm(u, cmd, allow)
			}
			u.updateRules(op[1:], allow)
			return nil
		}
		name := strings.ToLower(op[1:])
		if i := strings.LastIndexByte(name, '|'); i >= 0 {
			parent := at.lookup(name[:i])
			switch {
			case parent == nil:
				return errUnknown
			case parent.parent != nil:
				return errFirstArgSub
			case i == len(name)-1:
				return errSyntax
			case parent.subs == nil:
				// First-argument rules ("+select|0") are not supported.
				return errSyntax
			}
		}
		cmd := at.lookup(name)
		if cmd == nil {
			return errUnknown
		}
		at.changePerm(u, cmd, allow)
		u.updateRules(cmd.name, allow)
		return nil
	case '%':
		// %R~ / %W~ key permissions are not supported.
		return errSyntax
	}
	return errSyntax
}

// changePerm allows or denies cmd and, for a container, its subcommands.
func (at *Table) changePerm(u *User, cmd *entry, allow bool) {
	u.setBit(cmd.id, allow)
	for _, s := range cmd.subs {
		u.setBit(s.id, allow)
	}
}

// updateRules keeps the ordered command rules Redis shows: the rule
// replaces earlier ones for the same name (and, for a whole command, its
// subcommands).
func (u *User) updateRules(rule string, allow bool) {
	rule = strings.ToLower(rule)
	u.rules = slices.DeleteFunc(u.rules, func(r string) bool {
		name := r[1:]
		return name == rule || strings.HasPrefix(name, rule+"|")
	})
	sign := "-"
	if allow {
		sign = "+"
	}
	u.rules = append(u.rules, sign+rule)
}

func parseHash(s string) ([32]byte, bool) {
	var d [32]byte
	if len(s) != 64 {
		return d, false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return d, false
		}
	}
	hex.Decode(d[:], []byte(s))
	return d, true
}

// HasSpaces reports whether s holds white space or NUL bytes, which user
// names and patterns may not.
func HasSpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		if splitargs.IsSpace(s[i]) || s[i] == 0 {
			return true
		}
	}
	return false
}

// Flags lists the user's flags as ACL GETUSER and ACL LIST show them.
func (u *User) Flags() []string {
	f := []string{"off"}
	if u.enabled {
		f[0] = "on"
	}
	if u.nopass {
		f = append(f, "nopass")
	}
	if u.skipSanitize {
		f = append(f, "skip-sanitize-payload")
	} else {
		f = append(f, "sanitize-payload")
	}
	return f
}

func (u *User) KeysString() string {
	if u.allKeys {
		return "~*"
	}
	parts := make([]string, len(u.patterns))
	for i, p := range u.patterns {
		parts[i] = "~" + string(p)
	}
	return strings.Join(parts, " ")
}

func (u *User) ChannelsString() string {
	if u.allChannels {
		return "&*"
	}
	parts := make([]string, len(u.channels))
	for i, p := range u.channels {
		parts[i] = "&" + p
	}
	return strings.Join(parts, " ")
}

func (u *User) CommandsString() string {
	s := "-@all"
	if u.allFuture {
		s = "+@all"
	}
	if len(u.rules) > 0 {
		s += " " + strings.Join(u.rules, " ")
	}
	return s
}

// Describe is the user's rules in ACL LIST / ACL file form (without the
// "user <name>" prefix).
func (u *User) Describe() string {
	var b strings.Builder
	for _, f := range u.Flags() {
		b.WriteString(f + " ")
	}
	for _, p := range u.passwords {
		b.WriteString("#" + p + " ")
	}
	if k := u.KeysString(); k != "" {
		b.WriteString(k + " ")
	}
	if u.allChannels {
		b.WriteString("&* ")
	} else {
		b.WriteString("resetchannels ")
		for _, c := range u.channels {
			b.WriteString("&" + c + " ")
		}
	}
	b.WriteString(u.CommandsString())
	return b.String()
}

// Users is the server's user registry.
type Users struct {
	tab *Table
	def *Slot // never deleted

	mu    sync.Mutex // serialises changes; users is copy-on-write
	users atomic.Pointer[map[string]*Slot]
}

func NewUsers(tab *Table, requirepass string) *Users {
	a := &Users{tab: tab, def: &Slot{name: "default"}}
	a.def.cur.Store(tab.DefaultUser(requirepass))
	m := map[string]*Slot{"default": a.def}
	a.users.Store(&m)
	return a
}

// Table is the command table the rules were built for.
func (a *Users) Table() *Table { return a.tab }

// Default is the default user's slot; it is never deleted.
func (a *Users) Default() *Slot { return a.def }

// Get returns the named user's slot, or nil.
func (a *Users) Get(name string) *Slot { return (*a.users.Load())[name] }

// DefaultOpen reports whether connections need no AUTH: the default user
// is on and nopass (Redis's authRequired() is the negation).
func (a *Users) DefaultOpen() bool {
	u := a.def.cur.Load()
	return u.enabled && u.nopass
}

// DefaultNopass reports whether the default user needs no password
// (protected mode refuses non-loopback clients then).
func (a *Users) DefaultNopass() bool { return a.def.cur.Load().nopass }

// Credentials returns the user's slot when name/pass authenticate, in
// constant time with respect to the password.
func (a *Users) Credentials(name string, pass []byte) *Slot {
	d := sha256.Sum256(pass)
	slot := a.Get(name)
	if slot == nil {
		return nil
	}
	u := slot.cur.Load()
	if !u.enabled {
		return nil
	}
	if u.nopass {
		return slot
	}
	ok := 0
	for i := range u.digests {
		ok |= subtle.ConstantTimeCompare(d[:], u.digests[i][:])
	}
	if ok == 1 {
		return slot
	}
	return nil
}

// Names returns the user names, sorted.
func (a *Users) Names() []string {
	m := *a.users.Load()
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// List returns the users in ACL file form, sorted by name.
func (a *Users) List() []string {
	m := *a.users.Load()
	out := make([]string, 0, len(m))
	for _, n := range a.Names() {
		if slot := m[n]; slot != nil {
			out = append(out, "user "+n+" "+slot.cur.Load().Describe())
		}
	}
	return out
}

// SetUser applies ops to the named user (creating it) atomically: on error
// nothing changes.
func (a *Users) SetUser(name string, ops []string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	slot := a.Get(name)
	var cur *User
	if slot != nil {
		cur = slot.cur.Load()
	}
	u, op, err := a.tab.applyAll(cur, name, ops)
	if err != nil {
		return op, err
	}
	if slot != nil {
		slot.cur.Store(u)
		return "", nil
	}
	slot = &Slot{name: name}
	slot.cur.Store(u)
	m := maps2(*a.users.Load())
	m[name] = slot
	a.users.Store(&m)
	return "", nil
}

// SetDefaultPassword applies requirepass to the default user.
func (a *Users) SetDefaultPassword(pass string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.def.cur.Load().clone()
	setDefaultPassword(u, pass)
	a.tab.finish(u)
	a.def.cur.Store(u)
}

// Delete removes users and returns the removed slots.
func (a *Users) Delete(names []string) []*Slot {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := maps2(*a.users.Load())
	var gone []*Slot
	for _, n := range names {
		if s, ok := m[n]; ok && s != a.def {
			s.deleted.Store(true)
			delete(m, n)
			gone = append(gone, s)
		}
	}
	a.users.Store(&m)
	return gone
}

// Replace installs a complete set of users (ACL LOAD, aclfile at start).
// When defs lacks "default", the default user keeps its current rules.
// It returns the slots of users that no longer exist.
func (a *Users) Replace(defs map[string]*User) []*Slot {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.users.Load()
	m := make(map[string]*Slot, len(defs)+1)
	for name, u := range defs {
		slot := old[name]
		if slot == nil {
			slot = &Slot{name: name}
		}
		slot.cur.Store(u)
		m[name] = slot
	}
	m["default"] = a.def
	var gone []*Slot
	for name, s := range old {
		if _, ok := m[name]; !ok {
			s.deleted.Store(true)
			gone = append(gone, s)
		}
	}
	a.users.Store(&m)
	return gone
}

// AnyPassword reports whether some enabled user can only be reached with a
// password.
func (a *Users) AnyPassword() bool {
	for _, s := range *a.users.Load() {
		if u := s.cur.Load(); u.enabled && !u.nopass && len(u.digests) > 0 {
			return true
		}
	}
	return false
}

func maps2(m map[string]*Slot) map[string]*Slot {
	out := make(map[string]*Slot, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
