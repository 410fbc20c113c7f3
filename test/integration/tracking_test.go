package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/cachesrv/cachesrv/internal/config"
)

func init() {
	for _, n := range []string{"pubsub", "client|tracking", "client|caching", "client|getredir", "client|trackinginfo"} {
		extraCovered[n] = true
	}
}

func inval(keys ...string) string {
	b := ">2\r\n$10\r\ninvalidate\r\n*" + itoa(len(keys)) + "\r\n"
	for _, k := range keys {
		b += "$" + itoa(len(k)) + "\r\n" + k + "\r\n"
	}
	return b
}

func resp3(t *testing.T, s *server) *raw {
	t.Helper()
	r := s.raw()
	r.cmd("HELLO", "3")
	r.reply()
	return r
}

func expect(t *testing.T, r *raw, want string, what string) {
	t.Helper()
	if got := r.reply(); got != want {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// TestTrackingDefaultMode: RESP3 pushes for every way a key changes or
// leaves, after the read's reply and never inside a reply.
func TestTrackingDefaultMode(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Hz = 100 })
	a := resp3(t, s)
	w := s.client(2)
	ctx := context.Background()
	a.cmd("CLIENT", "TRACKING", "ON")
	expect(t, a, "+OK\r\n", "TRACKING ON")

	read := func(key string) {
		t.Helper()
		a.cmd("GET", key)
		a.reply()
	}
	w.Set(ctx, "k", "1", 0)
	read("k")
	w.Set(ctx, "k", "2", 0) // overwrite
	expect(t, a, inval("k"), "after SET")
	// Forgotten after the first invalidation: no second push until read again.
	w.Set(ctx, "k", "3", 0)
	read("k")
	w.Del(ctx, "k")
	expect(t, a, inval("k"), "after DEL")

	w.Set(ctx, "r", "1", 0)
	read("r")
	w.Rename(ctx, "r", "r2")
	expect(t, a, inval("r"), "after RENAME (source)")

	w.Set(ctx, "e", "1", 20*time.Millisecond)
	read("e")
	expect(t, a, inval("e"), "after expiry") // the active sweeper reclaims it

	w.Do(ctx, "tagset", "t1", "v", "tags", "1", "users")
	w.Do(ctx, "tagset", "t2", "v", "tags", "1", "users") // never read: not sent
	read("t1")
	if n := w.Do(ctx, "invalidate", "users").Val(); n != int64(2) {
		t.Fatalf("INVALIDATE = %v", n)
	}
	expect(t, a, inval("t1"), "after INVALIDATE of a tag (only the tracked key)")

	w.Set(ctx, "f", "1", 0)
	read("f")
	w.FlushAll(ctx)
	expect(t, a, ">2\r\n$10\r\ninvalidate\r\n_\r\n", "after FLUSHALL")

	// The client's own write is invalidated after its reply.
	read("own")
	a.cmd("SET", "own", "x")
	expect(t, a, "+OK\r\n", "own SET reply first")
	expect(t, a, inval("own"), "own SET invalidation")

	a.cmd("CLIENT", "TRACKINGINFO")
	expect(t, a, "%3\r\n$5\r\nflags\r\n~1\r\n$2\r\non\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*0\r\n", "TRACKINGINFO")
	a.cmd("CLIENT", "GETREDIR")
	expect(t, a, ":0\r\n", "GETREDIR")
	if got := infoInt(t, w, "clients", "tracking_clients"); got != 1 {
		t.Fatalf("tracking_clients = %d", got)
	}

	// NOLOOP: no invalidation for the client's own writes.
	a.cmd("CLIENT", "TRACKING", "ON", "NOLOOP")
	expect(t, a, "+OK\r\n", "NOLOOP")
	read("nl")
	a.cmd("SET", "nl", "x")
	expect(t, a, "+OK\r\n", "SET under NOLOOP")
	read("nl")
	w.Set(ctx, "nl", "y", 0)
	expect(t, a, inval("nl"), "other client's write under NOLOOP")

	a.cmd("CLIENT", "TRACKING", "OFF")
	expect(t, a, "+OK\r\n", "TRACKING OFF")
	a.cmd("CLIENT", "GETREDIR")
	expect(t, a, ":-1\r\n", "GETREDIR off")
	if got := infoInt(t, w, "clients", "tracking_clients"); got != 0 {
		t.Fatalf("tracking_clients after OFF = %d", got)
	}
}

