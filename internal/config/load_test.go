package config

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite configs/cachesrv.yaml from the table")

const samplePath = "../../configs/cachesrv.yaml"

// writeFile writes a config file into a fresh temporary directory.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "cachesrv.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// load calls Load and fails the test on error.
func load(t *testing.T, args, environ []string) *Config {
	t.Helper()
	c, err := Load(args, environ)
	if err != nil {
		t.Fatalf("Load(%q, %q) = %v", args, environ, err)
	}
	return c
}

// equalDefault compares c with Default(), ignoring ConfigFile.
func equalDefault(t *testing.T, c *Config) {
	t.Helper()
	d := c.Clone()
	d.ConfigFile = ""
	if diff := diffFields(Default(), d); len(diff) > 0 {
		t.Errorf("config differs from Default() in %v", diff)
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	equalDefault(t, load(t, nil, nil))
	equalDefault(t, load(t, []string{}, []string{"HOME=/root", "CACHESRV_UNRELATED=1", "CACHESRV_PORT="}))
}

// TestSampleConfig keeps configs/cachesrv.yaml in step with the table: it
// must be exactly what the table generates, and load to Default().
func TestSampleConfig(t *testing.T) {
	want, err := Default().marshalYAML(sampleHeader)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(samplePath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date; run go test ./internal/config -run TestSampleConfig -update", samplePath)
	}
	c := load(t, []string{"--config", samplePath}, nil)
	equalDefault(t, c)
	if abs, _ := filepath.Abs(samplePath); c.ConfigFile != abs {
		t.Errorf("ConfigFile = %q, want %q", c.ConfigFile, abs)
	}
	for _, p := range Params() {
		if !bytes.Contains(got, []byte("\n# "+p.Doc)) || !bytes.Contains(got, []byte("\n"+p.Name+":")) {
			t.Errorf("sample lacks %s or its comment", p.Name)
		}
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "maxmemory: 1mb\nport: 7001\nhz: 20\ntimeout: 5\n")
	environ := []string{"CACHESRV_MAXMEMORY=2mb", "CACHESRV_PORT=7002", "CACHESRV_CONFIG=" + file}
	args := []string{"--maxmemory", "3mb", "--config", file}
	c := load(t, args, environ)
	for _, tc := range []struct {
		name, want, layer string
	}{
		{"maxmemory", "3145728", "flag beats env and file"},
		{"port", "7002", "env beats file"},
		{"hz", "20", "file beats default"},
		{"timeout", "5", "file beats default"},
		{"databases", "16", "default"},
	} {
		if got := c.mustGet(tc.name); got != tc.want {
			t.Errorf("%s = %s, want %s (%s)", tc.name, got, tc.want, tc.layer)
		}
	}

	// CACHESRV_CONFIG names the file when --config is absent, and an
	// explicit empty --config disables it.
	if got := load(t, nil, environ[2:]).Port; got != 7001 {
		t.Errorf("port from CACHESRV_CONFIG file = %d, want 7001", got)
	}
	if got := load(t, []string{"--config="}, environ[2:]).Port; got != 6379 {
		t.Errorf("port with --config= = %d, want 6379", got)
	}
	// The first of duplicate environment entries wins, as with os.Getenv.
	if got := load(t, nil, []string{"CACHESRV_HZ=30", "CACHESRV_HZ=40"}).Hz; got != 30 {
		t.Errorf("hz = %d, want 30", got)
	}
}

func TestLoadRedisStyleFlags(t *testing.T) {
	t.Parallel()
	c := load(t, []string{
		"--port", "7000", "--maxmemory", "100mb", "--maxmemory-policy=allkeys-lru",
		"--slowlog-log-slower-than", "-1", "--protected-mode", "no", "--requirepass", "",
		"--bind", "127.0.0.1 ::1", "--bind", "10.0.0.1",
		"--rename-command", `FLUSHALL ""`, "--rename-command", "CONFIG cfg",
		"--shutdown-timeout", "1m", "--expire-jitter", "0.05",
	}, nil)
	want := Default()
	want.Port = 7000
	want.MaxMemory = 100 << 20
	want.MaxMemoryPolicy = "allkeys-lru"
	want.SlowlogLogSlowerThan = -1
	want.ProtectedMode = false
	want.Bind = []string{"127.0.0.1", "::1", "10.0.0.1"}
	want.RenameCommands = map[string]string{"flushall": "", "config": "cfg"}
	want.ShutdownTimeout = time.Minute
	want.ExpireJitter = 0.05
	if !reflect.DeepEqual(c, want) {
		t.Errorf("differs in %v", diffFields(want, c))
	}
}

func TestLoadFileForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, yaml string
		check      func(c *Config) bool
	}{
		{"rename map", "rename-command:\n  FLUSHALL: \"\"\n  Config: cfg\n", func(c *Config) bool {
			return reflect.DeepEqual(c.RenameCommands, map[string]string{"flushall": "", "config": "cfg"})
		}},
		{"rename strings", "rename-command: [\"FLUSHALL ''\", CONFIG cfg]\n", func(c *Config) bool {
			return reflect.DeepEqual(c.RenameCommands, map[string]string{"flushall": "", "config": "cfg"})
		}},
		{"rename pairs", "rename-command:\n  - [FLUSHALL, \"\"]\n  - [CONFIG, cfg]\n", func(c *Config) bool {
			return reflect.DeepEqual(c.RenameCommands, map[string]string{"flushall": "", "config": "cfg"})
		}},
		{"rename string", "rename-command: FLUSHALL '' CONFIG cfg\n", func(c *Config) bool {
			return reflect.DeepEqual(c.RenameCommands, map[string]string{"flushall": "", "config": "cfg"})
		}},
		{"bind list", "bind: [127.0.0.1, \"::1\"]\n", func(c *Config) bool {
			return reflect.DeepEqual(c.Bind, []string{"127.0.0.1", "::1"})
		}},
		{"yaml booleans", "protected-mode: false\naudit-log: true\ntls-auth-clients: false\n", func(c *Config) bool {
			return !c.ProtectedMode && c.AuditLog && c.TLSAuthClients == "no"
		}},
		{"plain byte count", "maxmemory: 1073741824\nproto-max-bulk-len: 1MB\n", func(c *Config) bool {
			return c.MaxMemory == 1<<30 && c.ProtoMaxBulkLen == 1<<20
		}},
		{"float", "expire-jitter: .5\n", func(c *Config) bool { return c.ExpireJitter == 0.5 }},
		{"keys are case-insensitive", "MaxMemory: 1gb\n", func(c *Config) bool { return c.MaxMemory == 1<<30 }},
		{"null keeps default", "requirepass:\nport: 7000\n", func(c *Config) bool { return c.RequirePass == "" && c.Port == 7000 }},
		{"empty file", "", func(c *Config) bool { return reflect.DeepEqual(c.Bind, Default().Bind) }},
		{"comments only", "# nothing\n", func(c *Config) bool { return c.Port == 6379 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := load(t, []string{"--config", writeFile(t, tc.yaml)}, nil)
			if !tc.check(c) {
				t.Errorf("unexpected config from %q: %+v", tc.yaml, c)
			}
		})
	}
}

func TestLoadHelpVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"--help"}, ErrHelp},
		{[]string{"-h"}, ErrHelp},
		{[]string{"--port", "abc", "--help"}, ErrHelp},
		{[]string{"--version"}, ErrVersion},
		{[]string{"-v"}, ErrVersion},
		{[]string{"--help", "--version"}, ErrHelp},
	} {
		if _, err := Load(tc.args, nil); !errors.Is(err, tc.want) {
			t.Errorf("Load(%q) = %v, want %v", tc.args, err, tc.want)
		}
	}
}

func TestLoadCommandLineErrors(t *testing.T) {
	t.Parallel()
	malformed := "testdata/malformed.yaml"
	for _, tc := range []struct {
		args []string
		env  []string
		want string
		is   error
	}{
		{args: []string{"--no-such-flag"}, want: "unknown flag: --no-such-flag"},
		{args: []string{"--maxmemory_policy", "x"}, want: "unknown flag: --maxmemory_policy"},
		{args: []string{"-x"}, want: "unknown shorthand flag"},
		{args: []string{"--port"}, want: "flag needs an argument: --port"},
		{args: []string{"cachesrv.yaml"}, want: `unexpected argument "cachesrv.yaml"`},
		{args: []string{"--port", "7000", "6380"}, want: `unexpected argument "6380"`},
		{args: []string{"--config", "testdata/missing.yaml"}, want: "read config file", is: fs.ErrNotExist},
		{env: []string{"CACHESRV_CONFIG=testdata/missing.yaml"}, want: "read config file", is: fs.ErrNotExist},
		{args: []string{"--config", malformed}, want: "parse config file testdata/malformed.yaml"},
	} {
		_, err := Load(tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%q, %q) = %v, want %q", tc.args, tc.env, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("Load(%q, %q) = %v, want errors.Is %v", tc.args, tc.env, err, tc.is)
		}
	}
}

