package app

import (
	"context"
	"fmt"
	"time"

	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/metrics"
	"github.com/cachesrv/cachesrv/internal/origin"
	"github.com/cachesrv/cachesrv/internal/protocol"
)

// setupOrigins builds the origin manager when the configuration has origins
// or routes (docs/origins.md).
func (a *App) setupOrigins(cfg *config.Config) error {
	if len(cfg.Origins.Origins) == 0 && len(cfg.Origins.Routes) == 0 {
		return nil
	}
	sp := cfg.Origins
	sp.Dir = cfg.Dir
	sp.WarmOnStart, sp.WarmTimeout = cfg.OriginsWarmOnStart, cfg.OriginsWarmTimeout
	m, err := origin.New(origin.Options{
		Spec: sp, Store: a.Store, Leases: a.Leases, Tags: a.Tags, Logger: a.Log.With("part", "origins"),
		Drain: cfg.ShutdownTimeout,
	})
	if err != nil {
		return fmt.Errorf("origins: %w", err)
	}
	a.Origins = m
	return nil
}

// closeOrigins releases the origins' backends when New fails after
// building them (Run with a cancelled context closes them and returns).
func (a *App) closeOrigins() {
	if a.Origins == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.Origins.Run(ctx)
}

// startOrigins runs the origins' background work until the returned stop
// is called (after clients are drained) and warms the routes at start.
func (a *App) startOrigins(cfg *config.Config) (stop func()) {
	if a.Origins == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Origins.Run(ctx)
	}()
	if cfg.OriginsWarmOnStart {
		wctx, wcancel := context.WithTimeout(context.Background(), cfg.OriginsWarmTimeout)
		start := time.Now()
		if err := a.Origins.WarmAll(wctx); err != nil {
			a.Log.Warn("warming at start failed; serving anyway", "err", err)
		} else {
			a.Log.Info("origins warmed", "took", time.Since(start).Round(time.Millisecond))
		}
		wcancel()
	}
	return func() {
		cancel()
		<-done
	}
}

func (a *App) originsInfo() []protocol.InfoField {
	if a.Origins == nil {
		return nil
	}
	return protocol.OriginsInfo(a.Origins)
}

// originMetrics adapts the origins' stats to the metrics package.
func (a *App) originMetrics() []metrics.OriginStats {
	var out []metrics.OriginStats
	for _, o := range a.Origins.Origins() {
		s := o.Stats()
		m := metrics.OriginStats{
			Name: s.Name, Breaker: s.Breaker, BreakerOpened: s.BreakerOpen,
			CoalescedWaiters: s.Coalesced, NegativeCached: s.Negative, Refreshes: s.Refreshes, RefreshErrors: s.RefreshErrs,
			WarmedKeys: s.Warmed, Notifications: s.Notifies, Listening: s.Listening,
			WriteBehind: s.WriteBehind, QueueDepth: s.QueueDepth, OldestSeconds: s.OldestSeconds, LagSeconds: s.LagSeconds,
			JournalBytes: s.JournalBytes, DeadLetters: s.DeadLetters, Flushed: s.Flushed, CoalescedWrite: s.CoalescedWrites, Retries: s.Retries,
		}
		for i, op := range s.Ops {
			bounds := origin.LatencyBuckets
			m.Ops = append(m.Ops, metrics.OriginOpStats{
				Op: origin.OpNames[i], Calls: op.Calls, Errors: op.Errors,
				Latency: metrics.Histogram{Bounds: bounds, Counts: op.Buckets[:len(bounds)], Sum: op.SumSeconds, Count: op.Calls},
			})
		}
		out = append(out, m)
	}
	return out
}
