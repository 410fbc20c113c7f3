package protocol

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
)

// ACL users, following Redis 7's model: a user has flags (on/off, nopass),
// SHA-256 password hashes, key patterns, channel patterns (checked by the
// pub/sub commands, pubsub.go) and a bitmap of allowed
// commands indexed by command id. Selectors ("(...)"), %R~/%W~ key
// permissions and first-argument rules ("+select|0") are not supported.
//
// Concurrency: an *aclUser is immutable once published. ACL SETUSER builds
// a modified copy and publishes it in the user's aclSlot, which connections
// authenticated as that user point to, so changes apply to them at once (as
// in Redis). The registry's mutex serialises changes; readers only load
// atomics.

// aclStdCategories are Redis 7's ACL categories in ACL CAT order.
var aclStdCategories = []string{
	"keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
	"bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
	"blocking", "dangerous", "connection", "transaction", "scripting",
}

// Denial reasons (ACL LOG "reason").
const (
	aclOK = iota
	aclDeniedCmd
	aclDeniedKey
	aclDeniedAuth
)

var aclReasonNames = [...]string{aclOK: "", aclDeniedCmd: "command", aclDeniedKey: "key", aclDeniedAuth: "auth"}

// aclOpError is why one ACL SETUSER rule failed; the texts are Redis's.
type aclOpError int

const (
	aclErrUnknown      aclOpError = iota + 1 // ENOENT
	aclErrSyntax                             // EINVAL
	aclErrKeyAfterAll                        // EEXIST
	aclErrChanAfterAll                       // EISDIR
	aclErrNoSuchPass                         // ENODEV
	aclErrBadHash                            // EBADMSG
	aclErrDuplicate                          // EALREADY
	aclErrFirstArgSub                        // ECHILD
)

func (e aclOpError) Error() string {
	switch e {
	case aclErrUnknown:
		return "Unknown command or category name in ACL"
	case aclErrSyntax:
		return "Syntax error"
	case aclErrKeyAfterAll:
		return "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns"
	case aclErrChanAfterAll:
		return "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels"
	case aclErrNoSuchPass:
		return "The password you are trying to remove from the user does not exist"
	case aclErrBadHash:
		return "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"
	case aclErrDuplicate:
		return "Duplicate user found. A user can only be defined once in config files"
	case aclErrFirstArgSub:
		return "Allowing first-arg of a subcommand is not supported"
	}
	return "Wrong format"
}

