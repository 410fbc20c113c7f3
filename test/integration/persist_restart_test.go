package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

// TestRDBImportFromRedis fills a real redis-server (strings, TTLs, 16
// databases, int and LZF encodings, collections, a stream), has it SAVE, and
// starts cachesrv with dbfilename pointing at that dump.rdb and nothing
// else: every string, value and TTL must match, compared by SCAN/GET/PTTL
// against the redis-server that wrote the file.
func TestRDBImportFromRedis(t *testing.T) {
	rc, dir := redisServer(t, portRDBImport)
	ctx := context.Background()
	for db := 0; db < 16; db++ {
		p := rc.Pipeline()
		p.Select(ctx, db)
		for i := range 300 {
			k := fmt.Sprintf("db%d:key:%d", db, i)
			var v string
			switch i % 4 {
			case 0:
				v = strconv.Itoa(i * 1000) // int encodings
			case 1:
				v = strings.Repeat("lzf-"+strconv.Itoa(i), 20) // compressed
			case 2:
				v = "plain " + k
			default:
				v = "\x00binary\xff" + k
			}
			var ttl time.Duration
			if i%3 == 0 {
				ttl = time.Duration(1000+i) * time.Second
			}
			p.Set(ctx, k, v, ttl)
		}
		if db == 3 {
			p.RPush(ctx, "list", "a", "b")
			p.HSet(ctx, "hash", "f", "v")
			p.SAdd(ctx, "set", "m")
			p.ZAdd(ctx, "zset", redis.Z{Score: 1, Member: "m"})
			p.XAdd(ctx, &redis.XAddArgs{Stream: "stream", Values: []string{"f", "v"}})
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := rc.Do(ctx, "save").Err(); err != nil {
		t.Fatal(err)
	}
	s := start(t, func(c *config.Config) {
		c.Dir = dir
		c.DBFilename = "dump.rdb"
		c.Databases = 16
	})
	waitReady(t, s)
	ls := s.App.Persist.Stats().LastLoad
	if ls.Format != "rdb" || ls.Keys != 16*300+4 {
		t.Fatalf("load stats %+v", ls)
	}
	if len(ls.Types) != 1 || ls.Types["stream"] != 1 {
		t.Errorf("skipped types %v, want only the stream", ls.Types)
	}
	// Collections come along (lists, hashes, sets, sorted sets).
	r3 := redis.NewClient(&redis.Options{Addr: rc.Options().Addr, DB: 3})
	c3 := redis.NewClient(&redis.Options{Addr: s.Addr, DB: 3})
	for _, k := range []string{"list", "hash", "set", "zset"} {
		if got, want := collSnapshot(t, c3, k), collSnapshot(t, r3, k); got != want {
			t.Errorf("%s: cachesrv %s, redis-server %s", k, got, want)
		}
	}
	r3.Close()
	c3.Close()
	for db := 0; db < 16; db++ {
		r := redis.NewClient(&redis.Options{Addr: rc.Options().Addr, DB: db})
		c := redis.NewClient(&redis.Options{Addr: s.Addr, DB: db})
		var keys []string
		iter := r.Scan(ctx, 0, "*", 1000).Iterator()
		for iter.Next(ctx) {
			if r.Type(ctx, iter.Val()).Val() == "string" {
				keys = append(keys, iter.Val())
			}
		}
		if len(keys) != 300 {
			t.Fatalf("db %d: redis-server has %d strings", db, len(keys))
		}
		n, _ := c.DBSize(ctx).Result()
		if db == 3 {
			n -= 4 // the collections
		}
		if n != int64(len(keys)) {
			t.Fatalf("db %d: cachesrv has %d keys, redis-server %d strings", db, n, len(keys))
		}
		compare := func(cl *redis.Client) ([]*redis.StringCmd, []*redis.DurationCmd) {
			pipe := cl.Pipeline()
			gets := make([]*redis.StringCmd, len(keys))
			dls := make([]*redis.DurationCmd, len(keys))
			for i, k := range keys {
				gets[i] = pipe.Get(ctx, k)
				dls[i] = pipe.PExpireTime(ctx, k)
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			return gets, dls
		}
		rg, rd := compare(r)
		cg, cd := compare(c)
		for i, k := range keys {
			if rg[i].Val() != cg[i].Val() {
				t.Fatalf("db %d %s: cachesrv %q, redis %q", db, k, trunc(cg[i].Val()), trunc(rg[i].Val()))
			}
			if rd[i].Val() != cd[i].Val() {
				t.Fatalf("db %d %s: cachesrv deadline %v, redis %v", db, k, cd[i].Val(), rd[i].Val())
			}
		}
		r.Close()
		c.Close()
	}
}

// waitReady waits for the load at start to finish.
func waitReady(t *testing.T, s *server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !s.App.Ready() {
		if time.Now().After(deadline) {
			t.Fatal("server never became ready")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestLoadingState checks what clients see while a snapshot loads:
// -LOADING for data commands (and PING, as in Redis), INFO still answers, and
// /readyz is not ready.
func TestLoadingState(t *testing.T) {
	s := start(t, nil)
	c := s.client(2)
	waitReady(t, s) // the (empty) load at start is over
	s.App.Server.SetLoading(true)
	wantErr(t, c, "LOADING Redis is loading the dataset in memory", "get", "k")
	wantErr(t, c, "LOADING Redis is loading the dataset in memory", "set", "k", "v")
	wantErr(t, c, "LOADING Redis is loading the dataset in memory", "ping") // as redis-server does
	if infoField(t, c, "server", "redis_mode") != "standalone" {
		t.Fatal("INFO must answer while loading")
	}
	s.App.Server.SetLoading(false)
	want(t, c, "OK", "set", "k", "v")
	if !s.App.Ready() {
		t.Fatal("not ready after the load")
	}
	rec := httptest.NewRecorder()
	s.App.NewMetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/readyz = %d after the load", rec.Code)
	}
}

// binProc is a cachesrv binary run by a test.
type binProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	port   string
	log    *lockedBuffer
	exited chan error
}

// startSnapProc runs the built binary with dir as its snapshot directory. It
// returns once the port answers PING (the load at start is done) or the
// process exits.
func startSnapProc(t *testing.T, dir string, args ...string) *binProc {
	t.Helper()
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	p := &binProc{t: t, port: port, log: new(lockedBuffer), exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"--port", port, "--metrics-addr", "", "--dir", dir}, args...)...)
	p.cmd.Stderr = p.log
	p.cmd.Stdout = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	c := p.client()
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := c.Get(context.Background(), "\x00probe").Err(); err == nil || err == redis.Nil {
			return p
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			return p
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("binary never served\n%s", p.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *binProc) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + p.port, MaxRetries: -1})
}

// wait returns the exit error once the process ends.
func (p *binProc) wait() error {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatalf("cachesrv did not exit\n%s", p.log)
		return nil
	}
}

