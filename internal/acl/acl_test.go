package acl

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// testTable is a small command table: enough commands, categories and a
// container for the rule grammar.
func testTable() *Table {
	return NewTable([]CommandInfo{
		{Name: "get", Categories: []string{"read", "fast", "string"}},
		{Name: "set", Categories: []string{"write", "slow", "string"}},
		{Name: "append", Categories: []string{"write", "fast", "string"}},
		{Name: "ping", Categories: []string{"fast", "connection"}},
		{Name: "select", Categories: []string{"fast", "connection"}},
		{Name: "flushall", Categories: []string{"write", "slow", "keyspace", "dangerous"}},
		{Name: "config", Categories: []string{"slow"}, Container: true},
		{Name: "config|get", Categories: []string{"admin", "dangerous", "slow"}},
		{Name: "config|set", Categories: []string{"admin", "dangerous", "slow"}},
		{Name: "tagset", Categories: []string{"write", "slow", "keyspace", "tags"}},
	})
}

// testCmd is a command for Check: id, no-auth flag and key positions.
type testCmd struct {
	id     int
	noAuth bool
	keys   []int
}

func (c testCmd) ACLID() int      { return c.id }
func (c testCmd) ACLNoAuth() bool { return c.noAuth }
func (c testCmd) ACLKeys(args [][]byte, dst []int) []int {
	for _, k := range c.keys {
		if k < len(args) {
			dst = append(dst, k)
		}
	}
	return dst
}

