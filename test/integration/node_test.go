package integration

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestNodeClients drives the server with real Node.js libraries
// (test/integration/node/clients.mjs): ioredis defineCommand (EVALSHA,
// NOSCRIPT, EVAL fallback), MULTI/EXEC, and node-redis client-side caching
// over RESP3 (local hits, invalidation by another client's write and by a
// tag INVALIDATE). .ci/run installs the packages (npm ci) and sets
// CACHESRV_REQUIRE_NODE=1 so that the test cannot skip there.
func TestNodeClients(t *testing.T) {
	t.Parallel()
	node, err := exec.LookPath("node")
	_, modErr := os.Stat("node/node_modules/ioredis")
	if err != nil || modErr != nil {
		if os.Getenv("CACHESRV_REQUIRE_NODE") != "" {
			t.Fatalf("node (%v) or node_modules (%v) missing", err, modErr)
		}
		t.Skip("SKIPPING: needs node and `npm ci` in test/integration/node (CI does both)")
	}
	s := start(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "node/clients.mjs", s.Addr).CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "OK") {
		t.Fatalf("node clients: %v\n%s", err, out)
	}
}
