// Package pgtest starts a throw-away PostgreSQL cluster for tests: initdb in
// a temporary directory, postgres listening on a Unix socket only (no TCP
// port to collide on), stopped and removed when the test ends.
//
// initdb and postgres refuse to run as root, so when the test runs as root
// (CI does) the cluster belongs to the "postgres" system user and the
// commands run through runuser. When PostgreSQL cannot be started the test
// is skipped with a loud message, unless CACHESRV_REQUIRE_PG is set (.ci/run
// sets it): then it fails.
package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// Cluster is a running PostgreSQL server.
type Cluster struct {
	// Dir is the data directory; the server's socket is in it.
	Dir string
	// URL is a libpq connection URL for the database "postgres" as the
	// cluster's superuser.
	URL string
	// Env holds PGHOST, PGPORT, PGUSER and PGDATABASE for the cluster.
	Env []string

	bin  string
	asPG bool
}

func binDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(m) == 0 {
		return "", fmt.Errorf("initdb not found (install the postgresql package: apt-get install -y postgresql)")
	}
	sort.Strings(m)
	return filepath.Dir(m[len(m)-1]), nil
}

// unavailable skips or fails the test.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CACHESRV_REQUIRE_PG") != "" {
		t.Fatalf("PostgreSQL is required (CACHESRV_REQUIRE_PG is set) but cannot start: %v", err)
	}
	t.Skipf("SKIPPING: PostgreSQL cannot start here: %v. Install Debian's postgresql package; CI installs it and sets CACHESRV_REQUIRE_PG.", err)
}

// Start starts a cluster for t and stops it in t.Cleanup.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c, err := start()
	if err != nil {
		unavailable(t, err)
		return nil
	}
	t.Cleanup(c.Stop)
	return c
}

func start() (*Cluster, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, bin: bin, asPG: os.Geteuid() == 0}
	owner := ""
	if c.asPG {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root and no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		owner = u.Username
	} else if u, err := user.Current(); err == nil {
		owner = u.Username
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	_ = owner
	opts := "-c listen_addresses='' -k " + dir + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
	if out, err := c.run("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %v: %s %s", err, out, log)
	}
	c.URL = "postgres://postgres@/postgres?host=" + dir + "&port=5432&sslmode=disable"
	c.Env = []string{"PGHOST=" + dir, "PGPORT=5432", "PGUSER=postgres", "PGDATABASE=postgres", "PGSSLMODE=disable"}
	return c, nil
}

func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asPG {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = "/"
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// Stop stops the server and removes its directory.
func (c *Cluster) Stop() {
	c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.Dir)
}

// Restart stops and starts the server again (same data), e.g. to test
// reconnection. It fails the test on error.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	data := filepath.Join(c.Dir, "data")
	if out, err := c.run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v: %s", err, out)
	}
	c.StartAgain(t)
}

// StopServer stops the server, keeping its data (see StartAgain).
func (c *Cluster) StopServer(t testing.TB) {
	t.Helper()
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v: %s", err, out)
	}
}

// StartAgain starts a server stopped with StopServer.
func (c *Cluster) StartAgain(t testing.TB) {
	t.Helper()
	opts := "-c listen_addresses='' -k " + c.Dir + " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-o", opts, "-l", filepath.Join(c.Dir, "log"), "-w", "-t", "30", "start"); err != nil {
		t.Fatalf("pg_ctl start: %v: %s", err, out)
	}
}
