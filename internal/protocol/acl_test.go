package protocol

import (
	"crypto/sha256"
	"net"
	"strings"
	"testing"

	"github.com/cachesrv/cachesrv/internal/store"
)

func newTestServer(tb testing.TB, o Options) (*Server, *Client) {
	tb.Helper()
	st, err := store.New(store.Options{Shards: 8})
	if err != nil {
		tb.Fatal(err)
	}
	o.Store = st
	if o.SlowlogSlower == 0 {
		o.SlowlogSlower = -1
	}
	s := New(o)
	a, b := net.Pipe()
	tb.Cleanup(func() { a.Close(); b.Close() })
	return s, newClient(s, a)
}

func TestACLRules(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, Options{})
	at := s.acl.tab
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
		if got := u.describe(); got != tc.want {
			t.Errorf("%v:\n got %q\nwant %q", tc.rules, got, tc.want)
		}
	}
	for _, tc := range []struct {
		rule string
		err  aclOpError
	}{
		{"+nosuch", aclErrUnknown}, {"-nosuch", aclErrUnknown}, {"+@nosuch", aclErrUnknown},
		{"+config|nosuch", aclErrUnknown}, {"+config|get|x", aclErrFirstArgSub}, {"+select|0", aclErrSyntax},
		{"+config|", aclErrSyntax}, {"%R~x", aclErrSyntax}, {"what", aclErrSyntax}, {"<nope", aclErrNoSuchPass},
		{"#" + strings.ToUpper(hexSHA("x")), aclErrBadHash}, {"#abc", aclErrBadHash}, {"!" + hexSHA("x"), aclErrNoSuchPass},
	} {
		if _, _, err := at.applyAll(nil, "u", []string{tc.rule}); err != tc.err {
			t.Errorf("%q: err %v, want %v", tc.rule, err, tc.err)
		}
	}
	if _, _, err := at.applyAll(nil, "u", []string{"allkeys", "~x"}); err != aclErrKeyAfterAll {
		t.Errorf("~x after allkeys: %v", err)
	}
	if _, _, err := at.applyAll(nil, "u", []string{"&*", "&x"}); err != aclErrChanAfterAll {
		t.Errorf("&x after &*: %v", err)
	}
}

func TestACLCheck(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, Options{})
	at := s.acl.tab
	u, _, err := at.applyAll(nil, "u", []string{"on", "~a:*", "~b?", "+@string", "-append", "+object|encoding", "+del"})
	if err != nil {
		t.Fatal(err)
	}
	if u.unrestricted {
		t.Fatal("restricted user marked unrestricted")
	}
	for _, tc := range []struct {
		args   []string
		reason int
		pos    int
	}{
		{[]string{"get", "a:1"}, aclOK, 0},
		{[]string{"get", "b1"}, aclOK, 0},
		{[]string{"get", "b12"}, aclDeniedKey, 1},
		{[]string{"mset", "a:1", "x", "c", "y"}, aclDeniedKey, 3},
		{[]string{"mset", "a:1", "c", "b2", "y"}, aclOK, 0}, // values are not keys
		{[]string{"append", "a:1", "x"}, aclDeniedCmd, 0},
		{[]string{"object", "encoding", "a:1"}, aclOK, 0},
		{[]string{"object", "freq", "a:1"}, aclDeniedCmd, 0},
		{[]string{"del", "a:1", "a:2", "zz"}, aclDeniedKey, 3},
		{[]string{"keys", "*"}, aclDeniedCmd, 0},
		{[]string{"auth", "x"}, aclOK, 0}, // no-auth commands are always allowed
	} {
		cmd := s.table.lookup([]byte(tc.args[0]))
		if cmd.Subs != nil {
			cmd = lookupSub(cmd, []byte(tc.args[1]))
		}
		reason, pos, _ := u.check(cmd, testArgs(tc.args...), nil)
		if reason != tc.reason || (reason == aclDeniedKey && pos != tc.pos) {
			t.Errorf("%v: reason %d pos %d, want %d %d", tc.args, reason, pos, tc.reason, tc.pos)
		}
	}
	def := s.acl.def.cur.Load()
	if !def.unrestricted {
		t.Fatal("default user is not unrestricted")
	}
	d2, _, _ := at.applyAll(def, "default", []string{"-flushall"})
	if d2.unrestricted {
		t.Fatal("-flushall left the default user unrestricted")
	}
}