// TestTrackingErrors checks Redis's refusals.
func TestTrackingErrors(t *testing.T) {
	s := start(t, nil)
	a := resp3(t, s)
	for _, tc := range []struct{ args, want string }{
		{"CLIENT TRACKING maybe", "-ERR syntax error\r\n"},
		{"CLIENT TRACKING ON PREFIX a", "-ERR PREFIX option requires BCAST mode to be enabled\r\n"},
		{"CLIENT TRACKING ON REDIRECT 999999", "-ERR The client ID you want redirect to does not exist\r\n"},
		{"CLIENT TRACKING ON BCAST OPTIN", "-ERR OPTIN and OPTOUT are not compatible with BCAST\r\n"},
		{"CLIENT TRACKING ON BCAST PREFIX a PREFIX ab", "-ERR Prefix 'ab' overlaps with an existing prefix 'a'. Prefixes for a single client must not overlap.\r\n"},
		{"CLIENT CACHING YES", "-ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled\r\n"},
		{"CLIENT TRACKING ON OPTIN", "+OK\r\n"},
		{"CLIENT CACHING NO", "-ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.\r\n"},
		{"CLIENT CACHING maybe", "-ERR syntax error\r\n"},
		{"CLIENT TRACKING ON OPTOUT", "-ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"},
		{"CLIENT TRACKING ON BCAST", "-ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.\r\n"},
	} {
		a.cmd(strings.Fields(tc.args)...)
		expect(t, a, tc.want, tc.args)
	}
}

