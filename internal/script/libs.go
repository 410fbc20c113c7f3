package script

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// redisLib builds the redis table: call, pcall, the reply helpers, sha1hex,
// log, setresp and the replication no-ops of Redis 7.
func (e *Engine) redisLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	fns := map[string]lua.LGFunction{
		"call":  func(L *lua.LState) int { return e.call(L, true) },
		"pcall": func(L *lua.LState) int { return e.call(L, false) },
		"error_reply": func(L *lua.LState) int {
			tb := L.CreateTable(0, 1)
			tb.RawSetString("err", lua.LString(L.CheckString(1)))
			L.Push(tb)
			return 1
		},
		"status_reply": func(L *lua.LState) int {
			tb := L.CreateTable(0, 1)
			tb.RawSetString("ok", lua.LString(L.CheckString(1)))
			L.Push(tb)
			return 1
		},
		"sha1hex": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				L.RaiseError("wrong number of arguments")
			}
			L.Push(lua.LString(SHA1Hex([]byte(L.ToString(1)))))
			return 1
		},
		"log": func(L *lua.LState) int {
			if L.GetTop() < 2 {
				L.RaiseError("redis.log() requires two arguments or more.")
			}
			level := L.CheckInt(1)
			if level < 0 || level > 3 {
				L.RaiseError("Invalid debug level.")
			}
			var parts []string
			for i := 2; i <= L.GetTop(); i++ {
				parts = append(parts, L.ToString(i))
			}
			lv := []slog.Level{slog.LevelDebug, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn}[level]
			e.opts.Logger.Log(context.Background(), lv, strings.Join(parts, " "), "source", "script")
			return 0
		},
		"setresp": func(L *lua.LState) int {
			if L.GetTop() != 1 {
				e.raise(L, "ERR redis.setresp() requires one argument.")
			}
			n := L.CheckInt(1)
			if n != 2 && n != 3 {
				e.raise(L, "ERR RESP version must be 2 or 3.")
			}
			if e.cur != nil {
				e.cur.resp = n
			}
			return 0
		},
		"set_repl":           func(L *lua.LState) int { return 0 },
		"replicate_commands": func(L *lua.LState) int { L.Push(lua.LTrue); return 1 },
		"breakpoint":         func(L *lua.LState) int { L.Push(lua.LFalse); return 1 },
		"debug":              func(L *lua.LState) int { return 0 },
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	for name, v := range map[string]int{"REPL_NONE": 0, "REPL_AOF": 1, "REPL_SLAVE": 2, "REPL_REPLICA": 2, "REPL_ALL": 3,
		"LOG_DEBUG": 0, "LOG_VERBOSE": 1, "LOG_NOTICE": 2, "LOG_WARNING": 3} {
		t.RawSetString(name, lua.LNumber(v))
	}
	t.RawSetString("REDIS_VERSION", lua.LString("7.0.0"))
	t.RawSetString("REDIS_VERSION_NUM", lua.LNumber(0x070000))
	return t
}

// raise raises a Redis error table, remembering the script line for the
// error reply's "on @user_script:N." part.
func (e *Engine) raise(L *lua.LState, msg string) {
	if e.cur != nil {
		e.cur.errLine = lineOf(L.Where(1))
	}
	tb := L.CreateTable(0, 1)
	tb.RawSetString("err", lua.LString(msg))
	L.Error(tb, 0)
}

// call is redis.call (raise) and redis.pcall (return the error table).
func (e *Engine) call(L *lua.LState, raise bool) int {
	r := e.cur
	if r == nil {
		L.RaiseError("redis.call used outside a script")
	}
	n := L.GetTop()
	if n == 0 {
		e.raise(L, "ERR Please specify at least one argument for this redis lib call")
	}
	args := e.scratch[:0]
	for i := 1; i <= n; i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			args = append(args, []byte(v))
		case lua.LNumber:
			args = append(args, []byte(v.String()))
		default:
			e.raise(L, "ERR Lua redis lib command arguments must be strings or integers")
		}
	}
	e.scratch = args[:0]
	reply, wrote := r.req.Caller.Call(args, r.resp)
	if wrote {
		e.wrote.Store(true)
	}
	v, _, isErr := parseReply(L, reply)
	if isErr && raise {
		e.raise(L, string(v.(*lua.LTable).RawGetString("err").(lua.LString)))
	}
	L.Push(v)
	return 1
}

// cjsonLib is the cjson subset scripts use: encode, decode and null.
func cjsonLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	null := L.NewUserData()
	t.RawSetString("null", null)
	t.RawSetString("encode", L.NewFunction(func(L *lua.LState) int {
		var buf bytes.Buffer
		if err := jsonEncode(&buf, L.CheckAny(1), null, 0); err != "" {
			L.RaiseError("%s", err)
		}
		L.Push(lua.LString(buf.String()))
		return 1
	}))
	t.RawSetString("decode", L.NewFunction(func(L *lua.LState) int {
		dec := json.NewDecoder(strings.NewReader(L.CheckString(1)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			L.RaiseError("Expected value but found invalid token")
		}
		L.Push(jsonToLua(L, v, null))
		return 1
	}))
	return t
}

