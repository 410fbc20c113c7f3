package protocol

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/cachesrv/cachesrv/internal/cmdtab"
	"github.com/cachesrv/cachesrv/internal/store"
)

// MEMORY, ROLE and the DEBUG subset tools and test suites use.

func cmdMemoryUsage(c *Client, args [][]byte) {
	// SAMPLES only matters for Redis's sampled aggregates; cachesrv knows
	// each key's exact charge, so the option is checked and ignored.
	for i := 3; i < len(args); i++ {
		if eq(args[i], "samples") && i+1 < len(args) {
			if n, ok := parseInt(args[i+1]); !ok || n < 0 {
				c.addError(errNotInt)
				return
			}
			i++
			continue
		}
		c.addError(errSyntax)
		return
	}
	h := c.tx.Key(c.now, args[2])
	defer c.tx.Release()
	n, ok := c.tx.Usage(c.db, args[2], h)
	if !ok {
		c.addNull()
		return
	}
	c.addInt(n)
}

func cmdMemoryStats(c *Client, args [][]byte) {
	s := c.srv
	st := c.tx.Stats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	_, scriptBytes := s.scripts.CacheStats()
	var keys int64
	for _, k := range st.Keys {
		keys += k
	}
	// Client buffers are counted in total.allocated, not apart.
	var clientBytes int64
	perKey := int64(0)
	if keys > 0 {
		perKey = st.UsedMemory / keys
	}
	fields := []struct {
		name string
		v    int64
	}{
		{"peak.allocated", int64(ms.HeapSys)},
		{"total.allocated", st.UsedMemory},
		{"startup.allocated", 0},
		{"replication.backlog", 0},
		{"clients.slaves", 0},
		{"clients.normal", clientBytes},
		{"aof.buffer", 0},
		{"lua.caches", scriptBytes},
		{"functions.caches", 0},
		{"overhead.total", clientBytes + scriptBytes},
		{"keys.count", keys},
		{"keys.bytes-per-key", perKey},
		{"dataset.bytes", st.UsedMemory - clientBytes - scriptBytes},
		{"allocator.allocated", int64(ms.HeapAlloc)},
		{"allocator.active", int64(ms.HeapInuse)},
		{"allocator.resident", int64(ms.Sys - ms.HeapReleased)},
	}
	c.addMap(len(fields) + 1)
	for _, f := range fields {
		c.addBulkStr(f.name)
		c.addInt(f.v)
	}
	c.addBulkStr("fragmentation")
	frag := 1.0
	if st.UsedMemory > 0 {
		frag = float64(ms.HeapInuse) / float64(st.UsedMemory)
	}
	c.addDouble(frag)
}

func cmdMemoryDoctor(c *Client, args [][]byte) {
	used, max := c.srv.st.UsedMemory(), c.srv.st.MaxMemory()
	var msg string
	switch {
	case used < 5<<20:
		msg = "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. " +
			"Please, leave for your mission on Earth and fill it with some data."
	case max > 0 && used > max:
		msg = fmt.Sprintf("Sam, I detected a few issues in this instance memory implants:\n\n"+
			" * Used memory (%d bytes) is above maxmemory (%d bytes): the eviction policy is making room.\n", used, max)
	default:
		msg = "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
	}
	c.addVerbatim(msg)
}

func cmdMemoryMallocStats(c *Client, args [][]byte) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	c.addVerbatim(fmt.Sprintf("Go runtime allocator: heap_alloc=%d heap_inuse=%d heap_idle=%d heap_released=%d sys=%d gc_cycles=%d",
		ms.HeapAlloc, ms.HeapInuse, ms.HeapIdle, ms.HeapReleased, ms.Sys, ms.NumGC))
}

func cmdMemoryPurge(c *Client, args [][]byte) {
	debug.FreeOSMemory()
	c.addOK()
}

func cmdMemoryHelp(c *Client, args [][]byte) {
	c.addBulkStrs(
		"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"DOCTOR",
		"    Return memory problems reports.",
		"MALLOC-STATS",
		"    Return internal statistics report from the memory allocator.",
		"PURGE",
		"    Attempt to purge dirty pages for reclamation by the allocator.",
		"STATS",
		"    Return information about the memory usage of the server.",
		"USAGE <key> [SAMPLES <count>]",
		"    Return memory in bytes used by <key> and its value. Nested values are",
		"    sampled up to <count> times (default: 5, 0 means sample all).",
		"HELP",
		"    Prints this help.",
	)
}

