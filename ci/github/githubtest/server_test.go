package githubtest

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestAuth(t *testing.T) {
	f := newFixture(t, Options{})
	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"none", "", http.StatusUnauthorized},
		{"wrong bearer", "Bearer nope", http.StatusUnauthorized},
		{"basic", "Basic " + testToken, http.StatusUnauthorized},
		{"bearer", "Bearer " + testToken, http.StatusOK},
		{"token scheme", "token " + testToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr []string
			if tc.header != "" {
				hdr = []string{"Authorization", tc.header}
			}
			status, _, body := f.do(http.MethodGet, "/repos/acme/widgets", "", "", hdr...)
			if tc.want == http.StatusUnauthorized {
				wantError(t, status, body, http.StatusUnauthorized, "Bad credentials")
				return
			}
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, body)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	f := newFixture(t, Options{})
	for _, p := range []string{
		"/repos/acme/nothing",
		"/repos/acme/widgets/actions/runs/999",
		"/repos/acme/widgets/actions/workflows/nope.yml",
		"/repos/acme/widgets/actions/artifacts",
		"/no/such/route",
	} {
		status, _, body := f.do(http.MethodGet, p, testToken, "")
		wantError(t, status, body, http.StatusNotFound, "Not Found")
	}
	status, _, body := f.do(http.MethodPost, "/repos/acme/widgets", testToken, "{}")
	wantError(t, status, body, http.StatusNotFound, "Not Found")
}

func TestEnterprisePrefix(t *testing.T) {
	f := newFixture(t, Options{Prefix: "/api/v3"})
	if !strings.HasSuffix(f.srv.URL(), "/api/v3") {
		t.Fatalf("URL %q lacks the prefix", f.srv.URL())
	}
	var repo struct {
		FullName string `json:"full_name"`
		URL      string `json:"url"`
	}
	f.getJSON("/repos/acme/widgets", &repo)
	if repo.FullName != "acme/widgets" || repo.URL != f.srv.URL()+"/repos/acme/widgets" {
		t.Errorf("repo %+v", repo)
	}
	// The same path without the prefix is not the API.
	root := strings.TrimSuffix(f.srv.URL(), "/api/v3")
	req, _ := http.NewRequest(http.MethodGet, root+"/repos/acme/widgets", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("without prefix: status %d, want 404", resp.StatusCode)
	}
	// go-github's Enterprise client finds it.
	rp, _, err := f.client.Repositories.Get(ctxT(t), "acme", "widgets")
	if err != nil {
		t.Fatal(err)
	}
	if rp.GetDefaultBranch() != "main" || rp.GetFullName() != "acme/widgets" {
		t.Errorf("repo %+v", rp)
	}
}

func TestLogHasNoToken(t *testing.T) {
	var log bytes.Buffer
	f := newFixture(t, Options{Log: &syncWriter{w: &log}, WebhookSecret: "hook-secret-xyz"})
	f.do(http.MethodGet, "/repos/acme/widgets", testToken, "")
	f.do(http.MethodGet, "/repos/acme/widgets", "wrong-token-abc", "")
	f.srv.QueueRun("acme/widgets", f.ci, RunOptions{})
	f.srv.Close()
	out := log.String()
	if !strings.Contains(out, "GET /repos/acme/widgets status=200") || !strings.Contains(out, "status=401") {
		t.Errorf("log lacks the requests:\n%s", out)
	}
	for _, secret := range []string{testToken, "wrong-token-abc", "hook-secret-xyz"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
}
