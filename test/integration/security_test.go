package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/apptest"
	"github.com/cachesrv/cachesrv/internal/config"
)

func init() {
	for _, n := range []string{"acl", "acl|cat", "acl|deluser", "acl|dryrun", "acl|genpass", "acl|getuser", "acl|help",
		"acl|list", "acl|load", "acl|log", "acl|save", "acl|setuser", "acl|users", "acl|whoami"} {
		extraCovered[n] = true // TestACLCommands, TestACLFile
	}
}

// startWith is start with a logger and a listener wrapper (TLS).
func startWith(t *testing.T, mod func(*config.Config), log *slog.Logger, wrap func(*app.App, net.Listener) net.Listener, opts ...app.Option) *server {
	t.Helper()
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Shards = 8
	// The suite runs with the default event loops; CACHESRV_TEST_EVENT_LOOPS
	// (auto, off, a count) runs it on another setting (make test-loops-off).
	switch v := os.Getenv("CACHESRV_TEST_EVENT_LOOPS"); v {
	case "":
	case "auto":
		cfg.EventLoops = config.EventLoopsAuto
	case "off":
		cfg.EventLoops = 0
	default:
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			t.Fatalf("CACHESRV_TEST_EVENT_LOOPS=%q: want auto, off or a count", v)
		}
		cfg.EventLoops = n
	}
	if mod != nil {
		mod(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(cfg, log, nil, opts...)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ln := apptest.Listen(t)
	addr := ln.Addr().String()
	if wrap != nil {
		ln = wrap(a, ln)
	}
	apptest.Serve(t, a, ln)
	return &server{t: t, App: a, Addr: addr}
}

// userClient is a go-redis client authenticating as user.
func (s *server) userClient(user, pass string) *redis.Client {
	s.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Username: user, Password: pass, Protocol: 2,
		MaxRetries: -1, DisableIdentity: true, PoolSize: 1})
	s.t.Cleanup(func() { c.Close() })
	return c
}

