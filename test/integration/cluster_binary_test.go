package integration

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterProc is one cachesrv binary run as a cluster node.
type clusterProc struct {
	t        *testing.T
	port     string
	bus      int
	dir      string
	cmd      *exec.Cmd
	exited   chan error
	stderr   *lockedBuffer
	extra    []string
	stopOnce sync.Once
}

// freeClientPort returns a free TCP port (the usual small race: a
// separate process cannot be handed a listener).
func freeClientPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// startClusterProc runs the binary as a cluster node with short timeouts;
// it is stopped with SIGTERM (and must exit 0) when the test ends, unless
// the test killed it.
func startClusterProc(t *testing.T, extra ...string) *clusterProc {
	t.Helper()
	p := &clusterProc{t: t, port: freeClientPort(t), bus: freeBusPort(t), dir: t.TempDir(), extra: extra}
	p.start()
	return p
}

func (p *clusterProc) start() {
	t := p.t
	t.Helper()
	args := append([]string{"--port", p.port, "--metrics-addr", "", "--dir", p.dir,
		"--cluster-enabled", "yes", "--cluster-port", strconv.Itoa(p.bus), "--cluster-node-timeout", "1000"}, p.extra...)
	p.cmd = exec.Command(buildBinary(t), args...)
	p.stderr = new(lockedBuffer)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.exited = make(chan error, 1)
	cmd, exited := p.cmd, p.exited
	go func() { exited <- cmd.Wait() }()
	p.stopOnce = sync.Once{}
	t.Cleanup(p.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+p.port)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node never listened: %v\n%s", err, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the process with SIGTERM; it must exit 0.
func (p *clusterProc) stop() {
	p.stopOnce.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.exited:
			if err != nil {
				p.t.Errorf("node %s exited with %v after SIGTERM; log:\n%s", p.port, err, p.stderr)
			}
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			p.t.Errorf("node %s did not exit after SIGTERM", p.port)
		}
	})
}

// kill9 ends the process at once, as a crash would.
func (p *clusterProc) kill9() {
	p.stopOnce.Do(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
}

func (p *clusterProc) addr() string { return "127.0.0.1:" + p.port }

// redisCLICluster runs redis-cli --cluster and returns its output.
func redisCLICluster(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(needRedisCLI(t), append([]string{"--cluster"}, args...)...)
	cmd.Env = append(cmd.Environ(), "TERM=dumb")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// checkClean asserts redis-cli --cluster check finds nothing to report.
func checkClean(t *testing.T, addr string) string {
	t.Helper()
	out := redisCLICluster(t, "check", addr)
	for _, want := range []string{"[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered."} {
		if !strings.Contains(out, want) {
			t.Fatalf("redis-cli --cluster check %s lacks %q:\n%s", addr, want, out)
		}
	}
	if strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERR]") {
		t.Fatalf("redis-cli --cluster check %s:\n%s", addr, out)
	}
	return out
}

// createCluster starts n binaries and joins them with redis-cli --cluster
// create.
func createCluster(t *testing.T, n int, extra ...string) []*clusterProc {
	t.Helper()
	needRedisCLI(t)
	var procs []*clusterProc
	args := []string{"create"}
	for range n {
		p := startClusterProc(t, extra...)
		procs = append(procs, p)
		args = append(args, p.addr())
	}
	out := redisCLICluster(t, append(args, "--cluster-yes")...)
	if !strings.Contains(out, "[OK] All 16384 slots covered.") {
		t.Fatalf("redis-cli --cluster create:\n%s", out)
	}
	checkClean(t, procs[n-1].addr())
	return procs
}

// slotsServedBy returns, from c's CLUSTER SLOTS, how many slots each
// address serves.
func slotsServedBy(c *redis.Client) map[string]int {
	out := make(map[string]int)
	//lint:ignore SA1019 CLUSTER SLOTS is what older clients read; it is tested as such
	for _, r := range c.ClusterSlots(ctx).Val() {
		out[r.Nodes[0].Addr] += r.End - r.Start + 1
	}
	return out
}

