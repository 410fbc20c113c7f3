package metrics

import (
	"math"
	"runtime"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
)

// Label values of cachesrv_removed_keys_total{reason}.
const (
	ReasonDeleted     = "deleted"
	ReasonExpired     = "expired"
	ReasonEvicted     = "evicted"
	ReasonInvalidated = "invalidated"
)

// collector turns a Source's snapshots into constant metrics at scrape
// time. It holds no mutable state, so concurrent scrapes are safe as long as
// the Source's funcs are.
type collector struct {
	src       Source
	goVersion string

	buildInfo *prometheus.Desc
	uptime    *prometheus.Desc

	// server
	commands      *prometheus.Desc
	commandErrors *prometheus.Desc
	rejected      *prometheus.Desc
	duration      *prometheus.Desc
	errorReplies  *prometheus.Desc
	connections   *prometheus.Desc
	connAccepted  *prometheus.Desc
	connRejected  *prometheus.Desc
	connQueryLim  *prometheus.Desc
	netIn         *prometheus.Desc
	netOut        *prometheus.Desc
	panics        *prometheus.Desc
	slowlog       *prometheus.Desc

	// store
	hits    *prometheus.Desc
	misses  *prometheus.Desc
	keys    *prometheus.Desc
	keysTTL *prometheus.Desc
	removed *prometheus.Desc
	evicted *prometheus.Desc
	expired *prometheus.Desc
	memUsed *prometheus.Desc
	memMax  *prometheus.Desc

	// expiry
	cycles    *prometheus.Desc
	swept     *prometheus.Desc
	sweepBusy *prometheus.Desc
	timeCap   *prometheus.Desc
	stale     *prometheus.Desc
	lag       *prometheus.Desc

	tags, taggedKeys, tagBytes, tagInvalidations, invalidatedKeys, versionRejections *prometheus.Desc

	leasesActive, leaseWaiting, leases, leaseEnds, fills, waits, waitSeconds, staleServes, negativeHits, pendingReplies *prometheus.Desc

	psChannels, psPatterns, psSubscribers, psMessages, pushes, invalidationPushes, trkKeys, trkItems, trkClients, trkPrefixes *prometheus.Desc

	origins originDescs
}

// NewCollector returns the collector New registers. It is exported for
// callers that compose their own registry and for tests; most code should
// call New.
func NewCollector(src Source) prometheus.Collector {
	return newCollector(src)
}

