package githubtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// installationTokenTTL is how long an installation token lives on GitHub.
const installationTokenTTL = time.Hour

const appDocs = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"

// createInstallationToken is POST /app/installations/{id}/access_tokens, authorized
// by the App's RS256 JWT: 201 with a token that then works for an hour.
func (s *Server) createInstallationToken(w http.ResponseWriter, r *http.Request) {
	app := s.opts.App
	if app == nil {
		s.notFound(w, r)
		return
	}
	if err := verifyAppJWT(credential(r), app, s.now()); err != nil {
		s.fail(w, r, http.StatusUnauthorized, err.Error(), docsURL)
		return
	}
	if r.PathValue("installation") != strconv.FormatInt(app.InstallationID, 10) {
		s.notFound(w, r)
		return
	}
	var b [20]byte
	_, _ = rand.Read(b[:])
	token := "ghs_" + hex.EncodeToString(b[:])
	exp := s.now().Add(installationTokenTTL)
	s.mu.Lock()
	s.appTokens[token] = exp
	var repos []repoJSON
	for _, rp := range s.repos {
		repos = append(repos, s.repoJSON(rp))
	}
	s.mu.Unlock()
	s.answer(w, r, http.StatusCreated, map[string]any{
		"token":                token,
		"expires_at":           stamp(exp),
		"permissions":          map[string]string{"actions": "write", "contents": "read", "metadata": "read"},
		"repository_selection": "selected",
		"repositories":         repos,
	})
}

// verifyAppJWT checks an App's JWT as GitHub does: RS256 signed by the App's key, iss
// the App's id, issued no later than a minute from now, expiring in the future and at
// most ten minutes after it was issued. The messages are GitHub's.
func verifyAppJWT(token string, app *App, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("A JSON web token could not be decoded")
	}
	var head struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
		Iss any         `json:"iss"`
	}
	if err := decodeSegment(parts[0], &head); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || head.Alg != "RS256" {
		return errors.New("A JSON web token could not be decoded")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(app.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	if fmt.Sprint(claims.Iss) != strconv.FormatInt(app.AppID, 10) {
		return errors.New("A JSON web token could not be decoded")
	}
	iat, err1 := claims.Iat.Int64()
	exp, err2 := claims.Exp.Int64()
	if err1 != nil || err2 != nil {
		return errors.New("A JSON web token could not be decoded")
	}
	switch {
	case time.Unix(iat, 0).After(now.Add(time.Minute)):
		return errors.New("'Issued at' claim ('iat') must be an Integer representing a time in the past")
	case !time.Unix(exp, 0).After(now):
		return errors.New("'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires")
	case exp-iat > int64((10 * time.Minute).Seconds()):
		return errors.New("'Expiration time' claim ('exp') is too far in the future")
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	return dec.Decode(v)
}
