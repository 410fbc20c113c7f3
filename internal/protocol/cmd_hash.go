package protocol

import (
	"math"
	"math/big"
	"strconv"

	"github.com/cachesrv/cachesrv/internal/coll"
	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/longdouble"
	"github.com/cachesrv/cachesrv/internal/store"
)

// Hashes. A hash is a coll sequence of field, value pairs, or of field,
// value, deadline triples once a field carries a TTL (HEXPIRE family).
// Expired fields are dropped when the hash is read or written; a hash whose
// last field expired is deleted.

type hfield struct {
	f, v []byte
	exp  int64 // unix ms; 0 = none
}

// hashOf decodes a hash value, dropping fields expired at now. dropped
// reports that some were.
func (c *Client) hashOf(v []byte) (fs []hfield, dropped, ok bool) {
	items, flags, ok := c.decodeSeq(v)
	if !ok {
		return nil, false, false
	}
	stride := 2
	if flags&coll.FlagFieldTTL != 0 {
		stride = 3
	}
	if len(items)%stride != 0 {
		c.addError(errCorrupt)
		return nil, false, false
	}
	fs = make([]hfield, 0, len(items)/stride)
	for i := 0; i < len(items); i += stride {
		f := hfield{f: items[i], v: items[i+1]}
		if stride == 3 {
			f.exp = coll.Deadline(items[i+2])
			if f.exp != 0 && f.exp <= c.now {
				dropped = true
				continue
			}
		}
		fs = append(fs, f)
	}
	return fs, dropped, true
}

func encodeHash(fs []hfield) []byte {
	ttl := false
	n := 1 + 10
	for _, f := range fs {
		ttl = ttl || f.exp != 0
		n += len(f.f) + len(f.v) + 10 + 9
	}
	items := make([][]byte, 0, len(fs)*3)
	var dl []byte
	if ttl {
		dl = make([]byte, 0, 8*len(fs))
	}
	for _, f := range fs {
		items = append(items, f.f, f.v)
		if ttl {
			dl = coll.PutDeadline(dl, f.exp)
			items = append(items, dl[len(dl)-8:])
		}
	}
	var flags byte
	if ttl {
		flags = coll.FlagFieldTTL
	}
	return coll.Encode(make([]byte, 0, n), flags, items)
}

func hfind(fs []hfield, f []byte) int {
	for i := range fs {
		if string(fs[i].f) == string(f) {
			return i
		}
	}
	return -1
}

// hashRead locks key and decodes its hash for a read; fn runs under the
// lock with found=false for a missing key. A WRONGTYPE or corrupt value has
// been replied to when fn is not called.
func (c *Client) hashRead(key []byte, fn func(fs []hfield, found bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	e, found, ok := c.collGet(key, h, store.TypeHash, c.readFlags())
	if !ok {
		return
	}
	if !found {
		fn(nil, false)
		return
	}
	fs, dropped, ok := c.hashOf(e.Value)
	if !ok {
		return
	}
	if dropped && len(fs) == 0 {
		c.tx.Delete(c.db, key, h, store.Expired)
		fn(nil, false)
		return
	}
	fn(fs, true)
}

// hashWrite locks key, decodes its hash and lets fn change the fields; the
// result is stored (or the key deleted when no field is left) when fn
// returns write=true.
func (c *Client) hashWrite(key []byte, fn func(fs []hfield, found bool) ([]hfield, bool)) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	e, found, ok := c.collGet(key, h, store.TypeHash, writeFlags)
	if !ok {
		return
	}
	var fs []hfield
	dropped := false
	if found {
		if fs, dropped, ok = c.hashOf(e.Value); !ok {
			return
		}
		if dropped && len(fs) == 0 {
			c.tx.Delete(c.db, key, h, store.Expired)
			found = false
		}
	}
	mark := len(c.out)
	fs, write := fn(fs, found)
	if !write && !(dropped && len(fs) > 0) {
		return
	}
	if err := c.collPut(key, h, store.TypeHash, e.Meta, found, encodeHash(fs), len(fs) == 0); err != nil {
		c.replaceReply(mark, err)
		return
	}
	// Let the expiry sweeper reap the earliest field deadline.
	next := int64(0)
	for _, f := range fs {
		if f.exp != 0 && (next == 0 || f.exp < next) {
			next = f.exp
		}
	}
	if next != 0 {
		c.tx.SetFieldDeadline(c.db, key, h, next)
	}
}