func hexSHA(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

func TestACLRules(t *testing.T) {
	t.Parallel()
	at := testTable()
	for _, tc := range []struct {
		rules []string
		want  string // describe()
	}{
		{nil, "off sanitize-payload resetchannels -@all"},
		{[]string{"on", "nopass", "~*", "&*", "+@all"}, "on nopass sanitize-payload ~* &* +@all"},
		{[]string{"on", ">a", ">b", ">a", "<b"}, "on sanitize-payload #" + hexSHA("a") + " resetchannels -@all"},
		{[]string{"on", ">a", "nopass"}, "on nopass sanitize-payload resetchannels -@all"},
		{[]string{"on", ">a", "resetpass"}, "on sanitize-payload resetchannels -@all"},
		{[]string{"#" + hexSHA("x"), "!" + hexSHA("x")}, "off sanitize-payload resetchannels -@all"},
		{[]string{"~a:*", "~b:*", "~a:*", "&ch", "skip-sanitize-payload"}, "off skip-sanitize-payload ~a:* ~b:* resetchannels &ch -@all"},
		{[]string{"~a", "resetkeys", "allkeys"}, "off sanitize-payload ~* resetchannels -@all"},
		{[]string{"+GET", "+set", "-get", "+@read"}, "off sanitize-payload resetchannels -@all +set -get +@read"},
		{[]string{"+config|get", "+config"}, "off sanitize-payload resetchannels -@all +config"},
		{[]string{"+@all", "-@admin", "+@all"}, "off sanitize-payload resetchannels +@all"},
		{[]string{"allcommands", "-flushall", "nocommands", "+ping"}, "off sanitize-payload resetchannels -@all +ping"},
		{[]string{"on", ">p", "~*", "+@all", "reset"}, "off sanitize-payload resetchannels -@all"},
	} {
		u, op, err := at.applyAll(nil, "u", tc.rules)
		if err != nil {
			t.Fatalf("%v: %s: %v", tc.rules, op, err)
		}
		if got := u.Describe(); got != tc.want {
			t.Errorf("%v:\n got %q\nwant %q", tc.rules, got, tc.want)
		}
	}
	for _, tc := range []struct {
		rule string
		err  ruleError
	}{
		{"+nosuch", errUnknown}, {"-nosuch", errUnknown}, {"+@nosuch", errUnknown},
		{"+config|nosuch", errUnknown}, {"+config|get|x", errFirstArgSub}, {"+select|0", errSyntax},
		{"+config|", errSyntax}, {"%R~x", errSyntax}, {"what", errSyntax}, {"<nope", errNoSuchPass},
		{"#" + strings.ToUpper(hexSHA("x")), errBadHash}, {"#abc", errBadHash}, {"!" + hexSHA("x"), errNoSuchPass},
	} {
		if _, _, err := at.applyAll(nil, "u", []string{tc.rule}); err != tc.err {
			t.Errorf("%q: err %v, want %v", tc.rule, err, tc.err)
		}
	}
	if _, _, err := at.applyAll(nil, "u", []string{"allkeys", "~x"}); err != errKeyAfterAll {
		t.Errorf("~x after allkeys: %v", err)
	}
	if _, _, err := at.applyAll(nil, "u", []string{"&*", "&x"}); err != errChanAfterAll {
		t.Errorf("&x after &*: %v", err)
	}
}

func TestACLFileParse(t *testing.T) {
	t.Parallel()
	at := testTable()
	users, err := at.parseACLFile("f", []byte(
		"# users\n\n  user alice on \">p w\" ~a:* +get  \r\nuser bob off\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users["alice"].Describe() != "on sanitize-payload #"+hexSHA("p w")+" ~a:* resetchannels -@all +get" {
		t.Fatalf("%v %q", users, users["alice"].Describe())
	}
	_, err = at.parseACLFile("f", []byte("user a on\nuser a on\nuser b \"x\nuser\nuser c +nosuch\nfoo\nuser \"d e\" on\n"))
	want := []string{
		"f:2: Duplicate user found. A user can only be defined once in config files",
		"f:3: unbalanced quotes in ACL line",
		"f:4: expected a user name after 'user'",
		"f:5: error in user declaration 'c' at '+nosuch': Unknown command or category name in ACL",
		"f:6: line should start with the 'user' keyword",
		"f:7: usernames can't contain spaces or null characters",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got %v", err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	at := testTable()
	u, _, err := at.applyAll(nil, "u", []string{"on", "~a:*", "+@string", "-append"})
	if err != nil {
		t.Fatal(err)
	}
	args := func(ss ...string) [][]byte {
		out := make([][]byte, len(ss))
		for i, s := range ss {
			out[i] = []byte(s)
		}
		return out
	}
	for _, tc := range []struct {
		cmd    testCmd
		args   [][]byte
		reason Reason
		pos    int
	}{
		{testCmd{id: 0, keys: []int{1}}, args("get", "a:1"), OK, 0},
		{testCmd{id: 0, keys: []int{1}}, args("get", "b"), DeniedKey, 1},
		{testCmd{id: 2, keys: []int{1}}, args("append", "a:1", "x"), DeniedCmd, 0},
		{testCmd{id: 3}, args("ping"), DeniedCmd, 0},
		{testCmd{id: 3, noAuth: true}, args("ping"), OK, 0},
		{testCmd{id: 1, keys: []int{1, 3}}, args("set", "a:1", "v", "tag"), DeniedKey, 3},
	} {
		reason, pos, _ := u.Check(tc.cmd, tc.args, nil)
		if reason != tc.reason || (reason == DeniedKey && pos != tc.pos) {
			t.Errorf("%q: %v at %d, want %v at %d", tc.args, reason, pos, tc.reason, tc.pos)
		}
	}
}

func TestCategories(t *testing.T) {
	t.Parallel()
	at := testTable()
	if cats := at.Categories(); cats[0] != "keyspace" || cats[len(cats)-1] != "tags" {
		t.Fatalf("categories %v", cats)
	}
	if names, ok := at.InCategory("ADMIN"); !ok || strings.Join(names, " ") != "config|get config|set" {
		t.Fatalf("admin: %v %v", names, ok)
	}
	if _, ok := at.InCategory("nosuch"); ok {
		t.Fatal("unknown category accepted")
	}
}