func TestRequirePass(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.RequirePass = "s3cret" })
	r := s.raw()
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"get", "k"}, "-NOAUTH Authentication required.\r\n"},
		{[]string{"auth", "nope"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{[]string{"auth", "default", "nope"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{[]string{"auth", "alice", "s3cret"}, "-WRONGPASS invalid username-password pair or user is disabled.\r\n"},
		{[]string{"hello", "3"}, "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"},
		{[]string{"auth", "s3cret"}, "+OK\r\n"},
		{[]string{"acl", "whoami"}, "$7\r\ndefault\r\n"},
		{[]string{"auth", "default", "s3cret"}, "+OK\r\n"},
		{[]string{"reset"}, "+RESET\r\n"},
		{[]string{"get", "k"}, "-NOAUTH Authentication required.\r\n"},
	} {
		r.cmd(tc.cmd...)
		if got := r.reply(); got != tc.want {
			t.Fatalf("%v: got %q want %q", tc.cmd, got, tc.want)
		}
	}
	// HELLO AUTH authenticates and switches protocol at once.
	r.cmd("hello", "3", "auth", "default", "s3cret")
	if got := r.reply(); !strings.HasPrefix(got, "%7\r\n") {
		t.Fatalf("HELLO 3 AUTH: %q", got)
	}
	// CONFIG SET requirepass changes the default user's password.
	admin := s.userClient("default", "s3cret")
	want(t, admin, "OK", "config", "set", "requirepass", "n3w")
	wantErr(t, s.userClient("default", "s3cret"), "WRONGPASS", "ping")
	want(t, s.userClient("default", "n3w"), "PONG", "ping")
	want(t, admin, "OK", "config", "set", "requirepass", "")
	// Without a password, AUTH <password> is a configuration mistake and
	// unauthenticated connections are served again.
	plain := s.client(2)
	wantErr(t, plain, "ERR AUTH <password> called without any password configured for the default user", "auth", "x")
	want(t, plain, "OK", "auth", "default", "anything")
	r2 := s.raw()
	r2.cmd("ping")
	if got := r2.reply(); got != "+PONG\r\n" {
		t.Fatal(got)
	}
}

func TestACLCommands(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.RequirePass = "adm" })
	admin := s.userClient("default", "adm")

	want(t, admin, []any{"user default on sanitize-payload #" + sha("adm") + " ~* &* +@all"}, "acl", "list")
	want(t, admin, "OK", "acl", "setuser", "alice")
	want(t, admin, int64(0), "acl", "deluser", "nobody")
	want(t, admin, []any{"alice", "default"}, "acl", "users")
	want(t, admin, []any{"user alice off sanitize-payload resetchannels -@all", "user default on sanitize-payload #" + sha("adm") + " ~* &* +@all"}, "acl", "list")
	want(t, admin, "OK", "acl", "setuser", "alice", "on", ">pw1", ">pw2", "<pw2", "~cached:*", "~session:*", "+get", "+set", "+@connection", "+@transaction", "-client|kill", "+config|get")
	want(t, admin, []any{"user alice on sanitize-payload #" + sha("pw1") + " ~cached:* ~session:* resetchannels -@all +get +set +@connection +@transaction -client|kill +config|get",
		"user default on sanitize-payload #" + sha("adm") + " ~* &* +@all"}, "acl", "list")
	got, e := do(t, admin, "acl", "getuser", "alice")
	if e != "" {
		t.Fatal(e)
	}
	wantUser := []any{"flags", []any{"on", "sanitize-payload"}, "passwords", []any{sha("pw1")},
		"commands", "-@all +get +set +@connection +@transaction -client|kill +config|get", "keys", "~cached:* ~session:*", "channels", "", "selectors", []any{}}
	if !equalAny(got, wantUser) {
		t.Fatalf("ACL GETUSER alice = %#v", got)
	}
	want(t, admin, nil, "acl", "getuser", "nobody")

	// Rule errors change nothing.
	for _, tc := range []struct{ rule, msg string }{
		{"+nosuchcmd", "Unknown command or category name in ACL"},
		{"+@nosuchcat", "Unknown command or category name in ACL"},
		{"<notaset", "The password you are trying to remove from the user does not exist"},
		{"#abc", "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters"},
		{"bogus", "Syntax error"},
		{"+config|get|x", "Allowing first-arg of a subcommand is not supported"},
	} {
		wantErr(t, admin, "ERR Error in ACL SETUSER modifier '"+tc.rule+"': "+tc.msg, "acl", "setuser", "alice", "off", tc.rule)
	}
	wantErr(t, admin, "ERR Error in ACL SETUSER modifier '~x': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid", "acl", "setuser", "bob", "allkeys", "~x")
	wantErr(t, admin, "ERR Usernames can't contain spaces or null characters", "acl", "setuser", "a b")
	want(t, admin, []any{"alice", "default"}, "acl", "users")

	// Alice can GET/SET her keys and nothing else.
	alice := s.userClient("alice", "pw1")
	want(t, alice, "OK", "set", "cached:1", "v")
	want(t, alice, "v", "get", "cached:1")
	wantErr(t, alice, "NOPERM User alice has no permissions to run the 'acl|whoami' command", "acl", "whoami") // @slow only, as in Redis
	wantErr(t, alice, "NOPERM No permissions to access a key", "get", "other")
	wantErr(t, alice, "NOPERM No permissions to access a key", "set", "other", "v")
	wantErr(t, alice, "NOPERM User alice has no permissions to run the 'del' command", "del", "cached:1")
	wantErr(t, alice, "NOPERM User alice has no permissions to run the 'client|kill' command", "client", "kill", "id", "1")
	wantErr(t, alice, "NOPERM User alice has no permissions to run the 'config|set' command", "config", "set", "maxmemory", "1")
	if _, e := do(t, alice, "config", "get", "maxmemory"); e != "" {
		t.Fatalf("config get: %v", e)
	}
	// A denied command inside MULTI aborts the transaction.
	r := s.raw()
	for _, c := range [][]string{{"auth", "alice", "pw1"}, {"multi"}, {"get", "cached:1"}, {"del", "cached:1"}, {"exec"}} {
		r.cmd(c...)
	}
	for _, w := range []string{"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "-NOPERM User alice has no permissions to run the 'del' command\r\n",
		"-EXECABORT Transaction discarded because of previous errors.\r\n"} {
		if got := r.reply(); got != w {
			t.Fatalf("MULTI: got %q want %q", got, w)
		}
	}
	// Rules changed after queueing are checked again at EXEC.
	for _, c := range [][]string{{"multi"}, {"get", "cached:1"}, {"set", "cached:1", "w"}} {
		r.cmd(c...)
		r.reply()
	}
	want(t, admin, "OK", "acl", "setuser", "alice", "-set")
	r.cmd("exec")
	if got := r.reply(); got != "*2\r\n$1\r\nv\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n" {
		t.Fatalf("EXEC after rules changed: %q", got)
	}

	// ACL LOG: newest first, similar entries merged.
	wantErr(t, alice, "NOPERM", "get", "other")
	wantErr(t, s.userClient("alice", "wrong"), "WRONGPASS", "ping")
	logv, e := do(t, admin, "acl", "log")
	if e != "" {
		t.Fatal(e)
	}
	entries := logv.([]any)
	if len(entries) < 4 {
		t.Fatalf("ACL LOG has %d entries: %v", len(entries), entries)
	}
	first := entryMap(entries[0])
	if first["reason"] != "auth" || first["object"] != "auth" || first["username"] != "alice" || first["context"] != "toplevel" {
		t.Fatalf("ACL LOG[0] = %v", first)
	}
	var keyEntry map[string]any
	for _, e := range entries {
		if m := entryMap(e); m["reason"] == "key" {
			keyEntry = m
			break
		}
	}
	if keyEntry == nil || keyEntry["object"] != "other" || keyEntry["count"] != int64(3) || !strings.Contains(keyEntry["client-info"].(string), "user=alice") {
		t.Fatalf("key entry = %v", keyEntry)
	}
	for _, f := range []string{"count", "reason", "context", "object", "username", "age-seconds", "client-info", "entry-id", "timestamp-created", "timestamp-last-updated"} {
		if _, ok := first[f]; !ok {
			t.Errorf("ACL LOG entry lacks %q", f)
		}
	}
	if v, _ := do(t, admin, "acl", "log", "1"); len(v.([]any)) != 1 {
		t.Fatalf("ACL LOG 1: %v", v)
	}
	// go-redis's typed ACL LOG parses our entries.
	if l, err := admin.ACLLog(ctx, 2).Result(); err != nil || len(l) != 2 || l[0].Reason != "auth" {
		t.Fatalf("ACLLog: %v %+v", err, l)
	}
	want(t, admin, "OK", "acl", "log", "reset")
	want(t, admin, []any{}, "acl", "log")
	wantErr(t, admin, "ERR value is not an integer", "acl", "log", "x")

	// ACL CAT comes from the command table.
	cats, _ := do(t, admin, "acl", "cat")
	for _, c := range []string{"keyspace", "read", "write", "string", "admin", "dangerous", "connection", "transaction"} {
		if !slices.Contains(cats.([]any), any(c)) {
			t.Errorf("ACL CAT lacks %q", c)
		}
	}
	read, _ := do(t, admin, "acl", "cat", "read")
	if !slices.Contains(read.([]any), any("get")) || slices.Contains(read.([]any), any("set")) {
		t.Errorf("ACL CAT read = %v", read)
	}
	adm, _ := do(t, admin, "acl", "cat", "admin")
	if !slices.Contains(adm.([]any), any("config|set")) || !slices.Contains(adm.([]any), any("acl|setuser")) {
		t.Errorf("ACL CAT admin = %v", adm)
	}
	wantErr(t, admin, "ERR Unknown category 'nope'", "acl", "cat", "nope")

	// Categories: +@all -@dangerous style users.
	want(t, admin, "OK", "acl", "setuser", "ops", "on", "nopass", "allkeys", "+@all", "-@dangerous", "+info")
	ops := s.userClient("ops", "x")
	want(t, ops, "OK", "set", "k", "v")
	wantErr(t, ops, "NOPERM User ops has no permissions to run the 'config|set' command", "config", "set", "maxmemory", "1")
	wantErr(t, ops, "NOPERM User ops has no permissions to run the 'flushall' command", "flushall")
	if _, e := do(t, ops, "info", "server"); e != "" {
		t.Fatalf("ops info: %v", e)
	}
	want(t, admin, []any{"user alice on sanitize-payload #" + sha("pw1") + " ~cached:* ~session:* resetchannels -@all +get +@connection +@transaction -client|kill +config|get -set",
		"user default on sanitize-payload #" + sha("adm") + " ~* &* +@all",
		"user ops on nopass sanitize-payload ~* resetchannels +@all -@dangerous +info"}, "acl", "list")

	// DRYRUN, GENPASS, HELP.
	want(t, admin, "OK", "acl", "dryrun", "alice", "get", "cached:9")
	want(t, admin, "User alice has no permissions to run the 'del' command", "acl", "dryrun", "alice", "del", "cached:9")
	want(t, admin, "User alice has no permissions to access the 'x' key", "acl", "dryrun", "alice", "get", "x")
	wantErr(t, admin, "ERR User 'nobody' not found", "acl", "dryrun", "nobody", "get", "x")
	wantErr(t, admin, "ERR Command 'nocmd' not found", "acl", "dryrun", "alice", "nocmd", "x")
	if p, _ := do(t, admin, "acl", "genpass"); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(p.(string)) {
		t.Errorf("GENPASS = %q", p)
	}
	if p, _ := do(t, admin, "acl", "genpass", "5"); len(p.(string)) != 2 {
		t.Errorf("GENPASS 5 = %q", p)
	}
	wantErr(t, admin, "ERR ACL GENPASS argument must be the number of bits", "acl", "genpass", "0")
	if h, _ := do(t, admin, "acl", "help"); len(h.([]any)) < 20 {
		t.Errorf("ACL HELP: %v", h)
	}
	wantErr(t, admin, "ERR This Redis instance is not configured to use an ACL file.", "acl", "load")
	wantErr(t, admin, "ERR This Redis instance is not configured to use an ACL file.", "acl", "save")

	// off: no new logins, existing connections keep working (Redis).
	want(t, admin, "OK", "acl", "setuser", "alice", "off")
	wantErr(t, s.userClient("alice", "pw1"), "WRONGPASS", "ping")
	want(t, alice, "v", "get", "cached:1")
	// DELUSER closes the user's connections.
	wantErr(t, admin, "ERR The 'default' user cannot be removed", "acl", "deluser", "alice", "default")
	want(t, admin, int64(1), "acl", "deluser", "alice", "nobody")
	if _, err := alice.Get(ctx, "cached:1").Result(); err == nil {
		t.Fatal("connection of a deleted user still served")
	}
	// The default user can be restricted too.
	want(t, admin, "OK", "acl", "setuser", "default", "-flushall")
	wantErr(t, admin, "NOPERM User default has no permissions to run the 'flushall' command", "flushall")
}

