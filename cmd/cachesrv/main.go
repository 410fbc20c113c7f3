// Command cachesrv is a Redis-protocol cache server.
//
// Usage: cachesrv [--config FILE] [--<setting> VALUE ...]; see --help.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
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
	// The keyspace lives in pointer-free slabs and tables, so a garbage
	// collection costs little; collecting at 25% heap growth instead of
	// Go's 100% keeps RSS close to the live data (118 instead of 151 bytes
	// per key for 1M small keys). GOGC in the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	level := new(slog.LevelVar)
	level.Set(cfg.SlogLevel())
	hopts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(stderr, hopts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, hopts)
	}
	log := slog.New(h)

	raiseFileLimit(log, cfg.MaxClients)
	a, err := app.New(cfg, log, level)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	loopbackOnly, err := app.CheckExposure(cfg, a.Server.AuthRequired())
	if err != nil {
		fmt.Fprintf(stderr, "cachesrv: %v\n", err)
		log.Error("cannot start", "err", err)
		return 2
	}
	switch {
	case a.Server.AuthRequired():
	case loopbackOnly && cfg.ProtectedMode:
		log.Warn("no password configured (requirepass/aclfile): protected mode, serving loopback clients only", "bind", cfg.Bind)
	default:
		log.Warn("no password configured (requirepass/aclfile) and protected-mode is no: serving every client that can connect without authentication", "bind", cfg.Bind)
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
	for _, addr := range cfg.TLSListenAddrs() {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Error("cannot listen for TLS", "addr", addr, "err", err)
			return 1
		}
		log.Info("TLS listening", "addr", ln.Addr().String(), "client_certs", cfg.TLSAuthClients)
		lns = append(lns, tls.NewListener(ln, a.TLS))
	}
	var mln net.Listener
	if cfg.MetricsAddr != "" {
		mln, err = net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			log.Error("cannot listen for metrics", "addr", cfg.MetricsAddr, "err", err)
			return 1
		}
		a.MetricsHandler = a.NewMetricsHandler()
		if cfg.MetricsTLS {
			mln = tls.NewListener(mln, a.TLS)
		}
		log.Info("metrics listening", "addr", mln.Addr().String(), "tls", cfg.MetricsTLS)
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

// raiseFileLimit raises the soft limit on open files to the hard limit:
// every client is a descriptor, and the default soft limit (often 1024)
// is far below maxclients.
func raiseFileLimit(log *slog.Logger, maxClients int) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	if rl.Cur < rl.Max {
		old := rl.Cur
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			log.Warn("cannot raise the open files limit", "from", old, "to", rl.Max, "err", err)
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
		}
	}
	if need := uint64(maxClients) + 32; rl.Cur < need {
		log.Warn("the open files limit is below maxclients + 32: clients beyond it will be refused at accept",
			"limit", rl.Cur, "maxclients", maxClients)
	}
}
