package protocol

import (
	"strconv"

	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

func (c *Client) tagIndex() *tags.Index {
	if c.srv.tags == nil {
		c.addError("ERR tags are not enabled")
		return nil
	}
	return c.srv.tags
}

// parseCounted reads "N item..." at args[i] and returns the items and the
// index after them.
func (c *Client) parseCounted(args [][]byte, i int) ([][]byte, int, bool) {
	if i >= len(args) {
		c.addError(errSyntax)
		return nil, 0, false
	}
	n, ok := parseInt(args[i])
	if !ok || n < 0 {
		c.addError("ERR numtags must be a non-negative integer")
		return nil, 0, false
	}
	if int64(len(args)-i-1) < n {
		c.addError(errSyntax)
		return nil, 0, false
	}
	return args[i+1 : i+1+int(n)], i + 1 + int(n), true
}

// cmdTagSet: TAGSET key value [TAGS numtags tag ...] [DEPS numdeps key ...]
// [VERSION v] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL] [NX|XX] [GET]
// [JITTER f|NOJITTER]
func cmdTagSet(c *Client, args [][]byte) {
	x := c.tagIndex()
	if x == nil {
		return
	}
	var names, deps [][]byte
	var rest [][]byte
	var version uint64
	seenTags, seenDeps := false, false
	for i := 3; i < len(args); {
		switch {
		case eq(args[i], "tags") && !seenTags:
			l, next, ok := c.parseCounted(args, i+1)
			if !ok {
				return
			}
			names, i, seenTags = l, next, true
		case eq(args[i], "deps") && !seenDeps:
			l, next, ok := c.parseCounted(args, i+1)
			if !ok {
				return
			}
			deps, i, seenDeps = l, next, true
		case eq(args[i], "version") && i+1 < len(args) && version == 0:
			v, err := strconv.ParseUint(b2s(args[i+1]), 10, 64)
			if err != nil || v == 0 {
				c.addError("ERR version must be a positive integer")
				return
			}
			version = v
			i += 2
		default:
			rest = append(rest, args[i])
			i++
		}
	}
	var o setOpts
	if !c.parseSetOpts(rest, &o) {
		return
	}
	refs, err := x.Resolve(c.db, names, nil)
	if err != nil {
		x.Release(refs)
		c.replyErr(err)
		return
	}
	key := args[1]
	for _, d := range deps {
		if string(d) == string(key) {
			continue // an entry cannot depend on itself
		}
		// Pin the dependency's tag first: a write of d from now on
		// invalidates this entry; what d holds now is read next.
		refs = x.DependencyRef(c.db, d, refs)
		h := c.tx.Key(c.now, d)
		if e, ok := c.tx.Lookup(c.db, d, h, store.NoStats|store.NoTouch); ok {
			var inherited []byte
			for i := 0; i < store.NumTags(e.Tags); i++ {
				r := store.TagAt(e.Tags, i)
				if !x.IsDependencyOf(c.db, key, r) {
					inherited = store.AppendTag(inherited, r)
				}
			}
			refs = x.PinRefs(inherited, refs)
			if e.Deadline != 0 && (o.capDeadline == 0 || e.Deadline < o.capDeadline) {
				o.capDeadline = e.Deadline
			}
		}
		c.tx.Release()
	}
	defer x.Release(refs)
	o.tags = dedupeRefs(refs)
	if store.NumTags(o.tags) > store.MaxTags {
		c.addError("ERR too many tags and dependencies (at most " + strconv.Itoa(store.MaxTags) + " per key, counting inherited ones)")
		return
	}
	o.version = version
	c.setGeneric(key, args[2], &o, true)
}

func dedupeRefs(refs []byte) []byte {
	out := refs[:0:0]
	for i := 0; i < store.NumTags(refs); i++ {
		r := store.TagAt(refs, i)
		if !hasTagRef(out, r) {
			out = store.AppendTag(out, r)
		}
	}
	return out
}

func hasTagRef(refs []byte, r store.TagRef) bool {
	for i := 0; i < store.NumTags(refs); i++ {
		if store.TagAt(refs, i) == r {
			return true
		}
	}
	return false
}

// cmdInvalidate: INVALIDATE tag [tag ...]
func cmdInvalidate(c *Client, args [][]byte) {
	if x := c.tagIndex(); x != nil {
		keys := c.trackedTagKeys(x, args[1:])
		c.addInt(x.Invalidate(c.db, args[1:], false, 0, c.tx))
		c.srv.tracking.invalidateKeys(c, keys, false)
	}
}

// cmdSoftInvalidate: SOFTINVALIDATE grace-ms tag [tag ...]
func cmdSoftInvalidate(c *Client, args [][]byte) {
	x := c.tagIndex()
	if x == nil {
		return
	}
	grace, ok := parseInt(args[1])
	if !ok || grace <= 0 {
		c.addError("ERR grace must be a positive number of milliseconds")
		return
	}
	keys := c.trackedTagKeys(x, args[2:])
	c.addInt(x.Invalidate(c.db, args[2:], true, grace, c.tx))
	c.srv.tracking.invalidateKeys(c, keys, true)
}

// cmdTags: TAGS key — the key's tags.
func cmdTags(c *Client, args [][]byte) { tagsOrDeps(c, args, false) }

// cmdDeps: DEPS key — the keys the entry depends on.
func cmdDeps(c *Client, args [][]byte) { tagsOrDeps(c, args, true) }

func tagsOrDeps(c *Client, args [][]byte, deps bool) {
	x := c.tagIndex()
	if x == nil {
		return
	}
	h := c.tx.Key(c.now, args[1])
	e, ok := c.tx.Lookup(c.db, args[1], h, store.NoStats|store.NoTouch|store.AllowStale)
	var refs []byte
	if ok {
		refs = append(refs, e.Tags...)
	}
	c.tx.Release()
	if !ok {
		c.addNullArray()
		return
	}
	t, d := x.Names(refs)
	if deps {
		t = d
	}
	c.addSet(len(t))
	for _, n := range t {
		c.addBulkStr(n)
	}
}

// cmdTagCount: TAGCOUNT tag — live keys carrying the tag.
func cmdTagCount(c *Client, args [][]byte) {
	if x := c.tagIndex(); x != nil {
		c.addInt(x.Count(c.db, args[1]))
	}
}

// cmdTagKeys: TAGKEYS tag cursor [COUNT n] — SCAN over a tag's keys.
func cmdTagKeys(c *Client, args [][]byte) {
	x := c.tagIndex()
	if x == nil {
		return
	}
	cursor, err := strconv.ParseUint(b2s(args[2]), 10, 64)
	if err != nil {
		c.addError("ERR invalid cursor")
		return
	}
	count := 10
	if len(args) > 3 {
		if len(args) != 5 || !eq(args[3], "count") {
			c.addError(errSyntax)
			return
		}
		n, ok := parseInt(args[4])
		if !ok || n < 1 {
			c.addError(errSyntax)
			return
		}
		count = int(min(n, 1<<20))
	}
	// A restricted user sees only the keys its patterns allow, even under a
	// tag it may use (a key carries a tag through whoever wrote it).
	u := c.user.Load().User()
	var keys [][]byte
	next := x.Keys(c.db, args[1], cursor, count, c.tx, func(k []byte) {
		if u.KeyOK(k) {
			keys = append(keys, append([]byte(nil), k...))
		}
	})
	c.addArray(2)
	c.addBulkStr(strconv.FormatUint(next, 10))
	c.addArray(len(keys))
	for _, k := range keys {
		c.addBulk(k)
	}
}

// cmdVGet: VGET key — [value, version] (version 0 when the entry has none).
func cmdVGet(c *Client, args [][]byte) { vget(c, args[1], false, 0) }

// cmdVGetIf: VGETIF key version — +NOTMODIFIED when the stored version is
// still the given one, else like VGET.
func cmdVGetIf(c *Client, args [][]byte) {
	v, err := strconv.ParseUint(b2s(args[2]), 10, 64)
	if err != nil {
		c.addError("ERR version must be a non-negative integer")
		return
	}
	vget(c, args[1], true, v)
}

func vget(c *Client, key []byte, cond bool, have uint64) {
	h := c.tx.Key(c.now, key)
	defer c.tx.Release()
	e, ok := c.tx.Lookup(c.db, key, h, c.lookupFlags())
	switch {
	case !ok:
		c.addNull()
	case e.Type != store.TypeString:
		c.addError(errWrongType)
	case cond && e.Version == have:
		c.addSimple("NOTMODIFIED")
	default:
		c.addArray(2)
		c.addBulk(e.Value)
		c.addInt(int64(e.Version))
	}
}
