package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store/storetest"
)

// A subscription with tags (/notify tag=NAME) hears only of builds whose builder has one of
// them; worker events are not tagged and pass; no tags means every build.
func TestTakeTargetsByTags(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	for _, id := range []int64{1, 2, 3} {
		exec(t, s, `INSERT INTO chats (id, type) VALUES ($1, 'private')`, id)
		if err := s.SetNotifySettings(ctx, id, 0, []string{"failure", "worker"}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetNotifyTags(ctx, 1, 0, []string{"core"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNotifyTags(ctx, 2, 0, []string{"docs", "quick"}); err != nil {
		t.Fatal(err)
	}
	failed := func(builder string, tags ...string) ci.Event {
		return ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindFailure},
			Build: &ci.Build{ID: builder, Builder: builder, Branch: "main", Result: ci.ResultFailure, Complete: true, Tags: tags}}
	}
	tests := []struct {
		name  string
		ev    ci.Event
		chats []int64
	}{
		{"core builder", failed("toggle", "core"), []int64{1, 3}},
		{"one of two tags", failed("pass", "quick"), []int64{2, 3}},
		{"untagged builder", failed("slow"), []int64{3}},
		{"worker", ci.Event{Conn: "bb", Kind: ci.KindWorker, WorkerState: ci.WorkerMissing, Worker: &ci.Worker{Name: "w"}}, []int64{1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chatIDs(match(t, s, tt.ev)); !slices.Equal(got, tt.chats) {
				t.Errorf("chats %v, want %v", got, tt.chats)
			}
		})
	}

	// Tags are kept apart from the rest of the settings: setting those leaves them.
	if err := s.SetNotifySettings(ctx, 1, 0, []string{"problem"}, []string{"t*"}, nil); err != nil {
		t.Fatal(err)
	}
	if tags, err := s.NotifyTags(ctx, 1, 0); err != nil || !slices.Equal(tags, []string{"core"}) {
		t.Errorf("NotifyTags after SetNotifySettings = %q, %v", tags, err)
	}
	if tags, err := s.NotifyTags(ctx, 3, 7); err != nil || tags == nil || len(tags) != 0 {
		t.Errorf("NotifyTags of a topic with none = %#v, %v", tags, err)
	}
	// A topic without a subscription gets one by its tags alone, hearing nothing yet.
	if err := s.SetNotifyTags(ctx, 3, 7, []string{"core"}); err != nil {
		t.Fatal(err)
	}
	subs, err := s.ListSubscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range subs {
		if sub.ThreadID == 7 {
			t.Errorf("a subscription with tags and no events is listed: %+v", sub)
		}
		if sub.ChatID == 2 && !slices.Equal(sub.Tags, []string{"docs", "quick"}) {
			t.Errorf("ListSubscriptions tags = %q", sub.Tags)
		}
	}
	// A group that becomes a supergroup keeps its tags.
	exec(t, s, `INSERT INTO chats (id, type) VALUES (-5, 'group'), (-1005, 'supergroup')`)
	if err := s.SetNotifySettings(ctx, -5, 0, []string{"failure"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SetNotifyTags(ctx, -5, 0, []string{"docs"}); err != nil {
		t.Fatal(err)
	}
	if err := s.MigrateChat(ctx, -5, -1005); err != nil {
		t.Fatal(err)
	}
	if tags, err := s.NotifyTags(ctx, -1005, 0); err != nil || !slices.Equal(tags, []string{"docs"}) {
		t.Errorf("tags after the migration = %q, %v", tags, err)
	}
}

// The builder's tags, the revisions and the blame list a provider sent stay on the event the
// merge returns (TakeTargets and the messages read them there), and on a duplicate's.
func TestRecordEventKeepsTagsAndBlame(t *testing.T) {
	s := storetest.New(t)
	ev := ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &ci.Build{ID: "9", Builder: "toggle", Number: 3, Result: ci.ResultFailure,
		Complete: true, Tags: []string{"core"}, Revisions: []string{"aaa", "bbb"}, Blamelist: []string{"Bob", "Alice"}}}
	for _, round := range []string{"first", "duplicate"} {
		stored, _, _, err := s.RecordEvent(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		b := stored.Build
		if !slices.Equal(b.Tags, []string{"core"}) || !slices.Equal(b.Revisions, []string{"aaa", "bbb"}) || !slices.Equal(b.Blamelist, []string{"Bob", "Alice"}) {
			t.Errorf("%s: stored build tags %q revisions %q blame %q", round, b.Tags, b.Revisions, b.Blamelist)
		}
	}
}
