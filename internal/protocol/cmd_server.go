package protocol

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/store"
)

// INFO

var defaultSections = []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"}
var allSections = append(append([]string{}, defaultSections...), "commandstats")

func cmdInfo(c *Client, args [][]byte) {
	var sections []string
	extra := []string{"eviction", "expiry", "tags", "stampede", "origins"}
	if len(args) == 1 {
		sections = defaultSections
	}
	for _, a := range args[1:] {
		switch s := strings.ToLower(string(a)); s {
		case "default":
			sections = append(sections, defaultSections...)
		case "all":
			sections = append(sections, allSections...)
			sections = append(sections, extra...)
		case "everything":
			sections = append(sections, allSections...)
			sections = append(sections, extra...)
		default:
			sections = append(sections, s)
		}
	}
	c.addVerbatim(c.srv.InfoText(sections, c.tx))
}

// statm is /proc/self/statm, opened once: reading it again from offset 0
// is one pread per INFO instead of open, read and close.
var statm = sync.OnceValue(func() *os.File {
	f, _ := os.Open("/proc/self/statm")
	return f
})

// RSS returns the process's resident set size in bytes (Linux; 0
// elsewhere).
func RSS() int64 {
	var buf [128]byte
	f := statm()
	if f == nil {
		return 0
	}
	n, err := f.ReadAt(buf[:], 0)
	if n == 0 && err != nil {
		return 0
	}
	return parseStatmRSS(buf[:n])
}

// parseStatmRSS reads the resident pages (second field) of a statm line.
func parseStatmRSS(b []byte) int64 {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

// HumanBytes formats like Redis's bytesToHuman.
func HumanBytes(n int64) string {
	d := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1024*1024:
		return fmt.Sprintf("%.2fK", d/1024)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.2fM", d/(1024*1024))
	case n < 1024*1024*1024*1024:
		return fmt.Sprintf("%.2fG", d/(1024*1024*1024))
	default:
		return fmt.Sprintf("%.2fT", d/(1024*1024*1024*1024))
	}
}

// NewInfoField formats an INFO value: integers and strings without fmt (an
// INFO all has about a hundred fields), anything else with fmt.Sprint.
func NewInfoField(name string, v any) InfoField {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int:
		s = strconv.Itoa(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case int32:
		s = strconv.FormatInt(int64(x), 10)
	case uint64:
		s = strconv.FormatUint(x, 10)
	case uint32:
		s = strconv.FormatUint(uint64(x), 10)
	default:
		s = fmt.Sprint(v)
	}
	return InfoField{Name: name, Value: s}
}

