package protocol

import (
	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Sets. A set is a coll sequence of distinct members in insertion order.
// Membership is a scan (listpack-style); commands touching many members
// index them in a map for the call.

// setGet decodes the set at key (locked by the caller); see collGet.
func (c *Client) setGet(key []byte, h uint64, flags int) (ms [][]byte, e store.Entry, found, ok bool) {
	e, found, ok = c.collGet(key, h, store.TypeSet, flags)
	if !ok || !found {
		return nil, e, found, ok
	}
	ms, _, ok = c.decodeSeq(e.Value)
	return ms, e, found, ok
}

func (c *Client) setPut(key []byte, h uint64, m store.Meta, found bool, ms [][]byte) error {
	return c.collPut(key, h, store.TypeSet, m, found, coll.Encode(make([]byte, 0, coll.Size(ms)), 0, ms), len(ms) == 0)
}

func sfind(ms [][]byte, m []byte) int {
	for i := range ms {
		if string(ms[i]) == string(m) {
			return i
		}
	}
	return -1
}

// setRead locks key and runs fn on its members.
func (c *Client) setRead(key []byte, fn func(ms [][]byte, found bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	ms, _, found, ok := c.setGet(key, h, c.readFlags())
	if ok {
		fn(ms, found)
	}
}

// setWrite locks key and lets fn change its members; they are stored when
// fn returns write=true.
func (c *Client) setWrite(key []byte, fn func(ms [][]byte, found bool) ([][]byte, bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	ms, e, found, ok := c.setGet(key, h, writeFlags)
	if !ok {
		return
	}
	mark := len(c.out)
	ms, write := fn(ms, found)
	if !write {
		return
	}
	if err := c.setPut(key, h, e.Meta, found, ms); err != nil {
		c.replaceReply(mark, err)
	}
}

func memberIndex(ms [][]byte) map[string]int {
	idx := make(map[string]int, len(ms))
	for i, m := range ms {
		idx[b2s(m)] = i
	}
	return idx
}

func cmdSAdd(c *Client, args [][]byte) {
	c.setWrite(args[1], func(ms [][]byte, _ bool) ([][]byte, bool) {
		var added int64
		if len(args) == 3 && len(ms) < 64 {
			if sfind(ms, args[2]) < 0 {
				ms = append(ms, args[2])
				added++
			}
		} else {
			idx := memberIndex(ms)
			for _, m := range args[2:] {
				if _, dup := idx[b2s(m)]; !dup {
					idx[b2s(m)] = len(ms)
					ms = append(ms, m)
					added++
				}
			}
		}
		c.addInt(added)
		return ms, added > 0
	})
}

func cmdSRem(c *Client, args [][]byte) {
	c.setWrite(args[1], func(ms [][]byte, _ bool) ([][]byte, bool) {
		drop := make(map[string]bool, len(args)-2)
		for _, m := range args[2:] {
			drop[b2s(m)] = true
		}
		out := ms[:0]
		for _, m := range ms {
			if !drop[b2s(m)] {
				out = append(out, m)
			}
		}
		n := len(ms) - len(out)
		c.addInt(int64(n))
		return out, n > 0
	})
}

func cmdSIsMember(c *Client, args [][]byte) {
	c.setRead(args[1], func(ms [][]byte, _ bool) {
		if sfind(ms, args[2]) >= 0 {
			c.addInt(1)
		} else {
			c.addInt(0)
		}
	})
}

func cmdSMIsMember(c *Client, args [][]byte) {
	c.setRead(args[1], func(ms [][]byte, _ bool) {
		idx := memberIndex(ms)
		c.addArray(len(args) - 2)
		for _, m := range args[2:] {
			if _, ok := idx[b2s(m)]; ok {
				c.addInt(1)
			} else {
				c.addInt(0)
			}
		}
	})
}

func cmdSCard(c *Client, args [][]byte) {
	c.setRead(args[1], func(ms [][]byte, _ bool) { c.addInt(int64(len(ms))) })
}

func (c *Client) addMembers(ms [][]byte) {
	c.addSet(len(ms))
	for _, m := range ms {
		c.addBulk(m)
	}
}

func cmdSMembers(c *Client, args [][]byte) {
	c.setRead(args[1], func(ms [][]byte, _ bool) { c.addMembers(ms) })
}

// SRANDMEMBER key [count]
func cmdSRandMember(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.addError(errSyntax)
		return
	}
	var count int64
	if len(args) == 3 {
		var ok bool
		if count, ok = parseInt(args[2]); !ok {
			c.addError(errNotInt)
			return
		}
		if count < -(1<<40) || count > 1<<40 {
			c.addError("ERR value is out of range")
			return
		}
	}
	c.setRead(args[1], func(ms [][]byte, found bool) {
		if len(args) == 2 {
			if !found {
				c.addNull()
				return
			}
			c.addBulk(ms[c.randN(len(ms))])
			return
		}
		idx := c.randomPicks(len(ms), count)
		c.addArray(len(idx))
		for _, i := range idx {
			c.addBulk(ms[i])
		}
	})
}

// SPOP key [count]
func cmdSPop(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.addError(errSyntax)
		return
	}
	count := int64(1)
	if len(args) == 3 {
		var ok bool
		if count, ok = parseInt(args[2]); !ok || count < 0 {
			c.addError(errPositive)
			return
		}
	}
	c.setWrite(args[1], func(ms [][]byte, found bool) ([][]byte, bool) {
		if len(args) == 2 {
			if !found {
				c.addNull()
				return nil, false
			}
			i := c.randN(len(ms))
			c.addBulk(ms[i])
			ms[i] = ms[len(ms)-1]
			return ms[:len(ms)-1], true
		}
		idx := c.randomPicks(len(ms), count)
		c.addSet(len(idx))
		drop := make([]bool, len(ms))
		for _, i := range idx {
			c.addBulk(ms[i])
			drop[i] = true
		}
		out := ms[:0]
		for i, m := range ms {
			if !drop[i] {
				out = append(out, m)
			}
		}
		return out, len(idx) > 0
	})
}

// SMOVE source destination member
func cmdSMove(c *Client, args [][]byte) {
	c.tx.Keys(c.now, args[1:3])
	defer c.tx.Release()
	src, dst, m := args[1], args[2], args[3]
	hs, hd := c.st.Hash(src), c.st.Hash(dst)
	sms, se, sfound, ok := c.setGet(src, hs, writeFlags)
	if !ok {
		return
	}
	dms, de, dfound, ok := c.setGet(dst, hd, writeFlags)
	if !ok {
		return
	}
	i := sfind(sms, m)
	if !sfound || i < 0 {
		c.addInt(0)
		return
	}
	if string(src) == string(dst) {
		c.addInt(1)
		return
	}
	if sfind(dms, m) < 0 {
		// Copy dst's members before src is rewritten (they may share a shard).
		nd := make([][]byte, 0, len(dms)+1)
		nd = append(nd, dms...)
		nd = append(nd, m)
		enc := coll.Encode(nil, 0, nd)
		if err := c.collPut(dst, hd, store.TypeSet, de.Meta, dfound, enc, false); err != nil {
			c.replyErr(err)
			return
		}
		// The write may have moved src's record: decode it again.
		sms, se, _, _ = c.setGet(src, hs, writeFlags)
		i = sfind(sms, m)
	}
	sms = append(sms[:i], sms[i+1:]...)
	if err := c.setPut(src, hs, se.Meta, true, sms); err != nil {
		c.replyErr(err)
		return
	}
	c.addInt(1)
}

// setOp computes the intersection, union or difference of the sets at
// keys (their shards locked). ok=false: an error reply was written.
func (c *Client) setOp(op byte, keys [][]byte, limit int) (out [][]byte, ok bool) {
	sets := make([][][]byte, len(keys))
	for i, k := range keys {
		h := c.st.Hash(k)
		ms, _, _, ok := c.setGet(k, h, c.readFlags())
		if !ok {
			return nil, false
		}
		sets[i] = ms
	}
	switch op {
	case 'i':
		for _, s := range sets {
			if len(s) == 0 {
				return nil, true
			}
		}
		others := make([]map[string]int, len(sets)-1)
		for i := range others {
			others[i] = memberIndex(sets[i+1])
		}
	next:
		for _, m := range sets[0] {
			for _, o := range others {
				if _, in := o[b2s(m)]; !in {
					continue next
				}
			}
			out = append(out, m)
			if limit > 0 && len(out) >= limit {
				break
			}
		}
	case 'u':
		seen := make(map[string]bool)
		for _, s := range sets {
			for _, m := range s {
				if !seen[b2s(m)] {
					seen[b2s(m)] = true
					out = append(out, m)
				}
			}
		}
	case 'd':
		drop := make(map[string]bool)
		for _, s := range sets[1:] {
			for _, m := range s {
				drop[b2s(m)] = true
			}
		}
		for _, m := range sets[0] {
			if !drop[b2s(m)] {
				out = append(out, m)
			}
		}
	}
	return out, true
}

func setOpGeneric(c *Client, args [][]byte, op byte) {
	keys := args[1:]
	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	out, ok := c.setOp(op, keys, 0)
	if ok {
		c.addMembers(out)
	}
}

func setOpStore(c *Client, args [][]byte, op byte) {
	dst, keys := args[1], args[2:]
	c.tx.Keys(c.now, args[1:])
	defer c.tx.Release()
	out, ok := c.setOp(op, keys, 0)
	if !ok {
		return
	}
	// The result aliases source records: encode before writing dst.
	enc := coll.Encode(nil, 0, out)
	h := c.st.Hash(dst)
	c.tx.Delete(c.db, dst, h, store.Deleted)
	if err := c.collPut(dst, h, store.TypeSet, store.Meta{}, false, enc, len(out) == 0); err != nil {
		c.replyErr(err)
		return
	}
	c.addInt(int64(len(out)))
}

func cmdSInter(c *Client, args [][]byte)      { setOpGeneric(c, args, 'i') }
func cmdSUnion(c *Client, args [][]byte)      { setOpGeneric(c, args, 'u') }
func cmdSDiff(c *Client, args [][]byte)       { setOpGeneric(c, args, 'd') }
func cmdSInterStore(c *Client, args [][]byte) { setOpStore(c, args, 'i') }
func cmdSUnionStore(c *Client, args [][]byte) { setOpStore(c, args, 'u') }
func cmdSDiffStore(c *Client, args [][]byte)  { setOpStore(c, args, 'd') }

// parseInterCard reads "numkeys key [key ...] [LIMIT limit]" (SINTERCARD,
// ZINTERCARD), replying Redis's error when it is malformed.
func parseInterCard(c *Client, args [][]byte) (keys [][]byte, limit int64, ok bool) {
	n, ok := parseInt(args[1])
	if !ok || n <= 0 {
		c.addError("ERR numkeys should be greater than 0")
		return nil, 0, false
	}
	if n > int64(len(args)-2) {
		c.addError("ERR Number of keys can't be greater than number of args")
		return nil, 0, false
	}
	keys = args[2 : 2+n]
	rest := args[2+n:]
	for i := 0; i < len(rest); i += 2 {
		if !eq(rest[i], "limit") || i+1 >= len(rest) {
			c.addError(errSyntax)
			return nil, 0, false
		}
		l, ok := parseInt(rest[i+1])
		if !ok || l < 0 {
			c.addError("ERR LIMIT can't be negative")
			return nil, 0, false
		}
		limit = l
	}
	return keys, limit, true
}

// SINTERCARD numkeys key [key ...] [LIMIT limit]
func cmdSInterCard(c *Client, args [][]byte) {
	keys, limit, ok := parseInterCard(c, args)
	if !ok {
		return
	}
	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	out, ok := c.setOp('i', keys, int(limit))
	if ok {
		c.addInt(int64(len(out)))
	}
}

// SSCAN key cursor [MATCH pattern] [COUNT count]
func cmdSScan(c *Client, args [][]byte) {
	cursor, match, count, _, ok := c.scanArgs(args[2:])
	if !ok {
		return
	}
	c.setRead(args[1], func(ms [][]byte, _ bool) {
		c.scanReply(cursor, count, len(ms), func(i int) int {
			if match != nil && !glob.MatchBytes(match, ms[i], false) {
				return 0
			}
			c.addBulk(ms[i])
			return 1
		})
	})
}
