package gitlabtest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Delivery is one webhook request the fake made (or dropped).
type Delivery struct {
	Event          string // X-Gitlab-Event: "Pipeline Hook" or "Job Hook"
	UUID           string // X-Gitlab-Event-UUID
	IdempotencyKey string // Idempotency-Key
	Header         http.Header
	Body           []byte
	Dropped        bool   // lost on the way (DropWebhooks): never sent
	Status         int    // the receiver's status; 0 when not sent
	Answer         string // the receiver's body
	Err            string // why it could not be sent
}

// hooks posts the deliveries, one at a time in order, from a goroutine.
type hooks struct {
	s       *Server
	mu      sync.Mutex
	queue   []*Delivery
	done    []*Delivery
	drop    int
	wake    chan struct{}
	stop    chan struct{}
	stopped chan struct{}
	uuid    string // X-Gitlab-Webhook-UUID: the hook's own id
	client  *http.Client
}

func newHooks(s *Server) *hooks {
	h := &hooks{
		s: s, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{}),
		uuid: newUUID(), client: &http.Client{Timeout: 10 * time.Second},
	}
	go h.run()
	return h
}

func (h *hooks) close() {
	close(h.stop)
	<-h.stopped
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// DropWebhooks loses the next n deliveries made after it: recorded as dropped, never sent.
func (s *Server) DropWebhooks(n int) {
	s.hook.mu.Lock()
	defer s.hook.mu.Unlock()
	s.hook.drop = n
}

// Deliveries are the deliveries made so far, in order, with the receiver's answers; those
// still queued are not among them.
func (s *Server) Deliveries() []Delivery {
	s.hook.mu.Lock()
	defer s.hook.mu.Unlock()
	out := make([]Delivery, len(s.hook.done))
	for i, d := range s.hook.done {
		out[i] = *d
		out[i].Header = d.Header.Clone()
	}
	return out
}

// Redeliver sends a delivery again, as GitLab's "Resend request" does: the same body, the
// same X-Gitlab-Event-UUID and Idempotency-Key.
func (s *Server) Redeliver(uuid string) error {
	s.hook.mu.Lock()
	defer s.hook.mu.Unlock()
	for _, d := range s.hook.done {
		if d.UUID == uuid {
			again := &Delivery{Event: d.Event, UUID: d.UUID, IdempotencyKey: d.IdempotencyKey, Header: d.Header.Clone(), Body: d.Body}
			s.hook.queue = append(s.hook.queue, again)
			s.hook.kick()
			return nil
		}
	}
	return fmt.Errorf("gitlabtest: no delivery %s", uuid)
}

func (h *hooks) kick() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// enqueueLocked queues a delivery of payload (called under the server's lock, and takes
// the hooks' own).
func (h *hooks) enqueueLocked(event string, payload any) {
	body, err := json.Marshal(payload)
	if err != nil {
		panic("gitlabtest: hook payload: " + err.Error())
	}
	id, key := newUUID(), newUUID()
	hd := http.Header{}
	hd.Set("Content-Type", "application/json")
	hd.Set("User-Agent", "GitLab/18.0.0")
	hd.Set("X-Gitlab-Event", event)
	hd.Set("X-Gitlab-Event-UUID", id)
	hd.Set("X-Gitlab-Webhook-UUID", h.uuid)
	hd.Set("X-Gitlab-Instance", h.s.url)
	hd.Set("Idempotency-Key", key)
	if t := h.s.opts.WebhookToken; t != "" {
		hd.Set("X-Gitlab-Token", t)
	}
	d := &Delivery{Event: event, UUID: id, IdempotencyKey: key, Header: hd, Body: body}
	h.mu.Lock()
	if h.drop > 0 {
		h.drop--
		d.Dropped = true
	}
	h.queue = append(h.queue, d)
	h.mu.Unlock()
	h.kick()
}

func (h *hooks) run() {
	defer close(h.stopped)
	for {
		h.mu.Lock()
		var d *Delivery
		if len(h.queue) > 0 {
			d, h.queue = h.queue[0], h.queue[1:]
		}
		h.mu.Unlock()
		if d == nil {
			select {
			case <-h.wake:
				continue
			case <-h.stop:
				return
			}
		}
		if !d.Dropped {
			h.send(d)
		}
		h.mu.Lock()
		h.done = append(h.done, d)
		h.mu.Unlock()
		h.s.mu.Lock()
		h.s.notifyLocked()
		h.s.mu.Unlock()
		h.s.logf("gitlabtest: delivery %s %s: %d %s%s", d.Event, d.UUID, d.Status, strings.TrimSpace(d.Answer), d.Err)
	}
}

func (h *hooks) send(d *Delivery) {
	if h.s.opts.WebhookURL == "" {
		return
	}
	req, err := http.NewRequest(http.MethodPost, h.s.opts.WebhookURL, bytes.NewReader(d.Body))
	if err != nil {
		d.Err = err.Error()
		return
	}
	req.Header = d.Header.Clone()
	resp, err := h.client.Do(req)
	if err != nil {
		d.Err = err.Error()
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	d.Status, d.Answer = resp.StatusCode, string(b)
}

// hookTime is how a hook writes a time: "2016-08-12 15:23:28 UTC"; null when unset.
func hookTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := t.UTC().Format("2006-01-02 15:04:05 UTC")
	return &v
}

// The hooks' JSON, field by field as GitLab documents them.

type hookUser struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	AvatarURL string `json:"avatar_url"`
	Email     string `json:"email"`
}

