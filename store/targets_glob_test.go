package store_test

import (
	"slices"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store/storetest"
)

// TestTakeTargetsGlobsAcrossSlashes: /notify builder= and branch= filters use the same
// globs as authz, where * matches across "/" (issue 8, item 10): docs-* is meant to cover
// docs-x/arm, and feature/* a branch feature/x/y.
func TestTakeTargetsGlobsAcrossSlashes(t *testing.T) {
	s := storetest.New(t)
	for _, id := range []int64{1, 2, 3, 4} {
		exec(t, s, `INSERT INTO chats (id, type) VALUES ($1, 'private')`, id)
	}
	sub := func(chat int64, builders, branches []string) {
		exec(t, s, `INSERT INTO subscriptions (chat_id, events, builders, branches) VALUES ($1, $2, $3, $4)`,
			chat, []string{"failure", "worker"}, builders, branches)
	}
	sub(1, []string{"docs-*"}, []string{})
	sub(2, []string{}, []string{"feature/*"})
	sub(3, []string{"www"}, []string{})
	sub(4, []string{"*/arm"}, []string{"main"})

	failed := func(builder, branch string) ci.Event {
		return ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindFailure},
			Build: &ci.Build{ID: builder + branch, Builder: builder, Branch: branch, Result: ci.ResultFailure, Complete: true}}
	}
	tests := []struct {
		name  string
		ev    ci.Event
		chats []int64
	}{
		{"builder with a slash", failed("docs-x/arm", "dev"), []int64{1}},
		{"branch with two slashes", failed("linux", "feature/x/y"), []int64{2}},
		{"star before a slash", failed("release-1.0/arm", "main"), []int64{4}},
		{"no filter matches", failed("linux", "dev"), nil},
		{"worker serving a builder with a slash", ci.Event{Conn: "bb", Kind: ci.KindWorker, WorkerState: ci.WorkerMissing,
			Worker: &ci.Worker{Name: "w", Builders: []string{"docs-x/arm"}}}, []int64{1, 2, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chatIDs(match(t, s, tt.ev)); !slices.Equal(got, tt.chats) {
				t.Errorf("chats %v, want %v", got, tt.chats)
			}
		})
	}
}
