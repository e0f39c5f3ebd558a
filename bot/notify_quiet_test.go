package bot

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store/storetest"
)

// TestInQuietHours: windows within a day and across midnight, at their edges, and on the
// two nights Europe/Berlin changes its clocks (the last Sunday of March and of October
// 2026: 29 March, 02:00 CET → 03:00 CEST; 25 October, 03:00 CEST → 02:00 CET).
func TestInQuietHours(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	const (
		h22, h8, h2, h3 = 22 * 60, 8 * 60, 2 * 60, 3 * 60
		h9, h17         = 9 * 60, 17 * 60
	)
	tests := []struct {
		name     string
		at       time.Time
		from, to int
		loc      *time.Location
		want     bool
	}{
		{"within a day: inside", utc("2026-06-10T12:00:00Z"), h9, h17, time.UTC, true},
		{"within a day: the start is inside", utc("2026-06-10T09:00:00Z"), h9, h17, time.UTC, true},
		{"within a day: the end is outside", utc("2026-06-10T17:00:00Z"), h9, h17, time.UTC, false},
		{"within a day: before", utc("2026-06-10T08:59:59Z"), h9, h17, time.UTC, false},
		{"across midnight: late evening", utc("2026-06-10T21:30:00Z"), h22, h8, berlin, true}, // 23:30 CEST
		{"across midnight: just before the start", utc("2026-06-10T19:59:00Z"), h22, h8, berlin, false},
		{"across midnight: midnight itself", utc("2026-06-10T22:00:00Z"), h22, h8, berlin, true}, // 00:00 CEST, the next day
		{"across midnight: early morning of the next day", utc("2026-06-11T05:59:00Z"), h22, h8, berlin, true},
		{"across midnight: the end", utc("2026-06-11T06:00:00Z"), h22, h8, berlin, false},           // 08:00 CEST
		{"the zone's clock counts, not UTC's", utc("2026-01-10T07:30:00Z"), h22, h8, berlin, false}, // 08:30 CET
		{"in winter 06:30 UTC is 07:30 CET: quiet", utc("2026-01-10T06:30:00Z"), h22, h8, berlin, true},
		// Spring forward: the morning after, 06:30 UTC is 08:30 CEST (loud); the same instant
		// one day earlier is 07:30 CET (quiet).
		{"spring: the day before, 06:30 UTC is 07:30 CET", utc("2026-03-28T06:30:00Z"), h22, h8, berlin, true},
		{"spring: the day of, 06:30 UTC is 08:30 CEST", utc("2026-03-29T06:30:00Z"), h22, h8, berlin, false},
		{"spring: the skipped hour 02:00-03:00 never happens", utc("2026-03-29T00:59:59Z"), h2, h3, berlin, false}, // 01:59:59 CET
		{"spring: straight after the skip is 03:00", utc("2026-03-29T01:00:00Z"), h2, h3, berlin, false},
		{"spring: a night window that spans the skip", utc("2026-03-29T01:30:00Z"), h22, h8, berlin, true}, // 03:30 CEST
		// Fall back: 02:00-03:00 happens twice, and both are quiet.
		{"autumn: the first 02:30 (CEST)", utc("2026-10-25T00:30:00Z"), h2, h3, berlin, true},
		{"autumn: the second 02:30 (CET)", utc("2026-10-25T01:30:00Z"), h2, h3, berlin, true},
		{"autumn: after the repeat", utc("2026-10-25T02:00:00Z"), h2, h3, berlin, false}, // 03:00 CET
		{"autumn: the morning after, 06:30 UTC is 07:30 CET", utc("2026-10-25T06:30:00Z"), h22, h8, berlin, true},
		{"autumn: the day before, 06:30 UTC is 08:30 CEST", utc("2026-10-24T06:30:00Z"), h22, h8, berlin, false},
		{"an empty window is never quiet", utc("2026-06-10T12:00:00Z"), h9, h9, time.UTC, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := InQuietHours(tt.at, tt.from, tt.to, tt.loc); got != tt.want {
				t.Errorf("InQuietHours(%s = %s there, %d-%d) = %v, want %v", tt.at.Format(time.RFC3339), tt.at.In(tt.loc).Format("15:04 MST"), tt.from, tt.to, got, tt.want)
			}
		})
	}
}

