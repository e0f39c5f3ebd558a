package bot

import (
	"context"
	"errors"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// Threads (issue 12): a recovery is sent as a reply to the chat's problem message for the
// same builder and branch, so the chat's history reads cause → fix. The problem's message id
// is only known once Telegram accepted it, so it is stored when the problem is acknowledged
// (store.OutMessage.AnchorKey) and looked up when the recovery goes out (ReplyToKey).

// sendReplying sends m as a reply to the chat's anchor of key, when key is set and the chat
// has one, and plainly otherwise. A reply Telegram refuses because the problem message is
// gone (deleted, or in a forum topic, where allow_sending_without_reply does not apply) goes
// again as a plain message: the recovery matters more than the thread.
func (s *Sender) sendReplying(ctx context.Context, m message, key string, log zerolog.Logger) (int, error) {
	if key != "" && m.editID == 0 {
		m.replyTo = s.anchor(ctx, m.chatID, m.threadID, key, log)
	}
	id, err := s.send(ctx, m)
	if err != nil && m.replyTo > 0 && isReplyGone(err) {
		log.Info().Int("reply_to", m.replyTo).Msg("sender: the problem message this recovery answers is gone; sent without the reply")
		m.replyTo = 0
		id, err = s.send(ctx, m)
	}
	return id, err
}

// anchor is the message a reply to key answers in a chat, 0 for none. A database error
// sends the message plainly rather than holding it back: the thread is a nicety.
func (s *Sender) anchor(ctx context.Context, chatID, threadID int64, key string, log zerolog.Logger) int {
	id, err := s.st.ReplyAnchor(ctx, chatID, threadID, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		log.Warn().Err(err).Msg("sender: look up the message a recovery answers; sent without the reply")
	}
	return id
}
