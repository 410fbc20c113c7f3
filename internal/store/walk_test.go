package store

import (
	"strconv"
	"testing"
)

func TestWalkVisitsEveryLiveEntryOnce(t *testing.T) {
	t.Parallel()
	st, clk := newTestStore(t, Options{Databases: 16})
	now := clk.Now().UnixMilli()
	want := map[string]string{}
	for i := range 1000 {
		k := "k" + strconv.Itoa(i)
		m := Meta{}
		db := i % 3
		switch {
		case i%10 == 0:
			m.Deadline = now - 1 // already expired: not visited
		case i%10 == 1:
			m.Deadline = now + 60000
		}
		h := st.Hash([]byte(k))
		sh := st.ShardFor(h)
		sh.Lock()
		if err := sh.SetLocked(db, []byte(k), h, []byte("v"+k), m, now-5); err != nil {
			t.Fatal(err)
		}
		sh.Unlock()
		if i%10 != 0 {
			want[strconv.Itoa(db)+"/"+k] = "v" + k
		}
	}
	got := map[string]string{}
	flushes := 0
	err := st.Walk(7, func(e *WalkEntry) {
		id := strconv.Itoa(e.DB) + "/" + string(e.Key)
		if _, dup := got[id]; dup {
			t.Errorf("%s visited twice", id)
		}
		got[id] = string(e.Value)
		if n, _ := strconv.Atoi(string(e.Key[1:])); (n%10 == 1) != (e.Deadline == now+60000) {
			t.Errorf("%s: deadline %d", e.Key, e.Deadline)
		}
	}, func() error { flushes++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("visited %d entries, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %q want %q", k, got[k], v)
		}
	}
	if flushes < 1000/7 {
		t.Fatalf("only %d flushes: batches are not bounded", flushes)
	}
}