func sha(p string) string {
	d := sha256.Sum256([]byte(p))
	return hex.EncodeToString(d[:])
}

func entryMap(v any) map[string]any {
	a := v.([]any)
	m := map[string]any{}
	for i := 0; i+1 < len(a); i += 2 {
		m[a[i].(string)] = a[i+1]
	}
	return m
}

func equalAny(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestACLFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "users.acl")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Errors are listed with line numbers; the server does not start.
	write("user alice on >pw ~a:* +get\n# comment\n\nuser bob on +nosuch\nuser alice on\nnonsense\n")
	cfg := config.Default()
	cfg.ACLFile = path
	_, err := app.New(cfg, nil, nil)
	for _, w := range []string{"users.acl:4: error in user declaration 'bob' at '+nosuch': Unknown command or category name in ACL",
		"users.acl:5: Duplicate user found", "users.acl:6: line should start with the 'user' keyword"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Fatalf("bad aclfile: got %v, want %q", err, w)
		}
	}

	write("user default on #" + sha("adm") + " ~* &* +@all\nuser alice on >pw ~a:* +get +set\n")
	s := start(t, func(c *config.Config) { c.ACLFile = path })
	if !s.App.Server.AuthRequired() {
		t.Fatal("default user from the aclfile has a password: authentication must be required")
	}
	wantErr(t, s.client(2), "NOAUTH", "get", "k")
	admin := s.userClient("default", "adm")
	alice := s.userClient("alice", "pw")
	want(t, alice, "OK", "set", "a:1", "v")
	wantErr(t, alice, "NOPERM", "get", "b")

	// ACL LOAD: new rules apply to connected users, removed users are
	// disconnected; a broken file changes nothing.
	write("user default on #" + sha("adm") + " ~* &* +@all\nuser alice on >pw ~* +get\nuser carol on >c +@all ~*\n")
	want(t, admin, "OK", "acl", "load")
	want(t, alice, "v", "get", "a:1")
	want(t, alice, nil, "get", "b")
	wantErr(t, alice, "NOPERM", "set", "b", "v")
	want(t, s.userClient("carol", "c"), "PONG", "ping")
	write("user default on #" + sha("adm") + " ~* &* +@all\nuser carol on >c +@all ~* +bogus\n")
	wantErr(t, admin, "ERR ACL file has errors, no change was made: "+path+":2:", "acl", "load")
	want(t, alice, "v", "get", "a:1")
	write("user default on #" + sha("adm") + " ~* &* +@all\n")
	want(t, admin, "OK", "acl", "load")
	if _, err := alice.Get(ctx, "a:1").Result(); err == nil {
		t.Fatal("connection of a user removed by ACL LOAD still served")
	}
	// ACL SAVE writes what ACL LIST shows.
	want(t, admin, "OK", "acl", "setuser", "dave", "on", ">d", "~d:*", "+get")
	want(t, admin, "OK", "acl", "save")
	b, _ := os.ReadFile(path)
	list, _ := do(t, admin, "acl", "list")
	var lines []string
	for _, l := range list.([]any) {
		lines = append(lines, l.(string))
	}
	if string(b) != strings.Join(lines, "\n")+"\n" {
		t.Fatalf("ACL SAVE wrote %q, ACL LIST %q", b, lines)
	}
	want(t, admin, "OK", "acl", "load")
	want(t, s.userClient("dave", "d"), nil, "get", "d:1")
}