// TestLoadBadConfig loads the fixtures in testdata/bad: each must fail with
// exactly the listed problems, all reported at once.
func TestLoadBadConfig(t *testing.T) {
	t.Parallel()
	cases := map[string][]string{
		"ranges.yaml": {
			`port: argument must be between 0 and 65535 inclusive (got "70000" from testdata/bad/ranges.yaml)`,
			"databases: argument must be between 1 and 65536 inclusive",
			"hz: argument must be between 1 and 500 inclusive",
			"maxmemory-samples: argument must be between 1 and 64 inclusive",
			"shards: argument must be a power of two between 1 and 4096",
			"expire-jitter: argument must be between 0 and 1 inclusive",
			"slowlog-log-slower-than: argument must be at least -1",
			"tags-max-per-key: argument must be between 1 and 255 inclusive",
		},
		"syntax.yaml": {
			`maxmemory: argument must be a memory value (got "12 mb" from`,
			"protected-mode: argument must be 'yes' or 'no'",
			"timeout: argument must be a whole number of seconds",
			"maxmemory-policy: argument(s) must be one of the following: noeviction,",
			"shutdown-timeout: argument must be a duration such as 10s",
			"log-level: argument(s) must be one of the following: debug, info, warn, error",
			"port: argument couldn't be parsed into an integer",
		},
		"unknown.yaml": {
			"maxmemroy: unknown setting in testdata/bad/unknown.yaml",
			"loglevel: unknown setting",
		},
		"tls.yaml": {
			"tls-port: tls-port must differ from port",
			"tls-cert-file: required when tls-port is set",
			"tls-key-file: required when tls-port is set",
			"tls-ca-cert-file: required when tls-port is set",
		},
		"limits.yaml": {
			"client-output-buffer-limit: wrong number of arguments in buffer limit configuration",
			"proto-max-bulk-len: proto-max-bulk-len (2147483648) must not exceed client-query-buffer-limit (1073741824)",
		},
		"lists.yaml": {
			`bind: argument "localhost" is not an IP address`,
			`rename-command: commands "flushall" and "flushdb" are both renamed to "danger"`,
			`metrics-addr: argument must be host:port, :port or empty (got "9379" from`,
		},
		"shapes.yaml": {
			"port: argument must be a single value, not a list (got a list in testdata/bad/shapes.yaml)",
			"requirepass: argument must be a single value, not a mapping",
		},
		"nothing-listens.yaml": {
			"port: port and tls-port cannot both be 0",
		},
	}
	entries, err := os.ReadDir("testdata/bad")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := cases[e.Name()]; !ok {
			t.Errorf("testdata/bad/%s has no expectations", e.Name())
		}
	}
	for name, want := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := Load([]string{"--config", "testdata/bad/" + name}, nil)
			if c != nil {
				t.Error("Load returned a config along with errors")
			}
			assertErrors(t, err, want)
		})
	}
}

func TestLoadBadFlagsAndEnv(t *testing.T) {
	t.Parallel()
	_, err := Load(
		[]string{"--maxmemory", "lots", "--hz", "0", "--rename-command", "flushall"},
		[]string{"CACHESRV_DATABASES=none", "CACHESRV_HZ=10", "CACHESRV_TLS_PORT=6380"},
	)
	assertErrors(t, err, []string{
		`maxmemory: argument must be a memory value (got "lots" from flag --maxmemory)`,
		`hz: argument must be between 1 and 500 inclusive (got "0" from flag --hz)`,
		`rename-command: argument must be OLD NEW pairs (got "flushall" from flag --rename-command)`,
		`databases: argument couldn't be parsed into an integer (got "none" from environment CACHESRV_DATABASES)`,
		"tls-cert-file: required when tls-port is set",
		"tls-key-file: required when tls-port is set",
		"tls-ca-cert-file: required when tls-port is set",
	})
}

