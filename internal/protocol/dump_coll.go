package protocol

import (
	"slices"

	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/rdb"
	"github.com/cachesrv/cachesrv/internal/store"
)

// DUMP and RESTORE of collections: the store's encodings (package coll)
// to and from rdb.Collection, Redis's DUMP forms.

// collToRDB fills out with the collection value v of type typ, dropping
// hash fields expired at c.now. ok=false: a corrupt value (reply written).
func (c *Client) collToRDB(typ uint8, v []byte, out *rdb.Collection) bool {
	out.Reset()
	switch typ {
	case store.TypeList:
		l := coll.List(v)
		if !l.Valid() {
			c.addError(errCorrupt)
			return false
		}
		out.Kind, out.Items = rdb.KindList, l.Elems(out.Items)
	case store.TypeSet:
		items, _, ok := c.decodeSeq(v)
		if !ok {
			return false
		}
		out.Kind, out.Items = rdb.KindSet, items
	case store.TypeZSet:
		items, _, ok := c.decodeSeq(v)
		if !ok {
			return false
		}
		if len(items)%2 != 0 {
			c.addError(errCorrupt)
			return false
		}
		out.Kind = rdb.KindZSet
		for i := 0; i < len(items); i += 2 {
			out.Items = append(out.Items, items[i])
			out.Scores = append(out.Scores, coll.Score(items[i+1]))
		}
	case store.TypeHash:
		fs, _, ok := c.hashOf(v)
		if !ok {
			return false
		}
		out.Kind = rdb.KindHash
		ttl := false
		for _, f := range fs {
			out.Items = append(out.Items, f.f, f.v)
			ttl = ttl || f.exp != 0
		}
		if ttl {
			for _, f := range fs {
				out.Deadlines = append(out.Deadlines, f.exp)
			}
		}
	default:
		c.addError("ERR DUMP is not supported for values of type " + store.TypeName(typ))
		return false
	}
	return true
}

// collFromRDB builds the store value of a restored collection: duplicate
// set members, sorted set members and hash fields keep their last
// occurrence (hostile payloads cannot break the encodings' invariants),
// sorted sets are ordered by (score, member), hash fields expired at now
// are dropped. next is the earliest remaining field deadline; empty says
// nothing is left to store.
func collFromRDB(rc *rdb.Collection, now int64) (typ uint8, val []byte, next int64, empty bool) {
	switch rc.Kind {
	case rdb.KindList:
		return store.TypeList, coll.BuildList(nil, rc.Items, 16, 16), 0, len(rc.Items) == 0
	case rdb.KindSet:
		seen := make(map[string]struct{}, len(rc.Items))
		ms := make([][]byte, 0, len(rc.Items))
		for _, m := range rc.Items {
			if _, dup := seen[string(m)]; !dup {
				seen[string(m)] = struct{}{}
				ms = append(ms, m)
			}
		}
		return store.TypeSet, coll.Encode(make([]byte, 0, coll.Size(ms)), 0, ms), 0, len(ms) == 0
	case rdb.KindZSet:
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
			if zless(a, b) {
				return -1
			}
			if zless(b, a) {
				return 1
			}
			return 0
		})
		return store.TypeZSet, encodeZSet(zs), 0, len(zs) == 0
	case rdb.KindHash:
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
		return store.TypeHash, encodeHash(live), next, len(live) == 0
	}
	panic("BUG: restore of collection kind " + itoa(int64(rc.Kind)))
}