// TestClusterBinaryCreateFailover: three real binaries joined by
// redis-cli --cluster create; a go-redis ClusterClient load; kill -9 of
// one node: the survivors serve its slots (empty) within
// cluster-node-timeout + 2 s and the client recovers without a restart;
// the node comes back empty and rejoins, and --cluster check is clean.
func TestClusterBinaryCreateFailover(t *testing.T) {
	procs := createCluster(t, 3)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{procs[0].addr()}, MaxRedirects: 8,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
	defer cc.Close()
	const keys = 3000
	for i := range keys {
		if err := cc.Set(ctx, "key:"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatalf("SET through the cluster client: %v", err)
		}
	}
	total := int64(0)
	for _, p := range procs {
		c := redis.NewClient(&redis.Options{Addr: p.addr()})
		n := c.DBSize(ctx).Val()
		c.Close()
		if n < keys/6 {
			t.Fatalf("node %s holds %d of %d keys", p.addr(), n, keys)
		}
		total += n
	}
	if total != keys {
		t.Fatalf("the nodes hold %d keys, want %d", total, keys)
	}

	// A load runs through the failure; the time of the last error tells
	// when the client recovered. go-redis follows MOVED at once but only
	// refreshes the slots of a node it cannot reach when its slot map is 10 s
	// old, so the client recovers within about 10 s of the takeover.
	var (
		stop    atomic.Bool
		lastErr atomic.Int64 // unix ns
		errsAll atomic.Int64
		ops     atomic.Int64
		wg      sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				k := "load:" + strconv.Itoa(w) + ":" + strconv.Itoa(i%500)
				err := cc.Set(ctx, k, i, 0).Err()
				if err == nil {
					err = cc.Get(ctx, k).Err()
				}
				ops.Add(1)
				if err != nil {
					errsAll.Add(1)
					lastErr.Store(time.Now().UnixNano())
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	victim := procs[2]
	c0 := redis.NewClient(&redis.Options{Addr: procs[0].addr()})
	defer c0.Close()
	killed := time.Now()
	victim.kill9()
	for {
		served := slotsServedBy(c0)
		if served[victim.addr()] == 0 && served[procs[0].addr()]+served[procs[1].addr()] == 16384 {
			break
		}
		if time.Since(killed) > 1*time.Second+2*time.Second {
			t.Fatalf("slots not taken over %v after kill -9: %v\n%s", time.Since(killed), served, c0.ClusterNodes(ctx).Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(killed)
	if !strings.Contains(c0.ClusterNodes(ctx).Val(), "master,fail") {
		t.Fatalf("the killed node is not flagged fail:\n%s", c0.ClusterNodes(ctx).Val())
	}
	if !strings.Contains(c0.ClusterInfo(ctx).Val(), "cluster_state:ok") {
		t.Fatal("the survivors' cluster is not ok")
	}
	// The client has recovered once a full second passes without an error
	// (the race detector slows the client's map refresh down).
	recoverLimit := 15 * time.Second
	if raceOn {
		recoverLimit = 25 * time.Second
	}
	for time.Since(time.Unix(0, max(lastErr.Load(), killed.UnixNano()))) < time.Second {
		if time.Since(killed) > recoverLimit {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("the cluster client still fails %v after kill -9 (%d errors)", time.Since(killed), errsAll.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	recoveredAfter := time.Duration(max(lastErr.Load()-killed.UnixNano(), 0))
	t.Logf("kill -9: slots served by the survivors after %v; client's last error %v after the kill; load: %d ops, %d errors",
		took, recoveredAfter, ops.Load(), errsAll.Load())

	// The node comes back (same port, same nodes.conf) and rejoins empty.
	victim.start()
	cv := redis.NewClient(&redis.Options{Addr: victim.addr()})
	defer cv.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes := c0.ClusterNodes(ctx).Val()
		mine := slotsServedBy(cv)[victim.addr()]
		if !strings.Contains(nodes, "fail") && mine == 0 && strings.Contains(cv.ClusterInfo(ctx).Val(), "cluster_known_nodes:3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted node did not rejoin:\n%s\n%s", nodes, cv.ClusterNodes(ctx).Val())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := cv.DBSize(ctx).Val(); n != 0 {
		t.Fatalf("the restarted node holds %d keys", n)
	}
	checkClean(t, victim.addr())
	ctx2, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range 200 {
		if err := cc.Set(ctx2, fmt.Sprint("after:", i), i, 0).Err(); err != nil {
			t.Fatalf("SET after the rejoin: %v", err)
		}
	}
}

// TestClusterBinaryReshard moves slots holding keys with
// redis-cli --cluster reshard while a go-redis ClusterClient reads and
// writes: no client error, no stale read, no key lost or duplicated
// (count and checksum of every key and value after).
func TestClusterBinaryReshard(t *testing.T) {
	procs := createCluster(t, 3)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{procs[0].addr()}, MaxRedirects: 16})
	defer cc.Close()
	const keys = 20000
	const workers = 4
	// final[i] is the value key:i must hold at the end: the preload's,
	// then the last write each worker had acknowledged.
	final := make([]string, keys)
	pipe := cc.Pipeline()
	for i := range keys {
		final[i] = "v0:" + strconv.Itoa(i)
		pipe.Set(ctx, "key:"+strconv.Itoa(i), final[i], 0)
		if i%1000 == 999 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("preload: %v", err)
			}
		}
	}
	var (
		stop      atomic.Bool
		errs      atomic.Int64
		stale     atomic.Int64
		ops       atomic.Int64
		wg        sync.WaitGroup
		firstErrs = make(chan string, 5)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Worker w owns the keys i with i % workers == w: it is the only
			// writer of those, so a read must return its last write.
			for n := 1; !stop.Load(); n++ {
				i := (n*7919)%(keys/workers)*workers + w
				k := "key:" + strconv.Itoa(i)
				if n%3 == 0 {
					v := "v" + strconv.Itoa(n) + ":" + strconv.Itoa(i)
					if err := cc.Set(ctx, k, v, 0).Err(); err != nil {
						errs.Add(1)
						select {
						case firstErrs <- err.Error():
						default:
						}
						continue
					}
					final[i] = v
				} else {
					got, err := cc.Get(ctx, k).Result()
					if err != nil {
						errs.Add(1)
						select {
						case firstErrs <- err.Error():
						default:
						}
						continue
					}
					if got != final[i] {
						stale.Add(1)
					}
				}
				ops.Add(1)
			}
		}()
	}
	c0 := redis.NewClient(&redis.Options{Addr: procs[0].addr()})
	defer c0.Close()
	c1 := redis.NewClient(&redis.Options{Addr: procs[1].addr()})
	defer c1.Close()
	from, to := c0.ClusterMyID(ctx).Val(), c1.ClusterMyID(ctx).Val()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	const moveSlots = 200
	out := redisCLICluster(t, "reshard", procs[0].addr(), "--cluster-from", from, "--cluster-to", to,
		"--cluster-slots", strconv.Itoa(moveSlots), "--cluster-yes")
	took := time.Since(start)
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	close(firstErrs)
	for e := range firstErrs {
		t.Logf("client error: %s", e)
	}
	if !strings.Contains(out, "Moving slot") {
		t.Fatalf("reshard moved nothing:\n%s", out)
	}
	served := slotsServedBy(c0)
	if served[procs[1].addr()] != 5462+moveSlots {
		t.Fatalf("after reshard: %v", served)
	}
	t.Logf("reshard of %d slots (%d keys in all) took %v under a load of %d ops: %d errors, %d stale reads",
		moveSlots, keys, took, ops.Load(), errs.Load(), stale.Load())
	if errs.Load() != 0 || stale.Load() != 0 {
		t.Fatalf("%d client errors, %d stale reads during the reshard", errs.Load(), stale.Load())
	}
	checkClean(t, procs[2].addr())
	// Count and checksum: every key once, with its last acknowledged value.
	var total int64
	for _, p := range procs {
		c := redis.NewClient(&redis.Options{Addr: p.addr()})
		total += c.DBSize(ctx).Val()
		c.Close()
	}
	if total != keys {
		t.Fatalf("the nodes hold %d keys, want %d", total, keys)
	}
	var sumWant, sumGot uint64
	for i := range keys {
		got, err := cc.Get(ctx, "key:"+strconv.Itoa(i)).Result()
		if err != nil {
			t.Fatalf("GET key:%d after the reshard: %v", i, err)
		}
		sumWant += fnv64(final[i]) * uint64(i+1)
		sumGot += fnv64(got) * uint64(i+1)
	}
	if sumWant != sumGot {
		t.Fatalf("checksum of the values after the reshard %x, want %x", sumGot, sumWant)
	}
	if info := c0.Info(ctx, "cluster").Val(); strings.Contains(info, "cluster_keys_migrated:0\r\n") {
		t.Fatalf("the source reports no migrated keys:\n%s", info)
	}
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// TestClusterBinaryInvalidateAbsent: an INVALIDATE while one node is
// frozen (SIGSTOP, past cluster-node-timeout) returns with the count of
// the nodes that answered; the frozen node gets it when it comes back
// (at-least-once), and its tagged keys are gone.
func TestClusterBinaryInvalidateAbsent(t *testing.T) {
	procs := createCluster(t, 3, "--cluster-slot-takeover", "no")
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{procs[0].addr()}})
	defer cc.Close()
	const n = 300
	for i := range n {
		if err := cc.Do(ctx, "tagset", "item:"+strconv.Itoa(i), "v", "tags", 1, "user:1").Err(); err != nil {
			t.Fatal(err)
		}
	}
	frozen := procs[2]
	cf := redis.NewClient(&redis.Options{Addr: frozen.addr(), ReadTimeout: 5 * time.Second})
	defer cf.Close()
	onFrozen := cf.DBSize(ctx).Val()
	// A key the frozen node serves, to read back directly later.
	var probe string
	for i := range n {
		k := "item:" + strconv.Itoa(i)
		if cf.Exists(ctx, k).Val() == 1 {
			probe = k
			break
		}
	}
	if probe == "" || onFrozen == 0 {
		t.Fatal("the third node holds no tagged key")
	}
	frozen.cmd.Process.Signal(syscall.SIGSTOP)
	// A failure below must not leave the node stopped (it would not exit on
	// SIGTERM in the cleanup).
	defer frozen.cmd.Process.Signal(syscall.SIGCONT)
	c0 := redis.NewClient(&redis.Options{Addr: procs[0].addr(), ReadTimeout: 10 * time.Second})
	defer c0.Close()
	began := time.Now()
	got, err := c0.Do(ctx, "invalidate", "user:1").Int64()
	waited := time.Since(began)
	if err != nil {
		t.Fatal(err)
	}
	if got != n-onFrozen {
		t.Fatalf("INVALIDATE with a frozen node counted %d, want %d (the live nodes' keys)", got, n-onFrozen)
	}
	if !strings.Contains(c0.Info(ctx, "cluster").Val(), "cluster_invalidations_pending:1\r\n") {
		t.Fatalf("no pending invalidation for the frozen node:\n%s", c0.Info(ctx, "cluster").Val())
	}
	frozen.cmd.Process.Signal(syscall.SIGCONT)
	thawed := time.Now()
	for cf.Exists(ctx, probe).Val() == 1 {
		if time.Since(thawed) > 10*time.Second {
			t.Fatalf("the invalidation never reached the node that was frozen:\n%s", c0.Info(ctx, "cluster").Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
	reached := time.Since(thawed)
	for !strings.Contains(c0.Info(ctx, "cluster").Val(), "cluster_invalidations_pending:0\r\n") {
		if time.Since(thawed) > 10*time.Second {
			t.Fatal("the invalidation was never acknowledged")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if k := cf.DBSize(ctx).Val(); k != onFrozen {
		t.Logf("frozen node holds %d keys (unreclaimed, invisible)", k)
	}
	for i := range n {
		if err := cc.Get(ctx, "item:"+strconv.Itoa(i)).Err(); err != redis.Nil {
			t.Fatalf("item:%d after the frozen node came back: %v", i, err)
		}
	}
	t.Logf("INVALIDATE with a frozen node returned after %v; the node applied it %v after SIGCONT", waited, reached)
}