// aclUser is one immutable version of a user's rules.
type aclUser struct {
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

func (u *aclUser) clone() *aclUser {
	d := *u
	d.passwords = slices.Clone(u.passwords)
	d.digests = slices.Clone(u.digests)
	d.patterns = slices.Clone(u.patterns)
	d.channels = slices.Clone(u.channels)
	d.rules = slices.Clone(u.rules)
	d.allowed = slices.Clone(u.allowed)
	return &d
}

func (u *aclUser) can(id int) bool { return u.allowed[id>>6]&(1<<(uint(id)&63)) != 0 }

func (u *aclUser) setBit(id int, on bool) {
	if on {
		u.allowed[id>>6] |= 1 << (uint(id) & 63)
	} else {
		u.allowed[id>>6] &^= 1 << (uint(id) & 63)
	}
}

// keyOK reports whether key matches one of the user's key patterns.
func (u *aclUser) keyOK(key []byte) bool {
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

// check decides whether u may run cmd with args. It returns aclOK, or the
// reason and the position of the offending argument (for keys). idx is
// scratch space for key positions.
func (u *aclUser) check(cmd *Command, args [][]byte, idx []int) (reason, pos int, scratch []int) {
	if cmd.Flags&FlagNoAuth == 0 && !u.can(cmd.id) {
		return aclDeniedCmd, 0, idx
	}
	if !u.allKeys && cmd.FirstKey > 0 {
		idx = cmd.keyIndexes(args, idx[:0])
		for _, i := range idx {
			if !u.keyOK(args[i]) {
				return aclDeniedKey, i, idx
			}
		}
	}
	if !u.allKeys && cmd.ACLArgs != nil {
		idx = cmd.ACLArgs(args, idx[:0])
		for _, i := range idx {
			if !u.keyOK(args[i]) {
				return aclDeniedKey, i, idx
			}
		}
	}
	return aclOK, 0, idx
}

// aclSlot is a user's identity: connections point to it, ACL SETUSER
// replaces what it holds.
type aclSlot struct {
	name    string
	cur     atomic.Pointer[aclUser]
	deleted atomic.Bool
}

// aclTable is what the ACL rules need to know about the command table. It
// is built from the original command names: ACL rules name commands as
// they were before rename-command, as in Redis.
type aclTable struct {
	n        int                 // command ids
	byName   map[string]*Command // top-level commands by original name
	inCat    map[string][]*Command
	catNames []string // ACL CAT order: Redis's categories, then ours
}

func newACLTable(t *Table) *aclTable {
	at := &aclTable{n: len(t.all), byName: make(map[string]*Command), inCat: make(map[string][]*Command)}
	known := map[string]bool{}
	for _, c := range aclStdCategories {
		known[c] = true
		at.catNames = append(at.catNames, c)
	}
	var extra []string
	for _, cmd := range t.all {
		if cmd.parent == nil {
			at.byName[cmd.Name] = cmd
		}
		for _, cat := range cmd.Categories() {
			at.inCat[cat] = append(at.inCat[cat], cmd)
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

func (at *aclTable) knownCategory(cat string) bool { return slices.Contains(at.catNames, cat) }

// lookup finds "cmd" or "cmd|sub" by original name.
func (at *aclTable) lookup(name string) *Command {
	name = strings.ToLower(name)
	if i := strings.IndexByte(name, '|'); i >= 0 {
		p := at.byName[name[:i]]
		if p == nil || p.Subs == nil {
			return nil
		}
		return p.Subs[name[i+1:]]
	}
	return at.byName[name]
}

// newUser is a user as ACL SETUSER creates it: off, no passwords, no keys,
// no channels, no commands.
func (at *aclTable) newUser(name string) *aclUser {
	u := &aclUser{name: name, allowed: make([]uint64, (at.n+63)/64)}
	at.finish(u)
	return u
}

// defaultUser is the default user for requirepass (nopass when empty).
func (at *aclTable) defaultUser(requirepass string) *aclUser {
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
func setDefaultPassword(u *aclUser, pass string) {
	u.passwords, u.digests, u.nopass = nil, nil, false
	if pass == "" {
		u.nopass = true
		return
	}
	u.addDigest(sha256.Sum256([]byte(pass)))
}

func (u *aclUser) addDigest(d [32]byte) {
	for _, x := range u.digests {
		if x == d {
			return
		}
	}
	u.digests = append(u.digests, d)
	u.passwords = append(u.passwords, hex.EncodeToString(d[:]))
}

func (u *aclUser) removeDigest(d [32]byte) bool {
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
func (at *aclTable) finish(u *aclUser) {
	all := u.allKeys
	for id := 0; all && id < at.n; id++ {
		all = u.can(id)
	}
	u.unrestricted = all
}

// applyAll applies rules in order to a copy of u (a new user when u is
// nil) and returns the copy, or the first failing rule and its error.
func (at *aclTable) applyAll(u *aclUser, name string, ops []string) (*aclUser, string, error) {
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
func (at *aclTable) apply(u *aclUser, op string) error {
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

func (at *aclTable) applyValued(u *aclUser, op string) error {
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
				return aclErrBadHash
			}
		}
		if op[0] == '>' || op[0] == '#' {
			u.addDigest(d)
			u.nopass = false
			return nil
		}
		if !u.removeDigest(d) {
			return aclErrNoSuchPass
		}
		return nil
	case '~':
		if u.allKeys {
			return aclErrKeyAfterAll
		}
		pat := op[1:]
		if hasSpaces(pat) {
			return aclErrSyntax
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
			return aclErrChanAfterAll
		}
		pat := op[1:]
		if hasSpaces(pat) {
			return aclErrSyntax
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
				return aclErrUnknown
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
				return aclErrUnknown
			case parent.parent != nil:
				return aclErrFirstArgSub
			case i == len(name)-1:
				return aclErrSyntax
			case parent.Subs == nil:
				// First-argument rules ("+select|0") are not supported.
				return aclErrSyntax
			}
		}
		cmd := at.lookup(name)
		if cmd == nil {
			return aclErrUnknown
		}
		at.changePerm(u, cmd, allow)
		u.updateRules(cmd.FullName(), allow)
		return nil
	case '%':
		// %R~ / %W~ key permissions are not supported.
		return aclErrSyntax
	}
	return aclErrSyntax
}

// changePerm allows or denies cmd and, for a container, its subcommands.
func (at *aclTable) changePerm(u *aclUser, cmd *Command, allow bool) {
	u.setBit(cmd.id, allow)
	for _, s := range cmd.Subs {
		u.setBit(s.id, allow)
	}
}

// updateRules keeps the ordered command rules Redis shows: the rule
// replaces earlier ones for the same name (and, for a whole command, its
// subcommands).
func (u *aclUser) updateRules(rule string, allow bool) {
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

func hasSpaces(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) || s[i] == 0 {
			return true
		}
	}
	return false
}

// flags lists the user's flags as ACL GETUSER and ACL LIST show them.
func (u *aclUser) flags() []string {
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

func (u *aclUser) keysString() string {
	if u.allKeys {
		return "~*"
	}
	parts := make([]string, len(u.patterns))
	for i, p := range u.patterns {
		parts[i] = "~" + string(p)
	}
	return strings.Join(parts, " ")
}

func (u *aclUser) channelsString() string {
	if u.allChannels {
		return "&*"
	}
	parts := make([]string, len(u.channels))
	for i, p := range u.channels {
		parts[i] = "&" + p
	}
	return strings.Join(parts, " ")
}

func (u *aclUser) commandsString() string {
	s := "-@all"
	if u.allFuture {
		s = "+@all"
	}
	if len(u.rules) > 0 {
		s += " " + strings.Join(u.rules, " ")
	}
	return s
}

// describe is the user's rules in ACL LIST / ACL file form (without the
// "user <name>" prefix).
func (u *aclUser) describe() string {
	var b strings.Builder
	for _, f := range u.flags() {
		b.WriteString(f + " ")
	}
	for _, p := range u.passwords {
		b.WriteString("#" + p + " ")
	}
	if k := u.keysString(); k != "" {
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
	b.WriteString(u.commandsString())
	return b.String()
}

// aclUsers is the server's user registry.
type aclUsers struct {
	tab *aclTable
	def *aclSlot // never deleted

	mu    sync.Mutex // serialises changes; users is copy-on-write
	users atomic.Pointer[map[string]*aclSlot]
}

func newACLUsers(tab *aclTable, requirepass string) *aclUsers {
	a := &aclUsers{tab: tab, def: &aclSlot{name: "default"}}
	a.def.cur.Store(tab.defaultUser(requirepass))
	m := map[string]*aclSlot{"default": a.def}
	a.users.Store(&m)
	return a
}

func (a *aclUsers) get(name string) *aclSlot { return (*a.users.Load())[name] }

// defaultOpen reports whether connections need no AUTH: the default user
// is on and nopass (Redis's authRequired() is the negation).
func (a *aclUsers) defaultOpen() bool {
	u := a.def.cur.Load()
	return u.enabled && u.nopass
}

// defaultNopass reports whether the default user needs no password
// (protected mode refuses non-loopback clients then).
func (a *aclUsers) defaultNopass() bool { return a.def.cur.Load().nopass }

// credentials returns the user's slot when name/pass authenticate, in
// constant time with respect to the password.
func (a *aclUsers) credentials(name string, pass []byte) *aclSlot {
	d := sha256.Sum256(pass)
	slot := a.get(name)
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

// names returns the user names, sorted.
func (a *aclUsers) names() []string {
	m := *a.users.Load()
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// list returns the users in ACL file form, sorted by name.
func (a *aclUsers) list() []string {
	m := *a.users.Load()
	out := make([]string, 0, len(m))
	for _, n := range a.names() {
		if slot := m[n]; slot != nil {
			out = append(out, "user "+n+" "+slot.cur.Load().describe())
		}
	}
	return out
}

// setUser applies ops to the named user (creating it) atomically: on error
// nothing changes.
func (a *aclUsers) setUser(name string, ops []string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	slot := a.get(name)
	var cur *aclUser
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
	slot = &aclSlot{name: name}
	slot.cur.Store(u)
	m := maps2(*a.users.Load())
	m[name] = slot
	a.users.Store(&m)
	return "", nil
}

// setDefaultPassword applies requirepass to the default user.
func (a *aclUsers) setDefaultPassword(pass string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.def.cur.Load().clone()
	setDefaultPassword(u, pass)
	a.tab.finish(u)
	a.def.cur.Store(u)
}

// delete removes users and returns the removed slots.
func (a *aclUsers) delete(names []string) []*aclSlot {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := maps2(*a.users.Load())
	var gone []*aclSlot
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

// replace installs a complete set of users (ACL LOAD, aclfile at start).
// When defs lacks "default", the default user keeps its current rules.
// It returns the slots of users that no longer exist.
func (a *aclUsers) replace(defs map[string]*aclUser) []*aclSlot {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := *a.users.Load()
	m := make(map[string]*aclSlot, len(defs)+1)
	for name, u := range defs {
		slot := old[name]
		if slot == nil {
			slot = &aclSlot{name: name}
		}
		slot.cur.Store(u)
		m[name] = slot
	}
	m["default"] = a.def
	var gone []*aclSlot
	for name, s := range old {
		if _, ok := m[name]; !ok {
			s.deleted.Store(true)
			gone = append(gone, s)
		}
	}
	a.users.Store(&m)
	return gone
}

// anyPassword reports whether some enabled user can only be reached with a
// password.
func (a *aclUsers) anyPassword() bool {
	for _, s := range *a.users.Load() {
		if u := s.cur.Load(); u.enabled && !u.nopass && len(u.digests) > 0 {
			return true
		}
	}
	return false
}

func maps2(m map[string]*aclSlot) map[string]*aclSlot {
	out := make(map[string]*aclSlot, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
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
