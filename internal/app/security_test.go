package app

import (
	"errors"
	"testing"

	"github.com/cachesrv/cachesrv/internal/config"
)

func TestCheckExposure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		mod          func(c *config.Config)
		authRequired bool
		loopbackOnly bool
		exposed      bool
	}{
		{name: "default: loopback, no password", loopbackOnly: true},
		{name: "loopback v6", mod: func(c *config.Config) { c.Bind = []string{"::1", "127.0.0.1"} }, loopbackOnly: true},
		{name: "all interfaces, no password", mod: func(c *config.Config) { c.Bind = []string{"*"} }, exposed: true},
		{name: "one public address among loopback", mod: func(c *config.Config) { c.Bind = []string{"127.0.0.1", "10.1.2.3"} }, exposed: true},
		{name: "ipv6 any", mod: func(c *config.Config) { c.Bind = []string{"::*"} }, exposed: true},
		{name: "password required", mod: func(c *config.Config) { c.Bind = []string{"0.0.0.0"} }, authRequired: true},
		{name: "protected-mode no", mod: func(c *config.Config) { c.Bind = []string{"0.0.0.0"}; c.ProtectedMode = false }},
		{name: "TLS only with client certificates", mod: func(c *config.Config) {
			c.Bind, c.Port, c.TLSPort, c.TLSAuthClients = []string{"0.0.0.0"}, 0, 6380, "yes"
		}},
		{name: "TLS with optional client certificates", mod: func(c *config.Config) {
			c.Bind, c.Port, c.TLSPort, c.TLSAuthClients = []string{"0.0.0.0"}, 0, 6380, "optional"
		}, exposed: true},
		{name: "plain port next to mutual TLS", mod: func(c *config.Config) {
			c.Bind, c.TLSPort, c.TLSAuthClients = []string{"0.0.0.0"}, 6380, "yes"
		}, exposed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			if tc.mod != nil {
				tc.mod(c)
			}
			loop, err := CheckExposure(c, tc.authRequired)
			if got := errors.Is(err, ErrExposed); got != tc.exposed {
				t.Fatalf("exposed = %v (%v), want %v", got, err, tc.exposed)
			}
			if !tc.exposed && err != nil {
				t.Fatal(err)
			}
			wantLoop := tc.loopbackOnly
			if loop != wantLoop {
				t.Errorf("loopbackOnly = %v, want %v", loop, wantLoop)
			}
		})
	}
}

// TestNewSecurityErrors: a broken aclfile, rename-command or TLS setup is
// an error from New, not a server running with weaker security.
func TestNewSecurityErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(c *config.Config)
	}{
		{"missing aclfile", func(c *config.Config) { c.ACLFile = t.TempDir() + "/none.acl" }},
		{"unknown renamed command", func(c *config.Config) { c.RenameCommands = map[string]string{"nosuch": ""} }},
		{"missing certificate", func(c *config.Config) {
			c.TLSPort, c.TLSCertFile, c.TLSKeyFile, c.TLSAuthClients = 6380, "/nonexistent.pem", "/nonexistent.key", "no"
		}},
	} {
		c := config.Default()
		tc.mod(c)
		if a, err := New(c, nil, nil); err == nil {
			_ = a
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}
