package config

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/bits"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cachesrv/cachesrv/internal/splitargs"
)

// Param describes one setting. The same name is used for CONFIG GET/SET,
// the --flag, the YAML key and (upper-cased, dashes as underscores, with a
// CACHESRV_ prefix) the environment variable.
type Param struct {
	Name    string // e.g. "maxmemory"
	Env     string // e.g. "CACHESRV_MAXMEMORY"
	Type    string // value syntax shown in help, e.g. "bytes", "yes|no", "seconds"
	Default string // default as written in the sample file, e.g. "256mb"
	Doc     string // one-line description
	Mutable bool   // CONFIG SET may change it at run time
	Redis   bool   // redis-server has a setting with this name and meaning
}

// param is a table entry: the public description plus the typed accessors.
type param struct {
	Param
	section string
	// list settings take several words: YAML sequences and mappings are
	// accepted and repeated flags accumulate.
	list bool
	// get formats the value as CONFIG GET does.
	get func(c *Config) string
	// yaml formats the value for the config file.
	yaml func(c *Config) (string, error)
	// set parses s, checks it and stores it. Its errors are reasons
	// suitable for a CONFIG SET reply.
	set func(c *Config, s string) error
	// check reports whether the stored value is acceptable.
	check func(c *Config) error
}

// Params returns a description of every setting, grouped by topic.
func Params() []Param {
	out := make([]Param, len(table))
	for i, p := range table {
		out[i] = p.Param
	}
	return out
}

// Lookup returns the description of the named setting; the name is matched
// case-insensitively, as CONFIG GET/SET do, and Param.Name is the canonical
// lower-case spelling to dispatch on after a successful Set.
func Lookup(name string) (Param, bool) {
	p := lookup(name)
	if p == nil {
		return Param{}, false
	}
	return p.Param, true
}

// Get returns the value of the named setting (case-insensitive) formatted
// like Redis's CONFIG GET: byte sizes as plain integers, booleans as yes/no,
// Redis's second-valued settings as integers, lists space-separated. It
// reports false for an unknown name.
func (c *Config) Get(name string) (string, bool) {
	p := lookup(name)
	if p == nil {
		return "", false
	}
	return p.get(c), true
}

// Set parses value, validates it together with the settings it depends on
// and stores it; on error c is unchanged. The error is the reason part of
// Redis's "ERR CONFIG SET failed (possibly related to argument '<name>') -
// <reason>" reply, or wraps ErrUnknownParam or ErrImmutable.
func (c *Config) Set(name, value string) error {
	p := lookup(name)
	if p == nil {
		return fmt.Errorf("%w '%s'", ErrUnknownParam, name)
	}
	if !p.Mutable {
		return ErrImmutable
	}
	return c.set(p, value)
}

// set applies value to p without the mutability check.
func (c *Config) set(p *param, value string) error {
	d := c.Clone()
	if err := p.set(d, value); err != nil {
		return err
	}
	if errs := d.crossCheck(p.Name); len(errs) > 0 {
		return errs[0].(*ParamError).Err
	}
	*c = *d
	return nil
}

var (
	table  []*param
	byName map[string]*param
)

func lookup(name string) *param {
	if p, ok := byName[name]; ok {
		return p
	}
	return byName[strings.ToLower(name)]
}

func init() {
	table = buildTable()
	byName = make(map[string]*param, len(table))
	def := Default()
	for _, p := range table {
		if _, dup := byName[p.Name]; dup {
			panic("BUG: config: duplicate setting " + p.Name)
		}
		byName[p.Name] = p
		p.Env = envName(p.Name)
		v, err := p.yaml(def)
		if err != nil {
			panic("BUG: config: cannot format default of " + p.Name + ": " + err.Error())
		}
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		} else if v == "{}" {
			v = ""
		}
		p.Default = v
		if err := p.check(def); err != nil {
			panic("BUG: config: invalid default for " + p.Name + ": " + err.Error())
		}
	}
}

