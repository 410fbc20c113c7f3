package integration

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSwapDBWakesBlockedClients: a client blocked on a key of db 0 is
// served when SWAPDB brings in a database holding that key, as in Redis.
func TestSwapDBWakesBlockedClients(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	waiter := redis.NewClient(&redis.Options{Addr: s.Addr, DB: 0, MaxRetries: -1})
	t.Cleanup(func() { waiter.Close() })
	got := async(func() []string { return waiter.BLPop(ctx, 10*time.Second, "jobs").Val() })
	waitBlocked(t, c, 1)
	other := redis.NewClient(&redis.Options{Addr: s.Addr, DB: 1})
	t.Cleanup(func() { other.Close() })
	other.RPush(ctx, "jobs", "j1")
	want(t, c, "OK", "swapdb", 0, 1)
	select {
	case v := <-got:
		if len(v) != 2 || v[1] != "j1" {
			t.Fatalf("BLPOP after SWAPDB: %v", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked client was not served after SWAPDB")
	}
}
