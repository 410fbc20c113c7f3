package integration

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const portDumpColl = 7403

// collSnapshot reads a collection key in a comparable form.
func collSnapshot(t *testing.T, c *redis.Client, key string) string {
	t.Helper()
	ctx := context.Background()
	switch typ := c.Type(ctx, key).Val(); typ {
	case "list":
		return fmt.Sprint("list", c.LRange(ctx, key, 0, -1).Val())
	case "set":
		m := c.SMembers(ctx, key).Val()
		sort.Strings(m)
		return fmt.Sprint("set", m)
	case "zset":
		return fmt.Sprint("zset", c.ZRangeWithScores(ctx, key, 0, -1).Val())
	case "hash":
		h := c.HGetAll(ctx, key).Val()
		keys := make([]string, 0, len(h))
		for k := range h {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := "hash"
		for _, k := range keys {
			out += " " + k + "=" + h[k]
		}
		return out
	default:
		return typ
	}
}

// TestDumpRestoreCollectionsWithRedis: lists, sets, sorted sets and hashes
// in every encoding redis-server 7.0 uses (listpack, intset, quicklist,
// hashtable, skiplist) move from redis-server into cachesrv and back with
// DUMP/RESTORE, keeping their contents and TTLs.
func TestDumpRestoreCollectionsWithRedis(t *testing.T) {
	rc, _ := redisServer(t, portDumpColl)
	s := start(t, nil)
	c := s.client(2)
	ctx := context.Background()
	p := rc.Pipeline()
	p.RPush(ctx, "l:small", "a", 1, -2, 70000, "", 12345678901)
	p.HSet(ctx, "h:small", "f1", "v1", "f2", 123)
	p.SAdd(ctx, "s:int", 1, 2, 300, -70000, 5000000000)
	p.SAdd(ctx, "s:str", "x", "y")
	p.ZAdd(ctx, "z:small", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: -2.5, Member: "b"}, redis.Z{Score: 1e300, Member: "c"})
	for i := range 600 { // past every listpack threshold: hashtable, skiplist, several quicklist nodes
		p.RPush(ctx, "l:big", fmt.Sprint("element-", i))
		p.HSet(ctx, "h:big", fmt.Sprint("field", i), fmt.Sprint("value", i))
		p.SAdd(ctx, "s:big", fmt.Sprint("member", i))
		p.ZAdd(ctx, "z:big", redis.Z{Score: float64(i) / 3, Member: fmt.Sprint("m", i)})
	}
	p.Expire(ctx, "h:big", time.Hour)
	if _, err := p.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	keys := []string{"l:small", "l:big", "h:small", "h:big", "s:int", "s:str", "s:big", "z:small", "z:big"}
	for _, k := range keys {
		enc := rc.ObjectEncoding(ctx, k).Val()
		payload, err := rc.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		ttl := time.Duration(0)
		if d := rc.PTTL(ctx, k).Val(); d > 0 {
			ttl = d
		}
		if err := c.Restore(ctx, k, ttl, payload).Err(); err != nil {
			t.Fatalf("RESTORE %s (%s) into cachesrv: %v", k, enc, err)
		}
		want := collSnapshot(t, rc, k)
		if got := collSnapshot(t, c, k); got != want {
			t.Fatalf("%s (%s): cachesrv has\n%.300s\nredis-server\n%.300s", k, enc, got, want)
		}
		if (c.PTTL(ctx, k).Val() > 0) != (ttl > 0) {
			t.Fatalf("%s: TTL lost", k)
		}
		// And back: cachesrv's payload restores in redis-server.
		back, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatalf("DUMP %s from cachesrv: %v", k, err)
		}
		if err := rc.Restore(ctx, "back:"+k, 0, back).Err(); err != nil {
			t.Fatalf("RESTORE %s into redis-server: %v", k, err)
		}
		if got := collSnapshot(t, rc, "back:"+k); got != want {
			t.Fatalf("%s back in redis-server:\n%.300s\nwant\n%.300s", k, got, want)
		}
	}
}

// TestDumpRestoreHashFieldTTL: cachesrv keeps per-field deadlines through
// DUMP/RESTORE between its own nodes; fields already expired are not
// restored.
func TestDumpRestoreHashFieldTTL(t *testing.T) {
	t.Parallel()
	s, clk := startClock(t, nil)
	c := s.client(2)
	ctx := context.Background()
	want(t, c, int64(3), "hset", "h", "a", "1", "b", "2", "c", "3")
	do(t, c, "hpexpire", "h", 1000, "fields", 1, "a")
	do(t, c, "hpexpire", "h", 60000, "fields", 1, "b")
	p, err := c.Dump(ctx, "h").Result()
	if err != nil {
		t.Fatal(err)
	}
	want(t, c, "OK", "restore", "h2", 0, p)
	if got := collSnapshot(t, c, "h2"); got != "hash a=1 b=2 c=3" {
		t.Fatalf("restored: %s", got)
	}
	v, _ := do(t, c, "hpttl", "h2", "fields", 3, "a", "b", "c")
	if ttls := fmt.Sprint(v); ttls != "[1000 60000 -1]" {
		t.Fatalf("HPTTL after RESTORE: %s", ttls)
	}
	clk.Advance(2 * time.Second)
	want(t, c, "OK", "restore", "h3", 0, p)
	if got := collSnapshot(t, c, "h3"); got != "hash b=2 c=3" {
		t.Fatalf("restored after a's deadline: %s", got)
	}
	if got := collSnapshot(t, c, "h2"); got != "hash b=2 c=3" {
		t.Fatalf("h2 after a's deadline: %s", got)
	}
	// Corrupt and empty payloads are refused like Redis.
	bad := []byte(p)
	bad[2] ^= 0xff
	wantErr(t, c, "ERR DUMP payload version or checksum are wrong", "restore", "h4", 0, string(bad))
}
