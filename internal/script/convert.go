package script

import (
	"bytes"
	"math"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// maxDepth bounds the nesting of converted values (a table that contains
// itself would otherwise recurse forever).
const maxDepth = 128

// appendLua writes a script's result as RESP for a connection speaking
// version resp, with Redis 7's Lua-to-RESP rules.
func appendLua(dst []byte, v lua.LValue, resp, depth int) []byte {
	switch v := v.(type) {
	case lua.LString:
		return appendBulk(dst, string(v))
	case lua.LNumber:
		return appendInt(dst, ':', luaToInt(v))
	case lua.LBool:
		if resp == 3 {
			if v {
				return append(dst, "#t\r\n"...)
			}
			return append(dst, "#f\r\n"...)
		}
		if v {
			return append(dst, ":1\r\n"...)
		}
		return append(dst, "$-1\r\n"...)
	case *lua.LTable:
		if depth >= maxDepth {
			return append(dst, "-ERR reached lua stack limit\r\n"...)
		}
		if s, ok := v.RawGetString("err").(lua.LString); ok {
			return append(append(append(dst, '-'), sanitize(string(s))...), '\r', '\n')
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok {
			return append(append(append(dst, '+'), sanitize(string(s))...), '\r', '\n')
		}
		if d, ok := v.RawGetString("double").(lua.LNumber); ok {
			f := float64(d)
			if resp == 3 {
				return append(appendDouble(append(dst, ','), f), '\r', '\n')
			}
			return appendBulk(dst, string(appendDouble(nil, f)))
		}
		if s, ok := v.RawGetString("big_number").(lua.LString); ok {
			if resp == 3 {
				return append(append(append(dst, '('), sanitize(string(s))...), '\r', '\n')
			}
			return appendBulk(dst, string(s))
		}
		if m, ok := v.RawGetString("map").(*lua.LTable); ok {
			n := 0
			m.ForEach(func(_, _ lua.LValue) { n++ })
			if resp == 3 {
				dst = appendInt(dst, '%', int64(n))
			} else {
				dst = appendInt(dst, '*', int64(2*n))
			}
			m.ForEach(func(k, val lua.LValue) {
				dst = appendLua(dst, k, resp, depth+1)
				dst = appendLua(dst, val, resp, depth+1)
			})
			return dst
		}
		if set, ok := v.RawGetString("set").(*lua.LTable); ok {
			n := 0
			set.ForEach(func(_, _ lua.LValue) { n++ })
			if resp == 3 {
				dst = appendInt(dst, '~', int64(n))
			} else {
				dst = appendInt(dst, '*', int64(n))
			}
			set.ForEach(func(k, _ lua.LValue) { dst = appendLua(dst, k, resp, depth+1) })
			return dst
		}
		n := 0
		for v.RawGetInt(n+1) != lua.LNil {
			n++
		}
		dst = appendInt(dst, '*', int64(n))
		for i := 1; i <= n; i++ {
			dst = appendLua(dst, v.RawGetInt(i), resp, depth+1)
		}
		return dst
	default: // nil, functions, userdata...
		if resp == 3 {
			return append(dst, "_\r\n"...)
		}
		return append(dst, "$-1\r\n"...)
	}
}

func luaToInt(v lua.LNumber) int64 {
	f := float64(v)
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

func appendInt(dst []byte, t byte, n int64) []byte {
	dst = append(dst, t)
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

func appendBulk(dst []byte, s string) []byte {
	dst = appendInt(dst, '$', int64(len(s)))
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// appendDouble formats like Redis's RESP3 doubles (%.17g).
func appendDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	return strconv.AppendFloat(dst, f, 'g', 17, 64)
}

// parseReply converts one RESP reply to a Lua value with Redis 7's
// RESP-to-Lua rules (resp is the script's redis.setresp version). Errors
// become {err=...} tables; isErr reports a top-level error.
func parseReply(L *lua.LState, b []byte) (v lua.LValue, rest []byte, isErr bool) {
	if len(b) < 3 {
		return lua.LFalse, nil, false
	}
	t := b[0]
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 {
		return lua.LFalse, nil, false
	}
	line := b[1:end]
	rest = b[end+2:]
	switch t {
	case '+':
		tb := L.CreateTable(0, 1)
		tb.RawSetString("ok", lua.LString(line))
		return tb, rest, false
	case '-':
		tb := L.CreateTable(0, 1)
		tb.RawSetString("err", lua.LString(line))
		return tb, rest, true
	case ':':
		n, _ := strconv.ParseInt(string(line), 10, 64)
		return lua.LNumber(n), rest, false
	case '$', '=':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest, false
		}
		if n+2 > len(rest) {
			return lua.LFalse, nil, false
		}
		s := string(rest[:n])
		rest = rest[n+2:]
		if t == '=' {
			vt := L.CreateTable(0, 2)
			format, str, _ := strings.Cut(s, ":")
			vt.RawSetString("format", lua.LString(format))
			vt.RawSetString("string", lua.LString(str))
			tb := L.CreateTable(0, 1)
			tb.RawSetString("verbatim_string", vt)
			return tb, rest, false
		}
		return lua.LString(s), rest, false
	case '*', '~', '%', '>':
		n, _ := strconv.Atoi(string(line))
		if n < 0 {
			return lua.LFalse, rest, false
		}
		switch t {
		case '~':
			set := L.CreateTable(0, n)
			for i := 0; i < n; i++ {
				var e lua.LValue
				e, rest, _ = parseReply(L, rest)
				set.RawSet(e, lua.LTrue)
			}
			tb := L.CreateTable(0, 1)
			tb.RawSetString("set", set)
			return tb, rest, false
		case '%':
			m := L.CreateTable(0, n)
			for i := 0; i < n; i++ {
				var k, val lua.LValue
				k, rest, _ = parseReply(L, rest)
				val, rest, _ = parseReply(L, rest)
				if k != lua.LNil {
					m.RawSet(k, val)
				}
			}
			tb := L.CreateTable(0, 1)
			tb.RawSetString("map", m)
			return tb, rest, false
		}
		arr := L.CreateTable(n, 0)
		for i := 0; i < n; i++ {
			var e lua.LValue
			e, rest, _ = parseReply(L, rest)
			arr.RawSetInt(i+1, e)
		}
		return arr, rest, false
	case '_':
		return lua.LNil, rest, false
	case '#':
		return lua.LBool(len(line) > 0 && line[0] == 't'), rest, false
	case ',':
		f, _ := strconv.ParseFloat(string(line), 64)
		tb := L.CreateTable(0, 1)
		tb.RawSetString("double", lua.LNumber(f))
		return tb, rest, false
	case '(':
		tb := L.CreateTable(0, 1)
		tb.RawSetString("big_number", lua.LString(line))
		return tb, rest, false
	case '|': // attributes: skipped
		n, _ := strconv.Atoi(string(line))
		for i := 0; i < 2*n; i++ {
			_, rest, _ = parseReply(L, rest)
		}
		return parseReply(L, rest)
	}
	return lua.LFalse, nil, false
}