func newCollector(src Source) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cachesrv_"+name, help, labels, nil)
	}
	return &collector{
		src:       src,
		goVersion: runtime.Version(),

		buildInfo: d("build_info", "Always 1; labels carry the cachesrv version and the Go version it was built with.", "version", "goversion"),
		uptime:    d("uptime_seconds", "Time since the server started."),

		commands:      d("commands_total", "Commands executed, including those that replied with an error.", "cmd"),
		commandErrors: d("command_errors_total", "Executed commands that replied with an error.", "cmd"),
		rejected:      d("commands_rejected_total", "Commands refused before execution, such as writes refused under maxmemory.", "cmd"),
		duration:      d("command_duration_seconds", "Execution time of commands.", "cmd"),
		errorReplies:  d("error_replies_total", "Error replies sent, by the error's first word.", "prefix"),
		connections:   d("connections", "Clients connected now."),
		connAccepted:  d("connections_accepted_total", "Connections accepted by the listeners."),
		connRejected:  d("connections_rejected_total", "Connections refused because maxclients was reached."),
		connQueryLim:  d("connections_query_limit_closed_total", "Connections closed for exceeding client-query-buffer-limit."),
		netIn:         d("network_received_bytes_total", "Bytes read from clients."),
		netOut:        d("network_sent_bytes_total", "Bytes written to clients."),
		panics:        d("panics_recovered_total", "Panics recovered at the command boundary."),
		slowlog:       d("slowlog_entries", "Entries in the slow log."),

		hits:    d("keyspace_hits_total", "Key lookups that found a live key.", "db"),
		misses:  d("keyspace_misses_total", "Key lookups that found no live key.", "db"),
		keys:    d("keys", "Live keys.", "db"),
		keysTTL: d("keys_with_ttl", "Live keys with a time to live.", "db"),
		removed: d("removed_keys_total", "Keys that left the keyspace, by reason (deleted, expired, evicted, invalidated).", "reason"),
		evicted: d("evicted_keys_total", "Keys evicted to stay under maxmemory."),
		expired: d("expired_keys_total", "Keys removed because their time to live ran out, lazily or by the sweeper."),
		memUsed: d("memory_used_bytes", "Memory accounted to the keyspace."),
		memMax:  d("memory_max_bytes", "The maxmemory bound; 0 means no bound."),

		cycles:    d("expire_cycles_total", "Active expiry sweep cycles run."),
		swept:     d("expire_swept_keys_total", "Keys removed by the active expiry sweeper."),
		sweepBusy: d("expire_sweep_cpu_seconds_total", "Wall-clock time spent inside active expiry sweep cycles (Redis expire_cycle_cpu_milliseconds)."),
		timeCap:   d("expire_time_cap_reached_total", "Sweep cycles stopped by their time budget with work left."),
		stale:     d("expire_stale_ratio", "Estimated share of the keyspace holding due but not yet reclaimed keys, 0 to 1."),
		lag:       d("expire_lag_seconds", "Expiration lag: time from a key's deadline to its removal."),

		tags:              d("tags", "Tags in the tag index."),
		taggedKeys:        d("tagged_keys", "Live (key, tag) pairs in the tag index."),
		tagBytes:          d("tag_index_bytes", "Memory of the tag registry (member lists are accounted per shard)."),
		tagInvalidations:  d("tag_invalidations_total", "INVALIDATE calls, by kind (hard, soft).", "kind"),
		invalidatedKeys:   d("invalidated_keys_total", "Keys invalidated, by cause (tag, dependency).", "cause"),
		versionRejections: d("version_rejections_total", "Writes refused because they carried a version not newer than the stored one."),

		leasesActive:   d("stampede_leases_active", "Fill leases outstanding."),
		leaseWaiting:   d("stampede_waiting_clients", "Readers waiting on the server for a fill."),
		leases:         d("stampede_leases_granted_total", "Leases granted, by kind (fill on a miss, refresh of a stale entry, early XFetch refresh).", "kind"),
		leaseEnds:      d("stampede_leases_ended_total", "Leases that ended without a fill, by how (released, broken by a write or invalidation, expired, refused because the table was full).", "how"),
		fills:          d("stampede_fills_total", "Fills, by result (stored, negative, rejected as stale).", "result"),
		waits:          d("stampede_waits_total", "Readers that waited for a fill, by outcome (filled, timeout).", "outcome"),
		waitSeconds:    d("stampede_wait_seconds_total", "Time readers spent waiting for fills."),
		staleServes:    d("stampede_stale_serves_total", "Stale values served while a refresh was pending or in grace."),
		negativeHits:   d("stampede_negative_hits_total", "Reads answered from a negative (not found at the origin) entry."),
		pendingReplies: d("stampede_pending_replies_total", "Readers told a fill is in progress."),

		psChannels:         d("pubsub_channels", "Channels with at least one subscriber."),
		psPatterns:         d("pubsub_patterns", "Patterns with at least one subscriber."),
		psSubscribers:      d("pubsub_subscribers", "Clients subscribed to at least one channel or pattern."),
		psMessages:         d("pubsub_messages_total", "Messages delivered by PUBLISH (one per receiving client)."),
		pushes:             d("pushes_total", "Out-of-band frames queued to clients (messages, invalidations, MONITOR lines)."),
		invalidationPushes: d("tracking_invalidation_pushes_total", "Client-side caching invalidation frames sent."),
		trkKeys:            d("tracking_keys", "Keys in the tracking table (default mode)."),
		trkItems:           d("tracking_items", "(key, client) pairs in the tracking table."),
		trkClients:         d("tracking_clients", "Clients with CLIENT TRACKING on."),
		trkPrefixes:        d("tracking_prefixes", "BCAST prefixes registered."),

		origins: newOriginDescs(d),
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.buildInfo, c.uptime,
		c.commands, c.commandErrors, c.rejected, c.duration, c.errorReplies,
		c.connections, c.connAccepted, c.connRejected, c.connQueryLim,
		c.netIn, c.netOut, c.panics, c.slowlog,
		c.hits, c.misses, c.keys, c.keysTTL, c.removed, c.evicted, c.expired,
		c.memUsed, c.memMax,
		c.cycles, c.swept, c.sweepBusy, c.timeCap, c.stale, c.lag,
		c.tags, c.taggedKeys, c.tagBytes, c.tagInvalidations, c.invalidatedKeys, c.versionRejections,
		c.leasesActive, c.leaseWaiting, c.leases, c.leaseEnds, c.fills, c.waits, c.waitSeconds, c.staleServes, c.negativeHits, c.pendingReplies,
		c.psChannels, c.psPatterns, c.psSubscribers, c.psMessages, c.pushes, c.invalidationPushes, c.trkKeys, c.trkItems, c.trkClients, c.trkPrefixes,
	} {
		ch <- d
	}
	for _, d := range c.origins.all() {
		ch <- d
	}
	for _, d := range c.src.ExtraDescs {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads every part's snapshot
// once and sends the metrics derived from it.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	send(ch, c.buildInfo, prometheus.GaugeValue, 1, label(c.src.Version), c.goVersion)
	if c.src.Server != nil {
		c.collectServer(ch, c.src.Server())
	}
	if c.src.Store != nil {
		c.collectStore(ch, c.src.Store())
	}
	if c.src.Expire != nil {
		s := c.src.Expire()
		send(ch, c.cycles, prometheus.CounterValue, float64(s.Cycles))
		send(ch, c.swept, prometheus.CounterValue, float64(s.SweptKeys))
		send(ch, c.sweepBusy, prometheus.CounterValue, s.Busy.Seconds())
		send(ch, c.timeCap, prometheus.CounterValue, float64(s.TimeCapReached))
		send(ch, c.stale, prometheus.GaugeValue, s.StalePerc/100)
	}
	if c.src.ExpireLag != nil {
		h := c.src.ExpireLag()
		ch <- constHistogram(c.lag, h)
	}
	if c.src.Tags != nil {
		t := c.src.Tags()
		send(ch, c.tags, prometheus.GaugeValue, float64(t.Tags))
		send(ch, c.taggedKeys, prometheus.GaugeValue, float64(t.TaggedKeys))
		send(ch, c.tagBytes, prometheus.GaugeValue, float64(t.IndexBytes))
		send(ch, c.tagInvalidations, prometheus.CounterValue, float64(t.Invalidations), "hard")
		send(ch, c.tagInvalidations, prometheus.CounterValue, float64(t.SoftInvalidations), "soft")
		send(ch, c.invalidatedKeys, prometheus.CounterValue, float64(t.KeysInvalidatedByTag), "tag")
		send(ch, c.invalidatedKeys, prometheus.CounterValue, float64(t.KeysInvalidatedByDep), "dependency")
		send(ch, c.versionRejections, prometheus.CounterValue, float64(t.VersionRejections))
	}
	if c.src.PubSub != nil {
		p := c.src.PubSub()
		send(ch, c.psChannels, prometheus.GaugeValue, float64(p.Channels))
		send(ch, c.psPatterns, prometheus.GaugeValue, float64(p.Patterns))
		send(ch, c.psSubscribers, prometheus.GaugeValue, float64(p.Subscribers))
		send(ch, c.psMessages, prometheus.CounterValue, float64(p.Messages))
		send(ch, c.pushes, prometheus.CounterValue, float64(p.Pushes))
		send(ch, c.invalidationPushes, prometheus.CounterValue, float64(p.Invalidations))
		send(ch, c.trkKeys, prometheus.GaugeValue, float64(p.TrackingKeys))
		send(ch, c.trkItems, prometheus.GaugeValue, float64(p.TrackingItems))
		send(ch, c.trkClients, prometheus.GaugeValue, float64(p.TrackingClients))
		send(ch, c.trkPrefixes, prometheus.GaugeValue, float64(p.TrackingPrefixes))
	}
	if c.src.Stampede != nil {
		l := c.src.Stampede()
		send(ch, c.leasesActive, prometheus.GaugeValue, float64(l.Active))
		send(ch, c.leaseWaiting, prometheus.GaugeValue, float64(l.Waiting))
		send(ch, c.leases, prometheus.CounterValue, float64(l.Granted), "fill")
		send(ch, c.leases, prometheus.CounterValue, float64(l.RefreshGranted), "refresh")
		send(ch, c.leases, prometheus.CounterValue, float64(l.EarlyRefreshes), "early")
		send(ch, c.leaseEnds, prometheus.CounterValue, float64(l.Released), "released")
		send(ch, c.leaseEnds, prometheus.CounterValue, float64(l.Broken), "broken")
		send(ch, c.leaseEnds, prometheus.CounterValue, float64(l.Expired), "expired")
		send(ch, c.leaseEnds, prometheus.CounterValue, float64(l.Refused), "refused")
		send(ch, c.fills, prometheus.CounterValue, float64(l.Fills-min(l.Fills, l.NegativeFills)), "stored")
		send(ch, c.fills, prometheus.CounterValue, float64(l.NegativeFills), "negative")
		send(ch, c.fills, prometheus.CounterValue, float64(l.FillsRejected), "rejected")
		send(ch, c.waits, prometheus.CounterValue, float64(l.Waits-min(l.Waits, l.WaitTimeouts)), "filled")
		send(ch, c.waits, prometheus.CounterValue, float64(l.WaitTimeouts), "timeout")
		send(ch, c.waitSeconds, prometheus.CounterValue, l.WaitTime.Seconds())
		send(ch, c.staleServes, prometheus.CounterValue, float64(l.StaleServes))
		send(ch, c.negativeHits, prometheus.CounterValue, float64(l.NegativeHits))
		send(ch, c.pendingReplies, prometheus.CounterValue, float64(l.Pending))
	}
	if c.src.Origins != nil {
		c.origins.collect(ch, c.src.Origins())
	}
	if c.src.Extra != nil {
		c.src.Extra(ch)
	}
}

