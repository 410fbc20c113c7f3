package protocol

import (
	"math"
)

// Per-field hash expiry (Redis 7.4): HEXPIRE HPEXPIRE HEXPIREAT HPEXPIREAT
// HTTL HPTTL HEXPIRETIME HPEXPIRETIME HPERSIST. Field deadlines live in the
// hash's encoding (coll.FlagFieldTTL); expired fields are dropped whenever
// the hash is read or written, and a hash left without fields is deleted.

// hashFields parses "FIELDS numfields field..." at args[i]. ok=false: an
// error was written.
func (c *Client) hashFields(args [][]byte, i int) ([][]byte, bool) {
	if i >= len(args) || !eq(args[i], "fields") {
		c.addError("ERR Mandatory argument FIELDS is missing or not at the right position")
		return nil, false
	}
	if i+1 >= len(args) {
		c.wrongArity()
		return nil, false
	}
	n, ok := parseInt(args[i+1])
	if !ok || n <= 0 {
		c.addError("ERR Parameter `numFields` should be greater than 0")
		return nil, false
	}
	if n != int64(len(args)-i-2) {
		c.addError("ERR The `numfields` parameter must match the number of arguments")
		return nil, false
	}
	return args[i+2:], true
}

// HEXPIRE key seconds [NX | XX | GT | LT] FIELDS numfields field [field ...]
// (and HPEXPIRE, HEXPIREAT, HPEXPIREAT: unit in ms, abs for timestamps).
func hexpireGeneric(c *Client, args [][]byte, unit int64, abs bool) {
	t, ok := parseInt(args[2])
	if !ok {
		c.addError(errNotInt)
		return
	}
	cond := byte(0)
	i := 3
	if i < len(args) {
		switch a := args[i]; {
		case eq(a, "nx"):
			cond = 'n'
		case eq(a, "xx"):
			cond = 'x'
		case eq(a, "gt"):
			cond = 'g'
		case eq(a, "lt"):
			cond = 'l'
		}
		if cond != 0 {
			i++
		}
	}
	fields, ok := c.hashFields(args, i)
	if !ok {
		return
	}
	invalid := "ERR invalid expire time in '" + c.cmd.Name + "' command"
	if t < 0 || t > math.MaxInt64/unit {
		c.addError(invalid)
		return
	}
	deadline := t * unit
	if !abs {
		if deadline > math.MaxInt64-c.now {
			c.addError(invalid)
			return
		}
		deadline += c.now
	}
	if deadline > 1<<46 { // Redis's EB_EXPIRE_TIME_MAX (about year 4199)
		c.addError(invalid)
		return
	}
	c.hashWrite(args[1], func(fs []hfield, found bool) ([]hfield, bool) {
		c.addArray(len(fields))
		changed := false
		for _, f := range fields {
			j := hfind(fs, f)
			if j < 0 {
				c.addInt(-2)
				continue
			}
			cur := fs[j].exp
			met := true
			switch cond {
			case 'n':
				met = cur == 0
			case 'x':
				met = cur != 0
			case 'g':
				met = cur != 0 && deadline > cur
			case 'l':
				met = cur == 0 || deadline < cur
			}
			if !met {
				c.addInt(0)
				continue
			}
			changed = true
			if deadline <= c.now {
				fs = append(fs[:j], fs[j+1:]...)
				c.addInt(2)
				continue
			}
			fs[j].exp = deadline
			c.addInt(1)
		}
		return fs, changed
	})
}

func cmdHExpire(c *Client, args [][]byte)    { hexpireGeneric(c, args, 1000, false) }
func cmdHPExpire(c *Client, args [][]byte)   { hexpireGeneric(c, args, 1, false) }
func cmdHExpireAt(c *Client, args [][]byte)  { hexpireGeneric(c, args, 1000, true) }
func cmdHPExpireAt(c *Client, args [][]byte) { hexpireGeneric(c, args, 1, true) }

// httlGeneric answers HTTL HPTTL HEXPIRETIME HPEXPIRETIME: per field -2
// (no field), -1 (no TTL) or the remaining time / deadline in unit.
func httlGeneric(c *Client, args [][]byte, unit int64, abs bool) {
	fields, ok := c.hashFields(args, 2)
	if !ok {
		return
	}
	c.hashRead(args[1], func(fs []hfield, _ bool) {
		c.addArray(len(fields))
		for _, f := range fields {
			j := hfind(fs, f)
			switch {
			case j < 0:
				c.addInt(-2)
			case fs[j].exp == 0:
				c.addInt(-1)
			case abs:
				c.addInt(fs[j].exp / unit)
			default:
				c.addInt((fs[j].exp - c.now + unit/2) / unit)
			}
		}
	})
}

func cmdHTTL(c *Client, args [][]byte)         { httlGeneric(c, args, 1000, false) }
func cmdHPTTL(c *Client, args [][]byte)        { httlGeneric(c, args, 1, false) }
func cmdHExpireTime(c *Client, args [][]byte)  { httlGeneric(c, args, 1000, true) }
func cmdHPExpireTime(c *Client, args [][]byte) { httlGeneric(c, args, 1, true) }

// HPERSIST key FIELDS numfields field [field ...]
func cmdHPersist(c *Client, args [][]byte) {
	fields, ok := c.hashFields(args, 2)
	if !ok {
		return
	}
	c.hashWrite(args[1], func(fs []hfield, _ bool) ([]hfield, bool) {
		c.addArray(len(fields))
		changed := false
		for _, f := range fields {
			j := hfind(fs, f)
			switch {
			case j < 0:
				c.addInt(-2)
			case fs[j].exp == 0:
				c.addInt(-1)
			default:
				fs[j].exp = 0
				changed = true
				c.addInt(1)
			}
		}
		return fs, changed
	})
}
