package ci

import (
	"fmt"
	"time"
)

// Kind names an event a chat can subscribe to with /notify.
type Kind string

// Raw kinds come from a provider; derived kinds are computed by Classify when a build
// finishes. KindWorker covers both a worker going missing and coming back.
const (
	KindStarted   Kind = "started"
	KindFinished  Kind = "finished"
	KindSuccess   Kind = "success"
	KindWarnings  Kind = "warnings"
	KindFailure   Kind = "failure"
	KindException Kind = "exception"
	KindCancelled Kind = "cancelled"
	KindProblem   Kind = "problem"
	KindRecovery  Kind = "recovery"
	KindWorse     Kind = "worse"
	KindBetter    Kind = "better"
	KindWorker    Kind = "worker"
)

// Kinds lists every kind in the order /notify shows them.
var Kinds = []Kind{
	KindStarted, KindFinished, KindSuccess, KindWarnings, KindFailure, KindException,
	KindCancelled, KindProblem, KindRecovery, KindWorse, KindBetter, KindWorker,
}

// ParseKind returns the kind named s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("ci: unknown event %q", s)
}

// WorkerState says whether a worker event is about it going away or coming back.
type WorkerState string

const (
	WorkerMissing WorkerState = "missing"
	WorkerOnline  WorkerState = "online"
)

// Event is what a provider reports. A provider sends only raw events: KindStarted and
// KindFinished with Build set, or KindWorker with Worker and WorkerState set. Derived kinds are
// added by the pipeline (see Classify) into Derived.
type Event struct {
	Conn        string // CI connection name; every event carries it
	Kind        Kind
	Build       *Build  // for started and finished
	Worker      *Worker // for worker events
	WorkerState WorkerState
	At          time.Time // when it happened on the CI, or when herald saw it
	CatchUp     bool      // found by polling the API after a disconnect, not seen live

	// Set by the pipeline, not by providers.
	Derived  []Kind // e.g. success + problem for a finished build
	Previous *Build // the build Derived was computed against, if any
}

// Key is the idempotency key of a raw event: a second delivery with the same key is a no-op.
func (e Event) Key() string {
	switch {
	case e.Build != nil:
		return fmt.Sprintf("%s/build/%s/%s", e.Conn, e.Build.ID, e.Kind)
	case e.Worker != nil:
		// A worker can go missing and come back many times; the provider's time stamp tells
		// those apart, and a redelivery of the same transition carries the same stamp.
		return fmt.Sprintf("%s/worker/%s/%s/%d", e.Conn, e.Worker.Name, e.WorkerState, e.At.UnixMilli())
	default:
		return fmt.Sprintf("%s/%s/%d", e.Conn, e.Kind, e.At.UnixMilli())
	}
}
