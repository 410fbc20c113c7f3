package protocol

import (
	"math/bits"

	"github.com/cachesrv/cachesrv/internal/cmdtab"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Bitmaps: SETBIT GETBIT BITCOUNT BITPOS BITOP on string values, with
// Redis 7's replies, errors and offset limit (proto-max-bulk-len bytes).

const (
	errBitOffset = "ERR bit offset is not an integer or out of range"
	errBitValue  = "ERR bit is not an integer or out of range"
)

// bitOffset parses a bit offset below proto-max-bulk-len*8 (Redis's limit:
// 2^32 bits with the default 512 MB).
func (c *Client) bitOffset(b []byte) (int64, bool) {
	off, ok := parseInt(b)
	if !ok || off < 0 || off >= c.srv.maxBulk.Load()*8 {
		c.addError(errBitOffset)
		return 0, false
	}
	return off, true
}

func cmdSetBit(c *Client, args [][]byte) {
	off, ok := c.bitOffset(args[2])
	if !ok {
		return
	}
	if len(args[3]) != 1 || args[3][0] != '0' && args[3][0] != '1' {
		c.addError(errBitValue)
		return
	}
	on := args[3][0] == '1'
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	e, found := c.tx.Lookup(c.db, args[1], h, store.NoStats)
	if found && e.Type != store.TypeString {
		c.addError(errWrongType)
		return
	}
	var cur []byte
	m := store.Meta{}
	if found {
		cur, m = e.Value, e.Meta
	}
	byteIdx := int(off >> 3)
	size := max(len(cur), byteIdx+1)
	buf := c.scratch[:0]
	if cap(buf) < size {
		buf = make([]byte, 0, size)
	}
	buf = buf[:size]
	copy(buf, cur)
	clear(buf[len(cur):])
	mask := byte(1) << (7 - uint(off&7))
	old := buf[byteIdx]&mask != 0
	if on {
		buf[byteIdx] |= mask
	} else {
		buf[byteIdx] &^= mask
	}
	c.keepScratch(buf)
	if err := c.tx.Set(c.db, args[1], h, buf, m); err != nil {
		c.replyErr(err)
		return
	}
	if old {
		c.addInt(1)
	} else {
		c.addInt(0)
	}
}

// readString runs fn on a string's value under its shard lock (nil for a
// missing key), or replies WRONGTYPE.
func (c *Client) readString(key []byte, fn func(v []byte)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	e, found := c.tx.Lookup(c.db, key, h, c.lookupFlags())
	if found && e.Type != store.TypeString {
		c.addError(errWrongType)
		return
	}
	if !found {
		fn(nil)
		return
	}
	fn(e.Value)
}

func cmdGetBit(c *Client, args [][]byte) {
	off, ok := c.bitOffset(args[2])
	if !ok {
		return
	}
	c.readString(args[1], func(v []byte) {
		if idx := off >> 3; idx < int64(len(v)) && v[idx]&(1<<(7-uint(off&7))) != 0 {
			c.addInt(1)
			return
		}
		c.addInt(0)
	})
}

// bitRange normalises BITCOUNT/BITPOS's start and end (bytes, or bits with
// BIT) against a value of n bytes; empty says the range selects nothing.
func bitRange(start, end int64, bitMode bool, n int) (s, e int64, empty bool) {
	total := int64(n)
	if bitMode {
		total *= 8
	}
	if start < 0 {
		start += total
	}
	if end < 0 {
		end += total
	}
	start, end = max(start, 0), max(end, 0)
	end = min(end, total-1)
	if start > end || total == 0 {
		return 0, 0, true
	}
	return start, end, false
}

// parseBitRange reads [start end [BYTE|BIT]] at args[i:].
func (c *Client) parseBitRange(args [][]byte, i int, needEnd bool) (start, end int64, endGiven, bitMode, ok bool) {
	end = -1
	if len(args) > i {
		var ok1 bool
		if start, ok1 = parseInt(args[i]); !ok1 {
			c.addError(errNotInt)
			return
		}
	}
	if len(args) > i+1 {
		var ok2 bool
		if end, ok2 = parseInt(args[i+1]); !ok2 {
			c.addError(errNotInt)
			return
		}
		endGiven = true
	} else if needEnd && len(args) > i {
		c.addError(errSyntax)
		return
	}
	if len(args) > i+2 {
		switch {
		case len(args) > i+3:
			c.addError(errSyntax)
			return
		case eq(args[i+2], "bit"):
			bitMode = true
		case eq(args[i+2], "byte"):
		default:
			c.addError(errSyntax)
			return
		}
	}
	return start, end, endGiven, bitMode, true
}

func cmdBitCount(c *Client, args [][]byte) {
	start, end, _, bitMode, ok := c.parseBitRange(args, 2, true)
	if !ok {
		return
	}
	c.readString(args[1], func(v []byte) {
		if len(args) == 2 {
			c.addInt(popcount(v))
			return
		}
		s, e, empty := bitRange(start, end, bitMode, len(v))
		if empty {
			c.addInt(0)
			return
		}
		if !bitMode {
			c.addInt(popcount(v[s : e+1]))
			return
		}
		var n int64
		for i := s; i <= e; i++ {
			if v[i>>3]&(1<<(7-uint(i&7))) != 0 {
				n++
			}
		}
		c.addInt(n)
	})
}

func popcount(b []byte) int64 {
	var n int
	for len(b) >= 8 {
		n += bits.OnesCount64(uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56)
		b = b[8:]
	}
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return int64(n)
}

func cmdBitPos(c *Client, args [][]byte) {
	if len(args[2]) != 1 || args[2][0] != '0' && args[2][0] != '1' {
		c.addError("ERR The bit argument must be 1 or 0.")
		return
	}
	bit := args[2][0] == '1'
	start, end, endGiven, bitMode, ok := c.parseBitRange(args, 3, false)
	if !ok {
		return
	}
	c.readString(args[1], func(v []byte) {
		if v == nil {
			if bit {
				c.addInt(-1)
			} else {
				c.addInt(0)
			}
			return
		}
		s, e, empty := bitRange(start, end, bitMode, len(v))
		if empty {
			c.addInt(-1)
			return
		}
		if !bitMode {
			s, e = s*8, e*8+7
		}
		for i := s; i <= e; i++ {
			if (v[i>>3]&(1<<(7-uint(i&7))) != 0) == bit {
				c.addInt(i)
				return
			}
		}
		// Looking for a clear bit without an explicit end: the string is
		// taken as padded with zeros on the right.
		if !bit && !endGiven {
			c.addInt(e + 1)
			return
		}
		c.addInt(-1)
	})
}

func cmdBitOp(c *Client, args [][]byte) {
	op := args[1]
	var kind byte
	switch {
	case eq(op, "and"):
		kind = '&'
	case eq(op, "or"):
		kind = '|'
	case eq(op, "xor"):
		kind = '^'
	case eq(op, "not"):
		kind = '~'
	default:
		c.addError(errSyntax)
		return
	}
	srcs := args[3:]
	if kind == '~' && len(srcs) != 1 {
		c.addError("ERR BITOP NOT must be called with a single source key.")
		return
	}
	c.tx.Keys(c.now, args[2:])
	defer c.tx.Release()
	vals := make([][]byte, len(srcs))
	maxLen := 0
	for i, k := range srcs {
		h := c.st.Hash(k)
		e, found := c.tx.Lookup(c.db, k, h, c.lookupFlags())
		if found && e.Type != store.TypeString {
			c.addError(errWrongType)
			return
		}
		if found {
			vals[i] = e.Value
			maxLen = max(maxLen, len(e.Value))
		}
	}
	dst := args[2]
	h := c.st.Hash(dst)
	if maxLen == 0 {
		c.tx.Delete(c.db, dst, h, store.Deleted)
		c.addInt(0)
		return
	}
	out := make([]byte, maxLen)
	byteAt := func(v []byte, i int) byte {
		if i < len(v) {
			return v[i]
		}
		return 0
	}
	for i := range out {
		r := byteAt(vals[0], i)
		for _, v := range vals[1:] {
			switch kind {
			case '&':
				r &= byteAt(v, i)
			case '|':
				r |= byteAt(v, i)
			case '^':
				r ^= byteAt(v, i)
			}
		}
		if kind == '~' {
			r = ^r
		}
		out[i] = r
	}
	if err := c.tx.Set(c.db, dst, h, out, store.Meta{}); err != nil {
		c.replyErr(err)
		return
	}
	c.addInt(int64(maxLen))
}

// addBitmapCommands registers the bitmap commands in the table.
func addBitmapCommands(t *Table) {
	bm := func(name string, arity int, flags Flag, first, last int, since, summary string, h Handler) {
		t.add(&Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: last, Step: 1, Category: "bitmap", Group: "bitmap", Since: since, Summary: summary}, Handler: h})
	}
	w := FlagWrite | FlagDenyOOM
	bm("setbit", 4, w, 1, 1, "2.2.0", "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", cmdSetBit)
	bm("getbit", 3, FlagReadonly|FlagFast, 1, 1, "2.2.0", "Returns a bit value by offset.", cmdGetBit)
	bm("bitcount", -2, FlagReadonly, 1, 1, "2.6.0", "Counts the number of set bits (population counting) in a string.", cmdBitCount)
	bm("bitpos", -3, FlagReadonly, 1, 1, "2.8.7", "Finds the first set (1) or clear (0) bit in a string.", cmdBitPos)
	bm("bitop", -4, w, 2, -1, "2.6.0", "Performs bitwise operations on multiple strings, and stores the result.", cmdBitOp)
	t.add(&Command{Spec: cmdtab.Spec{Name: "lcs", Arity: -3, Flags: FlagReadonly, FirstKey: 1, LastKey: 2, Step: 1, Category: "string", Group: "string", Since: "7.0.0", Summary: "Finds the longest common substring."}, Handler: cmdLCS}) // cmd_lcs.go
}
