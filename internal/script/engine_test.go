package script

import (
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeCaller answers a few commands from a map, like a tiny server.
type fakeCaller struct {
	mu    sync.Mutex
	kv    map[string]string
	calls int
}

func (f *fakeCaller) Call(args [][]byte, resp int) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	switch strings.ToLower(string(args[0])) {
	case "get":
		v, ok := f.kv[string(args[1])]
		if !ok {
			if resp == 3 {
				return []byte("_\r\n"), false
			}
			return []byte("$-1\r\n"), false
		}
		return appendBulk(nil, v), false
	case "set":
		f.kv[string(args[1])] = string(args[2])
		return []byte("+OK\r\n"), true
	case "hgetall":
		if resp == 3 {
			return []byte("%1\r\n$1\r\na\r\n$1\r\nb\r\n"), false
		}
		return []byte("*2\r\n$1\r\na\r\n$1\r\nb\r\n"), false
	}
	return []byte("-ERR unknown command\r\n"), false
}

func eval(t *testing.T, e *Engine, body string, keys, args []string, resp int, c Caller) Result {
	t.Helper()
	s, err := e.Load([]byte(body))
	if err != nil {
		return Result{Err: err.Error()}
	}
	req := Request{Resp: resp, Caller: c}
	for _, k := range keys {
		req.Keys = append(req.Keys, []byte(k))
	}
	for _, a := range args {
		req.Args = append(req.Args, []byte(a))
	}
	return e.Run(s, req)
}

