package integration

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/origin/pgtest"
	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

func init() {
	for _, n := range []string{"origin", "origin|help", "origin|list", "origin|status", "origin|warm", "origin|flush", "origin|deadletter"} {
		extraCovered[n] = true // TestOrigin* below
	}
}

// pgWithSchema starts PostgreSQL, runs the example's schema.sql and a
// load counter, and returns the cluster and a connection.
func pgWithSchema(t *testing.T) (*pgtest.Cluster, *pgx.Conn) {
	t.Helper()
	pg := pgtest.Start(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	schema, err := os.ReadFile("../../configs/examples/origins/schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, string(schema)); err != nil {
		t.Fatalf("schema.sql: %v", err)
	}
	// load_user counts the origin's loads on the database side.
	if _, err := conn.Exec(ctx, `CREATE TABLE loads(n int); INSERT INTO loads VALUES (0);
		CREATE FUNCTION load_user(uid int) RETURNS SETOF text LANGUAGE plpgsql AS $$
		BEGIN UPDATE loads SET n = n + 1; PERFORM pg_sleep(0.05); RETURN QUERY SELECT payload FROM users WHERE id = uid; END $$;`); err != nil {
		t.Fatal(err)
	}
	return pg, conn
}

func dbLoads(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT n FROM loads").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func usersOrigin(url string) spec.Origin {
	return spec.Origin{
		Kind:    "postgres",
		URL:     url,
		Timeout: 10 * time.Second, // a loaded CI machine; the tests are about behaviour
		Load:    "SELECT * FROM load_user({id})",
		Store:   "INSERT INTO users (id, payload) VALUES ({id}, {value}) ON CONFLICT (id) DO UPDATE SET payload = EXCLUDED.payload",
		Delete:  "DELETE FROM users WHERE id = {id}",
		Warm:    "SELECT id, payload AS value FROM users ORDER BY id",
		Listen:  "cachesrv_invalidate",
		WriteBehind: spec.WriteBehind{Fsync: "always", FlushInterval: 20 * time.Millisecond, MaxAttempts: 2,
			RetryBackoff: 10 * time.Millisecond},
	}
}

func TestOriginReadThroughPostgres(t *testing.T) {
	t.Parallel()
	pg, conn := pgWithSchema(t)
	s := start(t, func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"users": usersOrigin(pg.URL)}
		c.Origins.Routes = []spec.Route{{Pattern: "user:{id}", Origin: "users", TTL: time.Minute, Tags: []string{"user:{id}"}}}
		c.OriginsWarmOnStart = false
	})
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 1000, MaxRetries: -1,
		DialTimeout: 20 * time.Second, ReadTimeout: 20 * time.Second, PoolTimeout: 20 * time.Second})
	t.Cleanup(func() { rc.Close() })

	// The NOTIFY listener's first connection counts as a gap and drops the
	// route's cached keys (docs/origins.md): wait for it, or a late connect
	// in the middle of the stampede drops the loaded row and a second query
	// follows.
	deadline := time.Now().Add(20 * time.Second)
	st2 := s.client(2)
	for !strings.Contains(fmt.Sprint(st2.Do(ctx, "ORIGIN", "STATUS", "users").Val()), "listening true") {
		if time.Now().After(deadline) {
			t.Fatal("listener did not connect")
		}
		time.Sleep(10 * time.Millisecond) // polling the listener's state
	}

	// 1,000 concurrent GETs of one cold key: one origin query, every
	// reader gets the row.
	before := dbLoads(t, conn)
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := rc.Get(ctx, "user:1").Result()
			if err != nil || v != `{"name":"Ada"}` {
				if bad.Add(1) == 1 {
					t.Logf("first failure: %q, %v", v, err)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d of 1000 GETs did not get the row", bad.Load())
	}
	if n := dbLoads(t, conn) - before; n != 1 {
		t.Fatalf("1000 concurrent GETs of a cold key made %d origin queries, want 1", n)
	}
	// A hit costs no query; the entry has the route's TTL and tag.
	c := s.client(2)
	if v := c.Get(ctx, "user:1").Val(); v != `{"name":"Ada"}` {
		t.Fatalf("hit: %q", v)
	}
	if ttl := c.TTL(ctx, "user:1").Val(); ttl <= 50*time.Second || ttl > time.Minute {
		t.Fatalf("TTL %v, want about 1m", ttl)
	}
	if n := c.Do(ctx, "TAGCOUNT", "user:1").Val(); n != int64(1) {
		t.Fatalf("TAGCOUNT user:1 = %v, want 1", n)
	}
	// Not found: a null, cached negatively (the second read costs nothing).
	before = dbLoads(t, conn)
	for i := 0; i < 2; i++ {
		if err := c.Get(ctx, "user:404").Err(); err != redis.Nil {
			t.Fatalf("missing row: %v", err)
		}
	}
	if n := dbLoads(t, conn) - before; n != 1 {
		t.Fatalf("negative caching: %d queries for two reads of a missing row", n)
	}
	// MGET mixes hits, routed misses and unrouted keys; GETEX loads too.
	c.Set(ctx, "plain", "p", 0)
	got := c.MGet(ctx, "user:1", "user:2", "plain", "nope", "user:404").Val()
	want := []any{`{"name":"Ada"}`, `{"name":"Grace"}`, "p", nil, nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("MGET = %v, want %v", got, want)
	}
	c.Del(ctx, "user:2")
	if v := c.GetEx(ctx, "user:2", 5*time.Second).Val(); v != `{"name":"Grace"}` {
		t.Fatalf("GETEX: %q", v)
	}
	// CACHE.GET reads through too: HIT, or NOTFOUND for a negative entry.
	c.Del(ctx, "user:2")
	if r := fmt.Sprint(c.Do(ctx, "CACHE.GET", "user:2").Val()); r != `[HIT {"name":"Grace"} <nil>]` {
		t.Fatalf("CACHE.GET routed miss: %s", r)
	}
	if r := fmt.Sprint(c.Do(ctx, "CACHE.GET", "user:404").Val()); r != "[NOTFOUND <nil> <nil>]" {
		t.Fatalf("CACHE.GET negative: %s", r)
	}
	// Keys outside every route behave as before.
	if err := c.Get(ctx, "users:1").Err(); err != redis.Nil {
		t.Fatalf("unrouted key: %v", err)
	}
	// An origin error is a clear -ORIGIN error.
	err := c.Get(ctx, "user:abc").Err()
	if err == nil || !strings.HasPrefix(err.Error(), "ORIGIN users: ") || strings.Contains(err.Error(), pg.Dir) {
		t.Fatalf("bad key: %v", err)
	}
	// Operating commands and INFO.
	list := c.Do(ctx, "ORIGIN", "LIST").Val()
	if fmt.Sprint(list) != "[[user:{id} users through none]]" {
		t.Fatalf("ORIGIN LIST = %v", list)
	}
	st, err := c.Do(ctx, "ORIGIN", "STATUS", "users").Result()
	if err != nil || !strings.Contains(fmt.Sprint(st), "breaker closed") {
		t.Fatalf("ORIGIN STATUS = %v, %v", st, err)
	}
	if err := c.Do(ctx, "ORIGIN", "STATUS", "nope").Err(); err == nil || err.Error() != "ERR no such origin 'nope'" {
		t.Fatalf("ORIGIN STATUS nope: %v", err)
	}
	info := c.Info(ctx, "origins").Val()
	if !strings.Contains(info, "origin_users:kind=postgres") || strings.Contains(info, pg.Dir) {
		t.Fatalf("INFO origins:\n%s", info)
	}
	if h := c.Do(ctx, "ORIGIN", "HELP").Val(); !strings.Contains(fmt.Sprint(h), "DEADLETTER") {
		t.Fatalf("ORIGIN HELP: %v", h)
	}
	// CONFIG GET never shows the connection string.
	cfg := fmt.Sprint(c.ConfigGet(ctx, "*").Val())
	if strings.Contains(cfg, pg.Dir) || strings.Contains(cfg, "postgres://") {
		t.Fatalf("CONFIG GET shows the origin's connection")
	}
	// Prometheus metrics per origin.
	rec := httptest.NewRecorder()
	s.App.NewMetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{`cachesrv_origin_calls_total{op="load",origin="users"}`, `cachesrv_origin_coalesced_waiters_total{origin="users"}`,
		`cachesrv_origin_breaker_state{origin="users"} 0`, `cachesrv_origin_call_duration_seconds_bucket{op="load",origin="users",le="0.1"}`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Warming loads the table's rows that are not cached.
	c.Del(ctx, "user:1", "user:2")
	if n, err := c.Do(ctx, "ORIGIN", "WARM", "user:{id}").Int(); err != nil || n != 2 {
		t.Fatalf("ORIGIN WARM = %d, %v", n, err)
	}
	if err := c.Do(ctx, "ORIGIN", "WARM", "nope:{x}").Err(); err == nil || !strings.HasPrefix(err.Error(), "ERR no such route") {
		t.Fatalf("ORIGIN WARM unknown: %v", err)
	}
}

func TestOriginWriteBehindPostgres(t *testing.T) {
	t.Parallel()
	pg, conn := pgWithSchema(t)
	dir := t.TempDir()
	s := start(t, func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"users": usersOrigin(pg.URL)}
		c.Origins.Routes = []spec.Route{{Pattern: "user:{id}", Origin: "users", Write: "behind", TTL: time.Minute}}
		c.Dir = dir
		c.OriginsWarmOnStart = false
	})
	ctx := context.Background()
	c := s.client(2)
	const n = 2000
	h := sha256.New()
	for i := 0; i < n; i++ {
		v := fmt.Sprintf("v%d", i)
		// Several writes per key: only the latest reaches the table.
		c.Set(ctx, fmt.Sprintf("user:%d", 100+i%500), "old", 0)
		if err := c.Set(ctx, fmt.Sprintf("user:%d", 1000+i), v, 0).Err(); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d=%s;", 1000+i, v)
	}
	// ORIGIN FLUSH waits up to 10 s: a client that waits longer than
	// go-redis's default 3 s read timeout.
	slow := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, ReadTimeout: 20 * time.Second})
	defer slow.Close()
	if err := slow.Do(ctx, "ORIGIN", "FLUSH", "10").Err(); err != nil {
		t.Fatalf("ORIGIN FLUSH: %v", err)
	}
	var count int
	var sum []byte
	rows, err := conn.Query(ctx, "SELECT id, payload FROM users WHERE id >= 1000 ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	h2 := sha256.New()
	for rows.Next() {
		var id int
		var p string
		rows.Scan(&id, &p)
		fmt.Fprintf(h2, "%d=%s;", id, p)
		count++
	}
	rows.Close()
	sum = h2.Sum(nil)
	if count != n || string(sum) != string(h.Sum(nil)) {
		t.Fatalf("after ORIGIN FLUSH: %d rows (want %d), checksum match %v", count, n, string(sum) == string(h.Sum(nil)))
	}
	// The origin goes down: writes keep being acknowledged; once it is
	// back they all reach the table within 10 s.
	pg.StopServer(t)
	for i := 0; i < 200; i++ {
		if err := c.Set(ctx, fmt.Sprintf("user:%d", 7000+i), "down", 0).Err(); err != nil {
			t.Fatalf("write with the origin down: %v", err)
		}
	}
	time.Sleep(2 * time.Second) // the origin stays down a while: failures, backoff, breaker
	pg.StartAgain(t)
	back := time.Now()
	if err := c.Do(ctx, "ORIGIN", "FLUSH", "10").Err(); err != nil {
		t.Fatalf("writes made while the origin was down not flushed 10 s after it came back: %v", err)
	}
	t.Logf("origin down for 2 s: 200 writes acknowledged, all in the table %v after it came back", time.Since(back).Round(time.Millisecond))
	conn.Close(ctx)
	var err2 error
	if conn, err2 = pgx.Connect(ctx, pg.URL); err2 != nil {
		t.Fatal(err2)
	}
	defer conn.Close(ctx)
	var downRows int
	conn.QueryRow(ctx, "SELECT count(*) FROM users WHERE payload = 'down'").Scan(&downRows)
	if downRows != 200 {
		t.Fatalf("%d of 200 writes made while the origin was down reached the table", downRows)
	}
	// DEL deletes the row.
	c.Del(ctx, "user:1000")
	if err := c.Do(ctx, "ORIGIN", "FLUSH").Err(); err != nil {
		t.Fatal(err)
	}
	var exists bool
	conn.QueryRow(ctx, "SELECT EXISTS(SELECT 1 FROM users WHERE id = 1000)").Scan(&exists)
	if exists {
		t.Fatal("DEL did not reach the table")
	}
	// A write the origin refuses goes to the dead letters after
	// max_attempts; the others still flush.
	c.Set(ctx, "user:x1", "bad", 0)
	c.Set(ctx, "user:5000", "good", 0)
	if err := c.Do(ctx, "ORIGIN", "FLUSH", "10").Err(); err != nil {
		t.Fatal(err)
	}
	dl := c.Do(ctx, "ORIGIN", "DEADLETTER", "LIST", "users").Val()
	if s := fmt.Sprint(dl); !strings.HasPrefix(s, "[[user:x1 set bad 2 ERROR: invalid input syntax") {
		t.Fatalf("dead letters: %v", s)
	}
	var p string
	conn.QueryRow(ctx, "SELECT payload FROM users WHERE id = 5000").Scan(&p)
	if p != "good" {
		t.Fatalf("good write behind a bad one: %q", p)
	}
	if n, _ := c.Do(ctx, "ORIGIN", "DEADLETTER", "RETRY", "users", "user:x1").Int(); n != 1 {
		t.Fatalf("RETRY = %d", n)
	}
	c.Do(ctx, "ORIGIN", "FLUSH", "10")
	if n, _ := c.Do(ctx, "ORIGIN", "DEADLETTER", "DROP", "users").Int(); n != 1 {
		t.Fatalf("DROP after a failed retry = %d", n)
	}
	if err := c.Do(ctx, "ORIGIN", "DEADLETTER", "FOO", "users").Err(); err == nil {
		t.Fatal("DEADLETTER FOO accepted")
	}
	// Commands that would bypass the origin are refused on such keys.
	if err := c.Incr(ctx, "user:7").Err(); err == nil || !strings.Contains(err.Error(), "only through SET and DEL") {
		t.Fatalf("INCR on a write-behind key: %v", err)
	}
}