func TestUsage(t *testing.T) {
	t.Parallel()
	u := Usage()
	for _, want := range []string{"Usage: cachesrv", "--config FILE", "--help", "--version", "CACHESRV_"} {
		if !strings.Contains(u, want) {
			t.Errorf("Usage() lacks %q", want)
		}
	}
	for _, p := range Params() {
		line := "--" + p.Name + " " + p.Type
		i := strings.Index(u, line)
		if i < 0 {
			t.Errorf("Usage() lacks %q", line)
			continue
		}
		l := u[i:]
		l = l[:strings.IndexByte(l, '\n')]
		if !strings.Contains(l, p.Doc) || (p.Default != "" && !strings.Contains(l, "(default "+p.Default+")")) {
			t.Errorf("Usage() line for %s lacks doc or default: %q", p.Name, l)
		}
		if mutable := u[i-2] == '*'; mutable != p.Mutable {
			t.Errorf("Usage() marks %s mutable=%v", p.Name, mutable)
		}
	}
}

func TestRewrite(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "# hand-written\nport: 7000\nrequirepass: old\n")
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	c := load(t, []string{"--config", path, "--hz", "50"}, nil)
	for name, value := range map[string]string{
		"maxmemory": "1gb", "requirepass": `new "pass"` + "\n\u00e9", "expire-jitter": "0.125",
		"client-output-buffer-limit": "pubsub 32mb 8mb 60", "log-level": "warn",
	} {
		if err := c.Set(name, value); err != nil {
			t.Fatalf("Set(%s, %q) = %v", name, value, err)
		}
	}
	c.RenameCommands = map[string]string{"flushall": "", "config": "cfg"}
	if err := c.Rewrite(""); err != nil {
		t.Fatal(err)
	}
	back := load(t, []string{"--config", path}, nil)
	if !reflect.DeepEqual(back, c) {
		t.Errorf("reloaded config differs in %v", diffFields(c, back))
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", st.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte("\nmaxmemory: 1gb\n")) || !bytes.Contains(data, []byte("Written by CONFIG REWRITE")) {
		t.Errorf("unexpected file:\n%s", data)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(matches) > 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

func TestRewriteTargets(t *testing.T) {
	t.Parallel()
	if err := Default().Rewrite(""); !errors.Is(err, ErrNoConfigFile) {
		t.Errorf("Rewrite without a file = %v, want ErrNoConfigFile", err)
	}

	dir := t.TempDir()
	fresh := filepath.Join(dir, "new.yaml")
	if err := Default().Rewrite(fresh); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("new file: %v, %v; want mode 0600", st, err)
	}

	// A symbolic link is followed, not replaced.
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(fresh, link); err != nil {
		t.Skip(err)
	}
	c := Default()
	c.Port = 7777
	if err := c.Rewrite(link); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Lstat(link); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link replaced: %v, %v", st, err)
	}
	if got := load(t, []string{"--config", fresh}, nil).Port; got != 7777 {
		t.Errorf("port via link = %d", got)
	}
}

func TestRewriteRefuses(t *testing.T) {
	t.Parallel()
	path := writeFile(t, "port: 7000\n")
	c := Default()
	c.RequirePass = "\xff"
	if err := c.Rewrite(path); err == nil || !strings.Contains(err.Error(), "requirepass: value is not valid UTF-8") {
		t.Errorf("Rewrite = %v, want a UTF-8 error", err)
	}
	c = Default()
	c.Hz = 0
	if err := c.Rewrite(path); err == nil || !strings.Contains(err.Error(), "hz:") {
		t.Errorf("Rewrite of an invalid config = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != "port: 7000\n" {
		t.Errorf("file changed after failed rewrites: %q", data)
	}
}