func (c *collector) collectServer(ch chan<- prometheus.Metric, s ServerStats) {
	send(ch, c.uptime, prometheus.GaugeValue, s.Uptime.Seconds())
	send(ch, c.connections, prometheus.GaugeValue, float64(s.Connections))
	send(ch, c.connAccepted, prometheus.CounterValue, float64(s.Accepted))
	send(ch, c.connRejected, prometheus.CounterValue, float64(s.Rejected))
	send(ch, c.connQueryLim, prometheus.CounterValue, float64(s.QueryLimitClosed))
	send(ch, c.netIn, prometheus.CounterValue, float64(s.NetIn))
	send(ch, c.netOut, prometheus.CounterValue, float64(s.NetOut))
	send(ch, c.panics, prometheus.CounterValue, float64(s.Panics))
	send(ch, c.slowlog, prometheus.GaugeValue, float64(s.SlowlogLen))

	for i := range s.Commands {
		cs := &s.Commands[i]
		name := label(cs.Name)
		send(ch, c.commands, prometheus.CounterValue, float64(cs.Calls), name)
		send(ch, c.commandErrors, prometheus.CounterValue, float64(cs.Failed), name)
		send(ch, c.rejected, prometheus.CounterValue, float64(cs.Rejected), name)
		if len(cs.Hist) > 0 {
			ch <- constHistogram(c.duration, latencyHistogram(cs.Hist, cs.Usec), name)
		}
	}

	errs := s.ErrorReplies
	for p := range errs {
		if !utf8.ValidString(p) {
			// Prefixes are cut at a byte count and may split a rune;
			// repair them and merge any that become equal.
			errs = make(map[string]uint64, len(s.ErrorReplies))
			for p, n := range s.ErrorReplies {
				errs[label(p)] += n
			}
			break
		}
	}
	for p, n := range errs {
		send(ch, c.errorReplies, prometheus.CounterValue, float64(n), p)
	}
}