// TestRestartThroughBinary: SET with TTLs and tags, SHUTDOWN SAVE, start
// again: everything is back, TTLs count from the original deadlines, tags
// and dependencies work. A plain SHUTDOWN (no save schedule) does not save.
func TestRestartThroughBinary(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p := startSnapProc(t, dir)
	c := p.client()
	deadlines := map[string]int64{}
	for i := range 200 {
		k := "k" + strconv.Itoa(i)
		args := []any{"set", k, "v" + k}
		if i%2 == 0 {
			args = append(args, "px", 3600_000+i)
		}
		if err := c.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
		deadlines[k] = c.PExpireTime(ctx, k).Val().Milliseconds()
	}
	want(t, c, "OK", "tagset", "page:1", "<html>1</html>", "tags", "2", "product:1", "shoes", "ex", "600", "version", "7")
	want(t, c, "OK", "tagset", "page:2", "<html>2</html>", "tags", "1", "shoes", "deps", "1", "k1")
	c5 := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + p.port, DB: 5})
	want(t, c5, "OK", "set", "in-db5", "x")
	c5.Close()
	pageDeadline := c.PExpireTime(ctx, "page:1").Val()
	c.Do(ctx, "shutdown", "save")
	c.Close()
	if err := p.wait(); err != nil {
		t.Fatalf("exit after SHUTDOWN SAVE: %v\n%s", err, p.log)
	}
	snap, err := os.ReadFile(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}

	time.Sleep(20 * time.Millisecond) // the restart takes time; deadlines must not move
	p = startSnapProc(t, dir)
	c = p.client()
	defer c.Close()
	if n := c.DBSize(ctx).Val(); n != 202 {
		t.Fatalf("dbsize after restart %d\n%s", n, p.log)
	}
	for i := range 200 {
		k := "k" + strconv.Itoa(i)
		if v := c.Get(ctx, k).Val(); v != "v"+k {
			t.Fatalf("%s = %q", k, v)
		}
		if d := c.PExpireTime(ctx, k).Val().Milliseconds(); d != deadlines[k] {
			t.Fatalf("%s: deadline %d after restart, was %d", k, d, deadlines[k])
		}
	}
	if d := c.PExpireTime(ctx, "page:1").Val(); d != pageDeadline {
		t.Fatalf("page:1 deadline %v, was %v", d, pageDeadline)
	}
	if v, _ := do(t, c, "vget", "page:1"); fmt.Sprint(v) != "[<html>1</html> 7]" {
		t.Fatalf("VGET page:1 = %v", v)
	}
	if v, _ := do(t, c, "tags", "page:1"); fmt.Sprint(v) != "[product:1 shoes]" && fmt.Sprint(v) != "[shoes product:1]" {
		t.Fatalf("TAGS page:1 = %v", v)
	}
	if v, _ := do(t, c, "deps", "page:2"); fmt.Sprint(v) != "[k1]" {
		t.Fatalf("DEPS page:2 = %v", v)
	}
	c5 = redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + p.port, DB: 5})
	defer c5.Close()
	want(t, c5, "x", "get", "in-db5")
	if !strings.Contains(p.log.String(), "snapshot loaded") {
		t.Fatalf("no load log line:\n%s", p.log)
	}
	// Tags and dependencies work after the restart.
	want(t, c, int64(2), "invalidate", "shoes")
	want(t, c, int64(0), "exists", "page:1", "page:2")
	// A plain SHUTDOWN without a save schedule leaves the snapshot alone.
	c.Do(ctx, "shutdown")
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "dump.rdb")); !bytes.Equal(got, snap) {
		t.Fatal("plain SHUTDOWN without a save schedule rewrote the snapshot")
	}
}

