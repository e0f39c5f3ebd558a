package ci

// ClassifyEvent is the classify stage of the event pipeline: a finished build event whose
// Build is the build as merged into the history and whose Previous is the build before it
// (see Classify) comes back with Derived set. It is pure, so the pipeline's order — merge,
// then classify, then store — is visible at the caller, and any other event passes through
// with nothing derived.
func ClassifyEvent(ev Event) Event {
	ev.Derived = nil
	if ev.Kind == KindFinished && ev.Build != nil {
		ev.Derived = Classify(ev.Previous, *ev.Build)
	}
	return ev
}
