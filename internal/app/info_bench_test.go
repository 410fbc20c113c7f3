package app_test

import (
	"testing"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
)

// BenchmarkInfoAll is the server-side cost of INFO all on the default
// configuration (64 shards), without a socket.
func BenchmarkInfoAll(b *testing.B) {
	cfg := config.Default()
	cfg.MetricsAddr = ""
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	sections := []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace", "commandstats", "eviction", "expiry", "tags", "stampede", "origins"}
	b.ReportAllocs()
	for b.Loop() {
		_ = a.Server.InfoText(sections, nil)
	}
}
