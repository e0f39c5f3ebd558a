package ci

import (
	"reflect"
	"testing"
	"time"
)

func TestSeverity(t *testing.T) {
	order := []Result{ResultSkipped, ResultSuccess, ResultWarnings, ResultFailure, ResultCancelled, ResultException}
	for i := 1; i < len(order); i++ {
		if Severity(order[i-1]) >= Severity(order[i]) {
			t.Errorf("Severity(%s)=%d is not below Severity(%s)=%d",
				order[i-1], Severity(order[i-1]), order[i], Severity(order[i]))
		}
	}
	for _, r := range []Result{ResultRetry, ResultNone, "bogus"} {
		if Severity(r) != -1 {
			t.Errorf("Severity(%q) = %d, want -1", r, Severity(r))
		}
	}
}

func TestComparable(t *testing.T) {
	tests := []struct {
		name string
		b    Build
		want bool
	}{
		{"success", Build{Complete: true, Result: ResultSuccess}, true},
		{"warnings", Build{Complete: true, Result: ResultWarnings}, true},
		{"failure", Build{Complete: true, Result: ResultFailure}, true},
		{"exception", Build{Complete: true, Result: ResultException}, true},
		// Neither ran far enough to say anything about the code.
		{"skipped", Build{Complete: true, Result: ResultSkipped}, false},
		{"cancelled", Build{Complete: true, Result: ResultCancelled}, false},
		{"retry", Build{Complete: true, Result: ResultRetry}, false},
		{"complete without result", Build{Complete: true}, false},
		{"running", Build{Result: ResultNone}, false},
	}
	for _, tt := range tests {
		if got := Comparable(tt.b); got != tt.want {
			t.Errorf("%s: Comparable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestClassifyPairs checks every interesting (previous, current) pair on its own.
func TestClassifyPairs(t *testing.T) {
	const (
		S = ResultSuccess
		W = ResultWarnings
		F = ResultFailure
		E = ResultException
		C = ResultCancelled
		K = ResultSkipped
		R = ResultRetry
	)
	tests := []struct {
		name string
		prev Result // "" for no previous build
		cur  Result
		want []Kind
	}{
		{"first build ever, success", "", S, []Kind{KindSuccess}},
		{"first build ever, failure", "", F, []Kind{KindFailure}},
		{"success again", S, S, []Kind{KindSuccess}},
		{"failure again", F, F, []Kind{KindFailure}},
		{"success to failure", S, F, []Kind{KindFailure, KindProblem, KindWorse}},
		{"failure to success", F, S, []Kind{KindSuccess, KindRecovery, KindBetter}},
		{"warnings to failure", W, F, []Kind{KindFailure, KindProblem, KindWorse}},
		{"failure to warnings", F, W, []Kind{KindWarnings, KindRecovery, KindBetter}},
		{"success to warnings", S, W, []Kind{KindWarnings, KindWorse}},
		{"warnings to success", W, S, []Kind{KindSuccess, KindBetter}},
		{"success to exception", S, E, []Kind{KindException, KindProblem, KindWorse}},
		{"exception to success", E, S, []Kind{KindSuccess, KindRecovery, KindBetter}},
		{"failure to exception", F, E, []Kind{KindException, KindWorse}},
		// Buildbot: cancelled ranks between failure and exception and is in neither the
		// problem nor the recovery set.
		{"success to cancelled", S, C, []Kind{KindCancelled, KindWorse}},
		{"failure to cancelled", F, C, []Kind{KindCancelled, KindWorse}},
		// A cancelled build is never the previous one (see Comparable).
		{"previous is cancelled, failure", C, F, []Kind{KindFailure}},
		{"previous is cancelled, success", C, S, []Kind{KindSuccess}},
		{"exception to cancelled", E, C, []Kind{KindCancelled, KindBetter}},
		// Skipped has no kind of its own but is ranked below success, as in Buildbot.
		{"success to skipped", S, K, []Kind{KindBetter}},
		{"previous is skipped, failure", K, F, []Kind{KindFailure}},
		// A retry is never compared, and never the previous build.
		{"retry after failure", F, R, nil},
		{"previous is a retry", R, F, []Kind{KindFailure}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev *Build
			if tt.prev != "" {
				prev = &Build{Complete: true, Result: tt.prev}
			}
			got := Classify(prev, Build{Complete: true, Result: tt.cur})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Classify(%s → %s) = %v, want %v", tt.prev, tt.cur, got, tt.want)
			}
		})
	}
}

func TestClassifyUnfinished(t *testing.T) {
	prev := &Build{Complete: true, Result: ResultSuccess}
	if got := Classify(prev, Build{Result: ResultNone}); got != nil {
		t.Errorf("Classify(running) = %v, want nil", got)
	}
}

// previous finds what the store finds: the latest comparable build of the same builder and
// branch that finished before cur, by finish time then number.
func previous(history []Build, cur Build) *Build {
	var best *Build
	for i := range history {
		b := history[i]
		if b.ID == cur.ID || b.Builder != cur.Builder || b.Branch != cur.Branch || !Comparable(b) {
			continue
		}
		if !before(b, cur) {
			continue
		}
		if best == nil || before(*best, b) {
			best = &history[i]
		}
	}
	return best
}

func before(a, b Build) bool {
	if !a.FinishedAt.Equal(b.FinishedAt) {
		return a.FinishedAt.Before(b.FinishedAt)
	}
	return a.Number < b.Number
}

// TestClassifyHistories replays builds in the order they finish, each compared with the
// previous one of its builder and branch, the way the event pipeline does.
func TestClassifyHistories(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	type step struct {
		id      string
		builder string
		branch  string
		number  int
		result  Result
		done    int // minutes after t0
		want    []Kind
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "first build ever",
			steps: []step{
				{"1", "app", "main", 1, ResultFailure, 1, []Kind{KindFailure}},
			},
		},
		{
			name: "interleaved branches are compared within their branch",
			steps: []step{
				{"1", "app", "main", 1, ResultSuccess, 1, []Kind{KindSuccess}},
				{"2", "app", "feature", 2, ResultFailure, 2, []Kind{KindFailure}},
				{"3", "app", "main", 3, ResultSuccess, 3, []Kind{KindSuccess}},
				{"4", "app", "feature", 4, ResultSuccess, 4, []Kind{KindSuccess, KindRecovery, KindBetter}},
				{"5", "app", "main", 5, ResultFailure, 5, []Kind{KindFailure, KindProblem, KindWorse}},
			},
		},
		{
			name: "other builders do not count",
			steps: []step{
				{"1", "app", "main", 1, ResultFailure, 1, []Kind{KindFailure}},
				{"2", "docs", "main", 1, ResultSuccess, 2, []Kind{KindSuccess}},
				{"3", "app", "main", 2, ResultFailure, 3, []Kind{KindFailure}},
			},
		},
		{
			name: "out-of-order completion compares by finish time",
			steps: []step{
				{"1", "app", "main", 1, ResultSuccess, 1, []Kind{KindSuccess}},
				// #3 started after #2 but finished first.
				{"3", "app", "main", 3, ResultFailure, 5, []Kind{KindFailure, KindProblem, KindWorse}},
				{"2", "app", "main", 2, ResultSuccess, 7, []Kind{KindSuccess, KindRecovery, KindBetter}},
			},
		},
		{
			name: "a retry between two builds is skipped",
			steps: []step{
				{"1", "app", "main", 1, ResultFailure, 1, []Kind{KindFailure}},
				{"2", "app", "main", 2, ResultRetry, 2, nil},
				{"3", "app", "main", 3, ResultSuccess, 3, []Kind{KindSuccess, KindRecovery, KindBetter}},
			},
		},
		{
			name: "warnings and failure back and forth",
			steps: []step{
				{"1", "app", "main", 1, ResultWarnings, 1, []Kind{KindWarnings}},
				{"2", "app", "main", 2, ResultFailure, 2, []Kind{KindFailure, KindProblem, KindWorse}},
				{"3", "app", "main", 3, ResultWarnings, 3, []Kind{KindWarnings, KindRecovery, KindBetter}},
				{"4", "app", "main", 4, ResultWarnings, 4, []Kind{KindWarnings}},
			},
		},
		{
			name: "success, cancelled, failure is a problem",
			steps: []step{
				{"1", "app", "main", 1, ResultSuccess, 1, []Kind{KindSuccess}},
				// Cancelled itself still ranks worse than success, as in Buildbot...
				{"2", "app", "main", 2, ResultCancelled, 2, []Kind{KindCancelled, KindWorse}},
				// ...but the failure is compared with the success before it.
				{"3", "app", "main", 3, ResultFailure, 3, []Kind{KindFailure, KindProblem, KindWorse}},
				{"4", "app", "main", 4, ResultSuccess, 4, []Kind{KindSuccess, KindRecovery, KindBetter}},
			},
		},
		{
			name: "failure, cancelled, success is a recovery",
			steps: []step{
				{"1", "app", "main", 1, ResultFailure, 1, []Kind{KindFailure}},
				{"2", "app", "main", 2, ResultCancelled, 2, []Kind{KindCancelled, KindWorse}},
				{"3", "app", "main", 3, ResultSuccess, 3, []Kind{KindSuccess, KindRecovery, KindBetter}},
			},
		},
		{
			name: "skipped builds are passed over",
			steps: []step{
				{"1", "app", "main", 1, ResultSuccess, 1, []Kind{KindSuccess}},
				{"2", "app", "main", 2, ResultSkipped, 2, []Kind{KindBetter}},
				{"3", "app", "main", 3, ResultFailure, 3, []Kind{KindFailure, KindProblem, KindWorse}},
			},
		},
		{
			name: "same finish time falls back to the number",
			steps: []step{
				{"1", "app", "main", 1, ResultSuccess, 1, []Kind{KindSuccess}},
				{"2", "app", "main", 2, ResultFailure, 1, []Kind{KindFailure, KindProblem, KindWorse}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var history []Build
			for _, s := range tt.steps {
				cur := Build{
					ID: s.id, Builder: s.builder, Branch: s.branch, Number: s.number,
					Complete: true, Result: s.result, FinishedAt: at(s.done),
				}
				got := Classify(previous(history, cur), cur)
				if !reflect.DeepEqual(got, s.want) {
					t.Errorf("build %s (#%d %s on %s) = %v, want %v", s.id, s.number, s.result, s.branch, got, s.want)
				}
				history = append(history, cur)
			}
		})
	}
}
