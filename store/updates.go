package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// UpdatesChannel is the Postgres NOTIFY channel SaveUpdates signals on, with the ids it stored
// as payload ("101,102"): the replica holding the intake hears of an update any replica
// stored (a webhook reaches whichever one the load balancer picked; the poller may run in
// another process) within milliseconds, instead of at its next sweep.
const UpdatesChannel = "herald_updates"

// Update is a Telegram update as received, kept until handled.
type Update struct {
	ID      int64
	ChatID  int64  // 0 when the update has no chat
	Payload []byte // the update's JSON as Telegram sent it
}

// SaveUpdates stores received updates and the next getUpdates offset in one transaction.
// Only after it commits does herald acknowledge them to Telegram (by asking with the new
// offset), so a crash at any point loses none. A redelivered update is ignored. A nextOffset
// of 0 stores no offset (webhook mode).
//
// Payloads should be cleaned by the caller (CleanPayload) so that what it handles is what is
// stored. An update Postgres still refuses (a data error) is stored re-encoded, and failing
// that as the stub {"update_id":N}: refused for good, it would never be acknowledged, and
// Telegram would send it, and herald fail on it, for ever, holding up every later update.
// The payload actually stored replaces ups[i].Payload; stubbed lists the ids stored as stubs,
// for the caller to log.
func (s *Store) SaveUpdates(ctx context.Context, ups []Update, nextOffset int64) (stubbed []int64, err error) {
	err = s.saveUpdates(ctx, ups, nextOffset, nil)
	if !IsDataError(err) {
		return nil, err
	}
	// One of them is refused, and the transaction with it: again, each in a savepoint, so
	// the refused one is found and replaced without losing the others.
	fixed := make([][]byte, len(ups))
	var stubs []int64
	err = s.saveUpdates(ctx, ups, nextOffset, func(ctx context.Context, tx pgx.Tx, i int) error {
		u := ups[i]
		for _, payload := range [][]byte{u.Payload, CleanPayload(u.Payload), stubPayload(u.ID)} {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return fmt.Errorf("store: save update: %w", err)
			}
			err = saveUpdate(ctx, sp, Update{ID: u.ID, ChatID: u.ChatID, Payload: payload})
			if err == nil {
				if err := sp.Commit(ctx); err != nil {
					return fmt.Errorf("store: save update: %w", err)
				}
				if !bytes.Equal(payload, u.Payload) {
					fixed[i] = payload
				}
				if bytes.Equal(payload, stubPayload(u.ID)) && !bytes.Equal(u.Payload, payload) {
					stubs = append(stubs, u.ID)
				}
				return nil
			}
			_ = sp.Rollback(ctx)
			if !IsDataError(err) {
				return err
			}
		}
		return fmt.Errorf("store: save update %d: even its stub is refused", u.ID)
	})
	if err != nil {
		return nil, err
	}
	for i, p := range fixed {
		if p != nil {
			ups[i].Payload = p
		}
	}
	return stubs, nil
}

// saveUpdates is SaveUpdates' transaction; save, when set, stores ups[i] in it instead of a
// plain insert.
func (s *Store) saveUpdates(ctx context.Context, ups []Update, nextOffset int64, save func(context.Context, pgx.Tx, int) error) error {
	return s.InTx(ctx, func(tx *Tx) error {
		for i, u := range ups {
			var err error
			if save != nil {
				err = save(ctx, tx.tx, i)
			} else {
				err = saveUpdate(ctx, tx.tx, u)
			}
			if err != nil {
				return err
			}
		}
		if err := notifyUpdates(ctx, tx.tx, ups); err != nil {
			return err
		}
		if nextOffset == 0 {
			return nil
		}
		_, err := tx.tx.Exec(ctx, `
			INSERT INTO telegram_offset (id, next_offset) VALUES (true, $1)
			ON CONFLICT (id) DO UPDATE SET next_offset = GREATEST(telegram_offset.next_offset, EXCLUDED.next_offset),
				updated_at = now()`, nextOffset)
		if err != nil {
			return fmt.Errorf("store: save offset: %w", err)
		}
		return nil
	})
}

// SaveUpdate stores one update, as SaveUpdates does, without an offset (webhook mode).
func (s *Store) SaveUpdate(ctx context.Context, u Update) error {
	_, err := s.SaveUpdates(ctx, []Update{u}, 0)
	return err
}