func envName(name string) string {
	return "CACHESRV_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Flags for the table below.
const (
	mutable = 1 << iota // changeable with CONFIG SET
	redis               // same name and meaning as in redis-server
)

func meta(name, typ string, flags int, doc string) Param {
	return Param{Name: name, Type: typ, Doc: doc, Mutable: flags&mutable != 0, Redis: flags&redis != 0}
}

func buildTable() []*param {
	return append(append(baseParams(), persistParams()...), clusterParams()...)
}

func baseParams() []*param {
	const maxInt32 = math.MaxInt32
	return []*param{
		withSection("Network", listParam(meta("bind", "addresses", redis,
			"IP addresses to listen on, space-separated; * is every IPv4 and ::* every IPv6 address"),
			func(c *Config) *[]string { return &c.Bind }, checkBind)),
		withSection("Network", intParam(meta("port", "port", redis,
			"TCP port for plain-text RESP clients; 0 disables it"),
			func(c *Config) *int { return &c.Port }, 0, 65535)),
		withSection("Network", intParam(meta("tls-port", "port", redis,
			"TCP port for TLS clients; 0 disables TLS"),
			func(c *Config) *int { return &c.TLSPort }, 0, 65535)),
		withSection("Network", boolParam(meta("protected-mode", "yes|no", redis,
			"without requirepass, accept clients from loopback addresses only"),
			func(c *Config) *bool { return &c.ProtectedMode })),
		withSection("Network", secondsParam(meta("tcp-keepalive", "seconds", redis|mutable,
			"seconds between TCP keepalive probes to clients; 0 disables them"),
			func(c *Config) *time.Duration { return &c.TCPKeepalive }, maxInt32)),
		withSection("Network", secondsParam(meta("timeout", "seconds", redis|mutable,
			"close a client after this many idle seconds; 0 never does"),
			func(c *Config) *time.Duration { return &c.Timeout }, maxInt32)),
		withSection("Network", intParam(meta("maxclients", "int", redis|mutable,
			"maximum number of connected clients"),
			func(c *Config) *int { return &c.MaxClients }, 1, maxInt32)),
		withSection("Network", eventLoopsParam(meta("event-loops", "auto|off|int",
			0, "event loops serving plain TCP clients: auto is one per CPU, off (0) one goroutine per client"))),

		withSection("Security", stringParam(meta("requirepass", "password", redis|mutable,
			"password clients must give with AUTH; empty disables authentication"),
			func(c *Config) *string { return &c.RequirePass }, nil)),
		withSection("Security", stringParam(meta("aclfile", "file", redis,
			"file with ACL users; empty disables"),
			func(c *Config) *string { return &c.ACLFile }, nil)),
		withSection("Security", renameParam(meta("rename-command", "pairs", redis,
			`OLD NEW command renames (a YAML map or list); NEW "" disables OLD`))),

		withSection("TLS", stringParam(meta("tls-cert-file", "file", redis,
			"PEM certificate chain for the TLS listener"),
			func(c *Config) *string { return &c.TLSCertFile }, nil)),
		withSection("TLS", stringParam(meta("tls-key-file", "file", redis,
			"PEM private key for tls-cert-file"),
			func(c *Config) *string { return &c.TLSKeyFile }, nil)),
		withSection("TLS", stringParam(meta("tls-ca-cert-file", "file", redis,
			"PEM CA certificates that client certificates must chain to"),
			func(c *Config) *string { return &c.TLSCACertFile }, nil)),
		withSection("TLS", enumParam(meta("tls-auth-clients", "yes|no|optional", redis,
			"client certificates: required (yes), ignored (no) or verified if sent (optional)"),
			func(c *Config) *string { return &c.TLSAuthClients }, []string{"yes", "no", "optional"})),

		withSection("Limits", bytesParam(meta("proto-max-bulk-len", "bytes", redis|mutable,
			"largest bulk string a client may send; at least 1mb"),
			func(c *Config) *int64 { return &c.ProtoMaxBulkLen }, 1<<20)),
		withSection("Limits", bytesParam(meta("client-query-buffer-limit", "bytes", redis|mutable,
			"most unparsed input buffered per client; at least 1mb"),
			func(c *Config) *int64 { return &c.ClientQueryBufferLimit }, 1<<20)),
		withSection("Limits", outputLimitParam(meta("client-output-buffer-limit", "limits", redis|mutable,
			`pending-output limits, groups of "<normal|replica|pubsub> <hard> <soft> <soft-seconds>"; 0 is no limit`))),
		withSection("Limits", secondsParam(meta("client-output-timeout", "seconds", mutable,
			"close a client whose replies make no progress for this many seconds (it stopped reading); 0 never does"),
			func(c *Config) *time.Duration { return &c.ClientOutputTimeout }, maxInt32)),

		withSection("Keyspace", intParam(meta("databases", "int", redis,
			"number of logical databases (SELECT 0 to databases-1)"),
			func(c *Config) *int { return &c.Databases }, 1, 65536)),
		withSection("Keyspace", withCheck(intParam(meta("shards", "int", 0,
			"lock shards per database; a power of two from 1 to 4096"),
			func(c *Config) *int { return &c.Shards }, 1, 4096), func(c *Config) error {
			if bits.OnesCount(uint(c.Shards)) != 1 {
				return errors.New("argument must be a power of two between 1 and 4096")
			}
			return nil
		})),

		withSection("Memory", bytesParam(meta("maxmemory", "bytes", redis|mutable,
			"memory limit for data, enforced by eviction; 0 is unlimited"),
			func(c *Config) *int64 { return &c.MaxMemory }, 0)),
		withSection("Memory", enumParam(meta("maxmemory-policy", "policy", redis|mutable,
			"what to evict at maxmemory: "+strings.Join(maxMemoryPolicies, ", ")),
			func(c *Config) *string { return &c.MaxMemoryPolicy }, maxMemoryPolicies)),
		withSection("Memory", intParam(meta("maxmemory-samples", "int", redis|mutable,
			"keys sampled per eviction by the sampling policies, 1 to 64"),
			func(c *Config) *int { return &c.MaxMemorySamples }, 1, 64)),
		withSection("Memory", intParam(meta("lfu-log-factor", "int", redis|mutable,
			"how slowly the logarithmic LFU access counter grows"),
			func(c *Config) *int { return &c.LFULogFactor }, 0, maxInt32)),
		withSection("Memory", intParam(meta("lfu-decay-time", "minutes", redis|mutable,
			"minutes of idleness that halve a key's LFU counter; 0 never decays"),
			func(c *Config) *int { return &c.LFUDecayTime }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("hash-max-listpack-entries", "int", redis|mutable,
			"accepted for compatibility; hashes use one compact encoding at every size"),
			func(c *Config) *int { return &c.HashMaxListpackEntries }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("hash-max-listpack-value", "bytes", redis|mutable,
			"accepted for compatibility; hashes use one compact encoding at every size"),
			func(c *Config) *int { return &c.HashMaxListpackValue }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("set-max-intset-entries", "int", redis|mutable,
			"accepted for compatibility; sets use one compact encoding at every size"),
			func(c *Config) *int { return &c.SetMaxIntsetEntries }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("set-max-listpack-entries", "int", redis|mutable,
			"accepted for compatibility; sets use one compact encoding at every size"),
			func(c *Config) *int { return &c.SetMaxListpackEntries }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("set-max-listpack-value", "bytes", redis|mutable,
			"accepted for compatibility; sets use one compact encoding at every size"),
			func(c *Config) *int { return &c.SetMaxListpackValue }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("zset-max-listpack-entries", "int", redis|mutable,
			"accepted for compatibility; sorted sets use one compact encoding at every size"),
			func(c *Config) *int { return &c.ZSetMaxListpackEntries }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("zset-max-listpack-value", "bytes", redis|mutable,
			"accepted for compatibility; sorted sets use one compact encoding at every size"),
			func(c *Config) *int { return &c.ZSetMaxListpackValue }, 0, maxInt32)),
		withSection("Encodings", intParam(meta("list-max-listpack-size", "int", redis|mutable,
			"accepted for compatibility; lists are one gap buffer at every size"),
			func(c *Config) *int { return &c.ListMaxListpackSize }, -5, maxInt32)),
		withSection("Encodings", intParam(meta("list-compress-depth", "int", redis|mutable,
			"accepted for compatibility; lists are not compressed"),
			func(c *Config) *int { return &c.ListCompressDepth }, 0, maxInt32)),

		withSection("Expiry", intParam(meta("hz", "int", redis|mutable,
			"background task runs per second (active expiry, client timeouts), 1 to 500"),
			func(c *Config) *int { return &c.Hz }, 1, 500)),
		withSection("Expiry", intParam(meta("active-expire-effort", "int", redis|mutable,
			"active expiry effort, 1 (least CPU) to 10 (least memory held by expired keys)"),
			func(c *Config) *int { return &c.ActiveExpireEffort }, 1, 10)),
		withSection("Expiry", floatParam(meta("expire-jitter", "fraction", mutable,
			"randomise each TTL by up to this fraction (0 to 1) to spread out mass expiry"),
			func(c *Config) *float64 { return &c.ExpireJitter }, 0, 1)),

		withSection("Slow log", intParam(meta("slowlog-log-slower-than", "microseconds", redis|mutable,
			"log commands slower than this many microseconds; -1 disables the slow log, 0 logs all"),
			func(c *Config) *int64 { return &c.SlowlogLogSlowerThan }, -1, math.MaxInt64)),
		withSection("Slow log", intParam(meta("slowlog-max-len", "int", redis|mutable,
			"entries kept in the slow log"),
			func(c *Config) *int { return &c.SlowlogMaxLen }, 0, maxInt32)),

		withSection("Scripting", intParam(meta("busy-reply-threshold", "milliseconds", redis|mutable,
			"a script running longer than this makes the server reply -BUSY to other clients until it ends or SCRIPT KILL stops it; CONFIG GET/SET also take its old name lua-time-limit"),
			func(c *Config) *int64 { return &c.BusyReplyThreshold }, 1, math.MaxInt32)),

		withSection("Tags", intParam(meta("tags-max-per-key", "int", mutable,
			"most tags one key may carry, 1 to 255 (what an entry can hold)"),
			func(c *Config) *int { return &c.TagsMaxPerKey }, 1, 255)),
		withSection("Tags", intParam(meta("tag-max-len", "int", mutable,
			"longest tag, in bytes, 1 to 65536"),
			func(c *Config) *int { return &c.TagMaxLen }, 1, 65536)),

		withSection("Client-side caching", &param{
			Param: meta("notify-keyspace-events", "classes", redis|mutable,
				"keyspace notifications: K (keyspace channel), E (keyevent channel) and the classes g $ x e n (A = g$lshzxetd), plus i for tag invalidations; empty disables"),
			get:   func(c *Config) string { return c.NotifyKeyspaceEvents },
			yaml:  func(c *Config) (string, error) { return yamlQuote(c.NotifyKeyspaceEvents) },
			set:   setChecked(func(c *Config) *string { return &c.NotifyKeyspaceEvents }, CanonicalKeyspaceEvents, func(string) error { return nil }),
			check: func(c *Config) error { _, err := CanonicalKeyspaceEvents(c.NotifyKeyspaceEvents); return err },
		}),
		withSection("Client-side caching", intParam(meta("tracking-table-max-keys", "int", redis|mutable,
			"keys remembered for CLIENT TRACKING in default mode; over it, keys are invalidated and forgotten; 0 = unlimited"),
			func(c *Config) *int64 { return &c.TrackingTableMaxKeys }, 0, math.MaxInt64)),

		withSection("Server", stringParam(meta("metrics-addr", "host:port", 0,
			"listen address of the Prometheus /metrics endpoint; empty disables it"),
			func(c *Config) *string { return &c.MetricsAddr }, checkHostPort)),
		withSection("Server", boolParam(meta("metrics-tls", "yes|no", 0,
			"serve /metrics over TLS with tls-cert-file, tls-key-file and, unless tls-auth-clients is no, client certificates from tls-ca-cert-file"),
			func(c *Config) *bool { return &c.MetricsTLS })),
		withSection("Server", enumParam(meta("log-level", "level", mutable,
			"log verbosity: debug, info, warn or error"),
			func(c *Config) *string { return &c.LogLevel }, []string{"debug", "info", "warn", "error"})),
		withSection("Server", enumParam(meta("log-format", "text|json", 0,
			"log line format"),
			func(c *Config) *string { return &c.LogFormat }, []string{"text", "json"})),
		withSection("Server", durationParam(meta("shutdown-timeout", "duration", 0,
			"how long shutdown waits for in-flight commands before closing clients"),
			func(c *Config) *time.Duration { return &c.ShutdownTimeout })),
		withSection("Server", boolParam(meta("audit-log", "yes|no", 0,
			"log an audit record for every administrative command"),
			func(c *Config) *bool { return &c.AuditLog })),
		withSection("Origins", boolParam(meta("origins-warm-on-start", "yes|no", 0,
			"run the warm query of every route with warm: true before accepting clients"),
			func(c *Config) *bool { return &c.OriginsWarmOnStart })),
		withSection("Origins", durationParam(meta("origins-warm-timeout", "duration", 0,
			"how long warming at start may take before the server starts anyway"),
			func(c *Config) *time.Duration { return &c.OriginsWarmTimeout })),
	}
}

func withSection(section string, p *param) *param {
	p.section = section
	return p
}

// withCheck adds an extra validity check to p.
func withCheck(p *param, extra func(c *Config) error) *param {
	set, check := p.set, p.check
	p.check = func(c *Config) error {
		if err := check(c); err != nil {
			return err
		}
		return extra(c)
	}
	p.set = func(c *Config, s string) error {
		if err := set(c, s); err != nil {
			return err
		}
		return extra(c)
	}
	return p
}

// setChecked wraps a parser so that the parsed value is range-checked
// before it is stored.
func setChecked[T any](field func(*Config) *T, parse func(string) (T, error), check func(T) error) func(*Config, string) error {
	return func(c *Config, s string) error {
		v, err := parse(s)
		if err != nil {
			return err
		}
		if err := check(v); err != nil {
			return err
		}
		*field(c) = v
		return nil
	}
}

func rangeError(lo, hi int64) error {
	if hi == math.MaxInt64 {
		return fmt.Errorf("argument must be at least %d", lo)
	}
	return fmt.Errorf("argument must be between %d and %d inclusive", lo, hi)
}

func intParam[T int | int64](m Param, field func(*Config) *T, lo, hi int64) *param {
	inRange := func(v T) error {
		if int64(v) < lo || int64(v) > hi {
			return rangeError(lo, hi)
		}
		return nil
	}
	parse := func(s string) (T, error) {
		n, err := parseInt(s)
		if err != nil {
			return 0, err
		}
		if n < lo || n > hi { // before the conversion to T can truncate
			return 0, rangeError(lo, hi)
		}
		return T(n), nil
	}
	format := func(c *Config) string { return strconv.FormatInt(int64(*field(c)), 10) }
	return &param{
		Param: m,
		get:   format,
		yaml:  func(c *Config) (string, error) { return format(c), nil },
		set:   setChecked(field, parse, inRange),
		check: func(c *Config) error { return inRange(*field(c)) },
	}
}

// eventLoopsParam is event-loops: "auto" (-1), "off" (0) or a count.
func eventLoopsParam(m Param) *param {
	const hi = 1024
	format := func(c *Config) string {
		switch c.EventLoops {
		case EventLoopsAuto:
			return "auto"
		case 0:
			return "off"
		}
		return strconv.Itoa(c.EventLoops)
	}
	check := func(c *Config) error {
		if c.EventLoops < EventLoopsAuto || c.EventLoops > hi {
			return errors.New("argument must be auto, off or a number of loops from 0 to 1024")
		}
		return nil
	}
	return &param{
		Param: m,
		get:   format,
		yaml:  func(c *Config) (string, error) { return format(c), nil },
		set: func(c *Config, s string) error {
			switch strings.ToLower(s) {
			case "auto":
				c.EventLoops = EventLoopsAuto
				return nil
			case "off", "no":
				c.EventLoops = 0
				return nil
			}
			n, err := parseInt(s)
			if err != nil || n < 0 || n > hi {
				return errors.New("argument must be auto, off or a number of loops from 0 to 1024")
			}
			c.EventLoops = int(n)
			return nil
		},
		check: check,
	}
}

func bytesParam(m Param, field func(*Config) *int64, lo int64) *param {
	inRange := func(v int64) error {
		if v < lo {
			if lo == 0 {
				return errNotMemory
			}
			return fmt.Errorf("argument must be at least %s (%d bytes)", FormatBytes(lo), lo)
		}
		return nil
	}
	return &param{
		Param: m,
		get:   func(c *Config) string { return strconv.FormatInt(*field(c), 10) },
		yaml:  func(c *Config) (string, error) { return FormatBytes(*field(c)), nil },
		set:   setChecked(field, ParseBytes, inRange),
		check: func(c *Config) error { return inRange(*field(c)) },
	}
}

func boolParam(m Param, field func(*Config) *bool) *param {
	return &param{
		Param: m,
		get:   func(c *Config) string { return formatBool(*field(c)) },
		yaml:  func(c *Config) (string, error) { return formatBool(*field(c)), nil },
		set:   setChecked(field, parseBool, func(bool) error { return nil }),
		check: func(*Config) error { return nil },
	}
}

func floatParam(m Param, field func(*Config) *float64, lo, hi float64) *param {
	inRange := func(v float64) error {
		if !(v >= lo && v <= hi) { // also rejects NaN set in code
			return fmt.Errorf("argument must be between %g and %g inclusive", lo, hi)
		}
		return nil
	}
	format := func(c *Config) string { return strconv.FormatFloat(*field(c), 'g', -1, 64) }
	return &param{
		Param: m,
		get:   format,
		yaml:  func(c *Config) (string, error) { return format(c), nil },
		set:   setChecked(field, parseFloat, inRange),
		check: func(c *Config) error { return inRange(*field(c)) },
	}
}

// secondsParam is a duration that Redis expresses in whole seconds.
func secondsParam(m Param, field func(*Config) *time.Duration, maxSeconds int64) *param {
	inRange := func(d time.Duration) error {
		if d < 0 || d%time.Second != 0 || int64(d/time.Second) > maxSeconds {
			return fmt.Errorf("argument must be a whole number of seconds between 0 and %d", maxSeconds)
		}
		return nil
	}
	format := func(c *Config) string { return strconv.FormatInt(int64(*field(c)/time.Second), 10) }
	return &param{
		Param: m,
		get:   format,
		yaml:  func(c *Config) (string, error) { return format(c), nil },
		set:   setChecked(field, parseSeconds, inRange),
		check: func(c *Config) error { return inRange(*field(c)) },
	}
}

// durationParam is a duration of our own, written the Go way ("10s").
func durationParam(m Param, field func(*Config) *time.Duration) *param {
	inRange := func(d time.Duration) error {
		if d < 0 {
			return errors.New("argument must not be negative")
		}
		return nil
	}
	format := func(c *Config) string { return field(c).String() }
	return &param{
		Param: m,
		get:   format,
		yaml:  func(c *Config) (string, error) { return format(c), nil },
		set:   setChecked(field, parseDuration, inRange),
		check: func(c *Config) error { return inRange(*field(c)) },
	}
}

func enumParam(m Param, field func(*Config) *string, values []string) *param {
	bad := errors.New("argument(s) must be one of the following: " + strings.Join(values, ", "))
	parse := func(s string) (string, error) {
		for _, v := range values {
			if strings.EqualFold(s, v) {
				return v, nil
			}
		}
		return "", bad
	}
	return &param{
		Param: m,
		get:   func(c *Config) string { return *field(c) },
		yaml:  func(c *Config) (string, error) { return *field(c), nil },
		set:   setChecked(field, parse, func(string) error { return nil }),
		check: func(c *Config) error {
			if !slices.Contains(values, *field(c)) {
				return bad
			}
			return nil
		},
	}
}

func stringParam(m Param, field func(*Config) *string, valid func(string) error) *param {
	if valid == nil {
		valid = func(string) error { return nil }
	}
	return &param{
		Param: m,
		get:   func(c *Config) string { return *field(c) },
		yaml:  func(c *Config) (string, error) { return yamlQuote(*field(c)) },
		set:   setChecked(field, func(s string) (string, error) { return s, nil }, valid),
		check: func(c *Config) error { return valid(*field(c)) },
	}
}

// listParam is a space-separated list of words.
func listParam(m Param, field func(*Config) *[]string, valid func([]string) error) *param {
	return &param{
		Param: m,
		list:  true,
		get:   func(c *Config) string { return strings.Join(*field(c), " ") },
		yaml:  func(c *Config) (string, error) { return yamlQuote(splitargs.Join(*field(c))) },
		set:   setChecked(field, splitargs.Strings, valid),
		check: func(c *Config) error { return valid(*field(c)) },
	}
}

func checkBind(addrs []string) error {
	if len(addrs) == 0 {
		return errors.New("argument must list at least one address")
	}
	for _, a := range addrs {
		if a == "*" || a == "::*" {
			continue
		}
		if _, err := netip.ParseAddr(a); err != nil {
			return fmt.Errorf("argument %q is not an IP address, * or ::*", a)
		}
	}
	return nil
}

func checkHostPort(s string) error {
	if s == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("argument must be host:port, :port or empty")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("argument must have a port number between 0 and 65535")
	}
	return nil
}

