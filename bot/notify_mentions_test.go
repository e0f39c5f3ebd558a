package bot

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func TestAuthorIdentities(t *testing.T) {
	for _, tt := range []struct {
		name, kind    string
		author, owner string
		want          []store.Identity
	}{
		{"github: the pusher's login; the author's name is no login", "github", "Ann Smith", "ann",
			[]store.Identity{{Kind: "github", Value: "ann"}}},
		{"gitlab: author login first, then owner", "gitlab", "ann", "bob",
			[]store.Identity{{Kind: "gitlab", Value: "ann"}, {Kind: "gitlab", Value: "bob"}}},
		{"buildbot: the author as written and its address", "buildbot", "Ann <Ann@Example.com>", "",
			[]store.Identity{{Kind: "email", Value: "Ann@Example.com"}, {Kind: "buildbot", Value: "Ann <Ann@Example.com>"}}},
		{"jenkins: only an address counts", "jenkins", "", "ann@example.com",
			[]store.Identity{{Kind: "email", Value: "ann@example.com"}}},
		{"jenkins: a user name is nobody's", "jenkins", "", "ann", nil},
		{"the same login twice is asked once", "github", "ANN", "ann", []store.Identity{{Kind: "github", Value: "ANN"}}},
		{"nobody", "github", "", "", nil},
		{"a herald force: no login", "github", "", "alice (telegram 123)", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := AuthorIdentities(tt.kind, ci.Build{Author: tt.author, Owner: tt.owner})
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AuthorIdentities = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestMentionLine(t *testing.T) {
	got := MentionLine([]store.PersonLink{{TelegramID: 7, Name: "Ann <3"}, {TelegramID: 8, Identity: "bob"}})
	want := `🔔 <a href="tg://user?id=7">Ann &lt;3</a>, <a href="tg://user?id=8">bob</a>`
	if got != want {
		t.Errorf("MentionLine = %q; want %q", got, want)
	}
	many := make([]store.PersonLink, 7)
	for i := range many {
		many[i] = store.PersonLink{TelegramID: int64(i + 1), Name: "p"}
	}
	if got := MentionLine(many); strings.Count(got, "tg://user") != maxMentions || !strings.HasSuffix(got, "and 2 more") {
		t.Errorf("MentionLine of 7 = %q; want %d mentions and 2 more", got, maxMentions)
	}
}

// TestNotifierMentions: through the real store, a problem caused by a linked author gets a
// mention of them in a private chat always, in a group only once it turned mentions on, and
// in a grouped message's line too; other messages of the event, and a recovery, keep the
// shared text.
func TestNotifierMentions(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	const ann = int64(4242)
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO chats (id, type, card_mode) VALUES (1, 'private', 'new'), (-10, 'supergroup', 'new'), (-20, 'supergroup', 'new');
		INSERT INTO subscriptions (chat_id, events) VALUES (1, '{problem,recovery}'), (-10, '{problem,recovery}'), (-20, '{problem,recovery}')`); err != nil {
		t.Fatal(err)
	}
	if err := st.SeedPeople(ctx, []store.PersonLink{{TelegramID: ann, Kind: store.IdentityGitLab, Identity: "ann"}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := st.SetMentions(ctx, -20, 0, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	n := NewNotifier(st, NotifyOptions{ConnKind: func(conn string) string { return map[string]string{"gl": "gitlab"}[conn] }},
		zerolog.New(zerolog.NewTestWriter(t)))
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	number := 0
	deliver := func(conn string, r ci.Result, owner string) {
		t.Helper()
		number++
		start := t0.Add(time.Duration(number) * time.Hour)
		b := ci.Build{Conn: conn, ID: conn + string(rune('a'+number)), Number: number, Builder: "app", Branch: "main",
			StartedAt: start, FinishedAt: start.Add(time.Minute), Complete: true, Result: r, Owner: owner, Author: "Ann Smith"}
		if err := n.Deliver(ctx, ci.Event{Conn: conn, Kind: ci.KindFinished, Build: &b, At: b.FinishedAt}); err != nil {
			t.Fatal(err)
		}
	}
	type row struct{ text, item string }
	take := func() map[int64]row {
		t.Helper()
		rows, err := st.Pool().Query(ctx, `DELETE FROM outbox RETURNING chat_id, text, group_item`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[int64]row{}
		for rows.Next() {
			var chat int64
			var r row
			if err := rows.Scan(&chat, &r.text, &r.item); err != nil {
				t.Fatal(err)
			}
			out[chat] = r
		}
		return out
	}
	mention := `<a href="tg://user?id=4242">ann</a>`

	deliver("gl", ci.ResultSuccess, "ann")
	take()
	deliver("gl", ci.ResultFailure, "ann") // a problem by gitlab:ann
	got := take()
	if len(got) != 3 {
		t.Fatalf("queued %v; want one problem per chat", got)
	}
	for chat, want := range map[int64]bool{1: true, -10: false, -20: true} {
		r := got[chat]
		if !strings.Contains(r.text, "Problem") {
			t.Fatalf("chat %d got %q; want the problem", chat, r.text)
		}
		if has := strings.Contains(r.text, mention); has != want {
			t.Errorf("chat %d: mention in the text %v; want %v:\n%s", chat, has, want, r.text)
		}
		var it groupItem
		if err := json.Unmarshal([]byte(r.item), &it); err != nil {
			t.Fatalf("chat %d: group item %q does not read: %v", chat, r.item, err)
		}
		if strings.Contains(it.Line, mention) != want {
			t.Errorf("chat %d: mention in the group line %q; want %v", chat, it.Line, want)
		}
	}
	if strings.TrimSuffix(got[1].text, "\n🔔 "+mention) != got[-10].text {
		t.Errorf("the mention is not one line added to the shared text:\n%q\n%q", got[1].text, got[-10].text)
	}

	deliver("gl", ci.ResultSuccess, "ann") // a recovery mentions nobody
	for chat, r := range take() {
		if strings.Contains(r.text, "tg://user") {
			t.Errorf("chat %d: the recovery mentions someone: %s", chat, r.text)
		}
	}
	deliver("gl", ci.ResultFailure, "zoe") // nobody linked
	for chat, r := range take() {
		if strings.Contains(r.text, "tg://user") {
			t.Errorf("chat %d: a problem by an unlinked author mentions someone: %s", chat, r.text)
		}
	}
	deliver("gl", ci.ResultSuccess, "ann")
	take()
	// On a connection of another kind the GitLab login is nobody's.
	deliver("other", ci.ResultSuccess, "ann")
	deliver("other", ci.ResultFailure, "ann")
	for chat, r := range take() {
		if strings.Contains(r.text, "tg://user") {
			t.Errorf("chat %d: a problem on a non-GitLab connection mentions gitlab:ann: %s", chat, r.text)
		}
	}
}
