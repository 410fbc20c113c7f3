package integration

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/config"
)

func init() {
	for _, n := range []string{"eval", "evalsha", "eval_ro", "evalsha_ro", "script", "script|load", "script|exists",
		"script|flush", "script|kill", "script|help"} {
		extraCovered[n] = true // this file
	}
}

// TestScriptGoRedisFallback: go-redis's Script.Run sends EVALSHA, gets
// NOSCRIPT and falls back to EVAL; the next Run hits the cache.
func TestScriptGoRedisFallback(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	sc := redis.NewScript(`
local v = redis.call('GET', KEYS[1])
local n = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1])
return {v, n}`)
	want(t, c, []any{int64(0)}, "script", "exists", sc.Hash())
	c.Set(ctx, "a", "hello", 0)
	got, err := sc.Run(ctx, c, []string{"a", "n"}, 60).Result()
	if err != nil {
		t.Fatalf("Script.Run: %v", err)
	}
	if want := []any{"hello", int64(1)}; !equalAny(got, want) {
		t.Fatalf("Run = %#v", got)
	}
	want(t, c, []any{int64(1)}, "script", "exists", sc.Hash())
	got, err = sc.Run(ctx, c, []string{"a", "n"}, 60).Result()
	if err != nil || !equalAny(got, []any{"hello", int64(2)}) {
		t.Fatalf("second Run = %#v, %v", got, err)
	}
	if ttl := c.TTL(ctx, "n").Val(); ttl <= 0 || ttl > 60*time.Second {
		t.Fatalf("TTL = %v", ttl)
	}
	// EVALSHA of an unknown script: the exact NOSCRIPT text.
	wantErr(t, c, "NOSCRIPT No matching script. Please use EVAL.", "evalsha", strings.Repeat("0", 40), 0)
	wantErr(t, c, "NOSCRIPT No matching script. Please use EVAL.", "evalsha", "abc", 0)
	// SCRIPT LOAD, EVALSHA_RO, EVAL_RO, FLUSH.
	sha, _ := do(t, c, "script", "load", "return redis.call('get', KEYS[1])")
	if sha != "4e6d8fc8bb01276962cce5371fa795a7763657ae" {
		t.Fatalf("SCRIPT LOAD = %v", sha)
	}
	want(t, c, "hello", "evalsha_ro", sha, 1, "a")
	want(t, c, "hello", "evalsha", strings.ToUpper(sha.(string)), 1, "a")
	wantErr(t, c, "ERR Write commands are not allowed from read-only scripts. script: ", "eval_ro", "return redis.call('set', KEYS[1], 'x')", 1, "a")
	wantErr(t, c, "ERR Write commands are not allowed from read-only scripts. script: ", "eval", "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'x')", 1, "a")
	want(t, c, "OK", "script", "flush", "async")
	want(t, c, []any{int64(0), int64(0)}, "script", "exists", sha, sc.Hash())
	wantErr(t, c, "ERR SCRIPT FLUSH only support SYNC|ASYNC option", "script", "flush", "later")
	want(t, c, "OK", "script", "flush")
	v, _ := do(t, c, "script", "help")
	if l, ok := v.([]any); !ok || len(l) < 5 {
		t.Fatalf("SCRIPT HELP = %v", v)
	}
	// Argument errors as Redis 7 words them.
	wantErr(t, c, "ERR Number of keys can't be negative", "eval", "return 1", -1)
	wantErr(t, c, "ERR Number of keys can't be greater than number of args", "eval", "return 1", 2, "a")
	wantErr(t, c, "ERR value is not an integer or out of range", "eval", "return 1", "x")
	wantErr(t, c, "ERR Error compiling script (new function): ", "eval", "return {", 0)
	wantErr(t, c, "ERR Unexpected flag in script shebang: bogus", "eval", "#!lua flags=bogus\nreturn 1", 0)
	c.Set(ctx, "s", "abc", 0)
	wantErr(t, c, "ERR value is not an integer or out of range script: ", "eval", "return redis.call('incr', KEYS[1])", 1, "s")
	want(t, c, "ERR value is not an integer or out of range", "eval", "return redis.pcall('incr', KEYS[1])['err']", 1, "s")
	wantErr(t, c, "ERR Unknown Redis command called from script script: ", "eval", "return redis.call('nosuch')", 0)
	wantErr(t, c, "ERR This Redis command is not allowed from script script: ", "eval", "return redis.call('eval', 'return 1', 0)", 0)
	wantErr(t, c, "ERR user_script:1: Script attempted to access nonexistent global variable 'y' script: ", "eval", "return y", 0)
}