func TestOriginJournalFull(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := usersOrigin("postgres://nobody@/db?host=" + dir + "/nosocket&connect_timeout=1")
	o.Listen = ""
	o.WriteBehind.MaxJournalBytes = 4096
	o.WriteBehind.MaxAttempts = 1000
	s := start(t, func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"users": o}
		c.Origins.Routes = []spec.Route{{Pattern: "user:{id}", Origin: "users", Read: "none", Write: "behind"}}
		c.Dir = dir
	})
	ctx := context.Background()
	c := s.client(2)
	var err error
	i := 0
	for ; i < 1000 && err == nil; i++ {
		err = c.Set(ctx, fmt.Sprintf("user:%d", i), strings.Repeat("x", 100), 0).Err()
	}
	if err == nil || err.Error() != "ORIGIN users: write-behind journal full" {
		t.Fatalf("after %d writes with the origin down: %v", i, err)
	}
	if i < 20 {
		t.Fatalf("journal full after only %d writes", i)
	}
	// The refused write is not in the cache; the acknowledged ones are.
	if c.Exists(ctx, fmt.Sprintf("user:%d", i-1)).Val() != 0 || c.Get(ctx, "user:0").Val() == "" {
		t.Fatal("cache state after journal full")
	}
	if err := c.Do(ctx, "ORIGIN", "FLUSH", "0.2").Err(); err == nil {
		t.Fatal("ORIGIN FLUSH succeeded with the origin down")
	}
}

