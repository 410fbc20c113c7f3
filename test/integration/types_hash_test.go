package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Hash commands (cmd_hash.go) through go-redis.
func init() {
	for name, fn := range hashCases {
		commandCases[name] = fn
	}
}

const wrongType = "WRONGTYPE Operation against a key holding the wrong kind of value"

var hashCases = map[string]func(t *testing.T, s *server, c *redis.Client){
	"hset": func(t *testing.T, s *server, c *redis.Client) {
		if n := c.HSet(ctx, "h", "a", "1", "b", "2").Val(); n != 2 {
			t.Fatalf("HSet = %d", n)
		}
		want(t, c, int64(1), "hset", "h", "a", "3", "c", "4")
		want(t, c, "3", "hget", "h", "a")
		wantErr(t, c, "ERR wrong number of arguments for 'hset' command", "hset", "h", "a", "1", "b")
		want(t, c, "OK", "set", "s", "x")
		wantErr(t, c, wrongType, "hset", "s", "a", "1")
		wantErr(t, c, wrongType, "get", "h")
		want(t, c, "hash", "type", "h")
		want(t, c, "listpack", "object", "encoding", "h")
		// DEL, COPY, RENAME, MOVE of a hash.
		want(t, c, int64(1), "copy", "h", "h2")
		want(t, c, []any{"a", "3", "b", "2", "c", "4"}, "hgetall", "h2")
		want(t, c, "OK", "rename", "h2", "h3")
		want(t, c, int64(1), "move", "h3", "1")
		want(t, c, int64(0), "exists", "h3")
		want(t, c, int64(1), "del", "h")
		want(t, c, int64(0), "hlen", "h")
	},
	"hsetnx": func(t *testing.T, s *server, c *redis.Client) {
		if !c.HSetNX(ctx, "h", "a", "1").Val() {
			t.Fatal("HSetNX on a new field failed")
		}
		want(t, c, int64(0), "hsetnx", "h", "a", "2")
		want(t, c, "1", "hget", "h", "a")
	},
	"hmset": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "hmset", "h", "a", "1", "b", "2")
		want(t, c, []any{"1", "2", nil}, "hmget", "h", "a", "b", "x")
	},
	"hget": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "hget", "h", "a")
		c.HSet(ctx, "h", "a", "v")
		if v := c.HGet(ctx, "h", "a").Val(); v != "v" {
			t.Fatalf("HGet = %q", v)
		}
		want(t, c, nil, "hget", "h", "b")
	},
	"hmget": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, []any{nil, nil}, "hmget", "h", "a", "b")
		c.HSet(ctx, "h", "b", "2")
		want(t, c, []any{nil, "2"}, "hmget", "h", "a", "b")
	},
	"hdel": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		want(t, c, int64(1), "hdel", "h", "a", "x")
		if n := c.HDel(ctx, "h", "b").Val(); n != 1 {
			t.Fatalf("HDel = %d", n)
		}
		want(t, c, int64(0), "exists", "h") // the last field took the hash
	},
	"hexists": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1")
		want(t, c, int64(1), "hexists", "h", "a")
		want(t, c, int64(0), "hexists", "h", "b")
		want(t, c, int64(0), "hexists", "nope", "b")
	},
	"hlen": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		if n := c.HLen(ctx, "h").Val(); n != 2 {
			t.Fatalf("HLen = %d", n)
		}
	},
	"hstrlen": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "hello")
		want(t, c, int64(5), "hstrlen", "h", "a")
		want(t, c, int64(0), "hstrlen", "h", "b")
	},
	"hkeys": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		want(t, c, []any{"a", "b"}, "hkeys", "h")
		want(t, c, []any{}, "hkeys", "nope")
	},
	"hvals": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		want(t, c, []any{"1", "2"}, "hvals", "h")
	},
	"hgetall": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		m := c.HGetAll(ctx, "h").Val()
		if len(m) != 2 || m["a"] != "1" || m["b"] != "2" {
			t.Fatalf("HGetAll = %v", m)
		}
		want(t, c, []any{}, "hgetall", "nope")
	},
	"hincrby": func(t *testing.T, s *server, c *redis.Client) {
		if n := c.HIncrBy(ctx, "h", "n", 5).Val(); n != 5 {
			t.Fatalf("HIncrBy = %d", n)
		}
		want(t, c, int64(3), "hincrby", "h", "n", "-2")
		c.HSet(ctx, "h", "s", "abc", "big", "9223372036854775807")
		wantErr(t, c, "ERR hash value is not an integer", "hincrby", "h", "s", "1")
		wantErr(t, c, "ERR increment or decrement would overflow", "hincrby", "h", "big", "1")
		wantErr(t, c, "ERR value is not an integer or out of range", "hincrby", "h", "n", "x")
	},
	"hincrbyfloat": func(t *testing.T, s *server, c *redis.Client) {
		if f := c.HIncrByFloat(ctx, "h", "f", 1.5).Val(); f != 1.5 {
			t.Fatalf("HIncrByFloat = %v", f)
		}
		want(t, c, "2", "hincrbyfloat", "h", "f", "0.5")
		c.HSet(ctx, "h", "s", "abc")
		wantErr(t, c, "ERR hash value is not a float", "hincrbyfloat", "h", "s", "1")
		wantErr(t, c, "ERR value is not a valid float", "hincrbyfloat", "h", "f", "x")
	},
	"hrandfield": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "hrandfield", "h")
		want(t, c, []any{}, "hrandfield", "h", "3")
		c.HSet(ctx, "h", "a", "1", "b", "2")
		if v := c.HRandField(ctx, "h", 5).Val(); len(v) != 2 {
			t.Fatalf("HRandField 5 = %v", v)
		}
		v, _ := do(t, c, "hrandfield", "h", "-5", "withvalues")
		if len(v.([]any)) != 10 { // RESP2: flat field, value pairs
			t.Fatalf("HRANDFIELD -5 WITHVALUES = %v", v)
		}
		wantErr(t, c, "ERR syntax error", "hrandfield", "h", "1", "x")
	},
	"hscan": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2", "cc", "3")
		keys, cur := c.HScan(ctx, "h", 0, "?", 10).Val()
		if cur != 0 || len(keys) != 4 {
			t.Fatalf("HScan = %v %d", keys, cur)
		}
		want(t, c, []any{"0", []any{"a", "b", "cc"}}, "hscan", "h", "0", "novalues")
		wantErr(t, c, "ERR invalid cursor", "hscan", "h", "x")
	},
}

