package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Source tells the collector where to read each part's counters. Every func
// is called once per scrape, possibly from several scrapes at the same time,
// so it must be safe for concurrent use; it should return a fresh snapshot
// that the collector may keep reading after the call. A nil func is skipped
// and its metrics are left out of the scrape.
type Source struct {
	// Version is reported by cachesrv_build_info.
	Version string

	// Server reads the RESP front end's counters.
	Server func() ServerStats
	// Store reads the keyspace's counters.
	Store func() StoreStats
	// Expire reads the active expiry sweeper's counters.
	Expire func() ExpireStats
	// ExpireLag reads the distribution of expiration lag (reclaim time minus
	// deadline), in seconds.
	ExpireLag func() Histogram

	// Tags reads the tag index's counters.
	Tags func() TagStats
	// Stampede reads the stampede protection's (leases) counters.
	Stampede func() StampedeStats
	// Persist reads the snapshot and load counters (persist.go); nil
	// leaves the persistence metrics out.
	Persist func() PersistStats
	// Cluster reads the cluster node's state (cluster.go); nil outside
	// cluster mode.
	Cluster func() ClusterStats
	// PubSub reads pub/sub and client-side caching (tracking) counters.
	PubSub func() PubSubStats

	// Origins reads the origins' counters (read-through, write-behind...).
	Origins func() []OriginStats

	// Extra, when set, is called at the end of every scrape to send metrics
	// that have no typed input here yet (an extension point for parts such
	// as tag invalidation). The metrics it sends must follow the package's
	// naming rules; tests should run the linter over them.
	Extra func(ch chan<- prometheus.Metric)
	// ExtraDescs describes the metrics Extra sends. It may be left empty, in
	// which case the collector stays registrable but a pedantic registry
	// rejects Extra's metrics.
	ExtraDescs []*prometheus.Desc
}

// ServerStats is a snapshot of the RESP front end's counters.
type ServerStats struct {
	// Commands holds one entry per command that was called or rejected at
	// least once. Names come from the command table (a closed set).
	Commands []CommandStats
	// ErrorReplies counts error replies by their first word ("ERR",
	// "WRONGTYPE"...). The server bounds the number of prefixes.
	ErrorReplies map[string]uint64

	Connections      int   // clients connected now
	Accepted         int64 // connections accepted
	Rejected         int64 // connections refused at maxclients
	QueryLimitClosed int64 // connections closed for exceeding the query buffer limit
	NetIn, NetOut    int64 // bytes read from and written to clients
	Panics           int64 // panics recovered at the command boundary
	SlowlogLen       int   // entries in the slow log
	Uptime           time.Duration
}

// CommandStats are one command's counters.
type CommandStats struct {
	Name string // "get", "config|set"...
	// Calls counts executed calls, including failed ones; Failed counts the
	// calls that replied with an error; Rejected counts calls refused before
	// running (writes refused under maxmemory), which are not in Calls.
	Calls, Failed, Rejected uint64
	// Usec is the summed execution time of Calls in microseconds.
	Usec uint64
	// Hist is the latency histogram, not cumulative: Hist[i] counts calls
	// that took under 2^i µs (and at least 2^(i-1) µs); the last bucket
	// counts every call above the previous bound. The collector uses the
	// bounds 2^i µs for i < len(Hist)-1 and +Inf for the last bucket.
	Hist []uint64
}

// StoreStats is a snapshot of the keyspace's counters.
type StoreStats struct {
	// DBs holds each logical database's counters, indexed by number.
	DBs []DBStats
	// Removed counts entries that left the keyspace, by reason.
	Removed RemovedStats
	// UsedMemory and MaxMemory are the accounted memory and its bound in
	// bytes; MaxMemory 0 means no bound.
	UsedMemory, MaxMemory int64
}

// DBStats are one logical database's counters.
type DBStats struct {
	Keys    int64  // live keys
	Expires int64  // live keys with a TTL
	Hits    uint64 // lookups that found a key
	Misses  uint64 // lookups that did not
}

// active reports whether the database is worth a series: it holds keys or
// has been looked up.
func (d DBStats) active() bool {
	return d.Keys != 0 || d.Expires != 0 || d.Hits != 0 || d.Misses != 0
}

// RemovedStats count entries that left the keyspace, by reason.
type RemovedStats struct {
	Deleted     uint64 // DEL, overwrite by a different type, FLUSH*...
	Expired     uint64 // lazily or by the sweeper
	Evicted     uint64 // by the eviction policy under maxmemory
	Invalidated uint64 // by tag invalidation
}

// ExpireStats is a snapshot of the active expiry sweeper's counters.
type ExpireStats struct {
	Cycles         uint64        // sweep cycles run
	SweptKeys      uint64        // entries the sweeper expired
	TimeCapReached uint64        // cycles stopped by their time budget with work left
	Busy           time.Duration // time spent inside cycles
	// StalePerc estimates the share of the keyspace, 0..100, holding due
	// but not yet reclaimed entries.
	StalePerc float64
}

// Histogram is a cumulative histogram in Prometheus's convention.
type Histogram struct {
	// Bounds are the finite buckets' upper bounds in increasing order;
	// Counts[i] is the number of observations <= Bounds[i] (cumulative).
	// The +Inf bucket is implied by Count.
	Bounds []float64
	Counts []uint64
	Sum    float64
	Count  uint64
}

// TagStats is a snapshot of the tag index's counters.
type TagStats struct {
	Tags                 int   // registered user tags
	TaggedKeys           int64 // live keys carrying a tag (one per key and tag)
	IndexBytes           int64 // memory of the tag registry
	Invalidations        uint64
	SoftInvalidations    uint64
	KeysInvalidatedByTag uint64
	KeysInvalidatedByDep uint64
	VersionRejections    uint64
}

// PubSubStats is a snapshot of pub/sub and tracking counters.
type PubSubStats struct {
	Channels, Patterns, Subscribers int
	Messages, Pushes, Invalidations uint64
	TrackingKeys, TrackingItems     int64
	TrackingClients                 int64
	TrackingPrefixes                int64
}

// StampedeStats is a snapshot of the stampede protection's counters.
type StampedeStats struct {
	Active, Waiting                                  int64
	Granted, RefreshGranted, EarlyRefreshes, Refused uint64
	Pending, Fills, FillsRejected, NegativeFills     uint64
	Released, Broken, Expired                        uint64
	Waits, WaitTimeouts                              uint64
	WaitTime                                         time.Duration
	StaleServes, NegativeHits                        uint64
}
