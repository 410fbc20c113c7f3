package protocol

import (
	"slices"
	"sort"
	"strings"

	"github.com/cachesrv/cachesrv/internal/acl"
)

// Flag is a command flag as COMMAND reports it.
type Flag uint32

// Command flags (Redis 7 names).
const (
	FlagWrite Flag = 1 << iota
	FlagReadonly
	FlagDenyOOM
	FlagAdmin
	FlagPubSub
	FlagNoScript
	FlagLoading
	FlagStale
	FlagSkipMonitor
	FlagSkipSlowlog
	FlagFast
	FlagNoAuth
	FlagAllowBusy
	FlagNoMulti // cannot be queued in MULTI
	FlagTxControl
)

var flagNames = []struct {
	f    Flag
	name string
}{
	{FlagWrite, "write"}, {FlagReadonly, "readonly"}, {FlagDenyOOM, "denyoom"},
	{FlagAdmin, "admin"}, {FlagPubSub, "pubsub"}, {FlagNoScript, "noscript"},
	{FlagLoading, "loading"}, {FlagStale, "stale"}, {FlagSkipMonitor, "skip_monitor"},
	{FlagSkipSlowlog, "skip_slowlog"}, {FlagFast, "fast"}, {FlagNoAuth, "no_auth"},
	{FlagAllowBusy, "allow_busy"}, {FlagNoMulti, "no_multi"},
}

// Names returns the flag names COMMAND INFO lists.
func (f Flag) Names() []string {
	var out []string
	for _, n := range flagNames {
		if f&n.f != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Handler runs one command; args[0] is the command name.
type Handler func(c *Client, args [][]byte)

// Command is one entry of the command table: everything dispatch, COMMAND,
// ACL categories and metrics need to know about a command.
type Command struct {
	Name     string // lower case; "parent|sub" for subcommands
	Arity    int    // Redis convention: n exact, -n at least n
	Flags    Flag
	FirstKey int // key positions (1-based, 0 = no keys)
	LastKey  int // -1 = last argument
	Step     int
	Category string // ACL categories besides the flags' ones, space-separated: string, keyspace, connection, server, transaction, dangerous...
	Group    string // COMMAND DOCS group
	Summary  string
	Since    string
	Handler  Handler
	Subs     map[string]*Command // container commands (CONFIG, CLIENT, ...)
	// Keys, when set, finds the key positions of commands whose keys move
	// (numkeys arguments: LMPOP, SINTERCARD, ZUNION...); FirstKey and
	// LastKey then only describe the legacy COMMAND INFO range.
	Keys func(args [][]byte, dst []int) []int
	// ACLArgs, when set, lists argument positions besides the key
	// positions that ACL key patterns must allow: tag names (which share
	// the key namespace for ACL purposes) and the dependency keys of TAGS/
	// DEPS options (docs/security.md, "Tags and ACLs"). It may list more
	// positions than the command uses, never fewer.
	ACLArgs func(args [][]byte, dst []int) []int

	id     int // index in the table, for per-command stats
	parent *Command
}

// Table is the command table. It is built once at start-up and read-only
// afterwards.
type Table struct {
	byName map[string]*Command
	all    []*Command // including subcommands, by id
}

func newTable() *Table {
	return &Table{byName: make(map[string]*Command)}
}

// add registers a command; a duplicate or inconsistent entry is a
// programming mistake and panics at start-up.
func (t *Table) add(cmd *Command) *Command {
	name := strings.ToLower(cmd.Name)
	if _, dup := t.byName[name]; dup {
		panic("BUG: duplicate command " + name)
	}
	if cmd.Handler == nil && cmd.Subs == nil {
		panic("BUG: command without handler " + name)
	}
	cmd.Name = name
	cmd.id = len(t.all)
	t.all = append(t.all, cmd)
	t.byName[name] = cmd
	return cmd
}

// addSub registers a subcommand of parent.
func (t *Table) addSub(parent *Command, sub *Command) {
	if parent.Subs == nil {
		parent.Subs = make(map[string]*Command)
	}
	sub.Name = strings.ToLower(sub.Name)
	if _, dup := parent.Subs[sub.Name]; dup {
		panic("BUG: duplicate subcommand " + parent.Name + "|" + sub.Name)
	}
	if sub.Handler == nil {
		panic("BUG: subcommand without handler " + parent.Name + "|" + sub.Name)
	}
	sub.parent = parent
	sub.id = len(t.all)
	t.all = append(t.all, sub)
	parent.Subs[sub.Name] = sub
}

// lookup finds a command by name without allocating.
func (t *Table) lookup(name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return t.byName[strings.ToLower(string(name))]
	}
	n := copy(buf[:], name)
	for i := 0; i < n; i++ {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 32
		}
	}
	return t.byName[string(buf[:n])]
}

