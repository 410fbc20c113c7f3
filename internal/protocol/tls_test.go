package protocol

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate with the given common name
// and its key to dir.
func selfSigned(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeAtomic(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
	writeAtomic(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	return certFile, keyFile
}

func writeAtomic(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func cn(t *testing.T, r *CertReloader) string {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.Subject.CommonName
}

func TestCertReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "one")
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	cfg, r, err := NewTLSConfig(TLSOptions{CertFile: certFile, KeyFile: keyFile, AuthClients: "no", Logger: log, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS12 || cfg.ClientAuth != tls.NoClientCert {
		t.Fatalf("config: min %x auth %v", cfg.MinVersion, cfg.ClientAuth)
	}
	if got := cn(t, r); got != "one" {
		t.Fatal(got)
	}
	selfSigned(t, dir, "two")
	clock.Add(500 * time.Millisecond)
	if got := cn(t, r); got != "one" {
		t.Fatalf("files checked again within a second: %s", got)
	}
	clock.Add(600 * time.Millisecond)
	if got := cn(t, r); got != "two" || r.Reloads() != 1 {
		t.Fatalf("after a second: %s, %d reloads", got, r.Reloads())
	}
	// A certificate whose key does not match yet is not loaded, the
	// previous one stays, and the failure is logged once.
	other := t.TempDir()
	c3, _ := selfSigned(t, other, "three")
	b, _ := os.ReadFile(c3)
	writeAtomic(t, certFile, b)
	for i := 0; i < 3; i++ {
		clock.Add(time.Second)
		if got := cn(t, r); got != "two" {
			t.Fatalf("mismatched pair loaded: %s", got)
		}
	}
	mu.Lock()
	if n := strings.Count(logs.String(), "cannot reload TLS certificate"); n != 1 {
		t.Errorf("failure logged %d times:\n%s", n, logs.String())
	}
	mu.Unlock()
	// Unchanged files are not reloaded.
	selfSigned(t, dir, "four")
	clock.Add(time.Second)
	cn(t, r)
	clock.Add(time.Second)
	if got := cn(t, r); got != "four" || r.Reloads() != 2 {
		t.Fatalf("%s, %d reloads", got, r.Reloads())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "x")
	for _, o := range []TLSOptions{
		{CertFile: filepath.Join(dir, "none"), KeyFile: keyFile, AuthClients: "no"},
		{CertFile: certFile, KeyFile: certFile, AuthClients: "no"},
		{CertFile: certFile, KeyFile: keyFile, AuthClients: "yes"},
		{CertFile: certFile, KeyFile: keyFile, AuthClients: "yes", CAFile: keyFile},
		{CertFile: certFile, KeyFile: keyFile, AuthClients: "maybe"},
	} {
		if _, _, err := NewTLSConfig(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	if cfg, _, err := NewTLSConfig(TLSOptions{CertFile: certFile, KeyFile: keyFile, AuthClients: "optional", CAFile: certFile}); err != nil || cfg.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Errorf("optional: %v", err)
	}
}

// deadlineConn records write deadlines.
type deadlineConn struct {
	net.Conn
	sets int
}

func (d *deadlineConn) SetWriteDeadline(time.Time) error { d.sets++; return nil }
func (d *deadlineConn) Write(b []byte) (int, error)      { return len(b), nil }

// TestWriteDeadlineAmortised: with client-output-timeout on, flushing does
// not move the write deadline on every reply.
func TestWriteDeadlineAmortised(t *testing.T) {
	t.Parallel()
	s, c := newTestServer(t, Options{OutputTimeout: time.Minute})
	dc := &deadlineConn{Conn: c.nc}
	c.nc = dc
	for i := 0; i < 10000; i++ {
		c.out = append(c.out, "+OK\r\n"...)
		if !c.flush() {
			t.Fatal("flush failed")
		}
	}
	if dc.sets > 2 {
		t.Errorf("%d SetWriteDeadline calls for 10000 quick flushes", dc.sets)
	}
	// Limits switched off: the deadline is cleared once.
	s.SetOutputLimit(OutputLimit{}, 0)
	before := dc.sets
	for i := 0; i < 100; i++ {
		c.out = append(c.out, "+OK\r\n"...)
		c.flush()
	}
	if dc.sets != before+1 {
		t.Errorf("%d calls after limits were switched off", dc.sets-before)
	}
	// Over the hard limit the client is closed without writing.
	s.SetOutputLimit(OutputLimit{Hard: 10}, 0)
	c.out = append(c.out, "$11\r\nhello world\r\n"...)
	if c.flush() || !c.killed.Load() || s.SecurityStats().OutputLimitDisconnections != 1 {
		t.Fatal("hard limit not enforced")
	}
}
