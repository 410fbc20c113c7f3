package integration

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
)

// Cluster mode through real clients (docs/cluster.md). The in-process
// tests run nodes on 127.0.0.1:0 (client port and bus port); the tests
// through the built binary and redis-cli --cluster are in
// cluster_binary_test.go.

func init() {
	for _, name := range []string{"asking", "cluster|addslots", "cluster|addslotsrange", "cluster|bumpepoch",
		"cluster|count-failure-reports", "cluster|countkeysinslot", "cluster|delslots", "cluster|delslotsrange",
		"cluster|failover", "cluster|flushslots", "cluster|forget", "cluster|getkeysinslot", "cluster|info",
		"cluster|keyslot", "cluster|links", "cluster|meet", "cluster|myid", "cluster|myshardid", "cluster|nodes",
		"cluster|replicas", "cluster|slaves", "cluster|replicate", "cluster|reset", "cluster|saveconfig",
		"cluster|set-config-epoch", "cluster|setslot", "cluster|shards", "cluster|slots", "cluster|help"} {
		extraCovered[name] = true
	}
}

// startNode starts one cluster-enabled node with short timeouts.
func startNode(t *testing.T, dir string, mod func(*config.Config)) *server {
	t.Helper()
	return startWith(t, func(cfg *config.Config) {
		cfg.Dir = dir
		cfg.ClusterEnabled = true
		cfg.ClusterNodeTimeout = 1000
		// The node takes its client port from the listener; memberlist
		// opens its own bus sockets, so the bus needs a port up front.
		cfg.ClusterPort = freeBusPort(t)
		if mod != nil {
			mod(cfg)
		}
	}, nil, nil)
}

// freeBusPort returns a port free for both TCP and UDP (memberlist binds
// both). A separate listener cannot be handed over, so this has the usual
// small free-port race.
func freeBusPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err == nil {
			pc.Close()
			return port
		}
	}
	t.Fatal("no free port for the cluster bus")
	return 0
}

var busRE = regexp.MustCompile(`@(\d+)`)

// busPort reads a node's bus port from its CLUSTER NODES myself line.
func busPort(t *testing.T, c *redis.Client) string {
	t.Helper()
	for _, line := range strings.Split(c.ClusterNodes(ctx).Val(), "\n") {
		if strings.Contains(line, "myself") {
			if m := busRE.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		}
	}
	t.Fatal("no myself line in CLUSTER NODES")
	return ""
}

// formCluster does what redis-cli --cluster create does: slots in equal
// ranges, a distinct config epoch each, MEETs to the first node; then it
// waits until every node agrees on the slot map.
func formCluster(t *testing.T, nodes []*server) []*redis.Client {
	t.Helper()
	var cs []*redis.Client
	per := 16384 / len(nodes)
	for i, n := range nodes {
		c := n.client(2)
		cs = append(cs, c)
		lo, hi := i*per, (i+1)*per-1
		if i == len(nodes)-1 {
			hi = 16383
		}
		want(t, c, "OK", "cluster", "addslotsrange", lo, hi)
		want(t, c, "OK", "cluster", "set-config-epoch", i+1)
	}
	_, port0, _ := strings.Cut(nodes[0].Addr, ":")
	bus0 := busPort(t, cs[0])
	for _, c := range cs[1:] {
		want(t, c, "OK", "cluster", "meet", "127.0.0.1", port0, bus0)
	}
	waitAgree(t, cs, len(nodes))
	return cs
}

