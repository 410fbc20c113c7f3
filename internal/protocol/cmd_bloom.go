package protocol

import (
	"math"

	"github.com/cachesrv/cachesrv/internal/bloom"
	"github.com/cachesrv/cachesrv/internal/store"
)

// RedisBloom-compatible Bloom filters (BF.*). Filters are store values of
// type store.TypeBloom (TYPE says "MBbloom--"), so they are memory-accounted,
// evictable and expirable like any key. Adds flip bits in place under the
// shard lock (store.Shard.ValueModifiedLocked); only a new sub-filter copies
// the value. Replies and error strings follow RedisBloom, including its
// quirks: BF.INSERT's errors carry no "ERR" prefix, and BF.EXISTS/BF.MEXISTS
// answer 0 for a key of another type.

const (
	errBFNotFound   = "ERR not found"
	errBFExists     = "ERR item exists"
	errBFFull       = "ERR non scaling filter is full"
	errBFCorrupt    = "ERR corrupt bloom filter"
	errBFCreate     = "ERR could not create filter"
	errBFMaxFilters = "ERR bloom filter reached its maximum size"
)

func (c *Client) wrongArity() {
	c.addError("ERR wrong number of arguments for '" + c.cmd.Name + "' command")
}

// bloomValue returns the filter at key, if any. The shard is locked. A key
// of another type writes WRONGTYPE and returns ok=false with found=true.
func (c *Client) bloomValue(key []byte, h uint64, flags int) (f bloom.Filter, m store.Meta, found, ok bool) {
	e, exists := c.tx.Lookup(c.db, key, h, flags)
	if !exists {
		return nil, store.Meta{}, false, true
	}
	if e.Type != store.TypeBloom {
		c.addError(errWrongType)
		return nil, store.Meta{}, true, false
	}
	f = bloom.Filter(e.Value)
	if !f.Valid() {
		c.addError(errBFCorrupt)
		return nil, store.Meta{}, true, false
	}
	return f, e.Meta, true, true
}

// checkBloomSize refuses a new filter larger than maxmemory before it is
// allocated. ok=false means the error reply was written.
func (c *Client) checkBloomSize(p bloom.Params) bool {
	n, err := bloom.SizeOf(p)
	if err != nil {
		c.addError(errBFCreate)
		return false
	}
	if max := c.st.MaxMemory(); max > 0 && int64(n) > max {
		c.replyErr(store.ErrTooLarge)
		return false
	}
	return true
}

// BF.RESERVE key error_rate capacity [EXPANSION expansion] [NONSCALING]
func cmdBFReserve(c *Client, args [][]byte) {
	if len(args) > 7 {
		c.wrongArity()
		return
	}
	p := bloom.Params{Expansion: bloom.DefaultExpansion}
	var ok bool
	if p.Error, ok = parseFloat(args[2]); !ok {
		c.addError("ERR bad error rate")
		return
	}
	if p.Error <= 0 || p.Error >= 1 {
		c.addError("ERR (0 < error rate range < 1)")
		return
	}
	capacity, ok := parseInt(args[3])
	if !ok {
		c.addError("ERR bad capacity")
		return
	}
	if capacity <= 0 {
		c.addError("ERR (capacity should be larger than 0)")
		return
	}
	p.Capacity = uint64(capacity)
	expIdx := -1
	for i := 4; i < len(args); i++ {
		switch {
		case eq(args[i], "nonscaling"):
			p.NonScaling = true
		case eq(args[i], "expansion") && expIdx < 0:
			expIdx = i
		}
	}
	if expIdx == len(args)-1 {
		c.addError("ERR no expansion")
		return
	}
	if expIdx >= 0 {
		if p.NonScaling {
			c.addError("Nonscaling filters cannot expand")
			return
		}
		e, ok := parseInt(args[expIdx+1])
		if !ok || e < 1 || e > math.MaxUint32 {
			c.addError("ERR bad expansion")
			return
		}
		p.Expansion = uint32(e)
	}
	if !c.checkBloomSize(p) {
		return
	}
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	if _, _, found, ok := c.bloomValue(args[1], h, store.NoStats|store.NoTouch|store.AllowStale); !ok {
		return
	} else if found {
		c.addError(errBFExists)
		return
	}
	b, err := bloom.New(p)
	if err != nil {
		c.addError(errBFCreate)
		return
	}
	if err := c.tx.Set(c.db, args[1], h, b, store.Meta{Type: store.TypeBloom}); err != nil {
		c.replyErr(err)
		return
	}
	c.addOK()
}