type hookProject struct {
	ID                int64   `json:"id"`
	Name              string  `json:"name"`
	Description       string  `json:"description"`
	WebURL            string  `json:"web_url"`
	AvatarURL         *string `json:"avatar_url"`
	GitSSHURL         string  `json:"git_ssh_url"`
	GitHTTPURL        string  `json:"git_http_url"`
	Namespace         string  `json:"namespace"`
	VisibilityLevel   int     `json:"visibility_level"`
	PathWithNamespace string  `json:"path_with_namespace"`
	DefaultBranch     string  `json:"default_branch"`
	CIConfigPath      *string `json:"ci_config_path"`
}

type hookVariable struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type pipelineAttrs struct {
	ID             int64          `json:"id"`
	IID            int64          `json:"iid"`
	Name           *string        `json:"name"`
	Ref            string         `json:"ref"`
	Tag            bool           `json:"tag"`
	SHA            string         `json:"sha"`
	BeforeSHA      string         `json:"before_sha"`
	Source         string         `json:"source"`
	Status         string         `json:"status"`
	DetailedStatus string         `json:"detailed_status"`
	Stages         []string       `json:"stages"`
	CreatedAt      *string        `json:"created_at"`
	FinishedAt     *string        `json:"finished_at"`
	Duration       *int64         `json:"duration"`
	QueuedDuration *int64         `json:"queued_duration"`
	Variables      []hookVariable `json:"variables"`
	URL            string         `json:"url"`
}

type hookCommit struct {
	ID        string `json:"id"`
	Message   string `json:"message"`
	Title     string `json:"title"`
	Timestamp string `json:"timestamp"`
	URL       string `json:"url"`
	Author    struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	} `json:"author"`
}

type hookBuild struct {
	ID             int64    `json:"id"`
	Stage          string   `json:"stage"`
	Name           string   `json:"name"`
	Status         string   `json:"status"`
	CreatedAt      *string  `json:"created_at"`
	StartedAt      *string  `json:"started_at"`
	FinishedAt     *string  `json:"finished_at"`
	Duration       *float64 `json:"duration"`
	QueuedDuration *float64 `json:"queued_duration"`
	FailureReason  *string  `json:"failure_reason"`
	When           string   `json:"when"`
	Manual         bool     `json:"manual"`
	AllowFailure   bool     `json:"allow_failure"`
	User           hookUser `json:"user"`
	Runner         any      `json:"runner"`
	ArtifactsFile  struct {
		Filename *string `json:"filename"`
		Size     *int64  `json:"size"`
	} `json:"artifacts_file"`
	Environment any `json:"environment"`
}

