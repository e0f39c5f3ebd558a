package telegramtest

import (
	"strings"
	"testing"
)

func send(t *testing.T, s *Server, params map[string]any) resultMessage {
	t.Helper()
	return decodeResult[resultMessage](t, callJSON(t, s, "sendMessage", params))
}

func TestMessageIDsPerChat(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SendText(group, ann, "/status") // takes message id 1 in the group
	a1 := send(t, s, map[string]any{"chat_id": group.ID, "text": "one"})
	p1 := send(t, s, map[string]any{"chat_id": ann.ID, "text": "private"})
	a2 := send(t, s, map[string]any{"chat_id": group.ID, "text": "two", "message_thread_id": 7})
	if a1.MessageID != 2 || a2.MessageID != 3 || p1.MessageID != 1 {
		t.Fatalf("ids: group %d,%d private %d", a1.MessageID, a2.MessageID, p1.MessageID)
	}
	if a1.Chat.Type != "supergroup" || p1.Chat.Type != "private" || a2.MessageThreadID != 7 {
		t.Fatalf("results: %+v %+v %+v", a1, p1, a2)
	}
	msgs := s.Messages(group.ID)
	if len(msgs) != 2 || msgs[0].Text != "one" || msgs[1].Text != "two" || msgs[1].ThreadID != 7 {
		t.Fatalf("messages = %+v", msgs)
	}
	all := s.AllSent()
	if len(all) != 3 || all[1].ChatID != ann.ID {
		t.Fatalf("all sent = %+v", all)
	}
	if got, err := s.WaitMessages(testCtx(t), group.ID, 2); err != nil || len(got) != 2 {
		t.Fatalf("WaitMessages = %v, %v", got, err)
	}
}

