package protocol

import (
	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Lists. A list value is a coll.List gap buffer: pushes and pops at either
// end write the store's bytes in place under the shard lock
// (store.Shard.ValueModifiedLocked); the value is rebuilt (and re-stored)
// only when an end runs out of room, or shrunk when mostly empty. Other
// edits (LSET, LINSERT, LREM, LTRIM) rebuild the value.

const (
	errIndexRange = "ERR index out of range"
	errPositive   = "ERR value is out of range, must be positive"
)

// listGet looks key up as a list; see collGet.
func (c *Client) listGet(key []byte, h uint64, flags int) (l coll.List, e store.Entry, found, ok bool) {
	e, found, ok = c.collGet(key, h, store.TypeList, flags)
	if !ok || !found {
		return nil, e, found, ok
	}
	l = coll.List(e.Value)
	if !l.HeaderValid() {
		c.addError(errCorrupt)
		return nil, e, true, false
	}
	return l, e, true, true
}

// Where a rebuilt list leaves room for pushes.
const (
	growNone = iota
	growFront
	growBack
)

// listStore replaces key's list with elems (deleting the key when empty),
// leaving room for pushes at the end grow names: a quarter of the used
// size, so n pushes rebuild O(log n) times and at most a fifth of a list
// grown by pushes is free space.
func (c *Client) listStore(key []byte, h uint64, m store.Meta, found bool, elems [][]byte, grow int) error {
	used := 0
	for _, e := range elems {
		used += coll.ElemSize(len(e))
	}
	front, back := 16, 16
	switch grow {
	case growFront:
		front = max(front, used/4)
	case growBack:
		back = max(back, used/4)
	}
	l := coll.BuildList(nil, elems, front, back)
	return c.collPut(key, h, store.TypeList, m, found, l, len(elems) == 0)
}

func growSide(front bool) int {
	if front {
		return growFront
	}
	return growBack
}

// listPush pushes elems at one end of key's list, creating it unless xx.
// It returns the new length (0 for xx on a missing key).
func (c *Client) listPush(key []byte, h uint64, elems [][]byte, front, xx bool) (int64, error, bool) {
	l, e, found, ok := c.listGet(key, h, writeFlags)
	if !ok {
		return 0, nil, false
	}
	if !found && xx {
		return 0, nil, true
	}
	if found {
		i := 0
		for ; i < len(elems); i++ {
			if front && !l.PushFront(elems[i]) || !front && !l.PushBack(elems[i]) {
				break
			}
		}
		if i == len(elems) {
			c.tx.ValueModified(c.db, key, h)
			c.srv.blocked.signal(c.db, key)
			return int64(l.Len()), nil, true
		}
		elems = elems[i:]
		// Out of room: rebuild with the rest pushed.
		all := l.Elems(make([][]byte, 0, l.Len()+len(elems)))
		if front {
			rev := make([][]byte, 0, len(elems)+len(all))
			for j := len(elems) - 1; j >= 0; j-- {
				rev = append(rev, elems[j])
			}
			all = append(rev, all...)
		} else {
			all = append(all, elems...)
		}
		return int64(len(all)), c.listStore(key, h, e.Meta, true, all, growSide(front)), true
	}
	all := make([][]byte, 0, len(elems))
	if front {
		for j := len(elems) - 1; j >= 0; j-- {
			all = append(all, elems[j])
		}
	} else {
		all = append(all, elems...)
	}
	return int64(len(all)), c.listStore(key, h, e.Meta, false, all, growSide(front)), true
}

func pushGeneric(c *Client, args [][]byte, front, xx bool) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	n, err, ok := c.listPush(args[1], h, args[2:], front, xx)
	switch {
	case !ok:
	case err != nil:
		c.replyErr(err)
	default:
		c.addInt(n)
	}
}

func cmdLPush(c *Client, args [][]byte)  { pushGeneric(c, args, true, false) }
func cmdRPush(c *Client, args [][]byte)  { pushGeneric(c, args, false, false) }
func cmdLPushX(c *Client, args [][]byte) { pushGeneric(c, args, true, true) }
func cmdRPushX(c *Client, args [][]byte) { pushGeneric(c, args, false, true) }

