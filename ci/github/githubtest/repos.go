package githubtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strings"
)

// repo is one repository the fake hosts.
type repo struct {
	id            int64
	owner, name   string
	defaultBranch string
	branches      []string // default first, then in AddRepo order
	workflows     []*workflow
	runners       []*runner
}

func (rp *repo) full() string { return rp.owner + "/" + rp.name }

// sha is the head commit of a branch: made up, but stable, so a test can predict it.
func (rp *repo) sha(branch string) string {
	sum := sha1.Sum([]byte(rp.full() + "@" + branch))
	return hex.EncodeToString(sum[:])
}

func (rp *repo) hasBranch(b string) bool {
	for _, have := range rp.branches {
		if have == b {
			return true
		}
	}
	return false
}

// AddRepo creates a repository with its default branch and other branches. fullName
// is owner/name; adding one twice panics (a mistake in the test).
func (s *Server) AddRepo(fullName, defaultBranch string, otherBranches ...string) {
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		panic(fmt.Sprintf("githubtest: AddRepo(%q): want owner/name", fullName))
	}
	if defaultBranch == "" {
		defaultBranch = "main"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repoLocked(owner, name) != nil {
		panic(fmt.Sprintf("githubtest: AddRepo(%q): added twice", fullName))
	}
	rp := &repo{id: s.newIDLocked("repo"), owner: owner, name: name, defaultBranch: defaultBranch,
		branches: append([]string{defaultBranch}, otherBranches...)}
	s.repos = append(s.repos, rp)
	s.notifyLocked()
}

// repoLocked finds a repository; GitHub matches owner and name case-insensitively.
func (s *Server) repoLocked(owner, name string) *repo {
	for _, rp := range s.repos {
		if strings.EqualFold(rp.owner, owner) && strings.EqualFold(rp.name, name) {
			return rp
		}
	}
	return nil
}

func (s *Server) mustRepoLocked(fullName string) *repo {
	owner, name, _ := strings.Cut(fullName, "/")
	rp := s.repoLocked(owner, name)
	if rp == nil {
		panic(fmt.Sprintf("githubtest: no repository %q (AddRepo first)", fullName))
	}
	return rp
}

// webBase is where html_url values point; the fake serves no web pages, so they name
// the fake's own host (clients only show them).
func (s *Server) webBase() string {
	return strings.TrimSuffix(s.url, s.opts.Prefix)
}

type userJSON struct {
	Login     string `json:"login"`
	ID        int64  `json:"id"`
	NodeID    string `json:"node_id"`
	AvatarURL string `json:"avatar_url"`
	URL       string `json:"url"`
	HTMLURL   string `json:"html_url"`
	Type      string `json:"type"`
	SiteAdmin bool   `json:"site_admin"`
}

func (s *Server) user(login string) userJSON {
	sum := sha1.Sum([]byte(login))
	id := int64(sum[0])<<16 | int64(sum[1])<<8 | int64(sum[2]) + 1
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return userJSON{
		Login: login, ID: id, NodeID: nodeID("U_", id),
		AvatarURL: s.webBase() + "/avatars/" + login,
		URL:       s.url + "/users/" + login, HTMLURL: s.webBase() + "/" + login,
		Type: typ,
	}
}

func nodeID(prefix string, id int64) string {
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprint(id)))
}

type repoJSON struct {
	ID            int64    `json:"id"`
	NodeID        string   `json:"node_id"`
	Name          string   `json:"name"`
	FullName      string   `json:"full_name"`
	Private       bool     `json:"private"`
	Owner         userJSON `json:"owner"`
	HTMLURL       string   `json:"html_url"`
	Description   *string  `json:"description"`
	Fork          bool     `json:"fork"`
	URL           string   `json:"url"`
	DefaultBranch string   `json:"default_branch"`
	Visibility    string   `json:"visibility"`
	Archived      bool     `json:"archived"`
}

func (s *Server) repoJSON(rp *repo) repoJSON {
	owner := s.user(rp.owner)
	owner.Type = "Organization"
	return repoJSON{
		ID: rp.id, NodeID: nodeID("R_", rp.id), Name: rp.name, FullName: rp.full(),
		Owner: owner, HTMLURL: s.webBase() + "/" + rp.full(), URL: s.url + "/repos/" + rp.full(),
		DefaultBranch: rp.defaultBranch, Visibility: "public",
	}
}

// forkJSON is a repository the fake does not hold (a fork a pull request comes from), as a
// run's head_repository shows it.
func (s *Server) forkJSON(full string) repoJSON {
	owner, name, _ := strings.Cut(full, "/")
	id := int64(len(full))*7919 + 5000000
	return repoJSON{
		ID: id, NodeID: nodeID("R_", id), Name: name, FullName: full, Owner: s.user(owner),
		HTMLURL: s.webBase() + "/" + full, URL: s.url + "/repos/" + full, DefaultBranch: "main", Visibility: "public",
	}
}