func saveUpdate(ctx context.Context, q querier, u Update) error {
	_, err := q.Exec(ctx, `
		INSERT INTO updates (update_id, chat_id, payload) VALUES ($1, $2, $3)
		ON CONFLICT (update_id) DO NOTHING`, u.ID, u.ChatID, u.Payload)
	if err != nil {
		return fmt.Errorf("store: save update: %w", err)
	}
	return nil
}

// notifyPayloadMax bounds one notification's payload: Postgres refuses one of 8000 bytes or
// more, and a batch of a hundred updates is about 1,100.
const notifyPayloadMax = 4000

// notifyUpdates tells the listeners on UpdatesChannel which updates the transaction stores,
// in as many notifications as the ids need. Postgres delivers them at commit and drops them
// on rollback, so a listener never reads an id whose row it cannot see yet. A redelivered
// update is named again; the intake drops what it knows or handled.
func notifyUpdates(ctx context.Context, q querier, ups []Update) error {
	var payload []byte
	flush := func() error {
		if len(payload) == 0 {
			return nil
		}
		if _, err := q.Exec(ctx, `SELECT pg_notify($1, $2)`, UpdatesChannel, string(payload)); err != nil {
			return fmt.Errorf("store: save updates: notify: %w", err)
		}
		payload = payload[:0]
		return nil
	}
	for _, u := range ups {
		id := strconv.FormatInt(u.ID, 10)
		if len(payload)+1+len(id) > notifyPayloadMax {
			if err := flush(); err != nil {
				return err
			}
		}
		if len(payload) > 0 {
			payload = append(payload, ',')
		}
		payload = append(payload, id...)
	}
	return flush()
}