type hookMergeRequest struct {
	ID                  int64  `json:"id"`
	IID                 int64  `json:"iid"`
	Title               string `json:"title"`
	SourceBranch        string `json:"source_branch"`
	SourceProjectID     int64  `json:"source_project_id"`
	TargetBranch        string `json:"target_branch"`
	TargetProjectID     int64  `json:"target_project_id"`
	State               string `json:"state"`
	MergeStatus         string `json:"merge_status"`
	DetailedMergeStatus string `json:"detailed_merge_status"`
	URL                 string `json:"url"`
}

type pipelineHook struct {
	ObjectKind       string        `json:"object_kind"`
	ObjectAttributes pipelineAttrs `json:"object_attributes"`
	MergeRequest     any           `json:"merge_request"`
	User             hookUser      `json:"user"`
	Project          hookProject   `json:"project"`
	Commit           hookCommit    `json:"commit"`
	Builds           []hookBuild   `json:"builds"`
}

type jobHook struct {
	ObjectKind          string      `json:"object_kind"`
	Ref                 string      `json:"ref"`
	Tag                 bool        `json:"tag"`
	BeforeSHA           string      `json:"before_sha"`
	SHA                 string      `json:"sha"`
	BuildID             int64       `json:"build_id"`
	BuildName           string      `json:"build_name"`
	BuildStage          string      `json:"build_stage"`
	BuildStatus         string      `json:"build_status"`
	BuildCreatedAt      *string     `json:"build_created_at"`
	BuildStartedAt      *string     `json:"build_started_at"`
	BuildFinishedAt     *string     `json:"build_finished_at"`
	BuildDuration       *float64    `json:"build_duration"`
	BuildQueuedDuration *float64    `json:"build_queued_duration"`
	BuildAllowFailure   bool        `json:"build_allow_failure"`
	BuildFailureReason  string      `json:"build_failure_reason"`
	RetriesCount        int         `json:"retries_count"`
	PipelineID          int64       `json:"pipeline_id"`
	ProjectID           int64       `json:"project_id"`
	ProjectName         string      `json:"project_name"`
	User                hookUser    `json:"user"`
	Commit              any         `json:"commit"`
	Repository          any         `json:"repository"`
	Project             hookProject `json:"project"`
	Runner              any         `json:"runner"`
	Environment         any         `json:"environment"`
}

func (s *Server) hookUser(u User) hookUser {
	return hookUser{ID: u.ID, Name: u.Name, Username: u.Username, AvatarURL: s.url + "/avatar/" + u.Username, Email: "[REDACTED]"}
}

func (s *Server) hookProject(p *project) hookProject {
	name := p.path[strings.LastIndex(p.path, "/")+1:]
	host := strings.TrimPrefix(s.url, "http://")
	return hookProject{
		ID: p.id, Name: name, WebURL: s.url + "/" + p.path, GitSSHURL: "git@" + host + ":" + p.path + ".git",
		GitHTTPURL: s.url + "/" + p.path + ".git", Namespace: p.path[:strings.LastIndex(p.path, "/")],
		PathWithNamespace: p.path, DefaultBranch: p.defaultBranch,
	}
}