// slotSignature is redis-cli's view of a node's slot map: the nodes with
// slots and their ranges.
func slotSignature(c *redis.Client) (sig string, known int) {
	var parts []string
	for _, line := range strings.Split(strings.TrimSpace(c.ClusterNodes(ctx).Val()), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		known++
		if len(f) > 8 {
			parts = append(parts, f[0]+":"+strings.Join(f[8:], ","))
		}
	}
	return strings.Join(sortedCopy(parts), "|"), known
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// waitAgree waits until every node knows n nodes and all show the same
// slot map with every slot covered.
func waitAgree(t *testing.T, cs []*redis.Client, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok := true
		first, _ := slotSignature(cs[0])
		for _, c := range cs {
			sig, known := slotSignature(c)
			if sig != first || known != n || !strings.Contains(c.ClusterInfo(ctx).Val(), "cluster_state:ok") {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, c := range cs {
				t.Logf("%s", c.ClusterNodes(ctx).Val())
			}
			t.Fatal("nodes do not agree on the slot map")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterDisabledHasNoClusterCommands(t *testing.T) {
	t.Parallel()
	c := start(t, nil).client(2)
	wantErr(t, c, "ERR This instance has cluster support disabled", "cluster", "info")
	wantErr(t, c, "ERR This instance has cluster support disabled", "asking")
	want(t, c, "OK", "select", "1")
	if !strings.Contains(c.Info(ctx, "cluster").Val(), "cluster_enabled:0") {
		t.Fatal("INFO cluster: want cluster_enabled:0")
	}
}

// TestClusterSingleNode covers the subcommands and the slot check on one
// node, replies and errors as Redis 7's.
func TestClusterSingleNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startNode(t, dir, nil)
	c := s.client(2)

	id := c.ClusterMyID(ctx).Val()
	if !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(id) {
		t.Fatalf("CLUSTER MYID = %q", id)
	}
	if v, _ := do(t, c, "cluster", "myshardid"); len(v.(string)) != 40 {
		t.Fatalf("CLUSTER MYSHARDID = %v", v)
	}
	for key, slot := range map[string]int64{"foo": 12182, "{user1000}.following": 3443, "foo{}{bar}": 8363, "": 0} {
		want(t, c, slot, "cluster", "keyslot", key)
	}
	// No slots yet: the cluster is down and keyed commands say why.
	if !strings.Contains(c.ClusterInfo(ctx).Val(), "cluster_state:fail") {
		t.Fatal("a node without slots must report cluster_state:fail")
	}
	wantErr(t, c, "CLUSTERDOWN Hash slot not served", "get", "foo")
	want(t, c, "PONG", "ping") // commands without keys are served

	// Errors of the slot commands.
	wantErr(t, c, "ERR Invalid or out of range slot", "cluster", "addslots", 16384)
	wantErr(t, c, "ERR Invalid or out of range slot", "cluster", "addslots", "x")
	wantErr(t, c, "ERR start slot number 5 is greater than end slot number 2", "cluster", "addslotsrange", 5, 2)
	wantErr(t, c, "ERR wrong number of arguments for 'cluster|addslotsrange' command", "cluster", "addslotsrange", 1, 2, 3)
	wantErr(t, c, "ERR Slot 7 is already unassigned", "cluster", "delslots", 7)
	wantErr(t, c, "ERR Slot 3 specified multiple times", "cluster", "addslots", 3, 3)
	wantErr(t, c, "ERR Invalid slot", "cluster", "countkeysinslot", 16384)
	wantErr(t, c, "ERR Invalid slot or number of keys", "cluster", "getkeysinslot", 1, -1)
	wantErr(t, c, "ERR Unknown node abc", "cluster", "forget", "abc")
	wantErr(t, c, "ERR I tried hard but I can't forget myself...", "cluster", "forget", id)
	wantErr(t, c, "ERR Unknown node abc", "cluster", "count-failure-reports", "abc")
	want(t, c, int64(0), "cluster", "count-failure-reports", id)
	wantErr(t, c, "ERR Unknown node abc", "cluster", "replicas", "abc")
	want(t, c, []any{}, "cluster", "replicas", id)
	want(t, c, []any{}, "cluster", "slaves", id)
	wantErr(t, c, "ERR Can't replicate myself", "cluster", "replicate", id)
	wantErr(t, c, "ERR You should send CLUSTER FAILOVER to a replica", "cluster", "failover")
	wantErr(t, c, "ERR Invalid config epoch specified: -1", "cluster", "set-config-epoch", -1)
	wantErr(t, c, "ERR Invalid node address specified: 1.2.3:5", "cluster", "meet", "1.2.3", 5)
	wantErr(t, c, "ERR Invalid node address specified: 127.0.0.1:99999", "cluster", "meet", "127.0.0.1", 99999)
	wantErr(t, c, "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP", "cluster", "setslot", 5, "foo")
	wantErr(t, c, "ERR Unknown node abc", "cluster", "setslot", 5, "node", "abc")
	wantErr(t, c, "ERR I'm not the owner of hash slot 5", "cluster", "setslot", 5, "migrating", id)
	wantErr(t, c, "ERR syntax error", "cluster", "reset", "foo")
	want(t, c, []any{}, "cluster", "links")
	if v, _ := do(t, c, "cluster", "help"); len(v.([]any)) < 20 {
		t.Fatalf("CLUSTER HELP: %v", v)
	}

	// Epochs: SET-CONFIG-EPOCH once, BUMPEPOCH only when not the maximum.
	want(t, c, "OK", "cluster", "set-config-epoch", 5)
	wantErr(t, c, "ERR Node config epoch is already non-zero", "cluster", "set-config-epoch", 6)
	want(t, c, "STILL 5", "cluster", "bumpepoch")

	// All slots: the cluster is up.
	want(t, c, "OK", "cluster", "addslotsrange", 0, 8000)
	wantErr(t, c, "ERR Slot 100 is already busy", "cluster", "addslots", 100)
	want(t, c, "OK", "cluster", "addslots", 8001)
	want(t, c, "OK", "cluster", "addslotsrange", 8002, 16383)
	info := c.ClusterInfo(ctx).Val()
	for _, f := range []string{"cluster_state:ok", "cluster_slots_assigned:16384", "cluster_slots_ok:16384",
		"cluster_known_nodes:1", "cluster_size:1", "cluster_current_epoch:5", "cluster_my_epoch:5"} {
		if !strings.Contains(info, f+"\r\n") {
			t.Fatalf("CLUSTER INFO lacks %q:\n%s", f, info)
		}
	}
	nodes := c.ClusterNodes(ctx).Val()
	if want := id + " 127.0.0.1:" + strings.Split(s.Addr, ":")[1] + "@"; !strings.HasPrefix(nodes, want) ||
		!strings.Contains(nodes, " myself,master - 0 0 5 connected 0-16383\n") {
		t.Fatalf("CLUSTER NODES = %q", nodes)
	}
	//lint:ignore SA1019 CLUSTER SLOTS is what older clients read; it is tested as such
	slots := c.ClusterSlots(ctx).Val()
	if len(slots) != 1 || slots[0].Start != 0 || slots[0].End != 16383 || slots[0].Nodes[0].ID != id {
		t.Fatalf("CLUSTER SLOTS = %+v", slots)
	}
	shards := c.ClusterShards(ctx).Val()
	if len(shards) != 1 || len(shards[0].Slots) != 1 || shards[0].Slots[0].End != 16383 ||
		shards[0].Nodes[0].ID != id || shards[0].Nodes[0].Role != "master" || shards[0].Nodes[0].Health != "online" {
		t.Fatalf("CLUSTER SHARDS = %+v", shards)
	}

	// Keys: the per-slot index, CROSSSLOT, hash tags, MULTI/EXEC.
	for i := range 50 {
		want(t, c, "OK", "set", fmt.Sprintf("{tag}:%d", i), "v")
	}
	want(t, c, "OK", "set", "foo", "bar")
	tagSlot := int64(c.ClusterKeySlot(ctx, "{tag}").Val())
	want(t, c, int64(50), "cluster", "countkeysinslot", tagSlot)
	if keys := c.ClusterGetKeysInSlot(ctx, int(tagSlot), 10).Val(); len(keys) != 10 || !strings.HasPrefix(keys[0], "{tag}:") {
		t.Fatalf("GETKEYSINSLOT = %v", keys)
	}
	want(t, c, int64(1), "del", "{tag}:0")
	want(t, c, int64(49), "cluster", "countkeysinslot", tagSlot)
	want(t, c, "OK", "mset", "{tag}a", "1", "{tag}b", "2")
	wantErr(t, c, "CROSSSLOT Keys in request don't hash to the same slot", "mset", "a", "1", "b", "2")
	wantErr(t, c, "CROSSSLOT Keys in request don't hash to the same slot", "del", "a", "b")
	wantErr(t, c, "CROSSSLOT Keys in request don't hash to the same slot", "eval", "return 1", 2, "a", "b")
	want(t, c, int64(1), "eval", "return 1", 2, "{x}a", "{x}b")
	want(t, c, "OK", "eval", "return redis.call('set', KEYS[1], 'v')", 1, "{x}a")
	wantErr(t, c, "ERR Script attempted to access keys that do not hash to the same slot",
		"eval", "return redis.call('set', 'other', 'v')", 1, "{x}a")
	// A transaction whose commands touch two slots is refused at EXEC
	// (each queued command alone is fine).
	pipe := c.TxPipeline()
	pipe.Set(ctx, "a", "1", 0)
	pipe.Set(ctx, "b", "1", 0)
	if _, err := pipe.Exec(ctx); err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Fatalf("MULTI over two slots: %v", err)
	}
	pipe = c.TxPipeline()
	pipe.Set(ctx, "{u}a", "1", 0)
	pipe.Set(ctx, "{u}b", "1", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("MULTI in one slot: %v", err)
	}

	// Databases: only 0.
	want(t, c, "OK", "select", "0")
	wantErr(t, c, "ERR SELECT is not allowed in cluster mode", "select", "1")
	wantErr(t, c, "ERR SWAPDB is not allowed in cluster mode", "swapdb", "0", "1")
	wantErr(t, c, "ERR MOVE is not allowed in cluster mode", "move", "foo", "1")
	wantErr(t, c, "ERR Copying to another database is not allowed in cluster mode", "copy", "foo", "{foo}x", "db", "1")
	want(t, c, "OK", "asking")
	want(t, c, "OK", "readonly")
	want(t, c, "OK", "readwrite")

	// The config file holds the node; keys block FLUSHSLOTS and RESET.
	want(t, c, "OK", "cluster", "saveconfig")
	b, err := os.ReadFile(filepath.Join(dir, "nodes.conf"))
	if err != nil || !strings.HasPrefix(string(b), id+" ") || !strings.Contains(string(b), "myself,master - 0 0 5 connected 0-16383") ||
		!strings.Contains(string(b), "vars currentEpoch 5 ") {
		t.Fatalf("nodes.conf = %q, %v", b, err)
	}
	wantErr(t, c, "ERR DB must be empty to perform CLUSTER FLUSHSLOTS.", "cluster", "flushslots")
	wantErr(t, c, "ERR CLUSTER RESET can't be called with master nodes containing keys", "cluster", "reset")
	want(t, c, "OK", "flushall")
	want(t, c, int64(0), "cluster", "countkeysinslot", tagSlot)
	want(t, c, "OK", "cluster", "delslotsrange", 0, 99)
	want(t, c, "OK", "cluster", "delslots", 100)
	wantErr(t, c, "CLUSTERDOWN The cluster is down", "get", "foo")
	want(t, c, "OK", "cluster", "flushslots")
	want(t, c, "OK", "cluster", "reset", "hard")
	if c.ClusterMyID(ctx).Val() == id {
		t.Fatal("CLUSTER RESET HARD kept the node id")
	}
	if !strings.Contains(c.ClusterInfo(ctx).Val(), "cluster_current_epoch:0") {
		t.Fatal("CLUSTER RESET HARD kept the epoch")
	}
	if !strings.Contains(c.Info(ctx, "cluster").Val(), "cluster_enabled:1") {
		t.Fatal("INFO cluster: want cluster_enabled:1")
	}
}

// TestClusterConfigReload restarts a node on the same dir: same id,
// epochs and slots.
func TestClusterConfigReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var id string
	t.Run("first", func(t *testing.T) {
		c := startNode(t, dir, nil).client(2)
		id = c.ClusterMyID(ctx).Val()
		want(t, c, "OK", "cluster", "addslotsrange", 0, 99)
		want(t, c, "OK", "cluster", "addslots", 200)
		want(t, c, "OK", "cluster", "set-config-epoch", 7)
		want(t, c, "OK", "cluster", "setslot", 300, "importing", id)
	})
	c := startNode(t, dir, nil).client(2)
	if got := c.ClusterMyID(ctx).Val(); got != id {
		t.Fatalf("node id after restart = %s, want %s", got, id)
	}
	nodes := c.ClusterNodes(ctx).Val()
	if !strings.Contains(nodes, " myself,master - 0 0 7 connected 0-99 200 [300-<-"+id+"]") {
		t.Fatalf("CLUSTER NODES after restart = %q", nodes)
	}
	// A broken file is refused with a clear message, not ignored.
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "nodes.conf"), []byte("garbage\n"), 0o644)
	cfg := config.Default()
	cfg.Dir, cfg.ClusterEnabled, cfg.MetricsAddr = bad, true, ""
	if _, err := app.New(cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "nodes.conf") {
		t.Fatalf("app.New with a corrupt nodes.conf: %v", err)
	}
}