// InfoText renders INFO for the given sections; the store's statistics are
// read within tx (the caller's, which may hold every shard inside EXEC), or
// shard by shard when tx is nil.
func (s *Server) InfoText(sections []string, tx *store.Txn) string {
	var b strings.Builder
	b.Grow(8192)
	seen := map[string]bool{}
	var st *store.Stats
	storeStats := func() *store.Stats {
		if st == nil {
			var x store.Stats
			if tx != nil {
				x = tx.Stats()
			} else {
				x = s.st.Stats()
			}
			st = &x
		}
		return st
	}
	var ss *ServerStats
	srvStats := func() *ServerStats {
		if ss == nil {
			x := s.sumStats(false)
			ss = &x
		}
		return ss
	}
	for _, sec := range sections {
		if seen[sec] || sec == "" {
			continue // INFO "" names no section: Redis replies an empty text
		}
		seen[sec] = true
		var fields []InfoField
		add := func(name string, v any) { fields = append(fields, NewInfoField(name, v)) }
		title := strings.ToUpper(sec[:1]) + sec[1:]
		switch sec {
		case "server":
			up := int64(time.Since(s.started).Seconds())
			add("redis_version", RedisVersion)
			add("cachesrv_version", s.opts.Version)
			add("redis_git_sha1", "00000000")
			add("redis_git_dirty", 0)
			add("redis_build_id", "0")
			add("redis_mode", "standalone")
			add("os", runtime.GOOS+" "+runtime.GOARCH)
			add("arch_bits", strconv.IntSize)
			add("monotonic_clock", "POSIX clock_gettime")
			add("multiplexing_api", "epoll")
			add("gcc_version", "0.0.0")
			add("go_version", runtime.Version())
			add("process_id", os.Getpid())
			add("process_supervised", "no")
			add("run_id", runID)
			add("tcp_port", s.opts.Port)
			add("server_time_usec", time.Now().UnixMicro())
			add("uptime_in_seconds", up)
			add("uptime_in_days", up/86400)
			add("hz", 10)
			add("configured_hz", 10)
			add("lru_clock", (time.Now().Unix())&(1<<24-1))
			add("executable", executable())
			add("config_file", "")
			add("io_threads_active", 0)
		case "clients":
			add("connected_clients", s.NumClients())
			add("cluster_connections", 0)
			add("maxclients", s.maxClients.Load())
			add("client_recent_max_input_buffer", 0)
			add("client_recent_max_output_buffer", 0)
			add("blocked_clients", s.blocked.blocked())
			add("tracking_clients", s.tracking.numClients())
			add("clients_in_timeout_table", 0)
		case "memory":
			used := s.st.UsedMemory()
			rss := RSS()
			if used > s.peak.Load() {
				s.peak.Store(used)
			}
			peak := s.peak.Load()
			maxMem := s.st.MaxMemory()
			add("used_memory", used)
			add("used_memory_human", HumanBytes(used))
			add("used_memory_rss", rss)
			add("used_memory_rss_human", HumanBytes(rss))
			add("used_memory_peak", peak)
			add("used_memory_peak_human", HumanBytes(peak))
			add("used_memory_peak_perc", fmt.Sprintf("%.2f%%", 100*float64(used)/float64(max(peak, 1))))
			total := totalSystemMemory()
			add("total_system_memory", total)
			add("total_system_memory_human", HumanBytes(total))
			add("maxmemory", maxMem)
			add("maxmemory_human", HumanBytes(maxMem))
			add("maxmemory_policy", s.st.Policy())
			frag := 0.0
			if used > 0 {
				frag = float64(rss) / float64(used)
			}
			add("mem_fragmentation_ratio", fmt.Sprintf("%.2f", frag))
			add("mem_allocator", "go-slab")
			add("lazyfree_pending_objects", 0)
		case "persistence":
			if s.opts.Persistence != nil {
				for _, kv := range s.opts.Persistence.Info() {
					add(kv[0], kv[1])
				}
				break
			}
			add("loading", 0)
			add("async_loading", 0)
			add("rdb_changes_since_last_save", 0)
			add("rdb_bgsave_in_progress", 0)
			add("rdb_last_save_time", s.started.Unix())
			add("rdb_last_bgsave_status", "ok")
			add("aof_enabled", 0)
			add("aof_rewrite_in_progress", 0)
			add("aof_last_bgrewrite_status", "ok")
		case "stats":
			ss, st := srvStats(), storeStats()
			var hits, misses uint64
			for db := range st.Hits {
				hits += st.Hits[db]
				misses += st.Misses[db]
			}
			var errs uint64
			for _, n := range ss.Errors {
				errs += n
			}
			add("total_connections_received", ss.Accepted)
			add("total_commands_processed", ss.TotalCommands)
			add("instantaneous_ops_per_sec", 0)
			add("total_net_input_bytes", ss.NetIn)
			add("total_net_output_bytes", ss.NetOut)
			add("rejected_connections", ss.Rejected)
			add("expired_keys", st.RemovedBy(store.Expired))
			add("evicted_keys", st.RemovedBy(store.Evicted))
			add("evicted_clients", 0)
			add("keyspace_hits", hits)
			add("keyspace_misses", misses)
			for _, f := range s.trackingInfo() {
				if f.Name != "tracking_clients" {
					fields = append(fields, f)
				}
			}
			add("total_error_replies", errs)
			add("deleted_keys", st.RemovedBy(store.Deleted))
			add("invalidated_keys", st.RemovedBy(store.Invalidated))
			add("recovered_panics", ss.Panics)
			ls := s.LoopStats()
			add("event_loops", ls.Loops)
			add("event_loop_handoffs", ls.Handoffs)
			add("event_loop_wakeups", ls.LoopWakes)
			add("event_loop_ready_events", ls.LoopEvents)
		case "replication":
			add("role", "master")
			add("connected_slaves", 0)
			add("master_failover_state", "no-failover")
			add("master_replid", runID)
			add("master_repl_offset", 0)
		case "cpu":
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			add("used_cpu_sys", fmt.Sprintf("%.6f", tv(ru.Stime)))
			add("used_cpu_user", fmt.Sprintf("%.6f", tv(ru.Utime)))
			add("used_cpu_sys_children", "0.000000")
			add("used_cpu_user_children", "0.000000")
		case "modules":
		case "cluster":
			for _, f := range s.clusterInfoFields() { // cmd_cluster.go
				add(f.Name, f.Value)
			}
		case "errorstats":
			ss := srvStats()
			keys := make([]string, 0, len(ss.Errors))
			for k := range ss.Errors {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				add("errorstat_"+k, "count="+strconv.FormatUint(ss.Errors[k], 10))
			}
		case "commandstats":
			for _, cs := range srvStats().Commands {
				per := 0.0
				if cs.Calls > 0 {
					per = float64(cs.Usec) / float64(cs.Calls)
				}
				v := make([]byte, 0, 96)
				v = append(v, "calls="...)
				v = strconv.AppendUint(v, cs.Calls, 10)
				v = append(v, ",usec="...)
				v = strconv.AppendUint(v, cs.Usec, 10)
				v = append(v, ",usec_per_call="...)
				v = strconv.AppendFloat(v, per, 'f', 2, 64)
				v = append(v, ",rejected_calls="...)
				v = strconv.AppendUint(v, cs.Rejected, 10)
				v = append(v, ",failed_calls="...)
				v = strconv.AppendUint(v, cs.Failed, 10)
				add("cmdstat_"+cs.Name, string(v))
			}
		case "keyspace":
			st := storeStats()
			for db, n := range st.Keys {
				if n > 0 {
					add("db"+strconv.Itoa(db), fmt.Sprintf("keys=%d,expires=%d,avg_ttl=%d", n, st.Expires[db], st.AvgTTL[db]))
				}
			}
		default:
			if s.opts.Info == nil {
				continue
			}
			fields = s.opts.Info(sec)
			if fields == nil {
				continue
			}
		}
		if s.opts.Info != nil && sec != "" {
			if more := s.opts.Info(sec + "+"); more != nil {
				fields = append(fields, more...)
			}
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString("# ")
		b.WriteString(title)
		b.WriteString("\r\n")
		for _, f := range fields {
			b.WriteString(f.Name)
			b.WriteByte(':')
			b.WriteString(f.Value)
			b.WriteString("\r\n")
		}
	}
	return b.String()
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// totalSystemMemory and executable do not change while the process runs:
// asked once (Redis also reads the system's memory once).
var totalSystemMemory = sync.OnceValue(func() int64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
})

var executable = sync.OnceValue(func() string {
	exe, _ := os.Executable()
	return exe
})

var runID = func() string {
	b := make([]byte, 20)
	f, err := os.Open("/dev/urandom")
	if err == nil {
		f.Read(b)
		f.Close()
	}
	return fmt.Sprintf("%x", b)
}()

// CONFIG

func cmdConfigGet(c *Client, args [][]byte) {
	if c.srv.opts.Config == nil {
		c.addMap(0)
		return
	}
	seen := map[string]bool{}
	var pairs [][2]string
	for _, p := range args[2:] {
		for _, kv := range c.srv.opts.Config.Get(string(p)) {
			if !seen[kv[0]] {
				seen[kv[0]] = true
				pairs = append(pairs, kv)
			}
		}
	}
	c.addMap(len(pairs))
	for _, kv := range pairs {
		c.addBulkStr(kv[0])
		c.addBulkStr(kv[1])
	}
}

func cmdConfigSet(c *Client, args [][]byte) {
	if len(args)%2 != 0 {
		c.addError("ERR wrong number of arguments for 'config|set' command")
		return
	}
	if c.srv.opts.Config == nil {
		c.addError("ERR CONFIG SET is not available")
		return
	}
	for i := 2; i < len(args); i += 2 {
		for j := 2; j < i; j += 2 {
			if strings.EqualFold(string(args[i]), string(args[j])) {
				c.addError("ERR CONFIG SET failed (possibly related to argument '" + strings.ToLower(string(args[i])) + "') - duplicate parameter")
				return
			}
		}
	}
	for i := 2; i < len(args); i += 2 {
		name := strings.ToLower(string(args[i]))
		if err := c.srv.opts.Config.Set(name, string(args[i+1])); err != nil {
			if err == ErrUnknownConfig {
				c.addError("ERR Unknown option or number of arguments for CONFIG SET - '" + name + "'")
				return
			}
			c.addError("ERR CONFIG SET failed (possibly related to argument '" + name + "') - " + err.Error())
			return
		}
	}
	c.srv.log.Info("configuration changed", "addr", c.addr)
	c.addOK()
}

// ErrUnknownConfig is returned by a ConfigBackend for names it does not
// know.
var ErrUnknownConfig = fmt.Errorf("unknown configuration parameter")

func cmdConfigResetStat(c *Client, args [][]byte) {
	c.srv.ResetStats()
	c.st.ResetStats()
	c.addOK()
}

func cmdConfigRewrite(c *Client, args [][]byte) {
	if c.srv.opts.Config == nil {
		c.addError("ERR The server is running without a config file")
		return
	}
	if err := c.srv.opts.Config.Rewrite(); err != nil {
		msg := err.Error()
		if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
			msg = string(msg[0]-32) + msg[1:] // Redis capitalises this one
		}
		c.addError("ERR " + msg)
		return
	}
	c.addOK()
}

