package hook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/herald-ci/herald/ci"
)

func sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

func TestAuthenticate(t *testing.T) {
	const secret = "s3cret-s3cret"
	body := []byte(`{"a":1}`)
	h := compile(t, Config{Secret: secret, Template: "x"})
	tests := []struct {
		name   string
		header map[string]string
		query  string
		ok     bool
	}{
		{"bearer", map[string]string{"Authorization": "Bearer " + secret}, "", true},
		{"bearer any case", map[string]string{"Authorization": "bearer " + secret}, "", true},
		{"wrong bearer", map[string]string{"Authorization": "Bearer nope"}, "", false},
		{"basic is not it", map[string]string{"Authorization": "Basic " + secret}, "", false},
		{"hub signature", map[string]string{"X-Hub-Signature-256": "sha256=" + sign(secret, body)}, "", true},
		{"signature without prefix", map[string]string{"X-Signature-256": sign(secret, body)}, "", true},
		{"signature of another body", map[string]string{"X-Signature-256": sign(secret, []byte("{}"))}, "", false},
		{"signature with another secret", map[string]string{"X-Hub-Signature-256": "sha256=" + sign("other", body)}, "", false},
		{"token", nil, "token=" + secret, true},
		{"wrong token", nil, "token=" + secret + "x", false},
		{"wrong bearer is not saved by a token", map[string]string{"Authorization": "Bearer nope"}, "token=" + secret, false},
		{"nothing", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hd := http.Header{}
			for k, v := range tt.header {
				hd.Set(k, v)
			}
			q, _ := url.ParseQuery(tt.query)
			err := h.Authenticate(hd, q, body)
			if tt.ok != (err == nil) {
				t.Fatalf("Authenticate = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ci.ErrBadSignature) {
					t.Errorf("err = %v, want ErrBadSignature", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error shows the secret: %v", err)
				}
			}
		})
	}
}
