package cacheaside_test

import (
	"context"
	"net"
	"time"

	"github.com/cachesrv/cachesrv/internal/app"
	"github.com/cachesrv/cachesrv/internal/config"
)

// startServer runs a real cachesrv on 127.0.0.1:0 in this process and
// returns its address and a function that stops it and waits.
func startServer() (addr string, stop func()) {
	cfg := config.Default()
	cfg.MetricsAddr = ""
	cfg.Shards = 8
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	a, err := app.New(cfg, nil, nil)
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, []net.Listener{ln}, nil) }()
	return ln.Addr().String(), func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				panic(err)
			}
		case <-time.After(15 * time.Second):
			panic("server did not stop")
		}
	}
}
