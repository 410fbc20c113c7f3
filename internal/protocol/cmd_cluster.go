package protocol

import (
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cachesrv/cachesrv/internal/cluster"
	"github.com/cachesrv/cachesrv/internal/cmdtab"
)

// Redis Cluster's client side (docs/cluster.md): the slot check of the
// dispatcher (clusterRoute), the CLUSTER subcommands, ASKING, READONLY and
// READWRITE. The state lives in package cluster; this file only asks it
// and replies. With cluster-enabled no, s.cluster is nil and the
// dispatcher's only cost is that nil check.

// clusterClient is a connection's cluster state.
type clusterClient struct {
	asking   bool // ASKING: the next command may use an importing slot
	readonly bool // READONLY (no replicas here: recorded, no effect)
	// scriptSlot is the slot of the running script's declared keys (-1:
	// none yet); the keys its commands use must share it.
	scriptSlot int
}

const (
	errCrossSlot   = "CROSSSLOT Keys in request don't hash to the same slot"
	errClusterDown = "CLUSTERDOWN The cluster is down"
	errUnbound     = "CLUSTERDOWN Hash slot not served"
	errTryAgain    = "TRYAGAIN Multiple keys request during rehashing of slot"
	errNoCluster   = "ERR This instance has cluster support disabled"
)

// clusterRoute is the dispatcher's slot check (Redis's getNodeByQuery): it
// reports whether this node serves the command, and otherwise replies with
// the redirection or error. Commands without keys are served here.
func (s *Server) clusterRoute(c *Client, cmd *Command, args [][]byte) bool {
	asking := c.cl.asking || cmd.Name == "restore-asking"
	if cmd.Name != "asking" && !c.multi {
		c.cl.asking = false
	}
	var (
		slot            = -1
		first           []byte
		multiple        bool
		v               = s.cluster.View()
		migrating, impo bool
		missing         int
	)
	check := func(cmd *Command, args [][]byte) string {
		c.keyIdx = clusterKeys(cmd, args, c.keyIdx[:0])
		for _, i := range c.keyIdx {
			key := args[i]
			ks := cluster.KeySlot(key)
			if slot < 0 {
				slot, first = ks, key
				addr, mine := v.Owner(slot)
				if addr == "" {
					return errUnbound
				}
				if mine {
					_, migrating = v.Migrating(slot)
				} else {
					impo = v.Importing(slot)
				}
			} else if ks != slot {
				return errCrossSlot
			} else if !multiple && string(key) != string(first) {
				multiple = true
			}
			if (migrating || impo) && !c.keyExists(key) {
				missing++
			}
		}
		return ""
	}
	var msg string
	if cmd.Name == "exec" {
		if !c.multi {
			return true
		}
		for _, q := range c.queued {
			if msg = check(q.cmd, q.args); msg != "" {
				break
			}
		}
	} else {
		msg = check(cmd, args)
	}
	c.cl.scriptSlot = slot
	if msg == "" && slot < 0 {
		return true
	}
	if msg == "" && !v.OK {
		msg = errClusterDown
	}
	if msg == "" {
		addr, mine := v.Owner(slot)
		switch {
		case (migrating || impo) && cmd.Name == "migrate":
			return true
		case migrating && missing > 0:
			if multiple {
				msg = errTryAgain
			} else {
				to, _ := v.Migrating(slot)
				msg = "ASK " + strconv.Itoa(slot) + " " + to
			}
		case impo && asking:
			if multiple && missing > 0 {
				msg = errTryAgain
			} else {
				return true
			}
		case mine:
			return true
		default:
			msg = "MOVED " + strconv.Itoa(slot) + " " + addr
		}
	}
	st := s.cluster.Stats()
	switch msg[0] {
	case 'M':
		st.MovedReplies.Add(1)
	case 'A':
		st.AskReplies.Add(1)
	case 'C':
		if msg == errCrossSlot {
			st.CrossSlotReplies.Add(1)
		} else {
			st.DownReplies.Add(1)
		}
	case 'T':
		st.TryAgainReplies.Add(1)
	}
	if cmd.Name == "exec" {
		c.discard()
		c.unwatchAll()
	} else if c.multi {
		c.multiErr = true
	}
	c.addError(msg)
	return false
}

