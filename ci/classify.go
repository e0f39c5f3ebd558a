package ci

// Classification follows Buildbot's words.py (Channel.notify_for_finished): the result's own
// kind, then problem/recovery/worse/better against the previous build, with Buildbot's
// results_severity order (SKIPPED, SUCCESS, WARNINGS, FAILURE, CANCELLED, EXCEPTION) and its
// problem/recovery sets (SUCCESS, WARNINGS) ↔ (FAILURE, EXCEPTION). Cancelled therefore counts
// as worse than failure but is neither a problem nor a recovery, and a retry is compared with
// nothing. Where herald differs on purpose: Buildbot compares with build number-1 of the
// builder whatever it was; herald compares with the previous *completed, comparable* build of
// the same builder on the same branch (see Comparable), so a retry, a cancelled or skipped
// build, a build still running or a build of another branch does not turn a fix into a
// non-event or a repeat failure into a "problem".

// severity is Buildbot's results_severity, least severe first.
var severity = map[Result]int{
	ResultSkipped:   0,
	ResultSuccess:   1,
	ResultWarnings:  2,
	ResultFailure:   3,
	ResultCancelled: 4,
	ResultException: 5,
}

// Severity ranks a result, least severe first: skipped < success < warnings < failure <
// cancelled < exception. Results that cannot be compared (retry, none) rank -1.
func Severity(r Result) int {
	if s, ok := severity[r]; ok {
		return s
	}
	return -1
}

// Comparable reports whether a build can be the "previous build" a new result is compared
// with: it finished with a result that says something about the code — success, warnings,
// failure or exception. A retry is replaced by the build that retries it, and a cancelled or
// skipped build ran too little (or nothing) to tell: were one of them the previous build,
// success → cancelled → failure would be no problem and failure → cancelled → success no
// recovery, and a chat on the default events would never hear of the breakage or the fix.
// The store's previous-build query (store/builds.go) keeps the same set.
func Comparable(b Build) bool {
	return b.Complete && judgesCode(b.Result)
}

// JudgingResults are the results that say something about the code, the ones Comparable
// accepts, for stores that select the previous build themselves.
var JudgingResults = []Result{ResultSuccess, ResultWarnings, ResultFailure, ResultException}

func judgesCode(r Result) bool {
	for _, k := range JudgingResults {
		if r == k {
			return true
		}
	}
	return false
}

// resultKind is the kind a chat subscribes to for a result; skipped and retry have none.
var resultKind = map[Result]Kind{
	ResultSuccess:   KindSuccess,
	ResultWarnings:  KindWarnings,
	ResultFailure:   KindFailure,
	ResultException: KindException,
	ResultCancelled: KindCancelled,
}

// Classify returns the derived kinds of a finished build: its result kind, then, compared
// with prev (the previous comparable build of the same builder and branch, nil when there is
// none), problem or recovery and worse or better. A build that has not finished has none.
func Classify(prev *Build, cur Build) []Kind {
	if !cur.Complete {
		return nil
	}
	var kinds []Kind
	if k, ok := resultKind[cur.Result]; ok {
		kinds = append(kinds, k)
	}
	if prev == nil || !Comparable(*prev) {
		return kinds
	}
	ps, cs := Severity(prev.Result), Severity(cur.Result)
	if ps < 0 || cs < 0 {
		return kinds
	}
	pOK, pBad := isGood(prev.Result), isBad(prev.Result)
	cOK, cBad := isGood(cur.Result), isBad(cur.Result)
	switch {
	case pOK && cBad:
		kinds = append(kinds, KindProblem)
	case pBad && cOK:
		kinds = append(kinds, KindRecovery)
	}
	switch {
	case cs > ps:
		kinds = append(kinds, KindWorse)
	case cs < ps:
		kinds = append(kinds, KindBetter)
	}
	return kinds
}

func isGood(r Result) bool { return r == ResultSuccess || r == ResultWarnings }
func isBad(r Result) bool  { return r == ResultFailure || r == ResultException }
