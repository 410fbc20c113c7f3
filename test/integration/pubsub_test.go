package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

func init() {
	for _, n := range []string{"subscribe", "psubscribe", "unsubscribe", "punsubscribe", "publish",
		"pubsub|channels", "pubsub|numsub", "pubsub|numpat", "pubsub|help", "monitor"} {
		extraCovered[n] = true
	}
}

// TestPubSubGoRedis runs go-redis's pub/sub over RESP2 and RESP3.
func TestPubSubGoRedis(t *testing.T) {
	for _, proto := range []int{2, 3} {
		t.Run("resp"+itoa(proto), func(t *testing.T) {
			s := start(t, nil)
			ctx := context.Background()
			sub := s.client(proto)
			pub := s.client(proto)
			ps := sub.Subscribe(ctx, "news", "sport")
			defer ps.Close()
			if _, err := ps.Receive(ctx); err != nil { // first confirmation
				t.Fatal(err)
			}
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			if err := ps.PSubscribe(ctx, "w*"); err != nil {
				t.Fatal(err)
			}
			if _, err := ps.Receive(ctx); err != nil {
				t.Fatal(err)
			}
			if n := pub.Publish(ctx, "news", "hello").Val(); n != 1 {
				t.Fatalf("PUBLISH news = %d, want 1", n)
			}
			if n := pub.Publish(ctx, "weather", "rain").Val(); n != 1 {
				t.Fatalf("PUBLISH weather = %d, want 1", n)
			}
			if n := pub.Publish(ctx, "nobody", "x").Val(); n != 0 {
				t.Fatalf("PUBLISH nobody = %d, want 0", n)
			}
			msg := receiveMsg(t, ps)
			if msg.Channel != "news" || msg.Payload != "hello" || msg.Pattern != "" {
				t.Fatalf("got %+v", msg)
			}
			msg = receiveMsg(t, ps)
			if msg.Channel != "weather" || msg.Payload != "rain" || msg.Pattern != "w*" {
				t.Fatalf("got %+v", msg)
			}
			if got := pub.PubSubChannels(ctx, "*").Val(); strings.Join(got, ",") != "news,sport" {
				t.Fatalf("PUBSUB CHANNELS = %v", got)
			}
			if got := pub.PubSubChannels(ctx, "n*").Val(); strings.Join(got, ",") != "news" {
				t.Fatalf("PUBSUB CHANNELS n* = %v", got)
			}
			if got := pub.PubSubNumSub(ctx, "news", "none").Val(); got["news"] != 1 || got["none"] != 0 {
				t.Fatalf("PUBSUB NUMSUB = %v", got)
			}
			if got := pub.PubSubNumPat(ctx).Val(); got != 1 {
				t.Fatalf("PUBSUB NUMPAT = %d", got)
			}
			info := pub.Info(ctx, "stats").Val()
			if !strings.Contains(info, "pubsub_channels:2") || !strings.Contains(info, "pubsub_patterns:1") {
				t.Fatalf("INFO stats lacks pubsub counts:\n%s", info)
			}
			// A large message arrives whole.
			big := strings.Repeat("x", 1<<20)
			pub.Publish(ctx, "news", big)
			if msg = receiveMsg(t, ps); msg.Payload != big {
				t.Fatalf("big message: got %d bytes", len(msg.Payload))
			}
			if err := ps.Unsubscribe(ctx, "news"); err != nil {
				t.Fatal(err)
			}
			if err := ps.PUnsubscribe(ctx); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool {
				return pub.PubSubNumSub(ctx, "news").Val()["news"] == 0 && pub.PubSubNumPat(ctx).Val() == 0
			}, "unsubscribe")
			if n := pub.Publish(ctx, "news", "gone").Val(); n != 0 {
				t.Fatalf("PUBLISH after UNSUBSCRIBE = %d", n)
			}
			// The subscriber's connection closing drops its subscriptions.
			ps.Close()
			waitFor(t, func() bool { return len(pub.PubSubChannels(ctx, "*").Val()) == 0 }, "disconnect")
		})
	}
}

func receiveMsg(t *testing.T, ps *redis.PubSub) *redis.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		v, err := ps.Receive(ctx)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}
		if m, ok := v.(*redis.Message); ok {
			return m
		}
	}
}

