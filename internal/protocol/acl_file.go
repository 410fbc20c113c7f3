package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The ACL file holds one "user <name> <rule> ..." line per user, as in
// Redis; blank lines and lines starting with '#' are skipped. A file with
// any error changes nothing. When the file does not define the default
// user, the default user keeps its rules (requirepass), where Redis would
// reset it to "on nopass".

// parseACLFile parses an ACL file. Its error lists every problem as
// "<file>:<line>: <problem>", one per line.
func (at *aclTable) parseACLFile(name string, data []byte) (map[string]*aclUser, error) {
	users := make(map[string]*aclUser)
	var errs []error
	bad := func(line int, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, a...)))
	}
	for i, raw := range bytes.Split(data, []byte("\n")) {
		line := i + 1
		raw = bytes.Trim(raw, " \t\r")
		if len(raw) == 0 || raw[0] == '#' {
			continue
		}
		args, err := splitArgs(bytes.Clone(raw), nil)
		if err != nil {
			bad(line, "unbalanced quotes in ACL line")
			continue
		}
		if string(args[0]) != "user" {
			bad(line, "line should start with the 'user' keyword")
			continue
		}
		if len(args) < 2 {
			bad(line, "expected a user name after 'user'")
			continue
		}
		uname := string(args[1])
		if hasSpaces(uname) {
			bad(line, "usernames can't contain spaces or null characters")
			continue
		}
		if _, dup := users[uname]; dup {
			bad(line, "%s", aclErrDuplicate.Error())
			continue
		}
		ops := make([]string, 0, len(args)-2)
		for _, a := range args[2:] {
			ops = append(ops, string(a))
		}
		u, op, err := at.applyAll(nil, uname, ops)
		if err != nil {
			bad(line, "error in user declaration '%s' at '%s': %s", uname, trunc(op, 128), err.Error())
			continue
		}
		users[uname] = u
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return users, nil
}

// LoadACLFile replaces the users with those of the ACL file at path and
// closes connections of users that no longer exist (except by, whose
// connection closes after its reply). On error nothing changes.
func (s *Server) LoadACLFile(path string, by *Client) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read ACL file: %w", err)
	}
	users, err := s.acl.tab.parseACLFile(path, data)
	if err != nil {
		return fmt.Errorf("ACL file has errors, no change was made:\n%w", err)
	}
	s.killUsers(by, s.acl.replace(users))
	return nil
}

// SaveACLFile writes the users to path in ACL file format, atomically.
func (s *Server) SaveACLFile(path string) error {
	var b strings.Builder
	for _, line := range s.acl.list() {
		b.WriteString(line + "\n")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("save ACL file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("save ACL file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save ACL file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save ACL file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save ACL file: %w", err)
	}
	return nil
}

func (s *Server) aclFile() string { return s.opts.ACLFile }

// AuthRequired reports whether new connections must authenticate: the
// default user is off or has a password.
func (s *Server) AuthRequired() bool { return !s.acl.defaultOpen() }

// PasswordUsers reports whether some enabled user has a password.
func (s *Server) PasswordUsers() bool { return s.acl.anyPassword() }