// TestNotifierQuietHours: the notifier, at an injected time, sends a chat in its quiet
// hours its messages silently (a failure too), keeps a problem loud where the chat asked
// for it, leaves chats outside their hours (or without any) loud, and drops nothing. A chat
// with reminders on gets the Ack button under its problem, after the Re-run button.
func TestNotifierQuietHours(t *testing.T) {
	st := storetest.New(t)
	ctx := context.Background()
	// 1: quiet 22:00-08:00 Berlin; 2: the same but problem stays loud; 3: quiet in the day
	// (not now); 4: no quiet hours, reminders on.
	if _, err := st.Pool().Exec(ctx, `
		INSERT INTO chats (id, type, card_mode) VALUES (1, 'private', 'new'), (2, 'private', 'new'), (3, 'private', 'new'), (4, 'private', 'new');
		INSERT INTO subscriptions (chat_id, events) VALUES (1, '{failure,problem}'), (2, '{failure,problem}'), (3, '{failure,problem}'), (4, '{failure,problem}');
		INSERT INTO chat_settings (chat_id, quiet_from, quiet_to, quiet_zone, quiet_loud) VALUES
			(1, 1320, 480, 'Europe/Berlin', '{}'), (2, 1320, 480, 'Europe/Berlin', '{problem}'), (3, 540, 1020, 'Europe/Berlin', '{}');
		INSERT INTO chat_settings (chat_id, remind_every) VALUES (4, 3600)`); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC) // 03:30 CEST, the night clocks went forward
	n := NewNotifier(st, NotifyOptions{Clock: func() time.Time { return now },
		RebuildLabel: func(string) string { return "Rebuild" }}, zerolog.New(zerolog.NewTestWriter(t)))
	deliver := func(id string, number int, r ci.Result) {
		t.Helper()
		start := now.Add(-time.Duration(10-number) * time.Minute)
		b := ci.Build{Conn: "bb", ID: id, Number: number, Builder: "docs", Branch: "main", StartedAt: start, FinishedAt: start.Add(time.Second),
			Complete: true, Result: r}
		if err := n.Deliver(ctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &b, At: b.FinishedAt}); err != nil {
			t.Fatal(err)
		}
	}
	type row struct {
		silent bool
		markup *string
	}
	take := func() map[int64]row {
		t.Helper()
		rows, err := st.Pool().Query(ctx, `DELETE FROM outbox RETURNING chat_id, silent, reply_markup`)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int64]row{}
		for rows.Next() {
			var c int64
			var r row
			if err := rows.Scan(&c, &r.silent, &r.markup); err != nil {
				t.Fatal(err)
			}
			if _, dup := out[c]; dup {
				t.Fatalf("chat %d got two messages", c)
			}
			out[c] = r
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}

	deliver("1", 1, ci.ResultSuccess)
	take()
	deliver("2", 2, ci.ResultFailure) // a problem
	got := take()
	want := map[int64]bool{1: true, 2: false, 3: false, 4: false} // silent?
	if len(got) != len(want) {
		t.Fatalf("problem: messages for %d chats, want %d (none dropped): %+v", len(got), len(want), got)
	}
	for chat, silent := range want {
		if got[chat].silent != silent {
			t.Errorf("problem to chat %d: silent %v, want %v", chat, got[chat].silent, silent)
		}
	}
	labels := func(chat int64) []string {
		t.Helper()
		var kb struct {
			InlineKeyboard [][]struct {
				Text         string `json:"text"`
				CallbackData string `json:"callback_data"`
			} `json:"inline_keyboard"`
		}
		if got[chat].markup == nil {
			return nil
		}
		if err := json.Unmarshal([]byte(*got[chat].markup), &kb); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range kb.InlineKeyboard {
			for _, b := range r {
				out = append(out, b.Text)
				if b.Text == commands.AckLabel {
					data, err := st.Callback(ctx, chat, b.CallbackData)
					if err != nil || data != commands.AckData("bb", "2") {
						t.Errorf("chat %d: the Ack button holds %q (%v), want the ack of bb 2", chat, data, err)
					}
				}
			}
		}
		return out
	}
	if l := labels(4); len(l) != 2 || l[0] != RerunIcon+" Rebuild" || l[1] != commands.AckLabel {
		t.Errorf("chat 4 (reminders on): buttons %q, want Re-run then Ack", l)
	}
	if l := labels(1); len(l) != 1 || l[0] != RerunIcon+" Rebuild" {
		t.Errorf("chat 1 (no reminders): buttons %q, want only Re-run", l)
	}

	deliver("3", 3, ci.ResultFailure) // a failure again: no problem, nothing kept loud
	got = take()
	want = map[int64]bool{1: true, 2: true, 3: false, 4: false}
	for chat, silent := range want {
		if r, ok := got[chat]; !ok || r.silent != silent {
			t.Errorf("failure to chat %d: %+v (sent %v), want silent %v", chat, r, ok, silent)
		}
	}
}