// TestPubSubWire checks reply shapes and subscribed-mode rules on the wire.
func TestPubSubWire(t *testing.T) {
	s := start(t, nil)
	r := s.raw()
	r.cmd("UNSUBSCRIBE")
	if got, want := r.reply(), "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"; got != want {
		t.Fatalf("UNSUBSCRIBE with none: %q, want %q", got, want)
	}
	r.cmd("SUBSCRIBE", "a", "b")
	if got, want := r.reply()+r.reply(), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n"; got != want {
		t.Fatalf("SUBSCRIBE: %q", got)
	}
	r.cmd("GET", "k")
	if got, want := r.reply(), "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"; got != want {
		t.Fatalf("GET while subscribed: %q", got)
	}
	r.cmd("PING")
	if got, want := r.reply(), "*2\r\n$4\r\npong\r\n$0\r\n\r\n"; got != want {
		t.Fatalf("PING while subscribed: %q", got)
	}
	p := s.raw()
	p.cmd("PUBLISH", "a", "m")
	if got := p.reply(); got != ":1\r\n" {
		t.Fatalf("PUBLISH: %q", got)
	}
	if got, want := r.reply(), "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n"; got != want {
		t.Fatalf("message: %q", got)
	}
	r.cmd("RESET")
	if got := r.reply(); got != "+RESET\r\n" {
		t.Fatalf("RESET: %q", got)
	}
	r.cmd("GET", "k")
	if got := r.reply(); got != "$-1\r\n" {
		t.Fatalf("GET after RESET: %q", got)
	}

	// RESP3: pushes, and other commands are allowed while subscribed.
	r3 := s.raw()
	r3.cmd("HELLO", "3")
	r3.reply()
	r3.cmd("SUBSCRIBE", "a")
	if got, want := r3.reply(), ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n"; got != want {
		t.Fatalf("RESP3 SUBSCRIBE: %q", got)
	}
	r3.cmd("SET", "k", "v")
	if got := r3.reply(); got != "+OK\r\n" {
		t.Fatalf("RESP3 SET while subscribed: %q", got)
	}
	p.cmd("PUBLISH", "a", "m3")
	p.reply()
	if got, want := r3.reply(), ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nm3\r\n"; got != want {
		t.Fatalf("RESP3 message: %q", got)
	}
	p.cmd("PUBSUB", "NUMSUB")
	if got := p.reply(); got != "*0\r\n" {
		t.Fatalf("NUMSUB without channels: %q", got)
	}
	p.cmd("PUBSUB", "HELP")
	if got := p.reply(); !strings.HasPrefix(got, "*10\r\n") {
		t.Fatalf("PUBSUB HELP: %q", got)
	}
}

// TestPubSubACL checks channel permissions (&pattern, allchannels,
// resetchannels).
func TestPubSubACL(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	admin := s.client(2)
	want(t, admin, "OK", "acl", "setuser", "alice", "on", ">pw", "+@all", "~*", "resetchannels", "&news.*")
	want(t, admin, "OK", "acl", "setuser", "bob", "on", ">pw", "+@all", "~*", "allchannels")
	r := s.raw()
	r.cmd("AUTH", "alice", "pw")
	r.reply()
	r.cmd("PUBLISH", "news.today", "x")
	if got := r.reply(); got != ":0\r\n" {
		t.Fatalf("allowed PUBLISH: %q", got)
	}
	r.cmd("PUBLISH", "sport", "x")
	if got := r.reply(); got != "-NOPERM No permissions to access a channel\r\n" {
		t.Fatalf("denied PUBLISH: %q", got)
	}
	r.cmd("SUBSCRIBE", "news.a", "sport")
	if got := r.reply(); got != "-NOPERM No permissions to access a channel\r\n" {
		t.Fatalf("denied SUBSCRIBE: %q", got)
	}
	r.cmd("PSUBSCRIBE", "news.*")
	if got := r.reply(); !strings.HasPrefix(got, "*3\r\n$10\r\npsubscribe") {
		t.Fatalf("allowed PSUBSCRIBE: %q", got)
	}
	r.cmd("PSUBSCRIBE", "news.a*")
	if got := r.reply(); got != "-NOPERM No permissions to access a channel\r\n" {
		t.Fatalf("PSUBSCRIBE of a narrower pattern must be denied (Redis matches patterns literally): %q", got)
	}
	b := redis.NewClient(&redis.Options{Addr: s.Addr, Username: "bob", Password: "pw"})
	defer b.Close()
	if n, err := b.Publish(ctx, "anything", "x").Result(); err != nil || n != 0 {
		t.Fatalf("allchannels PUBLISH: %d %v", n, err)
	}
}

