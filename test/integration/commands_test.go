package integration

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/protocol"
)

var ctx = context.Background()

// do runs a raw command and returns its result and error text.
func do(t *testing.T, c *redis.Client, args ...any) (any, string) {
	t.Helper()
	v, err := c.Do(ctx, args...).Result()
	if err == redis.Nil {
		return nil, ""
	}
	if err != nil {
		return v, err.Error()
	}
	return v, ""
}

// want asserts a command's reply.
func want(t *testing.T, c *redis.Client, expect any, args ...any) {
	t.Helper()
	v, e := do(t, c, args...)
	if e != "" {
		t.Fatalf("%v: unexpected error %q", args, e)
	}
	if !reflect.DeepEqual(v, expect) {
		t.Fatalf("%v: got %#v, want %#v", args, v, expect)
	}
}

// wantErr asserts a command fails with an error starting with prefix.
func wantErr(t *testing.T, c *redis.Client, prefix string, args ...any) {
	t.Helper()
	_, e := do(t, c, args...)
	if !strings.HasPrefix(e, prefix) {
		t.Fatalf("%v: got error %q, want prefix %q", args, e, prefix)
	}
}

// commandCases holds one test per command of the command table (full
// names for subcommands). TestEveryCommandHasATest keeps it complete.
var commandCases = map[string]func(t *testing.T, s *server, c *redis.Client){
	"get": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "get", "k")
		want(t, c, "OK", "set", "k", "v")
		want(t, c, "v", "get", "k")
		wantErr(t, c, "ERR wrong number of arguments for 'get' command", "get")
	},
	"set": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "set", "k", "v")
		want(t, c, nil, "set", "k", "v2", "nx")
		want(t, c, "OK", "set", "k", "v2", "xx")
		want(t, c, nil, "set", "nope", "v", "xx")
		want(t, c, "v2", "set", "k", "v3", "get")
		want(t, c, "OK", "set", "k", "v", "ex", "100")
		if ttl := c.TTL(ctx, "k").Val(); ttl < 99*time.Second {
			t.Fatalf("ttl %v", ttl)
		}
		want(t, c, "OK", "set", "k", "v", "keepttl")
		if ttl := c.TTL(ctx, "k").Val(); ttl < 99*time.Second {
			t.Fatalf("keepttl lost ttl: %v", ttl)
		}
		want(t, c, "OK", "set", "k", "v")
		want(t, c, int64(-1), "ttl", "k")
		want(t, c, "OK", "set", "k", "v", "px", "100000")
		want(t, c, "OK", "set", "k", "v", "exat", fmt.Sprint(time.Now().Unix()+100))
		want(t, c, "OK", "set", "k", "v", "pxat", fmt.Sprint(time.Now().UnixMilli()+100000))
		want(t, c, "OK", "set", "k", "v", "pxat", "1") // in the past: deleted
		want(t, c, int64(0), "exists", "k")
		wantErr(t, c, "ERR syntax error", "set", "k", "v", "nx", "xx")
		wantErr(t, c, "ERR syntax error", "set", "k", "v", "ex", "10", "px", "10")
		wantErr(t, c, "ERR syntax error", "set", "k", "v", "keepttl", "ex", "10")
		wantErr(t, c, "ERR invalid expire time in 'set' command", "set", "k", "v", "ex", "0")
		wantErr(t, c, "ERR invalid expire time in 'set' command", "set", "k", "v", "ex", "-5")
		wantErr(t, c, "ERR invalid expire time in 'set' command", "set", "k", "v", "ex", "9223372036854775807")
		wantErr(t, c, "ERR value is not an integer or out of range", "set", "k", "v", "ex", "abc")
	},
	"setnx": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(1), "setnx", "k", "v")
		want(t, c, int64(0), "setnx", "k", "w")
		want(t, c, "v", "get", "k")
	},
	"setex": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "setex", "k", "100", "v")
		want(t, c, int64(100), "ttl", "k")
		wantErr(t, c, "ERR invalid expire time in 'setex' command", "setex", "k", "0", "v")
	},
	"psetex": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "psetex", "k", "100000", "v")
		want(t, c, int64(100), "ttl", "k")
		wantErr(t, c, "ERR invalid expire time in 'psetex' command", "psetex", "k", "-1", "v")
	},
	"getset": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "getset", "k", "a")
		want(t, c, "a", "getset", "k", "b")
		want(t, c, "b", "get", "k")
	},
	"getdel": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "getdel", "k")
		c.Set(ctx, "k", "v", 0)
		want(t, c, "v", "getdel", "k")
		want(t, c, int64(0), "exists", "k")
	},
	"getex": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		want(t, c, "v", "getex", "k", "ex", "100")
		want(t, c, int64(100), "ttl", "k")
		want(t, c, "v", "getex", "k", "persist")
		want(t, c, int64(-1), "ttl", "k")
		want(t, c, "v", "getex", "k", "pxat", "1")
		want(t, c, int64(0), "exists", "k")
		wantErr(t, c, "ERR syntax error", "getex", "k", "ex", "1", "persist")
		// a missing key is answered before the expire time is checked
		want(t, c, nil, "getex", "missing", "ex", "0")
		c.Set(ctx, "k", "v", 0)
		wantErr(t, c, "ERR invalid expire time in 'getex' command", "getex", "k", "ex", "0")
		want(t, c, int64(-1), "ttl", "k")
	},
	"mget": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		want(t, c, []any{"1", nil}, "mget", "a", "b")
	},
	"mset": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "mset", "a", "1", "b", "2")
		want(t, c, []any{"1", "2"}, "mget", "a", "b")
		wantErr(t, c, "ERR wrong number of arguments for 'mset' command", "mset", "a", "1", "b")
	},
	"msetnx": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(1), "msetnx", "a", "1", "b", "2")
		want(t, c, int64(0), "msetnx", "b", "3", "c", "4")
		want(t, c, int64(0), "exists", "c")
	},
	"incr": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(1), "incr", "n")
		want(t, c, int64(2), "incr", "n")
		c.Set(ctx, "s", "abc", 0)
		wantErr(t, c, "ERR value is not an integer or out of range", "incr", "s")
		c.Set(ctx, "big", "9223372036854775807", 0)
		wantErr(t, c, "ERR increment or decrement would overflow", "incr", "big")
		c.Set(ctx, "t", "5", time.Hour)
		want(t, c, int64(6), "incr", "t")
		if c.TTL(ctx, "t").Val() <= 0 {
			t.Fatal("INCR dropped the TTL")
		}
	},
	"decr": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(-1), "decr", "n")
		c.Set(ctx, "m", "-9223372036854775808", 0)
		wantErr(t, c, "ERR increment or decrement would overflow", "decr", "m")
	},
	"incrby": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(10), "incrby", "n", "10")
		wantErr(t, c, "ERR value is not an integer or out of range", "incrby", "n", "x")
	},
	"decrby": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(-10), "decrby", "n", "10")
		wantErr(t, c, "ERR decrement would overflow", "decrby", "n", "-9223372036854775808")
	},
	"incrbyfloat": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "f", "10.5", 0)
		want(t, c, "10.6", "incrbyfloat", "f", "0.1")
		want(t, c, "5.6", "incrbyfloat", "f", "-5")
		want(t, c, "3", "incrbyfloat", "g", "3")
		wantErr(t, c, "ERR value is not a valid float", "incrbyfloat", "f", "abc")
		wantErr(t, c, "ERR increment would produce NaN or Infinity", "incrbyfloat", "f", "inf")
		// long double arithmetic and formatting, as redis-server 7.0 replies
		want(t, c, "OK", "set", "big", "9223372036854775807")
		want(t, c, "9223372036854775807", "incrbyfloat", "big", "0")
		want(t, c, "OK", "set", "tiny", "5e-324")
		want(t, c, "0", "incrbyfloat", "tiny", "0")
		want(t, c, "OK", "set", "huge", "1e308")
		if v, _ := do(t, c, "incrbyfloat", "huge", "1e308"); v == nil || len(v.(string)) != 309 {
			t.Fatalf("1e308+1e308 = %v, want the 309-digit long double value", v)
		}
		want(t, c, "OK", "set", "max", "1.1e4932")
		wantErr(t, c, "ERR increment would produce NaN or Infinity", "incrbyfloat", "max", "1.1e4932")
		wantErr(t, c, "ERR value is not a valid float", "incrbyfloat", "huge", "1e5000")
	},
	"append": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(5), "append", "k", "hello")
		want(t, c, int64(11), "append", "k", " world")
		want(t, c, "hello world", "get", "k")
	},
	"strlen": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(0), "strlen", "k")
		c.Set(ctx, "k", "hello", 0)
		want(t, c, int64(5), "strlen", "k")
	},
	"getrange": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "This is a string", 0)
		want(t, c, "This", "getrange", "k", "0", "3")
		want(t, c, "ing", "getrange", "k", "-3", "-1")
		want(t, c, "This is a string", "getrange", "k", "0", "-1")
		want(t, c, "string", "getrange", "k", "10", "100")
		want(t, c, "", "getrange", "k", "5", "3")
		want(t, c, "", "getrange", "missing", "0", "-1")
	},
	"substr": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "Hello", 0)
		want(t, c, "ell", "substr", "k", "1", "3")
	},
	"setrange": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "Hello World", 0)
		want(t, c, int64(11), "setrange", "k", "6", "Redis")
		want(t, c, "Hello Redis", "get", "k")
		want(t, c, int64(8), "setrange", "z", "3", "abcde")
		want(t, c, "\x00\x00\x00abcde", "get", "z")
		wantErr(t, c, "ERR offset is out of range", "setrange", "k", "-1", "x")
		wantErr(t, c, "ERR string exceeds maximum allowed size (proto-max-bulk-len)", "setrange", "k", "536870911", "xx")
	},
	"del": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		c.Set(ctx, "b", "1", 0)
		want(t, c, int64(2), "del", "a", "b", "c")
	},
	"unlink": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		want(t, c, int64(1), "unlink", "a", "c")
	},
	"exists": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		want(t, c, int64(2), "exists", "a", "a", "b")
	},
	"touch": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		want(t, c, int64(1), "touch", "a", "b")
	},
	"type": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		want(t, c, "string", "type", "a")
		want(t, c, "none", "type", "b")
	},
	"rename": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", time.Hour)
		want(t, c, "OK", "rename", "a", "b")
		want(t, c, "1", "get", "b")
		want(t, c, int64(0), "exists", "a")
		if c.TTL(ctx, "b").Val() <= 0 {
			t.Fatal("RENAME dropped the TTL")
		}
		wantErr(t, c, "ERR no such key", "rename", "a", "c")
		want(t, c, "OK", "rename", "b", "b")
	},
	"renamenx": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		c.Set(ctx, "b", "2", 0)
		want(t, c, int64(0), "renamenx", "a", "b")
		want(t, c, int64(1), "renamenx", "a", "c")
		want(t, c, "1", "get", "c")
	},
	"copy": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		want(t, c, int64(1), "copy", "a", "b")
		want(t, c, int64(0), "copy", "a", "b")
		want(t, c, int64(1), "copy", "a", "b", "replace")
		want(t, c, int64(1), "copy", "a", "a", "db", "3")
		wantErr(t, c, "ERR source and destination objects are the same", "copy", "a", "a")
		c.Do(ctx, "select", "3")
	},
	"move": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", 0)
		want(t, c, int64(1), "move", "a", "1")
		want(t, c, int64(0), "exists", "a")
		want(t, c, int64(0), "move", "a", "1")
		wantErr(t, c, "ERR source and destination objects are the same", "move", "a", "0")
		wantErr(t, c, "ERR DB index is out of range", "move", "a", "16")
	},
	"keys": func(t *testing.T, s *server, c *redis.Client) {
		c.MSet(ctx, "user:1", "a", "user:2", "b", "item:1", "c")
		v := c.Keys(ctx, "user:*").Val()
		sort.Strings(v)
		if !reflect.DeepEqual(v, []string{"user:1", "user:2"}) {
			t.Fatalf("keys: %v", v)
		}
		if n := len(c.Keys(ctx, "*").Val()); n != 3 {
			t.Fatalf("keys *: %d", n)
		}
		if v := c.Keys(ctx, "u?er:[12]").Val(); len(v) != 2 {
			t.Fatalf("keys glob: %v", v)
		}
	},
	"scan": func(t *testing.T, s *server, c *redis.Client) {
		for i := 0; i < 500; i++ {
			c.Set(ctx, fmt.Sprintf("k%d", i), "v", 0)
		}
		seen := map[string]bool{}
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, "k1*", 50).Result()
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				seen[k] = true
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
		if len(seen) != 111 {
			t.Fatalf("scan found %d keys matching k1*, want 111", len(seen))
		}
		wantErr(t, c, "ERR invalid cursor", "scan", "x")
		wantErr(t, c, "ERR syntax error", "scan", "0", "count", "0")
		keys, _, _ := c.ScanType(ctx, 0, "", 1000, "hash").Result()
		if len(keys) != 0 {
			t.Fatalf("TYPE hash matched %d keys", len(keys))
		}
	},
	"randomkey": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, nil, "randomkey")
		c.Set(ctx, "only", "1", 0)
		want(t, c, "only", "randomkey")
	},
	"dbsize": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(0), "dbsize")
		c.MSet(ctx, "a", "1", "b", "2")
		want(t, c, int64(2), "dbsize")
	},
	"flushdb": func(t *testing.T, s *server, c *redis.Client) {
		c.MSet(ctx, "a", "1", "b", "2")
		c.Do(ctx, "select", "1")
		c.Set(ctx, "c", "3", 0)
		want(t, c, "OK", "flushdb")
		want(t, c, int64(0), "dbsize")
		c.Do(ctx, "select", "0")
		want(t, c, int64(2), "dbsize")
		want(t, c, "OK", "flushdb", "async")
		wantErr(t, c, "ERR syntax error", "flushdb", "now")
	},
	"flushall": func(t *testing.T, s *server, c *redis.Client) {
		c.MSet(ctx, "a", "1", "b", "2")
		want(t, c, "OK", "flushall", "sync")
		want(t, c, int64(0), "dbsize")
	},
	"expire": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(0), "expire", "k", "10")
		c.Set(ctx, "k", "v", 0)
		want(t, c, int64(0), "expire", "k", "10", "xx")
		want(t, c, int64(1), "expire", "k", "10", "nx")
		want(t, c, int64(0), "expire", "k", "20", "nx")
		want(t, c, int64(1), "expire", "k", "20", "gt")
		want(t, c, int64(0), "expire", "k", "5", "gt")
		want(t, c, int64(1), "expire", "k", "5", "lt")
		want(t, c, int64(5), "ttl", "k")
		wantErr(t, c, "ERR NX and XX, GT or LT options at the same time are not compatible", "expire", "k", "5", "nx", "xx")
		wantErr(t, c, "ERR GT and LT options at the same time are not compatible", "expire", "k", "5", "gt", "lt")
		wantErr(t, c, "ERR Unsupported option foo", "expire", "k", "5", "foo")
		wantErr(t, c, "ERR invalid expire time in 'expire' command", "expire", "k", "9223372036854775807")
		want(t, c, int64(1), "expire", "k", "-1")
		want(t, c, int64(0), "exists", "k")
	},
	"pexpire": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		want(t, c, int64(1), "pexpire", "k", "100000")
		want(t, c, int64(100), "ttl", "k")
	},
	"expireat": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		at := time.Now().Unix() + 100
		want(t, c, int64(1), "expireat", "k", fmt.Sprint(at))
		want(t, c, at, "expiretime", "k")
		want(t, c, int64(1), "expireat", "k", "1")
		want(t, c, int64(-2), "ttl", "k")
	},
	"pexpireat": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		at := time.Now().UnixMilli() + 100000
		want(t, c, int64(1), "pexpireat", "k", fmt.Sprint(at))
		want(t, c, at, "pexpiretime", "k")
	},
	"ttl": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(-2), "ttl", "k")
		c.Set(ctx, "k", "v", 0)
		want(t, c, int64(-1), "ttl", "k")
	},
	"pttl": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(-2), "pttl", "k")
		c.Set(ctx, "k", "v", 10*time.Second)
		v, _ := do(t, c, "pttl", "k")
		if ms := v.(int64); ms <= 9000 || ms > 10000 {
			t.Fatalf("pttl %d", ms)
		}
	},
	"expiretime": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(-2), "expiretime", "k")
		c.Set(ctx, "k", "v", 0)
		want(t, c, int64(-1), "expiretime", "k")
	},
	"pexpiretime": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, int64(-2), "pexpiretime", "k")
		c.Set(ctx, "k", "v", 0)
		want(t, c, int64(-1), "pexpiretime", "k")
	},
	"persist": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", time.Hour)
		want(t, c, int64(1), "persist", "k")
		want(t, c, int64(0), "persist", "k")
		want(t, c, int64(-1), "ttl", "k")
	},
	"object": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR unknown subcommand 'nope'. Try OBJECT HELP.", "object", "nope", "k")
		wantErr(t, c, "ERR wrong number of arguments for 'object' command", "object")
	},
	"object|encoding": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "i", "123", 0)
		c.Set(ctx, "e", "abc", 0)
		c.Set(ctx, "r", strings.Repeat("x", 100), 0)
		want(t, c, "int", "object", "encoding", "i")
		want(t, c, "embstr", "object", "encoding", "e")
		want(t, c, "raw", "object", "encoding", "r")
		want(t, c, nil, "object", "encoding", "missing")
	},
	"object|freq": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		want(t, c, "OK", "config", "set", "maxmemory-policy", "allkeys-lfu")
		for i := 0; i < 100; i++ {
			c.Get(ctx, "k")
		}
		v, e := do(t, c, "object", "freq", "k")
		if e != "" || v.(int64) < 1 {
			t.Fatalf("object freq: %v %q", v, e)
		}
		want(t, c, "OK", "config", "set", "maxmemory-policy", "allkeys-lru")
		wantErr(t, c, "ERR An LFU maxmemory policy is not selected", "object", "freq", "k")
	},
	"object|idletime": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		want(t, c, int64(0), "object", "idletime", "k")
		want(t, c, "OK", "config", "set", "maxmemory-policy", "allkeys-lfu")
		wantErr(t, c, "ERR An LFU maxmemory policy is selected", "object", "idletime", "k")
	},
	"object|refcount": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		want(t, c, int64(1), "object", "refcount", "k")
	},
	"object|help": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "object", "help")
		if len(v.([]any)) < 4 {
			t.Fatalf("help: %v", v)
		}
	},
	"select": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("select", "2")
		if got := r.reply(); got != "+OK\r\n" {
			t.Fatal(got)
		}
		r.cmd("set", "k", "v")
		r.reply()
		want(t, c, int64(0), "exists", "k")
		r.cmd("select", "16")
		if got := r.reply(); got != "-ERR DB index is out of range\r\n" {
			t.Fatal(got)
		}
		r.cmd("select", "x")
		if got := r.reply(); got != "-ERR value is not an integer or out of range\r\n" {
			t.Fatal(got)
		}
	},
	"swapdb": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "0", 0)
		want(t, c, "OK", "swapdb", "0", "1")
		want(t, c, int64(0), "exists", "a")
		r := s.raw()
		r.cmd("select", "1")
		r.reply()
		r.cmd("get", "a")
		if got := r.reply(); got != "$1\r\n0\r\n" {
			t.Fatal(got)
		}
		wantErr(t, c, "ERR invalid first DB index", "swapdb", "x", "1")
		wantErr(t, c, "ERR DB index is out of range", "swapdb", "0", "99")
	},
	"multi": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("multi")
		r.reply()
		r.cmd("multi")
		if got := r.reply(); got != "-ERR MULTI calls can not be nested\r\n" {
			t.Fatal(got)
		}
		r.cmd("set", "a", "1")
		if got := r.reply(); got != "+QUEUED\r\n" {
			t.Fatal(got)
		}
		r.cmd("incr", "a")
		r.reply()
		r.cmd("exec")
		if got := r.reply(); got != "*2\r\n+OK\r\n:2\r\n" {
			t.Fatalf("exec: %q", got)
		}
	},
	"exec": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR EXEC without MULTI", "exec")
		r := s.raw()
		r.cmd("multi")
		r.reply()
		r.cmd("nosuchcmd")
		r.reply()
		r.cmd("exec")
		if got := r.reply(); got != "-EXECABORT Transaction discarded because of previous errors.\r\n" {
			t.Fatal(got)
		}
		// go-redis TxPipeline across keys in many shards
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for i := 0; i < 20; i++ {
				p.Set(ctx, fmt.Sprint("tx", i), i, 0)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want(t, c, int64(20), "dbsize")
	},
	"discard": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR DISCARD without MULTI", "discard")
		r := s.raw()
		r.cmd("multi")
		r.reply()
		r.cmd("set", "a", "1")
		r.reply()
		r.cmd("discard")
		if got := r.reply(); got != "+OK\r\n" {
			t.Fatal(got)
		}
		want(t, c, int64(0), "exists", "a")
	},
	"watch": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("watch", "w")
		r.reply()
		c.Set(ctx, "w", "changed", 0)
		r.cmd("multi")
		r.reply()
		r.cmd("set", "w", "mine")
		r.reply()
		r.cmd("exec")
		if got := r.reply(); got != "*-1\r\n" {
			t.Fatalf("exec after touched watch: %q", got)
		}
		want(t, c, "changed", "get", "w")
		// untouched watch succeeds; go-redis Watch helper
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, "w", "ok", 0)
				return nil
			})
			return err
		}, "w")
		if err != nil {
			t.Fatal(err)
		}
		want(t, c, "ok", "get", "w")
		r.cmd("multi")
		r.reply()
		r.cmd("watch", "x")
		if got := r.reply(); got != "-ERR WATCH inside MULTI is not allowed\r\n" {
			t.Fatal(got)
		}
	},
	"unwatch": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("watch", "w")
		r.reply()
		r.cmd("unwatch")
		if got := r.reply(); got != "+OK\r\n" {
			t.Fatal(got)
		}
		c.Set(ctx, "w", "changed", 0)
		r.cmd("multi")
		r.reply()
		r.cmd("set", "w", "mine")
		r.reply()
		r.cmd("exec")
		if got := r.reply(); got != "*1\r\n+OK\r\n" {
			t.Fatalf("exec after unwatch: %q", got)
		}
	},
	"ping": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "PONG", "ping")
		want(t, c, "hi", "ping", "hi")
		wantErr(t, c, "ERR wrong number of arguments for 'ping' command", "ping", "a", "b")
	},
	"echo": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "hello", "echo", "hello")
	},
	"quit": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("quit")
		if got := r.reply(); got != "+OK\r\n" {
			t.Fatal(got)
		}
		if !r.closed() {
			t.Fatal("connection still open after QUIT")
		}
	},
	"reset": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("select", "3")
		r.reply()
		r.cmd("multi")
		r.reply()
		r.cmd("reset")
		if got := r.reply(); got != "+RESET\r\n" {
			t.Fatal(got)
		}
		r.cmd("client", "info")
		if got := r.reply(); !strings.Contains(got, " db=0 ") {
			t.Fatalf("db not reset: %q", got)
		}
	},
	"auth": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR AUTH <password> called without any password configured", "auth", "x")
		want(t, c, "OK", "config", "set", "requirepass", "secret")
		r := s.raw()
		r.cmd("get", "a")
		if got := r.reply(); got != "-NOAUTH Authentication required.\r\n" {
			t.Fatal(got)
		}
		r.cmd("auth", "wrong")
		if got := r.reply(); got != "-WRONGPASS invalid username-password pair or user is disabled.\r\n" {
			t.Fatal(got)
		}
		r.cmd("auth", "default", "secret")
		if got := r.reply(); got != "+OK\r\n" {
			t.Fatal(got)
		}
		authed := redis.NewClient(&redis.Options{Addr: s.Addr, Password: "secret"})
		defer authed.Close()
		want(t, authed, "PONG", "ping")
	},
	"hello": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("hello", "3")
		got := r.reply()
		if !strings.HasPrefix(got, "%7\r\n") || !strings.Contains(got, "proto\r\n:3\r\n") {
			t.Fatalf("hello 3: %q", got)
		}
		r.cmd("get", "missing")
		if got := r.reply(); got != "_\r\n" {
			t.Fatalf("RESP3 null: %q", got)
		}
		r.cmd("config", "get", "maxmemory")
		if got := r.reply(); !strings.HasPrefix(got, "%1\r\n") {
			t.Fatalf("RESP3 map: %q", got)
		}
		r.cmd("hello", "4")
		if got := r.reply(); got != "-NOPROTO unsupported protocol version\r\n" {
			t.Fatal(got)
		}
		r.cmd("hello", "2", "setname", "me")
		if got := r.reply(); !strings.HasPrefix(got, "*14\r\n") {
			t.Fatalf("hello 2: %q", got)
		}
		c3 := s.client(3)
		want(t, c3, "PONG", "ping")
		want(t, c3, map[any]any{"maxmemory": fmt.Sprint(s.App.Config().MaxMemory)}, "config", "get", "maxmemory")
	},
	"client": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR unknown subcommand 'bogus'. Try CLIENT HELP.", "client", "bogus")
	},
	"client|id": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "client", "id")
		if v.(int64) <= 0 {
			t.Fatal(v)
		}
	},
	"client|setname": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("client", "setname", "worker-1")
		r.reply()
		r.cmd("client", "getname")
		if got := r.reply(); got != "$8\r\nworker-1\r\n" {
			t.Fatal(got)
		}
		r.cmd("client", "setname", "bad name")
		if got := r.reply(); !strings.HasPrefix(got, "-ERR Client names cannot contain spaces") {
			t.Fatal(got)
		}
	},
	"client|getname": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("client", "getname")
		if got := r.reply(); got != "$-1\r\n" {
			t.Fatal(got)
		}
	},
	"client|setinfo": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "client", "setinfo", "lib-name", "mylib")
		wantErr(t, c, "ERR Unrecognized option 'foo'", "client", "setinfo", "foo", "bar")
	},
	"client|list": func(t *testing.T, s *server, c *redis.Client) {
		c.Do(ctx, "client", "setname", "lister")
		v, _ := do(t, c, "client", "list")
		if !strings.Contains(v.(string), "name=lister") {
			t.Fatalf("client list: %q", v)
		}
		v, _ = do(t, c, "client", "list", "type", "pubsub")
		if v.(string) != "" {
			t.Fatalf("pubsub list: %q", v)
		}
	},
	"client|info": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "client", "info")
		if !strings.HasPrefix(v.(string), "id=") || !strings.Contains(v.(string), "cmd=client|info") {
			t.Fatalf("client info: %q", v)
		}
	},
	"client|kill": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("client", "id")
		id := strings.TrimSpace(r.reply()[1:])
		wantErr(t, c, "ERR No such user 'nosuchuser'", "client", "kill", "user", "nosuchuser")
		want(t, c, int64(1), "client", "kill", "id", id)
		if !r.closed() {
			t.Fatal("killed client still connected")
		}
		wantErr(t, c, "ERR No such client", "client", "kill", "1.2.3.4:5")
	},
	"client|no-evict": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "client", "no-evict", "on")
		wantErr(t, c, "ERR syntax error", "client", "no-evict", "maybe")
	},
	"client|no-touch": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "k", "v", 0)
		s.clock.Advance(2 * time.Second)
		r := s.raw()
		r.cmd("client", "no-touch", "on")
		r.reply()
		r.cmd("get", "k")
		r.reply()
		r.cmd("object", "idletime", "k")
		if got := r.reply(); got == ":0\r\n" {
			t.Fatalf("NO-TOUCH GET reset the idle time: %q", got)
		}
	},
	"client|reply": func(t *testing.T, s *server, c *redis.Client) {
		r := s.raw()
		r.cmd("client", "reply", "off")
		r.cmd("set", "a", "1")
		r.cmd("client", "reply", "skip") // no reply while off either
		r.cmd("client", "reply", "on")
		if got := r.reply(); got != "+OK\r\n" {
			t.Fatalf("first reply after ON: %q", got)
		}
		r.cmd("client", "reply", "skip")
		r.cmd("get", "a")
		r.cmd("get", "a")
		if got := r.reply(); got != "$1\r\n1\r\n" {
			t.Fatalf("after SKIP: %q", got)
		}
	},
	"client|help": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "client", "help")
		if len(v.([]any)) < 10 {
			t.Fatal(v)
		}
	},
	"info": func(t *testing.T, s *server, c *redis.Client) {
		c.Set(ctx, "a", "1", time.Hour)
		c.Get(ctx, "a")
		c.Get(ctx, "missing")
		want(t, c, "", "info", "") // names no section: empty text, no panic
		info := c.Info(ctx).Val()
		for _, f := range []string{"redis_version:", "# Memory", "used_memory:", "maxmemory_policy:", "keyspace_hits:1", "keyspace_misses:1", "db0:keys=1,expires=1,avg_ttl=", "role:master", "evicted_keys:0", "expired_keys:0"} {
			if !strings.Contains(info, f) {
				t.Errorf("INFO lacks %q", f)
			}
		}
		cs := c.Info(ctx, "commandstats").Val()
		if !strings.Contains(cs, "cmdstat_get:calls=2,") {
			t.Errorf("commandstats: %q", cs)
		}
		c.Do(ctx, "nosuch")
		es := c.Info(ctx, "errorstats").Val()
		if !strings.Contains(es, "errorstat_ERR:count=") {
			t.Errorf("errorstats: %q", es)
		}
		all := c.Info(ctx, "everything").Val()
		if !strings.Contains(all, "# Expiry") || !strings.Contains(all, "expired_time_cap_reached_count:") {
			t.Errorf("INFO everything lacks cachesrv sections: %q", all)
		}
	},
	"time": func(t *testing.T, s *server, c *redis.Client) {
		tm := c.Time(ctx).Val()
		if d := time.Since(tm); d > time.Minute || d < -time.Minute {
			t.Fatal(tm)
		}
	},
	"shutdown": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR syntax error", "shutdown", "later")
		// The real SHUTDOWN is exercised by TestShutdownCommand.
	},
	"config": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR wrong number of arguments for 'config' command", "config")
	},
	"config|get": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "config", "get", "maxmemory*")
		if len(v.([]any)) < 4 {
			t.Fatalf("config get maxmemory*: %v", v)
		}
		want(t, c, []any{}, "config", "get", "nosuchparam")
	},
	"config|set": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "config", "set", "maxmemory", "100mb")
		want(t, c, []any{"maxmemory", "104857600"}, "config", "get", "maxmemory")
		wantErr(t, c, "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'", "config", "set", "nosuch", "1")
		wantErr(t, c, "ERR CONFIG SET failed (possibly related to argument 'maxmemory')", "config", "set", "maxmemory", "lots")
		wantErr(t, c, "ERR CONFIG SET failed (possibly related to argument 'port')", "config", "set", "port", "1")
		wantErr(t, c, "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter", "config", "set", "maxmemory", "1mb", "MAXMEMORY", "2mb")
		want(t, c, []any{"maxmemory", "104857600"}, "config", "get", "maxmemory")
	},
	"config|resetstat": func(t *testing.T, s *server, c *redis.Client) {
		c.Get(ctx, "x")
		want(t, c, "OK", "config", "resetstat")
		if !strings.Contains(c.Info(ctx, "stats").Val(), "keyspace_misses:0") {
			t.Fatal("RESETSTAT kept misses")
		}
	},
	"config|rewrite": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR The server is running without a config file", "config", "rewrite")
	},
	"config|help": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "config", "help")
		if len(v.([]any)) < 6 {
			t.Fatal(v)
		}
	},
	"slowlog": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR unknown subcommand 'x'. Try SLOWLOG HELP.", "slowlog", "x")
	},
	"slowlog|get": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "config", "set", "slowlog-log-slower-than", "0")
		c.Set(ctx, "a", "b", 0)
		v, _ := do(t, c, "slowlog", "get", "1")
		entries := v.([]any)
		if len(entries) != 1 || len(entries[0].([]any)) != 6 {
			t.Fatalf("slowlog get: %#v", v)
		}
	},
	"slowlog|len": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "config", "set", "slowlog-log-slower-than", "0")
		c.Set(ctx, "a", "b", 0)
		v, _ := do(t, c, "slowlog", "len")
		if v.(int64) < 1 {
			t.Fatal(v)
		}
	},
	"slowlog|reset": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "slowlog", "reset")
		want(t, c, int64(0), "slowlog", "len")
	},
	"slowlog|help": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "slowlog", "help")
		if len(v.([]any)) < 6 {
			t.Fatal(v)
		}
	},
	"command": func(t *testing.T, s *server, c *redis.Client) {
		cmds, err := c.Command(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		get := cmds["get"]
		if get == nil || get.Arity != 2 || get.FirstKeyPos != 1 || !get.ReadOnly {
			t.Fatalf("COMMAND get: %+v", get)
		}
	},
	"command|count": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "command", "count")
		if v.(int64) < 60 {
			t.Fatal(v)
		}
	},
	"command|info": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "command", "info", "get", "nosuch", "config|get")
		arr := v.([]any)
		if len(arr) != 3 || arr[1] != nil || arr[0].([]any)[0] != "get" || arr[2].([]any)[0] != "config|get" {
			t.Fatalf("command info: %#v", v)
		}
	},
	"command|docs": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "command", "docs", "set")
		arr := v.([]any)
		if len(arr) != 2 || arr[0] != "set" {
			t.Fatalf("command docs: %#v", v)
		}
	},
	"command|list": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "command", "list", "filterby", "pattern", "get*")
		names := fmt.Sprint(v)
		if !strings.Contains(names, "getrange") || strings.Contains(names, "setex") {
			t.Fatalf("command list: %v", names)
		}
		// subcommands match by their full name
		want(t, c, []any{"set"}, "command", "list", "filterby", "pattern", "set")
		v, _ = do(t, c, "command", "list", "filterby", "pattern", "config*")
		if names := fmt.Sprint(v); !strings.Contains(names, "config|get") || !strings.Contains(names, "config|set") {
			t.Fatalf("command list config*: %v", names)
		}
	},
	"command|getkeys": func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, []any{"a", "c"}, "command", "getkeys", "mset", "a", "b", "c", "d")
		wantErr(t, c, "ERR The command has no key arguments", "command", "getkeys", "ping")
	},
	"command|help": func(t *testing.T, s *server, c *redis.Client) {
		v, _ := do(t, c, "command", "help")
		if len(v.([]any)) < 8 {
			t.Fatal(v)
		}
	},
	"cluster": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR This instance has cluster support disabled", "cluster", "slots")
	},
	"readonly": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR This instance has cluster support disabled", "readonly")
	},
	"readwrite": func(t *testing.T, s *server, c *redis.Client) {
		wantErr(t, c, "ERR This instance has cluster support disabled", "readwrite")
	},
}

// fakeClockCases run on a server with a fake clock (server.clock).
var fakeClockCases = map[string]bool{"client|no-touch": true}

func TestCommands(t *testing.T) {
	t.Parallel()
	names := make([]string, 0, len(commandCases))
	for n := range commandCases {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		fn := commandCases[name]
		t.Run(strings.ReplaceAll(name, "|", "_"), func(t *testing.T) {
			t.Parallel()
			var s *server
			if fakeClockCases[name] {
				s, _ = startClock(t, nil)
			} else {
				s = start(t, nil)
			}
			fn(t, s, s.client(2))
		})
	}
}

// TestEveryCommandHasATest walks the command table and fails for any
// command or subcommand without an integration test in commandCases (or
// in the extra list of commands covered by their own test files).
func TestEveryCommandHasATest(t *testing.T) {
	s := start(t, nil)
	for _, cmd := range s.App.Server.Table().All() {
		name := cmd.FullName()
		if _, ok := commandCases[name]; !ok && !extraCovered[name] {
			t.Errorf("command %q has no integration test", name)
		}
	}
	_ = protocol.RedisVersion
}

// extraCovered lists commands whose integration tests live in other files
// (added by the files that test them).
var extraCovered = map[string]bool{}
