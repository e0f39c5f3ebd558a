package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

// TestChatSettings: quiet hours, digests and reminders are kept per chat and topic, each
// without touching the others; a chat herald never heard from is ErrNotFound; the
// notifier's bulk read returns only the targets with quiet hours or reminders.
func TestChatSettings(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	if err := s.SetQuietHours(ctx, 42, 0, 1320, 480, "Europe/Berlin", nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("quiet hours of an unknown chat: %v, want ErrNotFound", err)
	}
	if err := s.SaveChat(ctx, store.Chat{ID: 42, Type: "supergroup"}); err != nil {
		t.Fatal(err)
	}
	if from, to, zone, loud, err := s.QuietHours(ctx, 42, 0); err != nil || zone != "" || from != 0 || to != 0 || len(loud) != 0 {
		t.Fatalf("quiet hours before any: %d %d %q %q %v", from, to, zone, loud, err)
	}
	if err := s.SetQuietHours(ctx, 42, 0, 1320, 480, "Europe/Berlin", []string{"problem"}); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	if err := s.SetDigestSchedule(ctx, 42, 0, "CRON_TZ=UTC 0 9 * * *", true, since); err != nil {
		t.Fatal(err)
	}
	if err := s.SetRemindEvery(ctx, 42, 7, 4*time.Hour); err != nil {
		t.Fatal(err)
	}
	from, to, zone, loud, err := s.QuietHours(ctx, 42, 0)
	if err != nil || from != 1320 || to != 480 || zone != "Europe/Berlin" || !slices.Equal(loud, []string{"problem"}) {
		t.Fatalf("quiet hours = %d %d %q %q %v", from, to, zone, loud, err)
	}
	if spec, empty, err := s.DigestSchedule(ctx, 42, 0); err != nil || spec != "CRON_TZ=UTC 0 9 * * *" || !empty {
		t.Fatalf("digest = %q %v %v", spec, empty, err)
	}
	if every, err := s.RemindEvery(ctx, 42, 0); err != nil || every != 0 {
		t.Fatalf("reminders of the chat = %v %v; they were set for topic 7 only", every, err)
	}
	if every, err := s.RemindEvery(ctx, 42, 7); err != nil || every != 4*time.Hour {
		t.Fatalf("reminders of topic 7 = %v %v", every, err)
	}
	list, err := s.ScheduledDigests(ctx)
	if err != nil || len(list) != 1 || !list[0].Last.Equal(since) || list[0].Spec != "CRON_TZ=UTC 0 9 * * *" {
		t.Fatalf("scheduled digests = %+v %v", list, err)
	}

	var got map[store.ChatKey]store.TargetSettings
	err = s.InTx(ctx, func(tx *store.Tx) error {
		var err error
		got, err = tx.TargetSettingsOf(ctx, []store.ChatKey{{ChatID: 42}, {ChatID: 42, ThreadID: 7}, {ChatID: 43}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	chat, topic := got[store.ChatKey{ChatID: 42}], got[store.ChatKey{ChatID: 42, ThreadID: 7}]
	if len(got) != 2 || !chat.HasQuiet || chat.Quiet.From != 1320 || chat.Reminds || topic.HasQuiet || !topic.Reminds {
		t.Fatalf("target settings = %+v", got)
	}

	// Off is off; the other settings stay.
	if err := s.SetQuietHours(ctx, 42, 0, 0, 0, "", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, zone, _, err := s.QuietHours(ctx, 42, 0); err != nil || zone != "" {
		t.Fatalf("quiet hours after off: %q %v", zone, err)
	}
	if spec, _, err := s.DigestSchedule(ctx, 42, 0); err != nil || spec == "" {
		t.Fatalf("digest lost when quiet hours went off: %q %v", spec, err)
	}
}

// TestMigrateChatKeepsSettings: a group that became a supergroup keeps its quiet hours,
// digest, reminders and acks, also when herald knew the supergroup already (then what the
// supergroup set itself wins).
func TestMigrateChatKeepsSettings(t *testing.T) {
	for _, newExists := range []bool{false, true} {
		t.Run(map[bool]string{false: "new id unknown", true: "new id already a chat"}[newExists], func(t *testing.T) {
			ctx := context.Background()
			s := storetest.New(t)
			for _, c := range []int64{-1, -1002} {
				if c == -1002 && !newExists {
					continue
				}
				if err := s.SaveChat(ctx, store.Chat{ID: c, Type: "group"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.SetQuietHours(ctx, -1, 0, 1320, 480, "Europe/Berlin", nil); err != nil {
				t.Fatal(err)
			}
			if err := s.SetRemindEvery(ctx, -1, 3, time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Pool().Exec(ctx, `INSERT INTO breakage_reminders (chat_id, conn, build_id, acked_at) VALUES (-1, 'bb', '7', now())`); err != nil {
				t.Fatal(err)
			}
			if newExists {
				if err := s.SetQuietHours(ctx, -1002, 0, 0, 360, "UTC", nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.MigrateChat(ctx, -1, -1002); err != nil {
				t.Fatal(err)
			}
			from, _, zone, _, err := s.QuietHours(ctx, -1002, 0)
			wantFrom, wantZone := 1320, "Europe/Berlin"
			if newExists {
				wantFrom, wantZone = 0, "UTC"
			}
			if err != nil || from != wantFrom || zone != wantZone {
				t.Errorf("quiet hours after the move: %d %q %v, want %d %q", from, zone, err, wantFrom, wantZone)
			}
			if every, err := s.RemindEvery(ctx, -1002, 3); err != nil || every != time.Hour {
				t.Errorf("topic 3's reminders after the move: %v %v", every, err)
			}
			var acked int
			if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM breakage_reminders WHERE chat_id = -1002 AND acked_at IS NOT NULL`).Scan(&acked); err != nil || acked != 1 {
				t.Errorf("%d acks moved (%v), want 1", acked, err)
			}
		})
	}
}