func renameParam(m Param) *param {
	parse := func(s string) (map[string]string, error) {
		words, err := splitargs.Strings(s)
		if err != nil {
			return nil, err
		}
		if len(words)%2 != 0 {
			return nil, errors.New("argument must be OLD NEW pairs")
		}
		if len(words) == 0 {
			return nil, nil
		}
		out := make(map[string]string, len(words)/2)
		for i := 0; i < len(words); i += 2 {
			old, nu := strings.ToLower(words[i]), strings.ToLower(words[i+1])
			if _, dup := out[old]; dup {
				return nil, fmt.Errorf("command %q is renamed twice", old)
			}
			out[old] = nu
		}
		return out, nil
	}
	valid := func(m map[string]string) error {
		seen := make(map[string]string, len(m))
		for _, old := range slices.Sorted(maps.Keys(m)) {
			nu := m[old]
			if !isCommandName(old) {
				return fmt.Errorf("command name %q must be printable ASCII without spaces", old)
			}
			if nu == "" {
				continue
			}
			if !isCommandName(nu) {
				return fmt.Errorf("command name %q must be printable ASCII without spaces", nu)
			}
			if prev, dup := seen[nu]; dup {
				return fmt.Errorf("commands %q and %q are both renamed to %q", prev, old, nu)
			}
			seen[nu] = old
		}
		return nil
	}
	field := func(c *Config) *map[string]string { return &c.RenameCommands }
	return &param{
		Param: m,
		list:  true,
		get: func(c *Config) string {
			var words []string
			for _, old := range slices.Sorted(maps.Keys(c.RenameCommands)) {
				words = append(words, old, c.RenameCommands[old])
			}
			return splitargs.Join(words)
		},
		yaml: func(c *Config) (string, error) {
			if len(c.RenameCommands) == 0 {
				return "{}", nil
			}
			var b strings.Builder
			for _, old := range slices.Sorted(maps.Keys(c.RenameCommands)) {
				k, err1 := yamlQuote(old)
				v, err2 := yamlQuote(c.RenameCommands[old])
				if err := errors.Join(err1, err2); err != nil {
					return "", err
				}
				b.WriteString("\n  " + k + ": " + v)
			}
			return b.String(), nil
		},
		set:   setChecked(field, parse, valid),
		check: func(c *Config) error { return valid(c.RenameCommands) },
	}
}