// TestScriptConversionsRESP3: the RESP3 forms a script returns to a HELLO 3
// client, and what redis.setresp(3) shows the script.
func TestScriptConversionsRESP3(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	r := s.raw()
	r.cmd("HELLO", "3")
	r.reply()
	for _, tc := range []struct{ script, want string }{
		{"return true", "#t\r\n"},
		{"return false", "#f\r\n"},
		{"return nil", "_\r\n"},
		{"return {double=3.5}", ",3.5\r\n"},
		{"return {map={a=1}}", "%1\r\n$1\r\na\r\n:1\r\n"},
		{"return redis.call('get','missing')", "#f\r\n"}, // RESP2 null -> false -> #f
		{"redis.setresp(3) return redis.call('get','missing') == nil", "#t\r\n"},
	} {
		r.cmd("EVAL", tc.script, "0")
		if got := r.reply(); got != tc.want {
			t.Errorf("%s: got %q want %q", tc.script, got, tc.want)
		}
	}
	c := s.client(2)
	want(t, c, int64(1), "eval", "return true", 0)
	want(t, c, nil, "eval", "return false", 0)
	want(t, c, []any{int64(1), "two", []any{int64(3)}}, "eval", "return {1, 'two', {3.9}, nil, 5}", 0)
	want(t, c, "fine", "eval", "return {ok='fine'}", 0)
}