func TestOriginWriteThroughHTTP(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	data := map[string]string{"/items/a": "A"}
	var gets atomic.Int64
	fail := atomic.Bool{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			http.Error(w, "boom", 500)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodGet:
			gets.Add(1)
			v, ok := data[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Cache-Control", "max-age=30")
			w.Header().Set("Surrogate-Key", "items")
			w.Write([]byte(v))
		case http.MethodPut:
			b := make([]byte, r.ContentLength)
			r.Body.Read(b)
			data[r.URL.Path] = string(b)
		case http.MethodDelete:
			delete(data, r.URL.Path)
		}
	}))
	t.Cleanup(hs.Close)
	s := start(t, func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"api": {Kind: "http", URL: hs.URL, Load: "/items/{id}", BreakerFailures: 3, BreakerCooldown: time.Hour}}
		c.Origins.Routes = []spec.Route{{Pattern: "item:{id}", Origin: "api", Write: "through"}}
	})
	ctx := context.Background()
	c := s.client(2)
	if v := c.Get(ctx, "item:a").Val(); v != "A" {
		t.Fatalf("GET item:a = %q", v)
	}
	if ttl := c.TTL(ctx, "item:a").Val(); ttl <= 20*time.Second || ttl > 30*time.Second {
		t.Fatalf("max-age TTL: %v", ttl)
	}
	if n := c.Do(ctx, "TAGCOUNT", "items").Val(); n != int64(1) {
		t.Fatalf("Surrogate-Key tag: %v", n)
	}
	if err := c.Set(ctx, "item:b", "B", 0).Err(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if data["/items/b"] != "B" {
		t.Fatalf("write-through did not PUT: %v", data)
	}
	mu.Unlock()
	c.Del(ctx, "item:b")
	mu.Lock()
	if _, ok := data["/items/b"]; ok {
		t.Fatal("write-through DEL did not DELETE")
	}
	mu.Unlock()
	// The origin fails: SET gets the origin's error and the cache keeps
	// the old value; after 3 failures the breaker opens.
	fail.Store(true)
	err := c.Set(ctx, "item:a", "new", 0).Err()
	if err == nil || err.Error() != "ORIGIN api: HTTP status 500" {
		t.Fatalf("SET with the origin failing: %v", err)
	}
	if v := c.Get(ctx, "item:a").Val(); v != "A" {
		t.Fatalf("cache changed although the origin refused: %q", v)
	}
	c.Get(ctx, "item:zz")
	c.Get(ctx, "item:zy")
	err = c.Get(ctx, "item:zx").Err()
	if err == nil || err.Error() != "ORIGIN api: circuit open" {
		t.Fatalf("breaker: %v", err)
	}
	if st := fmt.Sprint(c.Do(ctx, "ORIGIN", "STATUS", "api").Val()); !strings.Contains(st, "breaker open") {
		t.Fatalf("status: %s", st)
	}
}

