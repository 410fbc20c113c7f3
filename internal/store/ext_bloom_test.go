package store

import (
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/expire"
)

func TestValueModifiedLocked(t *testing.T) {
	t.Parallel()
	clk := expire.NewFakeClock(time.Unix(1_700_000_000, 0))
	st, err := New(Options{Shards: 2, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("filter")
	h := st.Hash(key)
	sh := st.ShardFor(h)
	now := st.NowMs()
	w := new(Watch)

	sh.Lock()
	defer sh.Unlock()
	if sh.ValueModifiedLocked(0, key, h, now) {
		t.Fatal("missing key reported live")
	}
	if err := sh.SetLocked(0, key, h, []byte{0, 0, 0}, Meta{Type: TypeBloom, Deadline: now + 1000}, now); err != nil {
		t.Fatal(err)
	}
	reg, _ := sh.WatchLocked(0, key, w)
	e, ok := sh.LookupLocked(0, key, h, now, NoStats)
	if !ok {
		t.Fatal("lookup")
	}
	e.Value[1] = 7
	if !sh.ValueModifiedLocked(0, key, h, now) {
		t.Fatal("live key reported missing")
	}
	if !w.Dirty.Load() {
		t.Fatal("WATCH not dirtied")
	}
	e, _ = sh.LookupLocked(0, key, h, now, NoStats)
	if string(e.Value) != "\x00\x07\x00" || e.Type != TypeBloom || e.Deadline != now+1000 {
		t.Fatalf("entry after in-place update: %q %+v", e.Value, e.Meta)
	}
	sh.UnwatchLocked(reg, w)
}