// clusterKeys returns the key positions of a command, the declared keys
// of EVAL and friends included.
func clusterKeys(cmd *Command, args [][]byte, dst []int) []int {
	switch cmd.Name {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
		if len(args) < 3 {
			return dst
		}
		n, ok := parseInt(args[2])
		if !ok || n < 0 || n > int64(len(args)-3) {
			return dst
		}
		for i := 3; i < 3+int(n); i++ {
			dst = append(dst, i)
		}
		return dst
	}
	return cmd.KeyIndexes(args, dst)
}

// clusterScriptCheck is Redis's check of the commands a script runs: their
// keys must be served here and share the script's slot.
func (s *Server) clusterScriptCheck(caller *Client, cmd *Command, args [][]byte) string {
	v := s.cluster.View()
	idx := cmd.KeyIndexes(args, nil)
	for _, i := range idx {
		ks := cluster.KeySlot(args[i])
		if !v.Mine(ks) {
			return "ERR Script attempted to access a non local key in a cluster node"
		}
		if caller.cl.scriptSlot < 0 {
			caller.cl.scriptSlot = ks
		} else if ks != caller.cl.scriptSlot {
			return "ERR Script attempted to access keys that do not hash to the same slot"
		}
	}
	return ""
}

// keyExists looks a key up in the client's database without touching it.
func (c *Client) keyExists(key []byte) bool {
	h := c.tx.Key(c.st.NowMs(), key)
	ok := c.tx.Exists(c.db, key, h)
	c.tx.Release()
	return ok
}

