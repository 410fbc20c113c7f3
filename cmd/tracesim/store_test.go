package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cachesrv/cachesrv/internal/tracefile"
)

// TestSimulateStore: the store column runs the sharded store at about the
// asked number of entries and lands near the bare policy at the number of
// entries it held.
func TestSimulateStore(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	z := rand.NewZipf(rng, 1.1, 1, 19_999)
	tr := &tracefile.Trace{Hashes: make([]uint64, 20_000)}
	for i := range tr.Hashes {
		tr.Hashes[i] = tracefile.Mix64(uint64(i))
	}
	for range 100_000 {
		tr.Reqs = append(tr.Reqs, int32(z.Uint64()))
	}
	for _, policy := range []string{"allkeys-lru", "allkeys-wtinylfu"} {
		hr, held, err := simulateStore(tr, policy, 2000)
		if err != nil {
			t.Fatal(err)
		}
		pure, err := simulate(tr, policy, int(held))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: store %.2f%% holding %d entries, bare policy at that size %.2f%%", policy, hr, held, pure)
		if held < 1500 || held > 2500 {
			t.Errorf("%s: the store held %d entries for a 2,000-entry budget", policy, held)
		}
		if math.Abs(hr-pure) > 2 {
			t.Errorf("%s: store %.2f%% vs bare policy %.2f%% at %d entries", policy, hr, pure, held)
		}
	}
	if _, _, err := simulateStore(tr, "nope", 10); err == nil {
		t.Error("unknown policy accepted")
	}
}
