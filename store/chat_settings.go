package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Quiet hours, digest schedules and reminder intervals of a chat or forum topic
// (chat_settings). The commands read and set them with plain values (commands never import
// store); the notifier and the scheduled jobs read them in bulk.

// QuietHours is when a chat's notifications go out silently: From (inclusive) to To
// (exclusive), in minutes after midnight on the wall clock of Zone (an IANA name). From > To
// crosses midnight. Loud names the event kinds that still make a sound.
type QuietHours struct {
	From, To int
	Zone     string
	Loud     []string
}

// ChatKey names a chat or one forum topic of it.
type ChatKey struct{ ChatID, ThreadID int64 }

// QuietHours returns the chat's (topic's) quiet hours; zone is "" when it has none. loud is
// returned even then: /quiet loud may be set before the hours are.
func (s *Store) QuietHours(ctx context.Context, chatID, threadID int64) (from, to int, zone string, loud []string, err error) {
	var f, t *int
	err = s.pool.QueryRow(ctx, `
		SELECT quiet_from, quiet_to, quiet_zone, quiet_loud FROM chat_settings WHERE chat_id = $1 AND thread_id = $2`,
		chatID, threadID).Scan(&f, &t, &zone, &loud)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, "", []string{}, nil
	}
	if err != nil {
		return 0, 0, "", nil, fmt.Errorf("store: quiet hours: %w", err)
	}
	if f == nil || t == nil {
		return 0, 0, "", loud, nil
	}
	return *f, *t, zone, loud, nil
}

// SetQuietHours replaces the chat's (topic's) quiet hours; zone "" turns them off (from and
// to are then ignored). The chat must be known (ErrNotFound otherwise).
func (s *Store) SetQuietHours(ctx context.Context, chatID, threadID int64, from, to int, zone string, loud []string) error {
	var f, t *int
	if zone != "" {
		f, t = &from, &to
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO chat_settings (chat_id, thread_id, quiet_from, quiet_to, quiet_zone, quiet_loud)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (chat_id, thread_id) DO UPDATE SET quiet_from = EXCLUDED.quiet_from,
			quiet_to = EXCLUDED.quiet_to, quiet_zone = EXCLUDED.quiet_zone, quiet_loud = EXCLUDED.quiet_loud,
			updated_at = now()`,
		chatID, threadID, f, t, zone, textArray(loud))
	return settingErr("set quiet hours", err)
}

// TargetSettings are what the notifier needs of a target chat's (topic's) settings.
type TargetSettings struct {
	Quiet    QuietHours
	HasQuiet bool // Quiet holds hours
	Reminds  bool // /remind is on: its problem messages get an Ack button
}

// TargetSettingsOf reads the quiet hours and reminder state of the given chats and topics in
// one round trip: the notifier's quiet stage asks once per event for all its targets. Chats
// with neither are left out of the map.
func (tx *Tx) TargetSettingsOf(ctx context.Context, keys []ChatKey) (map[ChatKey]TargetSettings, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	chats, threads := make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		chats[i], threads[i] = k.ChatID, k.ThreadID
	}
	rows, err := tx.tx.Query(ctx, `
		SELECT s.chat_id, s.thread_id, s.quiet_from, s.quiet_to, s.quiet_zone, s.quiet_loud, s.remind_every > 0
		FROM chat_settings s JOIN unnest($1::bigint[], $2::bigint[]) AS k (c, t)
			ON s.chat_id = k.c AND s.thread_id = k.t
		WHERE s.quiet_from IS NOT NULL OR s.remind_every > 0`, chats, threads)
	if err != nil {
		return nil, fmt.Errorf("store: settings of targets: %w", err)
	}
	out := map[ChatKey]TargetSettings{}
	var (
		k        ChatKey
		from, to *int
		ts       TargetSettings
	)
	_, err = pgx.ForEachRow(rows, []any{&k.ChatID, &k.ThreadID, &from, &to, &ts.Quiet.Zone, &ts.Quiet.Loud, &ts.Reminds}, func() error {
		got := ts
		if from != nil && to != nil {
			got.Quiet.From, got.Quiet.To, got.HasQuiet = *from, *to, true
		}
		out[k] = got
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: settings of targets: %w", err)
	}
	return out, nil
}

// DigestSchedule returns the chat's (topic's) digest spec ("" for none) and whether empty
// periods are sent too.
func (s *Store) DigestSchedule(ctx context.Context, chatID, threadID int64) (spec string, empty bool, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT digest_spec, digest_empty FROM chat_settings WHERE chat_id = $1 AND thread_id = $2`,
		chatID, threadID).Scan(&spec, &empty)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: digest schedule: %w", err)
	}
	return spec, empty, nil
}

// SetDigestSchedule replaces the chat's (topic's) digest; spec "" turns it off. The first
// period starts at since (when it was set): a digest never reports on what happened before
// the chat asked for one.
func (s *Store) SetDigestSchedule(ctx context.Context, chatID, threadID int64, spec string, empty bool, since time.Time) error {
	var last *time.Time
	if spec != "" {
		last = &since
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO chat_settings (chat_id, thread_id, digest_spec, digest_empty, digest_last)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chat_id, thread_id) DO UPDATE SET digest_spec = EXCLUDED.digest_spec,
			digest_empty = EXCLUDED.digest_empty, digest_last = EXCLUDED.digest_last, updated_at = now()`,
		chatID, threadID, spec, empty, last)
	return settingErr("set digest", err)
}

// RemindEvery returns the chat's (topic's) reminder interval, 0 for none.
func (s *Store) RemindEvery(ctx context.Context, chatID, threadID int64) (time.Duration, error) {
	var secs int
	err := s.pool.QueryRow(ctx, `
		SELECT remind_every FROM chat_settings WHERE chat_id = $1 AND thread_id = $2`,
		chatID, threadID).Scan(&secs)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: remind interval: %w", err)
	}
	return time.Duration(secs) * time.Second, nil
}

// SetRemindEvery replaces the chat's (topic's) reminder interval (whole seconds); 0 turns
// reminders off.
func (s *Store) SetRemindEvery(ctx context.Context, chatID, threadID int64, every time.Duration) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO chat_settings (chat_id, thread_id, remind_every) VALUES ($1, $2, $3)
		ON CONFLICT (chat_id, thread_id) DO UPDATE SET remind_every = EXCLUDED.remind_every, updated_at = now()`,
		chatID, threadID, int(every/time.Second))
	return settingErr("set reminders", err)
}

// settingErr wraps a failed write of chat_settings; a chat herald never heard from is
// ErrNotFound (the foreign key), as for SetChatStyle.
func settingErr(doing string, err error) error {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23503" {
		return fmt.Errorf("store: %s: %w", doing, ErrNotFound)
	}
	return fmt.Errorf("store: %s: %w", doing, err)
}
