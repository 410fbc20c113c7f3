package script

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Caller runs one command on behalf of the running script.
type Caller interface {
	// Call runs args through the server's dispatch path with replies in
	// RESP version resp (2 or 3) and returns the RESP-encoded reply and
	// whether the command was a write.
	Call(args [][]byte, resp int) (reply []byte, wrote bool)
}

// Options configure an Engine. Zero values take the defaults.
type Options struct {
	// MaxCacheBytes bounds the script cache (bodies plus an estimate of
	// their compiled form); the oldest scripts are dropped past it.
	// Default 64 MiB.
	MaxCacheBytes int64
	// MemoryLimit bounds how much the Go heap may grow while one script
	// runs; a script past it is stopped with an error. Default 1 GiB.
	MemoryLimit int64
	// BusyThreshold is busy-reply-threshold: after this long a running
	// script makes Busy report true. Default 5 s.
	BusyThreshold time.Duration
	// Account, when set, is told how the cache's charged bytes change, so
	// the owner can count them in used memory.
	Account func(delta int64)
	// Logger receives redis.log output.
	Logger *slog.Logger
}

// ReplyError is an error whose text is a complete RESP error reply
// (code and message, as Redis words it).
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// Errors Run and Load report, with Redis 7's texts.
var (
	ErrNoScript  error = ReplyError("NOSCRIPT No matching script. Please use EVAL.")
	ErrNotBusy   error = ReplyError("NOTBUSY No scripts in execution right now.")
	ErrKillWrote error = ReplyError("UNKILLABLE Sorry the script already executed write commands against the dataset. " +
		"You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.")
	ErrTooLarge error = ReplyError("ERR script is larger than the script cache (64 MiB)")
)

var (
	errKilled = errors.New("killed")
	errMemory = errors.New("memory")
)

// Script is a compiled script from the cache. It stays usable after the
// cache drops it.
type Script struct {
	SHA string
	// NoWrites is the shebang's no-writes flag.
	NoWrites bool
	// AllowOOM is the shebang's allow-oom flag.
	AllowOOM bool
	// Shebang says the script declared its flags with "#!lua".
	Shebang bool

	proto *lua.FunctionProto
	size  int64
}

// Engine owns the Lua state, the script cache and the busy/kill state.
type Engine struct {
	opts Options
	busy atomic.Int64 // busy-reply-threshold in ns

	// Cache, behind cacheMu (a leaf lock: nothing is taken while held).
	cacheMu    sync.Mutex
	cache      map[string]*Script
	order      []string // insertion order, for dropping the oldest
	cacheBytes int64

	// The running script, read by Busy and Kill from other goroutines.
	started atomic.Int64 // unix ns when the running script started; 0 = none
	wrote   atomic.Bool
	cancel  atomic.Pointer[context.CancelCauseFunc]

	// The VM, behind vm. Everything below is owned by the running script.
	vm    sync.Mutex
	L     *lua.LState
	lib   *lua.LTable // the globals scripts may read
	envMT *lua.LTable // metatable of each run's globals table
	// env is the globals table runs share while it stays clean: it holds
	// only _G, KEYS and ARGV (checkEnv drops it when a script rawset more).
	env     *lua.LTable
	ro      []*lua.LTable // read-only library proxies, emptied after each run
	cur     *run
	scratch [][]byte
	rnd     uint64
}

// run is the state of one script execution.
type run struct {
	req     Request
	s       *Script
	resp    int // redis.setresp
	errLine int // line of the last error raised by redis.call
}

// Request is one EVAL/EVALSHA call.
type Request struct {
	Keys, Args [][]byte
	// ReadOnly is EVAL_RO/EVALSHA_RO: write commands are refused.
	ReadOnly bool
	// Resp is the calling connection's protocol, for the result.
	Resp   int
	Caller Caller
}

// Result is a script's reply: RESP bytes to send, or an error reply.
type Result struct {
	Reply []byte
	Err   string // error reply text without the leading '-', when set
}

