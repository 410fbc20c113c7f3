package integration

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func init() {
	for _, n := range []string{"setbit", "getbit", "bitcount", "bitpos", "bitop", "memory", "memory|usage", "memory|stats",
		"memory|doctor", "memory|malloc-stats", "memory|purge", "memory|help", "role", "debug", "lcs"} {
		extraCovered[n] = true // this file
	}
}

// TestBitmaps checks the bitmap commands against replies taken from Redis
// 7.0.15 for the same inputs.
func TestBitmaps(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	want(t, c, int64(0), "setbit", "b", 7, 1)
	want(t, c, int64(1), "setbit", "b", 7, 1)
	want(t, c, "\x01", "get", "b")
	want(t, c, int64(0), "setbit", "b", 100, 1)
	want(t, c, int64(13), "strlen", "b")
	want(t, c, int64(1), "getbit", "b", 100)
	want(t, c, int64(0), "getbit", "b", 101)
	want(t, c, int64(0), "getbit", "b", 1_000_000)
	want(t, c, int64(0), "getbit", "missing", 3)
	wantErr(t, c, "ERR bit offset is not an integer or out of range", "setbit", "b", -1, 1)
	wantErr(t, c, "ERR bit offset is not an integer or out of range", "setbit", "b", 4294967296, 1)
	wantErr(t, c, "ERR bit offset is not an integer or out of range", "getbit", "b", "x")
	wantErr(t, c, "ERR bit is not an integer or out of range", "setbit", "b", 1, 2)
	c.Set(ctx, "s", "foobar", 0)
	want(t, c, int64(26), "bitcount", "s")
	want(t, c, int64(4), "bitcount", "s", 0, 0)
	want(t, c, int64(6), "bitcount", "s", 1, 1)
	want(t, c, int64(6), "bitcount", "s", 1, 1, "byte")
	want(t, c, int64(17), "bitcount", "s", 5, 30, "bit")
	want(t, c, int64(7), "bitcount", "s", -2, -1)
	want(t, c, int64(0), "bitcount", "s", 4, 2)
	want(t, c, int64(0), "bitcount", "missing")
	wantErr(t, c, "ERR syntax error", "bitcount", "s", 1)
	wantErr(t, c, "ERR syntax error", "bitcount", "s", 1, 2, "word")
	c.Set(ctx, "p", "\xff\xf0\x00", 0)
	want(t, c, int64(12), "bitpos", "p", 0)
	c.Set(ctx, "p", "\x00\xff\xf0", 0)
	want(t, c, int64(8), "bitpos", "p", 1, 0)
	want(t, c, int64(16), "bitpos", "p", 1, 2)
	want(t, c, int64(16), "bitpos", "p", 1, 2, -1, "byte")
	want(t, c, int64(8), "bitpos", "p", 1, 7, 15, "bit")
	want(t, c, int64(-1), "bitpos", "p", 1, 7, 7, "bit")
	c.Set(ctx, "f", "\xff\xff\xff", 0)
	want(t, c, int64(24), "bitpos", "f", 0)
	want(t, c, int64(-1), "bitpos", "f", 0, 0, -1)
	want(t, c, int64(0), "bitpos", "missing", 0)
	want(t, c, int64(-1), "bitpos", "missing", 1)
	wantErr(t, c, "ERR The bit argument must be 1 or 0.", "bitpos", "p", 2)
	c.Set(ctx, "k1", "foobar", 0)
	c.Set(ctx, "k2", "abcdef", 0)
	want(t, c, int64(6), "bitop", "and", "dest", "k1", "k2")
	want(t, c, "`bc`ab", "get", "dest")
	want(t, c, int64(6), "bitop", "or", "dest", "k1", "k2")
	want(t, c, "goofev", "get", "dest")
	want(t, c, int64(6), "bitop", "xor", "dest", "k1", "k2")
	want(t, c, "\x07\x0d\x0c\x06\x04\x14", "get", "dest")
	want(t, c, int64(0), "bitop", "not", "dest", "short")
	c.Set(ctx, "short", "\x0f", 0)
	want(t, c, int64(1), "bitop", "not", "dest", "short")
	want(t, c, "\xf0", "get", "dest")
	want(t, c, int64(0), "bitop", "or", "dest", "none1", "none2")
	want(t, c, int64(0), "exists", "dest")
	wantErr(t, c, "ERR BITOP NOT must be called with a single source key.", "bitop", "not", "dest", "k1", "k2")
	wantErr(t, c, "ERR syntax error", "bitop", "nand", "dest", "k1")
	// Bitmaps inside a script.
	want(t, c, int64(1), "eval", "redis.call('setbit', KEYS[1], 3, 1) return redis.call('getbit', KEYS[1], 3)", 1, "sb")
}

