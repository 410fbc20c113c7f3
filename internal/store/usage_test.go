package store

import (
	"strings"
	"testing"
)

func TestUsageLocked(t *testing.T) {
	st, clk := newTestStore(t, Options{})
	now := clk.Now().UnixMilli()
	key := []byte("k")
	h := st.Hash(key)
	sh := st.ShardFor(h)
	sh.Lock()
	defer sh.Unlock()
	if _, ok := sh.UsageLocked(0, key, h, now); ok {
		t.Fatal("usage of a missing key")
	}
	before := sh.entryBytes
	if err := sh.SetLocked(0, key, h, []byte(strings.Repeat("v", 5000)), Meta{}, now); err != nil {
		t.Fatal(err)
	}
	n, ok := sh.UsageLocked(0, key, h, now)
	if !ok || n-indexBytesPerEntry != sh.entryBytes-before || n < 5000 {
		t.Fatalf("usage %d, charged %d", n, sh.entryBytes-before)
	}
}

// BenchmarkLockAll is what a script's atomicity costs per EVAL with the
// default 64 shards and nobody else holding a lock.
func BenchmarkLockAll(b *testing.B) {
	st, _ := newTestStore(b, Options{Shards: 64})
	for b.Loop() {
		st.LockAll()
		st.UnlockAll()
	}
}
