package acl

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cachesrv/cachesrv/internal/splitargs"
)

// The ACL file holds one "user <name> <rule> ..." line per user, as in
// Redis; blank lines and lines starting with '#' are skipped. A file with
// any error changes nothing. When the file does not define the default
// user, the default user keeps its rules (requirepass), where Redis would
// reset it to "on nopass".

// parseACLFile parses an ACL file. Its error lists every problem as
// "<file>:<line>: <problem>", one per line.
func (at *Table) parseACLFile(name string, data []byte) (map[string]*User, error) {
	users := make(map[string]*User)
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
		args, err := splitargs.Split(bytes.Clone(raw), nil)
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
		if HasSpaces(uname) {
			bad(line, "usernames can't contain spaces or null characters")
			continue
		}
		if _, dup := users[uname]; dup {
			bad(line, "%s", errDuplicate.Error())
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

// ReadFile reads and parses the ACL file at path. On error (every problem
// as "<file>:<line>: <problem>", one per line) it returns no users; install
// them with Users.Replace.
func (at *Table) ReadFile(path string) (map[string]*User, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read ACL file: %w", err)
	}
	users, err := at.parseACLFile(path, data)
	if err != nil {
		return nil, fmt.Errorf("ACL file has errors, no change was made:\n%w", err)
	}
	return users, nil
}

// Save writes the users to path in ACL file format, atomically.
func (a *Users) Save(path string) error {
	var b strings.Builder
	for _, line := range a.List() {
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

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