// TestMemoryRoleDebug: MEMORY reports what the store charges; ROLE and the
// DEBUG subset answer as tools expect.
func TestMemoryRoleDebug(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	want(t, c, nil, "memory", "usage", "missing")
	c.Set(ctx, "small", "x", 0)
	c.Set(ctx, "big", strings.Repeat("v", 100_000), 0)
	small, _ := do(t, c, "memory", "usage", "small")
	big, _ := do(t, c, "memory", "usage", "big", "samples", 0)
	if small.(int64) <= 1 || small.(int64) > 200 || big.(int64) < 100_000 || big.(int64) > 140_000 {
		t.Fatalf("MEMORY USAGE small=%v big=%v", small, big)
	}
	// The charge follows the value.
	c.Set(ctx, "small", strings.Repeat("y", 1000), 0)
	grown, _ := do(t, c, "memory", "usage", "small")
	if grown.(int64) < small.(int64)+900 {
		t.Fatalf("MEMORY USAGE after growing: %v (was %v)", grown, small)
	}
	wantErr(t, c, "ERR syntax error", "memory", "usage", "big", "bogus")
	stats, _ := do(t, c, "memory", "stats")
	m := map[string]any{}
	if l, ok := stats.([]any); ok {
		for i := 0; i+1 < len(l); i += 2 {
			m[l[i].(string)] = l[i+1]
		}
	}
	if m["keys.count"] != int64(2) || m["total.allocated"].(int64) <= 100_000 {
		t.Fatalf("MEMORY STATS = %v", m)
	}
	for _, sub := range []string{"doctor", "malloc-stats"} {
		if v, e := do(t, c, "memory", sub); e != "" || v.(string) == "" {
			t.Fatalf("MEMORY %s: %v %q", sub, v, e)
		}
	}
	want(t, c, "OK", "memory", "purge")
	if v, _ := do(t, c, "memory", "help"); len(v.([]any)) < 5 {
		t.Fatalf("MEMORY HELP = %v", v)
	}
	want(t, c, []any{"master", int64(0), []any{}}, "role")
	want(t, c, "OK", "debug", "sleep", 0)
	if v, e := do(t, c, "debug", "object", "big"); e != "" || !strings.Contains(v.(string), "serializedlength:100000") {
		t.Fatalf("DEBUG OBJECT = %v %q", v, e)
	}
	wantErr(t, c, "ERR no such key", "debug", "object", "missing")
	wantErr(t, c, "ERR DEBUG JMAP is not supported", "debug", "jmap")
	wantErr(t, c, "ERR DEBUG SET-ACTIVE-EXPIRE is not supported", "debug", "set-active-expire", 0)
	if v, _ := do(t, c, "debug", "help"); len(v.([]any)) < 3 {
		t.Fatalf("DEBUG HELP = %v", v)
	}
}

// TestRedisCLIMemkeys: redis-cli --memkeys reports the bytes MEMORY USAGE
// gives, not 0.
func TestRedisCLIMemkeys(t *testing.T) {
	t.Parallel()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("SKIPPING: redis-cli not found; install redis-tools (apt-get install redis-tools) to run this test. CI installs it.")
	}
	s := start(t, nil)
	c := s.client(2)
	c.Set(ctx, "big", strings.Repeat("v", 50_000), 0)
	c.Set(ctx, "small", "x", 0)
	host, port, _ := strings.Cut(s.Addr, ":")
	out, err := exec.Command(cli, "-h", host, "-p", port, "--memkeys").CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --memkeys: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Biggest string found '"big"' has (\d+) bytes`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("redis-cli --memkeys output:\n%s", out)
	}
	if n, _ := strconv.Atoi(m[1]); n < 50_000 {
		t.Fatalf("redis-cli --memkeys reports %d bytes for a 50000-byte value:\n%s", n, out)
	}
}

// TestLCS: replies taken from Redis 7.0.15 for its documented example.
func TestLCS(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	c.MSet(ctx, "key1", "ohmytext", "key2", "mynewtext")
	want(t, c, "mytext", "lcs", "key1", "key2")
	want(t, c, int64(6), "lcs", "key1", "key2", "len")
	want(t, c, []any{"matches", []any{
		[]any{[]any{int64(4), int64(7)}, []any{int64(5), int64(8)}},
		[]any{[]any{int64(2), int64(3)}, []any{int64(0), int64(1)}},
	}, "len", int64(6)}, "lcs", "key1", "key2", "idx")
	want(t, c, []any{"matches", []any{
		[]any{[]any{int64(4), int64(7)}, []any{int64(5), int64(8)}, int64(4)},
	}, "len", int64(6)}, "lcs", "key1", "key2", "idx", "minmatchlen", 4, "withmatchlen")
	wantErr(t, c, "ERR If you want both the length and indexes, please just use IDX.", "lcs", "key1", "key2", "len", "idx")
	wantErr(t, c, "ERR syntax error", "lcs", "key1", "key2", "bogus")
	want(t, c, "", "lcs", "key1", "missing")
	// A table over proto-max-bulk-len is refused, not allocated.
	c.ConfigSet(ctx, "proto-max-bulk-len", "1mb")
	c.Set(ctx, "long1", strings.Repeat("a", 1000), 0)
	c.Set(ctx, "long2", strings.Repeat("b", 1000), 0)
	wantErr(t, c, "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len", "lcs", "long1", "long2")
}
