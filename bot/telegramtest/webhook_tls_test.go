package telegramtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"mime/multipart"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// selfSigned is a self-signed pair for host (a DNS name or an IP), as herald gen-cert writes.
func selfSigned(t *testing.T, host string) (certPEM []byte, pair tls.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err = tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	return certPEM, pair
}

// tlsHook serves rec over HTTPS with pair.
func tlsHook(t *testing.T, rec *hookRecorder, pair tls.Certificate) *httptest.Server {
	t.Helper()
	hs := httptest.NewUnstartedServer(rec)
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return hs
}

// setWebhookUpload calls setWebhook the way go-telegram/bot does with a certificate: a
// multipart body whose "certificate" part is a file.
func setWebhookUpload(t *testing.T, s *Server, fields map[string]string, cert []byte) apiReply {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := mw.WriteField(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if cert != nil {
		fw, err := mw.CreateFormFile("certificate", "herald.crt")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fw.Write(cert)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return do(t, testCtx(t), s, "setWebhook", mw.FormDataContentType(), &buf)
}

func webhookInfo(t *testing.T, s *Server) WebhookInfo {
	t.Helper()
	return decodeResult[WebhookInfo](t, callJSON(t, s, "getWebhookInfo", nil))
}

// The uploaded certificate is the one root the deliveries trust: an HTTPS webhook with that
// certificate gets the update; one with another self-signed certificate does not, and
// getWebhookInfo says "SSL error" until the right certificate is uploaded.
func TestWebhookTrustsOnlyTheUploadedCertificate(t *testing.T) {
	s := newTestServer(t, Options{})
	goodPEM, good := selfSigned(t, "127.0.0.1")
	otherPEM, _ := selfSigned(t, "127.0.0.1")
	rec := &hookRecorder{}
	hs := tlsHook(t, rec, good)

	// Uploaded: another certificate. The delivery fails as Telegram's would.
	if r := setWebhookUpload(t, s, map[string]string{"url": hs.URL + "/tg", "secret_token": "abc"}, otherPEM); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	id := s.SendText(group, ann, "over TLS")
	waitFor(t, func() bool { return webhookInfo(t, s).LastErrorMessage != "" })
	info := webhookInfo(t, s)
	if want := "SSL error {error:0A000086:SSL routines::certificate verify failed}"; info.LastErrorMessage != want || !info.HasCustomCertificate || info.PendingUpdateCount != 1 || info.LastErrorDate == 0 {
		t.Fatalf("getWebhookInfo with the wrong certificate = %+v; want %q, a custom certificate, 1 pending", info, want)
	}
	if n := len(rec.delivered()); n != 0 {
		t.Fatalf("%d updates delivered to a server whose certificate was not uploaded", n)
	}

	// No certificate: the system's roots do not know a self-signed one either.
	if r := setWebhookUpload(t, s, map[string]string{"url": hs.URL + "/tg"}, nil); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	waitFor(t, func() bool { return webhookInfo(t, s).LastErrorMessage != "" })
	if info := webhookInfo(t, s); info.HasCustomCertificate || !strings.HasPrefix(info.LastErrorMessage, "SSL error") {
		t.Fatalf("getWebhookInfo without a certificate = %+v; want an SSL error and no custom certificate", info)
	}

	// The right one: delivered, and the error of the old registration is gone.
	if r := setWebhookUpload(t, s, map[string]string{"url": hs.URL + "/tg"}, goodPEM); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	waitFor(t, func() bool { return len(rec.delivered()) == 1 })
	if got := rec.delivered()[0]; got != id {
		t.Fatalf("delivered %d, want %d", got, id)
	}
	waitFor(t, func() bool { return s.Pending() == 0 })
	if info := webhookInfo(t, s); !info.HasCustomCertificate || info.LastErrorMessage != "" || info.MaxConnections != 40 {
		t.Fatalf("getWebhookInfo after a delivery = %+v", info)
	}
	if !bytes.Equal(s.WebhookCertificate(), goodPEM) {
		t.Fatalf("the fake did not keep the uploaded certificate")
	}
}

// A certificate for another host fails the same way a wrong one does: Telegram checks the
// name too.
func TestWebhookCertificateForAnotherHost(t *testing.T) {
	s := newTestServer(t, Options{})
	pemFor, pair := selfSigned(t, "herald.example.com")
	rec := &hookRecorder{}
	hs := tlsHook(t, rec, pair)
	if r := setWebhookUpload(t, s, map[string]string{"url": hs.URL}, pemFor); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	s.SendText(group, ann, "x")
	waitFor(t, func() bool { return webhookInfo(t, s).LastErrorMessage != "" })
	if got := webhookInfo(t, s).LastErrorMessage; !strings.HasPrefix(got, "SSL error") {
		t.Fatalf("last_error_message = %q; want an SSL error", got)
	}
}

// ip_address is dialled in place of the URL's host, whose name the certificate must still
// carry; max_connections, allowed_updates and ip_address come back in getWebhookInfo.
func TestWebhookIPAddressAndSettings(t *testing.T) {
	s := newTestServer(t, Options{})
	pemFor, pair := selfSigned(t, "herald.example.com")
	rec := &hookRecorder{}
	hs := tlsHook(t, rec, pair)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(hs.URL, "https://"))
	url := "https://herald.example.com:" + port + "/tg" // resolves nowhere: only ip_address gets there
	r := setWebhookUpload(t, s, map[string]string{"url": url, "ip_address": "127.0.0.1", "max_connections": "7",
		"allowed_updates": `["message","callback_query"]`}, pemFor)
	if !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	id := s.SendText(group, ann, "via the fixed address")
	waitFor(t, func() bool { return len(rec.delivered()) == 1 })
	if rec.delivered()[0] != id {
		t.Fatalf("delivered %v", rec.delivered())
	}
	info := webhookInfo(t, s)
	if info.IPAddress != "127.0.0.1" || info.MaxConnections != 7 || strings.Join(info.AllowedUpdates, ",") != "message,callback_query" {
		t.Fatalf("getWebhookInfo = %+v", info)
	}
}

func TestSetWebhookRefuses(t *testing.T) {
	s := newTestServer(t, Options{})
	for _, tc := range []struct {
		name   string
		fields map[string]string
		cert   []byte
		want   string
	}{
		{"max_connections 0 is the default, 101 too many", map[string]string{"url": "https://x.example", "max_connections": "101"}, nil,
			"Bad Request: bad webhook: max_connections must be between 1 and 100"},
		{"negative", map[string]string{"url": "https://x.example", "max_connections": "-1"}, nil,
			"Bad Request: bad webhook: max_connections must be between 1 and 100"},
		{"ip", map[string]string{"url": "https://x.example", "ip_address": "not-an-ip"}, nil,
			"Bad Request: bad webhook: invalid IP address specified"},
		{"not a certificate", map[string]string{"url": "https://x.example"}, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
			"Bad Request: bad webhook: failed to set custom certificate file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := setWebhookUpload(t, s, tc.fields, tc.cert)
			if r.OK || r.Description != tc.want {
				t.Fatalf("setWebhook = ok %v %q; want %q", r.OK, r.Description, tc.want)
			}
		})
	}
	if u, _ := s.Webhook(); u != "" {
		t.Fatalf("a refused setWebhook set %q", u)
	}
}

// drop_pending_updates drops what was queued before the webhook was set.
func TestSetWebhookDropsPending(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SendText(group, ann, "old")
	rec := &hookRecorder{}
	_, pair := selfSigned(t, "127.0.0.1")
	hs := tlsHook(t, rec, pair)
	if r := setWebhookUpload(t, s, map[string]string{"url": hs.URL, "drop_pending_updates": "true"}, nil); !r.OK {
		t.Fatalf("setWebhook: %q", r.Description)
	}
	if n := s.Pending(); n != 0 {
		t.Fatalf("pending = %d after drop_pending_updates", n)
	}
}
