package store

import (
	"bytes"
	"slices"

	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/rdb"
)

// BuildCollection encodes a collection read from a DUMP payload or a Redis
// RDB file as a store value. Duplicate set members, sorted set members and
// hash fields keep their last occurrence (hostile payloads cannot break the
// encodings' invariants), sorted sets are ordered by (score, member), hash
// fields expired at now are dropped. next is the earliest remaining field
// deadline (schedule it with SetFieldDeadlineLocked); empty says nothing is
// left to store.
func BuildCollection(rc *rdb.Collection, now int64) (typ uint8, val []byte, next int64, empty bool) {
	switch rc.Kind {
	case rdb.KindList:
		return TypeList, coll.BuildList(nil, rc.Items, 16, 16), 0, len(rc.Items) == 0
	case rdb.KindSet:
		seen := make(map[string]struct{}, len(rc.Items))
		ms := make([][]byte, 0, len(rc.Items))
		for _, m := range rc.Items {
			if _, dup := seen[string(m)]; !dup {
				seen[string(m)] = struct{}{}
				ms = append(ms, m)
			}
		}
		return TypeSet, coll.Encode(make([]byte, 0, coll.Size(ms)), 0, ms), 0, len(ms) == 0
	case rdb.KindZSet:
		type zent struct {
			m []byte
			s float64
		}
		at := make(map[string]int, len(rc.Items))
		zs := make([]zent, 0, len(rc.Items))
		for i, m := range rc.Items {
			z := zent{m: m, s: rc.Scores[i]}
			if j, dup := at[string(m)]; dup {
				zs[j] = z
				continue
			}
			at[string(m)] = len(zs)
			zs = append(zs, z)
		}
		slices.SortFunc(zs, func(a, b zent) int {
			switch {
			case a.s < b.s:
				return -1
			case a.s > b.s:
				return 1
			}
			return bytes.Compare(a.m, b.m)
		})
		items := make([][]byte, 0, 2*len(zs))
		scores := make([]byte, 0, 8*len(zs))
		for _, z := range zs {
			scores = coll.PutScore(scores, z.s)
			items = append(items, z.m, scores[len(scores)-8:])
		}
		return TypeZSet, coll.Encode(make([]byte, 0, coll.Size(items)), 0, items), 0, len(zs) == 0
	case rdb.KindHash:
		type hfield struct {
			f, v []byte
			exp  int64
		}
		at := make(map[string]int, len(rc.Items)/2)
		fs := make([]hfield, 0, len(rc.Items)/2)
		for i := 0; i+1 < len(rc.Items); i += 2 {
			f := hfield{f: rc.Items[i], v: rc.Items[i+1]}
			if rc.Deadlines != nil {
				f.exp = rc.Deadlines[i/2]
			}
			if j, dup := at[string(f.f)]; dup {
				fs[j] = f
				continue
			}
			at[string(f.f)] = len(fs)
			fs = append(fs, f)
		}
		// Drop expired fields first, then encode once: triples (field,
		// value, deadline) only when a live field has a deadline.
		live := fs[:0]
		for _, f := range fs {
			if f.exp < 0 || (f.exp != 0 && f.exp <= now) {
				continue
			}
			if f.exp != 0 && (next == 0 || f.exp < next) {
				next = f.exp
			}
			live = append(live, f)
		}
		var flags byte
		if next != 0 {
			flags = coll.FlagFieldTTL
		}
		items := make([][]byte, 0, 3*len(live))
		dl := make([]byte, 0, 8*len(live))
		for _, f := range live {
			items = append(items, f.f, f.v)
			if flags != 0 {
				dl = coll.PutDeadline(dl, f.exp)
				items = append(items, dl[len(dl)-8:])
			}
		}
		return TypeHash, coll.Encode(make([]byte, 0, coll.Size(items)), flags, items), next, len(live) == 0
	}
	panic("BUG: store: collection kind out of range")
}

// NextFieldDeadline returns the earliest field deadline of a hash value
// (0: none), for scheduling reaps after a load.
func NextFieldDeadline(val []byte) int64 {
	items, flags, err := coll.Decode(val, nil)
	if err != nil || flags&coll.FlagFieldTTL == 0 || len(items)%3 != 0 {
		return 0
	}
	next := int64(0)
	for i := 2; i < len(items); i += 3 {
		if d := coll.Deadline(items[i]); d != 0 && (next == 0 || d < next) {
			next = d
		}
	}
	return next
}
