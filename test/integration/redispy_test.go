package integration

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// redisPyLock drives redis-py's Lock (Lua scripts over EVALSHA with the
// NOSCRIPT -> EVAL fallback): acquire, extend, release, and a blocking
// acquire that waits for another client's release.
const redisPyLock = `
import sys, threading, time, redis
host, port = sys.argv[1], int(sys.argv[2])
r1 = redis.Redis(host=host, port=port)
r2 = redis.Redis(host=host, port=port)
a = r1.lock("res", timeout=10, thread_local=False)
assert a.acquire(blocking=False), "acquire"
b = r2.lock("res", timeout=10)
assert not b.acquire(blocking=False), "second acquire of a held lock"
assert a.extend(20), "extend"
assert r1.pttl("res") > 15000, "pttl after extend"
assert a.reacquire(), "reacquire"
def later():
    time.sleep(0.3)
    a.release()
threading.Thread(target=later).start()
t0 = time.time()
assert b.acquire(blocking=True, blocking_timeout=5), "blocking acquire"
waited = time.time() - t0
assert 0.2 < waited < 4, "waited %.2f" % waited
c = r1.lock("res", timeout=10, thread_local=False)
c.local.token = b"not-the-owner"
try:
    c.release()
    raise AssertionError("released a lock it does not own")
except redis.exceptions.LockNotOwnedError:
    pass
b.release()
assert r1.get("res") is None, "released lock still there"
print("ok")
`

func TestRedisPyLock(t *testing.T) {
	t.Parallel()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import redis").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("python3-redis missing in CI (.ci/run installs it): %v", err)
		}
		t.Skip("SKIPPING: python3-redis not installed (apt-get install python3-redis); CI installs it.")
	}
	s := start(t, nil)
	host, port, _ := strings.Cut(s.Addr, ":")
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, py, "-c", redisPyLock, host, port).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("redis-py Lock: %v\n%s", err, out)
	}
}
