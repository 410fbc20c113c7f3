package script

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Limits of the sandbox.
const (
	callStackSize   = 200     // Lua call depth ("stack overflow" past it)
	registrySize    = 1 << 12 // initial Lua value stack
	registryMaxSize = 1 << 20 // a script cannot push more values than this
	maxStringBytes  = 128 << 20
	maxResults      = 8000 // values one call may return (C Lua's LUAI_MAXCSTACK)
)

// setup builds the Lua state: the base, table, string and math libraries
// without anything that reaches the file system, the process or the
// global random seed; the redis, cjson and bit libraries; and globals that
// scripts can read but not change.
func (e *Engine) setup() {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:    true,
		CallStackSize:   callStackSize,
		RegistrySize:    registrySize,
		RegistryMaxSize: registryMaxSize,
	})
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.fn))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	g := L.G.Global
	for _, name := range []string{"dofile", "loadfile", "module", "require", "print", "_printregs",
		"getfenv", "setfenv", "newproxy", "_GOPHER_LUA_VERSION", "package", "channel", "coroutine"} {
		g.RawSetString(name, lua.LNil)
	}
	str := g.RawGetString("string").(*lua.LTable)
	str.RawSetString("rep", L.NewFunction(strRep))
	format := str.RawGetString("format").(*lua.LFunction)
	str.RawSetString("format", L.NewFunction(func(L *lua.LState) int {
		if err := checkFormat(L.CheckString(1)); err != "" {
			L.RaiseError("%s", err)
		}
		return format.GFunction(L)
	}))
	str.RawSetString("dump", lua.LNil)
	// unpack and string.byte push one value per element: past the Lua
	// stack's bound gopher-lua loops instead of failing, so bound them as
	// C Lua does.
	unpack := g.RawGetString("unpack").(*lua.LFunction)
	g.RawSetString("unpack", L.NewFunction(func(L *lua.LState) int {
		tb := L.CheckTable(1)
		i := L.OptInt64(2, 1)
		j := L.OptInt64(3, int64(tb.Len()))
		if j-i >= maxResults {
			L.RaiseError("too many results to unpack")
		}
		return unpack.GFunction(L)
	}))
	strByte := str.RawGetString("byte").(*lua.LFunction)
	str.RawSetString("byte", L.NewFunction(func(L *lua.LState) int {
		n := int64(len(L.CheckString(1)))
		i := L.OptInt64(2, 1)
		j := L.OptInt64(3, i)
		if i < 0 {
			i += n + 1
		}
		if j < 0 {
			j += n + 1
		}
		if j-i >= maxResults {
			L.RaiseError("string slice too long")
		}
		return strByte.GFunction(L)
	}))
	m := g.RawGetString("math").(*lua.LTable)
	m.RawSetString("random", L.NewFunction(e.mathRandom))
	m.RawSetString("randomseed", L.NewFunction(e.mathRandomSeed))

	g.RawSetString("redis", e.redisLib(L))
	g.RawSetString("cjson", cjsonLib(L))
	g.RawSetString("bit", bitLib(L))

	// lib holds what scripts see; libraries are behind read-only proxies.
	lib := L.NewTable()
	ro := func(t *lua.LTable) *lua.LTable {
		p := L.NewTable()
		mt := L.NewTable()
		mt.RawSetString("__index", t)
		mt.RawSetString("__newindex", L.NewFunction(readonly))
		mt.RawSetString("__metatable", lua.LFalse)
		p.Metatable = mt
		e.ro = append(e.ro, p)
		return p
	}
	g.ForEach(func(k, v lua.LValue) {
		if v == g {
			return // each run's globals table is its own _G
		}
		if t, ok := v.(*lua.LTable); ok {
			v = ro(t)
		}
		lib.RawSet(k, v)
	})
	libMT := L.NewTable()
	libMT.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("Script attempted to access nonexistent global variable '%s'", L.ToString(2))
		return 0
	}))
	lib.Metatable = libMT
	e.lib = lib
	e.envMT = L.NewTable()
	e.envMT.RawSetString("__index", lib)
	e.envMT.RawSetString("__newindex", L.NewFunction(readonly))
	e.envMT.RawSetString("__metatable", lua.LFalse)

	// Strings' methods come from the read-only string proxy, and their
	// metatable cannot be fetched to reach the real library.
	smt := L.NewTable()
	smt.RawSetString("__index", lib.RawGetString("string"))
	smt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(lua.LString(""), smt)
	e.L = L
}

func readonly(L *lua.LState) int {
	L.RaiseError("Attempt to modify a readonly table")
	return 0
}

// resetSandbox undoes what rawset and the table library can do to the
// shared read-only proxies, so that nothing one script does is seen by the
// next.
func (e *Engine) resetSandbox() {
	for _, p := range e.ro {
		if k, _ := p.Next(lua.LNil); k != lua.LNil {
			var keys []lua.LValue
			p.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
			for _, k := range keys {
				p.RawSet(k, lua.LNil)
			}
		}
	}
}

// strRep is string.rep with a bound on the result.
func strRep(L *lua.LState) int {
	s := L.CheckString(1)
	n := L.CheckInt(2)
	if n <= 0 || s == "" {
		L.Push(lua.LString(""))
		return 1
	}
	if int64(len(s))*int64(n) > maxStringBytes {
		L.RaiseError("string length overflow")
	}
	L.Push(lua.LString(strings.Repeat(s, n)))
	return 1
}

// checkFormat refuses what C Lua's string.format refuses and what would
// let Go's fmt allocate without bound: a width or precision of more than
// two digits.
func checkFormat(f string) string {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		d := 0
		for i < len(f) && f[i] >= '0' && f[i] <= '9' {
			i++
			d++
		}
		if d > 2 {
			return "invalid format (width or precision too long)"
		}
		if i < len(f) && f[i] == '.' {
			i++
			d = 0
			for i < len(f) && f[i] >= '0' && f[i] <= '9' {
				i++
				d++
			}
			if d > 2 {
				return "invalid format (width or precision too long)"
			}
		}
	}
	return ""
}

// mathRandom is Lua 5.1's math.random over a generator that every script
// starts from the same seed, so scripts stay deterministic as in Redis.
func (e *Engine) mathRandom(L *lua.LState) int {
	e.rnd = (e.rnd*0x5DEECE66D + 0xB) & (1<<48 - 1)
	r := float64(e.rnd>>17) / float64(1<<31)
	switch L.GetTop() {
	case 0:
		L.Push(lua.LNumber(r))
	case 1:
		u := L.CheckInt64(1)
		if u < 1 {
			L.ArgError(1, "interval is empty")
		}
		L.Push(lua.LNumber(int64(r*float64(u)) + 1))
	default:
		l, u := L.CheckInt64(1), L.CheckInt64(2)
		if l > u {
			L.ArgError(2, "interval is empty")
		}
		L.Push(lua.LNumber(int64(r*float64(u-l+1)) + l))
	}
	return 1
}

func (e *Engine) mathRandomSeed(L *lua.LState) int {
	e.rnd = uint64(L.CheckInt64(1))
	return 0
}
