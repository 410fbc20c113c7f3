package protocol

import (
	"net"
	"testing"

	"github.com/cachesrv/cachesrv/internal/acl"
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

func TestACLCheck(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, Options{})
	if _, err := s.acl.SetUser("u", []string{"on", "~a:*", "~b?", "+@string", "-append", "+object|encoding", "+del"}); err != nil {
		t.Fatal(err)
	}
	u := s.acl.Get("u").User()
	if u.Unrestricted() {
		t.Fatal("restricted user marked unrestricted")
	}
	for _, tc := range []struct {
		args   []string
		reason acl.Reason
		pos    int
	}{
		{[]string{"get", "a:1"}, acl.OK, 0},
		{[]string{"get", "b1"}, acl.OK, 0},
		{[]string{"get", "b12"}, acl.DeniedKey, 1},
		{[]string{"mset", "a:1", "x", "c", "y"}, acl.DeniedKey, 3},
		{[]string{"mset", "a:1", "c", "b2", "y"}, acl.OK, 0}, // values are not keys
		{[]string{"append", "a:1", "x"}, acl.DeniedCmd, 0},
		{[]string{"object", "encoding", "a:1"}, acl.OK, 0},
		{[]string{"object", "freq", "a:1"}, acl.DeniedCmd, 0},
		{[]string{"del", "a:1", "a:2", "zz"}, acl.DeniedKey, 3},
		{[]string{"keys", "*"}, acl.DeniedCmd, 0},
		{[]string{"auth", "x"}, acl.OK, 0}, // no-auth commands are always allowed
	} {
		cmd := s.table.lookup([]byte(tc.args[0]))
		if cmd.Subs != nil {
			cmd = lookupSub(cmd, []byte(tc.args[1]))
		}
		reason, pos, _ := u.Check(cmd, testArgs(tc.args...), nil)
		if reason != tc.reason || (reason == acl.DeniedKey && pos != tc.pos) {
			t.Errorf("%v: reason %d pos %d, want %d %d", tc.args, reason, pos, tc.reason, tc.pos)
		}
	}
	if !s.acl.Default().User().Unrestricted() {
		t.Fatal("default user is not unrestricted")
	}
	s.acl.SetUser("default", []string{"-flushall"})
	if s.acl.Default().User().Unrestricted() {
		t.Fatal("-flushall left the default user unrestricted")
	}
}

// TestACLCheckAllocations: checking a restricted user's permissions does
// not allocate, and the unrestricted default user costs one branch.
func TestACLCheckAllocations(t *testing.T) {
	s, c := newTestServer(t, Options{})
	if _, err := s.acl.SetUser("u", []string{"on", "nopass", "~k*", "+@all"}); err != nil {
		t.Fatal(err)
	}
	set := testArgs("SET", "k1", "v")
	s.execute(c, set)
	for _, user := range []string{"default", "u"} {
		c.setUser(s.acl.Get(user))
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
	s.acl.SetUser("u", []string{"on", "nopass", "~key:*", "+@all", "-flushall"})
	c.setUser(s.acl.Get("u"))
	s.execute(c, testArgs("SET", "key:1", "v"))
	args := testArgs("GET", "key:1")
	b.ReportAllocs()
	for b.Loop() {
		s.execute(c, args)
		c.out = c.out[:0]
	}
}

func TestACLLogMerge(t *testing.T) {
	t.Parallel()
	var l aclLog
	for i := 0; i < 3; i++ {
		l.add(&aclLogEntry{count: 1, reason: acl.DeniedCmd, context: "toplevel", object: "get", username: "u", updated: 1000})
	}
	l.add(&aclLogEntry{count: 1, reason: acl.DeniedCmd, context: "toplevel", object: "get", username: "u", updated: 1000 + aclLogGroupMax + 1})
	l.add(&aclLogEntry{count: 1, reason: acl.DeniedKey, context: "toplevel", object: "k", username: "u", updated: 2000})
	if len(l.entries) != 3 || l.entries[2].count != 3 || l.entries[1].count != 1 || l.entries[0].object != "k" {
		t.Fatalf("%+v %+v %+v", *l.entries[0], *l.entries[1], *l.entries[2])
	}
	for i := 0; i < 2*aclLogMaxLen; i++ {
		l.add(&aclLogEntry{count: 1, reason: acl.DeniedKey, object: string(rune('a' + i%26)), username: itoa(int64(i))})
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