// repoFromPath resolves {owner}/{repo} or answers 404.
func (s *Server) repoFromPath(w http.ResponseWriter, r *http.Request) (*repo, bool) {
	s.mu.Lock()
	rp := s.repoLocked(r.PathValue("owner"), r.PathValue("repo"))
	s.mu.Unlock()
	if rp == nil {
		s.notFound(w, r)
		return nil, false
	}
	return rp, true
}

func (s *Server) getRepo(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	v := s.repoJSON(rp)
	s.mu.Unlock()
	s.ok(w, r, v)
}

type branchJSON struct {
	Name   string `json:"name"`
	Commit struct {
		SHA string `json:"sha"`
		URL string `json:"url"`
	} `json:"commit"`
	Protected bool `json:"protected"`
}

func (s *Server) listBranches(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return
	}
	pg, ok := s.page(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	all := make([]branchJSON, 0, len(rp.branches))
	for _, b := range rp.branches {
		var bj branchJSON
		bj.Name = b
		bj.Commit.SHA = rp.sha(b)
		bj.Commit.URL = s.url + "/repos/" + rp.full() + "/commits/" + bj.Commit.SHA
		all = append(all, bj)
	}
	s.mu.Unlock()
	from, to := pg.bounds(len(all))
	pg.link(w, r, len(all))
	s.ok(w, r, all[from:to])
}

type contentJSON struct {
	Type        string `json:"type"`
	Encoding    string `json:"encoding"`
	Size        int    `json:"size"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	Content     string `json:"content"`
	SHA         string `json:"sha"`
	URL         string `json:"url"`
	GitURL      string `json:"git_url"`
	HTMLURL     string `json:"html_url"`
	DownloadURL string `json:"download_url"`
	Links       struct {
		Self string `json:"self"`
		Git  string `json:"git"`
		HTML string `json:"html"`
	} `json:"_links"`
}

// getContents serves the workflow files (the only files the fake's repositories
// hold), base64 in lines of 60 characters as GitHub sends them.
func (s *Server) getContents(w http.ResponseWriter, r *http.Request) {
	rp, ok := s.repoFromPath(w, r)
	if !ok {
		return
	}
	p := strings.Trim(r.PathValue("path"), "/")
	ref := r.URL.Query().Get("ref")
	s.mu.Lock()
	if ref == "" {
		ref = rp.defaultBranch
	}
	ref = strings.TrimPrefix(ref, "refs/heads/")
	known := rp.hasBranch(ref) || s.isSHALocked(rp, ref)
	var (
		wf   *workflow
		file workflowFile
	)
	for _, x := range rp.workflows {
		if x.path == p {
			wf, file = x, x.at(s.branchOfLocked(rp, ref))
		}
	}
	s.mu.Unlock()
	if !known {
		s.fail(w, r, http.StatusNotFound, "No commit found for the ref "+ref, "https://docs.github.com/rest/repos/contents#get-repository-content")
		return
	}
	if wf == nil {
		s.notFound(w, r)
		return
	}
	enc := base64.StdEncoding.EncodeToString([]byte(file.yaml))
	var lines []string
	for len(enc) > 60 {
		lines = append(lines, enc[:60])
		enc = enc[60:]
	}
	lines = append(lines, enc)
	sum := sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(file.yaml), file.yaml)))
	c := contentJSON{
		Type: "file", Encoding: "base64", Size: len(file.yaml), Name: path.Base(p), Path: p,
		Content: strings.Join(lines, "\n") + "\n", SHA: hex.EncodeToString(sum[:]),
	}
	c.URL = s.url + "/repos/" + rp.full() + "/contents/" + p + "?ref=" + ref
	c.GitURL = s.url + "/repos/" + rp.full() + "/git/blobs/" + c.SHA
	c.HTMLURL = s.webBase() + "/" + rp.full() + "/blob/" + ref + "/" + p
	c.DownloadURL = s.webBase() + "/raw/" + rp.full() + "/" + ref + "/" + p
	c.Links.Self, c.Links.Git, c.Links.HTML = c.URL, c.GitURL, c.HTMLURL
	s.ok(w, r, c)
}

// branchOfLocked is the branch a ref names: itself, or the branch whose head is that sha
// ("" when none is).
func (s *Server) branchOfLocked(rp *repo, ref string) string {
	if rp.hasBranch(ref) {
		return ref
	}
	for _, b := range rp.branches {
		if rp.sha(b) == ref {
			return b
		}
	}
	return ""
}

// isSHALocked reports whether ref is the head sha of a branch or of a run.
func (s *Server) isSHALocked(rp *repo, ref string) bool {
	for _, b := range rp.branches {
		if rp.sha(b) == ref {
			return true
		}
	}
	for _, rn := range s.runOrder {
		if rn.repo == rp && rn.sha == ref {
			return true
		}
	}
	return false
}
