package protocol

import (
	"context"
	"log/slog"
	"strings"
)

// auditor writes the audit log (audit-log yes): authentication successes
// and failures, ACL denials and administrative commands, as slog records
// whose attributes sit in an "audit" group. Records carry the client's
// address, id and user, the command and the names of what it changed
// (settings, users), never values, keys or passwords.
type auditor struct {
	log  *slog.Logger
	cmds []bool // by command id: audited administrative commands
}

// auditedCommands are the administrative commands the audit log records.
var auditedCommands = []string{
	"flushall", "flushdb", "swapdb", "shutdown",
	"config|set", "config|rewrite", "config|resetstat",
	"client|kill",
	"acl|setuser", "acl|deluser", "acl|load", "acl|save", "acl|log",
}

func newAuditor(l *slog.Logger, t *Table) *auditor {
	a := &auditor{log: l.WithGroup("audit"), cmds: make([]bool, len(t.all))}
	for _, name := range auditedCommands {
		if cmd := t.lookupFull(name); cmd != nil {
			a.cmds[cmd.id] = true
		}
	}
	return a
}

func (a *auditor) client(c *Client, user string) []slog.Attr {
	if user == "" {
		user = c.user.Load().Name()
	}
	return []slog.Attr{slog.String("addr", c.addr), slog.Int64("client_id", c.id), slog.String("user", user)}
}

// auth records an authentication attempt.
func (a *auditor) auth(c *Client, user string, ok bool) {
	attrs := append(a.client(c, user), slog.String("event", "auth"))
	if ok {
		a.log.LogAttrs(context.Background(), slog.LevelInfo, "authentication succeeded", append(attrs, slog.String("result", "ok"))...)
		return
	}
	a.log.LogAttrs(context.Background(), slog.LevelWarn, "authentication failed", append(attrs, slog.String("result", "denied"))...)
}

// denied records an ACL denial; for key denials the key is not recorded.
func (a *auditor) denied(c *Client, reason string, cmd *Command, object string) {
	attrs := append(a.client(c, ""), slog.String("event", "acl_denied"), slog.String("reason", reason))
	if cmd != nil {
		attrs = append(attrs, slog.String("cmd", cmd.FullName()))
	}
	a.log.LogAttrs(context.Background(), slog.LevelWarn, "command denied by ACL", attrs...)
}

// admin records an administrative command after it ran.
func (a *auditor) admin(c *Client, cmd *Command, args [][]byte, failed bool) {
	result := "ok"
	if failed {
		result = "error"
	}
	attrs := append(a.client(c, ""), slog.String("event", "admin"), slog.String("cmd", cmd.FullName()), slog.String("result", result))
	switch cmd.FullName() {
	case "config|set":
		var names []string
		for i := 2; i < len(args); i += 2 {
			names = append(names, strings.ToLower(string(args[i])))
		}
		attrs = append(attrs, slog.String("params", strings.Join(names, " ")))
	case "acl|setuser":
		attrs = append(attrs, slog.String("target", string(args[2])))
	case "acl|deluser":
		var names []string
		for _, a := range args[2:] {
			names = append(names, string(a))
		}
		attrs = append(attrs, slog.String("target", strings.Join(names, " ")))
	case "acl|log":
		if len(args) < 3 || !eq(args[2], "reset") {
			return // reading the log is not an administrative change
		}
	case "client|kill":
		var filter []string
		for _, a := range args[2:] {
			filter = append(filter, trunc(string(a), 64))
		}
		attrs = append(attrs, slog.String("filter", strings.Join(filter, " ")))
	case "flushdb":
		attrs = append(attrs, slog.Int("db", c.db))
	}
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "administrative command", attrs...)
}