// TestScriptRedlock: the single-instance Redlock pattern: SET NX PX to
// take the lock, a compare-and-delete script to release only one's own.
func TestScriptRedlock(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c1, c2 := s.client(2), s.client(2)
	release := redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
else
    return 0
end`)
	extend := redis.NewScript(`if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("pexpire", KEYS[1], ARGV[2])
else
    return 0
end`)
	if ok := c1.SetNX(ctx, "lock:res", "token-1", 30*time.Second).Val(); !ok {
		t.Fatal("first SET NX failed")
	}
	if ok := c2.SetNX(ctx, "lock:res", "token-2", 30*time.Second).Val(); ok {
		t.Fatal("second SET NX took a held lock")
	}
	if n, err := release.Run(ctx, c2, []string{"lock:res"}, "token-2").Int(); err != nil || n != 0 {
		t.Fatalf("foreign release = %d, %v", n, err)
	}
	if n, err := extend.Run(ctx, c1, []string{"lock:res"}, "token-1", 60000).Int(); err != nil || n != 1 {
		t.Fatalf("extend = %d, %v", n, err)
	}
	if pttl := c1.PTTL(ctx, "lock:res").Val(); pttl <= 30*time.Second {
		t.Fatalf("PTTL after extend = %v", pttl)
	}
	if n, err := release.Run(ctx, c1, []string{"lock:res"}, "token-1").Int(); err != nil || n != 1 {
		t.Fatalf("own release = %d, %v", n, err)
	}
	if ok := c2.SetNX(ctx, "lock:res", "token-2", 30*time.Second).Val(); !ok {
		t.Fatal("lock not free after release")
	}
}

// slidingWindow is a sliding-window-counter rate limiter: the current
// fixed window's count plus the previous window's, weighted by how much
// of it still overlaps the sliding window. The caller passes its clock.
const slidingWindow = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cur = math.floor(now / window)
local elapsed = (now % window) / window
local prev = tonumber(redis.call('GET', KEYS[1] .. ':' .. (cur - 1)) or '0')
local count = tonumber(redis.call('GET', KEYS[1] .. ':' .. cur) or '0')
if prev * (1 - elapsed) + count >= limit then
  return 0
end
redis.call('INCR', KEYS[1] .. ':' .. cur)
redis.call('PEXPIRE', KEYS[1] .. ':' .. cur, window * 2)
return 1`

func TestScriptRateLimiter(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	rl := redis.NewScript(slidingWindow)
	allow := func(now int64) bool {
		t.Helper()
		n, err := rl.Run(ctx, c, []string{"rl:user1"}, 10, 1000, now).Int()
		if err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	base := int64(1_700_000_000_000)
	for i := 0; i < 10; i++ {
		if !allow(base + int64(i)) {
			t.Fatalf("request %d refused", i)
		}
	}
	if allow(base + 500) {
		t.Fatal("11th request in the window allowed")
	}
	// Half a window later, half of the previous window's 10 still count.
	if !allow(base + 1500) {
		t.Fatal("refused although the previous window only half counts")
	}
	n := 1
	for allow(base + 1500) {
		n++
	}
	if n != 5 {
		t.Fatalf("allowed %d at mid-window, want 5", n)
	}
	// A client cannot get past the limit by racing: 40 concurrent callers
	// in one window get exactly 10 admissions.
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := rl.Run(ctx, c, []string{"rl:user2"}, 10, 1000, base).Int()
			if err == nil && n == 1 {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if admitted != 10 {
		t.Fatalf("admitted %d of 40 concurrent, want 10", admitted)
	}
}

// TestScriptAtomic: no other client sees a script half done.
func TestScriptAtomic(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c, reader := s.client(2), s.client(2)
	body := `for i = 1, 200 do redis.call('INCR', KEYS[1]) end
for i = 1, 200 do redis.call('INCR', KEYS[2]) end
return redis.call('GET', KEYS[1])`
	done := make(chan error)
	go func() {
		for i := 0; i < 20; i++ {
			if err := c.Eval(ctx, body, []string{"x", "y"}).Err(); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	reads := 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		default:
		}
		// MULTI/EXEC reads both keys at one instant (MGET locks key by key).
		pipe := reader.TxPipeline()
		gx, gy := pipe.Get(ctx, "x"), pipe.Get(ctx, "y")
		pipe.Exec(ctx)
		if gx.Val() != gy.Val() {
			t.Fatalf("saw a half-done script: x=%v y=%v", gx.Val(), gy.Val())
		}
		reads++
	}
	want(t, reader, "4000", "get", "y")
	t.Logf("%d consistent reads while scripts ran", reads)
}

// TestScriptKillBusy: a looping script makes the server answer -BUSY to
// other clients; SCRIPT KILL stops it within a second.
func TestScriptKillBusy(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.BusyReplyThreshold = 100 })
	c, other := s.client(2), s.client(2)
	want(t, other, []any{"lua-time-limit", "100"}, "config", "get", "lua-time-limit")
	want(t, other, "OK", "config", "set", "lua-time-limit", "150")
	want(t, other, []any{"busy-reply-threshold", "150"}, "config", "get", "busy-reply-threshold")
	wantErr(t, other, "NOTBUSY No scripts in execution right now.", "script", "kill")
	result := make(chan error, 1)
	go func() { result <- c.Eval(ctx, "while true do end", nil).Err() }()
	waitFor(t, func() bool {
		_, e := do(t, other, "ping")
		return e != ""
	}, "-BUSY")
	wantErr(t, other, "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", "get", "k")
	asked := time.Now()
	want(t, other, "OK", "script", "kill")
	err := <-result
	if d := time.Since(asked); d > time.Second {
		t.Fatalf("SCRIPT KILL took %v", d)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "ERR Script killed by user with SCRIPT KILL... script: ") {
		t.Fatalf("killed script's reply: %v", err)
	}
	want(t, other, "PONG", "ping")

	// A script that wrote cannot be killed: UNKILLABLE; it ends by itself
	// after 2 s (a window wide enough to see -BUSY on a loaded machine; the
	// client waits up to 10 s for the reply).
	slow := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1, ReadTimeout: 10 * time.Second})
	defer slow.Close()
	go func() {
		result <- slow.Eval(ctx, `redis.call('set', 'w', '1')
local t0 = redis.call('time')
while true do
  local t = redis.call('time')
  if (t[1] - t0[1]) * 1e6 + (t[2] - t0[2]) > 2000000 then return 1 end
end`, nil).Err()
	}()
	waitFor(t, func() bool {
		_, e := do(t, other, "ping")
		return e != ""
	}, "-BUSY")
	wantErr(t, other, "UNKILLABLE Sorry the script already executed write commands against the dataset.", "script", "kill")
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	want(t, other, "1", "get", "w")
}

