package protocol

import (
	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Shared plumbing of the collection commands (hashes, lists, sets, sorted
// sets). A collection is one store record whose value is a package coll
// encoding; a handler looks the key up under its shard lock, decodes,
// changes and writes the new encoding back with the entry's metadata (TTL,
// tags, version kept), or deletes the key when the collection became empty.

const errCorrupt = "ERR corrupt collection value"

// typeByName maps a TYPE name to its store type (SCAN TYPE).
func typeByName(name []byte) (uint8, bool) {
	for _, t := range []uint8{store.TypeString, store.TypeHash, store.TypeList, store.TypeSet, store.TypeZSet, store.TypeBloom} {
		if eq(name, store.TypeName(t)) || string(name) == store.TypeName(t) {
			return t, true
		}
	}
	return 0, false
}

// collEncoding is OBJECT ENCODING's answer for values that are not strings.
// Every collection uses a listpack-like sequence (lists: a gap buffer of
// listpack-style entries), so "listpack" is the honest Redis name.
func collEncoding(typ uint8, v []byte) string {
	switch typ {
	case store.TypeHash, store.TypeList, store.TypeSet, store.TypeZSet:
		return "listpack"
	}
	return objectEncoding(v)
}

// Lookup flags of collection reads and writes.
func (c *Client) readFlags() int { return c.lookupFlags() }

const writeFlags = store.NoStats | store.AllowStale

// collGet looks key up expecting type typ. found=false: no such key;
// ok=false: the key holds another type and WRONGTYPE was written.
func (c *Client) collGet(key []byte, h uint64, typ uint8, flags int) (e store.Entry, found, ok bool) {
	e, found = c.tx.Lookup(c.db, key, h, flags)
	if !found {
		return e, false, true
	}
	if e.Type != typ {
		c.addError(errWrongType)
		return e, true, false
	}
	return e, true, true
}

// collPut writes val as key's new value keeping metadata m (a new key gets
// type typ), or deletes key when empty.
func (c *Client) collPut(key []byte, h uint64, typ uint8, m store.Meta, found bool, val []byte, empty bool) error {
	if empty {
		if found {
			c.tx.Delete(c.db, key, h, store.Deleted)
		}
		return nil
	}
	if !found {
		m = store.Meta{Type: typ}
	}
	if err := c.tx.Set(c.db, key, h, val, m); err != nil {
		return err
	}
	if typ == store.TypeList || typ == store.TypeZSet {
		c.srv.blocked.signal(c.db, key) // wake a BLPOP/BZPOPMIN waiter
	}
	return nil
}

// replaceReply drops the reply written since mark and writes err instead
// (a write that failed after its handler answered).
func (c *Client) replaceReply(mark int, err error) {
	c.out = c.out[:mark]
	c.replyErr(err)
}

// decodeSeq decodes a sequence value, writing an error reply when corrupt.
func (c *Client) decodeSeq(v []byte) ([][]byte, byte, bool) {
	items, flags, err := coll.Decode(v, nil)
	if err != nil {
		c.addError(errCorrupt)
		return nil, 0, false
	}
	return items, flags, true
}

// scanArgs parses the cursor and the MATCH/COUNT options of HSCAN, SSCAN
// and ZSCAN.
func (c *Client) scanArgs(args [][]byte) (cursor uint64, match []byte, count int, novalues, ok bool) {
	n, okc := parseUintArg(args[0])
	if !okc {
		c.addError("ERR invalid cursor")
		return 0, nil, 0, false, false
	}
	count = 10
	for i := 1; i < len(args); i++ {
		switch {
		case eq(args[i], "novalues"):
			novalues = true
			continue
		case i+1 >= len(args):
			c.addError(errSyntax)
			return 0, nil, 0, false, false
		case eq(args[i], "count"):
			k, okk := parseInt(args[i+1])
			if !okk {
				c.addError(errNotInt)
				return 0, nil, 0, false, false
			}
			if k < 1 {
				c.addError(errSyntax)
				return 0, nil, 0, false, false
			}
			count = int(min(k, 1<<20))
		case eq(args[i], "match"):
			match = args[i+1]
			if len(match) == 1 && match[0] == '*' {
				match = nil
			}
		default:
			c.addError(errSyntax)
			return 0, nil, 0, false, false
		}
		i++
	}
	return n, match, count, novalues, true
}

func parseUintArg(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	var n uint64
	for _, ch := range b {
		if ch < '0' || ch > '9' {
			return 0, false
		}
		d := uint64(ch - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// scanReply writes a [cursor, items] SCAN-style reply over a positional
// cursor into a collection of n units (items per unit: stride), emitting
// unit i's items when keep(i).
func (c *Client) scanReply(cursor uint64, count, n int, emit func(i int) int) {
	// Small collections are returned whole like Redis's listpacks.
	start, end := int(min(cursor, uint64(n))), n
	if n > 128 && end-start > count {
		end = start + count
	}
	next := uint64(end)
	if end >= n {
		next = 0
	}
	c.addArray(2)
	c.addBulkStr(itoa(int64(next)))
	mark := len(c.out)
	c.addArray(0)
	hdr := len(c.out)
	k := 0
	for i := start; i < end; i++ {
		k += emit(i)
	}
	// Rewrite the array header now that the count is known.
	body := append([]byte(nil), c.out[hdr:]...)
	c.out = c.out[:mark]
	c.addArray(k)
	c.out = append(c.out, body...)
}

// randN returns a random number in [0, n).
func (c *Client) randN(n int) int {
	return int(c.rand() % uint64(n))
}