func TestRenameCommand(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) {
		c.RenameCommands = map[string]string{"flushall": "", "config": "cfg-7f3a", "keys": "keys-x"}
	})
	c := s.client(2)
	wantErr(t, c, "ERR unknown command 'flushall'", "flushall")
	wantErr(t, c, "ERR unknown command 'config'", "config", "get", "maxmemory")
	want(t, c, []any{"maxmemory", "268435456"}, "cfg-7f3a", "get", "maxmemory")
	want(t, c, []any{}, "keys-x", "*")
	if v, _ := do(t, c, "command", "info", "flushall"); v.([]any)[0] != nil {
		t.Fatalf("COMMAND INFO flushall = %v", v)
	}
	// ACL rules keep the original names, as in Redis.
	want(t, c, "OK", "acl", "setuser", "u", "on", "nopass", "~*", "+config|get", "+keys")
	want(t, s.userClient("u", "x"), []any{}, "keys-x", "*")

	cfg := config.Default()
	cfg.RenameCommands = map[string]string{"nosuch": "x", "get": "set"}
	_, err := app.New(cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `no such command "nosuch"`) || !strings.Contains(err.Error(), `cannot rename "get" to "set"`) {
		t.Fatalf("bad rename-command: %v", err)
	}
}

// syncBuffer is a bytes.Buffer for a logger shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	s := startWith(t, func(c *config.Config) {
		c.AuditLog = true
		c.RequirePass = "topsecret-1"
	}, log, nil)
	admin := s.userClient("default", "topsecret-1")
	wantErr(t, s.userClient("default", "wrong-guess-2"), "WRONGPASS", "ping")
	want(t, admin, "OK", "set", "k", "value-not-logged-3")
	want(t, admin, "OK", "config", "set", "requirepass", "topsecret-4", "maxmemory", "100mb")
	admin = s.userClient("default", "topsecret-4")
	want(t, admin, "OK", "acl", "setuser", "bob", "on", ">bobpass-5", "~b:*", "+get")
	wantErr(t, s.userClient("bob", "bobpass-5"), "NOPERM", "set", "b:1", "value-6")
	wantErr(t, s.userClient("bob", "bobpass-5"), "NOPERM", "get", "secret-key-7")
	want(t, admin, "OK", "flushall")
	want(t, admin, "OK", "flushdb")
	want(t, admin, int64(1), "acl", "deluser", "bob")
	want(t, admin, int64(0), "client", "kill", "id", "999999")

	type rec struct {
		Msg   string `json:"msg"`
		Audit struct {
			Event, Result, Addr, User, Cmd, Reason, Params, Target string
			ClientID                                               int64 `json:"client_id"`
		} `json:"audit"`
	}
	var recs []rec
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs = recs[:0]
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			var r rec
			if json.Unmarshal([]byte(line), &r) == nil && r.Audit.Event != "" {
				recs = append(recs, r)
			}
		}
		if len(recs) >= 14 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	count := func(f func(rec) bool) int {
		n := 0
		for _, r := range recs {
			if f(r) {
				n++
			}
		}
		return n
	}
	checks := []struct {
		name string
		n    int
		f    func(rec) bool
	}{
		{"auth ok", 4, func(r rec) bool { return r.Audit.Event == "auth" && r.Audit.Result == "ok" }},
		{"auth failed", 1, func(r rec) bool {
			return r.Audit.Event == "auth" && r.Audit.Result == "denied" && r.Audit.User == "default"
		}},
		{"denied cmd", 1, func(r rec) bool {
			return r.Audit.Event == "acl_denied" && r.Audit.Reason == "command" && r.Audit.Cmd == "set" && r.Audit.User == "bob"
		}},
		{"denied key", 1, func(r rec) bool {
			return r.Audit.Event == "acl_denied" && r.Audit.Reason == "key" && r.Audit.Cmd == "get"
		}},
		{"config set", 1, func(r rec) bool {
			return r.Audit.Cmd == "config|set" && r.Audit.Params == "requirepass maxmemory" && r.Audit.Result == "ok"
		}},
		{"acl setuser", 1, func(r rec) bool { return r.Audit.Cmd == "acl|setuser" && r.Audit.Target == "bob" }},
		{"acl deluser", 1, func(r rec) bool { return r.Audit.Cmd == "acl|deluser" && r.Audit.Target == "bob" }},
		{"flushall", 1, func(r rec) bool { return r.Audit.Cmd == "flushall" && r.Audit.User == "default" }},
		{"flushdb", 1, func(r rec) bool { return r.Audit.Cmd == "flushdb" }},
		{"client kill", 1, func(r rec) bool { return r.Audit.Cmd == "client|kill" }},
	}
	for _, c := range checks {
		if got := count(c.f); got < c.n {
			t.Errorf("%s: %d audit records, want at least %d", c.name, got, c.n)
		}
	}
	for _, r := range recs {
		if r.Audit.Addr == "" || r.Audit.ClientID == 0 || r.Audit.User == "" {
			t.Errorf("audit record without client: %+v", r)
		}
	}
	if n := count(func(r rec) bool { return r.Audit.Cmd == "set" && r.Audit.Event == "admin" }); n != 0 {
		t.Errorf("plain SET audited")
	}
	out := buf.String()
	for _, secret := range []string{"topsecret", "wrong-guess", "value-not-logged", "bobpass", "value-6", "secret-key-7"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}
	// The slow log hides passwords too.
	want(t, admin, "OK", "config", "set", "slowlog-log-slower-than", "0")
	want(t, s.userClient("default", "topsecret-4"), "PONG", "ping")
	want(t, admin, "OK", "config", "set", "requirepass", "topsecret-8")
	sl, _ := do(t, admin, "slowlog", "get", "-1")
	if b, _ := json.Marshal(sl); strings.Contains(string(b), "topsecret") || !strings.Contains(string(b), "(redacted)") {
		t.Errorf("SLOWLOG shows a password or redacts nothing: %s", b)
	}
}

