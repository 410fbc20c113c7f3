package store

import (
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/expire"
)

// TestFieldReaping: the expiry sweeper's ExpireShard drops expired hash
// fields without any read, and deletes a hash whose last field expired.
func TestFieldReaping(t *testing.T) {
	t.Parallel()
	clk := expire.NewFakeClock(time.UnixMilli(1_000_000))
	st, err := New(Options{Shards: 1, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	now := clk.Now().UnixMilli()
	dl := func(ms int64) []byte { return coll.PutDeadline(nil, ms) }
	put := func(key string, items ...[]byte) {
		v := coll.Encode(nil, coll.FlagFieldTTL, items)
		h := st.Hash([]byte(key))
		sh := st.ShardFor(h)
		sh.Lock()
		defer sh.Unlock()
		if err := sh.SetLocked(0, []byte(key), h, v, Meta{Type: TypeHash}, now); err != nil {
			t.Fatal(err)
		}
		if !sh.SetFieldDeadlineLocked(0, []byte(key), h, now+10, now) {
			t.Fatal("SetFieldDeadlineLocked on a live key")
		}
	}
	put("h", []byte("a"), []byte("1"), dl(now+10), []byte("b"), []byte("2"), dl(now+100), []byte("c"), []byte("3"), dl(0))
	put("gone", []byte("a"), []byte("1"), dl(now+10))
	used := st.UsedMemory()
	sweep := func() {
		for st.ExpireShard(0, clk.Now().UnixMilli(), 100); ; {
			if _, more := st.ExpireShard(0, clk.Now().UnixMilli(), 100); !more {
				return
			}
		}
	}
	fields := func(key string) int {
		h := st.Hash([]byte(key))
		sh := st.ShardFor(h)
		sh.Lock()
		defer sh.Unlock()
		e, ok := sh.LookupLocked(0, []byte(key), h, clk.Now().UnixMilli(), NoStats|NoTouch)
		if !ok {
			return -1
		}
		return coll.Count(e.Value) / 3
	}
	sweep()
	if fields("h") != 3 || fields("gone") != 1 {
		t.Fatal("fields reaped before their deadline")
	}
	clk.Advance(10 * time.Millisecond)
	sweep()
	if n := fields("h"); n != 2 {
		t.Fatalf("after the first deadline h has %d fields, want 2", n)
	}
	if fields("gone") != -1 {
		t.Fatal("a hash whose last field expired is still there")
	}
	clk.Advance(90 * time.Millisecond)
	sweep()
	if n := fields("h"); n != 1 {
		t.Fatalf("after the second deadline h has %d fields, want 1", n)
	}
	if st.UsedMemory() >= used {
		t.Fatalf("used memory %d did not go down from %d", st.UsedMemory(), used)
	}
}
