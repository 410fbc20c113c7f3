package metrics

import "github.com/prometheus/client_golang/prometheus"

// OriginStats is a snapshot of one origin (internal/origin). Origin names
// come from the configuration (a closed set), never from clients.
type OriginStats struct {
	Name string
	// Breaker is 0 closed, 1 open, 2 half-open.
	Breaker       int
	BreakerOpened uint64
	// Ops by operation name (load, write, warm).
	Ops              []OriginOpStats
	CoalescedWaiters uint64
	NegativeCached   uint64
	Refreshes        uint64
	RefreshErrors    uint64
	WarmedKeys       uint64
	Notifications    uint64
	Listening        bool

	WriteBehind    bool
	QueueDepth     int
	OldestSeconds  float64
	LagSeconds     float64
	JournalBytes   int64
	DeadLetters    int
	Flushed        uint64
	CoalescedWrite uint64
	Retries        uint64
}

// OriginOpStats are one operation's calls, errors by kind and latency.
type OriginOpStats struct {
	Op      string
	Calls   uint64
	Errors  map[string]uint64
	Latency Histogram
}

// originDescs are the per-origin metrics.
type originDescs struct {
	calls, errors, latency, breaker, breakerOpened, coalesced, negative, refreshes, warmed, notifications, listening,
	wbDepth, wbOldest, wbLag, wbJournal, wbDead, wbFlushed, wbCoalesced, wbRetries *prometheus.Desc
}

func newOriginDescs(d func(name, help string, labels ...string) *prometheus.Desc) originDescs {
	return originDescs{
		calls:         d("origin_calls_total", "Calls to an origin, by operation (load, write, warm).", "origin", "op"),
		errors:        d("origin_errors_total", "Failed origin calls, by operation and kind (timeout, circuit_open, http_5xx, error...).", "origin", "op", "kind"),
		latency:       d("origin_call_duration_seconds", "Latency of origin calls, by operation.", "origin", "op"),
		breaker:       d("origin_breaker_state", "Circuit breaker state: 0 closed, 1 open, 2 half-open.", "origin"),
		breakerOpened: d("origin_breaker_opened_total", "Times the circuit breaker opened.", "origin"),
		coalesced:     d("origin_coalesced_waiters_total", "Reads that shared another read's origin load instead of calling the origin.", "origin"),
		negative:      d("origin_negative_cached_total", "Not-found answers cached as negative entries.", "origin"),
		refreshes:     d("origin_refreshes_total", "Refresh-ahead reloads, by result (ok, error).", "origin", "result"),
		warmed:        d("origin_warmed_keys_total", "Keys loaded by warming.", "origin"),
		notifications: d("origin_notifications_total", "Invalidation NOTIFY messages received.", "origin"),
		listening:     d("origin_listening", "1 while the NOTIFY connection is up.", "origin"),
		wbDepth:       d("origin_writebehind_queue_keys", "Keys with a write-behind write not yet acknowledged by the origin.", "origin"),
		wbOldest:      d("origin_writebehind_oldest_seconds", "Age of the oldest write-behind write not yet acknowledged.", "origin"),
		wbLag:         d("origin_writebehind_lag_seconds", "Time from acknowledgement to origin acknowledgement of the last flushed write.", "origin"),
		wbJournal:     d("origin_writebehind_journal_bytes", "Bytes in the write-behind journal.", "origin"),
		wbDead:        d("origin_writebehind_dead_letters", "Write-behind writes in the dead-letter list.", "origin"),
		wbFlushed:     d("origin_writebehind_flushed_total", "Write-behind writes acknowledged by the origin.", "origin"),
		wbCoalesced:   d("origin_writebehind_coalesced_total", "Write-behind writes superseded by a later write of the same key before flushing.", "origin"),
		wbRetries:     d("origin_writebehind_retries_total", "Write-behind writes that failed and were retried.", "origin"),
	}
}

func (o originDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{o.calls, o.errors, o.latency, o.breaker, o.breakerOpened, o.coalesced, o.negative, o.refreshes,
		o.warmed, o.notifications, o.listening, o.wbDepth, o.wbOldest, o.wbLag, o.wbJournal, o.wbDead, o.wbFlushed, o.wbCoalesced, o.wbRetries}
}

func (o originDescs) collect(ch chan<- prometheus.Metric, list []OriginStats) {
	for _, s := range list {
		n := label(s.Name)
		for _, op := range s.Ops {
			send(ch, o.calls, prometheus.CounterValue, float64(op.Calls), n, op.Op)
			for kind, v := range op.Errors {
				send(ch, o.errors, prometheus.CounterValue, float64(v), n, op.Op, label(kind))
			}
			ch <- constHistogram(o.latency, op.Latency, n, op.Op)
		}
		send(ch, o.breaker, prometheus.GaugeValue, float64(s.Breaker), n)
		send(ch, o.breakerOpened, prometheus.CounterValue, float64(s.BreakerOpened), n)
		send(ch, o.coalesced, prometheus.CounterValue, float64(s.CoalescedWaiters), n)
		send(ch, o.negative, prometheus.CounterValue, float64(s.NegativeCached), n)
		send(ch, o.refreshes, prometheus.CounterValue, float64(s.Refreshes), n, "ok")
		send(ch, o.refreshes, prometheus.CounterValue, float64(s.RefreshErrors), n, "error")
		send(ch, o.warmed, prometheus.CounterValue, float64(s.WarmedKeys), n)
		send(ch, o.notifications, prometheus.CounterValue, float64(s.Notifications), n)
		l := 0.0
		if s.Listening {
			l = 1
		}
		send(ch, o.listening, prometheus.GaugeValue, l, n)
		if !s.WriteBehind {
			continue
		}
		send(ch, o.wbDepth, prometheus.GaugeValue, float64(s.QueueDepth), n)
		send(ch, o.wbOldest, prometheus.GaugeValue, s.OldestSeconds, n)
		send(ch, o.wbLag, prometheus.GaugeValue, s.LagSeconds, n)
		send(ch, o.wbJournal, prometheus.GaugeValue, float64(s.JournalBytes), n)
		send(ch, o.wbDead, prometheus.GaugeValue, float64(s.DeadLetters), n)
		send(ch, o.wbFlushed, prometheus.CounterValue, float64(s.Flushed), n)
		send(ch, o.wbCoalesced, prometheus.CounterValue, float64(s.CoalescedWrite), n)
		send(ch, o.wbRetries, prometheus.CounterValue, float64(s.Retries), n)
	}
}
