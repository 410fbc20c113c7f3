package integration

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// Sorted set commands (cmd_zset.go) through go-redis.
func init() {
	for name, fn := range zsetCases {
		commandCases[name] = fn
	}
}

func zseed(c *redis.Client) {
	c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}, redis.Z{Score: 3, Member: "c"})
}

var zsetCases = map[string]func(t *testing.T, s *server, c *redis.Client){
	"zadd": func(t *testing.T, s *server, c *redis.Client) {
		if n := c.ZAdd(ctx, "z", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}).Val(); n != 2 {
			t.Fatalf("ZAdd = %d", n)
		}
		want(t, c, int64(1), "zadd", "z", "nx", "ch", "5", "a", "6", "e")
		want(t, c, int64(1), "zadd", "z", "xx", "gt", "ch", "0", "b", "10", "a")
		want(t, c, "12", "zadd", "z", "incr", "2", "a")
		want(t, c, nil, "zadd", "z", "nx", "incr", "2", "a")
		want(t, c, []any{"b", "2", "e", "6", "a", "12"}, "zrange", "z", "0", "-1", "withscores")
		wantErr(t, c, "ERR XX and NX options at the same time are not compatible", "zadd", "z", "nx", "xx", "1", "a")
		wantErr(t, c, "ERR GT, LT, and/or NX options at the same time are not compatible", "zadd", "z", "gt", "lt", "1", "a")
		wantErr(t, c, "ERR INCR option supports a single increment-element pair", "zadd", "z", "incr", "1", "a", "2", "b")
		wantErr(t, c, "ERR syntax error", "zadd", "z", "nx", "1")
		wantErr(t, c, "ERR value is not a valid float", "zadd", "z", "x", "a")
		want(t, c, "zset", "type", "z")
		c.Set(ctx, "s", "x", 0)
		wantErr(t, c, wrongType, "zadd", "s", "1", "a")
		wantErr(t, c, wrongType, "get", "z")
	},
	"zincrby": func(t *testing.T, s *server, c *redis.Client) {
		if v := c.ZIncrBy(ctx, "z", 1.5, "a").Val(); v != 1.5 {
			t.Fatalf("ZIncrBy = %v", v)
		}
		want(t, c, "2", "zincrby", "z", "0.5", "a")
		wantErr(t, c, "ERR value is not a valid float", "zincrby", "z", "x", "a")
	},
	"zrem": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, int64(2), "zrem", "z", "a", "b", "x")
		if n := c.ZRem(ctx, "z", "c").Val(); n != 1 {
			t.Fatalf("ZRem = %d", n)
		}
		want(t, c, int64(0), "exists", "z")
	},
	"zcard": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		if n := c.ZCard(ctx, "z").Val(); n != 3 {
			t.Fatalf("ZCard = %d", n)
		}
	},
	"zcount": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, int64(2), "zcount", "z", "(1", "+inf")
		if n := c.ZCount(ctx, "z", "-inf", "2").Val(); n != 2 {
			t.Fatalf("ZCount = %d", n)
		}
		wantErr(t, c, "ERR min or max is not a float", "zcount", "z", "x", "1")
	},
	"zlexcount": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "l", redis.Z{Member: "a"}, redis.Z{Member: "b"}, redis.Z{Member: "c"})
		want(t, c, int64(2), "zlexcount", "l", "[b", "+")
		wantErr(t, c, "ERR min or max not valid string range item", "zlexcount", "l", "b", "+")
	},
	"zscore": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "z", redis.Z{Score: 0.1, Member: "a"})
		if v := c.ZScore(ctx, "z", "a").Val(); v != 0.1 {
			t.Fatalf("ZScore = %v", v)
		}
		want(t, c, "0.10000000000000001", "zscore", "z", "a") // Redis 7.0's %.17g
		want(t, c, nil, "zscore", "z", "b")
	},
	"zmscore": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, []any{"1", nil}, "zmscore", "z", "a", "x")
	},
	"zrank": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		if n := c.ZRank(ctx, "z", "c").Val(); n != 2 {
			t.Fatalf("ZRank = %d", n)
		}
		want(t, c, nil, "zrank", "z", "x")
	},
	"zrevrank": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, int64(0), "zrevrank", "z", "c")
	},
	"zrange": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		if v := c.ZRange(ctx, "z", 0, -1).Val(); len(v) != 3 || v[0] != "a" {
			t.Fatalf("ZRange = %v", v)
		}
		want(t, c, []any{"c", "3"}, "zrange", "z", "(1", "10", "byscore", "limit", "1", "2", "withscores")
		want(t, c, []any{"c", "b"}, "zrange", "z", "10", "(1", "byscore", "rev")
		want(t, c, []any{"a", "b"}, "zrange", "z", "-", "(c", "bylex")
		wantErr(t, c, "ERR syntax error, LIMIT is only supported", "zrange", "z", "0", "1", "limit", "0", "1")
		wantErr(t, c, "ERR syntax error, WITHSCORES not supported", "zrange", "z", "-", "+", "bylex", "withscores")
	},
	"zrangestore": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, int64(2), "zrangestore", "d", "z", "0", "1", "rev")
		want(t, c, []any{"b", "2", "c", "3"}, "zrange", "d", "0", "-1", "withscores")
		want(t, c, int64(0), "zrangestore", "d", "z", "5", "6")
		want(t, c, int64(0), "exists", "d")
	},
	"zrevrange": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, []any{"c"}, "zrevrange", "z", "0", "0")
		want(t, c, []any{"c", "3", "b", "2"}, "zrevrange", "z", "0", "1", "withscores")
	},
	"zrangebyscore": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, []any{"b", "c"}, "zrangebyscore", "z", "2", "+inf")
		want(t, c, []any{"b", "2"}, "zrangebyscore", "z", "-inf", "+inf", "withscores", "limit", "1", "1")
	},
	"zrevrangebyscore": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, []any{"c", "b"}, "zrevrangebyscore", "z", "+inf", "2")
	},
	"zrangebylex": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "l", redis.Z{Member: "a"}, redis.Z{Member: "b"}, redis.Z{Member: "c"}, redis.Z{Member: "d"})
		want(t, c, []any{"b", "c"}, "zrangebylex", "l", "[b", "(d")
	},
	"zrevrangebylex": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "l", redis.Z{Member: "a"}, redis.Z{Member: "b"}, redis.Z{Member: "c"}, redis.Z{Member: "d"})
		want(t, c, []any{"d", "c"}, "zrevrangebylex", "l", "+", "[b", "limit", "0", "2")
	},
	"zremrangebyrank": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, int64(2), "zremrangebyrank", "z", "0", "1")
		want(t, c, []any{"c"}, "zrange", "z", "0", "-1")
	},
	"zremrangebyscore": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, int64(1), "zremrangebyscore", "z", "-inf", "(2")
		want(t, c, int64(2), "zcard", "z")
	},
	"zremrangebylex": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "l", redis.Z{Member: "a"}, redis.Z{Member: "b"}, redis.Z{Member: "c"})
		want(t, c, int64(2), "zremrangebylex", "l", "[b", "+")
		want(t, c, []any{"a"}, "zrange", "l", "0", "-1")
	},
	"zpopmin": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, []any{"a", "1"}, "zpopmin", "z")
		if v := c.ZPopMin(ctx, "z", 5).Val(); len(v) != 2 || v[0].Member != "b" {
			t.Fatalf("ZPopMin = %v", v)
		}
		want(t, c, []any{}, "zpopmin", "z")
		wantErr(t, c, "ERR value is out of range, must be positive", "zpopmin", "z", "-1")
	},
	"zpopmax": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		want(t, c, []any{"c", "3", "b", "2"}, "zpopmax", "z", "2")
	},
	"zrandmember": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "zrandmember", "z")
		zseed(c)
		if v := c.ZRandMember(ctx, "z", 5).Val(); len(v) != 3 {
			t.Fatalf("ZRandMember = %v", v)
		}
		v, _ := do(t, c, "zrandmember", "z", "-4", "withscores")
		if len(v.([]any)) != 8 {
			t.Fatalf("ZRANDMEMBER -4 WITHSCORES = %v", v)
		}
	},
	"zscan": func(t *testing.T, s *server, c *redis.Client) {
		zseed(c)
		keys, cur := c.ZScan(ctx, "z", 0, "", 10).Val()
		if cur != 0 || len(keys) != 6 || keys[1] != "1" {
			t.Fatalf("ZScan = %v %d", keys, cur)
		}
	},
	"zunion": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "x"}, redis.Z{Score: 2, Member: "y"})
		c.ZAdd(ctx, "b", redis.Z{Score: 3, Member: "y"}, redis.Z{Score: 4, Member: "z"})
		c.SAdd(ctx, "s", "x", "w")
		want(t, c, []any{"x", "1", "z", "4", "y", "5"}, "zunion", "2", "a", "b", "withscores")
		want(t, c, []any{"w", "3", "x", "3", "y", "6", "z", "8"}, "zunion", "3", "a", "b", "s", "weights", "1", "2", "3", "aggregate", "max", "withscores")
		wantErr(t, c, "ERR at least 1 input key is needed for 'zunion' command", "zunion", "0", "a")
	},
	"zinter": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "x"}, redis.Z{Score: 2, Member: "y"})
		c.ZAdd(ctx, "b", redis.Z{Score: 3, Member: "y"})
		want(t, c, []any{"y", "5"}, "zinter", "2", "a", "b", "withscores")
	},
	"zdiff": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "x"}, redis.Z{Score: 2, Member: "y"})
		c.ZAdd(ctx, "b", redis.Z{Score: 3, Member: "y"})
		want(t, c, []any{"x", "1"}, "zdiff", "2", "a", "b", "withscores")
	},
	"zunionstore": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "x"})
		c.ZAdd(ctx, "b", redis.Z{Score: 3, Member: "x"}, redis.Z{Score: 4, Member: "z"})
		want(t, c, int64(2), "zunionstore", "d", "2", "a", "b", "aggregate", "min")
		want(t, c, []any{"x", "1", "z", "4"}, "zrange", "d", "0", "-1", "withscores")
	},
	"zinterstore": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "x"})
		c.ZAdd(ctx, "b", redis.Z{Score: 3, Member: "x"})
		if n := c.ZInterStore(ctx, "d", &redis.ZStore{Keys: []string{"a", "b"}}).Val(); n != 1 {
			t.Fatalf("ZInterStore = %d", n)
		}
		want(t, c, "4", "zscore", "d", "x")
	},
	"zdiffstore": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "x"}, redis.Z{Score: 2, Member: "y"})
		c.ZAdd(ctx, "b", redis.Z{Score: 3, Member: "x"})
		want(t, c, int64(1), "zdiffstore", "d", "2", "a", "b")
		want(t, c, []any{"y"}, "zrange", "d", "0", "-1")
	},
	"zintercard": func(t *testing.T, s *server, c *redis.Client) {
		c.ZAdd(ctx, "a", redis.Z{Score: 1, Member: "x"}, redis.Z{Score: 2, Member: "y"})
		c.ZAdd(ctx, "b", redis.Z{Score: 3, Member: "x"}, redis.Z{Score: 3, Member: "y"})
		want(t, c, int64(2), "zintercard", "2", "a", "b")
		want(t, c, int64(1), "zintercard", "2", "a", "b", "limit", "1")
	},
}