// addClusterCommands registers CLUSTER, ASKING, READONLY and READWRITE.
func addClusterCommands(t *Table) {
	const (
		ls  = FlagLoading | FlagStale
		adm = FlagAdmin | FlagNoScript | FlagStale
	)
	cl := t.add(&Command{Spec: cmdtab.Spec{Name: "cluster", Arity: -2, Group: "cluster", Since: "3.0.0", Summary: "A container for Redis Cluster commands."}, Subs: map[string]*Command{}})
	sub := func(name string, arity int, flags Flag, summary string, h Handler) {
		t.addSub(cl, &Command{Spec: cmdtab.Spec{Name: name, Arity: arity, Flags: flags, Group: "cluster", Since: "3.0.0", Summary: summary}, Handler: clusterOnly(h)})
	}
	sub("addslots", -3, adm, "Assigns new hash slots to a node.", cmdClusterAddSlots)
	sub("addslotsrange", -4, adm, "Assigns new hash slot ranges to a node.", cmdClusterAddSlotsRange)
	sub("bumpepoch", 2, adm, "Advances the cluster config epoch.", cmdClusterBumpEpoch)
	sub("count-failure-reports", 3, adm, "Returns the number of active failure reports active for a node.", cmdClusterCountFailureReports)
	sub("countkeysinslot", 3, FlagStale, "Returns the number of keys in a hash slot.", cmdClusterCountKeysInSlot)
	sub("delslots", -3, adm, "Sets hash slots as unbound for a node.", cmdClusterDelSlots)
	sub("delslotsrange", -4, adm, "Sets hash slot ranges as unbound for a node.", cmdClusterDelSlotsRange)
	sub("failover", -2, adm, "Forces a replica to perform a manual failover of its master.", cmdClusterFailover)
	sub("flushslots", 2, adm, "Deletes all slots information from a node.", cmdClusterFlushSlots)
	sub("forget", 3, adm, "Removes a node from the nodes table.", cmdClusterForget)
	sub("getkeysinslot", 4, FlagStale, "Returns the key names in a hash slot.", cmdClusterGetKeysInSlot)
	sub("info", 2, FlagStale, "Returns information about the state of a node.", cmdClusterInfo)
	sub("keyslot", 3, FlagStale, "Returns the hash slot for a key.", cmdClusterKeySlot)
	sub("links", 2, FlagStale, "Returns a list of all TCP links to and from peer nodes.", cmdClusterLinks)
	sub("meet", -4, adm, "Forces a node to handshake with another node.", cmdClusterMeet)
	sub("myid", 2, FlagStale, "Returns the ID of a node.", cmdClusterMyID)
	sub("myshardid", 2, FlagStale, "Returns the shard ID of a node.", cmdClusterMyShardID)
	sub("nodes", 2, FlagStale, "Returns the cluster configuration for a node.", cmdClusterNodes)
	sub("replicas", 3, adm, "Lists the replica nodes of a master node.", cmdClusterReplicas)
	sub("slaves", 3, adm, "Lists the replica nodes of a master node.", cmdClusterReplicas)
	sub("replicate", 3, adm, "Configure a node as replica of a master node.", cmdClusterReplicate)
	sub("reset", -2, adm, "Resets a node.", cmdClusterReset)
	sub("saveconfig", 2, adm, "Forces a node to save the cluster configuration to disk.", cmdClusterSaveConfig)
	sub("set-config-epoch", 3, adm, "Sets the configuration epoch for a new node.", cmdClusterSetConfigEpoch)
	sub("setslot", -4, adm, "Binds a hash slot to a node.", cmdClusterSetSlot)
	sub("shards", 2, FlagStale, "Returns the mapping of cluster slots to shards.", cmdClusterShards)
	sub("slots", 2, FlagStale, "Returns the mapping of cluster slots to nodes.", cmdClusterSlots)
	sub("help", 2, ls, "Returns helpful text about the different subcommands.", cmdClusterHelp)
	conn := FlagLoading | FlagStale | FlagFast
	t.add(&Command{Spec: cmdtab.Spec{Name: "asking", Arity: 1, Flags: conn, Category: "connection", Group: "cluster", Since: "3.0.0", Summary: "Signals that a cluster client is following an -ASK redirect."}, Handler: clusterOnly(cmdAsking)})
	t.add(&Command{Spec: cmdtab.Spec{Name: "readonly", Arity: 1, Flags: conn, Category: "connection", Group: "cluster", Since: "3.0.0", Summary: "Enables read-only queries for a connection to a Redis Cluster replica node."}, Handler: clusterOnly(cmdReadonly)})
	t.add(&Command{Spec: cmdtab.Spec{Name: "readwrite", Arity: 1, Flags: conn, Category: "connection", Group: "cluster", Since: "3.0.0", Summary: "Enables read-write queries for a connection to a Redis Cluster replica node."}, Handler: clusterOnly(cmdReadwrite)})
}

// clusterOnly answers Redis's error when cluster mode is off.
func clusterOnly(h Handler) Handler {
	return func(c *Client, args [][]byte) {
		if c.srv.cluster == nil {
			c.addError(errNoCluster)
			return
		}
		h(c, args)
	}
}

// clusterModeGuards makes the commands Redis refuses in cluster mode
// refuse (SELECT of another database, SWAPDB, MOVE, COPY ... DB).
func (s *Server) clusterModeGuards() {
	wrap := func(name string, refuse func(c *Client, args [][]byte) string) {
		cmd := s.table.Lookup(name)
		if cmd == nil {
			return
		}
		h := cmd.Handler
		cmd.Handler = func(c *Client, args [][]byte) {
			if msg := refuse(c, args); msg != "" {
				c.addError(msg)
				return
			}
			h(c, args)
		}
	}
	for name, soft := range map[string]bool{"invalidate": false, "softinvalidate": true} {
		if cmd := s.table.Lookup(name); cmd != nil {
			cmd.Handler = clusterInvalidate(soft)
		}
	}
	s.cluster.SetInvalidator(s.applyClusterInvalidation)
	wrap("select", func(c *Client, args [][]byte) string {
		if n, ok := parseInt(args[1]); !ok || n != 0 {
			return "ERR SELECT is not allowed in cluster mode"
		}
		return ""
	})
	wrap("swapdb", func(*Client, [][]byte) string { return "ERR SWAPDB is not allowed in cluster mode" })
	wrap("move", func(*Client, [][]byte) string { return "ERR MOVE is not allowed in cluster mode" })
	wrap("copy", func(c *Client, args [][]byte) string {
		for i := 3; i+1 < len(args); i++ {
			if eq(args[i], "db") {
				if n, ok := parseInt(args[i+1]); !ok || n != 0 {
					return "ERR Copying to another database is not allowed in cluster mode"
				}
			}
		}
		return ""
	})
}

