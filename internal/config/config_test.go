package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// nonDefault holds, for every setting, a valid value that differs from the
// default. TestParamsCoverFields uses it to prove that each setting drives
// exactly one Config field and that no field lacks a setting.
var nonDefault = map[string]string{
	"bind":                        "0.0.0.0 ::1",
	"port":                        "7000",
	"tls-port":                    "7001",
	"protected-mode":              "no",
	"tcp-keepalive":               "60",
	"timeout":                     "30",
	"maxclients":                  "100",
	"event-loops":                 "4",
	"requirepass":                 "s3cret",
	"aclfile":                     "/etc/cachesrv/users.acl",
	"rename-command":              `FLUSHALL "" CONFIG cfg-7f3a`,
	"tls-cert-file":               "cert.pem",
	"tls-key-file":                "key.pem",
	"tls-ca-cert-file":            "ca.pem",
	"tls-auth-clients":            "optional",
	"proto-max-bulk-len":          "64mb",
	"client-query-buffer-limit":   "128mb",
	"client-output-buffer-limit":  "pubsub 32mb 8mb 60",
	"client-output-timeout":       "5",
	"databases":                   "1",
	"shards":                      "256",
	"maxmemory":                   "1gb",
	"maxmemory-policy":            "volatile-ttl",
	"maxmemory-samples":           "10",
	"lfu-log-factor":              "5",
	"lfu-decay-time":              "2",
	"hash-max-listpack-entries":   "256",
	"hash-max-listpack-value":     "32",
	"set-max-intset-entries":      "1024",
	"set-max-listpack-entries":    "64",
	"set-max-listpack-value":      "16",
	"zset-max-listpack-entries":   "64",
	"zset-max-listpack-value":     "16",
	"list-max-listpack-size":      "-3",
	"list-compress-depth":         "1",
	"hz":                          "100",
	"active-expire-effort":        "7",
	"expire-jitter":               "0.1",
	"slowlog-log-slower-than":     "-1",
	"slowlog-max-len":             "1024",
	"tags-max-per-key":            "8",
	"tracking-table-max-keys":     "5000",
	"notify-keyspace-events":      "KEA",
	"tag-max-len":                 "64",
	"metrics-addr":                ":9100",
	"log-level":                   "debug",
	"log-format":                  "json",
	"shutdown-timeout":            "1m30s",
	"audit-log":                   "yes",
	"metrics-tls":                 "yes",
	"dir":                         "/var/lib/cachesrv",
	"dbfilename":                  "cache.snap",
	"save":                        "3600 1 300 100",
	"start-empty-on-bad-snapshot": "yes",
	"save-on-shutdown":            "yes",
	"busy-reply-threshold":        "250",
	"origins-warm-on-start":       "no",
	"origins-warm-timeout":        "5s",

	"cluster-enabled":               "yes",
	"cluster-port":                  "17000",
	"cluster-config-file":           "node-1.conf",
	"cluster-node-timeout":          "2000",
	"cluster-require-full-coverage": "no",
	"cluster-slot-takeover":         "no",
	"cluster-announce-ip":           "10.0.0.7",
}

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestParamsCoverFields(t *testing.T) {
	t.Parallel()
	fields := map[string]bool{}
	for _, p := range table {
		v, ok := nonDefault[p.Name]
		if !ok {
			t.Errorf("%s: add a non-default value to nonDefault", p.Name)
			continue
		}
		c := Default()
		if err := c.apply(p, v); err != nil {
			t.Errorf("%s: apply(%q) = %v", p.Name, v, err)
			continue
		}
		changed := diffFields(Default(), c)
		if len(changed) != 1 {
			t.Errorf("%s = %q changed fields %v, want exactly one", p.Name, v, changed)
			continue
		}
		if fields[changed[0]] {
			t.Errorf("%s: field %s is driven by two settings", p.Name, changed[0])
		}
		fields[changed[0]] = true
	}
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		if f := typ.Field(i).Name; !fields[f] && f != "ConfigFile" && f != "Origins" {
			t.Errorf("field %s has no setting", f)
		}
	}
	if len(nonDefault) != len(table) {
		t.Errorf("nonDefault has %d entries for %d settings", len(nonDefault), len(table))
	}
}

func diffFields(a, b *Config) []string {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	var out []string
	for i := range va.NumField() {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			out = append(out, va.Type().Field(i).Name)
		}
	}
	return out
}