// TestPubSubSlowSubscriberClosed: a subscriber that never reads is closed
// by the pubsub output limit and the server's memory stays bounded.
func TestPubSubSlowSubscriberClosed(t *testing.T) {
	s := start(t, func(c *config.Config) { c.ClientOutputBufferLimit = "pubsub 1mb 0 0" })
	ctx := context.Background()
	r := s.raw()
	r.cmd("SUBSCRIBE", "flood")
	r.reply()
	pub := s.client(2)
	payload := strings.Repeat("p", 64<<10)
	closed := false
	for i := 0; i < 2000 && !closed; i++ {
		pub.Publish(ctx, "flood", payload)
		closed = pub.PubSubNumSub(ctx, "flood").Val()["flood"] == 0
	}
	if !closed {
		t.Fatal("a subscriber that does not read was not disconnected")
	}
	if used := infoInt(t, pub, "memory", "used_memory"); used > 64<<20 {
		t.Fatalf("used_memory %d after the flood", used)
	}
}

// TestMonitor: MONITOR shows commands in Redis's format, with passwords
// redacted and admin commands hidden.
func TestMonitor(t *testing.T) {
	s := start(t, nil)
	m := s.raw()
	m.cmd("MONITOR")
	if got := m.reply(); got != "+OK\r\n" {
		t.Fatalf("MONITOR: %q", got)
	}
	r := s.raw()
	r.cmd("SET", "k", "a b\n\x01")
	r.reply()
	r.cmd("AUTH", "secret")
	r.reply()
	r.cmd("CONFIG", "GET", "maxmemory") // admin: not shown
	r.reply()
	r.cmd("GET", "k")
	r.reply()
	line := func() string {
		t.Helper()
		got := m.reply()
		i := strings.Index(got, "[")
		if !strings.HasPrefix(got, "+") || i < 0 {
			t.Fatalf("monitor line %q", got)
		}
		return got[i:]
	}
	addr := r.c.LocalAddr().String()
	for _, want := range []string{
		`[0 ` + addr + `] "SET" "k" "a b\n\x01"` + "\r\n",
		`[0 ` + addr + `] "AUTH" "(redacted)"` + "\r\n",
		`[0 ` + addr + `] "GET" "k"` + "\r\n",
	} {
		if got := line(); got != want {
			t.Fatalf("monitor: got %q, want %q", got, want)
		}
	}
	m.cmd("RESET")
	if got := m.reply(); got != "+RESET\r\n" {
		t.Fatalf("RESET: %q", got)
	}
	r.cmd("GET", "k")
	r.reply()
	m.cmd("PING")
	if got := m.reply(); got != "+PONG\r\n" {
		t.Fatalf("after RESET the monitor must stop: %q", got)
	}
}

// TestPushesBetweenReplies: messages published while a RESP3 subscriber
// pipelines large replies arrive whole, between replies, all of them.
func TestPushesBetweenReplies(t *testing.T) {
	s := start(t, nil)
	ctx := context.Background()
	w := s.client(2)
	big := strings.Repeat("b", 200<<10)
	w.Set(ctx, "big", big, 0)
	r := resp3(t, s)
	r.cmd("SUBSCRIBE", "c")
	r.reply()
	const msgs, gets = 500, 100
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < msgs; i++ {
			w.Publish(ctx, "c", "m"+itoa(i))
		}
	}()
	var b strings.Builder
	for i := 0; i < gets; i++ {
		b.WriteString("*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
	}
	r.send(b.String())
	replies, pushes := 0, 0
	for replies < gets || pushes < msgs {
		got := r.reply()
		switch {
		case strings.HasPrefix(got, ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n"):
			if want := "m" + itoa(pushes); !strings.HasSuffix(got, "$"+itoa(len(want))+"\r\n"+want+"\r\n") {
				t.Fatalf("message %d out of order: %q", pushes, got)
			}
			pushes++
		case got == "$"+itoa(len(big))+"\r\n"+big+"\r\n":
			replies++
		default:
			t.Fatalf("unexpected frame (%d bytes): %.80q", len(got), got)
		}
		if replies == gets && pushes < msgs {
			<-done
		}
	}
}