func TestUnauthenticatedLimits(t *testing.T) {
	t.Parallel()
	s := start(t, func(c *config.Config) { c.RequirePass = "pw" })
	r := s.raw()
	r.send("*11\r\n")
	if got := r.reply(); got != "-ERR Protocol error: unauthenticated multibulk length\r\n" || !r.closed() {
		t.Fatalf("got %q", got)
	}
	r = s.raw()
	r.send("*2\r\n$3\r\nGET\r\n$20000\r\n")
	if got := r.reply(); got != "-ERR Protocol error: invalid bulk length\r\n" || !r.closed() {
		t.Fatalf("got %q", got)
	}
	// Authenticated, the usual limits apply.
	c := s.userClient("default", "pw")
	args := []any{"mset"}
	for i := 0; i < 20; i++ {
		args = append(args, itoa(i), strings.Repeat("x", 20000))
	}
	want(t, c, "OK", args...)
}

// Certificates for the TLS tests.

type testPKI struct {
	dir              string
	caPEM            []byte
	ca               *x509.Certificate
	caKey            *ecdsa.PrivateKey
	caFile, certFile string
	keyFile          string
	client           tls.Certificate
	serial           int64
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	p := &testPKI{dir: t.TempDir(), serial: 1}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cachesrv test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(der)
	p.caKey = key
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	p.caFile = filepath.Join(p.dir, "ca.pem")
	p.certFile = filepath.Join(p.dir, "server.pem")
	p.keyFile = filepath.Join(p.dir, "server.key")
	os.WriteFile(p.caFile, p.caPEM, 0o600)
	p.writeServer(t, "server-1")
	cert, keyPEM := p.issue(t, "client-1", x509.ExtKeyUsageClientAuth)
	p.client, err = tls.X509KeyPair(cert, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *testPKI) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// writeServer issues a server certificate and writes it where the server
// reads it, key first, as a rotation tool would.
func (p *testPKI) writeServer(t *testing.T, cn string) {
	cert, key := p.issue(t, cn, x509.ExtKeyUsageServerAuth)
	for _, f := range []struct {
		path string
		b    []byte
	}{{p.keyFile, key}, {p.certFile, cert}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
}

func (p *testPKI) clientTLS(withCert bool) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	c := &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS12}
	if withCert {
		c.Certificates = []tls.Certificate{p.client}
	}
	return c
}

