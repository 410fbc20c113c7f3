// Package script runs Redis-compatible Lua scripts (EVAL and friends) on an
// embedded Lua 5.1 (github.com/yuin/gopher-lua).
//
// The package knows nothing about connections or the store: a script calls
// commands through a Caller, which the wire layer implements by running the
// command through its own dispatch path and handing back the RESP reply.
// The package converts replies to Lua values and the script's result back
// to RESP with Redis 7's rules, keeps the script cache (bounded, with its
// size reported to the caller), sandboxes the Lua state, and lets another
// goroutine see that a script is busy and kill it.
//
// Concurrency: one script runs at a time (Engine.Run serialises on the
// engine's VM lock). Busy, Kill and the cache methods may be called from
// any goroutine while a script runs.
package script
