package protocol

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// TLSOptions configure TLS for the RESP listener on tls-port (and the
// metrics endpoint with metrics-tls).
type TLSOptions struct {
	CertFile, KeyFile string // PEM certificate chain and private key
	CAFile            string // PEM CAs for client certificates
	// AuthClients is tls-auth-clients: "yes" requires a client certificate
	// signed by CAFile, "optional" verifies one when sent, "no" ignores them.
	AuthClients string
	Logger      *slog.Logger
	// Now is the clock of the reload check; nil means time.Now.
	Now func() time.Time
}

// reloadEvery is how often handshakes look at the certificate files.
const reloadEvery = time.Second

// CertReloader serves the key pair from CertFile and KeyFile and loads it
// again, without a restart, when either file changes (a new inode,
// modification time or size). Handshakes check the files at most once per
// reloadEvery; a pair that fails to load is logged and the previous one
// kept. It is safe for concurrent use.
type CertReloader struct {
	o       TLSOptions
	cert    atomic.Pointer[tls.Certificate]
	checked atomic.Int64 // unix ns of the last check
	reloads atomic.Int64

	mu      sync.Mutex // held while checking the files
	stamp   [2]os.FileInfo
	badSeen [2]os.FileInfo // the files of the last failed load, logged once
}

// NewTLSConfig builds a server tls.Config (TLS 1.2 or later) whose
// certificate is reloaded when its files change.
func NewTLSConfig(o TLSOptions) (*tls.Config, *CertReloader, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &CertReloader{o: o}
	if err := r.load(); err != nil {
		return nil, nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
	}
	switch o.AuthClients {
	case "no":
		cfg.ClientAuth = tls.NoClientCert
	case "optional":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	case "yes", "":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return nil, nil, fmt.Errorf("tls-auth-clients: unknown value %q", o.AuthClients)
	}
	if cfg.ClientAuth != tls.NoClientCert {
		if o.CAFile == "" {
			return nil, nil, errors.New("tls-ca-cert-file is required to verify client certificates")
		}
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("read tls-ca-cert-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("tls-ca-cert-file %s: no PEM certificates found", o.CAFile)
		}
		cfg.ClientCAs = pool
	}
	return cfg, r, nil
}

// load reads the key pair unconditionally.
func (r *CertReloader) load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := r.stat()
	if err != nil {
		return err
	}
	return r.loadLocked(st)
}

func (r *CertReloader) stat() ([2]os.FileInfo, error) {
	var st [2]os.FileInfo
	for i, p := range []string{r.o.CertFile, r.o.KeyFile} {
		fi, err := os.Stat(p)
		if err != nil {
			return st, fmt.Errorf("load TLS key pair: %w", err)
		}
		st[i] = fi
	}
	return st, nil
}

func (r *CertReloader) loadLocked(st [2]os.FileInfo) error {
	cert, err := tls.LoadX509KeyPair(r.o.CertFile, r.o.KeyFile)
	if err != nil {
		return fmt.Errorf("load TLS key pair %s, %s: %w", r.o.CertFile, r.o.KeyFile, err)
	}
	r.cert.Store(&cert)
	r.stamp = st
	r.checked.Store(r.o.Now().UnixNano())
	return nil
}

// GetCertificate is the tls.Config callback.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := r.o.Now().UnixNano()
	if now-r.checked.Load() >= int64(reloadEvery) && r.mu.TryLock() {
		r.checked.Store(now)
		r.checkLocked()
		r.mu.Unlock()
	}
	return r.cert.Load(), nil
}

// Reload checks the files now and loads them if they changed.
func (r *CertReloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.checkLocked()
}

// Reloads returns how many times a changed key pair was loaded.
func (r *CertReloader) Reloads() int64 { return r.reloads.Load() }

func (r *CertReloader) checkLocked() error {
	st, err := r.stat()
	if err != nil {
		r.o.Logger.Warn("cannot check TLS certificate files; keeping the loaded certificate", "err", err)
		return err
	}
	if same(st[0], r.stamp[0]) && same(st[1], r.stamp[1]) {
		return nil
	}
	if err := r.loadLocked(st); err != nil {
		// A certificate and key replaced one after the other do not match
		// for a moment: try again on the next check, log once per change.
		if !same(st[0], r.badSeen[0]) || !same(st[1], r.badSeen[1]) {
			r.badSeen = st
			r.o.Logger.Warn("cannot reload TLS certificate; keeping the loaded one", "err", err)
		}
		return err
	}
	r.reloads.Add(1)
	attrs := []any{"cert", r.o.CertFile}
	if c := r.cert.Load(); c.Leaf != nil {
		attrs = append(attrs, "subject", c.Leaf.Subject.String(), "not_after", c.Leaf.NotAfter)
	}
	r.o.Logger.Info("TLS certificate reloaded", attrs...)
	return nil
}

func same(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.ModTime().Equal(b.ModTime()) && a.Size() == b.Size()
}
