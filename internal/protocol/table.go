package protocol

import (
	"sort"
	"strings"

	"github.com/cachesrv/cachesrv/internal/acl"
	"github.com/cachesrv/cachesrv/internal/cmdtab"
)

// The flag type and names of the table leaf, under the names the wire and
// its handlers use.
type Flag = cmdtab.Flag

// Command flags (Redis 7 names).
const (
	FlagWrite       = cmdtab.FlagWrite
	FlagReadonly    = cmdtab.FlagReadonly
	FlagDenyOOM     = cmdtab.FlagDenyOOM
	FlagAdmin       = cmdtab.FlagAdmin
	FlagPubSub      = cmdtab.FlagPubSub
	FlagNoScript    = cmdtab.FlagNoScript
	FlagLoading     = cmdtab.FlagLoading
	FlagStale       = cmdtab.FlagStale
	FlagSkipMonitor = cmdtab.FlagSkipMonitor
	FlagSkipSlowlog = cmdtab.FlagSkipSlowlog
	FlagFast        = cmdtab.FlagFast
	FlagNoAuth      = cmdtab.FlagNoAuth
	FlagAllowBusy   = cmdtab.FlagAllowBusy
	FlagNoMulti     = cmdtab.FlagNoMulti
	FlagTxControl   = cmdtab.FlagTxControl
)

// Handler runs one command; args[0] is the command name.
type Handler func(c *Client, args [][]byte)

// Command is one entry of the command table: everything dispatch, COMMAND,
// ACL categories and metrics need to know about a command.
type Command struct {
	cmdtab.Spec
	Handler Handler
	Subs    map[string]*Command // container commands (CONFIG, CLIENT, ...)

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

// ACLID is the command's id, for acl.User.Check.
func (cmd *Command) ACLID() int { return cmd.id }

// ACLNoAuth reports whether the command runs without permission.
func (cmd *Command) ACLNoAuth() bool { return cmd.Flags&FlagNoAuth != 0 }

// ACLKeys appends the argument positions ACL key patterns must allow: the
// keys, then the ACLArgs positions.
func (cmd *Command) ACLKeys(args [][]byte, dst []int) []int {
	if cmd.FirstKey > 0 {
		dst = cmd.KeyIndexes(args, dst)
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

// arityOK checks an argument count against a Redis arity.
func arityOK(arity, n int) bool { return cmdtab.ArityOK(arity, n) }