// lookupSub finds a subcommand of cmd without allocating.
func lookupSub(cmd *Command, name []byte) *Command {
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	n := copy(buf[:], name)
	for i := 0; i < n; i++ {
		if c := buf[i]; c >= 'A' && c <= 'Z' {
			buf[i] = c + 32
		}
	}
	return cmd.Subs[string(buf[:n])]
}

// FullName is "parent|sub" for subcommands and the name otherwise.
func (cmd *Command) FullName() string {
	if cmd.parent != nil {
		return cmd.parent.Name + "|" + cmd.Name
	}
	return cmd.Name
}

// Commands returns the top-level commands sorted by name.
func (t *Table) Commands() []*Command {
	var out []*Command
	for _, c := range t.byName {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// All returns every command and subcommand, in id order.
func (t *Table) All() []*Command { return t.all }

// Lookup finds a top-level command by name (case-insensitive).
func (t *Table) Lookup(name string) *Command { return t.byName[strings.ToLower(name)] }

// arityOK checks an argument count against a Redis arity.
func arityOK(arity, n int) bool {
	if arity >= 0 {
		return n == arity
	}
	return n >= -arity
}

// keys returns the argument indexes holding keys.
func (cmd *Command) keyIndexes(args [][]byte, dst []int) []int {
	if cmd.Keys != nil {
		return cmd.Keys(args, dst)
	}
	if cmd.FirstKey <= 0 {
		return dst
	}
	last := cmd.LastKey
	if last < 0 {
		last = len(args) + last
	}
	step := cmd.Step
	if step <= 0 {
		step = 1
	}
	for i := cmd.FirstKey; i <= last && i < len(args); i += step {
		dst = append(dst, i)
	}
	return dst
}

// ACLID is the command's id, for acl.User.Check.
func (cmd *Command) ACLID() int { return cmd.id }

// ACLNoAuth reports whether the command runs without permission.
func (cmd *Command) ACLNoAuth() bool { return cmd.Flags&FlagNoAuth != 0 }

// ACLKeys appends the argument positions ACL key patterns must allow: the
// keys, then the ACLArgs positions.
func (cmd *Command) ACLKeys(args [][]byte, dst []int) []int {
	if cmd.FirstKey > 0 {
		dst = cmd.keyIndexes(args, dst)
	}
	if cmd.ACLArgs != nil {
		dst = cmd.ACLArgs(args, dst)
	}
	return dst
}

// aclInfos describes the table to the ACL rules, by command id, with the
// original command names (ACL rules name commands as they were before
// rename-command, as in Redis).
func (t *Table) aclInfos() []acl.CommandInfo {
	infos := make([]acl.CommandInfo, len(t.all))
	for i, cmd := range t.all {
		infos[i] = acl.CommandInfo{Name: cmd.FullName(), Categories: cmd.Categories(), Container: cmd.Subs != nil}
	}
	return infos
}

// Categories returns the ACL categories of the command (Redis 7 rules:
// derived from flags plus the command's own category).
func (cmd *Command) Categories() []string {
	var out []string
	f := cmd.Flags
	if f&FlagWrite != 0 {
		out = append(out, "write")
	}
	if f&FlagReadonly != 0 {
		out = append(out, "read")
	}
	if f&FlagAdmin != 0 {
		out = append(out, "admin", "dangerous")
	}
	if f&FlagFast != 0 {
		out = append(out, "fast")
	} else {
		out = append(out, "slow")
	}
	for _, cat := range strings.Fields(cmd.Category) {
		if !slices.Contains(out, cat) {
			out = append(out, cat)
		}
	}
	return out
}
