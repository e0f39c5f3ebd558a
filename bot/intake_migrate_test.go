package bot

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/herald-ci/herald/commands"
)

// TestIntakeFollowsChatMigration: when a group becomes a supergroup Telegram posts a service
// message in each: migrate_to_chat_id in the old group, migrate_from_chat_id as the first
// message of the new one. The intake moves the chat (registration, subscriptions) when it
// reads either, so a command sent in the supergroup before herald wrote to the old group (and
// learned of the move from a refused send) is judged as the registered chat it is, and the
// old group's row is not brought back.
func TestIntakeFollowsChatMigration(t *testing.T) {
	for _, tt := range []struct {
		name, chat, field string
		from              int64
	}{
		{"migrate_from in the supergroup", `{"id":-1001,"type":"supergroup","title":"team"}`, "migrate_from_chat_id", -1},
		{"migrate_to in the group", `{"id":-1,"type":"group","title":"team"}`, "migrate_to_chat_id", -1001},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, fastLimits(), fastOptions())
			handler := handlerMap{"ping": func(ctx context.Context, req commands.Request) (commands.Response, error) {
				ok, err := h.st.ChatRegistered(ctx, req.ChatID)
				return commands.Say(fmt.Sprintf("registered %v", ok)), err
			}}
			if _, err := h.st.Pool().Exec(ctx, `INSERT INTO chats (id, type, title) VALUES (-1, 'group', 'team')`); err != nil {
				t.Fatal(err)
			}
			if err := h.st.RegisterChat(ctx, -1, "approval", 9); err != nil {
				t.Fatal(err)
			}
			if err := h.st.SetNotifySettings(ctx, -1, 0, []string{"problem"}, nil, nil); err != nil {
				t.Fatal(err)
			}
			r := startIntake(t, h, handler, IntakeOptions{})
			id := r.tg.SendRawUpdate("message", json.RawMessage(fmt.Sprintf(
				`{"message_id":1,"date":1767000000,"from":{"id":42,"is_bot":false,"first_name":"Ann"},"chat":%s,%q:%d}`,
				tt.chat, tt.field, tt.from)))
			waitFor(t, "the service message handled", func() bool {
				handled, err := r.st.IsHandled(ctx, id)
				return err == nil && handled
			})
			if ok, err := r.st.ChatRegistered(ctx, -1001); err != nil || !ok {
				t.Errorf("ChatRegistered(supergroup) = %v, %v; want true", ok, err)
			}
			var n int
			if err := r.st.Pool().QueryRow(ctx, `SELECT count(*) FROM chats WHERE id = -1`).Scan(&n); err != nil || n != 0 {
				t.Errorf("%d rows of the old group (%v), want none", n, err)
			}
			if err := r.st.Pool().QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE chat_id = -1001 AND 'problem' = ANY(events)`).Scan(&n); err != nil || n != 1 {
				t.Errorf("the group's subscription did not move (%d, %v)", n, err)
			}
			r.tg.SendRawUpdate("message", json.RawMessage(`{"message_id":2,"date":1767000001,"from":{"id":42,"is_bot":false,"first_name":"Ann"},
				"chat":{"id":-1001,"type":"supergroup","title":"team"},"text":"/ping","entities":[{"type":"bot_command","offset":0,"length":5}]}`))
			if msgs := waitMessages(t, r.tg, -1001, 1); msgs[0].Text != "registered true" {
				t.Errorf("the supergroup's command answered %q, want registered true", msgs[0].Text)
			}
		})
	}
}
