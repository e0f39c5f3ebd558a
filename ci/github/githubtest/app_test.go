package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// appJWT signs claims as a GitHub App does (RS256).
func appJWT(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(data)
	}
	signing := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestAppInstallationToken(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, Options{App: &App{AppID: 1234, InstallationID: 5678, PublicKey: &key.PublicKey}})
	now := f.clock().Unix()
	good := map[string]any{"iat": now - 60, "exp": now + 540, "iss": "1234"}
	path := "/app/installations/5678/access_tokens"

	for _, tc := range []struct {
		name   string
		token  string
		path   string
		status int
		msg    string
	}{
		{"not a JWT", "abc", path, http.StatusUnauthorized, "A JSON web token could not be decoded"},
		{"other key", appJWT(t, other, good), path, http.StatusUnauthorized, "A JSON web token could not be decoded"},
		{"other app", appJWT(t, key, map[string]any{"iat": now - 60, "exp": now + 540, "iss": 99}), path, http.StatusUnauthorized, "A JSON web token could not be decoded"},
		{"expired", appJWT(t, key, map[string]any{"iat": now - 700, "exp": now - 100, "iss": 1234}), path, http.StatusUnauthorized,
			"'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"},
		{"too long", appJWT(t, key, map[string]any{"iat": now, "exp": now + 3600, "iss": 1234}), path, http.StatusUnauthorized,
			"'Expiration time' claim ('exp') is too far in the future"},
		{"issued later", appJWT(t, key, map[string]any{"iat": now + 300, "exp": now + 600, "iss": 1234}), path, http.StatusUnauthorized,
			"'Issued at' claim ('iat') must be an Integer representing a time in the past"},
		{"other installation", appJWT(t, key, good), "/app/installations/1/access_tokens", http.StatusNotFound, "Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := f.do(http.MethodPost, tc.path, tc.token, "")
			wantError(t, status, body, tc.status, tc.msg)
		})
	}

	status, _, body := f.do(http.MethodPost, path, appJWT(t, key, good), "")
	if status != http.StatusCreated {
		t.Fatalf("token: %d %s", status, body)
	}
	var tok struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" {
		t.Fatalf("token body %s: %v", body, err)
	}
	if tok.ExpiresAt != f.clock().Add(time.Hour).Format(time.RFC3339) {
		t.Errorf("expires_at %q", tok.ExpiresAt)
	}
	// The JWT itself is not an API credential; the installation token is.
	if status, _, _ := f.do(http.MethodGet, "/repos/acme/widgets", appJWT(t, key, good), ""); status != http.StatusUnauthorized {
		t.Errorf("JWT on the API: %d", status)
	}
	if status, _, body := f.do(http.MethodGet, "/repos/acme/widgets", tok.Token, ""); status != http.StatusOK {
		t.Errorf("installation token: %d %s", status, body)
	}
	// A dispatch with it acts as the App's bot.
	status, _, body = f.do(http.MethodPost, "/repos/acme/widgets/actions/workflows/ci.yml/dispatches", tok.Token, `{"ref":"main","inputs":{"note":"n"}}`)
	if status != http.StatusNoContent {
		t.Fatalf("dispatch: %d %s", status, body)
	}
	var run runView
	if err := json.Unmarshal(f.srv.RunJSON(f.srv.Dispatches()[0].RunID), &run); err != nil || run.Actor.Login != "herald[bot]" {
		t.Errorf("actor %q: %v", run.Actor.Login, err)
	}
	f.tick(time.Hour)
	status, _, body = f.do(http.MethodGet, "/repos/acme/widgets", tok.Token, "")
	wantError(t, status, body, http.StatusUnauthorized, "Bad credentials")
}
