package ci

import (
	"context"
	"time"
)

// The optional capabilities a provider may have besides the core Provider, one interface
// each, as Woodpecker's forge does it: a CI system offers what it offers, and herald asks
// with a type assertion instead of every provider stubbing what it cannot do. Forcer and
// Overviewer live next to Provider; these two are what the Follower needs.

// Streamer is the capability to report events live, over a connection the CI keeps open
// (Buildbot's websocket). It connects once: reconnecting, backing off and catching up on what
// the connection missed are the Follower's, so they work the same for every provider.
type Streamer interface {
	// Stream connects and subscribes, then calls onConnect (the Follower catches up there:
	// events that happen during the catch-up are already subscribed to and come after it, so
	// none falls between the two), then delivers live events to sink until the connection
	// drops (it returns why, never nil) or ctx ends (it returns ctx's error). An error of
	// onConnect or of sink ends the stream and is returned wrapped.
	//
	// Build events carry the CI's time stamps (see PlausibleTime). Worker events say
	// WorkerMissing when the CI declares a worker missing and WorkerOnline whenever one
	// connects; the Follower passes an online on only when it follows a missing.
	Stream(ctx context.Context, sink EventSink, onConnect func(ctx context.Context) error) error
}

// ChangeLister is the capability to say which builds changed since a time: the safety net
// that finds what a dropped stream or a lost webhook missed, and the only way to follow a CI
// that has neither.
type ChangeLister interface {
	// BuildsChangedSince returns every build that started or finished after since (a time in
	// the CI's clock, as build events carry it), oldest first, each once, as it is now.
	// However many there are, the provider pages through them itself.
	BuildsChangedSince(ctx context.Context, since time.Time) ([]Build, error)
}

// FollowTuner is the capability to set how a Follower paces itself for this provider (how
// long it waits between reconnects at most, how often it polls). Fields left zero take the
// Follower's defaults.
type FollowTuner interface {
	FollowOptions() FollowOptions
}

// WorkerController is the capability to pause, unpause and gracefully stop a CI's workers
// from the chat (Buildbot's worker control actions): what a master's REST API offers in place
// of the master shutdown Buildbot's own bot has.
type WorkerController interface {
	// ControlWorker applies action to the worker named name. A worker the CI does not know
	// is ErrNotFound with a user error naming it.
	ControlWorker(ctx context.Context, name string, action WorkerAction, reason string) error
}

// WorkerAction is what ControlWorker does to a worker.
type WorkerAction string

const (
	WorkerPause   WorkerAction = "pause"   // start no new builds on it
	WorkerUnpause WorkerAction = "unpause" // start builds on it again
	WorkerStop    WorkerAction = "stop"    // graceful: disconnect once its running builds end
)

// SchedulerController is the capability to enable and disable a CI's schedulers.
type SchedulerController interface {
	// SetSchedulerEnabled enables or disables the scheduler named name. A scheduler the CI
	// does not know is ErrNotFound with a user error naming it.
	SetSchedulerEnabled(ctx context.Context, name string, enabled bool) error
}
