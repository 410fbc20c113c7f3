package integration

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// List commands (cmd_list.go) through go-redis.
func init() {
	for name, fn := range listCases {
		commandCases[name] = fn
	}
}

var listCases = map[string]func(t *testing.T, s *server, c *redis.Client){
	"lpush": func(t *testing.T, s *server, c *redis.Client) {
		if n := c.LPush(ctx, "l", "a", "b").Val(); n != 2 {
			t.Fatalf("LPush = %d", n)
		}
		want(t, c, []any{"b", "a"}, "lrange", "l", "0", "-1")
		// Many pushes grow the gap buffer several times.
		for i := 0; i < 500; i++ {
			c.LPush(ctx, "big", i)
		}
		want(t, c, []any{"499", "498"}, "lrange", "big", "0", "1")
		want(t, c, "list", "type", "l")
		want(t, c, "OK", "set", "s", "x")
		wantErr(t, c, wrongType, "lpush", "s", "a")
		wantErr(t, c, wrongType, "get", "l")
	},
	"rpush": func(t *testing.T, s *server, c *redis.Client) {
		for i := 0; i < 300; i++ {
			c.RPush(ctx, "l", i)
		}
		want(t, c, []any{"0", "1"}, "lrange", "l", "0", "1")
		want(t, c, []any{"299"}, "lrange", "l", "-1", "-1")
		want(t, c, int64(300), "llen", "l")
	},
	"lpushx": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(0), "lpushx", "l", "a")
		want(t, c, int64(0), "exists", "l")
		c.RPush(ctx, "l", "x")
		if n := c.LPushX(ctx, "l", "a").Val(); n != 2 {
			t.Fatalf("LPushX = %d", n)
		}
	},
	"rpushx": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(0), "rpushx", "l", "a")
		c.RPush(ctx, "l", "x")
		want(t, c, int64(3), "rpushx", "l", "a", "b")
		want(t, c, []any{"x", "a", "b"}, "lrange", "l", "0", "-1")
	},
	"lpop": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "lpop", "l")
		c.RPush(ctx, "l", "a", "b", "c")
		if v := c.LPop(ctx, "l").Val(); v != "a" {
			t.Fatalf("LPop = %q", v)
		}
		want(t, c, []any{"b", "c"}, "lpop", "l", "5")
		want(t, c, int64(0), "exists", "l")
		want(t, c, nil, "lpop", "l", "2")
		wantErr(t, c, "ERR value is out of range, must be positive", "lpop", "l", "-1")
	},
	"rpop": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "l", "a", "b", "c")
		want(t, c, "c", "rpop", "l")
		if v := c.RPopCount(ctx, "l", 2).Val(); len(v) != 2 || v[0] != "b" || v[1] != "a" {
			t.Fatalf("RPopCount = %v", v)
		}
	},
	"llen": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(0), "llen", "l")
		c.RPush(ctx, "l", "a", "b")
		if n := c.LLen(ctx, "l").Val(); n != 2 {
			t.Fatalf("LLen = %d", n)
		}
	},
	"lrange": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "l", "a", "b", "c", "d")
		if v := c.LRange(ctx, "l", 1, 2).Val(); len(v) != 2 || v[0] != "b" {
			t.Fatalf("LRange = %v", v)
		}
		want(t, c, []any{"c", "d"}, "lrange", "l", "-2", "100")
		want(t, c, []any{}, "lrange", "l", "3", "1")
		wantErr(t, c, "ERR value is not an integer", "lrange", "l", "x", "1")
	},
	"lindex": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "l", "a", "b")
		want(t, c, "b", "lindex", "l", "-1")
		want(t, c, nil, "lindex", "l", "5")
	},
	"lset": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR no such key", "lset", "l", "0", "x")
		c.RPush(ctx, "l", "a", "b")
		want(t, c, "OK", "lset", "l", "-1", "z")
		want(t, c, []any{"a", "z"}, "lrange", "l", "0", "-1")
		wantErr(t, c, "ERR index out of range", "lset", "l", "5", "x")
	},
	"linsert": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(0), "linsert", "l", "before", "a", "x")
		c.RPush(ctx, "l", "a", "b")
		want(t, c, int64(3), "linsert", "l", "after", "a", "x")
		want(t, c, int64(-1), "linsert", "l", "before", "nope", "x")
		want(t, c, []any{"a", "x", "b"}, "lrange", "l", "0", "-1")
		wantErr(t, c, "ERR syntax error", "linsert", "l", "middle", "a", "x")
	},
	"lrem": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "l", "a", "b", "a", "c", "a")
		want(t, c, int64(1), "lrem", "l", "-1", "a")
		want(t, c, []any{"a", "b", "a", "c"}, "lrange", "l", "0", "-1")
		want(t, c, int64(2), "lrem", "l", "0", "a")
		want(t, c, []any{"b", "c"}, "lrange", "l", "0", "-1")
	},
	"ltrim": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "l", "a", "b", "c", "d")
		want(t, c, "OK", "ltrim", "l", "1", "-2")
		want(t, c, []any{"b", "c"}, "lrange", "l", "0", "-1")
		want(t, c, "OK", "ltrim", "l", "5", "10")
		want(t, c, int64(0), "exists", "l")
	},
	"lpos": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "l", "a", "b", "c", "1", "2", "3", "c", "c")
		want(t, c, int64(2), "lpos", "l", "c")
		want(t, c, int64(6), "lpos", "l", "c", "rank", "2")
		want(t, c, int64(7), "lpos", "l", "c", "rank", "-1")
		want(t, c, []any{int64(2), int64(6)}, "lpos", "l", "c", "count", "2")
		want(t, c, []any{int64(2), int64(6), int64(7)}, "lpos", "l", "c", "count", "0")
		want(t, c, nil, "lpos", "l", "c", "maxlen", "2")
		wantErr(t, c, "ERR RANK can't be zero", "lpos", "l", "c", "rank", "0")
	},
	"lmove": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "a", "1", "2")
		if v := c.LMove(ctx, "a", "b", "LEFT", "RIGHT").Val(); v != "1" {
			t.Fatalf("LMove = %q", v)
		}
		want(t, c, "2", "lmove", "a", "a", "right", "left")
		want(t, c, nil, "lmove", "nope", "b", "left", "left")
		c.Set(ctx, "s", "x", 0)
		wantErr(t, c, wrongType, "lmove", "a", "s", "left", "left")
		want(t, c, []any{"2"}, "lrange", "a", "0", "-1") // nothing moved
	},
	"rpoplpush": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "a", "1", "2")
		want(t, c, "2", "rpoplpush", "a", "b")
		want(t, c, "1", "rpoplpush", "a", "b")
		want(t, c, []any{"1", "2"}, "lrange", "b", "0", "-1")
		want(t, c, int64(0), "exists", "a")
	},
	"lmpop": func(t *testing.T, s *server, c *redis.Client) {
		c.RPush(ctx, "b", "1", "2", "3")
		want(t, c, []any{"b", []any{"3", "2"}}, "lmpop", "2", "a", "b", "right", "count", "2")
		key, vals, err := c.LMPop(ctx, "left", 10, "a", "b").Result()
		if err != nil || key != "b" || len(vals) != 1 {
			t.Fatalf("LMPop = %q %v %v", key, vals, err)
		}
		want(t, c, nil, "lmpop", "1", "b", "left")
		wantErr(t, c, "ERR numkeys should be greater than 0", "lmpop", "0", "a", "left")
		wantErr(t, c, "ERR syntax error", "lmpop", "1", "a", "up")
	},
}