func startTLS(t *testing.T, p *testPKI, auth string) *server {
	return startWith(t, func(c *config.Config) {
		c.TLSPort = 16399 // the harness hands the server its listener
		c.TLSCertFile, c.TLSKeyFile, c.TLSCACertFile, c.TLSAuthClients = p.certFile, p.keyFile, p.caFile, auth
	}, nil, func(a *app.App, ln net.Listener) net.Listener { return tls.NewListener(ln, a.TLS) })
}

func TestTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := startTLS(t, p, "yes")
	c := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: p.clientTLS(true), MaxRetries: -1})
	defer c.Close()
	want(t, c, "PONG", "ping")
	want(t, c, "OK", "set", "k", "v")

	// Mutual TLS: a client without a certificate is refused; others are
	// still served.
	noCert := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: p.clientTLS(false), MaxRetries: -1})
	defer noCert.Close()
	if err := noCert.Ping(ctx).Err(); err == nil {
		t.Fatal("client without a certificate was served")
	}
	// TLS 1.1 is refused.
	old := p.clientTLS(true)
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if conn, err := tls.Dial("tcp", s.Addr, old); err == nil {
		conn.Close()
		t.Fatal("TLS 1.1 accepted")
	}
	// Plain text on the TLS port is not served.
	raw, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	raw.Write([]byte("PING\r\n"))
	raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := readAll(raw); strings.Contains(string(b), "PONG") {
		t.Fatal("plain text served on the TLS port")
	}
	raw.Close()
	want(t, c, "v", "get", "k")
	if st := s.App.Server.SecurityStats(); st.TLSHandshakeFailures < 2 {
		t.Errorf("TLS handshake failures = %d", st.TLSHandshakeFailures)
	}

	// Certificate rotation: new handshakes see the new certificate within
	// about a second, connected clients are not disturbed.
	serverCN := func() string {
		conn, err := tls.Dial("tcp", s.Addr, p.clientTLS(true))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if cn := serverCN(); cn != "server-1" {
		t.Fatalf("CN %q", cn)
	}
	p.writeServer(t, "server-2")
	deadline := time.Now().Add(10 * time.Second)
	for serverCN() != "server-2" {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate was not picked up")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := s.App.Certs.Reloads(); n != 1 {
		t.Errorf("reloads = %d", n)
	}
	want(t, c, "v", "get", "k")
}

