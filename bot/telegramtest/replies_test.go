package telegramtest

import "testing"

// A reply names a bot message of the chat; a missing or deleted one is refused unless
// allow_sending_without_reply is set, and in a forum topic even then.
func TestReplies(t *testing.T) {
	s := newTestServer(t, Options{})
	first := send(t, s, map[string]any{"chat_id": group.ID, "text": "problem"})
	gone := send(t, s, map[string]any{"chat_id": group.ID, "text": "deleted later"})
	callJSON(t, s, "deleteMessage", map[string]any{"chat_id": group.ID, "message_id": gone.MessageID})
	inTopic := send(t, s, map[string]any{"chat_id": group.ID, "text": "topic problem", "message_thread_id": 7})

	tests := []struct {
		name      string
		params    map[string]any
		wantReply int
		wantErr   string
	}{
		{"reply_parameters", map[string]any{"reply_parameters": map[string]any{"message_id": first.MessageID}}, first.MessageID, ""},
		{"legacy reply_to_message_id", map[string]any{"reply_to_message_id": first.MessageID}, first.MessageID, ""},
		{"deleted", map[string]any{"reply_parameters": map[string]any{"message_id": gone.MessageID}}, 0, "Bad Request: message to be replied not found"},
		{"unknown", map[string]any{"reply_parameters": map[string]any{"message_id": 999}}, 0, "Bad Request: message to be replied not found"},
		{"deleted, allowed without", map[string]any{"reply_parameters": map[string]any{"message_id": gone.MessageID, "allow_sending_without_reply": true}}, 0, ""},
		{"other topic", map[string]any{"message_thread_id": 7, "reply_parameters": map[string]any{"message_id": first.MessageID, "allow_sending_without_reply": true}}, 0, "Bad Request: message to be replied not found"},
		{"same topic", map[string]any{"message_thread_id": 7, "reply_parameters": map[string]any{"message_id": inTopic.MessageID}}, inTopic.MessageID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := map[string]any{"chat_id": group.ID, "text": "recovery " + tt.name}
			for k, v := range tt.params {
				p[k] = v
			}
			r := callJSON(t, s, "sendMessage", p)
			if tt.wantErr != "" {
				if r.OK || r.Description != tt.wantErr {
					t.Fatalf("answer %+v; want %q", r, tt.wantErr)
				}
				return
			}
			if !r.OK {
				t.Fatalf("refused: %s", r.Description)
			}
			msgs := s.Messages(group.ID)
			if got := msgs[len(msgs)-1]; got.ReplyTo != tt.wantReply {
				t.Errorf("ReplyTo = %d; want %d", got.ReplyTo, tt.wantReply)
			}
		})
	}
}
