package metrics

import "github.com/prometheus/client_golang/prometheus"

// ClusterStats is a snapshot of a cluster node's state and counters
// (docs/cluster.md).
type ClusterStats struct {
	StateOK               bool
	SlotsOwned            int
	SlotsAssigned         int
	SlotsFail             int
	KnownNodes            int
	FailedNodes           int
	CurrentEpoch          uint64
	MyEpoch               uint64
	Redirects             map[string]int64 // by kind: moved, ask, crossslot, down, tryagain
	SlotsTakenOver        int64
	KeysMigrated          int64
	KeysDroppedMigrating  int64
	InvalidationsSent     int64
	InvalidationsReceived int64
	InvalidationsPending  int
	InvalidationsExpired  int64
	MessagesSent          int64
	MessagesReceived      int64
}

type clusterCollector struct {
	src func() ClusterStats

	state, owned, assigned, failSlots, known, failed, curEpoch, myEpoch, redirects, takenOver,
	migrated, dropped, invSent, invRecv, invPending, invExpired, msgs *prometheus.Desc
}

func newClusterCollector(src func() ClusterStats) *clusterCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("cachesrv_cluster_"+name, help, labels, nil)
	}
	return &clusterCollector{
		src:        src,
		state:      d("state_ok", "1 when cluster_state is ok (every slot has a live owner, or full coverage is not required)."),
		owned:      d("slots_owned", "Hash slots this node serves."),
		assigned:   d("slots_assigned", "Hash slots with an owner in this node's view."),
		failSlots:  d("slots_fail", "Hash slots whose owner is marked failed."),
		known:      d("known_nodes", "Nodes this node knows, itself included."),
		failed:     d("failed_nodes", "Known nodes marked failed."),
		curEpoch:   d("current_epoch", "The highest config epoch this node knows."),
		myEpoch:    d("my_epoch", "This node's config epoch."),
		redirects:  d("redirects_total", "Keyed commands not served here, by reply (moved, ask, crossslot, down, tryagain).", "kind"),
		takenOver:  d("slots_taken_over_total", "Slots this node took over from failed nodes."),
		migrated:   d("keys_migrated_total", "Keys MIGRATE copied to another node and deleted here."),
		dropped:    d("keys_dropped_in_migration_total", "Keys MIGRATE deleted without copying (tagged, versioned, Bloom filters)."),
		invSent:    d("invalidations_sent_total", "INVALIDATE/SOFTINVALIDATE sent from this node to the others."),
		invRecv:    d("invalidations_received_total", "Invalidations from other nodes applied here."),
		invPending: d("invalidations_pending", "(node, invalidation) pairs not acknowledged yet."),
		invExpired: d("invalidations_expired_total", "Invalidations given up after 10 minutes without an acknowledgement."),
		msgs:       d("bus_messages_total", "Cluster bus messages, by direction (sent, received).", "direction"),
	}
}

func (c *clusterCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.state, c.owned, c.assigned, c.failSlots, c.known, c.failed, c.curEpoch,
		c.myEpoch, c.redirects, c.takenOver, c.migrated, c.dropped, c.invSent, c.invRecv, c.invPending, c.invExpired, c.msgs} {
		ch <- d
	}
}

func (c *clusterCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	cnt := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ok := 0.0
	if s.StateOK {
		ok = 1
	}
	g(c.state, ok)
	g(c.owned, float64(s.SlotsOwned))
	g(c.assigned, float64(s.SlotsAssigned))
	g(c.failSlots, float64(s.SlotsFail))
	g(c.known, float64(s.KnownNodes))
	g(c.failed, float64(s.FailedNodes))
	g(c.curEpoch, float64(s.CurrentEpoch))
	g(c.myEpoch, float64(s.MyEpoch))
	for _, k := range []string{"moved", "ask", "crossslot", "down", "tryagain"} {
		cnt(c.redirects, s.Redirects[k], k)
	}
	cnt(c.takenOver, s.SlotsTakenOver)
	cnt(c.migrated, s.KeysMigrated)
	cnt(c.dropped, s.KeysDroppedMigrating)
	cnt(c.invSent, s.InvalidationsSent)
	cnt(c.invRecv, s.InvalidationsReceived)
	g(c.invPending, float64(s.InvalidationsPending))
	cnt(c.invExpired, s.InvalidationsExpired)
	cnt(c.msgs, s.MessagesSent, "sent")
	cnt(c.msgs, s.MessagesReceived, "received")
}