func cmdConfigHelp(c *Client, args [][]byte) {
	c.addHelp("CONFIG",
		"GET <pattern>", "    Return parameters matching the glob-like <pattern> and their values.",
		"SET <directive> <value>", "    Set the configuration <directive> to <value>.",
		"RESETSTAT", "    Reset statistics reported by the INFO command.",
		"REWRITE", "    Rewrite the configuration file.",
	)
}

// SLOWLOG

func cmdSlowlogGet(c *Client, args [][]byte) {
	n := 10
	if len(args) == 3 {
		v, ok := parseInt(args[2])
		if !ok || v < -1 {
			c.addError("ERR count should be greater than or equal to -1")
			return
		}
		n = int(v)
		if v == -1 {
			n = 1 << 30
		}
	}
	l := &c.srv.slowlog
	l.mu.Lock()
	items := make([]slowEntry, 0, min(n, len(l.items)))
	for i := len(l.items) - 1; i >= 0 && len(items) < n; i-- {
		items = append(items, l.items[i])
	}
	l.mu.Unlock()
	c.addArray(len(items))
	for _, e := range items {
		c.addArray(6)
		c.addInt(e.id)
		c.addInt(e.at)
		c.addInt(e.us)
		c.addArray(len(e.args))
		for _, a := range e.args {
			c.addBulkStr(a)
		}
		c.addBulkStr(e.addr)
		c.addBulkStr(e.name)
	}
}