// TestTrackingOptinRedirectBcast: OPTIN with CLIENT CACHING, RESP2
// delivery through REDIRECT to __redis__:invalidate, and BCAST prefixes.
func TestTrackingOptinRedirectBcast(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	w := s.client(2)

	// OPTIN: only the read after CLIENT CACHING YES is tracked.
	a := resp3(t, s)
	a.cmd("CLIENT", "TRACKING", "ON", "OPTIN")
	a.reply()
	a.cmd("GET", "x") // not tracked
	a.reply()
	a.cmd("CLIENT", "CACHING", "YES")
	a.reply()
	a.cmd("GET", "y") // tracked
	a.reply()
	w.Set(ctx, "x", "1", 0)
	w.Set(ctx, "y", "1", 0)
	expect(t, a, inval("y"), "OPTIN: only y")

	// RESP2 with REDIRECT.
	sub := s.raw()
	sub.cmd("CLIENT", "ID")
	id := strings.TrimSuffix(strings.TrimPrefix(sub.reply(), ":"), "\r\n")
	sub.cmd("SUBSCRIBE", "__redis__:invalidate")
	sub.reply()
	b := s.raw()
	b.cmd("CLIENT", "TRACKING", "ON", "REDIRECT", id)
	expect(t, b, "+OK\r\n", "REDIRECT")
	b.cmd("CLIENT", "GETREDIR")
	expect(t, b, ":"+id+"\r\n", "GETREDIR")
	b.cmd("GET", "z")
	b.reply()
	w.Set(ctx, "z", "1", 0)
	expect(t, sub, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nz\r\n", "RESP2 redirect")
	w.FlushDB(ctx)
	expect(t, sub, "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*-1\r\n", "RESP2 redirect flush")

	// BCAST: every change under the prefix, read or not.
	c := resp3(t, s)
	c.cmd("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "user:", "PREFIX", "item:")
	expect(t, c, "+OK\r\n", "BCAST")
	w.Set(ctx, "other", "1", 0)
	w.Set(ctx, "user:1", "1", 0)
	expect(t, c, inval("user:1"), "BCAST user:1")
	w.Del(ctx, "item:9", "other")
	w.Set(ctx, "item:9", "1", 0)
	expect(t, c, inval("item:9"), "BCAST item:9")
	c.cmd("CLIENT", "TRACKINGINFO")
	expect(t, c, "%3\r\n$5\r\nflags\r\n~2\r\n$2\r\non\r\n$5\r\nbcast\r\n$8\r\nredirect\r\n:0\r\n$8\r\nprefixes\r\n*2\r\n$5\r\nuser:\r\n$5\r\nitem:\r\n", "BCAST TRACKINGINFO")
	if got := infoInt(t, w, "stats", "tracking_total_prefixes"); got != 2 {
		t.Fatalf("tracking_total_prefixes = %d", got)
	}
}

// TestTrackingTableBound: over tracking-table-max-keys, keys are
// invalidated and forgotten; the table's memory is in used_memory.
func TestTrackingTableBound(t *testing.T) {
	s := start(t, func(c *config.Config) { c.TrackingTableMaxKeys = 100 })
	ctx := context.Background()
	w := s.client(2)
	a := resp3(t, s)
	a.cmd("CLIENT", "TRACKING", "ON")
	a.reply()
	before := infoInt(t, w, "memory", "used_memory")
	for i := 0; i < 100; i++ {
		a.cmd("GET", "key:"+itoa(i))
		a.reply()
	}
	if got := infoInt(t, w, "stats", "tracking_total_keys"); got != 100 {
		t.Fatalf("tracking_total_keys = %d", got)
	}
	if after := infoInt(t, w, "memory", "used_memory"); after-before < 100*64 {
		t.Fatalf("used_memory grew by %d for 100 tracked keys", after-before)
	}
	a.cmd("GET", "one-more")
	// One key is evicted from the table: its invalidation comes after the
	// GET's reply.
	if got := a.reply(); got != "_\r\n" {
		t.Fatalf("GET reply: %q", got)
	}
	if got := a.reply(); !strings.HasPrefix(got, ">2\r\n$10\r\ninvalidate\r\n*1\r\n$") || !strings.Contains(got, "key:") {
		t.Fatalf("table eviction push: %q", got)
	}
	if got := infoInt(t, w, "stats", "tracking_total_keys"); got != 100 {
		t.Fatalf("tracking_total_keys after the bound = %d", got)
	}
	w.ConfigSet(ctx, "tracking-table-max-keys", "10")
	if got := infoInt(t, w, "stats", "tracking_total_keys"); got != 10 {
		t.Fatalf("tracking_total_keys after CONFIG SET = %d", got)
	}
}

// TestTrackingRueidis: rueidis with default options (RESP3, OPTIN
// tracking) connects and its client-side cache stays coherent: a write by
// another client, an expiry, an eviction and a tag INVALIDATE each make
// the next DoCache go to the server. Then the same in BCAST mode.
func TestTrackingRueidis(t *testing.T) {
	for _, bcast := range []bool{false, true} {
		name := "default"
		if bcast {
			name = "bcast"
		}
		t.Run(name, func(t *testing.T) {
			s := start(t, func(c *config.Config) { c.Hz = 100; c.MaxMemory = 32 << 20 })
			opt := rueidis.ClientOption{InitAddress: []string{s.Addr}, DisableRetry: true}
			if bcast {
				opt.ClientTrackingOptions = []string{"PREFIX", "k", "BCAST"}
			}
			rc, err := rueidis.NewClient(opt)
			if err != nil {
				t.Fatalf("rueidis.NewClient: %v", err)
			}
			defer rc.Close()
			ctx := context.Background()
			w := s.client(2)

			cached := func(key, wantVal string, wantCached bool) {
				t.Helper()
				// The invalidation is asynchronous: wait for it to land.
				deadline := time.Now().Add(5 * time.Second)
				for {
					resp := rc.DoCache(ctx, rc.B().Get().Key(key).Cache(), time.Minute)
					v, err := resp.ToString()
					if rueidis.IsRedisNil(err) {
						v, err = "<nil>", nil
					}
					if err != nil {
						t.Fatalf("DoCache %s: %v", key, err)
					}
					if v == wantVal && resp.IsCacheHit() == wantCached {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("DoCache %s = %q hit=%v, want %q hit=%v", key, v, resp.IsCacheHit(), wantVal, wantCached)
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			// Written by another client.
			w.Set(ctx, "k1", "a", 0)
			cached("k1", "a", false)
			cached("k1", "a", true)
			w.Set(ctx, "k1", "b", 0)
			cached("k1", "b", false)
			cached("k1", "b", true)

			// Expiry (the server's active expiry; rueidis also caps by PTTL).
			w.Set(ctx, "k2", "e", 300*time.Millisecond)
			cached("k2", "e", false)
			cached("k2", "e", true)
			cached("k2", "<nil>", false)

			// Tag invalidation.
			w.Do(ctx, "tagset", "k3", "t", "tags", "1", "grp")
			cached("k3", "t", false)
			cached("k3", "t", true)
			w.Do(ctx, "invalidate", "grp")
			cached("k3", "<nil>", false)

			// Eviction: fill memory past maxmemory with other keys.
			w.Set(ctx, "k4", "ev", 0)
			cached("k4", "ev", false)
			cached("k4", "ev", true)
			big := strings.Repeat("v", 64<<10)
			for i := 0; w.Exists(ctx, "k4").Val() == 1; i++ {
				if i > 5000 {
					t.Fatal("k4 never evicted")
				}
				w.Set(ctx, "fill:"+itoa(i), big, 0)
			}
			cached("k4", "<nil>", false)
		})
	}
}
