package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Outbox claims. A sender holds the rows it took from the outbox in memory, and a claim says
// which process holds them (outbox.claimed_by, the process's Lessee id). Several herald
// processes share one database, and during a handover of the sender role the old sender may
// still be finishing its sends while the new one starts: the new one takes back only claims
// whose owner is not alive (see aliveSQL), and waits for a live owner to finish or die, so
// no row is sent by two processes and each chat's messages keep their order.
//
// Process 0 is no process (a Lessee id is never 0): a sender without a lessee (tests, the
// benchmark) claims as 0, and its claims are taken back by whichever sender starts next, as
// those of a dead process. Only one sender may run as 0 on a database.

// ErrNotAlive is returned by ClaimOutbox for a process that is not alive any more (its lease
// connection is gone, or it was not seen for ProcessTTL): another sender may already have
// taken its claims back, so it must not take more rows.
var ErrNotAlive = errors.New("store: claim outbox: this process is not alive (its lease is gone or stale)")

// ClaimOutbox takes up to limit unclaimed rows, oldest first, and marks them held by process.
// Claiming rather than reading "ids above the last seen" also catches a transaction that
// took its id early and committed late. A process that is not alive claims nothing
// (ErrNotAlive): the claims it already holds may be another sender's now.
func (s *Store) ClaimOutbox(ctx context.Context, process int32, limit int) ([]Queued, error) {
	return s.claim(ctx, process, limit, "")
}

// ClaimInteractive is ClaimOutbox for the interactive rows only (OutMessage.Interactive):
// the sender claims them apart, beyond the rows it holds, so a command's reply enqueued
// behind a backlog of notifications is in memory at once, not once that backlog was sent.
func (s *Store) ClaimInteractive(ctx context.Context, process int32, limit int) ([]Queued, error) {
	return s.claim(ctx, process, limit, interactiveCond)
}

// interactiveCond is OutMessage.Interactive in SQL; index outbox_interactive has it.
const interactiveCond = `(update_id <> 0 OR priority >= 2)`

func (s *Store) claim(ctx context.Context, process int32, limit int, only string) ([]Queued, error) {
	if only != "" {
		only = " AND " + only
	}
	rows, err := s.pool.Query(ctx, `
		UPDATE outbox SET claimed = true, claimed_by = $2
		WHERE ($2 = 0 OR `+aliveCond("$2::integer")+`)
			AND id IN (SELECT id FROM outbox WHERE NOT claimed`+only+` ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
		RETURNING id, chat_id, thread_id, text, reply_markup, silent, edit_message_id, card_key, card_only,
			update_id, attempts, created_at, EXISTS (SELECT FROM outbox_media m WHERE m.outbox_id = outbox.id),
			priority, group_key, group_item, anchor_key, reply_to_key`, limit, process)
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Queued, error) {
		var (
			q      Queued
			markup *string
			edit   int32
		)
		err := r.Scan(&q.ID, &q.ChatID, &q.ThreadID, &q.Text, &markup, &q.Silent, &edit, &q.CardKey, &q.CardOnly,
			&q.UpdateID, &q.Attempts, &q.CreatedAt, &q.Relayed,
			&q.Priority, &q.GroupKey, &q.GroupItem, &q.AnchorKey, &q.ReplyToKey)
		if markup != nil {
			q.ReplyMarkup = []byte(*markup)
		}
		q.EditMessageID = int(edit)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim outbox: %w", err)
	}
	if len(out) == 0 && process != 0 {
		// Nothing claimed: an empty outbox, or a process that may not claim.
		alive, err := s.ProcessAlive(ctx, process)
		if err != nil {
			return nil, fmt.Errorf("store: claim outbox: %w", err)
		}
		if !alive {
			return nil, ErrNotAlive
		}
	}
	return out, nil
}

