// Command stampedebench measures cachesrv's stampede protection.
//
// Two workloads, each run with and without protection:
//
//   - Cold miss: -clients concurrent readers ask for one key that is not
//     cached; the origin takes -loader to answer. With leases the loader
//     runs once and every reader gets its value; without, every reader that
//     misses runs it.
//   - Hot key: -hot-clients readers read one key for -hot-duration; the key
//     expires every -ttl. Printed per mode (no protection; leases without
//     early refresh; leases with XFetch early refresh; leases with
//     stale-while-revalidate): origin calls per second, origin calls per
//     -bucket over time, and client latency percentiles.
//
// Without -addr it starts a cachesrv in-process on 127.0.0.1:0.
//
//	go run ./cmd/stampedebench
//	go run ./cmd/stampedebench -addr 127.0.0.1:6379 -clients 1000 -hot-duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
)

func main() {
	addr := flag.String("addr", "", "cachesrv address (default: start one in-process)")
	var cfg Config
	flag.IntVar(&cfg.Clients, "clients", 1000, "cold miss: concurrent clients")
	flag.DurationVar(&cfg.Loader, "loader", 50*time.Millisecond, "origin latency")
	flag.IntVar(&cfg.HotClients, "hot-clients", 50, "hot key: concurrent clients")
	flag.DurationVar(&cfg.HotDuration, "hot-duration", 5*time.Second, "hot key: duration of each mode")
	flag.DurationVar(&cfg.Think, "think", time.Millisecond, "hot key: pause between a client's reads")
	flag.DurationVar(&cfg.TTL, "ttl", time.Second, "hot key: TTL")
	flag.DurationVar(&cfg.Grace, "grace", 5*time.Second, "hot key: grace period (stale-while-revalidate mode)")
	flag.DurationVar(&cfg.Bucket, "bucket", 500*time.Millisecond, "hot key: width of the origin-calls-over-time buckets")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *addr == "" {
		a, shutdown, err := startServer(ctx)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stampedebench:", err)
			os.Exit(1)
		}
		defer shutdown()
		*addr = a
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr, PoolSize: max(cfg.Clients, cfg.HotClients) + 16})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		fmt.Fprintln(os.Stderr, "stampedebench:", err)
		os.Exit(1)
	}
	Run(ctx, rdb, cfg, os.Stdout)
	if info, err := rdb.Info(ctx, "stampede").Result(); err == nil {
		fmt.Println()
		fmt.Println("Server INFO stampede:")
		for _, line := range strings.Split(strings.TrimSpace(info), "\r\n") {
			if !strings.HasPrefix(line, "#") {
				fmt.Println("  " + line)
			}
		}
	}
}

// startServer runs cachesrv in-process on 127.0.0.1:0.
func startServer(ctx context.Context) (addr string, shutdown func(), err error) {
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.MaxMemory = 0
	if err := cfg.Validate(); err != nil {
		return "", nil, fmt.Errorf("config: %w", err)
	}
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, []net.Listener{ln}, nil) }()
	return ln.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintln(os.Stderr, "stampedebench: server:", err)
		}
	}, nil
}