func TestParamsMetadata(t *testing.T) {
	t.Parallel()
	ps := Params()
	if len(ps) != len(table) {
		t.Fatalf("Params() has %d entries, table %d", len(ps), len(table))
	}
	mutable := []string{
		"maxmemory", "maxmemory-policy", "maxmemory-samples", "lfu-log-factor", "lfu-decay-time",
		"requirepass", "maxclients", "timeout", "proto-max-bulk-len", "client-query-buffer-limit",
		"hz", "active-expire-effort", "slowlog-log-slower-than", "slowlog-max-len", "expire-jitter",
		"log-level", "tags-max-per-key", "tag-max-len", "client-output-buffer-limit", "tcp-keepalive", "client-output-timeout",
		"busy-reply-threshold",
		"hash-max-listpack-entries", "hash-max-listpack-value", "set-max-intset-entries", "set-max-listpack-entries",
		"set-max-listpack-value", "zset-max-listpack-entries", "zset-max-listpack-value", "list-max-listpack-size",
		"list-compress-depth", "tracking-table-max-keys", "notify-keyspace-events",
		"dir", "dbfilename", "save", "save-on-shutdown",
	}
	for _, p := range ps {
		if p.Name != strings.ToLower(p.Name) || strings.ContainsAny(p.Name, " _") {
			t.Errorf("%q: names are lower-case with dashes", p.Name)
		}
		if p.Doc == "" || p.Type == "" {
			t.Errorf("%s: missing Doc or Type", p.Name)
		}
		if want := "CACHESRV_" + strings.ToUpper(strings.ReplaceAll(p.Name, "-", "_")); p.Env != want {
			t.Errorf("%s: Env = %q, want %q", p.Name, p.Env, want)
		}
		if got, want := p.Mutable, slices.Contains(mutable, p.Name); got != want {
			t.Errorf("%s: Mutable = %v, want %v", p.Name, got, want)
		}
	}
	byName := map[string]Param{}
	for _, p := range ps {
		byName[p.Name] = p
	}
	for name, want := range map[string]string{
		"maxmemory": "256mb", "port": "6379", "bind": "127.0.0.1", "requirepass": "",
		"client-query-buffer-limit": "1gb", "shutdown-timeout": "10s", "protected-mode": "yes",
		"client-output-buffer-limit": "normal 0 0 0", "rename-command": "",
	} {
		if got := byName[name].Default; got != want {
			t.Errorf("%s: Default = %q, want %q", name, got, want)
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	c := Default()
	for name, want := range map[string]string{
		"maxmemory":                  "268435456",
		"MaxMemory":                  "268435456",
		"proto-max-bulk-len":         "536870912",
		"client-query-buffer-limit":  "1073741824",
		"protected-mode":             "yes",
		"audit-log":                  "no",
		"timeout":                    "0",
		"tcp-keepalive":              "300",
		"shutdown-timeout":           "10s",
		"bind":                       "127.0.0.1",
		"client-output-buffer-limit": "normal 0 0 0",
		"expire-jitter":              "0",
		"maxmemory-policy":           "allkeys-wtinylfu",
		"rename-command":             "",
		"slowlog-log-slower-than":    "10000",
		"metrics-addr":               "127.0.0.1:9379",
	} {
		got, ok := c.Get(name)
		if !ok || got != want {
			t.Errorf("Get(%q) = %q, %v; want %q, true", name, got, ok, want)
		}
	}
	if p, ok := Lookup("MaxMemory-Policy"); !ok || p.Name != "maxmemory-policy" || !p.Mutable {
		t.Errorf("Lookup(MaxMemory-Policy) = %+v, %v", p, ok)
	}
	if _, ok := Lookup("no-such-setting"); ok {
		t.Error("Lookup(unknown) succeeded")
	}
	if v, ok := c.Get("no-such-setting"); ok || v != "" {
		t.Errorf("Get(unknown) = %q, %v", v, ok)
	}
}

func TestSet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, value string
		want        string // Get after a successful Set
		err         string // substring of the error, if Set must fail
		is          error
	}{
		{name: "maxmemory", value: "1gb", want: "1073741824"},
		{name: "MAXMEMORY", value: "100MB", want: "104857600"},
		{name: "maxmemory", value: "1k", want: "1000"},
		{name: "maxmemory", value: "0", want: "0"},
		{name: "maxmemory", value: "abc", err: "argument must be a memory value"},
		{name: "maxmemory", value: "-1", err: "argument must be a memory value"},
		{name: "maxmemory-policy", value: "ALLKEYS-LRU", want: "allkeys-lru"},
		{name: "maxmemory-policy", value: "lru", err: "argument(s) must be one of the following: noeviction, allkeys-lru"},
		{name: "maxmemory-samples", value: "x", err: "argument couldn't be parsed into an integer"},
		{name: "hz", value: "0", err: "argument must be between 1 and 500 inclusive"},
		{name: "hz", value: "500", want: "500"},
		{name: "timeout", value: "10s", want: "10"},
		{name: "timeout", value: "120", want: "120"},
		{name: "timeout", value: "1.5s", err: "whole number of seconds"},
		{name: "timeout", value: "-1", err: "between 0 and"},
		{name: "tcp-keepalive", value: "0", want: "0"},
		{name: "slowlog-log-slower-than", value: "-1", want: "-1"},
		{name: "slowlog-log-slower-than", value: "-2", err: "at least -1"},
		{name: "expire-jitter", value: "0.25", want: "0.25"},
		{name: "expire-jitter", value: "1.5", err: "between 0 and 1 inclusive"},
		{name: "expire-jitter", value: "NaN", err: "couldn't be parsed into a number"},
		{name: "log-level", value: "DEBUG", want: "debug"},
		{name: "log-level", value: "trace", err: "debug, info, warn, error"},
		{name: "requirepass", value: "pa ss", want: "pa ss"},
		{name: "proto-max-bulk-len", value: "2gb", err: "must not exceed client-query-buffer-limit (1073741824)"},
		{name: "proto-max-bulk-len", value: "1000000", err: "at least 1mb (1048576 bytes)"},
		{name: "client-query-buffer-limit", value: "100mb", err: "proto-max-bulk-len (536870912) must not exceed"},
		{name: "client-output-buffer-limit", value: "pubsub 32mb 8mb 60", want: "normal 0 0 0 pubsub 33554432 8388608 60"},
		{name: "client-output-buffer-limit", value: "slave 1gb 0 0 NORMAL 1kb 1kb 5", want: "normal 1024 1024 5 replica 1073741824 0 0"},
		{name: "client-output-buffer-limit", value: "normal 0 0", err: "wrong number of arguments"},
		{name: "client-output-buffer-limit", value: "master 0 0 0", err: "invalid client class"},
		{name: "client-output-buffer-limit", value: "normal 1x 0 0", err: "error in hard, soft or soft_seconds"},
		{name: "tags-max-per-key", value: "0", err: "between 1 and 255"},
		{name: "tags-max-per-key", value: "256", err: "between 1 and 255"},
		{name: "tags-max-per-key", value: "255", want: "255"},
		{name: "port", value: "7000", is: ErrImmutable, err: "can't set immutable config"},
		{name: "shards", value: "128", is: ErrImmutable},
		{name: "no-such", value: "1", is: ErrUnknownParam, err: "unknown option 'no-such'"},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			t.Parallel()
			c := Default()
			err := c.Set(tc.name, tc.value)
			if tc.err == "" && tc.is == nil {
				if err != nil {
					t.Fatalf("Set = %v", err)
				}
				if got, _ := c.Get(tc.name); got != tc.want {
					t.Fatalf("Get = %q, want %q", got, tc.want)
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("Validate after Set = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Set succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Set error = %q, want it to contain %q", err, tc.err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("Set error = %v, want errors.Is %v", err, tc.is)
			}
			if diff := diffFields(Default(), c); len(diff) > 0 {
				t.Errorf("failed Set changed %v", diff)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	c := Default()
	for pattern, want := range map[string][]string{
		"maxmemory*":  {"maxmemory", "maxmemory-policy", "maxmemory-samples"},
		"MAX?EMORY":   {"maxmemory"},
		"tls-*-file":  {"tls-cert-file", "tls-key-file", "tls-ca-cert-file"},
		"slowlog-*":   {"slowlog-log-slower-than", "slowlog-max-len"},
		"[hp]*":       {"port", "protected-mode", "proto-max-bulk-len", "hash-max-listpack-entries", "hash-max-listpack-value", "hz"},
		"nothing*":    nil,
		"requirepass": {"requirepass"},
	} {
		if got := c.Match(pattern); !slices.Equal(got, want) {
			t.Errorf("Match(%q) = %v, want %v", pattern, got, want)
		}
	}
	if got := c.Match("*"); len(got) != len(table) {
		t.Errorf("Match(*) returned %d names, want %d", len(got), len(table))
	}
}

func TestClone(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.apply(lookup("rename-command"), "flushall x"); err != nil {
		t.Fatal(err)
	}
	d := c.Clone()
	if !reflect.DeepEqual(c, d) {
		t.Fatal("clone differs")
	}
	d.Bind[0] = "10.0.0.1"
	d.RenameCommands["flushall"] = "y"
	if c.Bind[0] != "127.0.0.1" || c.RenameCommands["flushall"] != "x" {
		t.Fatal("clone shares memory with the original")
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	c := Default()
	c.Port = -1
	c.Databases = 0
	c.MaxMemoryPolicy = "lru"
	c.Shards = 3
	c.Bind = nil
	c.ExpireJitter = -0.5
	c.ShutdownTimeout = -time.Second
	c.TLSPort = 6380
	c.ClientOutputBufferLimit = "normal"
	c.RenameCommands = map[string]string{"get": "x", "set": "x"}
	c.MetricsAddr = "nowhere"
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate() = nil")
	}
	want := []string{
		"port: argument must be between 0 and 65535 inclusive",
		"databases: argument must be between 1 and 65536 inclusive",
		"maxmemory-policy: argument(s) must be one of the following",
		"shards: argument must be a power of two",
		"bind: argument must list at least one address",
		"expire-jitter: argument must be between 0 and 1 inclusive",
		"shutdown-timeout: argument must not be negative",
		"tls-cert-file: required when tls-port is set",
		"tls-key-file: required when tls-port is set",
		"tls-ca-cert-file: required when tls-port is set",
		"client-output-buffer-limit: wrong number of arguments",
		`rename-command: commands "get" and "set" are both renamed to "x"`,
		"metrics-addr: argument must be host:port",
	}
	assertErrors(t, err, want)
	var pe *ParamError
	if !errors.As(err, &pe) || pe.Name != "bind" || pe.Err == nil {
		t.Errorf("errors.As(*ParamError) = %v", pe)
	}
}

// assertErrors checks that err has exactly one line per expected substring.
func assertErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, w) }) {
			t.Errorf("want a problem containing %q in:\n%v", w, err)
		}
	}
}

