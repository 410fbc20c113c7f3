// Command cachesrv is a Redis-protocol cache server.
//
// Usage: cachesrv [--config FILE] [--<setting> VALUE ...]; see --help.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, environ)
	switch {
	case errors.Is(err, config.ErrHelp):
		fmt.Fprint(stdout, config.Usage())
		return 0
	case errors.Is(err, config.ErrVersion):
		fmt.Fprintln(stdout, "cachesrv", app.Version)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "cachesrv: invalid configuration:\n%v\n", err)
		return 2
	}
	level := new(slog.LevelVar)
	level.Set(cfg.SlogLevel())
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(h)

	a, err := app.New(cfg, log, level)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	var lns []net.Listener
	for _, addr := range cfg.ListenAddrs() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Error("cannot listen", "addr", addr, "err", err)
			return 1
		}
		lns = append(lns, ln)
	}
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		mln, err = net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			log.Error("cannot listen for metrics", "addr", cfg.MetricsAddr, "err", err)
			return 1
		}
		a.MetricsHandler = a.NewMetricsHandler()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	if cfg.RequirePass == "" {
		log.Warn("no password configured (requirepass): serving clients without authentication")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Info("cachesrv starting", "version", app.Version, "maxmemory", cfg.MaxMemory, "policy", cfg.MaxMemoryPolicy)
	if err := a.Run(ctx, lns, mln); err != nil {
		log.Error("stopped with errors", "err", err)
		return 1
	}
	log.Info("bye")
	return 0
}
