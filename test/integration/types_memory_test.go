package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cachesrv/cachesrv/internal/config"
)

// TestCollectionsMemoryAndEviction: collections are charged to used_memory
// and evicted as whole keys under maxmemory; a collection that would not
// fit in maxmemory at all is refused.
func TestCollectionsMemoryAndEviction(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) {
		c.MaxMemory = 4 << 20
		c.MaxMemoryPolicy = "allkeys-lru"
	})
	c := s.client(2)
	base := infoInt(t, c, "memory", "used_memory")
	val := strings.Repeat("v", 100)
	for i := 0; i < 500; i++ {
		c.RPush(ctx, "list", val)
	}
	grown := infoInt(t, c, "memory", "used_memory")
	if grown-base < 500*100 {
		t.Fatalf("a 50 KB list moved used_memory by %d bytes", grown-base)
	}
	c.Del(ctx, "list")
	if after := infoInt(t, c, "memory", "used_memory"); after > base+16<<10 {
		t.Fatalf("deleting the list left used_memory at %d (base %d)", after, base)
	}
	// Many hashes, sets, sorted sets and lists: memory stays bounded and
	// whole keys are evicted.
	for b := 0; b < 20; b++ {
		p := c.Pipeline()
		for i := b * 500; i < (b+1)*500; i++ {
			k := fmt.Sprint(i)
			p.HSet(ctx, "h"+k, "a", val, "b", val)
			p.SAdd(ctx, "s"+k, val, val+"x")
			p.Do(ctx, "zadd", "z"+k, "1", val)
			p.RPush(ctx, "l"+k, val, val)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if infoInt(t, c, "stats", "evicted_keys") == 0 {
		t.Fatal("no collection was evicted")
	}
	if used, max := infoInt(t, c, "memory", "used_memory"), infoInt(t, c, "memory", "maxmemory"); used > max+max/10 {
		t.Fatalf("used_memory %d over maxmemory %d", used, max)
	}
	// A single collection may not outgrow maxmemory: the write that would
	// make it larger than the whole budget is refused.
	big := strings.Repeat("x", 1<<20)
	err := c.RPush(ctx, "huge", big, big, big, big, big).Err()
	if err == nil || !strings.HasPrefix(err.Error(), "OOM") {
		t.Fatalf("a list larger than maxmemory: %v", err)
	}
	want(t, c, int64(0), "exists", "huge")
}