func readAll(c net.Conn) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(c)
	return b.Bytes(), err
}

func TestTLSOptionalClientCerts(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	s := startTLS(t, p, "optional")
	for _, withCert := range []bool{true, false} {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: p.clientTLS(withCert), MaxRetries: -1})
		want(t, c, "PONG", "ping")
		c.Close()
	}
	// A certificate from another CA is refused.
	other := newPKI(t)
	bad := p.clientTLS(false)
	bad.Certificates = []tls.Certificate{other.client}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: bad, MaxRetries: -1})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("certificate from an unknown CA accepted")
	}
}

// TestProtectedMode: without a password, clients from other hosts are
// refused at run time (the start-up check is app.CheckExposure, tested in
// internal/app and by TestBinaryRefusesExposure).
func TestProtectedMode(t *testing.T) {
	t.Parallel()
	ip := nonLoopbackIP()
	if ip == nil {
		t.Skip("no non-loopback address on this machine")
	}
	cfg := config.Default()
	cfg.MetricsAddr = ""
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), "0"))
	if err != nil {
		t.Skip(err)
	}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, []net.Listener{ln, ln2}, nil) }()
	defer func() { cancel(); <-done }()
	s := &server{t: t, App: a, Addr: ln.Addr().String()}
	r := s.raw()
	r.cmd("ping")
	if got := r.reply(); !strings.HasPrefix(got, "-DENIED cachesrv is running in protected mode") || !r.closed() {
		t.Fatalf("non-loopback client without password: %q", got)
	}
	local := redis.NewClient(&redis.Options{Addr: ln2.Addr().String(), MaxRetries: -1})
	defer local.Close()
	want(t, local, "OK", "config", "set", "requirepass", "pw")
	r = s.raw()
	r.cmd("ping")
	if got := r.reply(); got != "-NOAUTH Authentication required.\r\n" {
		t.Fatalf("with a password: %q", got)
	}
	if n := a.Server.SecurityStats().ProtectedModeRejections; n != 1 {
		t.Errorf("rejections = %d", n)
	}
}

