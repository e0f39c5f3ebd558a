package main

import (
	"crypto/tls"
	stdlog "log"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"
)

// certReloader holds the pair http.listen serves. TLS handshakes read it through
// GetCertificate, so a reload (SIGHUP) swaps it for new connections without a restart and
// without dropping those open. A pair that does not load keeps the one in force.
type certReloader struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]

	mu      sync.Mutex
	changed chan struct{} // closed and replaced at every swap
}

// newCertReloader loads the pair once; herald does not start without one that loads.
func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, changed: make(chan struct{})}
	pair, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cur.Store(pair)
	return r, nil
}

// Reload reads the files again. On an error the pair in force stays and the error says why.
func (r *certReloader) Reload() error {
	pair, err := loadPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cur.Store(pair)
	r.mu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	return nil
}

// Current is the pair in force.
func (r *certReloader) Current() *tls.Certificate { return r.cur.Load() }

// Changed is closed at the next successful Reload.
func (r *certReloader) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// TLSConfig serves the pair in force. TLS 1.2 is the oldest Telegram and current clients need.
func (r *certReloader) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return r.cur.Load(), nil },
	}
}

// tlsConfig is what http.listen serves with: nil (plain HTTP) without http.tls.
func (a *App) tlsConfig() *tls.Config {
	if a.certs == nil {
		return nil
	}
	return a.certs.TLSConfig()
}

// loadTLS reads http.tls at start.
func (a *App) loadTLS() error {
	t := a.Config.HTTP.TLS
	if t.CertFile == "" {
		return nil
	}
	r, err := newCertReloader(t.CertFile, t.KeyFile)
	if err != nil {
		return err
	}
	a.certs = r
	return nil
}

// reloadTLS is SIGHUP's part for http.tls: the same files, read again (a renewed
// certificate is written over the old one).
func (a *App) reloadTLS(log zerolog.Logger) {
	if a.certs == nil {
		return
	}
	if err := a.certs.Reload(); err != nil {
		log.Error().Str("problem", err.Error()).Msg("SIGHUP: the new TLS certificate or key does not load; keeping the pair in force")
		return
	}
	leaf := a.certs.Current().Leaf
	log.Info().Str("subject", leaf.Subject.CommonName).Time("not_after", leaf.NotAfter).
		Msg("SIGHUP: TLS certificate reloaded")
}

// httpErrorLog puts what net/http logs (a failed TLS handshake, a panic in a handler) into
// herald's log as JSON lines like every other. A failed handshake is at debug: on a public
// address scanners and plain-HTTP clients make one every few seconds.
func httpErrorLog(log zerolog.Logger) *stdlog.Logger {
	return stdlog.New(httpErrorWriter{log.With().Str("part", "http server").Logger()}, "", 0)
}

type httpErrorWriter struct{ log zerolog.Logger }

func (w httpErrorWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	ev := w.log.Warn()
	if strings.Contains(msg, "TLS handshake error") {
		ev = w.log.Debug()
	}
	ev.Msg(msg)
	return len(p), nil
}
