package config

import (
	"errors"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/cachesrv/cachesrv/internal/glob"
	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

// Sentinel errors. Compare with errors.Is.
var (
	// ErrHelp is returned by Load for --help/-h: print Usage() and exit 0.
	ErrHelp = errors.New("help requested")
	// ErrVersion is returned by Load for --version/-v: print the version and exit 0.
	ErrVersion = errors.New("version requested")
	// ErrUnknownParam is returned by Set for a name that is not a setting.
	ErrUnknownParam = errors.New("unknown option")
	// ErrImmutable is returned by Set for a setting that cannot change at run time.
	ErrImmutable = errors.New("can't set immutable config at run time")
	// ErrNoConfigFile is returned by Rewrite when the server was started
	// without --config and no path was given.
	ErrNoConfigFile = errors.New("the server is running without a config file")
)

// Config is the complete, typed server configuration. Each field documents
// the setting name it comes from; see Params for syntax and defaults.
//
// A Config is a plain value and is not safe for concurrent use. The server
// should treat the live Config as read-only, apply CONFIG SET to a Clone and
// publish the clone (for example through an atomic.Pointer).
type Config struct {
	// Network and clients.

	Bind           []string          // bind: IP addresses to listen on; "*" is all IPv4, "::*" all IPv6
	Port           int               // port: plain-text RESP port; 0 disables it
	ProtectedMode  bool              // protected-mode
	TCPKeepalive   time.Duration     // tcp-keepalive: whole seconds; 0 disables
	Timeout        time.Duration     // timeout: idle client timeout, whole seconds; 0 never
	MaxClients     int               // maxclients
	EventLoops     int               // event-loops: EventLoopsAuto (one per CPU), 0 (a goroutine per client) or a count
	Databases      int               // databases
	RequirePass    string            // requirepass: "" disables AUTH
	ACLFile        string            // aclfile
	RenameCommands map[string]string // rename-command: lower-case old name → lower-case new name; "" disables the command; nil when empty

	// TLS.

	TLSPort        int    // tls-port: 0 disables TLS
	TLSCertFile    string // tls-cert-file
	TLSKeyFile     string // tls-key-file
	TLSCACertFile  string // tls-ca-cert-file
	TLSAuthClients string // tls-auth-clients: "yes", "no" or "optional"

	// Input and output limits.

	ProtoMaxBulkLen         int64         // proto-max-bulk-len: bytes
	ClientQueryBufferLimit  int64         // client-query-buffer-limit: bytes
	ClientOutputBufferLimit string        // client-output-buffer-limit: canonical form; see OutputBufferLimitFor
	ClientOutputTimeout     time.Duration // client-output-timeout: whole seconds; 0 never

	// Memory and eviction.

	MaxMemory        int64  // maxmemory: bytes; 0 is unlimited
	MaxMemoryPolicy  string // maxmemory-policy: one of MaxMemoryPolicies()
	MaxMemorySamples int    // maxmemory-samples
	LFULogFactor     int    // lfu-log-factor
	LFUDecayTime     int    // lfu-decay-time: minutes

	// Collection encodings: Redis's thresholds, accepted for compatibility.
	// Every collection uses one compact encoding whatever its size, so they
	// change nothing (docs/datatypes.md).
	HashMaxListpackEntries int // hash-max-listpack-entries
	HashMaxListpackValue   int // hash-max-listpack-value
	SetMaxIntsetEntries    int // set-max-intset-entries
	SetMaxListpackEntries  int // set-max-listpack-entries
	SetMaxListpackValue    int // set-max-listpack-value
	ZSetMaxListpackEntries int // zset-max-listpack-entries
	ZSetMaxListpackValue   int // zset-max-listpack-value
	ListMaxListpackSize    int // list-max-listpack-size
	ListCompressDepth      int // list-compress-depth

	// Expiry.

	Hz                 int     // hz: background task frequency
	ActiveExpireEffort int     // active-expire-effort: 1..10
	ExpireJitter       float64 // expire-jitter: fraction 0..1 of each TTL to randomise

	// Slow log.

	SlowlogLogSlowerThan int64 // slowlog-log-slower-than: microseconds; negative disables
	SlowlogMaxLen        int   // slowlog-max-len

	// Scripting.

	BusyReplyThreshold int64 // busy-reply-threshold (alias lua-time-limit): ms before -BUSY

	// Tags.

	TagsMaxPerKey int // tags-max-per-key
	TagMaxLen     int // tag-max-len: bytes

	// TrackingTableMaxKeys is tracking-table-max-keys: keys remembered for
	// client-side caching (CLIENT TRACKING); 0 = unlimited.
	TrackingTableMaxKeys int64
	// NotifyKeyspaceEvents is notify-keyspace-events (canonical form; see
	// CanonicalKeyspaceEvents); empty = off.
	NotifyKeyspaceEvents string

	// Server.

	Shards          int           // shards: power of two
	MetricsAddr     string        // metrics-addr: host:port for /metrics; "" disables
	MetricsTLS      bool          // metrics-tls: serve /metrics over TLS with the tls-* files
	LogLevel        string        // log-level: debug, info, warn or error; see SlogLevel
	LogFormat       string        // log-format: text or json
	ShutdownTimeout time.Duration // shutdown-timeout
	AuditLog        bool          // audit-log

	// Persistence (persist.go).

	Dir                     string // dir
	DBFilename              string // dbfilename
	Save                    string // save: canonical "<seconds> <changes> ..."; see SavePoints
	StartEmptyOnBadSnapshot bool   // start-empty-on-bad-snapshot
	SaveOnShutdown          bool   // save-on-shutdown

	// Cluster (cluster.go, docs/cluster.md).

	ClusterEnabled             bool   // cluster-enabled
	ClusterPort                int    // cluster-port: 0 = port + 10000
	ClusterConfigFile          string // cluster-config-file, relative to Dir
	ClusterNodeTimeout         int64  // cluster-node-timeout: ms
	ClusterRequireFullCoverage bool   // cluster-require-full-coverage
	ClusterSlotTakeover        bool   // cluster-slot-takeover: cache-style failover
	ClusterAnnounceIP          string // cluster-announce-ip

	// Origins (docs/origins.md). Write-behind journals live under Dir.

	OriginsWarmOnStart bool          // origins-warm-on-start
	OriginsWarmTimeout time.Duration // origins-warm-timeout
	// Origins holds the "origins" and "routes" sections of the file; they
	// are not settings (no flag, environment variable or CONFIG GET, so
	// connection strings never show there). Validated by internal/origin.
	Origins spec.Config

	// ConfigFile is the YAML file the configuration was loaded from ("" if
	// none); Rewrite writes there by default. It is not a setting.
	ConfigFile string
}

// maxMemoryPolicies lists the accepted maxmemory-policy values.
var maxMemoryPolicies = []string{
	"noeviction",
	"allkeys-lru", "allkeys-lfu", "allkeys-random",
	"volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
	"allkeys-wtinylfu",
}

// MaxMemoryPolicies returns the accepted maxmemory-policy values.
func MaxMemoryPolicies() []string { return slices.Clone(maxMemoryPolicies) }

// EventLoopsAuto is event-loops "auto": one event loop per CPU
// (GOMAXPROCS).
const EventLoopsAuto = -1

// Default returns the built-in configuration. It is the only place where
// default values are written down; Params, Usage and the sample file in
// configs/ are derived from it.
func Default() *Config {
	return &Config{
		Bind:           []string{"127.0.0.1"},
		Port:           6379,
		ProtectedMode:  true,
		TCPKeepalive:   300 * time.Second,
		Timeout:        0,
		MaxClients:     10000,
		EventLoops:     EventLoopsAuto,
		Databases:      16,
		RequirePass:    "",
		ACLFile:        "",
		RenameCommands: nil,

		TLSPort:        0,
		TLSAuthClients: "yes",

		ProtoMaxBulkLen:         512 << 20,
		ClientQueryBufferLimit:  1 << 30,
		ClientOutputBufferLimit: "normal 0 0 0",
		ClientOutputTimeout:     60 * time.Second,

		MaxMemory:        256 << 20,
		MaxMemoryPolicy:  "allkeys-wtinylfu",
		MaxMemorySamples: 5,
		LFULogFactor:     10,
		LFUDecayTime:     1,

		HashMaxListpackEntries: 128,
		HashMaxListpackValue:   64,
		SetMaxIntsetEntries:    512,
		SetMaxListpackEntries:  128,
		SetMaxListpackValue:    64,
		ZSetMaxListpackEntries: 128,
		ZSetMaxListpackValue:   64,
		ListMaxListpackSize:    -2,
		ListCompressDepth:      0,

		Hz:                 10,
		ActiveExpireEffort: 1,
		ExpireJitter:       0,

		SlowlogLogSlowerThan: 10000,
		SlowlogMaxLen:        128,
		BusyReplyThreshold:   5000,

		TagsMaxPerKey: 32,
		TagMaxLen:     256,

		TrackingTableMaxKeys: 1000000,

		Shards:          64,
		MetricsAddr:     "127.0.0.1:9379",
		MetricsTLS:      false,
		LogLevel:        "info",
		LogFormat:       "text",
		ShutdownTimeout: 10 * time.Second,
		AuditLog:        false,

		Dir:        ".",
		DBFilename: "dump.rdb",

		ClusterConfigFile:          "nodes.conf",
		ClusterNodeTimeout:         15000,
		ClusterRequireFullCoverage: true,
		ClusterSlotTakeover:        true,
		OriginsWarmOnStart:         true,
		OriginsWarmTimeout:         30 * time.Second,
	}
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	d := *c
	d.Bind = slices.Clone(c.Bind)
	d.RenameCommands = maps.Clone(c.RenameCommands)
	return &d
}

// Validate checks every setting and the rules that tie settings together.
// It returns nil or an errors.Join of one "<name>: <problem>" error per
// problem found.
func (c *Config) Validate() error {
	var errs []error
	for _, p := range table {
		if err := p.check(c); err != nil {
			errs = append(errs, &ParamError{Name: p.Name, Err: err})
		}
	}
	return errors.Join(append(errs, c.crossCheck("")...)...)
}

// crossCheck runs the rules involving name, or all rules when name is "".
func (c *Config) crossCheck(name string) []error {
	var errs []error
	for _, r := range rules {
		if name != "" && !slices.Contains(r.names, name) {
			continue
		}
		if err := r.check(c); err != nil {
			errs = append(errs, &ParamError{Name: r.names[0], Err: err})
		}
	}
	return errs
}

// ParamError is one problem with one setting. Its text is "<name>: <problem>".
type ParamError struct {
	Name string // setting name, e.g. "maxmemory"
	Err  error  // the problem, worded for a CONFIG SET reply
	// From describes where the rejected value came from, e.g. `"abc" from
	// flag --maxmemory`; empty for values set in code.
	From string
}

func (e *ParamError) Error() string {
	if e.From != "" {
		return e.Name + ": " + e.Err.Error() + " (got " + e.From + ")"
	}
	return e.Name + ": " + e.Err.Error()
}

func (e *ParamError) Unwrap() error { return e.Err }

// rule is a constraint between settings; the problem is reported under
// names[0], and Set checks it whenever it changes one of names.
type rule struct {
	names []string
	check func(c *Config) error
}

var rules = []rule{
	{[]string{"port", "tls-port"}, func(c *Config) error {
		if c.Port == 0 && c.TLSPort == 0 {
			return errors.New("port and tls-port cannot both be 0: nothing would listen")
		}
		return nil
	}},
	{[]string{"tls-port", "port"}, func(c *Config) error {
		if c.TLSPort != 0 && c.TLSPort == c.Port {
			return errors.New("tls-port must differ from port")
		}
		return nil
	}},
	{[]string{"tls-cert-file", "tls-port"}, func(c *Config) error {
		if c.TLSPort != 0 && c.TLSCertFile == "" {
			return errors.New("required when tls-port is set")
		}
		return nil
	}},
	{[]string{"tls-key-file", "tls-port"}, func(c *Config) error {
		if c.TLSPort != 0 && c.TLSKeyFile == "" {
			return errors.New("required when tls-port is set")
		}
		return nil
	}},
	{[]string{"tls-ca-cert-file", "tls-port", "tls-auth-clients"}, func(c *Config) error {
		if c.TLSPort != 0 && c.TLSAuthClients != "no" && c.TLSCACertFile == "" {
			return errors.New("required when tls-port is set and tls-auth-clients is not no")
		}
		return nil
	}},
	{[]string{"metrics-tls", "tls-cert-file", "tls-key-file", "tls-ca-cert-file", "tls-auth-clients", "metrics-addr"}, func(c *Config) error {
		if !c.MetricsTLS || c.MetricsAddr == "" {
			return nil
		}
		if c.TLSCertFile == "" || c.TLSKeyFile == "" {
			return errors.New("needs tls-cert-file and tls-key-file")
		}
		if c.TLSAuthClients != "no" && c.TLSCACertFile == "" {
			return errors.New("needs tls-ca-cert-file unless tls-auth-clients is no")
		}
		return nil
	}},
	{[]string{"proto-max-bulk-len", "client-query-buffer-limit"}, func(c *Config) error {
		if c.ProtoMaxBulkLen > c.ClientQueryBufferLimit {
			return errors.New("proto-max-bulk-len (" + strconv.FormatInt(c.ProtoMaxBulkLen, 10) +
				") must not exceed client-query-buffer-limit (" + strconv.FormatInt(c.ClientQueryBufferLimit, 10) + ")")
		}
		return nil
	}},
}

// Match returns the names of the settings matching the Redis glob pattern,
// case-insensitively, in Params order; CONFIG GET uses it.
func (c *Config) Match(pattern string) []string {
	var names []string
	for _, p := range table {
		if glob.Match(pattern, p.Name, true) {
			names = append(names, p.Name)
		}
	}
	return names
}

// ListenAddrs returns the host:port addresses for the plain-text listener,
// one per bind address ("*" becomes 0.0.0.0, "::*" becomes ::), or nil when
// port is 0.
func (c *Config) ListenAddrs() []string { return c.listenAddrs(c.Port) }

// TLSListenAddrs is ListenAddrs for tls-port.
func (c *Config) TLSListenAddrs() []string { return c.listenAddrs(c.TLSPort) }

func (c *Config) listenAddrs(port int) []string {
	if port == 0 {
		return nil
	}
	addrs := make([]string, 0, len(c.Bind))
	for _, b := range c.Bind {
		switch b {
		case "*":
			b = "0.0.0.0"
		case "::*":
			b = "::"
		}
		addrs = append(addrs, net.JoinHostPort(b, strconv.Itoa(port)))
	}
	return addrs
}

// SlogLevel returns LogLevel as a slog.Level.
func (c *Config) SlogLevel() slog.Level {
	switch c.LogLevel {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// OutputBufferLimitFor returns the client-output-buffer-limit for class
// ("normal", "replica" or "pubsub"); a class that is not configured has no
// limits.
func (c *Config) OutputBufferLimitFor(class string) OutputBufferLimit {
	ls, _ := ParseOutputBufferLimits(c.ClientOutputBufferLimit)
	if j := indexClass(ls, class); j >= 0 {
		return ls[j]
	}
	return OutputBufferLimit{Class: class}
}
