package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Ports for the redis-server instances these tests start (the persistence
// work owns 7400-7499; each test takes its own).
const (
	portDumpRestore = 7401
	portRDBImport   = 7402
)

func init() {
	for _, n := range []string{"dump", "restore"} {
		commandCases[n] = persistCase(n)
	}
	commandCases["save"] = func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "set", "k", "v")
		want(t, c, "OK", "save")
		cfg := s.App.Config()
		if fi, err := os.Stat(filepath.Join(cfg.Dir, cfg.DBFilename)); err != nil || fi.Size() == 0 {
			t.Fatalf("no snapshot after SAVE: %v", err)
		}
		if v := infoField(t, c, "persistence", "rdb_changes_since_last_save"); v != "0" {
			t.Fatalf("rdb_changes_since_last_save = %s after SAVE", v)
		}
		want(t, c, "OK", "set", "k2", "v")
		if v := infoField(t, c, "persistence", "rdb_changes_since_last_save"); v != "1" {
			t.Fatalf("rdb_changes_since_last_save = %s after one write", v)
		}
		wantErr(t, c, "ERR wrong number of arguments for 'save' command", "save", "x")
		// The schedule is off by default and set with Redis's syntax.
		want(t, c, []any{"save", ""}, "config", "get", "save")
		want(t, c, "OK", "config", "set", "save", "900 1 60  1000")
		want(t, c, []any{"save", "900 1 60 1000"}, "config", "get", "save")
		wantErr(t, c, "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters", "config", "set", "save", "900")
		want(t, c, "OK", "config", "set", "save", "")
		// A changed dbfilename is where the next SAVE writes.
		want(t, c, "OK", "config", "set", "dbfilename", "other.snap")
		want(t, c, "OK", "save")
		if _, err := os.Stat(filepath.Join(cfg.Dir, "other.snap")); err != nil {
			t.Fatalf("SAVE after CONFIG SET dbfilename: %v", err)
		}
	}
	commandCases["bgsave"] = func(t *testing.T, s *server, c *redis.Client) {
		want(t, c, "OK", "set", "k", "v")
		want(t, c, "Background saving started", "bgsave")
		waitBGSave(t, c)
		if v := infoField(t, c, "persistence", "rdb_last_bgsave_status"); v != "ok" {
			t.Fatalf("rdb_last_bgsave_status = %s", v)
		}
		if v, _ := do(t, c, "bgsave", "schedule"); v != "Background saving started" && v != "Background saving scheduled" {
			t.Fatalf("BGSAVE SCHEDULE: %v", v)
		}
		waitBGSave(t, c)
		wantErr(t, c, "ERR syntax error", "bgsave", "later")
		wantErr(t, c, "ERR syntax error", "bgsave", "schedule", "x")
	}
	commandCases["lastsave"] = func(t *testing.T, s *server, c *redis.Client) {
		before, _ := do(t, c, "lastsave")
		time.Sleep(1100 * time.Millisecond) // LASTSAVE has one-second resolution
		want(t, c, "OK", "save")
		after, _ := do(t, c, "lastsave")
		if after.(int64) <= before.(int64) || after.(int64) > time.Now().Unix() {
			t.Fatalf("LASTSAVE %v then %v", before, after)
		}
		wantErr(t, c, "ERR wrong number of arguments for 'lastsave' command", "lastsave", "x")
	}
}

