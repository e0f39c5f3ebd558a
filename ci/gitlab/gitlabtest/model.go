package gitlabtest

import "time"

// A project the fake serves.
type project struct {
	id            int64
	path          string // full path, group/app
	description   string
	defaultBranch string
	branches      []string
	commit        Commit
	specsForAPI   []JobSpec // the jobs of pipelines made over the API; nil: DefaultJobs
}

// Commit is what a pipeline's commit says: its author and message.
type Commit struct {
	SHA         string
	AuthorName  string
	AuthorEmail string
	Message     string
}

// JobSpec is a job of a pipeline the test creates.
type JobSpec struct {
	Stage, Name  string
	AllowFailure bool
	// FailRuns is how many of its runs fail before one succeeds: 1 fails the first run
	// and passes after a retry; -1 always fails.
	FailRuns int
	// Manual is a job with when: manual that may be left unplayed (GitLab's optional manual
	// job, allow_failure true): it waits as "manual", the pipeline finishes without it, and
	// Play runs it later, moving the same job (no new one is made).
	Manual bool
	// NotRetryable is a job GitLab does not retry (an archived job, a rejected deployment):
	// a retry of its pipeline passes it over, and answers 201 all the same.
	NotRetryable bool
	// AutoRetry is the job's retry: keyword, how many times GitLab retries it by itself
	// when it fails: each try is a new job, made as the one before fails.
	AutoRetry int
	// Trigger makes it a trigger job (a bridge: trigger:, strategy: depend, its child's
	// result its own): the API lists it under /bridges, not /jobs, and no hook names it.
	Trigger bool
}

// A pipeline: the state GitLab keeps.
type pipeline struct {
	id, iid    int64
	project    *project
	status     string
	source     string
	ref, sha   string
	commit     Commit
	user       User
	variables  map[string]string
	stages     []string
	specs      []JobSpec
	createdAt  time.Time
	updatedAt  time.Time
	startedAt  time.Time
	finishedAt time.Time
	jobs       []*job // every job ever made for it, retried ones too, by id
	runs       int    // how many times it has run (1 + retries)
	mrIID      int64  // a merge request pipeline's merge request; ref is then refs/merge-requests/<iid>/head
	mrSource   string // its source branch: the ref its Pipeline Hooks name
}

// User is who triggers a pipeline.
type User struct {
	ID       int64
	Username string
	Name     string
}

// A job.
type job struct {
	id            int64
	spec          JobSpec
	run           int // which run of its pipeline made it
	status        string
	retried       bool
	user          User
	createdAt     time.Time
	startedAt     time.Time
	finishedAt    time.Time
	failureReason string
}

// Runner is a runner of the instance: a project's (listed to a Maintainer's token) or, Shared,
// the instance's (never listed by GET /runners).
type Runner struct {
	ID          int64
	Description string
	Status      string // online, offline, stale, never_contacted
	Paused      bool
	Shared      bool
}

// The JSON of the API, field by field as GitLab documents it.

type apiUser struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	Username  string `json:"username"`
	State     string `json:"state"`
	AvatarURL string `json:"avatar_url"`
	WebURL    string `json:"web_url"`
}

type apiProject struct {
	ID                int64  `json:"id"`
	Description       string `json:"description"`
	Name              string `json:"name"`
	NameWithNamespace string `json:"name_with_namespace"`
	Path              string `json:"path"`
	PathWithNamespace string `json:"path_with_namespace"`
	DefaultBranch     string `json:"default_branch"`
	WebURL            string `json:"web_url"`
	BuildsAccessLevel string `json:"builds_access_level"`
	JobsEnabled       bool   `json:"jobs_enabled"`
	CreatedAt         string `json:"created_at"`
}

type apiBranch struct {
	Name      string       `json:"name"`
	Merged    bool         `json:"merged"`
	Protected bool         `json:"protected"`
	Default   bool         `json:"default"`
	CanPush   bool         `json:"can_push"`
	WebURL    string       `json:"web_url"`
	Commit    apiCommitRef `json:"commit"`
}