// pipelineLocked queues a Pipeline Hook for the pipeline as it is now (its latest jobs).
func (h *hooks) pipelineLocked(pl *pipeline) {
	s := h.s
	attrs := pipelineAttrs{
		ID: pl.id, IID: pl.iid, Ref: pl.ref, SHA: pl.sha, BeforeSHA: strings.Repeat("0", 40), Source: pl.source,
		Status: pl.status, DetailedStatus: detailedStatus(pl.status).Text, Stages: pl.stages,
		CreatedAt: hookTime(pl.createdAt), Variables: []hookVariable{}, URL: s.pipelineURL(pl),
	}
	if finished(pl.status) {
		attrs.FinishedAt = hookTime(pl.finishedAt)
		if !pl.startedAt.IsZero() {
			d := int64(pl.finishedAt.Sub(pl.startedAt).Seconds())
			attrs.Duration = &d
		}
	}
	for k, v := range pl.variables {
		attrs.Variables = append(attrs.Variables, hookVariable{Key: k, Value: v})
	}
	c := hookCommit{
		ID: pl.sha, Message: pl.commit.Message, Title: subject(pl.commit.Message), Timestamp: pl.createdAt.UTC().Format(time.RFC3339),
		URL: s.url + "/" + pl.project.path + "/-/commit/" + pl.sha,
	}
	c.Author.Name, c.Author.Email = pl.commit.AuthorName, pl.commit.AuthorEmail
	payload := pipelineHook{
		ObjectKind: "pipeline", ObjectAttributes: attrs, User: s.hookUser(pl.user), Project: s.hookProject(pl.project), Commit: c,
		Builds: []hookBuild{},
	}
	if pl.mrIID > 0 {
		// A merge request pipeline's hook names the source branch as its ref, and the
		// merge request.
		payload.ObjectAttributes.Ref = pl.mrSource
		payload.MergeRequest = hookMergeRequest{
			ID: pl.mrIID + 100000, IID: pl.mrIID, Title: subject(pl.commit.Message), SourceBranch: pl.mrSource,
			SourceProjectID: pl.project.id, TargetBranch: pl.project.defaultBranch, TargetProjectID: pl.project.id,
			State: "opened", MergeStatus: "can_be_merged", DetailedMergeStatus: "mergeable",
			URL: fmt.Sprintf("%s/%s/-/merge_requests/%d", s.url, pl.project.path, pl.mrIID),
		}
	}
	for _, j := range pl.latest() {
		if j.spec.Trigger {
			continue // the hook's builds are the pipeline's builds, never its trigger jobs
		}
		b := hookBuild{
			ID: j.id, Stage: j.spec.Stage, Name: j.spec.Name, Status: j.status, CreatedAt: hookTime(j.createdAt),
			StartedAt: hookTime(j.startedAt), FinishedAt: hookTime(j.finishedAt), When: "on_success",
			AllowFailure: j.spec.AllowFailure || j.spec.Manual, User: s.hookUser(j.user),
		}
		if j.failureReason != "" {
			b.FailureReason = &j.failureReason
		}
		payload.Builds = append(payload.Builds, b)
	}
	h.enqueueLocked("Pipeline Hook", payload)
}

// jobLocked queues a Job Hook for a job's new status.
func (h *hooks) jobLocked(pl *pipeline, j *job) {
	if j.spec.Trigger {
		return // a trigger job sends no Job Hook
	}
	s := h.s
	retries := 0
	for _, x := range pl.jobs {
		if x.spec.Name == j.spec.Name && x.id < j.id {
			retries++
		}
	}
	payload := jobHook{
		ObjectKind: "build", Ref: pl.ref, SHA: pl.sha, BeforeSHA: strings.Repeat("0", 40),
		BuildID: j.id, BuildName: j.spec.Name, BuildStage: j.spec.Stage, BuildStatus: j.status,
		BuildCreatedAt: hookTime(j.createdAt), BuildStartedAt: hookTime(j.startedAt), BuildFinishedAt: hookTime(j.finishedAt),
		BuildAllowFailure: j.spec.AllowFailure || j.spec.Manual, BuildFailureReason: j.failureReason, RetriesCount: retries,
		PipelineID: pl.id, ProjectID: pl.project.id, ProjectName: strings.ReplaceAll(pl.project.path, "/", " / "),
		User: s.hookUser(j.user), Project: s.hookProject(pl.project),
		Commit: map[string]any{
			"id": pl.id, "name": nil, "sha": pl.sha, "message": pl.commit.Message, "author_name": pl.commit.AuthorName,
			"author_email": pl.commit.AuthorEmail, "author_url": "mailto:" + pl.commit.AuthorEmail, "status": pl.status,
			"duration": nil, "started_at": hookTime(pl.startedAt), "finished_at": hookTime(pl.finishedAt),
		},
		Repository: map[string]any{
			"name": pl.project.path[strings.LastIndex(pl.project.path, "/")+1:], "url": s.url + "/" + pl.project.path + ".git",
			"description": "", "homepage": s.url + "/" + pl.project.path, "git_http_url": s.url + "/" + pl.project.path + ".git",
			"git_ssh_url": "git@" + strings.TrimPrefix(s.url, "http://") + ":" + pl.project.path + ".git", "visibility_level": 0,
		},
	}
	if j.failureReason == "" {
		payload.BuildFailureReason = "unknown_failure"
	}
	h.enqueueLocked("Job Hook", payload)
}