// BF.ADD key item
func cmdBFAdd(c *Client, args [][]byte) {
	c.bloomInsert(args[1], args[2:], defaultBloomParams(), true, false)
}

// BF.MADD key item [item ...]
func cmdBFMAdd(c *Client, args [][]byte) {
	c.bloomInsert(args[1], args[2:], defaultBloomParams(), true, true)
}

func defaultBloomParams() bloom.Params {
	return bloom.Params{Capacity: bloom.DefaultCapacity, Error: bloom.DefaultError, Expansion: bloom.DefaultExpansion}
}

// BF.INSERT key [CAPACITY c] [ERROR e] [EXPANSION x] [NOCREATE] [NONSCALING] ITEMS item [item ...]
func cmdBFInsert(c *Client, args [][]byte) {
	p := defaultBloomParams()
	var capacity, expansion int64 = int64(p.Capacity), int64(p.Expansion)
	create := true
	items := -1
	for i := 2; i < len(args) && items < 0; i++ {
		a := args[i]
		var ok bool
		switch {
		case eq(a, "items"):
			items = i + 1
		case eq(a, "capacity"), eq(a, "error"), eq(a, "expansion"):
			if i+1 == len(args) {
				c.wrongArity()
				return
			}
			i++
			switch a[1] | 0x20 {
			case 'a':
				if capacity, ok = parseInt(args[i]); !ok {
					c.addError("Bad capacity")
					return
				}
			case 'r':
				if p.Error, ok = parseFloat(args[i]); !ok {
					c.addError("Bad error rate")
					return
				}
			default:
				if expansion, ok = parseInt(args[i]); !ok {
					c.addError("Bad expansion")
					return
				}
			}
		case eq(a, "nocreate"):
			create = false
		case eq(a, "nonscaling"):
			p.NonScaling = true
		default:
			c.addError("Unknown argument received")
			return
		}
	}
	if items < 0 || items == len(args) {
		c.wrongArity()
		return
	}
	if p.Error <= 0 || p.Error >= 1 || capacity < 1 || expansion < 1 || expansion > math.MaxUint32 {
		c.addError("Bad argument received")
		return
	}
	p.Capacity, p.Expansion = uint64(capacity), uint32(expansion)
	c.bloomInsert(args[1], args[items:], p, create, true)
}