// cmdRole: cachesrv has no replication, so it is always a master without
// replicas.
func cmdRole(c *Client, args [][]byte) {
	c.addArray(3)
	c.addBulkStr("master")
	c.addInt(0)
	c.addArray(0)
}

// cmdDebug implements the DEBUG subcommands tools and test suites use;
// the others are refused by name.
func cmdDebug(c *Client, args [][]byte) {
	switch {
	case eq(args[1], "help"):
		c.addBulkStrs(
			"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"OBJECT <key>",
			"    Show low-level info about `key` and associated value.",
			"SLEEP <seconds>",
			"    Stop the server for <seconds>. Decimals allowed.",
			"SET-ACTIVE-EXPIRE <0|1>",
			"    Accepted for compatibility; cachesrv's expiry sweeper keeps running (see docs/scripting.md).",
			"HELP",
			"    Prints this help.",
		)
	case eq(args[1], "sleep") && len(args) == 3:
		secs, err := strconv.ParseFloat(string(args[2]), 64)
		if err != nil || secs < 0 || secs > 3600 {
			c.addError("ERR value is not a valid float")
			return
		}
		// Only this connection sleeps: cachesrv has no single event loop
		// to stop.
		time.Sleep(time.Duration(secs * float64(time.Second)))
		c.addOK()
	case eq(args[1], "object") && len(args) == 3:
		h := c.tx.Key(c.now, args[2])
		defer c.tx.Release()
		e, ok := c.tx.Lookup(c.db, args[2], h, store.NoTouch|store.NoStats)
		if !ok {
			c.addError("ERR no such key")
			return
		}
		idle, _, _ := c.tx.Idle(c.db, args[2], h)
		n, _ := c.tx.Usage(c.db, args[2], h)
		c.addSimple(fmt.Sprintf("Value at:0x0 refcount:1 encoding:%s serializedlength:%d lru:0 lru_seconds_idle:%d charged_bytes:%d",
			objectEncoding(e.Value), len(e.Value), idle/1000, n))
	case eq(args[1], "set-active-expire") && len(args) == 3:
		if !eq(args[2], "0") && !eq(args[2], "1") {
			c.addError(errSyntax)
			return
		}
		c.addError("ERR DEBUG SET-ACTIVE-EXPIRE is not supported: cachesrv's expiry sweeper cannot be paused")
	default:
		c.addError("ERR DEBUG " + upper(trunc(string(args[1]), 64)) + " is not supported by cachesrv (supported: OBJECT, SLEEP, HELP)")
	}
}

// addMemoryCommands registers MEMORY, ROLE and DEBUG.
func addMemoryCommands(t *Table) {
	mem := t.add(&Command{Spec: cmdtab.Spec{Name: "memory", Arity: -2, Category: "server", Group: "server", Since: "4.0.0", Summary: "A container for memory diagnostics commands."}, Subs: map[string]*Command{}})
	sub := func(name string, arity int, flags Flag, first int, summary string, h Handler) {
		t.addSub(mem, &Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, FirstKey: first, LastKey: first, Step: 1, Category: "server", Group: "server", Since: "4.0.0", Summary: summary}, Handler: h})
	}
	sub("usage", -3, FlagReadonly, 2, "Estimates the memory usage of a key.", cmdMemoryUsage)
	sub("stats", 2, 0, 0, "Returns details about memory usage.", cmdMemoryStats)
	sub("doctor", 2, 0, 0, "Outputs a memory problems report.", cmdMemoryDoctor)
	sub("malloc-stats", 2, 0, 0, "Returns the allocator statistics.", cmdMemoryMallocStats)
	sub("purge", 2, 0, 0, "Asks the allocator to release memory.", cmdMemoryPurge)
	sub("help", 2, FlagLoading|FlagStale, 0, "Returns helpful text about the different subcommands.", cmdMemoryHelp)
	t.add(&Command{Spec: cmdtab.Spec{Name: "role", Arity: 1, Flags: FlagNoScript | FlagLoading | FlagStale | FlagFast, Category: "admin dangerous", Group: "server", Since: "2.8.12", Summary: "Returns the replication role."}, Handler: cmdRole})
	t.add(&Command{Spec: cmdtab.Spec{Name: "debug", Arity: -2, Flags: FlagAdmin | FlagNoScript | FlagLoading | FlagStale, Category: "dangerous", Group: "server", Since: "1.0.0", Summary: "A container for debugging commands (OBJECT, SLEEP, HELP)."}, Handler: cmdDebug})
}