// TestClusterRedirects runs two nodes: MOVED, ASK, ASKING, TRYAGAIN and
// SETSLOT NODE, then a go-redis ClusterClient over both.
func TestClusterRedirects(t *testing.T) {
	t.Parallel()
	a := startNode(t, t.TempDir(), nil)
	b := startNode(t, t.TempDir(), nil)
	cs := formCluster(t, []*server{a, b})
	ca, cb := cs[0], cs[1]
	idA, idB := ca.ClusterMyID(ctx).Val(), cb.ClusterMyID(ctx).Val()

	// foo is slot 12182: node b's.
	wantErr(t, ca, "MOVED 12182 "+b.Addr, "get", "foo")
	want(t, cb, "OK", "set", "foo", "1")
	// A queued command for another node flags the transaction.
	pipe := ca.TxPipeline()
	get := pipe.Get(ctx, "foo")
	if _, err := pipe.Exec(ctx); err == nil || !strings.Contains(err.Error(), "EXECABORT") ||
		get.Err() == nil || !strings.HasPrefix(get.Err().Error(), "MOVED 12182") {
		t.Fatalf("MULTI with a foreign key: %v / %v", err, get.Err())
	}

	// Migrate slot 12182 from b to a by hand, the way redis-cli does.
	want(t, ca, "OK", "cluster", "setslot", 12182, "importing", idB)
	want(t, cb, "OK", "cluster", "setslot", 12182, "migrating", idA)
	// b still serves the keys it has; asks for the ones it lacks.
	want(t, cb, "1", "get", "foo")
	wantErr(t, cb, "ASK 12182 "+a.Addr, "get", "{foo}missing")
	wantErr(t, cb, "TRYAGAIN Multiple keys request during rehashing of slot", "mget", "foo", "{foo}missing")
	// a serves the slot only after ASKING, for that one command.
	wantErr(t, ca, "MOVED 12182 "+b.Addr, "get", "{foo}missing")
	conn := ca.Conn()
	defer conn.Close()
	if err := conn.Process(ctx, redis.NewStatusCmd(ctx, "asking")); err != nil {
		t.Fatal(err)
	}
	if err := conn.Set(ctx, "{foo}new", "2", 0).Err(); err != nil {
		t.Fatalf("SET after ASKING: %v", err)
	}
	if err := conn.Get(ctx, "{foo}new").Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
		t.Fatalf("ASKING must last one command: %v", err)
	}
	// RESTORE-ASKING (what MIGRATE sends) needs no ASKING.
	payload := cb.Dump(ctx, "foo").Val()
	want(t, ca, "OK", "restore-asking", "{foo}restored", 0, payload)
	wantErr(t, ca, "MOVED 12182 "+b.Addr, "restore", "{foo}restored2", 0, payload)
	if !strings.Contains(ca.ClusterNodes(ctx).Val(), "[12182-<-"+idB+"]") || !strings.Contains(cb.ClusterNodes(ctx).Val(), "[12182->-"+idA+"]") {
		t.Fatal("CLUSTER NODES does not show the open slot")
	}
	wantErr(t, cb, "ERR Can't assign hashslot 12182 to a different node while I still hold keys for this hash slot.",
		"cluster", "setslot", 12182, "node", idA)
	want(t, cb, int64(1), "del", "foo")
	want(t, ca, "OK", "cluster", "setslot", 12182, "node", idA)
	want(t, cb, "OK", "cluster", "setslot", 12182, "node", idA)
	waitAgree(t, cs, 2)
	want(t, ca, "2", "get", "{foo}new")
	wantErr(t, cb, "MOVED 12182 "+a.Addr, "get", "foo")
	if !strings.Contains(cb.Info(ctx, "cluster").Val(), "cluster_moved_replies:") {
		t.Fatal("INFO cluster lacks the redirect counters")
	}

	// A cluster client spreads keys over both nodes.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{a.Addr}, MaxRedirects: 3})
	defer cc.Close()
	for i := range 500 {
		if err := cc.Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatalf("cluster client SET: %v", err)
		}
	}
	na, nb := ca.DBSize(ctx).Val(), cb.DBSize(ctx).Val()
	if na+nb != 502 || na < 100 || nb < 100 {
		t.Fatalf("keys per node: %d + %d", na, nb)
	}
	for i := range 500 {
		if v, err := cc.Get(ctx, "k"+strconv.Itoa(i)).Int(); err != nil || v != i {
			t.Fatalf("cluster client GET k%d = %d, %v", i, v, err)
		}
	}
}