func hsetPairs(c *Client, args [][]byte) bool {
	if (len(args)-2)%2 != 0 {
		c.wrongArity()
		return false
	}
	return true
}

// HSET key field value [field value ...]
func cmdHSet(c *Client, args [][]byte) {
	if !hsetPairs(c, args) {
		return
	}
	c.hashWrite(args[1], func(fs []hfield, _ bool) ([]hfield, bool) {
		var added int64
		fs = hsetAll(fs, args[2:], &added)
		c.addInt(added)
		return fs, true
	})
}

func hsetAll(fs []hfield, pairs [][]byte, added *int64) []hfield {
	for i := 0; i < len(pairs); i += 2 {
		if j := hfind(fs, pairs[i]); j >= 0 {
			fs[j].v, fs[j].exp = pairs[i+1], 0
			continue
		}
		fs = append(fs, hfield{f: pairs[i], v: pairs[i+1]})
		*added++
	}
	return fs
}

// HMSET key field value [field value ...]
func cmdHMSet(c *Client, args [][]byte) {
	if !hsetPairs(c, args) {
		return
	}
	c.hashWrite(args[1], func(fs []hfield, _ bool) ([]hfield, bool) {
		var added int64
		fs = hsetAll(fs, args[2:], &added)
		c.addOK()
		return fs, true
	})
}

// HSETNX key field value
func cmdHSetNX(c *Client, args [][]byte) {
	c.hashWrite(args[1], func(fs []hfield, _ bool) ([]hfield, bool) {
		if hfind(fs, args[2]) >= 0 {
			c.addInt(0)
			return fs, false
		}
		c.addInt(1)
		return append(fs, hfield{f: args[2], v: args[3]}), true
	})
}

// HGET key field
func cmdHGet(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		if i := hfind(fs, args[2]); i >= 0 {
			c.addBulk(fs[i].v)
			return
		}
		c.addNull()
	})
}

// HMGET key field [field ...]
func cmdHMGet(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		c.addArray(len(args) - 2)
		for _, f := range args[2:] {
			if i := hfind(fs, f); i >= 0 {
				c.addBulk(fs[i].v)
			} else {
				c.addNull()
			}
		}
	})
}

// HDEL key field [field ...]
func cmdHDel(c *Client, args [][]byte) {
	c.hashWrite(args[1], func(fs []hfield, _ bool) ([]hfield, bool) {
		var n int64
		for _, f := range args[2:] {
			if i := hfind(fs, f); i >= 0 {
				fs = append(fs[:i], fs[i+1:]...)
				n++
			}
		}
		c.addInt(n)
		return fs, n > 0
	})
}

// HEXISTS key field
func cmdHExists(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		if hfind(fs, args[2]) >= 0 {
			c.addInt(1)
		} else {
			c.addInt(0)
		}
	})
}

// HLEN key
func cmdHLen(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) { c.addInt(int64(len(fs))) })
}

// HSTRLEN key field
func cmdHStrlen(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		if i := hfind(fs, args[2]); i >= 0 {
			c.addInt(int64(len(fs[i].v)))
			return
		}
		c.addInt(0)
	})
}

func cmdHKeys(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		c.addArray(len(fs))
		for _, f := range fs {
			c.addBulk(f.f)
		}
	})
}

func cmdHVals(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		c.addArray(len(fs))
		for _, f := range fs {
			c.addBulk(f.v)
		}
	})
}

func cmdHGetAll(c *Client, args [][]byte) {
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		c.addMap(len(fs))
		for _, f := range fs {
			c.addBulk(f.f)
			c.addBulk(f.v)
		}
	})
}