type apiCommitRef struct {
	ID            string `json:"id"`
	ShortID       string `json:"short_id"`
	Title         string `json:"title"`
	Message       string `json:"message"`
	AuthorName    string `json:"author_name"`
	AuthorEmail   string `json:"author_email"`
	AuthoredDate  string `json:"authored_date"`
	CommitterName string `json:"committer_name"`
	CommittedDate string `json:"committed_date"`
	CreatedAt     string `json:"created_at"`
}

// apiPipelineInfo is an entry of the pipelines list.
type apiPipelineInfo struct {
	ID        int64  `json:"id"`
	IID       int64  `json:"iid"`
	ProjectID int64  `json:"project_id"`
	Status    string `json:"status"`
	Source    string `json:"source"`
	Ref       string `json:"ref"`
	SHA       string `json:"sha"`
	Name      any    `json:"name"`
	WebURL    string `json:"web_url"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// apiPipeline is one pipeline.
type apiPipeline struct {
	ID             int64             `json:"id"`
	IID            int64             `json:"iid"`
	ProjectID      int64             `json:"project_id"`
	Name           any               `json:"name"`
	Status         string            `json:"status"`
	Source         string            `json:"source"`
	Ref            string            `json:"ref"`
	SHA            string            `json:"sha"`
	BeforeSHA      string            `json:"before_sha"`
	Tag            bool              `json:"tag"`
	YamlErrors     any               `json:"yaml_errors"`
	User           apiUser           `json:"user"`
	CreatedAt      string            `json:"created_at"`
	UpdatedAt      string            `json:"updated_at"`
	StartedAt      *string           `json:"started_at"`
	FinishedAt     *string           `json:"finished_at"`
	CommittedAt    any               `json:"committed_at"`
	Duration       *int64            `json:"duration"`
	QueuedDuration *int64            `json:"queued_duration"`
	Coverage       any               `json:"coverage"`
	WebURL         string            `json:"web_url"`
	DetailedStatus apiDetailedStatus `json:"detailed_status"`
}

type apiDetailedStatus struct {
	Icon        string `json:"icon"`
	Text        string `json:"text"`
	Label       string `json:"label"`
	Group       string `json:"group"`
	Tooltip     string `json:"tooltip"`
	HasDetails  bool   `json:"has_details"`
	DetailsPath string `json:"details_path"`
	Favicon     string `json:"favicon"`
}

type apiJob struct {
	Commit            apiCommitRef   `json:"commit"`
	Coverage          any            `json:"coverage"`
	AllowFailure      bool           `json:"allow_failure"`
	CreatedAt         string         `json:"created_at"`
	StartedAt         *string        `json:"started_at"`
	FinishedAt        *string        `json:"finished_at"`
	ErasedAt          *string        `json:"erased_at"`
	Duration          *float64       `json:"duration"`
	QueuedDuration    *float64       `json:"queued_duration"`
	ArtifactsExpireAt *string        `json:"artifacts_expire_at"`
	TagList           []string       `json:"tag_list"`
	ID                int64          `json:"id"`
	Name              string         `json:"name"`
	Pipeline          apiJobPipeline `json:"pipeline"`
	Ref               string         `json:"ref"`
	Artifacts         []any          `json:"artifacts"`
	Runner            any            `json:"runner"`
	Stage             string         `json:"stage"`
	Status            string         `json:"status"`
	FailureReason     string         `json:"failure_reason,omitempty"`
	Tag               bool           `json:"tag"`
	WebURL            string         `json:"web_url"`
	User              apiUser        `json:"user"`
}

type apiJobPipeline struct {
	ID        int64  `json:"id"`
	ProjectID int64  `json:"project_id"`
	Ref       string `json:"ref"`
	SHA       string `json:"sha"`
	Status    string `json:"status"`
}

type apiRunner struct {
	ID          int64  `json:"id"`
	Description string `json:"description"`
	IPAddress   any    `json:"ip_address"`
	Active      bool   `json:"active"`
	Paused      bool   `json:"paused"`
	IsShared    bool   `json:"is_shared"`
	RunnerType  string `json:"runner_type"`
	Name        any    `json:"name"`
	Online      bool   `json:"online"`
	Status      string `json:"status"`
}