func isCommandName(s string) bool {
	if s == "" {
		return false
	}
	for i := range len(s) {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

func outputLimitParam(m Param) *param {
	return &param{
		Param: m,
		get: func(c *Config) string {
			ls, _ := ParseOutputBufferLimits(c.ClientOutputBufferLimit)
			return formatOutputBufferLimits(ls, false)
		},
		yaml: func(c *Config) (string, error) {
			ls, _ := ParseOutputBufferLimits(c.ClientOutputBufferLimit)
			return yamlQuote(formatOutputBufferLimits(ls, true))
		},
		// Like Redis, a value only replaces the classes it names.
		set: func(c *Config, s string) error {
			ls, err := ParseOutputBufferLimits(s)
			if err != nil {
				return err
			}
			cur, _ := ParseOutputBufferLimits(c.ClientOutputBufferLimit)
			for _, l := range ls {
				if j := indexClass(cur, l.Class); j >= 0 {
					cur[j] = l
				} else {
					cur = append(cur, l)
				}
			}
			c.ClientOutputBufferLimit = formatOutputBufferLimits(cur, false)
			return nil
		},
		check: func(c *Config) error {
			_, err := ParseOutputBufferLimits(c.ClientOutputBufferLimit)
			return err
		},
	}
}

// yamlQuote returns s as a YAML double-quoted scalar. Go's escapes are a
// subset of YAML's for valid UTF-8; other bytes have no YAML spelling.
func yamlQuote(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("value is not valid UTF-8 and cannot be written as YAML")
	}
	return strconv.Quote(s), nil
}
