package ci

import (
	"context"
	"errors"
	"time"
)

// Provider is one connection to a CI system: the core every provider has. What only some CI
// systems offer (a live stream, builds changed since a time, force and stop, ...) is an
// optional capability of its own (see capabilities.go); a Follower turns the stream and the
// change list into events. Every method that talks to the CI takes a context; errors wrap the
// sentinels of this package where one fits, and any error whose chain holds a *UserError can
// be shown to a chat user (its message is plain text, escaped once where it is shown: see
// usererror.go).
type Provider interface {
	// Name is the connection's name from the config; it is put on every Builder, Build,
	// Worker and Event the provider returns.
	Name() string
	// Kind is the CI system, e.g. "buildbot".
	Kind() string
	// Builders lists the builders with whether they can run now.
	Builders(ctx context.Context) ([]Builder, error)
	// RunningBuilds lists the builds in progress, with their current step.
	RunningBuilds(ctx context.Context) ([]Build, error)
	// LastBuilds returns the last n completed builds of a builder, newest first.
	LastBuilds(ctx context.Context, builder string, n int) ([]Build, error)
	// Build returns one build by the provider's id.
	Build(ctx context.Context, id string) (Build, error)
	// Workers lists the workers and whether they are connected; ErrUnsupported when the CI
	// has none to show.
	Workers(ctx context.Context) ([]Worker, error)
}

// Forcer is the optional capability to start builds by hand.
type Forcer interface {
	// ForceSchedulers lists the ways to start a build by hand and their fields.
	ForceSchedulers(ctx context.Context) ([]ForceScheduler, error)
	// Force starts a build. The result's RequestIDs are what the started builds will carry
	// in Build.RequestID, so the chat that forced them hears how they end.
	Force(ctx context.Context, req ForceRequest) (ForceResult, error)
}

// Stopper is the optional capability to cancel a running build.
type Stopper interface {
	// Stop cancels a running build; reason may be empty (a CI without a place for it
	// ignores it).
	Stop(ctx context.Context, buildID, reason string) error
}

// Rebuilder is the optional capability to run a finished build again (GitHub's "Re-run
// failed jobs"): the chat gets a button under a failure, pressing it needs the force right
// on the builder, and the result's RequestIDs name the new build so the chat hears how it
// ends.
type Rebuilder interface {
	// Rebuild runs again what failed in build buildID. owner is who asked, for the CI's
	// records where it has a place for it.
	Rebuild(ctx context.Context, buildID, owner string) (ForceResult, error)
	// RebuildLabel is the button's words, as the CI calls it: "Re-run failed jobs" on
	// GitHub, "Retry" on GitLab, "Rebuild" on Jenkins.
	RebuildLabel() string
}

// Overviewer is the optional capability to answer /status and /last at a cost that does not
// grow with the number of builders: asking each builder for its last build, as the core
// contract alone allows, costs a request or more per builder and command, and many chats
// asking at once multiply that. A provider may answer from a short cache shared by every
// caller; the answer says how old it is.
type Overviewer interface {
	Overview(ctx context.Context) (Overview, error)
}

// Overview is what a CI connection looked like at one moment. Callers share it: they must not
// change it.
type Overview struct {
	Builders []Builder        // as Provider.Builders returns them
	Running  []Build          // as Provider.RunningBuilds returns them
	Last     map[string]Build // builder name → its newest completed build; absent when none
	At       time.Time        // when the CI was asked: earlier than now when from a cache
}

// EventSink takes the events a provider streams and a Follower delivers. Deliver must be
// idempotent by Event.Key and must return only once the event is stored: the Follower moves
// its cursor on after it returns.
type EventSink interface {
	Deliver(ctx context.Context, ev Event) error
}

// ErrStop, returned by a sink, ends a Follower.
var ErrStop = errors.New("ci: stop watching")
