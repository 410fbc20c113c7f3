// Package cmdtab holds the types of the command table: a command's name,
// arity, flags, key positions, ACL categories and documentation (Spec), and
// the flags (Flag). It is a leaf (standard library only): the wire layer
// builds its table from Specs, ACL and COMMAND read them, and handler
// packages declare their commands with them.
package cmdtab

import (
	"slices"
	"strings"
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

// Spec is what the table knows about a command besides its handler:
// everything dispatch, COMMAND, ACL categories and metrics need.
type Spec struct {
	Name     string // lower case; the subcommand's own name for subcommands
	Arity    int    // Redis convention: n exact, -n at least n
	Flags    Flag
	FirstKey int // key positions (1-based, 0 = no keys)
	LastKey  int // -1 = last argument
	Step     int
	Category string // ACL categories besides the flags' ones, space-separated: string, keyspace, connection, server, transaction, dangerous...
	Group    string // COMMAND DOCS group
	Summary  string
	Since    string
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
}

// ArityOK checks an argument count against a Redis arity.
func ArityOK(arity, n int) bool {
	if arity >= 0 {
		return n == arity
	}
	return n >= -arity
}

// KeyIndexes appends the argument indexes holding keys.
func (cmd *Spec) KeyIndexes(args [][]byte, dst []int) []int {
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

// Categories returns the ACL categories of the command (Redis 7 rules:
// derived from flags plus the command's own category).
func (cmd *Spec) Categories() []string {
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
