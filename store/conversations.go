package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Conversations are the questions herald waits for one user to answer in one chat or topic.
// The payload is the command's own JSON; the store only keys it, expires it and hands out ids.
// The signatures use plain types so package commands can name them in an interface without
// importing store.

// StartConversation stores a new pending conversation for the user in the chat and topic,
// replacing any earlier one. The id is new each time, so the buttons of a replaced
// conversation no longer match.
func (s *Store) StartConversation(ctx context.Context, chatID, threadID, userID int64, data []byte, expires time.Time) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `
		INSERT INTO conversations (chat_id, thread_id, user_id, data, expires_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (chat_id, thread_id, user_id) DO UPDATE
		SET id = nextval(pg_get_serial_sequence('conversations', 'id')), data = EXCLUDED.data,
		    expires_at = EXCLUDED.expires_at, updated_at = now()
		RETURNING id`, chatID, threadID, userID, data, expires).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: start conversation: %w", err)
	}
	return id, nil
}

// UpdateConversation replaces the payload of conversation id; found is false when it has
// ended or been replaced.
func (s *Store) UpdateConversation(ctx context.Context, id int64, data []byte, expires time.Time) (found bool, err error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE conversations SET data = $2, expires_at = $3, updated_at = now() WHERE id = $1`,
		id, data, expires)
	if err != nil {
		return false, fmt.Errorf("store: update conversation: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// Conversation returns the user's pending conversation in the chat and topic; found is false
// when there is none or it expired before now.
func (s *Store) Conversation(ctx context.Context, chatID, threadID, userID int64, now time.Time) (id int64, data []byte, found bool, err error) {
	err = s.pool.QueryRow(ctx, `
		SELECT id, data FROM conversations
		WHERE chat_id = $1 AND thread_id = $2 AND user_id = $3 AND expires_at > $4`,
		chatID, threadID, userID, now).Scan(&id, &data)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, false, nil
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("store: conversation: %w", err)
	}
	return id, data, true, nil
}

// EndConversation deletes conversation id. Only the caller that gets ended == true may act on
// it, so a confirm button pressed twice acts once.
func (s *Store) EndConversation(ctx context.Context, id int64) (ended bool, err error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conversations WHERE id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("store: end conversation: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// EndUserConversation deletes the user's conversation in the chat and topic, expired or not,
// and returns its payload; found is false when there was none.
func (s *Store) EndUserConversation(ctx context.Context, chatID, threadID, userID int64) (data []byte, found bool, err error) {
	err = s.pool.QueryRow(ctx, `
		DELETE FROM conversations WHERE chat_id = $1 AND thread_id = $2 AND user_id = $3
		RETURNING data`, chatID, threadID, userID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: end user conversation: %w", err)
	}
	return data, true, nil
}

// PruneConversations deletes conversations that expired before now.
func (s *Store) PruneConversations(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conversations WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, fmt.Errorf("store: prune conversations: %w", err)
	}
	return tag.RowsAffected(), nil
}
