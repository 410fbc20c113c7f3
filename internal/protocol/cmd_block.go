package protocol

import "github.com/cachesrv/cachesrv/internal/store"

// Blocking list and sorted set pops; the waiting is in blocking.go.

// BLPOP key [key ...] timeout / BRPOP
func blpopGeneric(c *Client, args [][]byte, front bool) {
	timeout, ok := c.parseTimeout(args[len(args)-1])
	if !ok {
		return
	}
	keys := args[1 : len(args)-1]
	c.block(keys, keys, timeout, func() bool {
		for _, k := range keys {
			h := c.st.Hash(k)
			l, _, found, ok := c.listGet(k, h, store.NoStats|store.NoTouch|store.AllowStale)
			if !ok {
				return true
			}
			if !found || l.Len() == 0 {
				continue
			}
			c.addArray(2)
			c.addBulk(k)
			c.listPop(k, h, front, 1, func(e []byte) { c.addBulk(e) })
			return true
		}
		return false
	}, c.addNullArray)
}

func cmdBLPop(c *Client, args [][]byte) { blpopGeneric(c, args, true) }
func cmdBRPop(c *Client, args [][]byte) { blpopGeneric(c, args, false) }

// blmoveGeneric is BLMOVE and BRPOPLPUSH.
func blmoveGeneric(c *Client, src, dst []byte, from, to bool, timeoutArg []byte) {
	timeout, ok := c.parseTimeout(timeoutArg)
	if !ok {
		return
	}
	keys := [][]byte{src, dst}
	c.block(keys, keys[:1], timeout, func() bool {
		mark := len(c.out)
		moved := c.lmove(src, dst, from, to)
		if !moved && len(c.out) > mark && c.out[mark] != '-' {
			c.out = c.out[:mark] // the null for an empty source: wait
			return false
		}
		return true
	}, c.addNull)
}

// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
func cmdBLMove(c *Client, args [][]byte) {
	from, ok := parseSide(c, args[3])
	if !ok {
		return
	}
	to, ok := parseSide(c, args[4])
	if !ok {
		return
	}
	blmoveGeneric(c, args[1], args[2], from, to, args[5])
}

// BRPOPLPUSH source destination timeout
func cmdBRPopLPush(c *Client, args [][]byte) {
	blmoveGeneric(c, args[1], args[2], false, true, args[3])
}

// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
func cmdBLMPop(c *Client, args [][]byte) {
	timeout, ok := c.parseTimeout(args[1])
	if !ok {
		return
	}
	keys, front, count, ok := c.parseMPop(args, 2, listSide)
	if !ok {
		return
	}
	c.block(keys, keys, timeout, func() bool {
		mark := len(c.out)
		if !c.lmpopLocked(keys, front, count) && len(c.out) > mark && c.out[mark] != '-' {
			c.out = c.out[:mark]
			return false
		}
		return true
	}, c.addNullArray)
}

// BZPOPMIN key [key ...] timeout / BZPOPMAX
func bzpopGeneric(c *Client, args [][]byte, min bool) {
	timeout, ok := c.parseTimeout(args[len(args)-1])
	if !ok {
		return
	}
	keys := args[1 : len(args)-1]
	c.block(keys, keys, timeout, func() bool {
		for _, k := range keys {
			h := c.st.Hash(k)
			zs, e, found, ok := c.zsetGet(k, h, writeFlags)
			if !ok {
				return true
			}
			if !found || len(zs) == 0 {
				continue
			}
			i := 0
			if !min {
				i = len(zs) - 1
			}
			mark := len(c.out)
			c.addArray(3)
			c.addBulk(k)
			c.addBulk(zs[i].m)
			c.addScore(zs[i].s)
			if err := c.zsetPut(k, h, e.Meta, true, zremove(zs, i)); err != nil {
				c.replaceReply(mark, err)
			}
			return true
		}
		return false
	}, c.addNullArray)
}

func cmdBZPopMin(c *Client, args [][]byte) { bzpopGeneric(c, args, true) }
func cmdBZPopMax(c *Client, args [][]byte) { bzpopGeneric(c, args, false) }