// TestMigrate covers MIGRATE between two standalone servers: single key
// and KEYS forms, COPY, REPLACE, AUTH, AUTH2, TTLs kept, NOKEY, the
// target's errors and an unreachable target.
func TestMigrate(t *testing.T) {
	t.Parallel()
	src := start(t, nil).client(2)
	dst := start(t, func(c *config.Config) { c.RequirePass = "pw" })
	host, port, _ := strings.Cut(dst.Addr, ":")
	d := dst.userClient("default", "pw")

	want(t, src, "OK", "set", "a", "1", "PX", 60000)
	want(t, src, "NOKEY", "migrate", host, port, "nosuch", 0, 1000, "auth", "pw")
	wantErr(t, src, "ERR Target instance replied with error: NOAUTH", "migrate", host, port, "a", 0, 1000)
	want(t, src, "1", "get", "a") // a failed MIGRATE keeps the key
	want(t, src, "OK", "migrate", host, port, "a", 0, 1000, "auth", "pw")
	want(t, src, int64(0), "exists", "a")
	if ttl := d.PTTL(ctx, "a").Val(); ttl < 50*time.Second || ttl > 60*time.Second {
		t.Fatalf("TTL after MIGRATE: %v", ttl)
	}
	want(t, d, "1", "get", "a")

	// KEYS form, COPY, AUTH2, another database.
	want(t, src, "OK", "mset", "b", "2", "c", "3")
	want(t, src, "OK", "migrate", host, port, "", 3, 1000, "copy", "auth2", "default", "pw", "keys", "b", "c", "nosuch")
	want(t, src, int64(2), "exists", "b", "c")
	want(t, d, "OK", "select", 3)
	want(t, d, []any{"2", "3"}, "mget", "b", "c")
	// BUSYKEY without REPLACE; REPLACE overwrites.
	want(t, src, "OK", "set", "b", "new")
	wantErr(t, src, "ERR Target instance replied with error: BUSYKEY Target key name already exists.",
		"migrate", host, port, "b", 3, 1000, "auth", "pw")
	want(t, src, "OK", "migrate", host, port, "b", 3, 1000, "replace", "auth", "pw")
	want(t, d, "new", "get", "b")
	// Collections travel too.
	want(t, src, int64(3), "rpush", "l", "x", "y", "z")
	want(t, src, int64(2), "hset", "h", "f", "1", "g", "2")
	want(t, src, "OK", "migrate", host, port, "", 0, 1000, "auth", "pw", "keys", "l", "h")
	want(t, d, "OK", "select", 0)
	want(t, d, []any{"x", "y", "z"}, "lrange", "l", 0, -1)
	want(t, d, "2", "hget", "h", "g")
	want(t, src, int64(0), "exists", "l", "h")
	// Tagged keys are not carried (RESTORE cannot carry tags): dropped here.
	want(t, src, "OK", "tagset", "t", "v", "tags", 1, "user:1")
	want(t, src, "OK", "migrate", host, port, "t", 0, 1000, "auth", "pw")
	want(t, src, int64(0), "exists", "t")
	want(t, d, "OK", "select", 0)
	want(t, d, int64(0), "exists", "t")
	// Syntax and an unreachable target.
	wantErr(t, src, "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string",
		"migrate", host, port, "c", 0, 1000, "keys", "c")
	wantErr(t, src, "ERR syntax error", "migrate", host, port, "c", 0, 1000, "bogus")
	closed := freeClientPort(t)
	wantErr(t, src, "IOERR error or timeout connecting to the client", "migrate", "127.0.0.1", closed, "c", 0, 100)
	want(t, src, "3", "get", "c")
}

