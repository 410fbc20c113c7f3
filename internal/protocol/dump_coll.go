package protocol

import (
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
