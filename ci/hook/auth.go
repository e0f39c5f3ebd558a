package hook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"

	"github.com/herald-ci/herald/ci"
)

// signatureHeaders carry an HMAC-SHA256 of the body with the secret, hex, optionally
// "sha256="-prefixed: GitHub's name and the generic one many tools use.
var signatureHeaders = []string{"X-Hub-Signature-256", "X-Signature-256"}

// Authenticate checks that a request carries the hook's secret, in any of the ways tools can
// send one: Authorization: Bearer <secret>, an HMAC-SHA256 of the body in
// X-Hub-Signature-256 or X-Signature-256, or ?token=<secret> for tools that can set only a
// URL. Comparisons take constant time. The error wraps ci.ErrBadSignature and its reason
// never holds the secret or what was sent.
func (h *Hook) Authenticate(header http.Header, query url.Values, body []byte) error {
	secret := h.cfg.Secret
	if auth := header.Get("Authorization"); auth != "" {
		scheme, tok, _ := strings.Cut(auth, " ")
		if strings.EqualFold(scheme, "Bearer") && sameSecret(strings.TrimSpace(tok), secret) {
			return nil
		}
		return ci.BadSignature("the Authorization header does not carry the hook's secret")
	}
	for _, name := range signatureHeaders {
		sig := header.Get(name)
		if sig == "" {
			continue
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		want := hex.EncodeToString(m.Sum(nil))
		got := strings.ToLower(strings.TrimPrefix(strings.TrimSpace(sig), "sha256="))
		if hmac.Equal([]byte(got), []byte(want)) {
			return nil
		}
		return ci.BadSignature(name + " is not the HMAC-SHA256 of the body with the hook's secret")
	}
	if tok := query.Get("token"); tok != "" {
		if sameSecret(tok, secret) {
			return nil
		}
		return ci.BadSignature("token is not the hook's secret")
	}
	return ci.BadSignature("no Authorization: Bearer, X-Hub-Signature-256, X-Signature-256 or ?token=")
}

// sameSecret compares in constant time, lengths included (hashes of equal length).
func sameSecret(got, want string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1 && want != ""
}
