package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

// TestOriginScheduledWarming: warm_schedule re-runs a route's warm query at
// the times a cron expression names, on the server's (here: fake) clock,
// loading rows added to the table since the last run.
func TestOriginScheduledWarming(t *testing.T) {
	t.Parallel()
	pg, conn := pgWithSchema(t)
	o := usersOrigin(pg.URL)
	o.Listen = "" // no NOTIFY invalidation: only the warmer changes the keys
	s, clk := startClock(t, func(c *config.Config) {
		c.Origins.Origins = map[string]spec.Origin{"users": o}
		c.Origins.Routes = []spec.Route{{Pattern: "user:{id}", Origin: "users", Read: "none",
			Warm: true, WarmSchedule: "*/15 * * * *"}}
		c.OriginsWarmOnStart = true
	})
	ctx := context.Background()
	c := s.client(2)
	waitKeys := func(want int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for c.DBSize(ctx).Val() != want {
			if time.Now().After(deadline) {
				t.Fatalf("DBSIZE %d, want %d; %v", c.DBSize(ctx).Val(), want, c.Do(ctx, "ORIGIN", "STATUS", "users").Val())
			}
			time.Sleep(5 * time.Millisecond) // polling the warmer, not waiting for time
		}
	}
	waitKeys(2) // the warm at start: schema.sql's two rows
	if _, err := conn.Exec(ctx, "INSERT INTO users VALUES (3, 'c'), (4, 'd')"); err != nil {
		t.Fatal(err)
	}
	// Nothing runs before the next quarter hour on the server's clock...
	time.Sleep(300 * time.Millisecond) // three schedule polls with the clock standing still
	if n := c.DBSize(ctx).Val(); n != 2 {
		t.Fatalf("warmed off schedule: %d keys", n)
	}
	// ...and the run at the quarter hour loads the new rows.
	clk.Advance(16 * time.Minute)
	waitKeys(4)
	if v := c.Get(ctx, "user:4").Val(); v != "d" {
		t.Fatalf("user:4 = %q", v)
	}
	st := c.Do(ctx, "ORIGIN", "STATUS", "users").String()
	if !strings.Contains(st, "warm_state done") {
		t.Fatalf("status: %s", st)
	}
}

// TestOriginWarmScheduleValidated: a bad warm_schedule is refused at start
// with the route named.
func TestOriginWarmScheduleValidated(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Origins.Origins = map[string]spec.Origin{"users": usersOrigin("postgres://127.0.0.1:1/x")}
	cfg.Origins.Routes = []spec.Route{{Pattern: "user:{id}", Origin: "users", Warm: true, WarmSchedule: "every tuesday"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg.Dir = t.TempDir()
	_, err := app.New(cfg, nil, nil) // origins are validated when built
	if err == nil || !strings.Contains(err.Error(), `warm_schedule "every tuesday"`) {
		t.Fatalf("app.New: %v", err)
	}
}
