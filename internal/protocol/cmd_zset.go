package protocol

import (
	"bytes"
	"math"
	"sort"
	"strconv"

	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Sorted sets. A sorted set is a coll sequence of member, score pairs
// ordered by (score, member), like Redis's listpack encoding. Rank and range
// queries walk the ordered sequence; member lookups scan it.

type zent struct {
	m []byte
	s float64
}

const (
	errZMinMax = "ERR min or max is not a float"
	errZLex    = "ERR min or max not valid string range item"
	errZNaN    = "ERR resulting score is not a number (NaN)"
)

func zless(a, b zent) bool {
	if a.s != b.s {
		return a.s < b.s
	}
	return bytes.Compare(a.m, b.m) < 0
}

// zsetGet decodes the sorted set at key (its shard locked); see collGet.
func (c *Client) zsetGet(key []byte, h uint64, flags int) (zs []zent, e store.Entry, found, ok bool) {
	e, found, ok = c.collGet(key, h, store.TypeZSet, flags)
	if !ok || !found {
		return nil, e, found, ok
	}
	items, _, ok := c.decodeSeq(e.Value)
	if !ok {
		return nil, e, true, false
	}
	if len(items)%2 != 0 {
		c.addError(errCorrupt)
		return nil, e, true, false
	}
	zs = make([]zent, len(items)/2)
	for i := range zs {
		zs[i] = zent{m: items[2*i], s: coll.Score(items[2*i+1])}
	}
	return zs, e, true, true
}

func encodeZSet(zs []zent) []byte {
	items := make([][]byte, 0, 2*len(zs))
	scores := make([]byte, 0, 8*len(zs))
	for _, z := range zs {
		scores = coll.PutScore(scores, z.s)
		items = append(items, z.m, scores[len(scores)-8:])
	}
	return coll.Encode(make([]byte, 0, coll.Size(items)), 0, items)
}

func (c *Client) zsetPut(key []byte, h uint64, m store.Meta, found bool, zs []zent) error {
	return c.collPut(key, h, store.TypeZSet, m, found, encodeZSet(zs), len(zs) == 0)
}

func zfind(zs []zent, m []byte) int {
	for i := range zs {
		if string(zs[i].m) == string(m) {
			return i
		}
	}
	return -1
}

// zinsert puts z at its ordered place.
func zinsert(zs []zent, z zent) []zent {
	i := sort.Search(len(zs), func(i int) bool { return !zless(zs[i], z) })
	zs = append(zs, zent{})
	copy(zs[i+1:], zs[i:])
	zs[i] = z
	return zs
}

func zremove(zs []zent, i int) []zent { return append(zs[:i], zs[i+1:]...) }

func (c *Client) zsetRead(key []byte, fn func(zs []zent, found bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	zs, _, found, ok := c.zsetGet(key, h, c.readFlags())
	if ok {
		fn(zs, found)
	}
}

func (c *Client) zsetWrite(key []byte, fn func(zs []zent, found bool) ([]zent, bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	zs, e, found, ok := c.zsetGet(key, h, writeFlags)
	if !ok {
		return
	}
	mark := len(c.out)
	zs, write := fn(zs, found)
	if !write {
		return
	}
	if err := c.zsetPut(key, h, e.Meta, found, zs); err != nil {
		c.replaceReply(mark, err)
	}
}

// addScore writes a score as a double (bulk string in RESP2) formatted as
// Redis 7.0 does: "%.17g", inf and -inf.
func (c *Client) addScore(f float64) {
	var b []byte
	switch {
	case math.IsInf(f, 1):
		b = append(c.scratch[:0], "inf"...)
	case math.IsInf(f, -1):
		b = append(c.scratch[:0], "-inf"...)
	default:
		b = strconv.AppendFloat(c.scratch[:0], f, 'g', 17, 64)
	}
	if c.resp == 3 {
		c.out = append(c.out, ',')
		c.out = append(c.out, b...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.addBulk(b)
}

// addZEntries writes members, with their scores when withScores (pairs in
// RESP3, flat in RESP2).
func (c *Client) addZEntries(zs []zent, withScores bool) {
	if !withScores {
		c.addArray(len(zs))
		for _, z := range zs {
			c.addBulk(z.m)
		}
		return
	}
	if c.resp == 3 {
		c.addArray(len(zs))
		for _, z := range zs {
			c.addArray(2)
			c.addBulk(z.m)
			c.addScore(z.s)
		}
		return
	}
	c.addArray(2 * len(zs))
	for _, z := range zs {
		c.addBulk(z.m)
		c.addScore(z.s)
	}
}

// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
func cmdZAdd(c *Client, args [][]byte) {
	var nx, xx, gt, lt, ch, incr bool
	i := 2
	for ; i < len(args); i++ {
		switch a := args[i]; {
		case eq(a, "nx"):
			nx = true
		case eq(a, "xx"):
			xx = true
		case eq(a, "gt"):
			gt = true
		case eq(a, "lt"):
			lt = true
		case eq(a, "ch"):
			ch = true
		case eq(a, "incr"):
			incr = true
		default:
			goto pairs
		}
	}
pairs:
	rest := args[i:]
	if len(rest) == 0 || len(rest)%2 != 0 {
		c.addError(errSyntax)
		return
	}
	if nx && xx {
		c.addError("ERR XX and NX options at the same time are not compatible")
		return
	}
	if (gt && lt) || (nx && (gt || lt)) {
		c.addError("ERR GT, LT, and/or NX options at the same time are not compatible")
		return
	}
	if incr && len(rest) > 2 {
		c.addError("ERR INCR option supports a single increment-element pair")
		return
	}
	scores := make([]float64, len(rest)/2)
	for k := range scores {
		f, ok := parseFloat(rest[2*k])
		if !ok {
			c.addError(errNotFloat)
			return
		}
		scores[k] = f
	}
	c.zsetWrite(args[1], func(zs []zent, _ bool) ([]zent, bool) {
		var added, changed int64
		var result float64
		aborted := false
		// Many members: index the set once and sort once at the end
		// instead of a scan and an ordered insert per member.
		var idx map[string]int
		bulk := len(scores) > 8
		if bulk {
			idx = make(map[string]int, len(zs)+len(scores))
			for i, z := range zs {
				idx[b2s(z.m)] = i
			}
		}
		for k := range scores {
			m, s := rest[2*k+1], scores[k]
			j := -1
			if bulk {
				if i, ok := idx[b2s(m)]; ok {
					j = i
				}
			} else {
				j = zfind(zs, m)
			}
			if j < 0 {
				if xx {
					aborted = true
					continue
				}
				if bulk {
					idx[b2s(m)] = len(zs)
					zs = append(zs, zent{m: m, s: s})
				} else {
					zs = zinsert(zs, zent{m: m, s: s})
				}
				added++
				result = s
				continue
			}
			if nx {
				aborted = true
				continue
			}
			old := zs[j].s
			if incr {
				s += old
				if math.IsNaN(s) {
					c.addError(errZNaN)
					return nil, false
				}
			}
			if (gt && s <= old) || (lt && s >= old) {
				aborted = true
				continue
			}
			result = s
			if s != old {
				if bulk {
					zs[j].s = s
				} else {
					zs = zremove(zs, j)
					zs = zinsert(zs, zent{m: m, s: s})
				}
				changed++
			}
		}
		if bulk && added+changed > 0 {
			sort.Slice(zs, func(a, b int) bool { return zless(zs[a], zs[b]) })
		}
		switch {
		case incr && aborted:
			c.addNull()
		case incr:
			c.addScore(result)
		case ch:
			c.addInt(added + changed)
		default:
			c.addInt(added)
		}
		return zs, added+changed > 0
	})
}

// ZINCRBY key increment member
func cmdZIncrBy(c *Client, args [][]byte) {
	incr, ok := parseFloat(args[2])
	if !ok {
		c.addError(errNotFloat)
		return
	}
	c.zsetWrite(args[1], func(zs []zent, _ bool) ([]zent, bool) {
		s := incr
		if j := zfind(zs, args[3]); j >= 0 {
			s += zs[j].s
			if math.IsNaN(s) {
				c.addError(errZNaN)
				return nil, false
			}
			zs = zremove(zs, j)
		}
		zs = zinsert(zs, zent{m: args[3], s: s})
		c.addScore(s)
		return zs, true
	})
}

func cmdZRem(c *Client, args [][]byte) {
	c.zsetWrite(args[1], func(zs []zent, _ bool) ([]zent, bool) {
		var n int64
		for _, m := range args[2:] {
			if j := zfind(zs, m); j >= 0 {
				zs = zremove(zs, j)
				n++
			}
		}
		c.addInt(n)
		return zs, n > 0
	})
}

func cmdZCard(c *Client, args [][]byte) {
	c.zsetRead(args[1], func(zs []zent, _ bool) { c.addInt(int64(len(zs))) })
}

func cmdZScore(c *Client, args [][]byte) {
	c.zsetRead(args[1], func(zs []zent, _ bool) {
		if j := zfind(zs, args[2]); j >= 0 {
			c.addScore(zs[j].s)
			return
		}
		c.addNull()
	})
}

func cmdZMScore(c *Client, args [][]byte) {
	c.zsetRead(args[1], func(zs []zent, _ bool) {
		c.addArray(len(args) - 2)
		for _, m := range args[2:] {
			if j := zfind(zs, m); j >= 0 {
				c.addScore(zs[j].s)
			} else {
				c.addNull()
			}
		}
	})
}

func zrankGeneric(c *Client, args [][]byte, rev bool) {
	withScore := false
	if len(args) > 3 {
		if len(args) > 4 || !eq(args[3], "withscore") {
			c.addError(errSyntax)
			return
		}
		withScore = true
	}
	c.zsetRead(args[1], func(zs []zent, _ bool) {
		j := zfind(zs, args[2])
		if j < 0 {
			if withScore {
				c.addNullArray()
			} else {
				c.addNull()
			}
			return
		}
		r := j
		if rev {
			r = len(zs) - 1 - j
		}
		if withScore {
			c.addArray(2)
			c.addInt(int64(r))
			c.addScore(zs[j].s)
			return
		}
		c.addInt(int64(r))
	})
}

func cmdZRank(c *Client, args [][]byte)    { zrankGeneric(c, args, false) }
func cmdZRevRank(c *Client, args [][]byte) { zrankGeneric(c, args, true) }

// scoreBound is one end of a score range.
type scoreBound struct {
	v    float64
	excl bool
}

func parseScoreBound(b []byte) (scoreBound, bool) {
	excl := false
	if len(b) > 0 && b[0] == '(' {
		excl, b = true, b[1:]
	}
	f, ok := parseFloat(b)
	if !ok {
		return scoreBound{}, false
	}
	return scoreBound{f, excl}, true
}

func (lo scoreBound) below(s float64) bool { // s is above the lower bound
	if lo.excl {
		return s > lo.v
	}
	return s >= lo.v
}

func (hi scoreBound) above(s float64) bool { // s is under the upper bound
	if hi.excl {
		return s < hi.v
	}
	return s <= hi.v
}

// lexBound is one end of a lexicographic range.
type lexBound struct {
	v        []byte
	excl     bool
	inf, neg bool // "+" or "-"
}

func parseLexBound(b []byte) (lexBound, bool) {
	switch {
	case len(b) == 1 && b[0] == '-':
		return lexBound{inf: true, neg: true}, true
	case len(b) == 1 && b[0] == '+':
		return lexBound{inf: true}, true
	case len(b) > 0 && b[0] == '(':
		return lexBound{v: b[1:], excl: true}, true
	case len(b) > 0 && b[0] == '[':
		return lexBound{v: b[1:]}, true
	}
	return lexBound{}, false
}

func (lo lexBound) geq(m []byte) bool { // m is above the lower bound
	if lo.inf {
		return lo.neg
	}
	c := bytes.Compare(m, lo.v)
	return c > 0 || (c == 0 && !lo.excl)
}

func (hi lexBound) leq(m []byte) bool { // m is under the upper bound
	if hi.inf {
		return !hi.neg
	}
	c := bytes.Compare(m, hi.v)
	return c < 0 || (c == 0 && !hi.excl)
}

// zrangeSpec is a parsed ZRANGE-family query.
type zrangeSpec struct {
	by              byte // 'r' rank, 's' score, 'l' lex
	rev, withScores bool
	start, stop     int64
	smin, smax      scoreBound
	lmin, lmax      lexBound
	offset, count   int64 // count < 0: all
	hasLimit        bool
}

// parseZRange parses "min max [options]" starting at args[0] with the
// defaults of the calling command. ok=false: an error was written.
func (c *Client) parseZRange(args [][]byte, sp *zrangeSpec, opts bool) bool {
	sp.count = -1
	if opts {
		for i := 2; i < len(args); i++ {
			switch a := args[i]; {
			case eq(a, "byscore"):
				sp.by = 's'
			case eq(a, "bylex"):
				sp.by = 'l'
			case eq(a, "rev"):
				sp.rev = true
			case eq(a, "withscores"):
				sp.withScores = true
			case eq(a, "limit") && i+2 < len(args):
				off, ok1 := parseInt(args[i+1])
				cnt, ok2 := parseInt(args[i+2])
				if !ok1 || !ok2 {
					c.addError(errNotInt)
					return false
				}
				sp.offset, sp.count, sp.hasLimit = off, cnt, true
				i += 2
			default:
				c.addError(errSyntax)
				return false
			}
		}
	}
	if sp.hasLimit && sp.by == 'r' {
		c.addError("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
		return false
	}
	if sp.withScores && sp.by == 'l' {
		c.addError("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
		return false
	}
	lo, hi := args[0], args[1]
	if sp.rev && sp.by != 'r' {
		lo, hi = hi, lo
	}
	switch sp.by {
	case 'r':
		a, ok1 := parseInt(lo)
		b, ok2 := parseInt(hi)
		if !ok1 || !ok2 {
			c.addError(errNotInt)
			return false
		}
		sp.start, sp.stop = a, b
	case 's':
		var ok1, ok2 bool
		sp.smin, ok1 = parseScoreBound(lo)
		sp.smax, ok2 = parseScoreBound(hi)
		if !ok1 || !ok2 {
			c.addError(errZMinMax)
			return false
		}
	case 'l':
		var ok1, ok2 bool
		sp.lmin, ok1 = parseLexBound(lo)
		sp.lmax, ok2 = parseLexBound(hi)
		if !ok1 || !ok2 {
			c.addError(errZLex)
			return false
		}
	}
	return true
}

// zselect returns the entries a query selects, in reply order.
func zselect(zs []zent, sp *zrangeSpec) []zent {
	var out []zent
	if sp.by == 'r' {
		a, b, empty := clampRange(sp.start, sp.stop, len(zs))
		if empty {
			return nil
		}
		if !sp.rev {
			return zs[a : b+1]
		}
		for i := a; i <= b; i++ {
			out = append(out, zs[len(zs)-1-i])
		}
		return out
	}
	in := func(z zent) bool {
		if sp.by == 's' {
			return sp.smin.below(z.s) && sp.smax.above(z.s)
		}
		return sp.lmin.geq(z.m) && sp.lmax.leq(z.m)
	}
	skip := sp.offset
	if skip < 0 {
		return nil
	}
	for k := range zs {
		i := k
		if sp.rev {
			i = len(zs) - 1 - k
		}
		if !in(zs[i]) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if sp.count >= 0 && int64(len(out)) >= sp.count {
			break
		}
		out = append(out, zs[i])
	}
	return out
}

func zrangeGeneric(c *Client, args [][]byte, sp zrangeSpec, opts bool) {
	if !c.parseZRange(args[2:], &sp, opts) {
		return
	}
	c.zsetRead(args[1], func(zs []zent, _ bool) {
		c.addZEntries(zselect(zs, &sp), sp.withScores)
	})
}

func cmdZRange(c *Client, args [][]byte) { zrangeGeneric(c, args, zrangeSpec{by: 'r'}, true) }

// legacyRange parses the WITHSCORES/LIMIT options of ZRANGEBYSCORE and
// friends into sp.
func (c *Client) legacyRange(args [][]byte, sp *zrangeSpec, allowScores bool) bool {
	for i := 0; i < len(args); i++ {
		switch {
		case allowScores && eq(args[i], "withscores"):
			sp.withScores = true
		case eq(args[i], "limit") && i+2 < len(args):
			off, ok1 := parseInt(args[i+1])
			cnt, ok2 := parseInt(args[i+2])
			if !ok1 || !ok2 {
				c.addError(errNotInt)
				return false
			}
			sp.offset, sp.count, sp.hasLimit = off, cnt, true
			i += 2
		default:
			c.addError(errSyntax)
			return false
		}
	}
	return true
}

func legacyRangeCmd(c *Client, args [][]byte, by byte, rev bool) {
	sp := zrangeSpec{by: by, rev: rev}
	if by == 'r' {
		if len(args) > 5 || (len(args) == 5 && !eq(args[4], "withscores")) {
			c.addError(errSyntax)
			return
		}
		sp.withScores = len(args) == 5
		zrangeGeneric(c, args[:4], sp, false)
		return
	}
	if !c.legacyRange(args[4:], &sp, by == 's') {
		return
	}
	lim := sp
	if !c.parseZRange(args[2:4], &sp, false) {
		return
	}
	sp.offset, sp.count, sp.hasLimit, sp.withScores = lim.offset, lim.count, lim.hasLimit, lim.withScores
	if !sp.hasLimit {
		sp.count = -1
	}
	c.zsetRead(args[1], func(zs []zent, _ bool) {
		c.addZEntries(zselect(zs, &sp), sp.withScores)
	})
}

func cmdZRevRange(c *Client, args [][]byte)        { legacyRangeCmd(c, args, 'r', true) }
func cmdZRangeByScore(c *Client, args [][]byte)    { legacyRangeCmd(c, args, 's', false) }
func cmdZRevRangeByScore(c *Client, args [][]byte) { legacyRangeCmd(c, args, 's', true) }
func cmdZRangeByLex(c *Client, args [][]byte)      { legacyRangeCmd(c, args, 'l', false) }
func cmdZRevRangeByLex(c *Client, args [][]byte)   { legacyRangeCmd(c, args, 'l', true) }

// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
func cmdZRangeStore(c *Client, args [][]byte) {
	sp := zrangeSpec{by: 'r'}
	for _, a := range args[5:] {
		if eq(a, "withscores") {
			c.addError(errSyntax)
			return
		}
	}
	if !c.parseZRange(args[3:], &sp, true) {
		return
	}
	c.tx.Keys(c.now, args[1:3])
	defer c.tx.Release()
	hs := c.st.Hash(args[2])
	zs, _, _, ok := c.zsetGet(args[2], hs, c.readFlags())
	if !ok {
		return
	}
	out := zselect(zs, &sp)
	res := make([]zent, len(out))
	copy(res, out)
	sort.Slice(res, func(i, j int) bool { return zless(res[i], res[j]) })
	c.zstore(args[1], res)
}

// zstore replaces dst with zs (deleting it when empty) and replies with the
// count; the caller holds dst's shard.
func (c *Client) zstore(dst []byte, zs []zent) {
	enc := encodeZSet(zs)
	h := c.st.Hash(dst)
	c.tx.Delete(c.db, dst, h, store.Deleted)
	if err := c.collPut(dst, h, store.TypeZSet, store.Meta{}, false, enc, len(zs) == 0); err != nil {
		c.replyErr(err)
		return
	}
	c.addInt(int64(len(zs)))
}

func cmdZCount(c *Client, args [][]byte) {
	sp := zrangeSpec{by: 's'}
	if !c.parseZRange(args[2:4], &sp, false) {
		return
	}
	c.zsetRead(args[1], func(zs []zent, _ bool) { c.addInt(int64(len(zselect(zs, &sp)))) })
}

func cmdZLexCount(c *Client, args [][]byte) {
	sp := zrangeSpec{by: 'l'}
	if !c.parseZRange(args[2:4], &sp, false) {
		return
	}
	c.zsetRead(args[1], func(zs []zent, _ bool) { c.addInt(int64(len(zselect(zs, &sp)))) })
}

func zremRangeGeneric(c *Client, args [][]byte, by byte) {
	sp := zrangeSpec{by: by}
	if !c.parseZRange(args[2:4], &sp, false) {
		return
	}
	c.zsetWrite(args[1], func(zs []zent, _ bool) ([]zent, bool) {
		sel := zselect(zs, &sp)
		drop := make(map[string]bool, len(sel))
		for _, z := range sel {
			drop[b2s(z.m)] = true
		}
		out := make([]zent, 0, len(zs)-len(sel))
		for _, z := range zs {
			if !drop[b2s(z.m)] {
				out = append(out, z)
			}
		}
		c.addInt(int64(len(sel)))
		return out, len(sel) > 0
	})
}

func cmdZRemRangeByRank(c *Client, args [][]byte)  { zremRangeGeneric(c, args, 'r') }
func cmdZRemRangeByScore(c *Client, args [][]byte) { zremRangeGeneric(c, args, 's') }
func cmdZRemRangeByLex(c *Client, args [][]byte)   { zremRangeGeneric(c, args, 'l') }

// zpop pops up to count entries from the low (min) or high end of the
// sorted set at key (its shard locked) and writes them with their scores.
// found=false (nothing written) when the key is missing; ok=false when an
// error was written.
func (c *Client) zpop(key []byte, h uint64, min bool, count int64) (found, ok bool) {
	zs, e, found, ok := c.zsetGet(key, h, writeFlags)
	if !ok || !found {
		return found, ok
	}
	k := int(min64(count, int64(len(zs))))
	var popped []zent
	if min {
		popped, zs = zs[:k], zs[k:]
	} else {
		popped = make([]zent, 0, k)
		for i := 0; i < k; i++ {
			popped = append(popped, zs[len(zs)-1-i])
		}
		zs = zs[:len(zs)-k]
	}
	mark := len(c.out)
	c.addZEntries(popped, true)
	if err := c.zsetPut(key, h, e.Meta, true, zs); err != nil {
		c.replaceReply(mark, err)
		return true, false
	}
	return true, true
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

func zpopGeneric(c *Client, args [][]byte, min bool) {
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
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	if len(args) == 2 && c.resp == 3 {
		// RESP3 without count: a flat [member, score] pair.
		zs, e, found, ok := c.zsetGet(args[1], h, writeFlags)
		if !ok {
			return
		}
		if !found {
			c.addArray(0)
			return
		}
		i := 0
		if !min {
			i = len(zs) - 1
		}
		c.addArray(2)
		c.addBulk(zs[i].m)
		c.addScore(zs[i].s)
		mark := len(c.out)
		if err := c.zsetPut(args[1], h, e.Meta, true, zremove(zs, i)); err != nil {
			c.replaceReply(mark, err)
		}
		return
	}
	if found, ok := c.zpop(args[1], h, min, count); ok && !found {
		c.addArray(0)
	}
}

func cmdZPopMin(c *Client, args [][]byte) { zpopGeneric(c, args, true) }
func cmdZPopMax(c *Client, args [][]byte) { zpopGeneric(c, args, false) }

// ZRANDMEMBER key [count [WITHSCORES]]
func cmdZRandMember(c *Client, args [][]byte) {
	if len(args) > 4 || (len(args) == 4 && !eq(args[3], "withscores")) {
		c.addError(errSyntax)
		return
	}
	var count int64
	if len(args) >= 3 {
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
	c.zsetRead(args[1], func(zs []zent, found bool) {
		if len(args) == 2 {
			if !found {
				c.addNull()
				return
			}
			c.addBulk(zs[c.randN(len(zs))].m)
			return
		}
		idx := c.randomPicks(len(zs), count)
		out := make([]zent, len(idx))
		for k, i := range idx {
			out[k] = zs[i]
		}
		c.addZEntries(out, len(args) == 4)
	})
}

// zsetOp implements ZUNION/ZINTER/ZDIFF[STORE]: numkeys at args[i].
func zsetOp(c *Client, args [][]byte, i int, op byte, dst []byte) {
	n, ok := parseInt(args[i])
	if !ok {
		c.addError(errNotInt)
		return
	}
	if n <= 0 {
		c.addError("ERR at least 1 input key is needed for '" + c.cmd.Name + "' command")
		return
	}
	if n > int64(len(args)-i-1) {
		c.addError(errSyntax)
		return
	}
	keys := args[i+1 : i+1+int(n)]
	weights := make([]float64, n)
	for k := range weights {
		weights[k] = 1
	}
	agg := byte('s')
	withScores := false
	for j := i + 1 + int(n); j < len(args); j++ {
		switch a := args[j]; {
		case op != 'd' && eq(a, "weights") && j+int(n) < len(args):
			for k := range weights {
				w, ok := parseFloat(args[j+1+k])
				if !ok {
					c.addError("ERR weight value is not a float")
					return
				}
				weights[k] = w
			}
			j += int(n)
		case op != 'd' && eq(a, "aggregate") && j+1 < len(args):
			switch b := args[j+1]; {
			case eq(b, "sum"):
				agg = 's'
			case eq(b, "min"):
				agg = 'n'
			case eq(b, "max"):
				agg = 'x'
			default:
				c.addError(errSyntax)
				return
			}
			j++
		case dst == nil && eq(a, "withscores"):
			withScores = true
		default:
			c.addError(errSyntax)
			return
		}
	}
	lock := keys
	if dst != nil {
		lock = append([][]byte{dst}, keys...)
	}
	c.tx.Keys(c.now, lock)
	defer c.tx.Release()
	sets := make([][]zent, n)
	for k, key := range keys {
		h := c.st.Hash(key)
		// Plain sets count as sorted sets with score 1, like Redis.
		e, found := c.tx.Lookup(c.db, key, h, c.readFlags())
		if found && e.Type == store.TypeSet {
			ms, _, ok := c.decodeSeq(e.Value)
			if !ok {
				return
			}
			for _, m := range ms {
				sets[k] = append(sets[k], zent{m: m, s: 1})
			}
			continue
		}
		zs, _, _, ok := c.zsetGet(key, h, store.NoStats|store.NoTouch)
		if !ok {
			return
		}
		sets[k] = zs
	}
	res := zcombine(sets, weights, agg, op)
	if dst != nil {
		c.zstore(dst, res)
		return
	}
	c.addZEntries(res, withScores)
}

func zaggregate(a, b float64, agg byte) float64 {
	switch agg {
	case 'n':
		return math.Min(a, b)
	case 'x':
		return math.Max(a, b)
	}
	s := a + b
	if math.IsNaN(s) {
		return 0
	}
	return s
}

func zcombine(sets [][]zent, weights []float64, agg, op byte) []zent {
	acc := make(map[string]float64)
	var order [][]byte
	weighted := func(s, w float64) float64 {
		v := s * w
		if math.IsNaN(v) {
			return 0
		}
		return v
	}
	switch op {
	case 'u':
		for k, zs := range sets {
			for _, z := range zs {
				v := weighted(z.s, weights[k])
				if old, ok := acc[b2s(z.m)]; ok {
					acc[b2s(z.m)] = zaggregate(old, v, agg)
				} else {
					acc[b2s(z.m)] = v
					order = append(order, z.m)
				}
			}
		}
	case 'i':
		for _, z := range sets[0] {
			acc[b2s(z.m)] = weighted(z.s, weights[0])
			order = append(order, z.m)
		}
		for k := 1; k < len(sets); k++ {
			idx := make(map[string]float64, len(sets[k]))
			for _, z := range sets[k] {
				idx[b2s(z.m)] = weighted(z.s, weights[k])
			}
			kept := order[:0]
			for _, m := range order {
				if v, ok := idx[b2s(m)]; ok {
					acc[b2s(m)] = zaggregate(acc[b2s(m)], v, agg)
					kept = append(kept, m)
				}
			}
			order = kept
		}
	case 'd':
		drop := make(map[string]bool)
		for _, zs := range sets[1:] {
			for _, z := range zs {
				drop[b2s(z.m)] = true
			}
		}
		for _, z := range sets[0] {
			if !drop[b2s(z.m)] {
				acc[b2s(z.m)] = z.s
				order = append(order, z.m)
			}
		}
	}
	out := make([]zent, 0, len(order))
	for _, m := range order {
		out = append(out, zent{m: m, s: acc[b2s(m)]})
	}
	sort.Slice(out, func(i, j int) bool { return zless(out[i], out[j]) })
	return out
}

func cmdZUnion(c *Client, args [][]byte)      { zsetOp(c, args, 1, 'u', nil) }
func cmdZInter(c *Client, args [][]byte)      { zsetOp(c, args, 1, 'i', nil) }
func cmdZDiff(c *Client, args [][]byte)       { zsetOp(c, args, 1, 'd', nil) }
func cmdZUnionStore(c *Client, args [][]byte) { zsetOp(c, args, 2, 'u', args[1]) }
func cmdZInterStore(c *Client, args [][]byte) { zsetOp(c, args, 2, 'i', args[1]) }
func cmdZDiffStore(c *Client, args [][]byte)  { zsetOp(c, args, 2, 'd', args[1]) }

// ZINTERCARD numkeys key [key ...] [LIMIT limit]
func cmdZInterCard(c *Client, args [][]byte) {
	keys, limit, ok := parseInterCard(c, args)
	if !ok {
		return
	}
	n := len(keys)
	c.tx.Keys(c.now, keys)
	defer c.tx.Release()
	sets := make([][]zent, n)
	weights := make([]float64, n)
	for k, key := range keys {
		h := c.st.Hash(key)
		zs, _, _, ok := c.zsetGet(key, h, c.readFlags())
		if !ok {
			return
		}
		sets[k], weights[k] = zs, 1
	}
	res := int64(len(zcombine(sets, weights, 's', 'i')))
	if limit > 0 && res > limit {
		res = limit
	}
	c.addInt(res)
}

// ZSCAN key cursor [MATCH pattern] [COUNT count]
func cmdZScan(c *Client, args [][]byte) {
	cursor, match, count, _, ok := c.scanArgs(args[2:])
	if !ok {
		return
	}
	c.zsetRead(args[1], func(zs []zent, _ bool) {
		c.scanReply(cursor, count, len(zs), func(i int) int {
			if match != nil && !glob.MatchBytes(match, zs[i].m, false) {
				return 0
			}
			c.addBulk(zs[i].m)
			c.addScore(zs[i].s)
			return 2
		})
	})
}