// bloomInsert adds items to the filter at key, creating it with p when
// create is set. multi replies with an array (BF.MADD, BF.INSERT); like
// RedisBloom it stops at the first item a full filter refuses, whose array
// element is the error.
func (c *Client) bloomInsert(key []byte, items [][]byte, p bloom.Params, create, multi bool) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	f, m, found, ok := c.bloomValue(key, h, store.NoStats|store.NoTouch|store.AllowStale)
	if !ok {
		return
	}
	owned := false // f is a private copy to store with SetLocked
	if !found {
		if !create {
			c.addError(errBFNotFound)
			return
		}
		if !c.checkBloomSize(p) {
			return
		}
		b, err := bloom.New(p)
		if err != nil {
			c.addError(errBFCreate)
			return
		}
		f, m, owned = b, store.Meta{Type: store.TypeBloom}, true
	}
	// Results: 1 added, 0 present, or the error that stopped the adds.
	var buf [16]int8
	res := buf[:0]
	stopErr := ""
	modified := false
	for _, it := range items {
		r := f.Add(it)
		for r == bloom.NeedsGrowth {
			n, err := f.GrownSize()
			if err != nil {
				stopErr = errBFMaxFilters
				break
			}
			// The grown copy is checked against the bound before it is
			// allocated.
			if !c.st.Fits(int64(len(key)), int64(n)) {
				stopErr = errOOMTooLarge
				break
			}
			g, err := f.Grow()
			if err != nil {
				stopErr = errBFMaxFilters
				break
			}
			f, owned = g, true
			r = f.Add(it)
		}
		if r == bloom.Full {
			stopErr = errBFFull
		}
		if stopErr != "" {
			break
		}
		if r == bloom.Added {
			modified = true
			res = append(res, 1)
		} else {
			res = append(res, 0)
		}
	}
	switch {
	case owned:
		if err := c.tx.Set(c.db, key, h, f, m); err != nil {
			c.replyErr(err)
			return
		}
	case modified:
		c.tx.ValueModified(c.db, key, h)
	}
	if !multi {
		if stopErr != "" {
			c.addError(stopErr)
		} else {
			c.addInt(int64(res[0]))
		}
		return
	}
	n := len(res)
	if stopErr != "" {
		n++
	}
	c.addArray(n)
	for _, r := range res {
		c.addInt(int64(r))
	}
	if stopErr != "" {
		c.addError(stopErr)
	}
}

// BF.EXISTS key item / BF.MEXISTS key item [item ...]
func cmdBFExists(c *Client, args [][]byte)  { c.bloomExists(args, false) }
func cmdBFMExists(c *Client, args [][]byte) { c.bloomExists(args, true) }

func (c *Client) bloomExists(args [][]byte, multi bool) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	var f bloom.Filter
	if e, ok := c.tx.Lookup(c.db, args[1], h, c.lookupFlags()); ok && e.Type == store.TypeBloom {
		if f = bloom.Filter(e.Value); !f.Valid() {
			f = nil
		}
	}
	if multi {
		c.addArray(len(args) - 2)
	}
	for _, it := range args[2:] {
		if f != nil && f.Exists(it) {
			c.addInt(1)
		} else {
			c.addInt(0)
		}
	}
}

// BF.INFO key [CAPACITY | SIZE | FILTERS | ITEMS | EXPANSION]
func cmdBFInfo(c *Client, args [][]byte) {
	if len(args) > 3 {
		c.wrongArity()
		return
	}
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	f, _, found, ok := c.bloomValue(args[1], h, c.lookupFlags())
	if !ok {
		return
	}
	if !found {
		c.addError(errBFNotFound)
		return
	}
	expansion := func() {
		if f.NonScaling() {
			c.addNull()
		} else {
			c.addInt(int64(f.Expansion()))
		}
	}
	if len(args) == 3 {
		a := args[2]
		switch {
		case eq(a, "capacity"):
			c.addArray(1)
			c.addInt(int64(f.Capacity()))
		case eq(a, "size"):
			c.addArray(1)
			c.addInt(int64(len(f)))
		case eq(a, "filters"):
			c.addArray(1)
			c.addInt(int64(f.NumFilters()))
		case eq(a, "items"):
			c.addArray(1)
			c.addInt(int64(f.Items()))
		case eq(a, "expansion"):
			c.addArray(1)
			expansion()
		default:
			c.addError("Invalid information value")
		}
		return
	}
	c.addMap(5)
	c.addSimple("Capacity")
	c.addInt(int64(f.Capacity()))
	c.addSimple("Size")
	c.addInt(int64(len(f)))
	c.addSimple("Number of filters")
	c.addInt(int64(f.NumFilters()))
	c.addSimple("Number of items inserted")
	c.addInt(int64(f.Items()))
	c.addSimple("Expansion rate")
	expansion()
}

// BF.CARD key
func cmdBFCard(c *Client, args [][]byte) {
	h := c.tx.Key(c.now, args[1])
	defer c.tx.Release()
	f, _, found, ok := c.bloomValue(args[1], h, c.lookupFlags())
	switch {
	case !ok:
	case !found:
		c.addInt(0)
	default:
		c.addInt(int64(f.Items()))
	}
}
