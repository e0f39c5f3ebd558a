// Package ci is herald's domain of build servers: builders, builds, results, workers and the
// events they cause. It knows nothing of Postgres or Telegram, so everything in it is tested
// with plain values. Each CI system lives in a subpackage that implements Provider.
package ci

import (
	"errors"
	"fmt"
	"time"
)

// Result is how a build ended, with the names Buildbot gives them. The zero value means the
// build has not finished.
type Result string

const (
	ResultNone      Result = ""
	ResultSuccess   Result = "success"
	ResultWarnings  Result = "warnings"
	ResultFailure   Result = "failure"
	ResultSkipped   Result = "skipped"
	ResultException Result = "exception"
	ResultRetry     Result = "retry"
	ResultCancelled Result = "cancelled"
)

// Results lists every finished result, in Buildbot's numeric order (0..6).
var Results = []Result{ResultSuccess, ResultWarnings, ResultFailure, ResultSkipped, ResultException, ResultRetry, ResultCancelled}

// Valid reports whether r is one of the known finished results.
func (r Result) Valid() bool {
	for _, k := range Results {
		if r == k {
			return true
		}
	}
	return false
}

// Builder is a named job on a CI connection.
type Builder struct {
	Conn        string   // name of the CI connection in herald's config
	ID          string   // the provider's id for the builder
	Name        string   // the name users type
	Description string   // may be empty
	Tags        []string // may be empty
	Online      bool     // at least one worker able to run it is connected
}

// Build is one run of a builder. Fields a provider cannot fill stay empty.
type Build struct {
	Conn        string // name of the CI connection in herald's config
	ID          string // the provider's id, unique within the connection
	Number      int    // the number users see, unique within the builder (and attempt)
	Attempt     int    // which run of that number this is, when the CI re-runs a build under its number (GitHub); 0 when it does not
	Builder     string // builder name
	BuilderID   string
	RequestID   string // the provider's build request id, used to follow a forced build
	Branch      string
	Revision    string
	Owner       string // who asked for it (forcing user, pusher)
	Author      string // author of the change, when known
	Reason      string
	StartedAt   time.Time
	FinishedAt  time.Time // zero while running
	Complete    bool
	Result      Result // ResultNone while running
	StateText   string // the provider's one-line state ("build successful", "failed compile")
	CurrentStep string // name of the step running now, while running
	FailedStep  string // the first step that failed, for failed builds
	URL         string // a link a person can open
	// Tags are the builder's tags (Buildbot's), so a chat can follow builders by tag.
	Tags []string `json:",omitempty"`
	// Revisions are every revision the build is of, one per codebase, when the CI says
	// (Buildbot's sourcestamps); empty means Revision is the only one. Messages name a build
	// by them when notifications.revisions is on.
	Revisions []string `json:",omitempty"`
	// Blamelist are the authors of the changes in the build, newest change first, each once
	// (Buildbot's changes since the last successful build); failure messages list them when
	// notifications.blamelist is on.
	Blamelist []string `json:",omitempty"`
}

// NumberText is how messages name the build among its builder's: "#12", and "#12 (attempt 2)"
// for a build run again under its number.
func (b Build) NumberText() string {
	if b.Attempt > 1 {
		return fmt.Sprintf("#%d (attempt %d)", b.Number, b.Attempt)
	}
	return fmt.Sprintf("#%d", b.Number)
}

// Duration is how long the build ran, or has run until now when it is still running.
func (b Build) Duration(now time.Time) time.Duration {
	if b.StartedAt.IsZero() {
		return 0
	}
	end := b.FinishedAt
	if end.IsZero() {
		end = now
	}
	return end.Sub(b.StartedAt)
}

// Worker is a machine that runs builds.
type Worker struct {
	Conn      string
	ID        string
	Name      string
	Connected bool
	Busy      bool     // running a build now, when the provider says (GitHub's runners do)
	Builders  []string // builders it serves, when the provider says
}

// ForceScheduler is a way to start builds by hand, with the fields a user may set.
type ForceScheduler struct {
	Conn     string
	Name     string
	Label    string
	Builders []string
	Fields   []ForceField
}

// FieldType is the kind of value a force field takes.
type FieldType string

const (
	FieldText   FieldType = "text"
	FieldInt    FieldType = "int"
	FieldBool   FieldType = "bool"
	FieldChoice FieldType = "choice"
)

// ForceField is one parameter of a force scheduler.
type ForceField struct {
	Name     string // the key sent back to the provider, e.g. "branch" or "reason"
	Label    string
	Type     FieldType
	Default  string
	Required bool
	Choices  []string // for FieldChoice
}

// ForceRequest asks a provider to start a build.
type ForceRequest struct {
	Scheduler string
	Builder   string
	Owner     string            // shown as the build's owner, e.g. "alice (telegram 123)"
	Reason    string            // may be empty
	Params    map[string]string // force field name → value
}

// ForceResult identifies what a force started, so herald can follow the build.
type ForceResult struct {
	// Ref is the CI's name for what was started, for the audit log: "buildset 12" on
	// Buildbot, "run 4711" on GitHub. May be empty when the CI says nothing back.
	Ref        string
	RequestIDs []string // one per builder; what the started builds carry in Build.RequestID
}

// Errors a provider returns. Messages are safe to show in a chat.
var (
	ErrNotFound    = errors.New("not found")
	ErrUnsupported = errors.New("this CI does not support that")
)