func cmdAsking(c *Client, args [][]byte) {
	c.cl.asking = true
	c.addOK()
}

func cmdReadonly(c *Client, args [][]byte) {
	c.cl.readonly = true
	c.addOK()
}

func cmdReadwrite(c *Client, args [][]byte) {
	c.cl.readonly = false
	c.addOK()
}

// parseSlot parses a slot argument; false after replying Redis's error.
func (c *Client) parseSlot(b []byte) (int, bool) {
	n, ok := parseInt(b)
	if !ok || n < 0 || n >= cluster.Slots {
		c.addError("ERR Invalid or out of range slot")
		return 0, false
	}
	return int(n), true
}

func (c *Client) clusterErr(err error) {
	if err == nil {
		c.addOK()
		return
	}
	c.addError("ERR " + err.Error())
}

func cmdClusterAddSlots(c *Client, args [][]byte) {
	slots, ok := c.slotList(args[2:])
	if ok {
		c.clusterErr(c.srv.cluster.AddSlots(slots))
	}
}

func cmdClusterDelSlots(c *Client, args [][]byte) {
	slots, ok := c.slotList(args[2:])
	if ok {
		c.clusterErr(c.srv.cluster.DelSlots(slots))
	}
}

func (c *Client) slotList(args [][]byte) ([]int, bool) {
	out := make([]int, 0, len(args))
	for _, a := range args {
		s, ok := c.parseSlot(a)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func (c *Client) slotRanges(args [][]byte) ([]int, bool) {
	if len(args)%2 != 0 {
		c.addError("ERR wrong number of arguments for '" + c.cmd.FullName() + "' command")
		return nil, false
	}
	var out []int
	for i := 0; i < len(args); i += 2 {
		a, ok := c.parseSlot(args[i])
		if !ok {
			return nil, false
		}
		b, ok := c.parseSlot(args[i+1])
		if !ok {
			return nil, false
		}
		if a > b {
			c.addError("ERR start slot number " + strconv.Itoa(a) + " is greater than end slot number " + strconv.Itoa(b))
			return nil, false
		}
		for s := a; s <= b; s++ {
			out = append(out, s)
		}
	}
	return out, true
}

func cmdClusterAddSlotsRange(c *Client, args [][]byte) {
	slots, ok := c.slotRanges(args[2:])
	if ok {
		c.clusterErr(c.srv.cluster.AddSlots(slots))
	}
}

func cmdClusterDelSlotsRange(c *Client, args [][]byte) {
	slots, ok := c.slotRanges(args[2:])
	if ok {
		c.clusterErr(c.srv.cluster.DelSlots(slots))
	}
}

func cmdClusterBumpEpoch(c *Client, args [][]byte) {
	e, bumped := c.srv.cluster.BumpEpoch()
	word := "STILL "
	if bumped {
		word = "BUMPED "
	}
	c.addSimple(word + strconv.FormatUint(e, 10))
}

func cmdClusterCountFailureReports(c *Client, args [][]byte) {
	if known, _ := c.srv.cluster.Known(string(args[2])); !known {
		c.addError("ERR Unknown node " + string(args[2]))
		return
	}
	// Failure detection is memberlist's (suspicion with its own
	// confirmations); no per-node reports are kept.
	c.addInt(0)
}

func cmdClusterCountKeysInSlot(c *Client, args [][]byte) {
	n, ok := parseInt(args[2])
	if !ok || n < 0 || n >= cluster.Slots {
		c.addError("ERR Invalid slot")
		return
	}
	c.addInt(int64(c.srv.clusterIdx.CountKeysInSlot(int(n))))
}

func cmdClusterGetKeysInSlot(c *Client, args [][]byte) {
	slot, ok1 := parseInt(args[2])
	count, ok2 := parseInt(args[3])
	if !ok1 || !ok2 || slot < 0 || slot >= cluster.Slots || count < 0 {
		c.addError("ERR Invalid slot or number of keys")
		return
	}
	keys := c.srv.clusterIdx.KeysInSlot(int(slot), int(min(count, 1<<20)), nil)
	c.addArray(len(keys))
	for _, k := range keys {
		c.addBulk(k)
	}
}

func cmdClusterFailover(c *Client, args [][]byte) {
	if len(args) == 3 && !eq(args[2], "force") && !eq(args[2], "takeover") || len(args) > 3 {
		c.addError(errSyntax)
		return
	}
	c.addError("ERR You should send CLUSTER FAILOVER to a replica")
}

func cmdClusterFlushSlots(c *Client, args [][]byte) {
	if c.st.DBSize(0) != 0 {
		c.addError("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
		return
	}
	c.srv.cluster.FlushSlots()
	c.addOK()
}

func cmdClusterForget(c *Client, args [][]byte) {
	c.clusterErr(c.srv.cluster.Forget(string(args[2])))
}

func cmdClusterInfo(c *Client, args [][]byte) {
	c.addVerbatim(clusterInfoText(c.srv.cluster))
}

func clusterInfoText(n *cluster.Node) string {
	v := n.View()
	st := n.Stats()
	state := "ok"
	if !v.OK {
		state = "fail"
	}
	var b strings.Builder
	line := func(k string, val any) {
		b.WriteString(k)
		b.WriteByte(':')
		switch x := val.(type) {
		case string:
			b.WriteString(x)
		case int:
			b.WriteString(strconv.Itoa(x))
		case int64:
			b.WriteString(strconv.FormatInt(x, 10))
		case uint64:
			b.WriteString(strconv.FormatUint(x, 10))
		}
		b.WriteString("\r\n")
	}
	line("cluster_state", state)
	line("cluster_slots_assigned", v.SlotsAssigned)
	line("cluster_slots_ok", v.SlotsOK-v.SlotsPFail)
	line("cluster_slots_pfail", v.SlotsPFail)
	line("cluster_slots_fail", v.SlotsFail)
	line("cluster_known_nodes", v.KnownNodes)
	line("cluster_size", v.Size)
	line("cluster_current_epoch", v.CurrentEpoch)
	line("cluster_my_epoch", v.MyEpoch)
	line("cluster_stats_messages_sent", st.MessagesSent.Load())
	line("cluster_stats_messages_received", st.MessagesRecv.Load())
	line("total_cluster_links_buffer_limit_exceeded", 0)
	return b.String()
}

func cmdClusterKeySlot(c *Client, args [][]byte) {
	c.addInt(int64(cluster.KeySlot(args[2])))
}

func cmdClusterLinks(c *Client, args [][]byte) {
	// The bus is memberlist's: it keeps no long-lived links to report.
	c.addArray(0)
}

func cmdClusterMeet(c *Client, args [][]byte) {
	if len(args) > 5 {
		c.addError("ERR wrong number of arguments for 'cluster|meet' command")
		return
	}
	ip := net.ParseIP(string(args[2]))
	port, ok := parseInt(args[3])
	cport := port + 10000
	ok2 := true
	if len(args) == 5 {
		cport, ok2 = parseInt(args[4])
	}
	if ip == nil || !ok || !ok2 || port < 0 || port > 65535 || cport < 0 || cport > 65535 {
		c.addError("ERR Invalid node address specified: " + string(args[2]) + ":" + string(args[3]))
		return
	}
	c.srv.cluster.Meet(ip.String(), int(cport))
	c.addOK()
}

func cmdClusterMyID(c *Client, args [][]byte) { c.addBulkStr(c.srv.cluster.MyID()) }

func cmdClusterMyShardID(c *Client, args [][]byte) { c.addBulkStr(c.srv.cluster.View().MyShardID) }

func cmdClusterNodes(c *Client, args [][]byte) {
	c.addVerbatim(clusterNodesText(c.srv.cluster.Nodes()))
}

// clusterNodesText formats CLUSTER NODES.
func clusterNodesText(nodes []cluster.NodeInfo) string {
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString(n.ID)
		b.WriteByte(' ')
		b.WriteString(n.IP + ":" + strconv.Itoa(n.Port) + "@" + strconv.Itoa(n.BusPort))
		b.WriteByte(' ')
		var flags []string
		if n.Myself {
			flags = append(flags, "myself")
		}
		flags = append(flags, "master")
		if n.Failed {
			flags = append(flags, "fail")
		} else if n.PFail {
			flags = append(flags, "fail?")
		}
		if n.Handshake {
			flags = append(flags, "handshake")
		}
		b.WriteString(strings.Join(flags, ","))
		link := "connected"
		if n.Failed {
			link = "disconnected"
		}
		b.WriteString(" - 0 " + strconv.FormatInt(n.PongRecv, 10) + " " + strconv.FormatUint(n.ConfigEpoch, 10) + " " + link)
		for _, r := range n.Slots {
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(r[0]))
			if r[1] != r[0] {
				b.WriteByte('-')
				b.WriteString(strconv.Itoa(r[1]))
			}
		}
		for _, s := range slices.Sorted(mapKeys(n.Migrating)) {
			b.WriteString(" [" + strconv.Itoa(s) + "->-" + n.Migrating[s] + "]")
		}
		for _, s := range slices.Sorted(mapKeys(n.Importing)) {
			b.WriteString(" [" + strconv.Itoa(s) + "-<-" + n.Importing[s] + "]")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func mapKeys(m map[int]string) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func cmdClusterReplicas(c *Client, args [][]byte) {
	if known, _ := c.srv.cluster.Known(string(args[2])); !known {
		c.addError("ERR Unknown node " + string(args[2]))
		return
	}
	c.addArray(0) // every node is a master without replicas
}

func cmdClusterReplicate(c *Client, args [][]byte) {
	known, myself := c.srv.cluster.Known(string(args[2]))
	switch {
	case !known:
		c.addError("ERR Unknown node " + string(args[2]))
	case myself:
		c.addError("ERR Can't replicate myself")
	default:
		c.addError("ERR cachesrv cluster nodes are masters only: replicas are not supported (docs/cluster.md)")
	}
}

func cmdClusterReset(c *Client, args [][]byte) {
	hard := false
	if len(args) == 3 {
		switch {
		case eq(args[2], "hard"):
			hard = true
		case eq(args[2], "soft"):
		default:
			c.addError(errSyntax)
			return
		}
	} else if len(args) > 3 {
		c.addError(errSyntax)
		return
	}
	if c.st.DBSize(0) != 0 {
		c.addError("ERR CLUSTER RESET can't be called with master nodes containing keys")
		return
	}
	c.srv.cluster.Reset(hard)
	c.addOK()
}

func cmdClusterSaveConfig(c *Client, args [][]byte) {
	if err := c.srv.cluster.Save(); err != nil {
		c.addError("ERR error saving the cluster node config: " + err.Error())
		return
	}
	c.addOK()
}

func cmdClusterSetConfigEpoch(c *Client, args [][]byte) {
	e, ok := parseInt(args[2])
	if !ok {
		c.addError("ERR value is not an integer or out of range")
		return
	}
	c.clusterErr(c.srv.cluster.SetConfigEpoch(e))
}

func cmdClusterSetSlot(c *Client, args [][]byte) {
	slot, ok := c.parseSlot(args[2])
	if !ok {
		return
	}
	action := strings.ToLower(string(args[3]))
	id := ""
	switch {
	case action == "stable" && len(args) == 4:
	case (action == "importing" || action == "migrating" || action == "node") && len(args) == 5:
		id = string(args[4])
	default:
		c.addError("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP")
		return
	}
	c.clusterErr(c.srv.cluster.SetSlot(slot, action, id))
}

func cmdClusterShards(c *Client, args [][]byte) {
	nodes := c.srv.cluster.Nodes()
	c.addArray(len(nodes))
	for _, n := range nodes {
		c.addMap(2)
		c.addBulkStr("slots")
		c.addArray(2 * len(n.Slots))
		for _, r := range n.Slots {
			c.addInt(int64(r[0]))
			c.addInt(int64(r[1]))
		}
		c.addBulkStr("nodes")
		c.addArray(1)
		c.addMap(7)
		c.addBulkStr("id")
		c.addBulkStr(n.ID)
		c.addBulkStr("port")
		c.addInt(int64(n.Port))
		c.addBulkStr("ip")
		c.addBulkStr(n.IP)
		c.addBulkStr("endpoint")
		c.addBulkStr(n.IP)
		c.addBulkStr("role")
		c.addBulkStr("master")
		c.addBulkStr("replication-offset")
		c.addInt(0)
		c.addBulkStr("health")
		if n.Failed {
			c.addBulkStr("fail")
		} else {
			c.addBulkStr("online")
		}
	}
}

func cmdClusterSlots(c *Client, args [][]byte) {
	nodes := c.srv.cluster.Nodes()
	type entry struct {
		r [2]int
		n *cluster.NodeInfo
	}
	var all []entry
	for i := range nodes {
		for _, r := range nodes[i].Slots {
			all = append(all, entry{r, &nodes[i]})
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return a.r[0] - b.r[0] })
	c.addArray(len(all))
	for _, e := range all {
		c.addArray(3)
		c.addInt(int64(e.r[0]))
		c.addInt(int64(e.r[1]))
		c.addArray(4)
		c.addBulkStr(e.n.IP)
		c.addInt(int64(e.n.Port))
		c.addBulkStr(e.n.ID)
		c.addMap(0)
	}
}

func cmdClusterHelp(c *Client, args [][]byte) {
	lines := []string{
		"CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
		"ADDSLOTS <slot> [<slot> ...]", "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
		"BUMPEPOCH", "COUNT-FAILURE-REPORTS <node-id>", "COUNTKEYSINSLOT <slot>",
		"DELSLOTS <slot> [<slot> ...]", "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
		"FAILOVER [FORCE|TAKEOVER]", "FORGET <node-id>", "FLUSHSLOTS", "GETKEYSINSLOT <slot> <count>",
		"INFO", "KEYSLOT <key>", "LINKS", "MEET <ip> <port> [<bus-port>]", "MYID", "MYSHARDID", "NODES",
		"REPLICATE <node-id>", "RESET [HARD|SOFT]", "SET-CONFIG-EPOCH <epoch>",
		"SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
		"REPLICAS <node-id>", "SAVECONFIG", "SHARDS", "SLOTS", "HELP",
	}
	c.addArray(len(lines))
	for _, l := range lines {
		c.addSimple(l)
	}
}

// clusterInfoFields is INFO's cluster section: cluster_enabled as Redis,
// and in cluster mode cachesrv's counters (docs/cluster.md).
func (s *Server) clusterInfoFields() []InfoField {
	if s.cluster == nil {
		return []InfoField{{"cluster_enabled", "0"}}
	}
	v := s.cluster.View()
	st := s.cluster.Stats()
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	state := "ok"
	if !v.OK {
		state = "fail"
	}
	owned := 0
	for slot := range cluster.Slots {
		if v.Mine(slot) {
			owned++
		}
	}
	return []InfoField{
		{"cluster_enabled", "1"},
		{"cluster_state", state},
		{"cluster_slots_owned", strconv.Itoa(owned)},
		{"cluster_known_nodes", strconv.Itoa(v.KnownNodes)},
		{"cluster_current_epoch", strconv.FormatUint(v.CurrentEpoch, 10)},
		{"cluster_my_epoch", strconv.FormatUint(v.MyEpoch, 10)},
		{"cluster_moved_replies", i64(st.MovedReplies.Load())},
		{"cluster_ask_replies", i64(st.AskReplies.Load())},
		{"cluster_crossslot_replies", i64(st.CrossSlotReplies.Load())},
		{"cluster_down_replies", i64(st.DownReplies.Load())},
		{"cluster_tryagain_replies", i64(st.TryAgainReplies.Load())},
		{"cluster_slots_taken_over", i64(st.SlotsTakenOver.Load())},
		{"cluster_keys_migrated", i64(st.KeysMigratedOut.Load())},
		{"cluster_keys_dropped_in_migration", i64(s.migrateDropped.Load())},
		{"cluster_invalidations_sent", i64(st.InvalidationsSent.Load())},
		{"cluster_invalidations_received", i64(st.InvalidationsReceived.Load())},
		{"cluster_invalidations_pending", strconv.Itoa(s.cluster.PendingInvalidations())},
		{"cluster_invalidations_expired", i64(st.InvalidationsExpired.Load())},
	}
}

// remoteInval applies invalidations other nodes send (cluster.Invalidator)
// on a pseudo client of its own, one at a time.
type remoteInval struct {
	mu sync.Mutex
	c  *Client
}

// applyClusterInvalidation applies an INVALIDATE or SOFTINVALIDATE sent by
// another node: the tag index, tracking and keyspace notifications, as for
// a local one.
func (s *Server) applyClusterInvalidation(inv cluster.Invalidation) int64 {
	if s.tags == nil {
		return 0
	}
	ri := &s.remoteInval
	ri.mu.Lock()
	defer ri.mu.Unlock()
	if ri.c == nil {
		ri.c = &Client{srv: s, st: s.st, tx: s.st.NewTxn(nil), id: s.nextID.Add(1), resp: 2, addr: "cluster", created: time.Now(),
			authenticated: true, scratch: make([]byte, 0, 64)}
		ri.c.user.Store(s.acl.Default())
	}
	names := make([][]byte, len(inv.Tags))
	for i, t := range inv.Tags {
		names[i] = []byte(t)
	}
	keys := ri.c.trackedTagKeys(s.tags, names)
	n := s.tags.Invalidate(0, names, inv.Soft, inv.Grace, nil)
	s.tracking.invalidateKeys(ri.c, keys, inv.Soft)
	return n
}

// clusterInvalidate is INVALIDATE and SOFTINVALIDATE in cluster mode: the
// invalidation is applied here, then on every other node, and the reply
// counts the keys invalidated on this node and on every node that
// acknowledged. The reply waits for every live node, up to
// cluster-node-timeout; inside MULTI/EXEC and scripts (which hold this
// node's shard locks) it does not wait and counts this node only. Nodes
// that have not acknowledged keep getting it (docs/cluster.md).
func clusterInvalidate(soft bool) Handler {
	return func(c *Client, args [][]byte) {
		x := c.tagIndex()
		if x == nil {
			return
		}
		names := args[1:]
		var grace int64
		if soft {
			g, ok := parseInt(args[1])
			if !ok || g <= 0 {
				c.addError("ERR grace must be a positive number of milliseconds")
				return
			}
			grace, names = g, args[2:]
		}
		keys := c.trackedTagKeys(x, names)
		n := x.Invalidate(c.db, names, soft, grace, c.tx)
		c.srv.tracking.invalidateKeys(c, keys, soft)
		inv := cluster.Invalidation{ID: cluster.NewNodeID(), Soft: soft, Grace: grace, Tags: make([]string, len(names))}
		for i, t := range names {
			inv.Tags[i] = string(t)
		}
		wait := !c.tx.Held()
		ctx, cancel := context.WithTimeout(context.Background(), c.srv.cluster.Options().NodeTimeout)
		remote, _ := c.srv.cluster.Broadcast(ctx, inv, wait)
		cancel()
		c.addInt(n + remote)
	}
}

// MigrateDropped returns how many keys MIGRATE deleted without copying
// them (cmd_migrate.go).
func (s *Server) MigrateDropped() int64 { return s.migrateDropped.Load() }
