package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// genCertCommand is `herald gen-cert --host NAME [--out DIR] [--days N]`: the seed's quick
// path for a webhook without a CA, done by herald. It writes DIR/herald.crt and
// DIR/herald.key, a self-signed RSA 2048 pair (what Telegram's self-signed guide makes with
// openssl) whose common name and subject alternative name are the host Telegram posts to.
// herald uploads the certificate with setWebhook by itself when http.tls names the pair. The
// key is written 0600 and never printed; existing files are not overwritten.
func genCertCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen-cert", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	host := fs.String("host", "", "the host name or IP address of telegram.webhook.url")
	out := fs.String("out", ".", "the directory to write herald.crt and herald.key to")
	days := fs.Int("days", 365, "how many days the certificate is valid")
	fail := func(msg string) int {
		fmt.Fprintf(stderr, "herald gen-cert: %s\nUsage: herald gen-cert --host NAME [--out DIR] [--days N]\n", msg)
		return 2
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: herald gen-cert --host NAME [--out DIR] [--days N]")
			return 0
		}
		return fail(err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return fail(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case *host == "":
		return fail("--host is required: the host name or IP address in telegram.webhook.url")
	case *days < 1:
		return fail("--days must be 1 or more")
	}
	certPath, keyPath := filepath.Join(*out, "herald.crt"), filepath.Join(*out, "herald.key")
	certPEM, keyPEM, notAfter, err := selfSignedPair(*host, time.Now(), *days)
	if err != nil {
		fmt.Fprintln(stderr, "herald gen-cert:", err)
		return 1
	}
	if err := writeNew(keyPath, keyPEM, 0o600); err != nil {
		fmt.Fprintln(stderr, "herald gen-cert:", err)
		return 1
	}
	if err := writeNew(certPath, certPEM, 0o644); err != nil {
		_ = os.Remove(keyPath)
		fmt.Fprintln(stderr, "herald gen-cert:", err)
		return 1
	}
	fmt.Fprintf(stdout, `wrote %s (self-signed for %s, valid until %s) and %s (the private key, mode 0600)
in herald's config:
  http:
    tls:
      cert_file: %s
      key_file: %s
herald uploads the certificate with setWebhook by itself (it is self-signed).
`, certPath, *host, notAfter.UTC().Format(time.DateOnly), keyPath, certPath, keyPath)
	return 0
}

// selfSignedPair makes the certificate and key, PEM-encoded.
func selfSignedPair(host string, now time.Time, days int) (certPEM, keyPEM []byte, notAfter time.Time, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("gen-cert: key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("gen-cert: serial: %w", err)
	}
	notAfter = now.Add(time.Duration(days) * 24 * time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: host, Organization: []string{"herald"}},
		NotBefore:             now.Add(-time.Hour), // a clock a little behind still accepts it
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // it is its own root, as openssl req -x509 makes it
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("gen-cert: certificate: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("gen-cert: key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), notAfter, nil
}

// writeNew writes a file that must not exist yet: a pair in use is not replaced by mistake.
func writeNew(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists already; remove it or choose another --out", path)
		}
		return fmt.Errorf("gen-cert: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("gen-cert: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("gen-cert: write %s: %w", path, err)
	}
	return nil
}