func TestConversions(t *testing.T) {
	e := New(Options{})
	c := &fakeCaller{kv: map[string]string{"k": "v"}}
	for _, tc := range []struct {
		body     string
		resp     int
		want     string
		wantErr  string
		errStart bool
	}{
		{body: "return 1", resp: 2, want: ":1\r\n"},
		{body: "return 3.99", resp: 2, want: ":3\r\n"},
		{body: "return 'x'", resp: 2, want: "$1\r\nx\r\n"},
		{body: "return true", resp: 2, want: ":1\r\n"},
		{body: "return false", resp: 2, want: "$-1\r\n"},
		{body: "return false", resp: 3, want: "#f\r\n"},
		{body: "return nil", resp: 3, want: "_\r\n"},
		{body: "return {1,2,nil,4}", resp: 2, want: "*2\r\n:1\r\n:2\r\n"},
		{body: "return {ok='fine'}", resp: 2, want: "+fine\r\n"},
		{body: "return {1,{err='bad'}}", resp: 2, want: "*2\r\n:1\r\n-bad\r\n"},
		{body: "return {double=1.5}", resp: 3, want: ",1.5\r\n"},
		{body: "return {map={a=1}}", resp: 3, want: "%1\r\n$1\r\na\r\n:1\r\n"},
		{body: "return {map={a=1}}", resp: 2, want: "*2\r\n$1\r\na\r\n:1\r\n"},
		{body: "return {set={a=true}}", resp: 3, want: "~1\r\n$1\r\na\r\n"},
		{body: "return KEYS[1] .. ARGV[1]", resp: 2, want: "$2\r\nka\r\n"},
		{body: "return redis.call('get', KEYS[1])", resp: 2, want: "$1\r\nv\r\n"},
		{body: "return redis.call('get', 'nokey') == false", resp: 2, want: ":1\r\n"},
		{body: "redis.setresp(3) return redis.call('get', 'nokey') == nil", resp: 2, want: ":1\r\n"},
		{body: "redis.setresp(3) return redis.call('hgetall', 'h').map.a", resp: 2, want: "$1\r\nb\r\n"},
		{body: "return redis.call('set', 'a', 1).ok", resp: 2, want: "$2\r\nOK\r\n"},
		{body: "return redis.pcall('nope').err", resp: 2, want: "$19\r\nERR unknown command\r\n"},
		{body: "return redis.sha1hex('')", resp: 2, want: "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n"},
		{body: "return cjson.encode({1,2,{a=1}})", resp: 2, want: "$13\r\n[1,2,{\"a\":1}]\r\n"},
		{body: "return cjson.decode('{\"a\":[1,2]}').a[2]", resp: 2, want: ":2\r\n"},
		{body: "return bit.band(7, 3)", resp: 2, want: ":3\r\n"},
		{body: "return bit.tohex(255, 4)", resp: 2, want: "$4\r\n00ff\r\n"},
		{body: "return redis.error_reply('MY bad')", wantErr: "MY bad"},
		{body: "return redis.call('nope')", wantErr: "ERR unknown command script: ", errStart: true},
		{body: "error('boom')", wantErr: "ERR user_script:1: boom script: ", errStart: true},
		{body: "x = 1", wantErr: "ERR user_script:1: Attempt to modify a readonly table script: ", errStart: true},
		{body: "redis = nil", wantErr: "ERR user_script:1: Attempt to modify a readonly table script: ", errStart: true},
		{body: "redis.call = nil", wantErr: "ERR user_script:1: Attempt to modify a readonly table", errStart: true},
		{body: "return y", wantErr: "ERR user_script:1: Script attempted to access nonexistent global variable 'y' script: ", errStart: true},
		{body: "return os.execute('id')", wantErr: "ERR user_script:1: Script attempted to access nonexistent global variable 'os'", errStart: true},
		{body: "return io.open('/etc/passwd')", wantErr: "ERR user_script:1: Script attempted to access nonexistent global variable 'io'", errStart: true},
		{body: "return dofile('/etc/passwd')", wantErr: "ERR user_script:1: Script attempted to access nonexistent global variable 'dofile'", errStart: true},
		{body: "return redis.call()", wantErr: "ERR Please specify at least one argument for this redis lib call script: ", errStart: true},
		{body: "return redis.call('get', {})", wantErr: "ERR Lua redis lib command arguments must be strings or integers script: ", errStart: true},
		{body: "redis.setresp(4)", wantErr: "ERR RESP version must be 2 or 3. script: ", errStart: true},
		{body: "return string.rep('x', 1e12)", wantErr: "ERR user_script:1: string length overflow", errStart: true},
		{body: "return string.format('%999999999d', 1)", wantErr: "ERR user_script:1: invalid format", errStart: true},
		{body: "return getmetatable('').__index", wantErr: "ERR user_script:1: attempt to index", errStart: true},
		{body: "local f = loadstring('\\27Lua') return f", resp: 2, want: "$-1\r\n"},
		{body: "local function f() return f() + 1 end return f()", wantErr: "ERR user_script:1: stack overflow", errStart: true},
		{body: "return unpack({}, 1, 1e8)", wantErr: "ERR user_script:1: too many results to unpack", errStart: true},
		{body: "return string.byte(string.rep('x', 1e6), 1, -1)", wantErr: "ERR user_script:1: string slice too long", errStart: true},
		{body: "return {", wantErr: "ERR Error compiling script (new function): ", errStart: true},
		{body: "#!lua flags=bogus\nreturn 1", wantErr: "ERR Unexpected flag in script shebang: bogus"},
		{body: "#!python\nreturn 1", wantErr: "ERR Unexpected engine in script shebang: #!python"},
		{body: "#!lua flags=no-writes\nreturn 2", resp: 2, want: ":2\r\n"},
	} {
		t.Run(tc.body, func(t *testing.T) {
			res := eval(t, e, tc.body, []string{"k"}, []string{"a"}, tc.resp, c)
			if tc.wantErr != "" {
				if tc.errStart && !strings.HasPrefix(res.Err, tc.wantErr) || !tc.errStart && res.Err != tc.wantErr {
					t.Fatalf("err = %q, want %q", res.Err, tc.wantErr)
				}
				return
			}
			if res.Err != "" || string(res.Reply) != tc.want {
				t.Fatalf("got %q err %q, want %q", res.Reply, res.Err, tc.want)
			}
		})
	}
}

func TestGlobalsDoNotLeak(t *testing.T) {
	e := New(Options{})
	c := &fakeCaller{kv: map[string]string{}}
	eval(t, e, "rawset(_G, 'leak', 1) rawset(redis, 'call', 5) table.insert(string, 'x')", nil, nil, 2, c)
	res := eval(t, e, "return type(redis.call) .. tostring(rawget(_G, 'leak')) .. tostring(string[1])", nil, nil, 2, c)
	if string(res.Reply) != "$14\r\nfunctionnilnil\r\n" {
		t.Fatalf("state leaked between scripts: %q %q", res.Reply, res.Err)
	}
}