// ParseUpdateIDs reads an UpdatesChannel payload. ok is false for anything else (an empty
// payload included): the listener then cannot tell what it missed, and looks for itself.
func ParseUpdateIDs(payload string) (ids []int64, ok bool) {
	if payload == "" {
		return nil, false
	}
	for _, f := range strings.Split(payload, ",") {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

func stubPayload(id int64) []byte { return []byte(`{"update_id":` + strconv.FormatInt(id, 10) + `}`) }

// CleanPayload makes a JSON text one that jsonb takes, changing as little as it can: jsonb
// refuses the escape \u0000, a lone UTF-16 surrogate escape ("\ud83d" without its pair) and
// invalid UTF-8, and Telegram passes on whatever a user or a client typed into a name or a
// message. Such a text is decoded and encoded again (Go's decoder reads a lone surrogate and
// invalid UTF-8 as U+FFFD), with every NUL in a string or key turned into U+FFFD; anything
// else is returned as it is. A text that is not JSON is returned as it is too.
func CleanPayload(payload []byte) []byte {
	if jsonbTakes(payload) {
		return payload
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // ids beyond 2^53 stay exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return payload
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(noNUL(v)); err != nil {
		return payload
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// noNUL replaces NUL in every string and key of a decoded JSON value.
func noNUL(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ReplaceAll(v, "\x00", "\ufffd")
	case []any:
		for i := range v {
			v[i] = noNUL(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[strings.ReplaceAll(k, "\x00", "\ufffd")] = noNUL(e)
		}
		return out
	}
	return v
}

// jsonbTakes reports that payload has none of what jsonb refuses in a string: invalid UTF-8,
// the escape \u0000, a surrogate escape that is not half of a pair. An escaped backslash
// ("\\u0000", the text \u0000) is not an escape.
func jsonbTakes(payload []byte) bool {
	if !utf8.Valid(payload) {
		return false
	}
	for i := 0; i < len(payload); i++ {
		if payload[i] != '\\' {
			continue
		}
		if i+1 >= len(payload) || payload[i+1] != 'u' {
			i++ // any other escape: skip its second byte
			continue
		}
		r, ok := hex4(payload[i+2:])
		switch {
		case !ok:
			return false // not JSON: decoding it says so
		case r == 0:
			return false
		case utf16.IsSurrogate(r):
			lo, ok := rune(0), false
			if r < 0xdc00 && len(payload) > i+7 && payload[i+6] == '\\' && payload[i+7] == 'u' {
				lo, ok = hex4(payload[i+8:])
			}
			if !ok || lo < 0xdc00 || lo > 0xdfff {
				return false
			}
			i += 6
		}
		i += 5
	}
	return true
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Offset is the next getUpdates offset; 0 before the first update.
func (s *Store) Offset(ctx context.Context) (int64, error) {
	var off int64
	err := s.pool.QueryRow(ctx, `SELECT next_offset FROM telegram_offset`).Scan(&off)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: offset: %w", err)
	}
	return off, nil
}

// PendingUpdates lists stored updates not yet handled that were received at least minAge
// ago, oldest first: after a restart these are handled before anything new, and later the
// intake picks up what it has not seen (minAge keeps it off updates on their way to it).
func (s *Store) PendingUpdates(ctx context.Context, minAge time.Duration, limit int) ([]Update, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT update_id, chat_id, payload FROM updates
		WHERE handled_at IS NULL AND received_at <= now() - make_interval(secs => $1)
		ORDER BY update_id LIMIT $2`, minAge.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending updates: %w", err)
	}
	return collectUpdates(rows, "pending updates")
}

// PendingChatUpdates lists one chat's unhandled updates, oldest first: the intake reads back
// those it had no room for in memory.
func (s *Store) PendingChatUpdates(ctx context.Context, chatID int64, limit int) ([]Update, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT update_id, chat_id, payload FROM updates
		WHERE handled_at IS NULL AND chat_id = $1 ORDER BY update_id LIMIT $2`, chatID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending chat updates: %w", err)
	}
	return collectUpdates(rows, "pending chat updates")
}

// UpdatesByID reads the updates among ids that are stored and not handled yet, in update_id
// order: the intake's holder reads what another replica's notification named.
func (s *Store) UpdatesByID(ctx context.Context, ids []int64) ([]Update, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `
		SELECT update_id, chat_id, payload FROM updates
		WHERE update_id = ANY($1) AND handled_at IS NULL ORDER BY update_id`, ids)
	if err != nil {
		return nil, fmt.Errorf("store: updates by id: %w", err)
	}
	return collectUpdates(rows, "updates by id")
}

func collectUpdates(rows pgx.Rows, what string) ([]Update, error) {
	ups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Update, error) {
		var u Update
		err := r.Scan(&u.ID, &u.ChatID, &u.Payload)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return ups, nil
}

// startWithParameter is a /start (or /start@bot) followed by a parameter; startCommand is
// the command alone (Postgres regular expressions).
const (
	startWithParameter = `^/start(@[A-Za-z0-9_]+)?\s`
	startCommand       = `^/start(?:@[A-Za-z0-9_]+)?`
)

// ErrHandled means the update was handled already: whatever the caller produced for it
// must be dropped (roll the transaction back).
var ErrHandled = errors.New("store: update already handled")

// MarkHandled marks an update handled in the transaction that stores its replies. It locks
// the row, so two handlers of the same update cannot both commit. A /start's parameter is
// dropped from the stored text then (it is an invite code, and updates are kept a week);
// before, the intake needs it, whichever replica handles the update.
func (tx *Tx) MarkHandled(ctx context.Context, updateID int64) error {
	tag, err := tx.tx.Exec(ctx, `
		UPDATE updates SET handled_at = now(),
			payload = CASE WHEN payload->'message'->>'text' ~ $2
				THEN jsonb_set(payload, '{message,text}', to_jsonb(substring(payload->'message'->>'text' from $3)))
				ELSE payload END
		WHERE update_id = $1 AND handled_at IS NULL`, updateID, startWithParameter, startCommand)
	if err != nil {
		return fmt.Errorf("store: mark handled: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrHandled
	}
	return nil
}

// IsHandled reports whether an update was handled.
func (s *Store) IsHandled(ctx context.Context, updateID int64) (bool, error) {
	var handled bool
	err := s.pool.QueryRow(ctx, `SELECT handled_at IS NOT NULL FROM updates WHERE update_id = $1`, updateID).Scan(&handled)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("store: is handled: %w", err)
	}
	return handled, nil
}

// PruneUpdates forgets handled updates older than maxAge; Telegram never resends those.
func (s *Store) PruneUpdates(ctx context.Context, maxAge time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM updates WHERE handled_at < now() - make_interval(secs => $1)`, maxAge.Seconds())
	if err != nil {
		return 0, fmt.Errorf("store: prune updates: %w", err)
	}
	return tag.RowsAffected(), nil
}
