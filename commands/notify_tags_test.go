package commands_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

func TestParseNotifyTags(t *testing.T) {
	for _, tt := range []struct {
		args string
		want []string
	}{
		{"on tag=core", []string{"core"}},
		{"on problem tags=core,docs,core", []string{"core", "docs"}},
		{"on tag=", []string{}},
		{"on tag=*", []string{}},
		{"on problem", nil},
	} {
		got, err := commands.ParseNotify(strings.Fields(tt.args))
		if err != nil || !reflect.DeepEqual(got.Tags, tt.want) {
			t.Errorf("%s: tags %#v, %v; want %#v", tt.args, got.Tags, err, tt.want)
		}
	}
	if _, err := commands.ParseNotify([]string{"on", "label=x"}); err == nil {
		t.Error("an unknown filter was accepted")
	} else if msg, _ := commands.AsUser(err); !strings.Contains(msg, "tag=") {
		t.Errorf("unknown filter error %q does not name tag=", msg)
	}
}

// /notify on … tag=NAME stores the tags with the chat's subscription, /notify list shows
// them, the other settings leave them, and tag= clears them.
func TestNotifyTags(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res := e.send(groupID, nobody, "/notify on failure tag=core,docs")
	mustContain(t, res, "failure", "Only tags: <code>core, docs</code>")
	if tags, err := e.st.NotifyTags(ctx, groupID, 0); err != nil || !slices.Equal(tags, []string{"core", "docs"}) {
		t.Fatalf("stored tags %q, %v", tags, err)
	}
	e.send(groupID, nobody, "/notify on problem builder=t*")
	mustContain(t, e.send(groupID, nobody, "/notify list"), "Only tags: <code>core, docs</code>", "Only builders: <code>t*</code>")
	res = e.send(groupID, nobody, "/notify on tag=")
	if strings.Contains(text(res), "Only tags") {
		t.Errorf("tag= did not clear: %s", text(res))
	}
	if tags, _ := e.st.NotifyTags(ctx, groupID, 0); len(tags) != 0 {
		t.Errorf("tags after tag= %q", tags)
	}
	ev, _, _ := settings(t, e, groupID, 0)
	if !slices.Equal(ev, []string{"failure", "problem"}) {
		t.Errorf("tag= alone changed the events: %v", ev)
	}

	// Tags filter what the chat hears, through the store's matching.
	e.send(groupID, nobody, "/notify on tag=core")
	e.send(groupID, nobody, "/notify on failure builder=")
	for _, tt := range []struct {
		tags []string
		want bool
	}{{[]string{"core"}, true}, {[]string{"docs"}, false}, {nil, false}} {
		ev := ci.Event{Conn: "bb", Kind: ci.KindFinished, Derived: []ci.Kind{ci.KindFailure},
			Build: &ci.Build{ID: "1", Builder: "toggle", Result: ci.ResultFailure, Complete: true, Tags: tt.tags}}
		var heard bool
		err := e.st.InTx(ctx, func(tx *store.Tx) error {
			ts, err := tx.TakeTargets(ctx, ev)
			for _, t := range ts {
				heard = heard || t.ChatID == groupID
			}
			return err
		})
		if err != nil || heard != tt.want {
			t.Errorf("build with tags %q: heard %v (%v), want %v", tt.tags, heard, err, tt.want)
		}
	}
}