// TakeBack is what a starting sender got back from the claims of processes before it.
type TakeBack struct {
	// Chats are the chats of the rows taken back, in order: the process that held them may
	// have had a send to any of them in flight when it stopped, one Telegram counted but
	// herald never acknowledged.
	Chats []int64
	Rows  int64 // rows taken back
	// Owner is a live process that still holds claims (the zero ClaimOwner when none does).
	// Its rows are its own until it releases them or dies; a sender that started before
	// then could send a chat's later messages ahead of the ones that process is sending.
	Owner ClaimOwner
}

// Waiting reports whether a live process still holds claims.
func (t TakeBack) Waiting() bool { return t.Owner.ID != 0 }

// ClaimOwner is a process holding outbox rows, for the log of a sender that waits for it.
type ClaimOwner struct {
	ID   int32
	Name string // host:pid, "" when the process row is gone
	Rows int64  // rows it holds
}

// TakeBackClaims hands back, for a sender starting in process, the claims nobody alive
// holds: those of processes that are not alive, legacy claims without an owner (from before
// claims had one), and process's own (from an earlier sender of this process, which must
// have returned: the caller runs one sender at a time). Claims of a live process stay. It
// reports one live process that still holds claims after the take-back; if that process
// dies meanwhile, the next call takes its claims back.
func (s *Store) TakeBackClaims(ctx context.Context, process int32) (TakeBack, error) {
	// Each owner's liveness is looked up once (pg_locks is read per lookup), not per row.
	rows, err := s.pool.Query(ctx, `
		WITH owners AS MATERIALIZED (
			SELECT DISTINCT claimed_by AS id FROM outbox
			WHERE claimed AND claimed_by IS NOT NULL AND claimed_by <> $1
		), dead AS MATERIALIZED (
			SELECT id FROM owners WHERE NOT `+claimsHeldCond("owners.id")+`
		), r AS (
			UPDATE outbox SET claimed = false, claimed_by = NULL
			WHERE claimed AND (claimed_by IS NULL OR claimed_by = $1 OR claimed_by IN (SELECT id FROM dead))
			RETURNING chat_id
		)
		SELECT chat_id, count(*) FROM r GROUP BY chat_id ORDER BY chat_id`, process)
	if err != nil {
		return TakeBack{}, fmt.Errorf("store: take back outbox claims: %w", err)
	}
	var tb TakeBack
	var chat, n int64
	_, err = pgx.ForEachRow(rows, []any{&chat, &n}, func() error {
		tb.Chats = append(tb.Chats, chat)
		tb.Rows += n
		return nil
	})
	if err != nil {
		return TakeBack{}, fmt.Errorf("store: take back outbox claims: %w", err)
	}
	// What other processes still hold was theirs while they were alive a moment ago.
	err = s.pool.QueryRow(ctx, `
		SELECT o.claimed_by, coalesce(p.name, ''), count(*) FROM outbox o LEFT JOIN processes p ON p.id = o.claimed_by
		WHERE o.claimed AND o.claimed_by IS NOT NULL AND o.claimed_by <> $1
		GROUP BY o.claimed_by, p.name ORDER BY count(*) DESC, o.claimed_by LIMIT 1`, process).
		Scan(&tb.Owner.ID, &tb.Owner.Name, &tb.Owner.Rows)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return TakeBack{}, fmt.Errorf("store: take back outbox claims: live owners: %w", err)
	}
	return tb, nil
}

// ReleaseOwnClaims hands back every row process holds, for a sender that stops while its
// process runs on (the sender role moves to another process): the next sender then need
// not wait for this process to die before it sends these rows. The caller must hold none of
// them in flight any more.
func (s *Store) ReleaseOwnClaims(ctx context.Context, process int32) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET claimed = false, claimed_by = NULL WHERE claimed AND claimed_by = $1`, process)
	if err != nil {
		return 0, fmt.Errorf("store: release own outbox claims: %w", err)
	}
	return tag.RowsAffected(), nil
}
