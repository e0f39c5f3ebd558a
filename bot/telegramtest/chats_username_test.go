package telegramtest

import "testing"

// getChat takes "@username" for a public channel or group, in any case, as Telegram does;
// a name no chat has is "chat not found".
func TestGetChatByUsername(t *testing.T) {
	s := newTestServer(t, Options{})
	s.AddChat(Chat{ID: -1001234567890, Type: "channel", Title: "Builds", Username: "herald_builds"})
	chat := decodeResult[struct {
		ID       int64  `json:"id"`
		Type     string `json:"type"`
		Title    string `json:"title"`
		Username string `json:"username"`
	}](t, callJSON(t, s, "getChat", map[string]any{"chat_id": "@Herald_Builds"}))
	if chat.ID != -1001234567890 || chat.Type != "channel" || chat.Title != "Builds" || chat.Username != "herald_builds" {
		t.Fatalf("getChat = %+v", chat)
	}
	if r := callJSON(t, s, "getChat", map[string]any{"chat_id": "@nobody_here"}); r.OK || r.Description != "Bad Request: chat not found" {
		t.Fatalf("unknown username: %d %q", r.Status, r.Description)
	}
}