func init() {
	extraCovered["migrate"] = true
	extraCovered["restore-asking"] = true
}

// TestClusterInvalidate: INVALIDATE and SOFTINVALIDATE on one node of
// three reach every node before the reply, which counts the keys of the
// whole cluster.
func TestClusterInvalidate(t *testing.T) {
	t.Parallel()
	nodes := []*server{startNode(t, t.TempDir(), nil), startNode(t, t.TempDir(), nil), startNode(t, t.TempDir(), nil)}
	cs := formCluster(t, nodes)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[0].Addr}})
	defer cc.Close()
	const n = 300
	for i := range n {
		if err := cc.Do(ctx, "tagset", "item:"+strconv.Itoa(i), "v", "tags", 1, "user:1").Err(); err != nil {
			t.Fatal(err)
		}
		if err := cc.Do(ctx, "tagset", "other:"+strconv.Itoa(i), "v", "tags", 1, "user:2").Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cs {
		if k := c.DBSize(ctx).Val(); k < 100 {
			t.Fatalf("a node holds only %d keys", k)
		}
	}
	// The reply counts every node's keys, and they are gone everywhere.
	want(t, cs[1], int64(n), "invalidate", "user:1")
	for i := range n {
		if err := cc.Get(ctx, "item:"+strconv.Itoa(i)).Err(); err != redis.Nil {
			t.Fatalf("item:%d after INVALIDATE: %v", i, err)
		}
	}
	want(t, cs[2], int64(0), "invalidate", "user:1")
	// SOFTINVALIDATE: stale everywhere (plain GET misses, the value stays
	// for stale-aware reads during the grace).
	want(t, cs[0], int64(n), "softinvalidate", 60000, "user:2")
	for i := range n {
		if err := cc.Get(ctx, "other:"+strconv.Itoa(i)).Err(); err != redis.Nil {
			t.Fatalf("other:%d after SOFTINVALIDATE: %v", i, err)
		}
	}
	info := cs[1].Info(ctx, "cluster").Val()
	if !strings.Contains(info, "cluster_invalidations_sent:1\r\n") || !strings.Contains(info, "cluster_invalidations_received:2\r\n") ||
		!strings.Contains(info, "cluster_invalidations_pending:0\r\n") {
		t.Fatalf("INFO cluster:\n%s", info)
	}
	// /metrics carries the same state.
	hs := httptest.NewServer(nodes[1].App.NewMetricsHandler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{"cachesrv_cluster_state_ok 1", "cachesrv_cluster_known_nodes 3",
		"cachesrv_cluster_invalidations_sent_total 1", "cachesrv_cluster_invalidations_received_total 2",
		`cachesrv_cluster_bus_messages_total{direction="received"}`} {
		if !strings.Contains(string(body), line) {
			t.Fatalf("/metrics lacks %q", line)
		}
	}
	// Inside MULTI the broadcast does not wait; the keys still go.
	for i := range 20 {
		cc.Do(ctx, "tagset", "late:"+strconv.Itoa(i), "v", "tags", 1, "user:3")
	}
	pipe := cs[0].TxPipeline()
	pipe.Do(ctx, "invalidate", "user:3")
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; i < 20; {
		if cc.Get(ctx, "late:"+strconv.Itoa(i)).Err() == redis.Nil {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("late:%d survived an INVALIDATE inside MULTI", i)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClusterRueidis: rueidis discovers the cluster (CLUSTER SHARDS) from
// one node and spreads a load over three, client-side caching included.
func TestClusterRueidis(t *testing.T) {
	t.Parallel()
	nodes := []*server{startNode(t, t.TempDir(), nil), startNode(t, t.TempDir(), nil), startNode(t, t.TempDir(), nil)}
	cs := formCluster(t, nodes)
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{nodes[0].Addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	const n = 600
	for i := range n {
		k := "r:" + strconv.Itoa(i)
		if err := rc.Do(ctx, rc.B().Set().Key(k).Value(strconv.Itoa(i)).Build()).Error(); err != nil {
			t.Fatalf("rueidis SET %s: %v", k, err)
		}
	}
	for i := range n {
		k := "r:" + strconv.Itoa(i)
		v, err := rc.DoCache(ctx, rc.B().Get().Key(k).Cache(), time.Minute).ToString()
		if err != nil || v != strconv.Itoa(i) {
			t.Fatalf("rueidis cached GET %s = %q, %v", k, v, err)
		}
	}
	// A write on the owning node invalidates the client's cached copy.
	if err := rc.Do(ctx, rc.B().Set().Key("r:7").Value("new").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := rc.DoCache(ctx, rc.B().Get().Key("r:7").Cache(), time.Minute).ToString()
		if err == nil && v == "new" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cached r:7 = %q, %v after an overwrite", v, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var total int64
	for _, c := range cs {
		k := c.DBSize(ctx).Val()
		if k < n/6 {
			t.Fatalf("a node holds %d of %d keys", k, n)
		}
		total += k
	}
	if total != n {
		t.Fatalf("nodes hold %d keys, want %d", total, n)
	}
	if nodes := rc.Nodes(); len(nodes) != 3 {
		t.Fatalf("rueidis sees %d nodes", len(nodes))
	}
}

// TestClusterBusAuth: with requirepass, the bus is encrypted with a key
// derived from it; a node with another password cannot join.
func TestClusterBusAuth(t *testing.T) {
	t.Parallel()
	pw := func(p string) func(*config.Config) { return func(c *config.Config) { c.RequirePass = p } }
	a := startNode(t, t.TempDir(), pw("s3cret"))
	b := startNode(t, t.TempDir(), pw("s3cret"))
	intruder := startNode(t, t.TempDir(), pw("other"))
	ca, cb, ci := a.userClient("default", "s3cret"), b.userClient("default", "s3cret"), intruder.userClient("default", "other")
	_, portA, _ := strings.Cut(a.Addr, ":")
	busA := busPort(t, ca)
	want(t, cb, "OK", "cluster", "meet", "127.0.0.1", portA, busA)
	want(t, ci, "OK", "cluster", "meet", "127.0.0.1", portA, busA)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(ca.ClusterInfo(ctx).Val(), "cluster_known_nodes:2\r\n") {
		if time.Now().After(deadline) {
			t.Fatalf("nodes with the same password did not meet:\n%s", ca.ClusterNodes(ctx).Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the intruder's join had time to fail
	for _, c := range []*redis.Client{ca, cb} {
		if info := c.ClusterInfo(ctx).Val(); !strings.Contains(info, "cluster_known_nodes:2\r\n") {
			t.Fatalf("a node with another password joined:\n%s", c.ClusterNodes(ctx).Val())
		}
	}
	if info := ci.ClusterInfo(ctx).Val(); !strings.Contains(info, "cluster_known_nodes:1\r\n") {
		t.Fatalf("the intruder learned the cluster:\n%s", ci.ClusterNodes(ctx).Val())
	}
}