func TestOriginNotifyInvalidation(t *testing.T) {
	t.Parallel()
	pg, conn := pgWithSchema(t)
	o := usersOrigin(pg.URL)
	o.Load = "SELECT payload FROM users WHERE id = {id}"
	s := start(t, func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"users": o}
		c.Origins.Routes = []spec.Route{{Pattern: "user:{id}", Origin: "users", TTL: time.Hour}}
	})
	ctx := context.Background()
	c := s.client(2)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(fmt.Sprint(c.Do(ctx, "ORIGIN", "STATUS", "users").Val()), "listening true") {
		if time.Now().After(deadline) {
			t.Fatal("listener did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var lat []time.Duration
	for i := 0; i < 50; i++ {
		c.Get(ctx, "user:1")
		want := fmt.Sprintf("rev%d", i)
		if _, err := conn.Exec(ctx, "UPDATE users SET payload = $1 WHERE id = 1", want); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		for c.Get(ctx, "user:1").Val() != want {
			if time.Since(t0) > 5*time.Second {
				t.Fatalf("update %d not visible after 5s", i)
			}
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p99 := lat[len(lat)*99/100]
	// Latency is reported, not asserted: timed assertions flake on a loaded
	// shared machine (the guide's rule); every update above had to arrive.
	t.Logf("NOTIFY invalidation: p50 %v, p99 %v over %d updates", lat[len(lat)/2], p99, len(lat))
	// A gap in the connection drops the route's keys.
	pg.Restart(t)
	conn2, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close(ctx)
	c.Get(ctx, "user:2")
	deadline = time.Now().Add(15 * time.Second)
	for {
		st := fmt.Sprint(c.Do(ctx, "ORIGIN", "STATUS", "users").Val())
		if strings.Contains(st, "listening true") && c.Exists(ctx, "user:1").Val() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after reconnect: %s, user:1 cached %d", st, c.Exists(ctx, "user:1").Val())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOriginRefreshAhead(t *testing.T) {
	t.Parallel()
	pg, conn := pgWithSchema(t)
	o := usersOrigin(pg.URL)
	o.Listen = ""
	o.Load = "SELECT * FROM load_user({id})" // 50 ms per load
	s := start(t, func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"users": o}
		c.Origins.Routes = []spec.Route{{Pattern: "user:{id}", Origin: "users", TTL: time.Second, RefreshAhead: 0.5}}
		c.OriginsWarmOnStart = false
	})
	ctx := context.Background()
	c := s.client(2)
	c.Get(ctx, "user:1") // warm-up: the one miss
	before := dbLoads(t, conn)
	missesBefore := s.App.Store.Stats().Misses[0]
	end := time.Now().Add(3 * time.Second)
	reads := 0
	for time.Now().Before(end) {
		if v := c.Get(ctx, "user:1").Val(); v == "" {
			t.Fatal("hot key read as missing")
		}
		reads++
	}
	misses := s.App.Store.Stats().Misses[0] - missesBefore
	loads := dbLoads(t, conn) - before
	t.Logf("refresh-ahead: %d reads in 3s, %d misses, %d loads; %v", reads, misses, loads, c.Do(ctx, "ORIGIN", "STATUS", "users").Val())
	if misses != 0 {
		t.Errorf("hot key missed %d times", misses)
	}
	// One load per refresh period (0.5 s of a 1 s TTL) at most, +1 for
	// the period in progress.
	if loads < 2 || loads > 7 {
		t.Errorf("%d loads in 3s with a refresh every ~0.5s", loads)
	}
}

// TestOriginExampleConfig runs configs/examples/origins as a user would:
// the YAML as is, the connection from PG* variables, flags overriding.
func TestOriginExampleConfig(t *testing.T) {
	pg, conn := pgWithSchema(t)
	dir := t.TempDir()
	env := append([]string{}, pg.Env...)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v) // libpq variables are read by pgx from the process
	}
	cfg, err := config.Load([]string{"--config", "../../configs/examples/origins/cachesrv.yaml", "--port", "7301", "--dir", dir, "--metrics-addr", ""}, nil)
	if err != nil {
		t.Fatalf("load example config: %v", err)
	}
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx, []net.Listener{ln}, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: ln.Addr().String()})
	defer c.Close()
	if v, err := c.Get(ctx, "user:1").Result(); err != nil || v != `{"name":"Ada"}` {
		t.Fatalf("GET user:1 = %q, %v", v, err)
	}
	if err := c.Set(ctx, "user:3", `{"name":"Linus"}`, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, "ORIGIN", "FLUSH", "10").Err(); err != nil {
		t.Fatal(err)
	}
	var p string
	conn.QueryRow(ctx, "SELECT payload FROM users WHERE id = 3").Scan(&p)
	if p != `{"name":"Linus"}` {
		t.Fatalf("write-behind row: %q", p)
	}
	if _, err := os.Stat(filepath.Join(dir, "origins", "users")); err != nil {
		t.Fatalf("journal not under --dir: %v", err)
	}
}

// withScrapeOrigin configures an HTTP origin (nothing listens there) with a
// write-behind route, so that a scrape shows every cachesrv_origin_* series
// (TestPromtoolRulesMetricNames).
func withScrapeOrigin(t *testing.T) func(*config.Config) {
	dir := t.TempDir()
	return func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"api": {Kind: "http", URL: "http://127.0.0.1:1"}}
		c.Origins.Routes = []spec.Route{{Pattern: "item:{id}", Origin: "api", Write: "behind"}}
		c.Dir = dir
	}
}