// TestACLCheckAllocations: checking a restricted user's permissions does
// not allocate, and the unrestricted default user costs one branch.
func TestACLCheckAllocations(t *testing.T) {
	s, c := newTestServer(t, Options{})
	if _, err := s.acl.setUser("u", []string{"on", "nopass", "~k*", "+@all"}); err != nil {
		t.Fatal(err)
	}
	set := testArgs("SET", "k1", "v")
	s.execute(c, set)
	for _, user := range []string{"default", "u"} {
		c.setUser(s.acl.get(user))
		for _, args := range [][][]byte{testArgs("GET", "k1"), testArgs("EXISTS", "k1", "k2", "k3")} {
			n := testing.AllocsPerRun(1000, func() {
				s.execute(c, args)
				c.out = c.out[:0]
			})
			if n != 0 {
				t.Errorf("%s as %s allocates %.1f times", args[0], user, n)
			}
		}
	}
}

func BenchmarkExecuteGetRestricted(b *testing.B) {
	s, c := newTestServer(b, Options{})
	s.acl.setUser("u", []string{"on", "nopass", "~key:*", "+@all", "-flushall"})
	c.setUser(s.acl.get("u"))
	s.execute(c, testArgs("SET", "key:1", "v"))
	args := testArgs("GET", "key:1")
	b.ReportAllocs()
	for b.Loop() {
		s.execute(c, args)
		c.out = c.out[:0]
	}
}

func TestACLFileParse(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, Options{})
	users, err := s.acl.tab.parseACLFile("f", []byte(
		"# users\n\n  user alice on \">p w\" ~a:* +get  \r\nuser bob off\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 2 || users["alice"].describe() != "on sanitize-payload #"+hexSHA("p w")+" ~a:* resetchannels -@all +get" {
		t.Fatalf("%v %q", users, users["alice"].describe())
	}
	_, err = s.acl.tab.parseACLFile("f", []byte("user a on\nuser a on\nuser b \"x\nuser\nuser c +x\nfoo\nuser \"d e\" on\n"))
	want := []string{
		"f:2: Duplicate user found. A user can only be defined once in config files",
		"f:3: unbalanced quotes in ACL line",
		"f:4: expected a user name after 'user'",
		"f:5: error in user declaration 'c' at '+x': Unknown command or category name in ACL",
		"f:6: line should start with the 'user' keyword",
		"f:7: usernames can't contain spaces or null characters",
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Fatalf("got %v", err)
	}
}

func TestACLLogMerge(t *testing.T) {
	t.Parallel()
	var l aclLog
	for i := 0; i < 3; i++ {
		l.add(&aclLogEntry{count: 1, reason: aclDeniedCmd, context: "toplevel", object: "get", username: "u", updated: 1000})
	}
	l.add(&aclLogEntry{count: 1, reason: aclDeniedCmd, context: "toplevel", object: "get", username: "u", updated: 1000 + aclLogGroupMax + 1})
	l.add(&aclLogEntry{count: 1, reason: aclDeniedKey, context: "toplevel", object: "k", username: "u", updated: 2000})
	if len(l.entries) != 3 || l.entries[2].count != 3 || l.entries[1].count != 1 || l.entries[0].object != "k" {
		t.Fatalf("%+v %+v %+v", *l.entries[0], *l.entries[1], *l.entries[2])
	}
	for i := 0; i < 2*aclLogMaxLen; i++ {
		l.add(&aclLogEntry{count: 1, reason: aclDeniedKey, object: string(rune('a' + i%26)), username: itoa(int64(i))})
	}
	if len(l.entries) != aclLogMaxLen {
		t.Fatalf("log has %d entries", len(l.entries))
	}
}

func testArgs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func sha256Sum(s string) [32]byte { return sha256.Sum256([]byte(s)) }

func hexSHA(s string) string {
	u := &aclUser{}
	u.addDigest(sha256Sum(s))
	return u.passwords[0]
}
