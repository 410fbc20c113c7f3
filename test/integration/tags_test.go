package integration

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func init() {
	for _, n := range []string{"tagset", "invalidate", "softinvalidate", "tags", "deps", "tagcount", "tagkeys", "vget", "vgetif"} {
		extraCovered[n] = true
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func sortedStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	sort.Strings(out)
	return out
}

func TestTagSetAndInvalidate(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	// The worked example of docs/tags.md: product pages tagged by product
	// and category.
	want(t, c, "OK", "tagset", "page:/p/42", "<html>42</html>", "tags", "2", "product:42", "category:shoes")
	want(t, c, "OK", "tagset", "page:/p/43", "<html>43</html>", "tags", "2", "product:43", "category:shoes", "ex", "3600")
	want(t, c, "OK", "tagset", "page:/c/shoes", "<html>shoes</html>", "tags", "1", "category:shoes")
	want(t, c, "OK", "tagset", "page:/c/hats", "<html>hats</html>", "tags", "1", "category:hats")
	want(t, c, int64(3), "tagcount", "category:shoes")
	v, _ := do(t, c, "tags", "page:/p/42")
	if got := sortedStrings(v); fmt.Sprint(got) != "[category:shoes product:42]" {
		t.Fatalf("TAGS: %v", got)
	}
	// Product 42 changes: one call removes every page showing it.
	want(t, c, int64(1), "invalidate", "product:42")
	want(t, c, nil, "get", "page:/p/42")
	want(t, c, "<html>43</html>", "get", "page:/p/43")
	want(t, c, int64(2), "tagcount", "category:shoes")
	// Distinct keys across several tags.
	want(t, c, int64(3), "invalidate", "category:shoes", "product:43", "category:hats")
	// DBSIZE counts invalidated entries until the reclaimer removes them
	// (like expired keys in Redis); it converges quickly.
	waitFor(t, func() bool { return c.DBSize(ctx).Val() == 0 }, "DBSIZE to reach 0 after INVALIDATE")
	want(t, c, int64(0), "invalidate", "category:shoes")
	// Entries written after the call are untouched.
	want(t, c, "OK", "tagset", "page:/c/shoes", "v2", "tags", "1", "category:shoes")
	want(t, c, "v2", "get", "page:/c/shoes")
	// SET-like options and replies.
	want(t, c, nil, "tagset", "page:/c/shoes", "v3", "tags", "1", "category:shoes", "nx")
	want(t, c, "v2", "tagset", "page:/c/shoes", "v3", "tags", "1", "category:shoes", "get")
	wantErr(t, c, "ERR syntax error", "tagset", "k", "v", "tags", "1", "a", "bogus")
	wantErr(t, c, "ERR syntax error", "tagset", "k", "v", "tags", "3", "a")
	wantErr(t, c, "ERR tag must not be empty", "tagset", "k", "v", "tags", "1", "")
	wantErr(t, c, "ERR tag too long", "tagset", "k", "v", "tags", "1", strings.Repeat("x", 300))
	args := []any{"tagset", "k", "v", "tags", "40"}
	for i := 0; i < 40; i++ {
		args = append(args, fmt.Sprint("t", i))
	}
	wantErr(t, c, "ERR too many tags (tags-max-per-key is 32)", args...)
	// Tags are per database.
	r := s.raw()
	r.cmd("select", "1")
	r.reply()
	r.cmd("invalidate", "category:shoes")
	if got := r.reply(); got != ":0\r\n" {
		t.Fatalf("invalidate in db 1: %q", got)
	}
	want(t, c, "v3", "get", "page:/c/shoes")
}

func TestTagSemanticsOfOtherCommands(t *testing.T) {
	t.Parallel()
	s, _ := startClock(t, nil)
	c := s.client(2)
	tagged := func(k string) {
		want(t, c, "OK", "tagset", k, "1", "tags", "1", "T")
	}
	// Plain SET replaces the entry: its tags go.
	tagged("a")
	c.Set(ctx, "a", "plain", 0)
	want(t, c, int64(0), "invalidate", "T")
	want(t, c, "plain", "get", "a")
	// APPEND, INCR, SETRANGE, GETEX and EXPIRE modify the entry in place:
	// tags stay.
	for _, op := range [][]any{{"append", "k", "x"}, {"incr", "k"}, {"setrange", "k", "0", "9"}, {"getex", "k", "ex", "100"}, {"expire", "k", "100"}, {"persist", "k"}} {
		tagged("k")
		c.Do(ctx, op...)
		want(t, c, int64(1), "tagcount", "T")
		want(t, c, int64(1), "invalidate", "T")
		want(t, c, int64(0), "exists", "k")
	}
	// RENAME keeps tags; COPY and MOVE do not.
	tagged("src")
	want(t, c, "OK", "rename", "src", "dst")
	want(t, c, int64(1), "tagcount", "T")
	want(t, c, int64(1), "copy", "dst", "cp")
	want(t, c, int64(1), "invalidate", "T")
	want(t, c, int64(0), "exists", "dst")
	want(t, c, int64(1), "exists", "cp")
	// The last key of a tag gone (delete, expiry, flush): the tag goes.
	tagged("gone")
	c.Del(ctx, "gone")
	want(t, c, int64(0), "tagcount", "T")
	want(t, c, "OK", "tagset", "short", "v", "tags", "1", "T", "px", "20")
	s.clock.Advance(60 * time.Millisecond)
	want(t, c, nil, "get", "short")
	want(t, c, int64(0), "tagcount", "T")
	tagged("f")
	c.FlushAll(ctx)
	want(t, c, int64(0), "tagcount", "T")
	info := c.Info(ctx, "tags").Val()
	if !strings.Contains(info, "tags:0") || !strings.Contains(info, "tagged_keys:0") {
		t.Fatalf("tags left behind: %s", info)
	}
}

func TestTagKeysScan(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	for i := 0; i < 1000; i++ {
		tags := []any{"tagset", fmt.Sprint("k", i), "v", "tags", "1", "even"}
		if i%2 == 1 {
			tags[5] = "odd"
		}
		if _, err := c.Do(ctx, tags...).Result(); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]int{}
	cursor := "0"
	for {
		v, e := do(t, c, "tagkeys", "even", cursor, "count", "37")
		if e != "" {
			t.Fatal(e)
		}
		arr := v.([]any)
		for _, k := range arr[1].([]any) {
			seen[k.(string)]++
		}
		if cursor = arr[0].(string); cursor == "0" {
			break
		}
	}
	if len(seen) != 500 {
		t.Fatalf("TAGKEYS saw %d keys, want 500", len(seen))
	}
	for k := range seen {
		var n int
		fmt.Sscanf(k, "k%d", &n)
		if n%2 != 0 {
			t.Fatalf("odd key %s under tag even", k)
		}
	}
}

func TestDependencies(t *testing.T) {
	t.Parallel()
	s, _ := startClock(t, nil) // the 200 ms TTL below must not run out on a slow machine
	c := s.client(2)
	c.Set(ctx, "user:42", "Ann", 0)
	want(t, c, "OK", "tagset", "page:profile:42", "<p>Ann</p>", "deps", "1", "user:42")
	want(t, c, "OK", "tagset", "page:home", "<home>", "deps", "1", "page:profile:42", "tags", "1", "home")
	v, _ := do(t, c, "deps", "page:home")
	// Direct and inherited (transitive) dependencies.
	if fmt.Sprint(sortedStrings(v)) != "[page:profile:42 user:42]" {
		t.Fatalf("DEPS: %v", v)
	}
	// A write of the dependency invalidates the dependents, transitively.
	c.Set(ctx, "user:42", "Bob", 0)
	want(t, c, nil, "get", "page:profile:42")
	want(t, c, nil, "get", "page:home")
	// Deletion, expiry and tag invalidation of a dependency do too.
	want(t, c, "OK", "tagset", "d1", "x", "deps", "1", "user:42")
	c.Del(ctx, "user:42")
	want(t, c, nil, "get", "d1")
	want(t, c, "OK", "tagset", "base", "b", "tags", "1", "T", "px", "200")
	want(t, c, "OK", "tagset", "d2", "x", "deps", "1", "base")
	if pttl := c.PTTL(ctx, "d2").Val(); pttl <= 0 || pttl > 200*time.Millisecond {
		t.Fatalf("dependent outlives its dependency: pttl %v", pttl)
	}
	want(t, c, int64(2), "invalidate", "T") // base, and d2 through the tag it inherited
	want(t, c, nil, "get", "d2")
	// Cycles are safe.
	want(t, c, "OK", "tagset", "x", "1", "deps", "1", "y")
	want(t, c, "OK", "tagset", "y", "1", "deps", "1", "x")
	want(t, c, "OK", "tagset", "x", "2", "deps", "1", "y")
	want(t, c, "2", "get", "x")
	want(t, c, nil, "get", "y")
}

func TestVersions(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	want(t, c, "OK", "tagset", "row:1", "v5", "version", "5")
	wantErr(t, c, "OLDVERSION stored version 5 is not older than 5", "tagset", "row:1", "v5b", "version", "5")
	wantErr(t, c, "OLDVERSION stored version 5 is not older than 3", "tagset", "row:1", "v3", "version", "3")
	want(t, c, "OK", "tagset", "row:1", "v7", "version", "7")
	want(t, c, []any{"v7", int64(7)}, "vget", "row:1")
	want(t, c, "NOTMODIFIED", "vgetif", "row:1", "7")
	want(t, c, []any{"v7", int64(7)}, "vgetif", "row:1", "6")
	want(t, c, nil, "vget", "missing")
	c.Set(ctx, "plain", "p", 0)
	want(t, c, []any{"p", int64(0)}, "vget", "plain")
	if !strings.Contains(c.Info(ctx, "tags").Val(), "version_rejections:2") {
		t.Fatal("version rejections not counted")
	}
}

func TestSoftInvalidate(t *testing.T) {
	t.Parallel()
	s, _ := startClock(t, nil)
	c := s.client(2)
	want(t, c, "OK", "tagset", "k", "v", "tags", "1", "T")
	want(t, c, int64(1), "softinvalidate", "100", "T")
	want(t, c, nil, "get", "k") // plain reads see a miss...
	want(t, c, int64(0), "exists", "k")
	v, _ := do(t, c, "tags", "k") // ...but the entry is kept for stale-aware reads
	if v == nil {
		t.Fatal("softly invalidated entry dropped before its grace ended")
	}
	s.clock.Advance(150 * time.Millisecond)
	want(t, c, nil, "tags", "k")
}

// TestInvalidateAtomicInMulti: INVALIDATE inside MULTI/EXEC takes effect at
// its place in the transaction.
func TestInvalidateAtomicInMulti(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "tagset", "a", "1", "tags", "1", "T")
		p.Do(ctx, "tagset", "b", "1", "tags", "1", "T")
		p.Do(ctx, "invalidate", "T")
		p.Do(ctx, "tagset", "c", "1", "tags", "1", "T")
		p.Get(ctx, "a")
		return nil
	})
	if err != nil && err != redis.Nil {
		t.Fatal(err)
	}
	if n := cmds[2].(*redis.Cmd).Val(); n != int64(2) {
		t.Fatalf("INVALIDATE in EXEC returned %v", n)
	}
	if cmds[4].(*redis.StringCmd).Err() != redis.Nil {
		t.Fatal("invalidated key visible later in the same transaction")
	}
	want(t, c, int64(1), "tagcount", "T")
}

// TestInvalidateReclaimsMemory: invalidated entries leave used_memory
// without being read again.
func TestInvalidateReclaimsMemory(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	base := s.App.Store.UsedMemory()
	val := strings.Repeat("x", 500)
	// Pipelines of 2,000: one 10 MB pipeline can outlast go-redis's write
	// timeout under -race on a loaded machine.
	for b := 0; b < 20000; b += 2000 {
		p := c.Pipeline()
		for i := b; i < b+2000; i++ {
			p.Do(ctx, "tagset", fmt.Sprint("k", i), val, "tags", "1", "big")
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	loaded := s.App.Store.UsedMemory()
	want(t, c, int64(20000), "invalidate", "big")
	deadline := time.Now().Add(5 * time.Second)
	for {
		// The records go; the tables keep their capacity for the next fill.
		used := s.App.Store.UsedMemory()
		if s.App.Store.DBSize(0) == 0 && used-base < (loaded-base)*15/100 {
			t.Logf("used_memory: base %d, loaded %d, after invalidation %d", base, loaded, used)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("used_memory %d after invalidation (base %d, loaded %d)", used, base, loaded)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want(t, c, int64(0), "dbsize")
}
