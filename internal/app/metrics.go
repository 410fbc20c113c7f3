package app

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachesrv/cachesrv/internal/expire"
	"github.com/cachesrv/cachesrv/internal/metrics"
	"github.com/cachesrv/cachesrv/internal/protocol"
	"github.com/cachesrv/cachesrv/internal/store"
)

// NewMetricsHandler returns the HTTP handler served on metrics-addr:
// /metrics (Prometheus, read from the parts' stats at scrape time),
// /healthz (live) and /readyz (ready to serve, see Ready). Each call builds
// its own registry, so handlers of several Apps in one process (tests) do
// not share series.
func (a *App) NewMetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	if err := metrics.New(reg, a.metricsSource()); err != nil {
		// A fresh registry only refuses a collector whose descriptors are
		// inconsistent, which is a programming mistake.
		panic("BUG: cannot register metrics on a fresh registry: " + err.Error())
	}
	return metrics.Handler(reg, a.Ready)
}

// Ready reports whether the App serves clients: Run has been called and
// the snapshot loaded at start is in.
func (a *App) Ready() bool {
	a.cancelMu.Lock()
	defer a.cancelMu.Unlock()
	return a.cancel != nil && a.loaded.Load()
}

// metricsSource adapts the parts' stats to the metrics package's input
// types; metrics never imports them.
func (a *App) metricsSource() metrics.Source {
	var origins func() []metrics.OriginStats
	if a.Origins != nil {
		origins = a.originMetrics
	}
	var clusterStats func() metrics.ClusterStats
	if a.Cluster != nil {
		clusterStats = a.clusterMetrics
	}
	return metrics.Source{
		Cluster: clusterStats,
		Origins: origins,
		Version: Version,
		Server:  func() metrics.ServerStats { return serverMetrics(a.Server.Stats()) },
		Store:   func() metrics.StoreStats { return storeMetrics(a.Store.Stats()) },
		Expire:  func() metrics.ExpireStats { return expireMetrics(a.Sweeper.Stats()) },
		ExpireLag: func() metrics.Histogram {
			return lagMetrics(a.Lag)
		},
		Tags: func() metrics.TagStats {
			t := a.Tags.Stats()
			return metrics.TagStats{
				Tags: t.Tags, TaggedKeys: t.TaggedKeys, IndexBytes: t.IndexBytes,
				Invalidations: t.Invalidations, SoftInvalidations: t.SoftInvalidations,
				KeysInvalidatedByTag: t.KeysInvalidatedByTag, KeysInvalidatedByDep: t.KeysInvalidatedByDep,
				VersionRejections: t.VersionRejections,
			}
		},
		Persist: a.persistMetrics,
		PubSub: func() metrics.PubSubStats {
			p := a.Server.PubSubStats()
			return metrics.PubSubStats{
				Channels: p.Channels, Patterns: p.Patterns, Subscribers: p.Subscribers,
				Messages: p.Messages, Pushes: p.Pushes, Invalidations: p.Invalidations,
				TrackingKeys: p.TrackingKeys, TrackingItems: p.TrackingItems,
				TrackingClients: p.TrackingClients, TrackingPrefixes: p.TrackingPrefixes,
			}
		},
		Stampede: func() metrics.StampedeStats {
			l := a.Leases.Stats()
			return metrics.StampedeStats{
				Active: l.Active, Waiting: l.Waiting,
				Granted: l.Granted, RefreshGranted: l.RefreshGranted, EarlyRefreshes: l.EarlyRefreshes, Refused: l.Refused,
				Pending: l.Pending, Fills: l.Fills, FillsRejected: l.FillsRejected, NegativeFills: l.NegativeFills,
				Released: l.Released, Broken: l.Broken, Expired: l.Expired,
				Waits: l.Waits, WaitTimeouts: l.WaitTimeouts, WaitTime: l.WaitTime,
				StaleServes: l.StaleServes, NegativeHits: l.NegativeHits,
			}
		},
	}
}

func serverMetrics(s protocol.ServerStats) metrics.ServerStats {
	out := metrics.ServerStats{
		Commands:         make([]metrics.CommandStats, len(s.Commands)),
		ErrorReplies:     s.Errors, // a fresh map per snapshot
		Connections:      s.Connections,
		Accepted:         s.Accepted,
		Rejected:         s.Rejected,
		QueryLimitClosed: s.QueryLimitClosed,
		NetIn:            s.NetIn,
		NetOut:           s.NetOut,
		Panics:           s.Panics,
		SlowlogLen:       s.SlowlogLen,
		Uptime:           time.Duration(s.UptimeSeconds) * time.Second,
	}
	for i := range s.Commands {
		c := &s.Commands[i]
		out.Commands[i] = metrics.CommandStats{
			Name:     c.Name,
			Calls:    c.Calls,
			Failed:   c.Failed,
			Rejected: c.Rejected,
			Usec:     c.Usec,
			Hist:     c.Hist[:], // same layout: bucket i = under 2^i µs, not cumulative
		}
	}
	return out
}

func storeMetrics(s store.Stats) metrics.StoreStats {
	out := metrics.StoreStats{
		DBs: make([]metrics.DBStats, len(s.Keys)),
		Removed: metrics.RemovedStats{
			Deleted:     s.RemovedBy(store.Deleted),
			Expired:     s.RemovedBy(store.Expired),
			Evicted:     s.RemovedBy(store.Evicted),
			Invalidated: s.RemovedBy(store.Invalidated),
		},
		UsedMemory: s.UsedMemory,
		MaxMemory:  s.MaxMemory,
	}
	for db := range out.DBs {
		out.DBs[db] = metrics.DBStats{
			Keys:    s.Keys[db],
			Expires: s.Expires[db],
			Hits:    s.Hits[db],
			Misses:  s.Misses[db],
		}
	}
	return out
}

func expireMetrics(s expire.SweeperStats) metrics.ExpireStats {
	return metrics.ExpireStats{
		Cycles:         s.Cycles,
		SweptKeys:      s.ExpiredKeys,
		TimeCapReached: s.TimeCapReached,
		Busy:           s.CPU,
		StalePerc:      s.StalePerc,
	}
}

func lagMetrics(h *expire.LagHistogram) metrics.Histogram {
	// Snapshot's counts are already cumulative (Prometheus "le").
	bounds, counts, sum, count := h.Snapshot()
	return metrics.Histogram{Bounds: bounds, Counts: counts, Sum: sum, Count: count}
}
