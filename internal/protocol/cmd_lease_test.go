package protocol

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/lease"
	"github.com/cachesrv/cachesrv/internal/store"
)

// leaseTester runs commands on an in-process server with stampede
// protection; replies accumulate in the client's output buffer.
type leaseTester struct {
	t testing.TB
	s *Server
	m *lease.Manager
}

func newLeaseTester(t testing.TB) *leaseTester {
	t.Helper()
	st, err := store.New(store.Options{Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lease.New(lease.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Store: st, SlowlogSlower: -1, Leases: m})
	return &leaseTester{t: t, s: s, m: m}
}

func (lt *leaseTester) client() *Client {
	a, b := net.Pipe()
	lt.t.Cleanup(func() { a.Close(); b.Close() })
	return newClient(lt.s, a)
}

func words(s string) [][]byte {
	var out [][]byte
	for _, w := range strings.Fields(s) {
		out = append(out, []byte(w))
	}
	return out
}

// do runs one command (words separated by spaces) and returns its raw reply.
func (lt *leaseTester) do(c *Client, cmd string) string {
	lt.t.Helper()
	return lt.doArgs(c, words(cmd)...)
}

func (lt *leaseTester) doArgs(c *Client, args ...[]byte) string {
	lt.t.Helper()
	c.out = c.out[:0]
	lt.s.execute(c, args)
	return string(c.out)
}

// token extracts the token of a CACHE.GET reply.
func token(t testing.TB, reply string) string {
	t.Helper()
	lines := strings.Split(reply, "\r\n")
	last := lines[len(lines)-2]
	if last == "$-1" || last == "_" {
		t.Fatalf("no token in %q", reply)
	}
	return last
}

func resp2Get(state, val, tok string) string {
	b := "*3\r\n+" + state + "\r\n"
	if val == "" {
		b += "$-1\r\n"
	} else {
		b += "$" + strconv.Itoa(len(val)) + "\r\n" + val + "\r\n"
	}
	if tok == "" {
		return b + "$-1\r\n"
	}
	return b + "$" + strconv.Itoa(len(tok)) + "\r\n" + tok + "\r\n"
}

func TestCacheGetReplies(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	a, b := lt.client(), lt.client()

	r := lt.do(a, "CACHE.GET k")
	tok := token(t, r)
	if r != resp2Get("LEASE", "", tok) {
		t.Fatalf("miss: %q", r)
	}
	if r := lt.do(b, "CACHE.GET k"); r != resp2Get("PENDING", "", "") {
		t.Fatalf("second miss: %q", r)
	}
	if r := lt.do(b, "CACHE.GET k NOLEASE"); r != resp2Get("MISS", "", "") {
		t.Fatalf("NOLEASE miss: %q", r)
	}
	if r := lt.do(a, "CACHE.FILL k "+tok+" hello PX 60000"); r != ":1\r\n" {
		t.Fatalf("fill: %q", r)
	}
	if r := lt.do(b, "CACHE.GET k"); r != resp2Get("HIT", "hello", "") {
		t.Fatalf("hit: %q", r)
	}
	if r := lt.do(b, "GET k"); r != "$5\r\nhello\r\n" {
		t.Fatalf("plain GET of a fill without DELTA: %q", r)
	}
	// RESP3: nulls are "_".
	lt.do(b, "HELLO 3")
	if r := lt.do(b, "CACHE.GET k"); r != "*3\r\n+HIT\r\n$5\r\nhello\r\n_\r\n" {
		t.Fatalf("RESP3 hit: %q", r)
	}
	if r := lt.do(b, "CACHE.GET nope NOLEASE"); r != "*3\r\n+MISS\r\n_\r\n_\r\n" {
		t.Fatalf("RESP3 miss: %q", r)
	}

	// Negative caching.
	tok = token(t, lt.do(a, "CACHE.GET gone"))
	if r := lt.do(a, "CACHE.NOTFOUND gone "+tok+" PX 60000"); r != ":1\r\n" {
		t.Fatalf("notfound: %q", r)
	}
	if r := lt.do(a, "CACHE.GET gone"); r != resp2Get("NOTFOUND", "", "") {
		t.Fatalf("negative hit: %q", r)
	}
	s := lt.m.Stats()
	if s.NegativeHits != 1 || s.NegativeFills != 1 || s.Fills != 2 || s.Pending != 1 {
		t.Fatalf("stats %+v", s)
	}

	// WRONGTYPE on a bloom filter.
	lt.do(a, "BF.ADD bf x")
	if r := lt.do(a, "CACHE.GET bf"); !strings.HasPrefix(r, "-WRONGTYPE") {
		t.Fatalf("bloom: %q", r)
	}
}

func TestCacheArgumentErrors(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	c := lt.client()
	for _, tc := range []struct{ cmd, want string }{
		{"CACHE.GET k LEASE 0", "-ERR LEASE must be between 1 and 600000 milliseconds"},
		{"CACHE.GET k LEASE x", "-ERR value is not an integer or out of range"},
		{"CACHE.GET k WAIT -1", "-ERR WAIT must be between 0 and 60000 milliseconds"},
		{"CACHE.GET k BETA -1", "-ERR BETA must be a non-negative number"},
		{"CACHE.GET k BETA inf", "-ERR BETA must be a non-negative number"},
		{"CACHE.GET k FOO", "-ERR syntax error"},
		{"CACHE.GET k LEASE", "-ERR syntax error"},
		{"CACHE.FILL k 0 v", "-ERR invalid lease token"},
		{"CACHE.FILL k abc v", "-ERR invalid lease token"},
		{"CACHE.FILL k 1 v GRACE 10", "-ERR GRACE needs EX or PX"},
		{"CACHE.FILL k 1 v PX 0", "-ERR invalid expire time in 'cache.fill' command"},
		{"CACHE.FILL k 1 v PX 10 PX 10", "-ERR syntax error"},
		{"CACHE.FILL k 1 v DELTA -5", "-ERR DELTA must be between 0 and 2147483647 milliseconds"},
		{"CACHE.FILL k 1 v TAGS 2 a", "-ERR syntax error"},
		{"CACHE.FILL k 1 v TAGS x", "-ERR numtags must be a non-negative integer"},
		{"CACHE.FILL k 1 v TAGS 1 a", "-ERR tags are not enabled"},
		{"CACHE.FILL k 1 v JITTER 2", "-ERR jitter must be a fraction between 0 and 1"},
		{"CACHE.NOTFOUND k 1 GRACE 10", "-ERR syntax error"},
		{"CACHE.NOTFOUND k 1 DELTA 10", "-ERR syntax error"},
		{"CACHE.RELEASE k x", "-ERR invalid lease token"},
		{"CACHE.STALE k GRACE", "-ERR syntax error"},
		{"CACHE.STALE k GRACE -1", "-ERR GRACE must be between 0 and 2147483647 milliseconds"},
		{"CACHE.GET", "-ERR wrong number of arguments for 'cache.get' command"},
		{"CACHE.FILL k 1", "-ERR wrong number of arguments for 'cache.fill' command"},
	} {
		if r := lt.do(c, tc.cmd); r != tc.want+"\r\n" {
			t.Errorf("%s: got %q, want %q", tc.cmd, r, tc.want)
		}
	}
}

func TestCacheFillStaleSet(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	c := lt.client()
	for _, write := range []string{"DEL k", "SET k other", "CACHE.STALE k", "CACHE.FILL k * forced", "EXPIRE k 100"} {
		lt.do(c, "DEL k")
		tok := token(t, lt.do(c, "CACHE.GET k"))
		lt.do(c, write)
		if r := lt.do(c, "CACHE.FILL k "+tok+" v"); r != ":0\r\n" {
			t.Errorf("fill after %q: %q", write, r)
		}
	}
	// Release, then a fill with the released token fails.
	lt.do(c, "DEL k")
	tok := token(t, lt.do(c, "CACHE.GET k"))
	if r := lt.do(c, "CACHE.RELEASE k "+tok); r != ":1\r\n" {
		t.Fatalf("release: %q", r)
	}
	if r := lt.do(c, "CACHE.RELEASE k "+tok); r != ":0\r\n" {
		t.Fatalf("second release: %q", r)
	}
	if r := lt.do(c, "CACHE.FILL k "+tok+" v"); r != ":0\r\n" {
		t.Fatalf("fill after release: %q", r)
	}
	if s := lt.m.Stats(); s.Broken != 5 || s.FillsRejected != 6 || s.Released != 1 {
		t.Fatalf("stats %+v", s)
	}
	// A refused fill (here: from a holder whose lease expired) is a write
	// command, yet it leaves the new holder's lease alone.
	b := lt.client()
	dead := token(t, lt.do(c, "CACHE.GET late LEASE 1"))
	time.Sleep(5 * time.Millisecond)
	tok = token(t, lt.do(b, "CACHE.GET late"))
	if r := lt.do(c, "CACHE.FILL late "+dead+" old"); r != ":0\r\n" {
		t.Fatalf("late fill: %q", r)
	}
	if r := lt.do(b, "CACHE.FILL late "+tok+" new"); r != ":1\r\n" {
		t.Fatalf("the new holder's fill after a refused one: %q", r)
	}
}

func TestCacheStaleWhileRevalidate(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	a, b := lt.client(), lt.client()
	lt.do(a, "CACHE.FILL k * v1 EX 60 GRACE 60000")
	if r := lt.do(a, "PTTL k"); r < ":119000\r\n" {
		t.Fatalf("TTL with grace: %q", r)
	}
	if r := lt.do(a, "CACHE.STALE k"); r != ":1\r\n" {
		t.Fatalf("stale: %q", r)
	}
	if r := lt.do(a, "GET k"); r != "$-1\r\n" {
		t.Fatalf("plain GET of a stale entry: %q", r)
	}
	r := lt.do(a, "CACHE.GET k")
	tok := token(t, r)
	if r != resp2Get("STALE", "v1", tok) {
		t.Fatalf("first stale read: %q", r)
	}
	for i := 0; i < 3; i++ {
		if r := lt.do(b, "CACHE.GET k"); r != resp2Get("STALE", "v1", "") {
			t.Fatalf("later stale read: %q", r)
		}
	}
	if r := lt.do(a, "CACHE.FILL k "+tok+" v2 EX 60 GRACE 60000"); r != ":1\r\n" {
		t.Fatalf("refresh: %q", r)
	}
	if r := lt.do(b, "CACHE.GET k"); r != resp2Get("HIT", "v2", "") {
		t.Fatalf("after refresh: %q", r)
	}
	// The entry's own grace is kept; GRACE 0 deletes; a missing key is 0.
	if r := lt.do(a, "CACHE.STALE k GRACE 0"); r != ":1\r\n" || lt.do(a, "EXISTS k") != ":0\r\n" {
		t.Fatalf("GRACE 0: %q", r)
	}
	if r := lt.do(a, "CACHE.STALE k"); r != ":0\r\n" {
		t.Fatalf("missing: %q", r)
	}
	lt.do(a, "SET plain v")
	lt.do(a, "CACHE.STALE plain GRACE 5000")
	if r := lt.do(a, "PTTL plain"); r != ":-2\r\n" {
		t.Fatalf("a stale key is a miss for plain commands: %q", r)
	}
	if r := lt.do(a, "CACHE.GET plain NOLEASE"); r != resp2Get("STALE", "v", "") {
		t.Fatalf("soft-invalidated plain key: %q", r)
	}
	if s := lt.m.Stats(); s.StaleServes != 5 || s.RefreshGranted != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestCacheEarlyRefresh: with a compute time far larger than the remaining
// TTL, XFetch hands out a refresh lease at once, to one reader only.
func TestCacheEarlyRefresh(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	c := lt.client()
	lt.do(c, "CACHE.FILL k * v PX 1000 DELTA 2147483647")
	if r := lt.do(c, "GET k"); !strings.HasPrefix(r, "$") || !strings.Contains(r, "\x00CF1") {
		t.Fatalf("a fill with DELTA is enveloped: %q", r)
	}
	tok := token(t, lt.do(c, "CACHE.GET k"))
	for i := 0; i < 5; i++ {
		if r := lt.do(c, "CACHE.GET k"); r != resp2Get("HIT", "v", "") {
			t.Fatalf("second early refresh: %q", r)
		}
	}
	if r := lt.do(c, "CACHE.GET k BETA 0"); r != resp2Get("HIT", "v", "") {
		t.Fatalf("BETA 0: %q", r)
	}
	if r := lt.do(c, "CACHE.FILL k "+tok+" v2 PX 60000 DELTA 1"); r != ":1\r\n" {
		t.Fatalf("early refresh fill: %q", r)
	}
	for i := 0; i < 50; i++ {
		if r := lt.do(c, "CACHE.GET k"); r != resp2Get("HIT", "v2", "") {
			t.Fatalf("no early refresh expected far from expiry: %q", r)
		}
	}
	if s := lt.m.Stats(); s.EarlyRefreshes != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestCacheGetWaits: a waiting reader is answered by the fill; inside EXEC
// nobody waits.
func TestCacheGetWaits(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	a, b := lt.client(), lt.client()
	tok := token(t, lt.do(a, "CACHE.GET k"))
	got := make(chan string, 1)
	go func() {
		b.out = b.out[:0]
		lt.s.execute(b, words("CACHE.GET k WAIT 10000"))
		got <- string(b.out)
	}()
	for lt.m.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	lt.do(a, "CACHE.FILL k "+tok+" v")
	if r := <-got; r != resp2Get("HIT", "v", "") {
		t.Fatalf("waiter: %q", r)
	}
	if s := lt.m.Stats(); s.Waits != 1 || s.WaitTimeouts != 0 {
		t.Fatalf("stats %+v", s)
	}

	// A wait that times out is PENDING; a wait inside EXEC is not a wait.
	lt.do(a, "DEL k")
	lt.do(a, "CACHE.GET k")
	start := time.Now()
	if r := lt.do(b, "CACHE.GET k WAIT 30"); r != resp2Get("PENDING", "", "") {
		t.Fatalf("timed-out wait: %q", r)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("waited only %v", d)
	}
	lt.do(b, "MULTI")
	lt.do(b, "CACHE.GET k WAIT 10000")
	start = time.Now()
	if r := lt.do(b, "EXEC"); r != "*1\r\n"+resp2Get("PENDING", "", "") {
		t.Fatalf("EXEC: %q", r)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("EXEC waited %v", d)
	}
	if s := lt.m.Stats(); s.Waits != 2 || s.WaitTimeouts != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestCacheGetHitAllocations: the CACHE.GET hit path allocates nothing.
func TestCacheGetHitAllocations(t *testing.T) {
	lt := newLeaseTester(t)
	c := lt.client()
	lt.do(c, "CACHE.FILL k * value PX 600000 DELTA 1 GRACE 1000")
	args := words("CACHE.GET k WAIT 100 BETA 1")
	if n := testing.AllocsPerRun(200, func() { c.out = c.out[:0]; lt.s.execute(c, args) }); n != 0 {
		t.Fatalf("CACHE.GET hit allocates %.1f times", n)
	}
}

func TestLeasesOff(t *testing.T) {
	t.Parallel()
	st, _ := store.New(store.Options{Shards: 1})
	s := New(Options{Store: st})
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := newClient(s, a)
	s.execute(c, words("CACHE.GET k"))
	if string(c.out) != "-ERR stampede protection is not enabled on this server\r\n" {
		t.Fatalf("%q", c.out)
	}
}

func TestStampedeInfo(t *testing.T) {
	t.Parallel()
	lt := newLeaseTester(t)
	lt.do(lt.client(), "CACHE.GET k")
	got := map[string]string{}
	for _, f := range StampedeInfo(lt.m) {
		got[f.Name] = f.Value
	}
	if got["stampede_leases_granted"] != "1" || got["stampede_leases_active"] != "1" || got["stampede_xfetch_beta"] != "1" {
		t.Fatalf("%v", got)
	}
}

// FuzzStampedeCommands runs CACHE.* and BF.* with arbitrary arguments: no
// input may panic a handler (the dispatcher would count it).
func FuzzStampedeCommands(f *testing.F) {
	for _, s := range []string{
		"CACHE.GET k LEASE 100 WAIT 0 BETA 2 NOLEASE",
		"CACHE.FILL k * v PX 100 GRACE 10 DELTA 5 JITTER 0.5 TAGS 1 t",
		"CACHE.NOTFOUND k * EX 1 NOJITTER",
		"CACHE.STALE k GRACE 10",
		"CACHE.RELEASE k 123",
		"BF.RESERVE b 0.01 100 EXPANSION 3",
		"BF.INSERT b CAPACITY 10 ERROR 0.1 EXPANSION 2 NOCREATE NONSCALING ITEMS a b",
		"BF.INFO b ITEMS",
		"BF.MADD b a b c",
	} {
		f.Add(s)
	}
	lt := newLeaseTester(f)
	c := lt.client()
	f.Fuzz(func(t *testing.T, cmd string) {
		args := words(cmd)
		if len(args) == 0 {
			return
		}
		name := strings.ToLower(string(args[0]))
		if !strings.HasPrefix(name, "cache.") && !strings.HasPrefix(name, "bf.") {
			return
		}
		for i, w := range args {
			if string(w) == "WAIT" && i+1 < len(args) {
				args[i+1] = []byte("0") // never block the fuzzer
			}
		}
		c.out = c.out[:0]
		lt.s.execute(c, args)
		if p := lt.s.stats.panics.Load(); p != 0 {
			t.Fatalf("%q panicked", cmd)
		}
	})
}
