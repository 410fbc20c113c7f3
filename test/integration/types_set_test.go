package integration

import (
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Set commands (cmd_set.go) through go-redis.
func init() {
	for name, fn := range setCases {
		commandCases[name] = fn
	}
}

func sorted(v []string) []string { sort.Strings(v); return v }

func wantMembers(t *testing.T, c *redis.Client, key string, members ...string) {
	t.Helper()
	got := sorted(c.SMembers(ctx, key).Val())
	if len(got) != len(members) {
		t.Fatalf("SMembers(%s) = %v, want %v", key, got, members)
	}
	for i, m := range sorted(members) {
		if got[i] != m {
			t.Fatalf("SMembers(%s) = %v, want %v", key, got, members)
		}
	}
}

var setCases = map[string]func(t *testing.T, s *server, c *redis.Client){
	"sadd": func(t *testing.T, s *server, c *redis.Client) {
		if n := c.SAdd(ctx, "s", "a", "b", "a").Val(); n != 2 {
			t.Fatalf("SAdd = %d", n)
		}
		want(t, c, int64(0), "sadd", "s", "b")
		want(t, c, "set", "type", "s")
		want(t, c, "OK", "set", "str", "x")
		wantErr(t, c, wrongType, "sadd", "str", "a")
		wantErr(t, c, wrongType, "get", "s")
		want(t, c, []any{"0", []any{"s"}}, "scan", "0", "type", "set")
	},
	"srem": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "s", "a", "b")
		want(t, c, int64(1), "srem", "s", "a", "x")
		want(t, c, int64(1), "srem", "s", "b")
		want(t, c, int64(0), "exists", "s")
	},
	"sismember": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "s", "a")
		if !c.SIsMember(ctx, "s", "a").Val() {
			t.Fatal("SIsMember a")
		}
		want(t, c, int64(0), "sismember", "s", "b")
	},
	"smismember": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "s", "a")
		want(t, c, []any{int64(1), int64(0)}, "smismember", "s", "a", "b")
	},
	"scard": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "s", "a", "b")
		if n := c.SCard(ctx, "s").Val(); n != 2 {
			t.Fatalf("SCard = %d", n)
		}
	},
	"smembers": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, []any{}, "smembers", "s")
		c.SAdd(ctx, "s", "a", "b")
		wantMembers(t, c, "s", "a", "b")
	},
	"srandmember": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "srandmember", "s")
		c.SAdd(ctx, "s", "a", "b")
		if v := c.SRandMemberN(ctx, "s", 5).Val(); len(v) != 2 {
			t.Fatalf("SRandMemberN 5 = %v", v)
		}
		if v := c.SRandMemberN(ctx, "s", -5).Val(); len(v) != 5 {
			t.Fatalf("SRandMemberN -5 = %v", v)
		}
	},
	"spop": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "spop", "s")
		c.SAdd(ctx, "s", "a", "b", "c")
		if v := c.SPop(ctx, "s").Val(); v == "" {
			t.Fatal("SPop returned nothing")
		}
		if v := c.SPopN(ctx, "s", 5).Val(); len(v) != 2 {
			t.Fatalf("SPopN = %v", v)
		}
		want(t, c, int64(0), "exists", "s")
		wantErr(t, c, "ERR value is out of range, must be positive", "spop", "s", "-1")
	},
	"smove": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "x", "y")
		if !c.SMove(ctx, "a", "b", "x").Val() {
			t.Fatal("SMove x")
		}
		want(t, c, int64(0), "smove", "a", "b", "nope")
		wantMembers(t, c, "a", "y")
		wantMembers(t, c, "b", "x")
		c.Set(ctx, "str", "v", 0)
		wantErr(t, c, wrongType, "smove", "a", "str", "y")
	},
	"sinter": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "1", "2", "3")
		c.SAdd(ctx, "b", "2", "3", "4")
		if v := sorted(c.SInter(ctx, "a", "b").Val()); len(v) != 2 || v[0] != "2" || v[1] != "3" {
			t.Fatalf("SInter = %v", v)
		}
		want(t, c, []any{}, "sinter", "a", "nope")
	},
	"sunion": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "1", "2")
		c.SAdd(ctx, "b", "2", "3")
		if v := c.SUnion(ctx, "a", "b", "nope").Val(); len(v) != 3 {
			t.Fatalf("SUnion = %v", v)
		}
	},
	"sdiff": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "1", "2", "3")
		c.SAdd(ctx, "b", "2")
		if v := sorted(c.SDiff(ctx, "a", "b").Val()); len(v) != 2 || v[0] != "1" || v[1] != "3" {
			t.Fatalf("SDiff = %v", v)
		}
	},
	"sinterstore": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "1", "2")
		c.SAdd(ctx, "b", "2", "3")
		c.Set(ctx, "d", "string", 0)
		if n := c.SInterStore(ctx, "d", "a", "b").Val(); n != 1 {
			t.Fatalf("SInterStore = %d", n)
		}
		wantMembers(t, c, "d", "2")
		want(t, c, int64(0), "sinterstore", "d", "a", "nope")
		want(t, c, int64(0), "exists", "d")
	},
	"sunionstore": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "1")
		c.SAdd(ctx, "b", "2")
		want(t, c, int64(2), "sunionstore", "a", "a", "b")
		wantMembers(t, c, "a", "1", "2")
	},
	"sdiffstore": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "1", "2")
		c.SAdd(ctx, "b", "2")
		if n := c.SDiffStore(ctx, "d", "a", "b").Val(); n != 1 {
			t.Fatalf("SDiffStore = %d", n)
		}
		wantMembers(t, c, "d", "1")
	},
	"sintercard": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "a", "1", "2", "3")
		c.SAdd(ctx, "b", "1", "2", "3")
		if n := c.SInterCard(ctx, 0, "a", "b").Val(); n != 3 {
			t.Fatalf("SInterCard = %d", n)
		}
		want(t, c, int64(2), "sintercard", "2", "a", "b", "limit", "2")
		wantErr(t, c, "ERR numkeys should be greater than 0", "sintercard", "0", "a")
		wantErr(t, c, "ERR Number of keys can't be greater than number of args", "sintercard", "3", "a", "b")
	},
	"sscan": func(t *testing.T, s *server, c *redis.Client) {
		c.SAdd(ctx, "s", "a", "b", "cc")
		keys, cur := c.SScan(ctx, "s", 0, "?", 10).Val()
		if cur != 0 || len(keys) != 2 {
			t.Fatalf("SScan = %v %d", keys, cur)
		}
		// A large set is walked in pages by a positional cursor.
		for i := 0; i < 300; i++ {
			c.SAdd(ctx, "big", i)
		}
		seen, cursor := 0, uint64(0)
		for {
			keys, next := c.SScan(ctx, "big", cursor, "", 50).Val()
			seen += len(keys)
			if cursor = next; cursor == 0 {
				break
			}
		}
		if seen != 300 {
			t.Fatalf("SSCAN walk saw %d members", seen)
		}
	},
}