func jsonEncode(buf *bytes.Buffer, v lua.LValue, null *lua.LUserData, depth int) string {
	if depth > 1000 {
		return "Cannot serialise, excessive nesting (1001)"
	}
	switch v := v.(type) {
	case lua.LString:
		b, _ := json.Marshal(string(v))
		buf.Write(b)
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return "Cannot serialise number: must not be NaN or Inf"
		}
		buf.WriteString(strconv.FormatFloat(f, 'g', 14, 64))
	case lua.LBool:
		buf.WriteString(strconv.FormatBool(bool(v)))
	case *lua.LNilType:
		buf.WriteString("null")
	case *lua.LUserData:
		if v != null {
			return "Cannot serialise userdata: type not supported"
		}
		buf.WriteString("null")
	case *lua.LTable:
		n := v.MaxN()
		count := 0
		v.ForEach(func(_, _ lua.LValue) { count++ })
		if count > 0 && n == count {
			buf.WriteByte('[')
			for i := 1; i <= n; i++ {
				if i > 1 {
					buf.WriteByte(',')
				}
				if err := jsonEncode(buf, v.RawGetInt(i), null, depth+1); err != "" {
					return err
				}
			}
			buf.WriteByte(']')
			return ""
		}
		type kv struct {
			k string
			v lua.LValue
		}
		var pairs []kv
		bad := ""
		v.ForEach(func(k, val lua.LValue) {
			switch k := k.(type) {
			case lua.LString:
				pairs = append(pairs, kv{string(k), val})
			case lua.LNumber:
				pairs = append(pairs, kv{k.String(), val})
			default:
				bad = "Cannot serialise " + k.Type().String() + ": table key must be a number or string"
			}
		})
		if bad != "" {
			return bad
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].k < pairs[j].k })
		buf.WriteByte('{')
		for i, p := range pairs {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(p.k)
			buf.Write(b)
			buf.WriteByte(':')
			if err := jsonEncode(buf, p.v, null, depth+1); err != "" {
				return err
			}
		}
		buf.WriteByte('}')
	default:
		return "Cannot serialise " + v.Type().String() + ": type not supported"
	}
	return ""
}

func jsonToLua(L *lua.LState, v any, null *lua.LUserData) lua.LValue {
	switch v := v.(type) {
	case nil:
		return null
	case bool:
		return lua.LBool(v)
	case json.Number:
		f, _ := v.Float64()
		return lua.LNumber(f)
	case string:
		return lua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(jsonToLua(L, e, null))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, jsonToLua(L, e, null))
		}
		return t
	}
	return lua.LNil
}

// bitLib is LuaBitOp's bit library (32-bit operations).
func bitLib(L *lua.LState) *lua.LTable {
	t := L.NewTable()
	tobit := func(L *lua.LState, i int) int32 {
		f := float64(L.CheckNumber(i))
		// LuaBitOp normalises through a double: modulo 2^32.
		return int32(uint32(int64(math.Mod(f, 4294967296))))
	}
	fold := func(op func(a, b int32) int32) lua.LGFunction {
		return func(L *lua.LState) int {
			r := tobit(L, 1)
			for i := 2; i <= L.GetTop(); i++ {
				r = op(r, tobit(L, i))
			}
			L.Push(lua.LNumber(r))
			return 1
		}
	}
	shift := func(op func(a int32, n uint) int32) lua.LGFunction {
		return func(L *lua.LState) int {
			L.Push(lua.LNumber(op(tobit(L, 1), uint(tobit(L, 2))&31)))
			return 1
		}
	}
	fns := map[string]lua.LGFunction{
		"tobit": func(L *lua.LState) int { L.Push(lua.LNumber(tobit(L, 1))); return 1 },
		"bnot":  func(L *lua.LState) int { L.Push(lua.LNumber(^tobit(L, 1))); return 1 },
		"band":  fold(func(a, b int32) int32 { return a & b }),
		"bor":   fold(func(a, b int32) int32 { return a | b }),
		"bxor":  fold(func(a, b int32) int32 { return a ^ b }),
		"lshift": shift(func(a int32, n uint) int32 {
			return int32(uint32(a) << n)
		}),
		"rshift": shift(func(a int32, n uint) int32 { return int32(uint32(a) >> n) }),
		"arshift": shift(func(a int32, n uint) int32 {
			return a >> n
		}),
		"rol": shift(func(a int32, n uint) int32 {
			u := uint32(a)
			return int32(u<<n | u>>((32-n)&31))
		}),
		"ror": shift(func(a int32, n uint) int32 {
			u := uint32(a)
			return int32(u>>n | u<<((32-n)&31))
		}),
		"bswap": func(L *lua.LState) int {
			u := uint32(tobit(L, 1))
			L.Push(lua.LNumber(int32(u>>24 | (u>>8)&0xff00 | (u<<8)&0xff0000 | u<<24)))
			return 1
		},
		"tohex": func(L *lua.LState) int {
			x := uint32(tobit(L, 1))
			n := 8
			if L.GetTop() >= 2 {
				n = int(tobit(L, 2))
			}
			digits := "0123456789abcdef"
			if n < 0 {
				n = -n
				digits = "0123456789ABCDEF"
			}
			if n > 8 {
				n = 8
			}
			b := make([]byte, n)
			for i := n - 1; i >= 0; i-- {
				b[i] = digits[x&15]
				x >>= 4
			}
			L.Push(lua.LString(b))
			return 1
		},
	}
	for name, fn := range fns {
		t.RawSetString(name, L.NewFunction(fn))
	}
	return t
}
