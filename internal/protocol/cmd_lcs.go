package protocol

import "github.com/cachesrv/cachesrv/internal/store"

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN], with Redis
// 7's dynamic-programming table, backtracking order and replies.
func cmdLCS(c *Client, args [][]byte) {
	var getLen, getIdx, withLen bool
	var minLen int64
	for i := 3; i < len(args); i++ {
		switch {
		case eq(args[i], "len"):
			getLen = true
		case eq(args[i], "idx"):
			getIdx = true
		case eq(args[i], "withmatchlen"):
			withLen = true
		case eq(args[i], "minmatchlen") && i+1 < len(args):
			n, ok := parseInt(args[i+1])
			if !ok {
				c.addError(errNotInt)
				return
			}
			minLen = max(n, 0)
			i++
		default:
			c.addError(errSyntax)
			return
		}
	}
	if getLen && getIdx {
		c.addError("ERR If you want both the length and indexes, please just use IDX.")
		return
	}
	c.tx.Keys(c.now, args[1:3])
	defer c.tx.Release()
	var vals [2][]byte
	for i, k := range args[1:3] {
		h := c.st.Hash(k)
		e, found := c.tx.Lookup(c.db, k, h, c.lookupFlags())
		if found && e.Type != store.TypeString {
			c.addError(errWrongType)
			return
		}
		if found {
			vals[i] = e.Value
		}
	}
	a, b := vals[0], vals[1]
	alen, blen := len(a), len(b)
	cells := int64(alen+1) * int64(blen+1)
	if cells*4 > c.srv.maxBulk.Load() || cells > 1<<31 {
		c.addError("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
		return
	}
	dp := make([]uint32, cells)
	at := func(i, j int) uint32 { return dp[j*(alen+1)+i] }
	for j := 1; j <= blen; j++ {
		for i := 1; i <= alen; i++ {
			switch {
			case a[i-1] == b[j-1]:
				dp[j*(alen+1)+i] = at(i-1, j-1) + 1
			default:
				dp[j*(alen+1)+i] = max(at(i-1, j), at(i, j-1))
			}
		}
	}
	n := int(at(alen, blen))
	if getLen {
		c.addInt(int64(n))
		return
	}
	result := make([]byte, n)
	type match struct{ a0, a1, b0, b1 int }
	var matches []match
	idx := n
	i, j := alen, blen
	aStart, aEnd, bStart, bEnd := alen, 0, 0, 0
	for i > 0 && j > 0 {
		emit := false
		if a[i-1] == b[j-1] {
			result[idx-1] = a[i-1]
			if aStart == alen {
				aStart, aEnd, bStart, bEnd = i-1, i-1, j-1, j-1
			} else if aStart == i && bStart == j {
				aStart--
				bStart--
			} else {
				emit = true
			}
			if aStart == 0 || bStart == 0 {
				emit = true
			}
			idx--
			i--
			j--
		} else {
			if at(i-1, j) > at(i, j-1) {
				i--
			} else {
				j--
			}
			if aStart != alen {
				emit = true
			}
		}
		if emit {
			if ml := aEnd - aStart + 1; getIdx && (minLen == 0 || int64(ml) >= minLen) {
				matches = append(matches, match{aStart, aEnd, bStart, bEnd})
			}
			aStart = alen
		}
	}
	if !getIdx {
		c.addBulk(result)
		return
	}
	c.addMap(2)
	c.addBulkStr("matches")
	c.addArray(len(matches))
	for _, m := range matches {
		if withLen {
			c.addArray(3)
		} else {
			c.addArray(2)
		}
		c.addArray(2)
		c.addInt(int64(m.a0))
		c.addInt(int64(m.a1))
		c.addArray(2)
		c.addInt(int64(m.b0))
		c.addInt(int64(m.b1))
		if withLen {
			c.addInt(int64(m.a1 - m.a0 + 1))
		}
	}
	c.addBulkStr("len")
	c.addInt(int64(n))
}