// TestScriptSandbox: escape attempts fail with clean errors and the server
// keeps serving.
func TestScriptSandbox(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	c := s.client(2)
	for _, tc := range []struct{ script, err string }{
		{"return os.execute('touch /tmp/pwned')", "ERR user_script:1: Script attempted to access nonexistent global variable 'os'"},
		{"return io.open('/etc/passwd'):read('*a')", "ERR user_script:1: Script attempted to access nonexistent global variable 'io'"},
		{"return loadfile('/etc/passwd')", "ERR user_script:1: Script attempted to access nonexistent global variable 'loadfile'"},
		{"return require('os')", "ERR user_script:1: Script attempted to access nonexistent global variable 'require'"},
		{"return assert(loadstring('\\27LuaQ\\0'))()", "ERR user_script:1: "},
		{"leaked = 1", "ERR user_script:1: Attempt to modify a readonly table"},
		{"redis.call = function() end", "ERR user_script:1: Attempt to modify a readonly table"},
		{"string.rep = nil", "ERR user_script:1: Attempt to modify a readonly table"},
		{"return string.rep('x', 2^40)", "ERR user_script:1: string length overflow"},
		{"local function f() return f() + 1 end return f()", "ERR user_script:1: stack overflow"},
		{"return unpack({}, 1, 1e8)", "ERR user_script:1: too many results to unpack"},
		{"setmetatable(_G, nil)", "ERR user_script:1: cannot change a protected metatable"},
	} {
		wantErr(t, c, tc.err, "eval", tc.script, 0)
	}
	want(t, c, "PONG", "ping")
	// Nothing leaked into the next script.
	want(t, c, "nil", "eval", "return tostring(rawget(_G, 'leaked'))", 0)
}

// TestScriptACLAndCacheCommands: every redis.call is ACL-checked against
// the calling user; cachesrv's own commands are callable.
func TestScriptACLAndCacheCommands(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	admin := s.client(2)
	want(t, admin, "OK", "acl", "setuser", "bob", "on", "nopass", "+@all", "-set", "~app:*")
	bob := redis.NewClient(&redis.Options{Addr: s.Addr, Username: "bob", Password: "x", MaxRetries: -1})
	defer bob.Close()
	wantErr(t, bob, "ERR The user executing the script can't run this command or subcommand script: ", "eval", "return redis.call('set', KEYS[1], 'v')", 1, "app:1")
	wantErr(t, bob, "ERR The user executing the script can't access at least one of the keys mentioned in the command script: ", "eval", "return redis.call('get', 'other')", 0)
	want(t, bob, int64(1), "eval", "return redis.call('incr', KEYS[1])", 1, "app:n")

	want(t, admin, int64(1), "eval", `
redis.call('TAGSET', 'page:1', 'v1', 'TAGS', '1', 'product:7')
redis.call('TAGSET', 'page:2', 'v2', 'TAGS', '1', 'product:7')
return redis.call('INVALIDATE', 'product:7') - 1`, 0)
	want(t, admin, int64(0), "exists", "page:1", "page:2")
	// EVAL inside MULTI/EXEC.
	pipe := admin.TxPipeline()
	pipe.Eval(ctx, "return redis.call('incr', KEYS[1])", []string{"m"})
	pipe.Eval(ctx, "return redis.call('incr', KEYS[1])", []string{"m"})
	cmds, err := pipe.Exec(ctx)
	if err != nil || cmds[1].(*redis.Cmd).Val() != int64(2) {
		t.Fatalf("EVAL in EXEC: %v %v", cmds, err)
	}
}

// TestScriptRedisCLIEval runs redis-cli --eval with a script file.
func TestScriptRedisCLIEval(t *testing.T) {
	t.Parallel()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("SKIPPING: redis-cli not found; install redis-tools (apt-get install redis-tools) to run this test. CI installs it.")
	}
	s := start(t, nil)
	dir := t.TempDir()
	file := dir + "/incr.lua"
	if err := os.WriteFile(file, []byte("return redis.call('INCRBY', KEYS[1], ARGV[1])"), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(s.Addr, ":")
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for want := 5; want <= 10; want += 5 {
		out, err := exec.CommandContext(cctx, cli, "-h", host, "-p", port, "--eval", file, "counter", ",", "5").CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli --eval: %v\n%s", err, out)
		}
		if got := strings.TrimSpace(string(out)); got != "(integer) "+strconv.Itoa(want) && got != strconv.Itoa(want) {
			t.Fatalf("redis-cli --eval = %q, want %d", got, want)
		}
	}
}
