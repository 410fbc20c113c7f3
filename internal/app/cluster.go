package app

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/cachesrv/cachesrv/internal/cluster"
	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/metrics"
)

// setupCluster builds the cluster node and its per-slot key index when
// cluster-enabled is yes (before the protocol server, which takes them).
func (a *App) setupCluster(cfg *config.Config) error {
	if !cfg.ClusterEnabled {
		return nil
	}
	a.ClusterIndex = cluster.NewIndex(a.Store)
	ip := cfg.ClusterAnnounceIP
	if ip == "" {
		ip = "127.0.0.1"
		for _, b := range cfg.Bind {
			if addr := net.ParseIP(b); addr != nil && !addr.IsUnspecified() {
				ip = addr.String()
				break
			}
		}
	}
	bus := cfg.ClusterBusPort()
	if cfg.Port == 0 && cfg.ClusterPort == 0 {
		bus = 0 // tests: the bus takes any free port too
	}
	log := a.Log.With("component", "cluster")
	// With requirepass set, the bus is encrypted and authenticated with a
	// key derived from it: every node of a cluster shares the password,
	// and a node without it cannot join or forge slot claims.
	var busKey []byte
	if cfg.RequirePass != "" {
		sum := sha256.Sum256([]byte("cachesrv cluster bus\x00" + cfg.RequirePass))
		busKey = sum[:]
	}
	n, err := cluster.New(cluster.Options{
		ConfigFile:          cfg.ClusterConfigPath(),
		IP:                  ip,
		Port:                cfg.Port,
		BusPort:             bus,
		NodeTimeout:         time.Duration(cfg.ClusterNodeTimeout) * time.Millisecond,
		RequireFullCoverage: cfg.ClusterRequireFullCoverage,
		SlotTakeover:        cfg.ClusterSlotTakeover,
		Keys:                a.ClusterIndex,
		BusKey:              busKey,
		Logf:                func(msg string, args ...any) { log.Info(msg, args...) },
	})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	a.Cluster = n
	return nil
}

// startCluster runs the cluster bus until ctx ends; it returns a function
// that waits for it. The node learns its client port from the first
// listener when port is 0 (tests).
func (a *App) startCluster(ctx context.Context, lns []net.Listener, errs chan<- error) (wait func()) {
	if a.Cluster == nil {
		return func() {}
	}
	if len(lns) > 0 {
		if ta, ok := lns[0].Addr().(*net.TCPAddr); ok {
			a.Cluster.SetClientPort(ta.Port)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := a.Cluster.Run(ctx); err != nil {
			errs <- err
			a.Stop()
		}
	}()
	return wg.Wait
}

// clusterMetrics reads the cluster node's state and counters for /metrics.
func (a *App) clusterMetrics() metrics.ClusterStats {
	n := a.Cluster
	v := n.View()
	st := n.Stats()
	owned, failed := 0, 0
	for slot := range cluster.Slots {
		if v.Mine(slot) {
			owned++
		}
	}
	for _, nd := range n.Nodes() {
		if nd.Failed {
			failed++
		}
	}
	return metrics.ClusterStats{
		StateOK: v.OK, SlotsOwned: owned, SlotsAssigned: v.SlotsAssigned, SlotsFail: v.SlotsFail,
		KnownNodes: v.KnownNodes, FailedNodes: failed, CurrentEpoch: v.CurrentEpoch, MyEpoch: v.MyEpoch,
		Redirects: map[string]int64{"moved": st.MovedReplies.Load(), "ask": st.AskReplies.Load(),
			"crossslot": st.CrossSlotReplies.Load(), "down": st.DownReplies.Load(), "tryagain": st.TryAgainReplies.Load()},
		SlotsTakenOver: st.SlotsTakenOver.Load(), KeysMigrated: st.KeysMigratedOut.Load(),
		KeysDroppedMigrating: a.Server.MigrateDropped(), InvalidationsSent: st.InvalidationsSent.Load(),
		InvalidationsReceived: st.InvalidationsReceived.Load(), InvalidationsPending: n.PendingInvalidations(),
		InvalidationsExpired: st.InvalidationsExpired.Load(), MessagesSent: st.MessagesSent.Load(),
		MessagesReceived: st.MessagesRecv.Load(),
	}
}
