package store

import (
	"fmt"
	"testing"

	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/rdb"
)

func bs(ss ...string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

// TestBuildCollection: duplicates keep their last occurrence, sorted sets
// come out ordered, expired hash fields are dropped, and the next field
// deadline is reported (and found again by NextFieldDeadline).
func TestBuildCollection(t *testing.T) {
	const now = 1_000_000
	typ, v, _, empty := BuildCollection(&rdb.Collection{Kind: rdb.KindSet, Items: bs("a", "b", "a")}, now)
	items, _, _ := coll.Decode(v, nil)
	if typ != TypeSet || empty || fmt.Sprintf("%s", items) != "[a b]" {
		t.Fatalf("set: %d %s", typ, items)
	}
	typ, v, _, _ = BuildCollection(&rdb.Collection{Kind: rdb.KindZSet, Items: bs("x", "y", "x", "w"), Scores: []float64{5, 1, 0.5, 1}}, now)
	items, _, _ = coll.Decode(v, nil)
	got := ""
	for i := 0; i < len(items); i += 2 {
		got += fmt.Sprintf("%s:%g ", items[i], coll.Score(items[i+1]))
	}
	if typ != TypeZSet || got != "x:0.5 w:1 y:1 " {
		t.Fatalf("zset: %q", got)
	}
	rc := &rdb.Collection{Kind: rdb.KindHash, Items: bs("f", "1", "g", "2", "h", "3", "f", "4"),
		Deadlines: []int64{now + 500, now - 1, 0, now + 100}}
	typ, v, next, empty := BuildCollection(rc, now)
	items, flags, _ := coll.Decode(v, nil)
	if typ != TypeHash || empty || flags&coll.FlagFieldTTL == 0 || len(items) != 6 || next != now+100 ||
		string(items[0]) != "f" || string(items[1]) != "4" || string(items[3]) != "h" {
		t.Fatalf("hash: %s next %d", items, next)
	}
	if NextFieldDeadline(v) != now+100 {
		t.Fatalf("NextFieldDeadline = %d", NextFieldDeadline(v))
	}
	// Every field with a deadline expired: a plain hash is left.
	_, v, next, _ = BuildCollection(&rdb.Collection{Kind: rdb.KindHash, Items: bs("a", "1", "b", "2"), Deadlines: []int64{now - 5, 0}}, now)
	items, flags, _ = coll.Decode(v, nil)
	if flags != 0 || len(items) != 2 || string(items[0]) != "b" || next != 0 || NextFieldDeadline(v) != 0 {
		t.Fatalf("plain hash: %s flags %d next %d", items, flags, next)
	}
	if _, _, _, empty := BuildCollection(&rdb.Collection{Kind: rdb.KindHash, Items: bs("a", "1"), Deadlines: []int64{now}}, now); !empty {
		t.Fatal("hash whose only field expired is not empty")
	}
	typ, v, _, _ = BuildCollection(&rdb.Collection{Kind: rdb.KindList, Items: bs("p", "q")}, now)
	if l := coll.List(v); typ != TypeList || !l.Valid() || l.Len() != 2 {
		t.Fatalf("list: %d", typ)
	}
}