func init() {
	for name, fn := range hashTTLCases {
		commandCases[name] = fn
	}
}

// Per-field expiry (Redis 7.4 reply codes). Expiry itself is checked with
// deadlines in the past; the passing of time is covered by the protocol
// package's model test on a fake clock.
var hashTTLCases = map[string]func(t *testing.T, s *server, c *redis.Client){
	"hexpire": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2", "c", "3")
		want(t, c, []any{int64(1), int64(-2)}, "hexpire", "h", "100", "fields", "2", "a", "nope")
		want(t, c, []any{int64(0)}, "hexpire", "h", "100", "nx", "fields", "1", "a")
		want(t, c, []any{int64(0)}, "hexpire", "h", "50", "gt", "fields", "1", "a")
		want(t, c, []any{int64(1)}, "hexpire", "h", "50", "lt", "fields", "1", "a")
		want(t, c, []any{int64(0)}, "hexpire", "h", "50", "xx", "fields", "1", "b")
		want(t, c, []any{int64(2)}, "hexpire", "h", "0", "fields", "1", "b")
		want(t, c, []any{"a", "c"}, "hkeys", "h")
		want(t, c, []any{int64(-2), int64(-2)}, "hexpire", "nope", "10", "fields", "2", "a", "b")
		wantErr(t, c, "ERR Mandatory argument FIELDS is missing or not at the right position", "hexpire", "h", "10", "nx", "xx", "fields", "1", "a")
		wantErr(t, c, "ERR Parameter `numFields` should be greater than 0", "hexpire", "h", "10", "fields", "0", "a")
		wantErr(t, c, "ERR The `numfields` parameter must match the number of arguments", "hexpire", "h", "10", "fields", "2", "a")
		wantErr(t, c, "ERR invalid expire time in 'hexpire' command", "hexpire", "h", "-1", "fields", "1", "a")
		c.Set(ctx, "s", "v", 0)
		wantErr(t, c, wrongType, "hexpire", "s", "10", "fields", "1", "a")
		// The hash goes with its last field.
		want(t, c, []any{int64(2), int64(2)}, "hexpire", "h", "0", "fields", "2", "a", "c")
		want(t, c, int64(0), "exists", "h")
		if v := c.HExpire(ctx, "nope", time.Minute, "a").Val(); len(v) != 1 || v[0] != -2 {
			t.Fatalf("HExpire = %v", v)
		}
	},
	"hpexpire": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1")
		want(t, c, []any{int64(1)}, "hpexpire", "h", "100000", "fields", "1", "a")
		ttl := c.HPTTL(ctx, "h", "a").Val()
		if len(ttl) != 1 || ttl[0] < 99000 || ttl[0] > 100000 {
			t.Fatalf("HPTTL = %v", ttl)
		}
	},
	"hexpireat": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		at := time.Now().Add(time.Hour).Unix()
		want(t, c, []any{int64(1)}, "hexpireat", "h", fmt.Sprint(at), "fields", "1", "a")
		want(t, c, []any{at, int64(-1), int64(-2)}, "hexpiretime", "h", "fields", "3", "a", "b", "x")
		want(t, c, []any{int64(2)}, "hexpireat", "h", "1", "fields", "1", "b") // in the past
		want(t, c, nil, "hget", "h", "b")
	},
	"hpexpireat": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1")
		at := time.Now().Add(time.Hour).UnixMilli()
		want(t, c, []any{int64(1)}, "hpexpireat", "h", fmt.Sprint(at), "fields", "1", "a")
		want(t, c, []any{at}, "hpexpiretime", "h", "fields", "1", "a")
	},
	"httl": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		c.Do(ctx, "hexpire", "h", "100", "fields", "1", "a")
		want(t, c, []any{int64(100), int64(-1), int64(-2)}, "httl", "h", "fields", "3", "a", "b", "x")
		if v := c.HTTL(ctx, "h", "a").Val(); len(v) != 1 || v[0] != 100 {
			t.Fatalf("HTTL = %v", v)
		}
	},
	"hpttl": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, []any{int64(-2)}, "hpttl", "nope", "fields", "1", "a")
		c.HSet(ctx, "h", "a", "1")
		want(t, c, []any{int64(-1)}, "hpttl", "h", "fields", "1", "a")
	},
	"hexpiretime": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1")
		want(t, c, []any{int64(-1)}, "hexpiretime", "h", "fields", "1", "a")
	},
	"hpexpiretime": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1")
		want(t, c, []any{int64(-1), int64(-2)}, "hpexpiretime", "h", "fields", "2", "a", "b")
	},
	"hpersist": func(t *testing.T, s *server, c *redis.Client) {
		c.HSet(ctx, "h", "a", "1", "b", "2")
		c.Do(ctx, "hexpire", "h", "100", "fields", "1", "a")
		want(t, c, []any{int64(1), int64(-1), int64(-2)}, "hpersist", "h", "fields", "3", "a", "b", "x")
		want(t, c, []any{int64(-1)}, "httl", "h", "fields", "1", "a")
		// HSET of a field clears its TTL too.
		c.Do(ctx, "hexpire", "h", "100", "fields", "1", "b")
		c.HSet(ctx, "h", "b", "3")
		want(t, c, []any{int64(-1)}, "httl", "h", "fields", "1", "b")
	},
}