func TestWaitMessagesWaits(t *testing.T) {
	s := newTestServer(t, Options{})
	done := make(chan []Message, 1)
	go func() {
		msgs, _ := s.WaitMessages(testCtx(t), 42, 2)
		done <- msgs
	}()
	send(t, s, map[string]any{"chat_id": 42, "text": "a"})
	send(t, s, map[string]any{"chat_id": 42, "text": "b"})
	if msgs := <-done; len(msgs) != 2 {
		t.Fatalf("got %+v", msgs)
	}
	ctx, cancel := contextWithCancel(t)
	cancel()
	if _, err := s.WaitMessages(ctx, 42, 3); err == nil || !strings.Contains(err.Error(), "have 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestEditMessageText(t *testing.T) {
	s := newTestServer(t, Options{})
	m := send(t, s, map[string]any{"chat_id": 42, "text": "<b>running</b>", "parse_mode": "HTML", "reply_markup": kb("stop:1")})
	edit := func(params map[string]any) apiReply {
		params["chat_id"] = 42
		if _, ok := params["message_id"]; !ok {
			params["message_id"] = m.MessageID
		}
		return callJSON(t, s, "editMessageText", params)
	}
	r := edit(map[string]any{"text": "<b>running</b>", "parse_mode": "HTML", "reply_markup": kb("stop:1")})
	if r.Status != 400 || !strings.HasPrefix(r.Description, "Bad Request: message is not modified") {
		t.Fatalf("identical edit: %d %q", r.Status, r.Description)
	}
	got := decodeResult[resultMessage](t, edit(map[string]any{"text": "<b>done</b>", "parse_mode": "HTML"}))
	if got.Text != "done" || got.ReplyMarkup != nil {
		t.Fatalf("edited = %+v", got)
	}
	msgs := s.Messages(42)
	if len(msgs) != 1 || msgs[0].Text != "<b>done</b>" || msgs[0].Edits != 1 || msgs[0].Keyboard != nil {
		t.Fatalf("after edit: %+v", msgs)
	}
	if all := s.AllSent(); all[0].Text != "<b>running</b>" {
		t.Fatalf("AllSent shows the message as sent, got %+v", all[0])
	}
	if r := edit(map[string]any{"text": "x", "message_id": 99}); r.Description != "Bad Request: message to edit not found" {
		t.Fatalf("missing message: %q", r.Description)
	}
	if r := edit(map[string]any{"text": "<i>x", "parse_mode": "HTML"}); r.Status != 400 || !strings.Contains(r.Description, "can't parse entities") {
		t.Fatalf("bad html edit: %q", r.Description)
	}

	// Reply markup alone.
	mk := func(markup any) apiReply {
		params := map[string]any{"chat_id": 42, "message_id": m.MessageID}
		if markup != nil {
			params["reply_markup"] = markup
		}
		return callJSON(t, s, "editMessageReplyMarkup", params)
	}
	if r := mk(nil); !strings.HasPrefix(r.Description, "Bad Request: message is not modified") {
		t.Fatalf("removing absent keyboard: %q", r.Description)
	}
	if r := mk(kb("again")); !r.OK {
		t.Fatalf("set keyboard: %q", r.Description)
	}
	if msgs := s.Messages(42); msgs[0].Edits != 2 || msgs[0].Keyboard[0][0].CallbackData != "again" {
		t.Fatalf("after markup edit: %+v", msgs[0])
	}
	if r := mk(kb(strings.Repeat("z", 65))); r.Description != "Bad Request: BUTTON_DATA_INVALID" {
		t.Fatalf("long data in edit: %q", r.Description)
	}
}

func TestDeleteMessage(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SendText(PrivateChat(ann), ann, "hi") // user message 1
	m := send(t, s, map[string]any{"chat_id": ann.ID, "text": "x"})
	del := func(id int) apiReply {
		return callJSON(t, s, "deleteMessage", map[string]any{"chat_id": ann.ID, "message_id": id})
	}
	if r := del(m.MessageID); !r.OK {
		t.Fatalf("delete: %q", r.Description)
	}
	if r := del(m.MessageID); r.Description != "Bad Request: message to delete not found" {
		t.Fatalf("second delete: %q", r.Description)
	}
	if r := del(1); !r.OK {
		t.Fatalf("deleting the user's message: %q", r.Description)
	}
	if r := del(50); r.Status != 400 {
		t.Fatalf("deleting a message that never was: %d", r.Status)
	}
	msgs := s.Messages(ann.ID)
	if len(msgs) != 1 || !msgs[0].Deleted {
		t.Fatalf("messages = %+v", msgs)
	}
	r := callJSON(t, s, "editMessageText", map[string]any{"chat_id": ann.ID, "message_id": m.MessageID, "text": "y"})
	if r.Description != "Bad Request: message to edit not found" {
		t.Fatalf("edit deleted: %q", r.Description)
	}
}

func TestCommands(t *testing.T) {
	s := newTestServer(t, Options{})
	cmds := []map[string]string{{"command": "status", "description": "Builder status"}, {"command": "force", "description": "Start a build"}}
	if r := callMultipart(t, s, "setMyCommands", map[string]string{"commands": mustJSON(t, cmds)}); !r.OK {
		t.Fatalf("setMyCommands: %q", r.Description)
	}
	if got := s.Commands(); len(got) != 2 || got[1] != (BotCommand{"force", "Start a build"}) {
		t.Fatalf("Commands = %+v", got)
	}
	got := decodeResult[[]BotCommand](t, callJSON(t, s, "getMyCommands", nil))
	if len(got) != 2 || got[0].Command != "status" {
		t.Fatalf("getMyCommands = %+v", got)
	}
	scoped := map[string]any{"commands": []map[string]string{{"command": "watch", "description": "w"}},
		"scope": map[string]any{"type": "chat", "chat_id": -100123}}
	if r := callJSON(t, s, "setMyCommands", scoped); !r.OK {
		t.Fatalf("scoped: %q", r.Description)
	}
	if got := s.CommandsFor("chat/-100123"); len(got) != 1 {
		t.Fatalf("CommandsFor = %+v", got)
	}
	for name, bad := range map[string]map[string]string{
		"upper case":       {"command": "Status", "description": "d"},
		"empty descr":      {"command": "status", "description": ""},
		"33 chars command": {"command": strings.Repeat("a", 33), "description": "d"},
	} {
		r := callJSON(t, s, "setMyCommands", map[string]any{"commands": []map[string]string{bad}})
		if r.Status != 400 {
			t.Fatalf("%s accepted", name)
		}
	}
}

func TestGetChatMember(t *testing.T) {
	s := newTestServer(t, Options{})
	s.SendText(group, ann, "hi")
	s.SetMember(group.ID, ann.ID, "administrator")
	s.SetMember(group.ID, bob.ID, "creator")
	tests := []struct {
		user   int64
		status string
	}{{ann.ID, "administrator"}, {bob.ID, "creator"}, {99, "member"}}
	for _, tc := range tests {
		r := callForm(t, s, "getChatMember", map[string][]string{
			"chat_id": {"-1001234567890"}, "user_id": {itoa(tc.user)}})
		got := decodeResult[struct {
			Status string `json:"status"`
			User   struct {
				ID       int64  `json:"id"`
				Username string `json:"username"`
			} `json:"user"`
		}](t, r)
		if got.Status != tc.status || got.User.ID != tc.user {
			t.Fatalf("user %d: %+v", tc.user, got)
		}
		if tc.user == ann.ID && got.User.Username != "ann" {
			t.Fatalf("known user lacks username: %+v", got)
		}
	}
}

func TestStrictChats(t *testing.T) {
	s := newTestServer(t, Options{StrictChats: true})
	if r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": 5, "text": "x"}); r.Description != "Bad Request: chat not found" {
		t.Fatalf("unknown chat: %d %q", r.Status, r.Description)
	}
	s.SendText(PrivateChat(ann), ann, "/start")
	if r := callJSON(t, s, "sendMessage", map[string]any{"chat_id": ann.ID, "text": "x"}); !r.OK {
		t.Fatalf("known chat: %q", r.Description)
	}
	s.AddChat(Chat{ID: -5, Type: "group", Title: "G"})
	chat := decodeResult[struct {
		Title string `json:"title"`
		Type  string `json:"type"`
	}](t, callJSON(t, s, "getChat", map[string]any{"chat_id": -5}))
	if chat.Title != "G" || chat.Type != "group" {
		t.Fatalf("getChat = %+v", chat)
	}
}
