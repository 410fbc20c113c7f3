package integration

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

// TestKeyspaceNotifications: off by default, CONFIG SET-able, Redis's
// channel and event names, and the i class for tag invalidations.
func TestKeyspaceNotifications(t *testing.T) {
	s := start(t, func(c *config.Config) { c.Hz = 100; c.MaxMemory = 16 << 20 })
	ctx := context.Background()
	w := s.client(2)
	sub := s.client(3)
	ps := sub.PSubscribe(ctx, "__key*__:*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for {
			v, err := ps.Receive(ctx)
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if m, ok := v.(*redis.Message); ok {
				return m.Channel + " " + m.Payload
			}
		}
	}
	// Off by default: nothing is published.
	w.Set(ctx, "quiet", "1", 0)
	if got := w.ConfigGet(ctx, "notify-keyspace-events").Val()["notify-keyspace-events"]; got != "" {
		t.Fatalf("default notify-keyspace-events = %q", got)
	}
	wantErr(t, w, "ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdni'.",
		"config", "set", "notify-keyspace-events", "KEQ")
	want(t, w, "OK", "config", "set", "notify-keyspace-events", "KEA")
	if got := w.ConfigGet(ctx, "notify-keyspace-events").Val()["notify-keyspace-events"]; got != "AKE" {
		t.Fatalf("canonical form = %q, want AKE", got)
	}
	expectEv := func(want ...string) {
		t.Helper()
		for _, wnt := range want {
			if got := next(); got != wnt {
				t.Fatalf("event %q, want %q", got, wnt)
			}
		}
	}
	w.Set(ctx, "k", "v", 0)
	expectEv("__keyspace@0__:k set", "__keyevent@0__:set k")
	w.Incr(ctx, "n")
	expectEv("__keyspace@0__:n incrby", "__keyevent@0__:incrby n")
	w.Expire(ctx, "k", time.Hour)
	expectEv("__keyspace@0__:k expire", "__keyevent@0__:expire k")
	w.Rename(ctx, "k", "k2")
	// cachesrv sends rename_to before rename_from (Redis: the reverse).
	expectEv("__keyspace@0__:k2 rename_to", "__keyevent@0__:rename_to k2", "__keyspace@0__:k rename_from", "__keyevent@0__:rename_from k")
	w.Del(ctx, "k2", "missing")
	expectEv("__keyspace@0__:k2 del", "__keyevent@0__:del k2")
	w.Set(ctx, "e", "v", 20*time.Millisecond)
	expectEv("__keyspace@0__:e set", "__keyevent@0__:set e", "__keyspace@0__:e expire", "__keyevent@0__:expire e",
		"__keyspace@0__:e expired", "__keyevent@0__:expired e")

	// Only the expiry class, keyevent channel, plus new keys.
	want(t, w, "OK", "config", "set", "notify-keyspace-events", "Exn")
	w.Set(ctx, "fresh", "v", 0)
	w.Set(ctx, "fresh", "v2", 0) // not new: no event
	w.Set(ctx, "x", "v", 20*time.Millisecond)
	expectEv("__keyevent@0__:new fresh", "__keyevent@0__:new x", "__keyevent@0__:expired x")

	// cachesrv's own class: tag invalidations.
	want(t, w, "OK", "config", "set", "notify-keyspace-events", "Ki")
	w.Do(ctx, "tagset", "t1", "v", "tags", "1", "grp")
	w.Do(ctx, "invalidate", "grp")
	expectEv("__keyspace@0__:t1 invalidated")
	w.Do(ctx, "tagset", "t2", "v", "tags", "1", "grp")
	w.Do(ctx, "softinvalidate", "1000", "grp")
	expectEv("__keyspace@0__:t2 softinvalidated")

	// Eviction.
	want(t, w, "OK", "config", "set", "notify-keyspace-events", "Ee")
	big := make([]byte, 64<<10)
	for i := 0; i < 1000; i++ {
		w.Set(ctx, "fill:"+itoa(i), big, 0)
	}
	if got := next(); len(got) < 22 || got[:22] != "__keyevent@0__:evicted" {
		t.Fatalf("eviction event %q", got)
	}
}