func nonLoopbackIP() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP
		}
	}
	return nil
}

// TestBinaryRefusesExposure runs the binary: a non-loopback bind without
// authentication is refused with a clear error unless protected-mode is no.
func TestBinaryRefusesExposure(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	out, err := exec.CommandContext(ctx, bin, "--bind", "0.0.0.0", "--port", port, "--metrics-addr", "").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "refusing to accept clients from other hosts without authentication") {
		t.Fatalf("exposed start: err %v, output:\n%s", err, out)
	}
	// With a password or protected-mode no it starts.
	for _, extra := range [][]string{{"--requirepass", "pw"}, {"--protected-mode", "no"}} {
		port, stderr := runBinary(t, append([]string{"--bind", "0.0.0.0"}, extra...)...)
		pass := ""
		if extra[0] == "--requirepass" {
			pass = "pw"
		}
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, Password: pass, MaxRetries: -1})
		if err := c.Ping(ctx).Err(); err != nil {
			t.Errorf("%v: %v\n%s", extra, err, stderr)
		}
		c.Close()
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return itoa(ln.Addr().(*net.TCPAddr).Port)
}

// TestBinaryTLS runs the binary with only a TLS port and /metrics over TLS,
// as main wires them.
func TestBinaryTLS(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	bin := buildBinary(t)
	tlsPort, mPort := freePort(t), freePort(t)
	cmd := exec.Command(bin, "--port", "0", "--tls-port", tlsPort, "--tls-cert-file", p.certFile, "--tls-key-file", p.keyFile,
		"--tls-ca-cert-file", p.caFile, "--metrics-addr", "127.0.0.1:"+mPort, "--metrics-tls", "yes")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exit: %v\n%s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			t.Error("no exit after SIGTERM")
		}
	}()
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + tlsPort, TLSConfig: p.clientTLS(true), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("no TLS service:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: p.clientTLS(true)}, Timeout: 10 * time.Second}
	resp, err := hc.Get("https://localhost:" + mPort + "/metrics")
	if err != nil {
		t.Fatalf("metrics over TLS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "cachesrv_") {
		t.Fatalf("metrics: %d %.200s", resp.StatusCode, body)
	}
	// Without a client certificate /metrics is refused like RESP.
	hc2 := &http.Client{Transport: &http.Transport{TLSClientConfig: p.clientTLS(false)}, Timeout: 10 * time.Second}
	if resp, err := hc2.Get("https://localhost:" + mPort + "/metrics"); err == nil {
		resp.Body.Close()
		t.Fatal("metrics served without a client certificate")
	}
	if !strings.Contains(stderr.String(), "TLS listening") {
		t.Errorf("log: %s", stderr.String())
	}
}