func TestKillAndBusy(t *testing.T) {
	e := New(Options{BusyThreshold: 50 * time.Millisecond})
	if err := e.Kill(false); err != ErrNotBusy {
		t.Fatalf("kill idle = %v", err)
	}
	c := &fakeCaller{kv: map[string]string{}}
	done := make(chan Result)
	go func() { done <- eval(t, e, "while true do end", nil, nil, 2, c) }()
	for !e.Busy() {
		time.Sleep(5 * time.Millisecond)
	}
	asked := time.Now()
	if err := e.Kill(false); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if d := time.Since(asked); d > time.Second {
		t.Fatalf("kill took %v", d)
	}
	if !strings.HasPrefix(res.Err, "ERR Script killed by user with SCRIPT KILL... script: ") {
		t.Fatalf("err = %q", res.Err)
	}
	if e.Busy() || e.Running() {
		t.Fatal("still busy after kill")
	}

	// A script that wrote cannot be killed, except by force.
	go func() { done <- eval(t, e, "redis.call('set','a','1') while true do end", nil, nil, 2, c) }()
	for !e.Busy() {
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.Kill(false); err != ErrKillWrote {
		t.Fatalf("kill after write = %v", err)
	}
	if err := e.Kill(true); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestMemoryLimit(t *testing.T) {
	e := New(Options{MemoryLimit: 64 << 20})
	c := &fakeCaller{kv: map[string]string{}}
	res := eval(t, e, "local t = {} local i = 0 while true do i = i + 1 t[i] = string.rep('x', 1000) .. i end", nil, nil, 2, c)
	if !strings.HasPrefix(res.Err, "ERR Script stopped: it grew the heap past the per-script memory limit") {
		t.Fatalf("err = %q", res.Err)
	}
	// The engine keeps working afterwards.
	if res := eval(t, e, "return 7", nil, nil, 2, c); string(res.Reply) != ":7\r\n" {
		t.Fatalf("after limit: %q %q", res.Reply, res.Err)
	}
}

func TestCacheBounded(t *testing.T) {
	var charged int64
	e := New(Options{MaxCacheBytes: 10 << 10, Account: func(d int64) { charged += d }})
	for i := 0; i < 100; i++ {
		if _, err := e.Load([]byte("return " + strings.Repeat(" ", 100) + string(rune('0'+i%10)) + "--" + strings.Repeat("x", i))); err != nil {
			t.Fatal(err)
		}
	}
	n, b := e.CacheStats()
	if b > 10<<10 || b != charged || n == 0 || n == 100 {
		t.Fatalf("cache n=%d bytes=%d charged=%d", n, b, charged)
	}
	if _, err := e.Load([]byte(strings.Repeat("x", 20<<10))); err != ErrTooLarge {
		t.Fatalf("too large: %v", err)
	}
	e.Flush()
	if n, b := e.CacheStats(); n != 0 || b != 0 || charged != 0 {
		t.Fatalf("after flush n=%d b=%d charged=%d", n, b, charged)
	}
	if _, err := e.Lookup([]byte("0000000000000000000000000000000000000000")); err != ErrNoScript {
		t.Fatal(err)
	}
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{"return 1", "return {1,{2}}", "error({})", "return redis.call('get','k')",
		"local t = {} t[1] = t return t", "return cjson.decode('[1,')", "return string.format('%5.2f', 1)"} {
		f.Add(s)
	}
	e := New(Options{BusyThreshold: time.Second})
	c := &fakeCaller{kv: map[string]string{}}
	f.Fuzz(func(t *testing.T, body string) {
		if strings.Contains(body, "while") || strings.Contains(body, "repeat") || strings.Contains(body, "for") || strings.Contains(body, "goto") {
			return // unbounded loops are SCRIPT KILL's job, tested above
		}
		s, err := e.Load([]byte(body))
		if err != nil {
			return
		}
		e.Run(s, Request{Resp: 2, Caller: c})
	})
}