// TestSIGTERMSavesWhenConfigured: with a save schedule, SIGTERM writes a
// snapshot that the next start loads.
func TestSIGTERMSavesWhenConfigured(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p := startSnapProc(t, dir, "--save", "3600 1000000")
	c := p.client()
	want(t, c, "OK", "set", "survivor", "yes")
	c.Close()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(); err != nil {
		t.Fatalf("%v\n%s", err, p.log)
	}
	p = startSnapProc(t, dir)
	c = p.client()
	defer c.Close()
	if v := c.Get(ctx, "survivor").Val(); v != "yes" {
		t.Fatalf("survivor = %q after SIGTERM and restart\n%s", v, p.log)
	}
}

// TestKill9DuringBGSaveKeepsPreviousSnapshot kills the process while a
// background save of a larger keyspace runs; the next start loads the
// previous snapshot, intact.
func TestKill9DuringBGSaveKeepsPreviousSnapshot(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	p := startSnapProc(t, dir)
	c := p.client()
	want(t, c, "OK", "set", "generation", "1")
	want(t, c, "OK", "save")
	// A keyspace large enough that BGSAVE takes a while.
	val := strings.Repeat("x", 400)
	for b := 0; b < 25; b++ {
		pipe := c.Pipeline()
		for i := range 4000 {
			pipe.Set(ctx, "bulk:"+strconv.Itoa(b*4000+i), val, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want(t, c, "OK", "set", "generation", "2")
	want(t, c, "Background saving started", "bgsave")
	// Kill it once the save is writing its temporary file.
	midSave := false
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Microsecond) {
		if tmp, _ := filepath.Glob(filepath.Join(dir, "temp-*.csnap")); len(tmp) > 0 {
			midSave = true
			break
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait()
	c.Close()
	t.Logf("killed while the temporary file was being written: %v", midSave)

	p = startSnapProc(t, dir)
	c = p.client()
	defer c.Close()
	gen := c.Get(ctx, "generation").Val()
	n := c.DBSize(ctx).Val()
	// Either the old snapshot, or (if the save won the race) the new one,
	// complete: never a mix.
	if !(gen == "1" && n == 1) && !(gen == "2" && n == 100001) {
		t.Fatalf("after kill -9: generation %q with %d keys\n%s", gen, n, p.log)
	}
	t.Logf("kill -9 during BGSAVE: loaded generation %s (%d keys)", gen, n)
	if tmp, _ := filepath.Glob(filepath.Join(dir, "temp-*")); len(tmp) != 0 {
		t.Fatalf("temporary files not cleaned at start: %v", tmp)
	}
}

// TestCorruptSnapshotRefusedByBinary flips one byte: the binary refuses
// to start with a clear message, and starts empty when told to.
func TestCorruptSnapshotRefusedByBinary(t *testing.T) {
	dir := t.TempDir()
	p := startSnapProc(t, dir)
	c := p.client()
	want(t, c, "OK", "set", "k", "some value")
	c.Do(context.Background(), "shutdown", "save")
	c.Close()
	p.wait()
	path := filepath.Join(dir, "dump.rdb")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-12] ^= 0x01
	os.WriteFile(path, b, 0o600)

	p = startSnapProc(t, dir)
	if err := p.wait(); err == nil {
		t.Fatalf("started on a corrupt snapshot\n%s", p.log)
	}
	if !strings.Contains(p.log.String(), "snapshot is corrupt") || !strings.Contains(p.log.String(), "start-empty-on-bad-snapshot") {
		t.Fatalf("unclear message:\n%s", p.log)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
		t.Fatal("the refused snapshot was overwritten")
	}

	p = startSnapProc(t, dir, "--start-empty-on-bad-snapshot", "yes")
	c = p.client()
	defer c.Close()
	if n := c.DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("dbsize %d on start-empty", n)
	}
	sc := bufio.NewScanner(strings.NewReader(p.log.String()))
	found := false
	for sc.Scan() {
		found = found || strings.Contains(sc.Text(), "starting empty")
	}
	if !found {
		t.Fatalf("no warning about starting empty:\n%s", p.log)
	}
}