// listPop pops up to count elements from one end of key's list, handing
// each to fn (the bytes are valid during the call only). It reports the
// number popped; ok=false means an error reply was written.
func (c *Client) listPop(key []byte, h uint64, front bool, count int, fn func(e []byte)) (int, bool) {
	l, e, found, ok := c.listGet(key, h, writeFlags)
	if !ok || !found {
		return 0, ok
	}
	n := 0
	for ; n < count; n++ {
		var v []byte
		var ok bool
		if front {
			v, ok = l.PopFront()
		} else {
			v, ok = l.PopBack()
		}
		if !ok {
			break
		}
		fn(v)
	}
	switch {
	case l.Len() == 0:
		c.tx.Delete(c.db, key, h, store.Deleted)
	case l.Cap() > 4096 && l.Used() < l.Cap()/4:
		if err := c.listStore(key, h, e.Meta, true, l.Elems(nil), growNone); err != nil {
			// Shrinking is best effort: the popped list stays valid in place.
			c.tx.ValueModified(c.db, key, h)
		}
	default:
		c.tx.ValueModified(c.db, key, h)
	}
	return n, true
}

func popGeneric(c *Client, args [][]byte, front bool) {
	if len(args) > 3 {
		c.wrongArity()
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
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	if len(args) == 2 {
		mark := len(c.out)
		n, ok := c.listPop(args[1], h, front, 1, func(e []byte) { c.addBulk(e) })
		if ok && n == 0 && len(c.out) == mark {
			c.addNull()
		}
		return
	}
	l, _, found, ok := c.listGet(args[1], h, store.NoStats|store.NoTouch|store.AllowStale)
	if !ok {
		return
	}
	if !found {
		c.addNullArray()
		return
	}
	c.addArray(int(min(count, int64(l.Len()))))
	c.listPop(args[1], h, front, int(count), func(e []byte) { c.addBulk(e) })
}

func cmdLPop(c *Client, args [][]byte) { popGeneric(c, args, true) }
func cmdRPop(c *Client, args [][]byte) { popGeneric(c, args, false) }

// listRead locks key and runs fn on its list (nil when missing).
func (c *Client) listRead(key []byte, fn func(l coll.List, found bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	l, _, found, ok := c.listGet(key, h, c.readFlags())
	if ok {
		fn(l, found)
	}
}

func cmdLLen(c *Client, args [][]byte) {
	c.listRead(args[1], func(l coll.List, _ bool) { c.addInt(int64(l.Len())) })
}

// clampRange turns Redis start/stop indexes into 0..n-1 bounds; empty
// reports an empty range.
func clampRange(start, stop int64, n int) (int, int, bool) {
	if start < 0 {
		start += int64(n)
	}
	if stop < 0 {
		stop += int64(n)
	}
	if start < 0 {
		start = 0
	}
	if start > stop || start >= int64(n) {
		return 0, 0, true
	}
	if stop >= int64(n) {
		stop = int64(n) - 1
	}
	return int(start), int(stop), false
}

func parseTwoInts(c *Client, a, b []byte) (int64, int64, bool) {
	x, ok1 := parseInt(a)
	y, ok2 := parseInt(b)
	if !ok1 || !ok2 {
		c.addError(errNotInt)
		return 0, 0, false
	}
	return x, y, true
}

func cmdLRange(c *Client, args [][]byte) {
	start, stop, ok := parseTwoInts(c, args[2], args[3])
	if !ok {
		return
	}
	c.listRead(args[1], func(l coll.List, _ bool) {
		a, b, empty := clampRange(start, stop, l.Len())
		if empty {
			c.addArray(0)
			return
		}
		c.addArray(b - a + 1)
		l.Range(a, b, func(e []byte) { c.addBulk(e) })
	})
}

func cmdLIndex(c *Client, args [][]byte) {
	i, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	c.listRead(args[1], func(l coll.List, _ bool) {
		n := int64(l.Len())
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			c.addNull()
			return
		}
		l.Range(int(i), int(i), func(e []byte) { c.addBulk(e) })
	})
}

// listEdit locks key and lets fn rewrite the list's elements (which alias
// the old value); the new list is stored when fn returns write=true.
func (c *Client) listEdit(key []byte, fn func(elems [][]byte, found bool) ([][]byte, bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	l, e, found, ok := c.listGet(key, h, writeFlags)
	if !ok {
		return
	}
	var elems [][]byte
	if found {
		elems = l.Elems(make([][]byte, 0, l.Len()))
	}
	mark := len(c.out)
	elems, write := fn(elems, found)
	if !write {
		return
	}
	if err := c.listStore(key, h, e.Meta, found, elems, growNone); err != nil {
		c.replaceReply(mark, err)
	}
}

func cmdLSet(c *Client, args [][]byte) {
	i, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	c.listEdit(args[1], func(elems [][]byte, found bool) ([][]byte, bool) {
		if !found {
			c.addError(errNoSuchKey)
			return nil, false
		}
		n := int64(len(elems))
		if i < 0 {
			i += n
		}
		if i < 0 || i >= n {
			c.addError(errIndexRange)
			return nil, false
		}
		elems[i] = args[3]
		c.addOK()
		return elems, true
	})
}

func cmdLInsert(c *Client, args [][]byte) {
	var after bool
	switch {
	case eq(args[2], "after"):
		after = true
	case eq(args[2], "before"):
	default:
		c.addError(errSyntax)
		return
	}
	c.listEdit(args[1], func(elems [][]byte, found bool) ([][]byte, bool) {
		if !found {
			c.addInt(0)
			return nil, false
		}
		for i, e := range elems {
			if string(e) != string(args[3]) {
				continue
			}
			if after {
				i++
			}
			elems = append(elems[:i], append([][]byte{args[4]}, elems[i:]...)...)
			c.addInt(int64(len(elems)))
			return elems, true
		}
		c.addInt(-1)
		return nil, false
	})
}

func cmdLRem(c *Client, args [][]byte) {
	count, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	c.listEdit(args[1], func(elems [][]byte, found bool) ([][]byte, bool) {
		removed := int64(0)
		limit := count
		if limit < 0 {
			limit = -limit
		}
		keep := make([]bool, len(elems))
		for i := range keep {
			keep[i] = true
		}
		for k := 0; k < len(elems); k++ {
			i := k
			if count < 0 {
				i = len(elems) - 1 - k
			}
			if string(elems[i]) == string(args[3]) && (limit == 0 || removed < limit) {
				keep[i] = false
				removed++
			}
		}
		c.addInt(removed)
		if removed == 0 {
			return nil, false
		}
		out := elems[:0]
		for i, e := range elems {
			if keep[i] {
				out = append(out, e)
			}
		}
		return out, true
	})
}

func cmdLTrim(c *Client, args [][]byte) {
	start, stop, ok := parseTwoInts(c, args[2], args[3])
	if !ok {
		return
	}
	c.listEdit(args[1], func(elems [][]byte, found bool) ([][]byte, bool) {
		c.addOK()
		if !found {
			return nil, false
		}
		a, b, empty := clampRange(start, stop, len(elems))
		if empty {
			return nil, true
		}
		if a == 0 && b == len(elems)-1 {
			return nil, false
		}
		return elems[a : b+1], true
	})
}

// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
func cmdLPos(c *Client, args [][]byte) {
	rank, count, maxlen := int64(1), int64(-1), int64(0)
	for i := 3; i < len(args); i += 2 {
		if i+1 >= len(args) {
			c.addError(errSyntax)
			return
		}
		n, ok := parseInt(args[i+1])
		if !ok {
			c.addError(errNotInt)
			return
		}
		switch {
		case eq(args[i], "rank"):
			if n == 0 || n == -1<<63 {
				c.addError("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
				return
			}
			rank = n
		case eq(args[i], "count"):
			if n < 0 {
				c.addError("ERR COUNT can't be negative")
				return
			}
			count = n
		case eq(args[i], "maxlen"):
			if n < 0 {
				c.addError("ERR MAXLEN can't be negative")
				return
			}
			maxlen = n
		default:
			c.addError(errSyntax)
			return
		}
	}
	c.listRead(args[1], func(l coll.List, found bool) {
		elems := l.Elems(nil)
		var hits []int64
		skip := rank
		if skip < 0 {
			skip = -skip
		}
		want := count
		if want == 0 {
			want = int64(len(elems))
		}
		if want < 0 {
			want = 1
		}
		for k := 0; k < len(elems) && int64(len(hits)) < want; k++ {
			if maxlen > 0 && int64(k) >= maxlen {
				break
			}
			i := k
			if rank < 0 {
				i = len(elems) - 1 - k
			}
			if string(elems[i]) == string(args[2]) {
				if skip > 1 {
					skip--
					continue
				}
				hits = append(hits, int64(i))
			}
		}
		if count < 0 {
			if len(hits) == 0 {
				c.addNull()
			} else {
				c.addInt(hits[0])
			}
			return
		}
		c.addArray(len(hits))
		for _, h := range hits {
			c.addInt(h)
		}
	})
}

func parseSide(c *Client, a []byte) (front, ok bool) {
	switch {
	case eq(a, "left"):
		return true, true
	case eq(a, "right"):
		return false, true
	}
	c.addError(errSyntax)
	return false, false
}

// lmove pops from src and pushes to dst under both keys' locks. It reports
// whether an element moved (the reply is written either way).
func (c *Client) lmove(src, dst []byte, fromFront, toFront bool) bool {
	hs, hd := c.st.Hash(src), c.st.Hash(dst)
	// The destination must be a list (or missing) before anything moves.
	if _, _, _, ok := c.listGet(dst, hd, store.NoStats|store.NoTouch|store.AllowStale); !ok {
		return false
	}
	var v []byte
	n, ok := c.listPop(src, hs, fromFront, 1, func(e []byte) { v = append([]byte(nil), e...) })
	if !ok {
		return false
	}
	if n == 0 {
		c.addNull()
		return false
	}
	if _, err, _ := c.listPush(dst, hd, [][]byte{v}, toFront, false); err != nil {
		c.replyErr(err)
		return false
	}
	c.addBulk(v)
	return true
}

// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
func cmdLMove(c *Client, args [][]byte) {
	from, ok := parseSide(c, args[3])
	if !ok {
		return
	}
	to, ok := parseSide(c, args[4])
	if !ok {
		return
	}
	c.tx.Keys(c.now, args[1:3])
	defer c.tx.Release()
	c.lmove(args[1], args[2], from, to)
}

// RPOPLPUSH source destination
func cmdRPopLPush(c *Client, args [][]byte) {
	c.tx.Keys(c.now, args[1:3])
	defer c.tx.Release()
	c.lmove(args[1], args[2], false, true)
}

// parseMPop parses "numkeys key [key ...] <sides> [COUNT count]" of LMPOP
// and ZMPOP-style commands starting at args[i]; side parses the direction.
func (c *Client) parseMPop(args [][]byte, i int, side func([]byte) (bool, bool)) (keys [][]byte, dir bool, count int64, ok bool) {
	n, okn := parseInt(args[i])
	if !okn || n <= 0 {
		c.addError("ERR numkeys should be greater than 0")
		return nil, false, 0, false
	}
	if n > int64(len(args)-i-2) {
		c.addError(errSyntax)
		return nil, false, 0, false
	}
	keys = args[i+1 : i+1+int(n)]
	j := i + 1 + int(n)
	if dir, ok = side(args[j]); !ok {
		c.addError(errSyntax)
		return nil, false, 0, false
	}
	count = 1
	j++
	if j < len(args) {
		if j+2 != len(args) || !eq(args[j], "count") {
			c.addError(errSyntax)
			return nil, false, 0, false
		}
		k, okc := parseInt(args[j+1])
		if !okc || k <= 0 {
			c.addError("ERR count should be greater than 0")
			return nil, false, 0, false
		}
		count = k
	}
	return keys, dir, count, true
}

func listSide(a []byte) (bool, bool) {
	switch {
	case eq(a, "left"):
		return true, true
	case eq(a, "right"):
		return false, true
	}
	return false, false
}

// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
func cmdLMPop(c *Client, args [][]byte) {
	keys, front, count, ok := c.parseMPop(args, 1, listSide)
	if !ok {
		return
	}
	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	c.lmpopLocked(keys, front, count)
}

// lmpopLocked pops from the first non-empty list of keys; it reports
// whether something was popped (a null array is written otherwise).
func (c *Client) lmpopLocked(keys [][]byte, front bool, count int64) bool {
	for _, k := range keys {
		h := c.st.Hash(k)
		l, _, found, ok := c.listGet(k, h, store.NoStats|store.NoTouch|store.AllowStale)
		if !ok {
			return false
		}
		if !found {
			continue
		}
		c.addArray(2)
		c.addBulk(k)
		c.addArray(int(min(count, int64(l.Len()))))
		c.listPop(k, h, front, int(count), func(e []byte) { c.addBulk(e) })
		return true
	}
	c.addNullArray()
	return false
}