// waitBGSave polls INFO until no background save runs.
func waitBGSave(t *testing.T, c *redis.Client) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for infoField(t, c, "persistence", "rdb_bgsave_in_progress") != "0" {
		if time.Now().After(deadline) {
			t.Fatal("background save never finished")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// redisServer starts a redis-server on 127.0.0.1:port with its files in a
// temporary directory and stops it at cleanup. It skips the test, loudly,
// when redis-server is not installed.
func redisServer(t *testing.T, port int, extra ...string) (c *redis.Client, dir string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("SKIPPING: redis-server not found; install it (apt-get install redis-server) to run this cross-check. CI (.ci/run) installs it.")
	}
	dir = t.TempDir()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--dbfilename", "dump.rdb", "--daemonize", "no", "--logfile", ""}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	c = redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1})
	t.Cleanup(func() {
		c.Close()
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d never answered", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c, dir
}

// persistCase is the commandCases entry of DUMP and RESTORE: a round trip
// through cachesrv alone (the cross-check with redis-server is
// TestDumpRestoreWithRedis).
func persistCase(name string) func(t *testing.T, s *server, c *redis.Client) {
	return func(t *testing.T, s *server, c *redis.Client) {
		ctx := context.Background()
		want(t, c, nil, "dump", "missing")
		want(t, c, "OK", "set", "k", "hello", "px", 100000)
		p, err := c.Dump(ctx, "k").Result()
		if err != nil {
			t.Fatal(err)
		}
		wantErr(t, c, "BUSYKEY Target key name already exists.", "restore", "k", 0, p)
		want(t, c, "OK", "restore", "k2", 50000, p)
		want(t, c, "hello", "get", "k2")
		if d := c.PTTL(ctx, "k2").Val(); d <= 49000*time.Millisecond || d > 50000*time.Millisecond {
			t.Fatalf("pttl %v", d)
		}
		want(t, c, "OK", "restore", "k", 0, p, "replace")
		want(t, c, int64(-1), "ttl", "k")
		abs := time.Now().Add(time.Hour).UnixMilli()
		want(t, c, "OK", "restore", "k3", abs, p, "absttl", "freq", 100)
		want(t, c, abs, "pexpiretime", "k3")
		want(t, c, "OK", "restore", "k4", 1, p, "absttl") // deadline in the past: OK, nothing stored
		want(t, c, int64(0), "exists", "k4")
		bad := []byte(p)
		bad[2] ^= 0xff
		wantErr(t, c, "ERR DUMP payload version or checksum are wrong", "restore", "k5", 0, string(bad))
		wantErr(t, c, "ERR DUMP payload version or checksum are wrong", "restore", "k5", 0, "short")
		wantErr(t, c, "ERR Invalid TTL value, must be >= 0", "restore", "k5", -1, p)
		wantErr(t, c, "ERR value is not an integer or out of range", "restore", "k5", "x", p)
		wantErr(t, c, "ERR Invalid FREQ value, must be >= 0 and <= 255", "restore", "k5", 0, p, "freq", 256)
		wantErr(t, c, "ERR Invalid IDLETIME value, must be >= 0", "restore", "k5", 0, p, "idletime", -1)
		wantErr(t, c, "ERR syntax error", "restore", "k5", 0, p, "freq", 1, "idletime", 1)
		wantErr(t, c, "ERR syntax error", "restore", "k5", 0, p, "bogus")
		wantErr(t, c, "ERR wrong number of arguments for '"+name+"' command", name)
	}
}

// TestDumpRestoreWithRedis copies keys from a real redis-server into
// cachesrv with DUMP/RESTORE and back, and checks both servers give the
// same errors for the same bad input.
func TestDumpRestoreWithRedis(t *testing.T) {
	rc, _ := redisServer(t, portDumpRestore)
	s := start(t, nil)
	c := s.client(2)
	ctx := context.Background()
	values := map[string]string{
		"plain": "bar", "empty": "", "int8": "-12", "int16": "1000", "int32": "2000000000", "bigint": "9000000000",
		"lead0": "007", "lzf": strings.Repeat("abcdefgh", 2000), "binary": "\x00\xff\r\n", "long": strings.Repeat("z", 100000),
	}
	ttls := map[string]time.Duration{"plain": time.Hour, "lzf": 90 * time.Second, "int16": 5 * time.Second}
	for k, v := range values {
		if err := rc.Set(ctx, k, v, ttls[k]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// redis-server → cachesrv
	for k, v := range values {
		p, err := rc.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		pttl := rc.PTTL(ctx, k).Val()
		ttl := int64(0)
		if pttl > 0 {
			ttl = pttl.Milliseconds()
		}
		if err := c.Restore(ctx, k, time.Duration(ttl)*time.Millisecond, p).Err(); err != nil {
			t.Fatalf("RESTORE %s into cachesrv: %v", k, err)
		}
		if got := c.Get(ctx, k).Val(); got != v {
			t.Fatalf("%s: cachesrv has %q want %q", k, trunc(got), trunc(v))
		}
		if got := c.PTTL(ctx, k).Val(); (got < 0) != (pttl < 0) || absDur(got-pttl) > time.Second {
			t.Fatalf("%s: cachesrv pttl %v, redis %v", k, got, pttl)
		}
	}
	// cachesrv → redis-server, into fresh names
	for k, v := range values {
		p, err := c.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := rc.RestoreReplace(ctx, "back:"+k, 0, p).Err(); err != nil {
			t.Fatalf("RESTORE %s into redis-server: %v", k, err)
		}
		if got := rc.Get(ctx, "back:"+k).Val(); got != v {
			t.Fatalf("%s: redis-server has %q want %q", k, trunc(got), trunc(v))
		}
		// Byte-identical payloads for what Redis does not compress.
		if rp := rc.Dump(ctx, k).Val(); len(v) <= 20 && rp != p {
			t.Fatalf("%s: payload differs from redis-server's: %q vs %q", k, p, rp)
		}
	}
	// Same errors from both servers.
	p := rc.Dump(ctx, "plain").Val()
	bad := []byte(p)
	bad[3] ^= 1
	for _, args := range [][]any{
		{"restore", "plain", 0, p},
		{"restore", "new", 0, string(bad)},
		{"restore", "new", -5, p},
		{"restore", "new", 0, p, "freq", 300},
		{"restore", "new", 0, p, "idletime", -2},
		{"restore", "new", 0, p, "idletime", 1, "freq", 2},
		{"restore", "new", 0, p, "replace", "nope"},
		{"restore", "new", "ttl", p},
	} {
		_, re := do(t, rc, args...)
		_, ce := do(t, c, args...)
		if re == "" || re != ce {
			t.Errorf("%v: redis-server says %q, cachesrv %q", args[:3], re, ce)
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", s[:40], len(s))
	}
	return s
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
