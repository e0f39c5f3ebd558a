package buildbottest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
)

// BuilderOnChange is the builder the master's change scheduler "on-change" builds: changes
// that arrive within a second of each other become one build of it.
const BuilderOnChange = BuilderToggle

// Change is a change posted to the master's base change hook, the way a post-commit hook
// reports a commit.
type Change struct {
	Author     string
	Revision   string
	Branch     string // default "main"
	Comments   string
	Repository string // default "https://git.example.invalid/app.git"
	Revlink    string // a link to the revision, may be empty
}

// PostChange reports c to the master (POST /change_hook/base). The scheduler "on-change"
// then builds BuilderOnChange.
func (m *Master) PostChange(c Change) {
	m.t.Helper()
	if c.Branch == "" {
		c.Branch = "main"
	}
	if c.Repository == "" {
		c.Repository = "https://git.example.invalid/app.git"
	}
	form := url.Values{
		"author":     {c.Author},
		"revision":   {c.Revision},
		"branch":     {c.Branch},
		"comments":   {c.Comments},
		"repository": {c.Repository},
		"project":    {"app"},
		"revlink":    {c.Revlink},
		"files":      {`["README"]`},
	}
	resp, err := m.client.Post(m.URL()+"change_hook/base", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		m.t.Fatalf("buildbottest: post change: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("buildbottest: post change: %s: %s", resp.Status, body)
	}
}

// ChangeCount is how many changes the master has.
func (m *Master) ChangeCount() int {
	m.t.Helper()
	var r struct {
		Changes []struct {
			ID int `json:"changeid"`
		} `json:"changes"`
	}
	if err := m.get("changes", &r); err != nil {
		m.t.Fatalf("buildbottest: changes: %v", err)
	}
	return len(r.Changes)
}