func (c *collector) collectStore(ch chan<- prometheus.Metric, s StoreStats) {
	for db, d := range s.DBs {
		if db != 0 && !d.active() {
			continue
		}
		l := strconv.Itoa(db)
		send(ch, c.hits, prometheus.CounterValue, float64(d.Hits), l)
		send(ch, c.misses, prometheus.CounterValue, float64(d.Misses), l)
		send(ch, c.keys, prometheus.GaugeValue, float64(d.Keys), l)
		send(ch, c.keysTTL, prometheus.GaugeValue, float64(d.Expires), l)
	}
	r := s.Removed
	send(ch, c.removed, prometheus.CounterValue, float64(r.Deleted), ReasonDeleted)
	send(ch, c.removed, prometheus.CounterValue, float64(r.Expired), ReasonExpired)
	send(ch, c.removed, prometheus.CounterValue, float64(r.Evicted), ReasonEvicted)
	send(ch, c.removed, prometheus.CounterValue, float64(r.Invalidated), ReasonInvalidated)
	send(ch, c.evicted, prometheus.CounterValue, float64(r.Evicted))
	send(ch, c.expired, prometheus.CounterValue, float64(r.Expired))
	send(ch, c.memUsed, prometheus.GaugeValue, float64(s.UsedMemory))
	send(ch, c.memMax, prometheus.GaugeValue, float64(s.MaxMemory))
}

