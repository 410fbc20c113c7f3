package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startCrashable runs the binary with a config file; kill stops it with
// SIGKILL (no drain, no journal close).
func startCrashable(t *testing.T, cfgPath string) (addr string, kill func(), stderr *bytes.Buffer) {
	t.Helper()
	bin := buildBinary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, "--config", cfgPath, "--port", port, "--metrics-addr", "")
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	kill = func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				kill()
			}
		}
	})
	addr = "127.0.0.1:" + port
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr, kill, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("binary never listened: %v\n%s", err, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOriginWriteBehindCrash kills the server (SIGKILL) in the middle of a
// write-behind load with fsync always, restarts it on the same journal and
// checks that every acknowledged write is in the table (count and
// checksum).
func TestOriginWriteBehindCrash(t *testing.T) {
	t.Parallel()
	pg, conn := pgWithSchema(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`dir: %s
origins:
  users:
    kind: postgres
    url: "%s"
    load: SELECT payload FROM users WHERE id = {id}
    store: INSERT INTO users (id, payload) VALUES ({id}, {value}) ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload
    delete: DELETE FROM users WHERE id = {id}
    write_behind:
      fsync: always
      flush_interval: 200ms
routes:
  - pattern: "user:{id}"
    origin: users
    write: behind
`, dir, pg.URL)
	cfgPath := filepath.Join(dir, "cachesrv.yaml")
	os.WriteFile(cfgPath, []byte(cfg), 0o600)
	addr, kill, stderr := startCrashable(t, cfgPath)
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 16, MaxRetries: -1})
	var mu sync.Mutex
	acked := map[int]string{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := 10000 + w*1000000 + i
				v := fmt.Sprintf("w%d-%d", w, i)
				if c.Set(ctx, fmt.Sprintf("user:%d", id), v, 0).Err() != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[id] = v
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond) // a load in flight, not a TTL wait
	kill()
	close(stop)
	wg.Wait()
	c.Close()
	if len(acked) < 100 {
		t.Fatalf("only %d writes acknowledged before the kill:\n%s", len(acked), stderr)
	}
	// Restart on the same journal; the replay sends what was pending.
	addr, _, stderr = startCrashable(t, cfgPath)
	c = redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.Do(ctx, "ORIGIN", "FLUSH", "60").Err(); err != nil {
		t.Fatalf("ORIGIN FLUSH after restart: %v\n%s", err, stderr)
	}
	ids := make([]int, 0, len(acked))
	for id := range acked {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	want, got := sha256.New(), sha256.New()
	for _, id := range ids {
		fmt.Fprintf(want, "%d=%s;", id, acked[id])
	}
	rows, err := conn.Query(ctx, "SELECT id, payload FROM users WHERE id = ANY($1) ORDER BY id", ids)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var id int
		var p string
		rows.Scan(&id, &p)
		fmt.Fprintf(got, "%d=%s;", id, p)
		n++
	}
	rows.Close()
	t.Logf("kill -9 with fsync always: %d acknowledged writes, %d rows after restart", len(acked), n)
	if n != len(acked) || !bytes.Equal(want.Sum(nil), got.Sum(nil)) {
		t.Fatalf("after kill -9 and restart: %d of %d acknowledged writes in the table (checksum match %v)",
			n, len(acked), bytes.Equal(want.Sum(nil), got.Sum(nil)))
	}
}