// New builds an engine with a fresh sandboxed Lua state.
func New(o Options) *Engine {
	if o.MaxCacheBytes <= 0 {
		o.MaxCacheBytes = 64 << 20
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = 1 << 30
	}
	if o.BusyThreshold <= 0 {
		o.BusyThreshold = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e := &Engine{opts: o, cache: make(map[string]*Script)}
	e.busy.Store(int64(o.BusyThreshold))
	e.setup()
	return e
}

// SetBusyThreshold changes busy-reply-threshold.
func (e *Engine) SetBusyThreshold(d time.Duration) {
	if d <= 0 {
		d = 1
	}
	e.busy.Store(int64(d))
}

// BusyThreshold returns busy-reply-threshold.
func (e *Engine) BusyThreshold() time.Duration { return time.Duration(e.busy.Load()) }

// Busy says whether a script has been running for longer than the busy
// threshold: other clients then get -BUSY. It is cheap when no script runs.
func (e *Engine) Busy() bool {
	s := e.started.Load()
	return s != 0 && time.Now().UnixNano()-s >= e.busy.Load()
}

// Running says whether a script is running.
func (e *Engine) Running() bool { return e.started.Load() != 0 }

// Kill stops the running script (SCRIPT KILL). It refuses once the script
// has written, as Redis does, unless force is set (SHUTDOWN NOSAVE).
func (e *Engine) Kill(force bool) error {
	if e.started.Load() == 0 {
		return ErrNotBusy
	}
	if !force && e.wrote.Load() {
		return ErrKillWrote
	}
	if c := e.cancel.Load(); c != nil {
		(*c)(errKilled)
		return nil
	}
	return ErrNotBusy
}

// SHA1Hex returns the lower-case hex SHA1 of b.
func SHA1Hex(b []byte) string {
	sum := sha1.Sum(b)
	return hex.EncodeToString(sum[:])
}

// Lookup finds a cached script by SHA1 (any case).
func (e *Engine) Lookup(sha []byte) (*Script, error) {
	if len(sha) != 40 {
		return nil, ErrNoScript
	}
	var buf [40]byte
	for i, c := range sha {
		if c >= 'A' && c <= 'Z' {
			c += 32
		}
		buf[i] = c
	}
	e.cacheMu.Lock()
	s := e.cache[string(buf[:])]
	e.cacheMu.Unlock()
	if s == nil {
		return nil, ErrNoScript
	}
	return s, nil
}

// Load compiles body and caches it (EVAL, SCRIPT LOAD); a cached body is
// not compiled again.
func (e *Engine) Load(body []byte) (*Script, error) {
	sha := SHA1Hex(body)
	e.cacheMu.Lock()
	s := e.cache[sha]
	e.cacheMu.Unlock()
	if s != nil {
		return s, nil
	}
	size := int64(len(body))*6 + 1024 // body plus a measured estimate of the compiled form
	if size > e.opts.MaxCacheBytes {
		return nil, ErrTooLarge
	}
	s, err := compile(sha, body)
	if err != nil {
		return nil, err
	}
	s.size = size
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	if old := e.cache[sha]; old != nil {
		return old, nil
	}
	var freed int64
	for e.cacheBytes+size > e.opts.MaxCacheBytes && len(e.order) > 0 {
		old := e.cache[e.order[0]]
		e.order = e.order[1:]
		if old != nil {
			delete(e.cache, old.SHA)
			e.cacheBytes -= old.size
			freed += old.size
		}
	}
	e.cache[sha] = s
	e.order = append(e.order, sha)
	e.cacheBytes += size
	if e.opts.Account != nil {
		e.opts.Account(size - freed)
	}
	return s, nil
}

// Exists reports which of the SHA1s are cached (SCRIPT EXISTS).
func (e *Engine) Exists(shas [][]byte) []bool {
	out := make([]bool, len(shas))
	for i, sha := range shas {
		_, err := e.Lookup(sha)
		out[i] = err == nil
	}
	return out
}

// Flush empties the script cache (SCRIPT FLUSH).
func (e *Engine) Flush() {
	e.cacheMu.Lock()
	freed := e.cacheBytes
	e.cache = make(map[string]*Script)
	e.order = nil
	e.cacheBytes = 0
	e.cacheMu.Unlock()
	if e.opts.Account != nil && freed != 0 {
		e.opts.Account(-freed)
	}
}

// CacheStats returns the number of cached scripts and the bytes charged
// for them.
func (e *Engine) CacheStats() (n int, bytes int64) {
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	return len(e.cache), e.cacheBytes
}

// compile parses the shebang and compiles the body as Redis does: the
// chunk is named user_script so errors read "user_script:LINE: ...".
func compile(sha string, body []byte) (*Script, error) {
	s := &Script{SHA: sha}
	src := string(body)
	if strings.HasPrefix(src, "#!") {
		line, rest, _ := strings.Cut(src, "\n")
		if err := s.parseShebang(line); err != nil {
			return nil, err
		}
		src = "\n" + rest // keep line numbers
	}
	chunk, err := parse.Parse(strings.NewReader(src), "user_script")
	if err != nil {
		return nil, errors.New("ERR Error compiling script (new function): " + oneLine(err.Error()))
	}
	proto, err := lua.Compile(chunk, "user_script")
	if err != nil {
		return nil, errors.New("ERR Error compiling script (new function): " + oneLine(err.Error()))
	}
	s.proto = proto
	return s, nil
}

func (s *Script) parseShebang(line string) error {
	line = strings.TrimRight(line, "\r")
	fields := strings.Fields(line)
	if len(fields) == 0 || fields[0] != "#!lua" {
		engine := line
		if len(fields) > 0 {
			engine = fields[0]
		}
		return errors.New("ERR Unexpected engine in script shebang: " + engine)
	}
	s.Shebang = true
	for _, f := range fields[1:] {
		v, ok := strings.CutPrefix(f, "flags=")
		if !ok {
			return errors.New("ERR Unknown lua shebang option: " + f)
		}
		for _, flag := range strings.Split(v, ",") {
			switch flag {
			case "no-writes":
				s.NoWrites = true
			case "allow-oom":
				s.AllowOOM = true
			case "allow-stale", "no-cluster", "allow-cross-slot-keys", "":
			default:
				return errors.New("ERR Unexpected flag in script shebang: " + flag)
			}
		}
	}
	return nil
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// Run executes a script. The caller holds whatever locks make the script
// atomic; one script runs at a time.
func (e *Engine) Run(s *Script, req Request) Result {
	e.vm.Lock()
	defer e.vm.Unlock()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	e.cancel.Store(&cancel)
	e.wrote.Store(false)
	e.started.Store(time.Now().UnixNano())
	stopWatch := e.watch(ctx, cancel)
	defer func() {
		stopWatch()
		e.started.Store(0)
		e.cancel.Store(nil)
	}()

	r := &run{req: req, s: s, resp: 2}
	e.cur = r
	defer func() { e.cur = nil }()
	L := e.L
	L.SetContext(ctx)
	defer L.RemoveContext()
	e.rnd = 0x5DEECE66D // math.random restarts its sequence in each script, as in Redis

	env := e.env
	if env == nil {
		env = L.NewTable()
		env.Metatable = e.envMT
		env.RawSetString("_G", env)
		e.env = env
	}
	env.RawSetString("KEYS", stringArray(L, req.Keys))
	env.RawSetString("ARGV", stringArray(L, req.Args))
	fn := L.NewFunctionFromProto(s.proto)
	fn.Env = env

	top := L.GetTop()
	L.Push(fn)
	err := L.PCall(0, 1, nil)
	defer e.resetSandbox()
	defer e.checkEnv()
	if err != nil {
		L.SetTop(top)
		return Result{Err: e.errorText(ctx, r, err)}
	}
	ret := L.Get(-1)
	L.SetTop(top)
	if t, ok := ret.(*lua.LTable); ok {
		if ev, ok := t.RawGetString("err").(lua.LString); ok {
			return Result{Err: sanitize(string(ev))}
		}
	}
	return Result{Reply: appendLua(nil, ret, req.Resp, 0)}
}

// checkEnv keeps the shared globals table for the next run only if the
// script left nothing in it but _G, KEYS and ARGV (rawset can add globals
// past the read-only metatable; the next script must not see them).
func (e *Engine) checkEnv() {
	env := e.env
	if env == nil {
		return
	}
	n := 0
	for k, _ := env.Next(lua.LNil); k != lua.LNil; k, _ = env.Next(k) {
		s, ok := k.(lua.LString)
		if n++; n > 3 || !ok || (s != "_G" && s != "KEYS" && s != "ARGV") {
			e.env = nil
			return
		}
	}
	if env.Metatable != e.envMT || env.RawGetString("_G") != env {
		e.env = nil
	}
}

// errorText turns a script failure into Redis 7's error reply:
// "<error> script: <sha>, on @user_script:<line>."
func (e *Engine) errorText(ctx context.Context, r *run, err error) string {
	var msg string
	line := 0
	switch cause := context.Cause(ctx); {
	case errors.Is(cause, errKilled):
		msg = "ERR Script killed by user with SCRIPT KILL..."
		line = 1
	case errors.Is(cause, errMemory):
		msg = "ERR Script stopped: it grew the heap past the per-script memory limit"
		line = 1
	default:
		var api *lua.ApiError
		if !errors.As(err, &api) {
			msg = "ERR " + err.Error()
			break
		}
		switch v := api.Object.(type) {
		case *lua.LTable:
			if ev, ok := v.RawGetString("err").(lua.LString); ok {
				msg = string(ev)
				line = r.errLine
			} else {
				msg = "ERR Error running script: the error is a table without an 'err' field"
			}
		case lua.LString:
			msg = "ERR " + string(v)
			line = lineOf(string(v))
		default:
			msg = "ERR " + api.Object.String()
		}
	}
	return sanitize(msg) + " script: " + r.s.SHA + ", on @user_script:" + strconv.Itoa(line) + "."
}

// lineOf finds N in a "user_script:N: message" error.
func lineOf(msg string) int {
	rest, ok := strings.CutPrefix(msg, "user_script:")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, ":")
	n, _ := strconv.Atoi(num)
	return n
}

// sanitize keeps an error or status line on one line, as Redis does.
func sanitize(s string) string {
	s = strings.TrimPrefix(s, "-")
	if strings.ContainsAny(s, "\r\n") {
		s = oneLine(s)
	}
	return s
}

// watch bounds a running script's heap growth. A timer fires after a short
// grace period (most scripts end before it, paying only for the timer);
// from then on a goroutine samples the heap every 10 ms until stopWatch
// stops it and waits for it.
func (e *Engine) watch(ctx context.Context, cancel context.CancelCauseFunc) (stopWatch func()) {
	limit := e.opts.MemoryLimit
	done := make(chan struct{})
	exited := make(chan struct{})
	t := time.AfterFunc(20*time.Millisecond, func() {
		defer close(exited)
		// The heap is first read here, not at the start: reading it costs
		// more than most scripts take, and what a script allocates in its
		// first 20 ms is bounded by that time.
		base := heapBytes()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			if int64(heapBytes())-int64(base) > limit {
				cancel(errMemory)
				return
			}
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		if t.Stop() {
			return // never fired
		}
		close(done)
		<-exited
	}
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
var heapMu sync.Mutex

func heapBytes() uint64 {
	heapMu.Lock()
	defer heapMu.Unlock()
	metrics.Read(heapSample)
	if heapSample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return heapSample[0].Value.Uint64()
}

func stringArray(L *lua.LState, vals [][]byte) *lua.LTable {
	t := L.CreateTable(len(vals), 0)
	for _, v := range vals {
		t.Append(lua.LString(v))
	}
	return t
}