// latencyHistogram converts a command's per-bucket latency counts (bucket i
// = calls under 2^i µs, the last bucket open-ended) into a cumulative
// histogram in seconds. The count is the sum of the buckets rather than the
// separately read call counter, so the histogram is consistent in itself.
func latencyHistogram(hist []uint64, usec uint64) Histogram {
	n := len(hist) - 1 // finite buckets; the last one is +Inf
	h := Histogram{
		Bounds: make([]float64, n),
		Counts: make([]uint64, n),
		Sum:    float64(usec) / 1e6,
	}
	for i, v := range hist {
		h.Count += v
		if i < n {
			h.Bounds[i] = math.Ldexp(1e-6, i) // 2^i µs, exact
			h.Counts[i] = h.Count
		}
	}
	return h
}

// constHistogram builds a constant histogram metric, or an invalid metric
// that fails the scrape's error handling when h is malformed.
func constHistogram(d *prometheus.Desc, h Histogram, lvs ...string) prometheus.Metric {
	if len(h.Bounds) != len(h.Counts) {
		return prometheus.NewInvalidMetric(d, errMismatch)
	}
	buckets := make(map[float64]uint64, len(h.Bounds))
	for i, b := range h.Bounds {
		buckets[b] = h.Counts[i]
	}
	m, err := prometheus.NewConstHistogram(d, h.Count, h.Sum, buckets, lvs...)
	if err != nil {
		return prometheus.NewInvalidMetric(d, err)
	}
	return m
}

type mismatchError struct{}

func (mismatchError) Error() string {
	return "histogram has a different number of bounds and counts"
}

var errMismatch error = mismatchError{}

// send sends one constant metric; a metric that cannot be built (which
// would be a bug here) becomes an invalid metric instead of a panic, so the
// scrape reports it and goes on.
func send(ch chan<- prometheus.Metric, d *prometheus.Desc, t prometheus.ValueType, v float64, lvs ...string) {
	m, err := prometheus.NewConstMetric(d, t, v, lvs...)
	if err != nil {
		m = prometheus.NewInvalidMetric(d, err)
	}
	ch <- m
}

// label returns s as a valid UTF-8 label value, which client_golang
// requires; it allocates only when s needs repair.
func label(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
