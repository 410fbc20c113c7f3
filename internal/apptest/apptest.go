// Package apptest runs cachesrv apps for tests, as net/http/httptest runs
// HTTP servers: on listeners the test made (127.0.0.1:0, so no free-port
// race), stopped and waited for when the test ends.
package apptest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/cachesrv/cachesrv/internal/app"
)

// Serve runs a on lns until tb ends. The cleanup stops it and waits (at
// most 15 s), failing tb when Run returns an error or does not return.
func Serve(tb testing.TB, a *app.App, lns ...net.Listener) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, lns, nil) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("server stopped with error: %v", err)
			}
		case <-time.After(15 * time.Second):
			tb.Errorf("server did not stop")
		}
	})
}

// Listen returns a listener on 127.0.0.1:0.
func Listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}