// HINCRBY key field increment
func cmdHIncrBy(c *Client, args [][]byte) {
	incr, ok := parseInt(args[3])
	if !ok {
		c.addError(errNotInt)
		return
	}
	c.hashWrite(args[1], func(fs []hfield, _ bool) ([]hfield, bool) {
		var cur int64
		i := hfind(fs, args[2])
		if i >= 0 {
			if cur, ok = parseInt(fs[i].v); !ok {
				c.addError("ERR hash value is not an integer")
				return fs, false
			}
		}
		if (incr < 0 && cur < 0 && incr < math.MinInt64-cur) || (incr > 0 && cur > 0 && incr > math.MaxInt64-cur) {
			c.addError(errOverflow)
			return fs, false
		}
		cur += incr
		v := strconv.AppendInt(nil, cur, 10)
		if i >= 0 {
			fs[i].v = v
		} else {
			fs = append(fs, hfield{f: args[2], v: v})
		}
		c.addInt(cur)
		return fs, true
	})
}

// HINCRBYFLOAT key field increment (long double arithmetic as Redis, so
// replies match redis-server byte for byte: package longdouble)
func cmdHIncrByFloat(c *Client, args [][]byte) {
	incr, ok := longdouble.Parse(args[3])
	if !ok {
		c.addError(errNotFloat)
		return
	}
	c.hashWrite(args[1], func(fs []hfield, _ bool) ([]hfield, bool) {
		cur := new(big.Float)
		i := hfind(fs, args[2])
		if i >= 0 {
			v, valid := longdouble.Parse(fs[i].v)
			if !valid {
				c.addError("ERR hash value is not a float")
				return fs, false
			}
			cur = v
		}
		sum, ok := longdouble.Add(cur, incr)
		if !ok {
			c.addError(errNaN)
			return fs, false
		}
		v := longdouble.AppendHuman(nil, sum)
		if i >= 0 {
			fs[i].v = v
		} else {
			fs = append(fs, hfield{f: args[2], v: v})
		}
		c.addBulk(v)
		return fs, true
	})
}

// HRANDFIELD key [count [WITHVALUES]]
func cmdHRandField(c *Client, args [][]byte) {
	if len(args) > 4 || (len(args) == 4 && !eq(args[3], "withvalues")) {
		c.addError(errSyntax)
		return
	}
	withCount := len(args) >= 3
	var count int64
	if withCount {
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
	withValues := len(args) == 4
	c.hashRead(args[1], func(fs []hfield, found bool) {
		if !withCount {
			if !found {
				c.addNull()
				return
			}
			c.addBulk(fs[c.randN(len(fs))].f)
			return
		}
		idx := c.randomPicks(len(fs), count)
		if withValues && c.resp == 3 {
			c.addArray(len(idx))
			for _, i := range idx {
				c.addArray(2)
				c.addBulk(fs[i].f)
				c.addBulk(fs[i].v)
			}
			return
		}
		if withValues {
			c.addArray(2 * len(idx))
		} else {
			c.addArray(len(idx))
		}
		for _, i := range idx {
			c.addBulk(fs[i].f)
			if withValues {
				c.addBulk(fs[i].v)
			}
		}
	})
}

// randomPicks returns indexes into a collection of n for the *RANDMEMBER
// family: count > 0 distinct (at most n), count < 0 |count| with repeats.
func (c *Client) randomPicks(n int, count int64) []int {
	if n == 0 || count == 0 {
		return nil
	}
	if count < 0 {
		out := make([]int, -count)
		for i := range out {
			out[i] = c.randN(n)
		}
		return out
	}
	k := int(min(count, int64(n)))
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + c.randN(n-i)
		perm[i], perm[j] = perm[j], perm[i]
	}
	return perm[:k]
}

// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
func cmdHScan(c *Client, args [][]byte) {
	cursor, match, count, novalues, ok := c.scanArgs(args[2:])
	if !ok {
		return
	}
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		c.scanReply(cursor, count, len(fs), func(i int) int {
			if match != nil && !glob.MatchBytes(match, fs[i].f, false) {
				return 0
			}
			c.addBulk(fs[i].f)
			if novalues {
				return 1
			}
			c.addBulk(fs[i].v)
			return 2
		})
	})
}
