package integration

import (
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Blocking pops (cmd_block.go). Waiting clients are detected through INFO
// blocked_clients, so the tests are driven by events; only the "times
// out" checks use short real timeouts.
func init() {
	for name, fn := range blockCases {
		commandCases[name] = fn
	}
}

// waitBlocked waits until n clients are blocked.
func waitBlocked(t *testing.T, c *redis.Client, n int) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if infoField(t, c, "clients", "blocked_clients") == strconv.Itoa(n) {
			return
		}
		time.Sleep(time.Millisecond) // polling an event the server reports
	}
	t.Fatalf("never saw %d blocked clients", n)
}

// async runs fn in a goroutine and returns a channel with its result.
func async[T any](fn func() T) <-chan T {
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	return ch
}

var blockCases = map[string]func(t *testing.T, s *server, c *redis.Client){
	"blpop": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "b", "x")
		want(t, c, []any{"b", "x"}, "blpop", "a", "b", "0")
		want(t, c, nil, "blpop", "a", "0.02") // times out
		wantErr(t, c, "ERR timeout is negative", "blpop", "a", "-1")
		wantErr(t, c, "ERR timeout is not a float or out of range", "blpop", "a", "x")
		// Fairness: two waiters get elements in the order they blocked.
		c1, c2 := s.client(2), s.client(2)
		r1 := async(func() []string { return c1.BLPop(ctx, 0, "q").Val() })
		waitBlocked(t, c, 1)
		r2 := async(func() []string { return c2.BLPop(ctx, 0, "q").Val() })
		waitBlocked(t, c, 2)
		c.RPush(ctx, "q", "first", "second")
		if v := <-r1; len(v) != 2 || v[1] != "first" {
			t.Fatalf("first waiter got %v", v)
		}
		if v := <-r2; len(v) != 2 || v[1] != "second" {
			t.Fatalf("second waiter got %v", v)
		}
		// Inside MULTI it never blocks.
		p := c.TxPipeline()
		p.BLPop(ctx, time.Minute, "empty")
		if _, err := p.Exec(ctx); err != redis.Nil {
			t.Fatalf("BLPOP in MULTI: %v", err)
		}
		c.Set(ctx, "s", "v", 0)
		wantErr(t, c, wrongType, "blpop", "s", "0")
	},
	"brpop": func(t *testing.T, s *server, c *redis.Client) {
		// RENAME onto a key a client waits on serves it.
		c3 := s.client(2)
		rn := async(func() []string { return c3.BRPop(ctx, 0, "target").Val() })
		waitBlocked(t, c, 1)
		c.RPush(ctx, "tmp", "moved")
		want(t, c, "OK", "rename", "tmp", "target")
		if v := <-rn; len(v) != 2 || v[1] != "moved" {
			t.Fatalf("BRPop after RENAME = %v", v)
		}
		c2 := s.client(2)
		r := async(func() []string { return c2.BRPop(ctx, 0, "q").Val() })
		waitBlocked(t, c, 1)
		c.LPush(ctx, "q", "v")
		if v := <-r; len(v) != 2 || v[0] != "q" || v[1] != "v" {
			t.Fatalf("BRPop = %v", v)
		}
		want(t, c, int64(0), "exists", "q")
	},
	"blmove": func(t *testing.T, s *server, c *redis.Client) {
		c2 := s.client(2)
		r := async(func() string { return c2.BLMove(ctx, "src", "dst", "LEFT", "RIGHT", 0).Val() })
		waitBlocked(t, c, 1)
		c.RPush(ctx, "src", "v")
		if v := <-r; v != "v" {
			t.Fatalf("BLMove = %q", v)
		}
		want(t, c, []any{"v"}, "lrange", "dst", "0", "-1")
		want(t, c, nil, "blmove", "src", "dst", "left", "left", "0.02")
	},
	"brpoplpush": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "src", "a", "b")
		want(t, c, "b", "brpoplpush", "src", "dst", "0")
		want(t, c, nil, "brpoplpush", "nope", "dst", "0.02")
	},
	"blmpop": func(t *testing.T, s *server, c *redis.Client) {
		c2 := s.client(2)
		r := async(func() []any {
			v, _ := c2.Do(ctx, "blmpop", "0", "2", "a", "b", "right", "count", "5").Slice()
			return v
		})
		waitBlocked(t, c, 1)
		c.RPush(ctx, "b", "1", "2")
		if v := <-r; len(v) != 2 || v[0] != "b" || len(v[1].([]any)) != 2 {
			t.Fatalf("BLMPOP = %v", v)
		}
		want(t, c, nil, "blmpop", "0.02", "1", "a", "left")
	},
	"bzpopmin": func(t *testing.T, s *server, c *redis.Client) {
		c2 := s.client(2)
		r := async(func() *redis.ZWithKey { return c2.BZPopMin(ctx, 0, "z").Val() })
		waitBlocked(t, c, 1)
		c.ZAdd(ctx, "z", redis.Z{Score: 2, Member: "b"})
		if v := <-r; v == nil || v.Key != "z" || v.Member != "b" || v.Score != 2 {
			t.Fatalf("BZPopMin = %v", v)
		}
		want(t, c, nil, "bzpopmin", "z", "0.02")
	},
	"bzpopmax": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
		want(t, c, []any{"z", "b", "2"}, "bzpopmax", "nope", "z", "0")
	},
}

// TestBlockedClientKilledAndShutdown checks that CLIENT KILL and server
// shutdown release blocked clients.
func TestBlockedClientKilledAndShutdown(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	b := s.client(2)
	id := b.ClientID(ctx).Val()
	r := async(func() error { return b.BLPop(ctx, 0, "q").Err() })
	waitBlocked(t, c, 1)
	if n := c.ClientKillByFilter(ctx, "ID", strconv.FormatInt(id, 10)).Val(); n != 1 {
		t.Fatalf("CLIENT KILL = %d", n)
	}
	if err := <-r; err == nil {
		t.Fatal("killed BLPOP returned no error")
	}
	waitBlocked(t, c, 0)
	// A client blocked forever does not hold up shutdown: the harness's
	// cleanup stops the server and fails when it does not stop.
	b2 := s.client(2)
	go b2.BLPop(ctx, 0, "q2")
	waitBlocked(t, c, 1)
}

// TestCollectionNotifications: l h s z keyspace events for collection writes.
func TestCollectionNotifications(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	w := s.client(2)
	sub := s.client(3)
	want(t, w, "OK", "config", "set", "notify-keyspace-events", "Elhsz")
	ps := sub.PSubscribe(ctx, "__keyevent@*__:*")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		for {
			v, err := ps.ReceiveTimeout(ctx, 5*time.Second)
			if err != nil {
				t.Fatalf("receive: %v", err)
			}
			if m, ok := v.(*redis.Message); ok {
				return m.Channel + " " + m.Payload
			}
		}
	}
	for _, step := range []struct {
		cmd  []any
		want string
	}{
		{[]any{"hset", "h", "a", "1"}, "__keyevent@0__:hset h"},
		{[]any{"rpush", "l", "a", "b"}, "__keyevent@0__:rpush l"},
		{[]any{"lpop", "l"}, "__keyevent@0__:lpop l"},
		{[]any{"sadd", "s", "a"}, "__keyevent@0__:sadd s"},
		{[]any{"zadd", "z", "1", "a"}, "__keyevent@0__:zadd z"},
	} {
		w.Do(ctx, step.cmd...)
		if got := next(); got != step.want {
			t.Fatalf("%v: event %q, want %q", step.cmd, got, step.want)
		}
	}
}
