package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/cachesrv/cachesrv/internal/config"
	"github.com/cachesrv/cachesrv/internal/protocol"
)

// setupSecurity applies rename-command, loads the aclfile and builds the
// TLS configuration. It runs once, before the server serves.
func (a *App) setupSecurity(cfg *config.Config) error {
	if err := a.Server.RenameCommands(cfg.RenameCommands); err != nil {
		return err
	}
	if cfg.ACLFile != "" {
		if err := a.Server.LoadACLFile(cfg.ACLFile, nil); err != nil {
			return fmt.Errorf("aclfile: %w", err)
		}
	}
	if cfg.TLSPort != 0 || (cfg.MetricsTLS && cfg.MetricsAddr != "") {
		tc, certs, err := protocol.NewTLSConfig(protocol.TLSOptions{
			CertFile:    cfg.TLSCertFile,
			KeyFile:     cfg.TLSKeyFile,
			CAFile:      cfg.TLSCACertFile,
			AuthClients: cfg.TLSAuthClients,
			Logger:      a.Log,
		})
		if err != nil {
			return fmt.Errorf("tls: %w", err)
		}
		a.TLS, a.Certs = tc, certs
	}
	return nil
}

// auditLogger is the audit log's logger (audit-log yes), or nil.
func auditLogger(cfg *config.Config, log *slog.Logger) *slog.Logger {
	if !cfg.AuditLog {
		return nil
	}
	return log
}

func outputLimit(cfg *config.Config) protocol.OutputLimit {
	l := cfg.OutputBufferLimitFor("normal")
	return protocol.OutputLimit{Hard: l.Hard, Soft: l.Soft, SoftSeconds: l.SoftSeconds}
}

// pubsubLimit is client-output-buffer-limit's pubsub class; when it is not
// configured, Redis's default (32mb 8mb 60) applies.
func pubsubLimit(cfg *config.Config) protocol.OutputLimit {
	if !strings.Contains(strings.ToLower(cfg.ClientOutputBufferLimit), "pubsub") {
		return protocol.OutputLimit{Hard: 32 << 20, Soft: 8 << 20, SoftSeconds: 60}
	}
	l := cfg.OutputBufferLimitFor("pubsub")
	return protocol.OutputLimit{Hard: l.Hard, Soft: l.Soft, SoftSeconds: l.SoftSeconds}
}

// ErrExposed is returned by CheckExposure for a server that would accept
// clients from other hosts without authentication.
var ErrExposed = errors.New("refusing to accept clients from other hosts without authentication")

// CheckExposure is protected mode's start-up check. authRequired says
// whether clients must authenticate (the default user is off or has a
// password; see protocol.Server.AuthRequired). A plain-text listener on a
// non-loopback address of a server that does not require authentication
// is refused unless protected-mode is no. TLS listeners that require
// client certificates (tls-auth-clients yes) authenticate by certificate
// and pass. The result also says whether every listener is on loopback,
// for the start-up log.
func CheckExposure(cfg *config.Config, authRequired bool) (loopbackOnly bool, err error) {
	var exposed []string
	loopbackOnly = true
	check := func(certAuth bool) {
		for _, b := range cfg.Bind {
			if isLoopback(b) {
				continue
			}
			loopbackOnly = false
			if !authRequired && !certAuth && !slices.Contains(exposed, b) {
				exposed = append(exposed, b)
			}
		}
	}
	if cfg.Port != 0 {
		check(false)
	}
	if cfg.TLSPort != 0 {
		check(cfg.TLSAuthClients == "yes")
	}
	if len(exposed) == 0 || !cfg.ProtectedMode {
		return loopbackOnly, nil
	}
	return loopbackOnly, fmt.Errorf("%w: bind %s is not a loopback address, and no password is set for the default user. "+
		"Set requirepass (or an aclfile whose default user has a password or is off), require client certificates on the TLS port "+
		"(tls-auth-clients yes with port 0), bind 127.0.0.1 only, or set protected-mode no explicitly if the network is trusted",
		ErrExposed, strings.Join(exposed, " "))
}

// isLoopback reports whether a bind address only reaches this host.
func isLoopback(bind string) bool {
	if bind == "*" || bind == "::*" {
		return false
	}
	ip, err := netip.ParseAddr(bind)
	return err == nil && ip.IsLoopback()
}