func cmdSlowlogLen(c *Client, args [][]byte) { c.addInt(int64(c.srv.slowlog.len())) }

func cmdSlowlogReset(c *Client, args [][]byte) {
	l := &c.srv.slowlog
	l.mu.Lock()
	l.items = nil
	l.mu.Unlock()
	c.addOK()
}

func cmdSlowlogHelp(c *Client, args [][]byte) {
	c.addHelp("SLOWLOG",
		"GET [<count>]", "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
		"LEN", "    Return the length of the slowlog.",
		"RESET", "    Reset the slowlog.",
	)
}

// COMMAND

func (c *Client) addCommandInfo(cmd *Command) {
	c.addArray(10)
	c.addBulkStr(cmd.FullName())
	c.addInt(int64(cmd.Arity))
	flags := cmd.Flags.Names()
	c.addSet(len(flags))
	for _, f := range flags {
		c.addSimple(f)
	}
	c.addInt(int64(cmd.FirstKey))
	c.addInt(int64(cmd.LastKey))
	c.addInt(int64(cmd.Step))
	cats := cmd.Categories()
	c.addSet(len(cats))
	for _, cat := range cats {
		c.addSimple("@" + cat)
	}
	c.addArray(0) // tips
	c.addArray(0) // key specs
	subs := sortedSubs(cmd)
	c.addArray(len(subs))
	for _, s := range subs {
		c.addCommandInfo(s)
	}
}

