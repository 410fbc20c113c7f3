package integration

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds cmd/cachesrv once per test binary run.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cachesrv-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "cachesrv")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/cachesrv").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func needRedisCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("SKIPPING: redis-cli not found; install redis-tools (apt-get install redis-tools) to run this test. CI installs it.")
	}
	return p
}

// runBinary starts the built binary on a free port the way a user would
// and returns the port; the process is stopped with SIGTERM at cleanup,
// which must exit 0.
func runBinary(t *testing.T, args ...string) (port string, stderr *bytes.Buffer) {
	t.Helper()
	bin := buildBinary(t)
	// Ask the kernel for a free port, then hand it to the binary. (The
	// in-process harness avoids this race by passing listeners; a separate
	// process cannot take one.)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port = fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, append([]string{"--port", port, "--metrics-addr", ""}, args...)...)
	stderr = new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("cachesrv exited with %v after SIGTERM; log:\n%s", err, stderr)
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Errorf("cachesrv did not exit after SIGTERM")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return port, stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("binary never listened: %v\n%s", err, stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func cli(t *testing.T, port string, args ...string) string {
	t.Helper()
	out, err := exec.Command(needRedisCLI(t), append([]string{"-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestBinaryWithRedisCLI builds and runs the binary like a user and drives
// it with redis-cli, including a pipelined load of keys with --pipe.
func TestBinaryWithRedisCLI(t *testing.T) {
	needRedisCLI(t)
	port, _ := runBinary(t)
	if got := cli(t, port, "ping"); got != "PONG" {
		t.Fatalf("ping: %q", got)
	}
	if got := cli(t, port, "set", "greeting", "hello", "EX", "60"); got != "OK" {
		t.Fatal(got)
	}
	if got := cli(t, port, "get", "greeting"); got != "hello" {
		t.Fatal(got)
	}
	if got := cli(t, port, "ttl", "greeting"); got != "60" && got != "59" {
		t.Fatal(got)
	}
	if got := cli(t, port, "nosuchcmd", "x"); !strings.Contains(got, "ERR unknown command 'nosuchcmd', with args beginning with: 'x'") {
		t.Fatal(got)
	}
	// RESP3 through redis-cli -3
	if got := cli(t, port, "-3", "hello", "3"); !strings.Contains(got, "proto") {
		t.Fatal(got)
	}
	// Mass insertion with --pipe, as the Redis docs describe it.
	const n = 100000
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for i := 0; i < n; i++ {
		k, v := fmt.Sprintf("key:%010d", i), fmt.Sprintf("val:%027d", i)
		fmt.Fprintf(w, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", len(k), k, len(v), v)
	}
	w.Flush()
	cmd := exec.Command(needRedisCLI(t), "-p", port, "--pipe")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "errors: 0, replies: 100000") {
		t.Fatalf("--pipe: %v\n%s", err, out)
	}
	if got := cli(t, port, "dbsize"); got != "100001" {
		t.Fatalf("dbsize after --pipe: %s", got)
	}
	if got := cli(t, port, "get", "key:0000099999"); got != fmt.Sprintf("val:%027d", 99999) {
		t.Fatal(got)
	}
	if got := cli(t, port, "--scan", "--pattern", "key:000009999*"); len(strings.Fields(got)) != 10 {
		t.Fatalf("--scan: %q", got)
	}
	if got := cli(t, port, "info", "keyspace"); !strings.Contains(got, "db0:keys=100001,expires=1") {
		t.Fatal(got)
	}
}

// TestBinaryConfig checks flags, environment and --config precedence, and
// that bad configuration exits non-zero listing every problem.
func TestBinaryConfig(t *testing.T) {
	needRedisCLI(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("maxmemory: 10mb\ndatabases: 4\nmaxmemory-policy: allkeys-lru\n"), 0o600)
	t.Setenv("CACHESRV_DATABASES", "8")
	port, _ := runBinary(t, "--config", file, "--maxmemory", "20mb")
	if got := cli(t, port, "config", "get", "maxmemory"); !strings.HasSuffix(got, "20971520") {
		t.Fatalf("flag should beat file: %q", got)
	}
	if got := cli(t, port, "config", "get", "databases"); !strings.HasSuffix(got, "8") {
		t.Fatalf("env should beat file: %q", got)
	}
	if got := cli(t, port, "config", "get", "maxmemory-policy"); !strings.HasSuffix(got, "allkeys-lru") {
		t.Fatalf("file should beat default: %q", got)
	}
	if got := cli(t, port, "config", "rewrite"); got != "OK" {
		t.Fatalf("config rewrite: %q", got)
	}
	out, err := exec.Command(buildBinary(t), "--port", "-1", "--maxmemory", "lots", "--shards", "3").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("bad config exited with %v", err)
	}
	for _, want := range []string{"port", "maxmemory", "shards"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
}