func TestListenAddrs(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.apply(lookup("bind"), "127.0.0.1 ::1 * ::*"); err != nil {
		t.Fatal(err)
	}
	want := []string{"127.0.0.1:6379", "[::1]:6379", "0.0.0.0:6379", "[::]:6379"}
	if got := c.ListenAddrs(); !slices.Equal(got, want) {
		t.Errorf("ListenAddrs() = %v, want %v", got, want)
	}
	if got := c.TLSListenAddrs(); got != nil {
		t.Errorf("TLSListenAddrs() with tls-port 0 = %v", got)
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Set("client-output-buffer-limit", "pubsub 32mb 8mb 60"); err != nil {
		t.Fatal(err)
	}
	if got, want := c.OutputBufferLimitFor("pubsub"), (OutputBufferLimit{"pubsub", 32 << 20, 8 << 20, 60}); got != want {
		t.Errorf("OutputBufferLimitFor(pubsub) = %+v, want %+v", got, want)
	}
	if got := c.OutputBufferLimitFor("replica"); got != (OutputBufferLimit{Class: "replica"}) {
		t.Errorf("OutputBufferLimitFor(replica) = %+v", got)
	}
	for level, want := range map[string]string{"debug": "DEBUG", "info": "INFO", "warn": "WARN", "error": "ERROR"} {
		c.LogLevel = level
		if got := c.SlogLevel().String(); got != want {
			t.Errorf("SlogLevel(%s) = %s", level, got)
		}
	}
	if !slices.Contains(MaxMemoryPolicies(), "allkeys-wtinylfu") {
		t.Error("MaxMemoryPolicies lacks the default")
	}
}

func TestSaveSchedule(t *testing.T) {
	t.Parallel()
	c := Default()
	if len(c.SavePoints()) != 0 {
		t.Fatal("saving must be off by default")
	}
	if err := c.Set("save", " 900  1 60 10000 "); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Get("save"); v != "900 1 60 10000" {
		t.Fatalf("save = %q", v)
	}
	if sp := c.SavePoints(); len(sp) != 2 || sp[1].After != 60*time.Second || sp[1].Changes != 10000 {
		t.Fatalf("points %+v", sp)
	}
	for _, bad := range []string{"900", "0 1", "x 1", "1 -1", "1 y"} {
		if err := c.Set("save", bad); err == nil || err.Error() != "Invalid save parameters" {
			t.Errorf("save %q: %v", bad, err)
		}
	}
	if err := c.Set("save", ""); err != nil || len(c.SavePoints()) != 0 {
		t.Fatalf("save \"\": %v", err)
	}
	if err := c.Set("dbfilename", "a/b"); err == nil {
		t.Fatal("path accepted as dbfilename")
	}
}