func sortedSubs(cmd *Command) []*Command {
	out := make([]*Command, 0, len(cmd.Subs))
	for _, s := range cmd.Subs {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func cmdCommand(c *Client, args [][]byte) {
	cmds := c.srv.table.Commands()
	c.addArray(len(cmds))
	for _, cmd := range cmds {
		c.addCommandInfo(cmd)
	}
}

func cmdCommandCount(c *Client, args [][]byte) { c.addInt(int64(len(c.srv.table.byName))) }

// lookupFull finds "name" or "parent|sub".
func (t *Table) lookupFull(name string) *Command {
	name = strings.ToLower(name)
	if i := strings.IndexByte(name, '|'); i >= 0 {
		p := t.byName[name[:i]]
		if p == nil {
			return nil
		}
		return p.Subs[name[i+1:]]
	}
	return t.byName[name]
}

func cmdCommandInfo(c *Client, args [][]byte) {
	if len(args) == 2 {
		cmdCommand(c, args)
		return
	}
	c.addArray(len(args) - 2)
	for _, a := range args[2:] {
		if cmd := c.srv.table.lookupFull(string(a)); cmd != nil {
			c.addCommandInfo(cmd)
		} else {
			c.addNullArray()
		}
	}
}

func (c *Client) addCommandDoc(cmd *Command) {
	n := 3
	subs := sortedSubs(cmd)
	if len(subs) > 0 {
		n++
	}
	c.addMap(n)
	c.addBulkStr("summary")
	c.addBulkStr(cmd.Summary)
	c.addBulkStr("since")
	c.addBulkStr(cmd.Since)
	c.addBulkStr("group")
	c.addBulkStr(cmd.Group)
	if len(subs) > 0 {
		c.addBulkStr("subcommands")
		c.addMap(len(subs))
		for _, s := range subs {
			c.addBulkStr(s.FullName())
			c.addCommandDoc(s)
		}
	}
}

func cmdCommandDocs(c *Client, args [][]byte) {
	var cmds []*Command
	if len(args) == 2 {
		cmds = c.srv.table.Commands()
	} else {
		for _, a := range args[2:] {
			if cmd := c.srv.table.lookupFull(string(a)); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
	}
	c.addMap(len(cmds))
	for _, cmd := range cmds {
		c.addBulkStr(cmd.FullName())
		c.addCommandDoc(cmd)
	}
}

func cmdCommandList(c *Client, args [][]byte) {
	var filter func(*Command) bool
	if len(args) > 2 {
		if len(args) != 5 || !eq(args[2], "filterby") {
			c.addError(errSyntax)
			return
		}
		v := string(args[4])
		switch {
		case eq(args[3], "pattern"):
			// Subcommands match by their full name, as Redis: "config*" lists
			// config|get, and "set" does not match config|set.
			filter = func(cmd *Command) bool { return glob.MatchBytes([]byte(v), []byte(cmd.FullName()), true) }
		case eq(args[3], "aclcat"):
			filter = func(cmd *Command) bool {
				for _, cat := range cmd.Categories() {
					if strings.EqualFold(cat, v) {
						return true
					}
				}
				return false
			}
		case eq(args[3], "module"):
			filter = func(*Command) bool { return false }
		default:
			c.addError(errSyntax)
			return
		}
	}
	var names []string
	for _, cmd := range c.srv.table.Commands() {
		if filter == nil || filter(cmd) {
			names = append(names, cmd.Name)
		}
		for _, s := range sortedSubs(cmd) {
			if filter == nil || filter(s) {
				names = append(names, s.FullName())
			}
		}
	}
	c.addArray(len(names))
	for _, n := range names {
		c.addBulkStr(n)
	}
}

func cmdCommandGetKeys(c *Client, args [][]byte) {
	cmd := c.srv.table.lookup(args[2])
	if cmd == nil {
		c.addError("ERR Invalid command specified")
		return
	}
	sub := args[2:]
	if !arityOK(cmd.Arity, len(sub)) {
		c.addError("ERR Invalid number of arguments specified for command")
		return
	}
	idx := cmd.KeyIndexes(sub, nil)
	if len(idx) == 0 {
		c.addError("ERR The command has no key arguments")
		return
	}
	c.addArray(len(idx))
	for _, i := range idx {
		c.addBulk(sub[i])
	}
}

func cmdCommandHelp(c *Client, args [][]byte) {
	c.addHelp("COMMAND",
		"(no subcommand)", "    Return details about all Redis commands.",
		"COUNT", "    Return the total number of commands in this Redis server.",
		"LIST", "    Return a list of all commands in this Redis server.",
		"INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
		"DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
		"GETKEYS <full-command>", "    Return the keys from a full Redis command.",
	)
}

// LATENCY: cachesrv keeps no latency event monitor (latency-monitor-threshold
// is 0, as in a default Redis); the per-command histograms are in INFO and
// /metrics. The subcommands answer the way Redis does with no events.

func cmdLatencyLatest(c *Client, args [][]byte)  { c.addArray(0) }
func cmdLatencyHistory(c *Client, args [][]byte) { c.addArray(0) }
func cmdLatencyReset(c *Client, args [][]byte)   { c.addInt(0) }

func cmdLatencyDoctor(c *Client, args [][]byte) {
	c.addVerbatim("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sleep better tonight.\n")
}

func cmdLatencyHelp(c *Client, args [][]byte) {
	c.addHelp("LATENCY",
		"DOCTOR", "    Return a human readable latency analysis report.",
		"HISTORY <event>", "    Return time-latency samples for the <event> class.",
		"LATEST", "    Return the latest latency samples for all events.",
		"RESET [<event> ...]", "    Reset latency data of one or more <event> classes.",
	)
}
