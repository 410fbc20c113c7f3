package integration

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestKeymissEvents: with the m class, every read of a missing key that
// counts in keyspace_misses publishes keymiss (Redis 6+), EXISTS included
// as in Redis; writes and reads of present keys do not, and nothing is sent
// without m.
func TestKeymissEvents(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	ctx := context.Background()
	w := s.client(2)
	ps := s.client(2).Subscribe(ctx, "__keyevent@0__:keymiss", "__keyspace@0__:ghost")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		v, err := ps.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		return v.Channel + " " + v.Payload
	}
	w.Get(ctx, "before") // m not enabled yet: nothing
	want(t, w, "OK", "config", "set", "notify-keyspace-events", "KEm")
	w.Set(ctx, "here", "v", 0)
	w.Get(ctx, "here")     // a hit: nothing
	w.Del(ctx, "ghost")    // a write: nothing
	w.Exists(ctx, "ghost") // a read miss, as in Redis (lookupKeyRead)
	w.Get(ctx, "ghost")
	w.HGet(ctx, "ghost2", "f")
	for _, wnt := range []string{"__keyspace@0__:ghost keymiss", "__keyevent@0__:keymiss ghost",
		"__keyspace@0__:ghost keymiss", "__keyevent@0__:keymiss ghost", "__keyevent@0__:keymiss ghost2"} {
		if got := next(); got != wnt {
			t.Fatalf("event %q, want %q", got, wnt)
		}
	}
	want(t, w, "OK", "config", "set", "notify-keyspace-events", "KEA") // A excludes m, as in Redis
	w.Get(ctx, "ghost3")
	w.Set(ctx, "marker", "v", 0)
	ctx2, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if m, err := ps.ReceiveMessage(ctx2); err == nil {
		t.Fatalf("keymiss without m: %v", m)
	} else if err == redis.Nil {
		t.Fatal(err)
	}
}
