package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

// oneLoop starts a server whose plain TCP clients all share one event
// loop, so that a client holding the loop would stall every other one.
func oneLoop(t *testing.T, mod func(*config.Config)) *server {
	t.Helper()
	return start(t, func(cfg *config.Config) {
		cfg.EventLoops = 1
		if mod != nil {
			mod(cfg)
		}
	})
}

// TestEventLoopServes checks that plain TCP clients are served by the
// event loops (INFO counts them) and that a pipeline gets all its replies.
func TestEventLoopServes(t *testing.T) {
	s := oneLoop(t, nil)
	rdb := s.client(2)
	ctx := context.Background()
	pipe := rdb.Pipeline()
	for i := range 500 {
		pipe.Set(ctx, "k"+itoa(i), itoa(i), 0)
		pipe.Get(ctx, "k"+itoa(i))
	}
	cmds, err := pipe.Exec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if got := cmds[2*i+1].(*redis.StringCmd).Val(); got != itoa(i) {
			t.Fatalf("GET k%d = %q", i, got)
		}
	}
	if n := infoInt(t, rdb, "stats", "event_loops"); n != 1 {
		t.Fatalf("event_loops = %d, want 1", n)
	}
	if n := infoInt(t, rdb, "stats", "event_loop_ready_events"); n == 0 {
		t.Fatal("no connection was served by the event loop")
	}
	if n := infoInt(t, rdb, "stats", "event_loop_handoffs"); n != 0 {
		t.Fatalf("event_loop_handoffs = %d for plain commands, want 0", n)
	}
	// A command with thousands of arguments runs long: it leaves the loop.
	keys := make([]string, 5000)
	for i := range keys {
		keys[i] = "k" + itoa(i)
	}
	if n, err := rdb.Exists(ctx, keys...).Result(); err != nil || n != 500 {
		t.Fatalf("EXISTS of 5000 keys = %d, %v", n, err)
	}
	if n := infoInt(t, rdb, "stats", "event_loop_handoffs"); n != 1 {
		t.Fatalf("event_loop_handoffs = %d after a 5001-argument command, want 1", n)
	}
}

// TestEventLoopBlockedClientFreesLoop: a client blocked in BLPOP or
// sleeping in DEBUG SLEEP moves to a goroutine, and the loop keeps serving
// the others (which share it: one loop).
func TestEventLoopBlockedClientFreesLoop(t *testing.T) {
	s := oneLoop(t, nil)
	blocked := s.raw()
	blocked.cmd("BLPOP", "q", "10")
	sleeper := s.raw()
	sleeper.cmd("DEBUG", "SLEEP", "2")
	other := s.raw()
	start := time.Now()
	other.cmd("PING")
	if got := other.reply(); got != "+PONG\r\n" {
		t.Fatalf("PING = %q", got)
	}
	other.cmd("RPUSH", "q", "x")
	if got := other.reply(); got != ":1\r\n" {
		t.Fatalf("RPUSH = %q", got)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the loop was held for %v by a blocked client", d)
	}
	if got := blocked.reply(); got != "*2\r\n$1\r\nq\r\n$1\r\nx\r\n" {
		t.Fatalf("BLPOP = %q", got)
	}
	if got := sleeper.reply(); got != "+OK\r\n" {
		t.Fatalf("DEBUG SLEEP = %q", got)
	}
	// The handed-off clients keep working.
	blocked.cmd("GET", "q")
	if got := blocked.reply(); got != "$-1\r\n" {
		t.Fatalf("GET after BLPOP = %q", got)
	}
	rdb := s.client(2)
	if n := infoInt(t, rdb, "stats", "event_loop_handoffs"); n < 2 {
		t.Fatalf("event_loop_handoffs = %d, want >= 2", n)
	}
}

// TestEventLoopPushToIdleClient: a subscribed client and a tracking
// client, both idle on the loop, receive what the server pushes.
func TestEventLoopPushToIdleClient(t *testing.T) {
	s := oneLoop(t, nil)
	sub := s.raw()
	sub.cmd("SUBSCRIBE", "ch")
	if got := sub.reply(); !strings.HasPrefix(got, "*3\r\n$9\r\nsubscribe\r\n") {
		t.Fatalf("SUBSCRIBE = %q", got)
	}
	trk := s.raw()
	trk.cmd("HELLO", "3")
	trk.reply()
	trk.cmd("CLIENT", "TRACKING", "ON")
	if got := trk.reply(); got != "+OK\r\n" {
		t.Fatalf("CLIENT TRACKING = %q", got)
	}
	trk.cmd("GET", "tk")
	if got := trk.reply(); got != "_\r\n" {
		t.Fatalf("GET = %q", got)
	}
	pub := s.raw()
	pub.cmd("PUBLISH", "ch", "hello")
	if got := pub.reply(); got != ":1\r\n" {
		t.Fatalf("PUBLISH = %q", got)
	}
	if got := sub.reply(); got != "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n" {
		t.Fatalf("message = %q", got)
	}
	pub.cmd("SET", "tk", "v")
	pub.reply()
	if got := trk.reply(); got != ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\ntk\r\n" {
		t.Fatalf("invalidation = %q", got)
	}
	// Both keep working after the push.
	trk.cmd("GET", "tk")
	if got := trk.reply(); got != "$1\r\nv\r\n" {
		t.Fatalf("GET after invalidation = %q", got)
	}
	sub.cmd("PING")
	if got := sub.reply(); got != "*2\r\n$4\r\npong\r\n$0\r\n\r\n" {
		t.Fatalf("PING while subscribed = %q", got)
	}
}

// TestEventLoopClientKillAndIdle: CLIENT KILL closes a client the loop
// owns, and the idle timeout closes idle loop clients.
func TestEventLoopClientKillAndIdle(t *testing.T) {
	s := oneLoop(t, func(cfg *config.Config) { cfg.Timeout = time.Second })
	victim := s.raw()
	victim.cmd("CLIENT", "ID")
	id := strings.TrimSpace(strings.TrimPrefix(victim.reply(), ":"))
	killer := s.raw()
	killer.cmd("CLIENT", "KILL", "ID", id)
	if got := killer.reply(); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL = %q", got)
	}
	victim.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := victim.rd.ReadByte(); err == nil {
		t.Fatal("killed client still open")
	}
	// killer sends nothing more: the idle timeout (1 s; the loop checks
	// once a second) closes it.
	killer.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := killer.rd.ReadByte(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("idle client not closed by the timeout: %v", err)
	}
}

// TestEventLoopSlowReader: a client that pipelines more than the socket
// takes and does not read is handed to a goroutine, whose output limits
// close it; the loop keeps serving others meanwhile.
func TestEventLoopSlowReader(t *testing.T) {
	s := oneLoop(t, func(cfg *config.Config) { cfg.ClientOutputTimeout = time.Second })
	rdb := s.client(2)
	ctx := context.Background()
	if err := rdb.Set(ctx, "big", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	slow := s.raw()
	var b strings.Builder
	for range 64 {
		b.WriteString("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
	}
	slow.send(b.String()) // 64 MiB of replies, never read
	start := time.Now()
	for range 20 {
		if err := rdb.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("PINGs took %v while a slow reader was pending", d)
	}
	deadline := time.Now().Add(10 * time.Second)
	for infoInt(t, rdb, "stats", "client_output_buffer_limit_disconnections") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("slow reader not closed by client-output-timeout")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
