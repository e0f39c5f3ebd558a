package main

// Helpers for the end-to-end tests of the chat commands: herald wired to a real Buildbot
// master, and ways to read what a user sees (messages, keyboards, callback answers) and what
// herald stored (audit log, watches).

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/buildbot/buildbottest"
)

// forceAuthz lets alice, and only alice, run the dangerous commands; safe ones stay open to
// everyone (Buildbot's defaults).
var forceAuthz = fmt.Sprintf(`authz:
  rules:
    - commands: [force, stop]
      allow: [%d]
`, alice.ID)

// ciYAML connects herald to the master m as connection "main".
func ciYAML(m *buildbottest.Master) string {
	return fmt.Sprintf("ci:\n  - name: main\n    type: buildbot\n    url: %s\n", m.URL())
}

// startWithCI starts a fake Telegram and herald connected to m, with forceAuthz.
func startWithCI(t *testing.T, m *buildbottest.Master) (*telegramtest.Server, *heraldProc) {
	t.Helper()
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: ciYAML(m) + forceAuthz})
	h.start()
	return tg, h
}

// waitMessage waits until chat has a bot message (as it stands now, edits applied) that
// satisfies ok, and returns the latest such message.
func waitMessage(t *testing.T, tg *telegramtest.Server, chatID int64, what string, ok func(telegramtest.Message) bool) telegramtest.Message {
	t.Helper()
	var found telegramtest.Message
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		msgs := tg.Messages(chatID)
		for i := len(msgs) - 1; i >= 0; i-- {
			if ok(msgs[i]) {
				return msgs[i]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s in chat %d; messages:\n%s", what, chatID, dumpMessages(tg.Messages(chatID)))
	return found
}

// waitText waits for a bot message in chat whose text contains every one of parts.
func waitText(t *testing.T, tg *telegramtest.Server, chatID int64, parts ...string) telegramtest.Message {
	t.Helper()
	return waitMessage(t, tg, chatID, fmt.Sprintf("a message with %q", parts), func(m telegramtest.Message) bool {
		return containsAll(m.Text, parts...)
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// countText counts the bot messages in chat whose text contains every one of parts.
func countText(tg *telegramtest.Server, chatID int64, parts ...string) int {
	n := 0
	for _, m := range tg.Messages(chatID) {
		if containsAll(m.Text, parts...) {
			n++
		}
	}
	return n
}

func dumpMessages(msgs []telegramtest.Message) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "  #%d (edits %d): %q", m.MessageID, m.Edits, m.Text)
		for _, row := range m.Keyboard {
			for _, btn := range row {
				fmt.Fprintf(&b, " [%s]", btn.Text)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// buttonData returns the callback data of the button of msg whose label contains label.
func buttonData(t *testing.T, msg telegramtest.Message, label string) string {
	t.Helper()
	for _, row := range msg.Keyboard {
		for _, b := range row {
			if strings.Contains(b.Text, label) && b.CallbackData != "" {
				return b.CallbackData
			}
		}
	}
	t.Fatalf("message #%d %q has no button %q; keyboard %+v", msg.MessageID, msg.Text, label, msg.Keyboard)
	return ""
}

// press presses the button labelled label under msg, as user in chat, and returns the
// callback query id.
func press(t *testing.T, tg *telegramtest.Server, chat telegramtest.Chat, user telegramtest.User, msg telegramtest.Message, label string) string {
	t.Helper()
	_, qid := tg.PressButton(chat, user, msg.MessageID, buttonData(t, msg, label))
	return qid
}

// waitAnswer waits until herald answered the callback query qid and returns the answer.
func waitAnswer(t *testing.T, tg *telegramtest.Server, qid string) telegramtest.CallbackAnswer {
	t.Helper()
	var got telegramtest.CallbackAnswer
	waitFor(t, "the answer to callback query "+qid, func() bool {
		for _, a := range tg.CallbackAnswers() {
			if a.QueryID == qid {
				got = a
				return true
			}
		}
		return false
	})
	return got
}

// dbConn opens herald's database for assertions.
func dbConn(t *testing.T, h *heraldProc) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		t.Fatalf("connecting to herald's database: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// dbCount runs a SELECT count(*) query on herald's database, on a connection of its own that
// it closes: called inside waitFor, a connection kept per call would exhaust the server's.
func dbCount(t *testing.T, h *heraldProc, query string, args ...any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, h.dbURL)
	if err != nil {
		t.Fatalf("connecting to herald's database: %v", err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitOutboxEmpty waits until herald has sent every message it queued: a barrier after which
// the messages an event caused are all in the fake's record.
func waitOutboxEmpty(t *testing.T, h *heraldProc) {
	t.Helper()
	conn := dbConn(t, h)
	waitFor(t, "herald's outbox to drain", func() bool {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM outbox`).Scan(&n)
		return err == nil && n == 0
	})
}

// auditRow is one row of audit_log.
type auditRow struct {
	UserID  int64
	ChatID  int64
	Command string
	Args    string
	Builder string
	Outcome string
	Detail  string
	At      time.Time
}

func auditRows(t *testing.T, h *heraldProc) []auditRow {
	t.Helper()
	conn := dbConn(t, h)
	rows, err := conn.Query(context.Background(), `
		SELECT user_id, chat_id, command, args, builder, outcome, detail, at FROM audit_log ORDER BY id`)
	if err != nil {
		t.Fatalf("reading audit_log: %v", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditRow, error) {
		var a auditRow
		err := r.Scan(&a.UserID, &a.ChatID, &a.Command, &a.Args, &a.Builder, &a.Outcome, &a.Detail, &a.At)
		return a, err
	})
	if err != nil {
		t.Fatalf("reading audit_log: %v", err)
	}
	return out
}

// waitSent waits until herald sent chat a message whose text, as sent (before any edit),
// contains every one of parts: a live card edited later still proves what it first said.
func waitSent(t *testing.T, tg *telegramtest.Server, chatID int64, parts ...string) telegramtest.Message {
	t.Helper()
	var got telegramtest.Message
	waitFor(t, fmt.Sprintf("a message sent to %d with %q", chatID, parts), func() bool {
		for _, m := range tg.AllSent() {
			if m.ChatID == chatID && containsAll(m.Text, parts...) {
				got = m
				return true
			}
		}
		return false
	})
	return got
}
