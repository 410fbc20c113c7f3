// Package spec holds the plain data of the origins configuration: origins
// (named backends) and routes (key patterns bound to an origin and modes).
// internal/config decodes it from YAML; internal/origin validates and runs
// it. It has no dependencies so that both may import it.
package spec

import "time"

// Config is the "origins" and "routes" sections of the configuration file.
type Config struct {
	// Origins by name.
	Origins map[string]Origin
	// Routes in the order they are tried; the first matching pattern wins.
	Routes []Route
	// Dir is where write-behind journals and dead letters live (the dir
	// setting).
	Dir string
	// WarmOnStart runs every route's warm query before the server is ready
	// (origins-warm-on-start), bounded by WarmTimeout.
	WarmOnStart bool
	WarmTimeout time.Duration
}

// Origin kinds.
const (
	KindPostgres = "postgres"
	KindHTTP     = "http"
)

// Origin is one backend.
type Origin struct {
	// Kind is "postgres" or "http".
	Kind string `mapstructure:"kind"`
	// URL is the connection (postgres) or base URL (http). For postgres it
	// may be empty: then URLEnv, URLFile or libpq's PG* environment
	// variables give it. Credentials belong in URLEnv or URLFile.
	URL string `mapstructure:"url"`
	// URLEnv names an environment variable holding the URL (e.g. PGURL).
	URLEnv string `mapstructure:"url_env"`
	// URLFile names a file holding the URL.
	URLFile string `mapstructure:"url_file"`
	// HeaderEnv (http) names an environment variable holding an
	// Authorization header value sent with every request.
	AuthEnv string `mapstructure:"auth_env"`

	// Templates. Postgres: SQL where {name} is a route parameter, {key} the
	// whole key and {value} the value written. HTTP: a path under URL
	// (default "/{key}"); Load is used for GET, PUT and DELETE.
	Load   string `mapstructure:"load"`
	Store  string `mapstructure:"store"`
	Delete string `mapstructure:"delete"`
	// Warm returns rows whose columns named like the route's parameters
	// build the key and whose column "value" is the value.
	Warm string `mapstructure:"warm"`
	// Listen is a PostgreSQL NOTIFY channel whose payloads name keys or
	// tags to invalidate.
	Listen string `mapstructure:"listen"`

	// Timeout bounds one origin call (default 2s).
	Timeout time.Duration `mapstructure:"timeout"`
	// MaxConcurrency bounds concurrent calls (pool size; default 16).
	MaxConcurrency int `mapstructure:"max_concurrency"`
	// BreakerFailures consecutive failures open the circuit breaker
	// (default 5); BreakerCooldown later one probe call may pass (default 5s).
	BreakerFailures int           `mapstructure:"breaker_failures"`
	BreakerCooldown time.Duration `mapstructure:"breaker_cooldown"`

	// WriteBehind configures the journal and flusher of routes with
	// write: behind.
	WriteBehind WriteBehind `mapstructure:"write_behind"`
}

// WriteBehind configures one origin's write-behind journal and flusher.
type WriteBehind struct {
	// Fsync is "always", "everysec" (default) or "no".
	Fsync string `mapstructure:"fsync"`
	// BatchSize bounds the writes sent in one batch (default 500).
	BatchSize int `mapstructure:"batch_size"`
	// FlushInterval is how long the flusher waits to fill a batch
	// (default 100ms).
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// MaxAttempts refusals by the origin (an SQL error such as a
	// constraint or type error, an HTTP 4xx) move a write to the dead
	// letters (default 5). An unreachable, slow or failing origin is retried
	// without limit.
	MaxAttempts int `mapstructure:"max_attempts"`
	// RetryBackoff is the first retry delay, doubled per attempt up to
	// 5s (default 100ms).
	RetryBackoff time.Duration `mapstructure:"retry_backoff"`
	// MaxJournalBytes bounds the journal on disk (default 256mb): writes
	// fail when it is full.
	MaxJournalBytes int64 `mapstructure:"max_journal_bytes"`
}

// Read modes.
const (
	ReadThrough = "through"
	ReadNone    = "none"
)

// Write modes.
const (
	WriteThrough = "through"
	WriteBehindM = "behind"
	WriteNone    = "none"
)

// Route binds a key pattern to an origin.
type Route struct {
	// Pattern is literal text with {name} parameters, e.g. "user:{id}". A
	// parameter matches one or more bytes other than ':'.
	Pattern string `mapstructure:"pattern"`
	Origin  string `mapstructure:"origin"`
	// Read is "through" (default) or "none".
	Read string `mapstructure:"read"`
	// Write is "through", "behind" or "none" (default).
	Write string `mapstructure:"write"`
	// TTL of loaded entries (0 = none).
	TTL time.Duration `mapstructure:"ttl"`
	// NegativeTTL of "not found" entries (default 30s; negative disables
	// negative caching).
	NegativeTTL time.Duration `mapstructure:"negative_ttl"`
	// RefreshAhead is the fraction of TTL after which a read triggers a
	// background reload (0 = off).
	RefreshAhead float64 `mapstructure:"refresh_ahead"`
	// Tags are templates ({name} parameters) attached to loaded entries.
	Tags []string `mapstructure:"tags"`
	// Warm runs the origin's warm query for this route (at start, ORIGIN
	// WARM).
	Warm bool `mapstructure:"warm"`
	// WarmSchedule re-runs the warm query on a schedule: a standard 5-field
	// cron expression ("*/15 * * * *") or a descriptor ("@hourly",
	// "@every 10m"), in UTC. Empty: only at start and on ORIGIN WARM.
	WarmSchedule string `mapstructure:"warm_schedule"`
	// OnGap is what a gap in the NOTIFY connection does: "flush" (default:
	// drop the route's cached keys) or "none".
	OnGap string `mapstructure:"on_gap"`
}
