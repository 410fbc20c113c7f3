package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOriginsFromFileAndRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	src := `port: 7000
origins:
  users:
    kind: postgres
    url_env: PGURL
    load: SELECT payload FROM users WHERE id = {id}
    timeout: 3s
    write_behind:
      fsync: always
      max_journal_bytes: 1mb
routes:
  - pattern: "user:{id}"
    origin: users
    write: behind
    ttl: 10m
    refresh_ahead: 0.8
    tags: ["user:{id}"]
maxmemory: 10mb
`
	os.WriteFile(path, []byte(src), 0o600)
	c, err := Load([]string{"--config", path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := c.Origins.Origins["users"]
	if o.Kind != "postgres" || o.URLEnv != "PGURL" || o.Timeout != 3*time.Second || o.WriteBehind.Fsync != "always" || o.WriteBehind.MaxJournalBytes != 1<<20 {
		t.Fatalf("origin: %+v", o)
	}
	r := c.Origins.Routes
	if len(r) != 1 || r[0].Pattern != "user:{id}" || r[0].TTL != 10*time.Minute || r[0].RefreshAhead != 0.8 || r[0].Tags[0] != "user:{id}" {
		t.Fatalf("routes: %+v", r)
	}
	if c.MaxMemory != 10<<20 {
		t.Fatalf("maxmemory after the sections: %d", c.MaxMemory)
	}
	// CONFIG GET knows nothing of them.
	if got := c.Match("*origin*"); len(got) != 2 {
		t.Fatalf("settings matching *origin*: %v", got)
	}
	// CONFIG REWRITE keeps the sections.
	if err := c.Rewrite(""); err != nil {
		t.Fatal(err)
	}
	c2, err := Load([]string{"--config", path}, nil)
	if err != nil {
		t.Fatalf("reload after rewrite: %v", err)
	}
	if c2.Origins.Origins["users"].Load != o.Load || len(c2.Origins.Routes) != 1 || c2.MaxMemory != c.MaxMemory {
		out, _ := os.ReadFile(path)
		t.Fatalf("rewrite lost the origins:\n%s", out)
	}
	// Shape errors are reported with the file name.
	os.WriteFile(path, []byte("origins:\n  users:\n    kind: postgres\n    bogus: 1\nroutes: 5\n"), 0o600)
	_, err = Load([]string{"--config", path}, nil)
	if err == nil || !strings.Contains(err.Error(), "bogus") || !strings.Contains(err.Error(), "routes") {
		t.Fatalf("bad sections: %v", err)
	}
}
