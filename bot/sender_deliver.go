package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

type outcomeKind int

const (
	outSent        outcomeKind = iota // Telegram accepted it; the row is gone
	outFailed                         // refused for good; the row is in outbox_failed
	outDropped                        // nothing to do (a card-only edit with no card)
	outLost                           // sent, but the ack could not be recorded; left claimed
	outRateLimited                    // 429: wait retryAfter, then the same message again
	outRetry                          // 5xx or network: back off, then again
	outPaused                         // 403: the chat is paused, its queue failed
	outMigrated                       // the chat moved to newChatID; resend there
)

type outcome struct {
	chatID     int64
	kind       outcomeKind
	retryAfter time.Duration
	newChatID  int64
	at         time.Time // when the request completed, for the limiter
	attempted  bool      // a failed attempt that counts, as RecordAttempt counts it in the row
	// ids are the rows the outcome is about when a message carried more than its chat's
	// head (a group): sent, refused or dropped together. Empty is the head alone.
	ids []int64
}

// job is one message for the workers: the chat's head, and the later rows of its group
// the message also carries.
type job struct{ rows []store.Queued }

// deliver makes one attempt at one message and records its effect in the store. It runs on
// a context detached from Run's, so a send in flight at shutdown finishes and is recorded
// instead of being cut off after Telegram may already have accepted it.
func (s *Sender) deliver(runCtx context.Context, j job) outcome {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(runCtx), s.opts.SendTimeout)
	defer cancel()
	q := j.rows[0]
	if s.opts.GroupWindow > 0 && q.GroupKey != "" && !q.Relayed {
		return s.deliverGroup(ctx, j.rows)
	}
	return s.deliverOne(ctx, q, nil)
}

// deliverOne sends one row as its text says. member, when set, is the row's part of a group
// the message opens: it is saved with the message, for the next rows of the group to edit.
func (s *Sender) deliverOne(ctx context.Context, q store.Queued, member *groupMember) outcome {
	log := s.log.With().Int64("chat_id", q.ChatID).Int64("outbox_id", q.ID).Logger()
	res := outcome{chatID: q.ChatID}
	finish := func(k outcomeKind) outcome {
		res.kind, res.at = k, s.opts.Clock()
		return res
	}

	editID := q.EditMessageID
	fromCard := false
	if q.CardKey != "" && editID == 0 {
		id, err := s.st.CardMessage(ctx, q.ChatID, q.ThreadID, q.CardKey)
		switch {
		case err == nil:
			editID, fromCard = id, true
		case errors.Is(err, store.ErrNotFound):
			if q.CardOnly {
				return finish(s.ack(ctx, store.Delivered{Rows: []store.Queued{q}}, log, outDropped))
			}
		default:
			log.Error().Err(err).Msg("sender: look up build card")
			s.opts.Metrics.retried.Inc()
			return finish(outRetry)
		}
	}

	var (
		msgID int
		err   error
	)
	if q.Relayed {
		call, lerr := s.st.RelayCallOf(ctx, q.ID)
		if lerr != nil {
			log.Error().Err(lerr).Msg("sender: read the relayed call")
			s.opts.Metrics.retried.Inc()
			return finish(outRetry)
		}
		msgID, err = s.callRelayed(ctx, q, call)
	} else {
		msgID, err = s.sendReplying(ctx, message{chatID: q.ChatID, threadID: q.ThreadID, text: q.Text,
			markup: q.ReplyMarkup, silent: q.Silent, editID: editID}, q.ReplyToKey, log)
	}
	if err != nil && fromCard && isEditGone(err) {
		// The card was deleted or is too old to edit: forget it and say it anew.
		if ferr := s.st.ForgetCard(ctx, q.ChatID, q.ThreadID, q.CardKey); ferr != nil {
			log.Error().Err(ferr).Msg("sender: forget build card")
		}
		if q.CardOnly {
			return finish(s.ack(ctx, store.Delivered{Rows: []store.Queued{q}}, log, outDropped))
		}
		editID, fromCard = 0, false
		msgID, err = s.call(ctx, q, 0)
	}
	s.health(err)
	if err == nil || (editID > 0 && isNotModified(err)) {
		sentAt := s.sent(q)
		d := store.Delivered{Rows: []store.Queued{q}, MessageID: max(msgID, editID), SentAt: sentAt}
		if q.CardKey != "" && editID == 0 {
			d.Card = msgID > 0
		}
		if member != nil && msgID > 0 && editID == 0 {
			members, _ := json.Marshal([]groupMember{*member})
			d.Group = &store.Group{ChatID: q.ChatID, ThreadID: q.ThreadID, Key: q.GroupKey, MessageID: msgID,
				OpenedAt: sentAt, UpdatedAt: sentAt, Members: members, Silent: q.Silent}
			if q.ReplyToKey != "" {
				d.Group.ReplyTo = s.anchor(ctx, q.ChatID, q.ThreadID, q.ReplyToKey, log) // still there: acked below
			}
		}
		return finish(s.ack(ctx, d, log, outSent))
	}
	return s.refused(ctx, []store.Queued{q}, err, log, res)
}

// sent counts a message Telegram accepted and says when.
func (s *Sender) sent(q store.Queued) time.Time {
	sentAt := s.opts.Clock()
	s.opts.Metrics.sent.Inc()
	s.opts.Metrics.latency.Observe(sentAt.Sub(q.CreatedAt).Seconds())
	return sentAt
}

func (s *Sender) health(err error) {
	if err == nil || !unreachable(err) {
		s.opts.Health.OK(healthSender)
	} else {
		s.opts.Health.Failed(healthSender)
	}
}

// refused is what a failed send of rows (the first is the chat's head) means: wait and try
// again, move the chat, pause it, or give the rows up for good.
func (s *Sender) refused(ctx context.Context, rows []store.Queued, err error, log zerolog.Logger, res outcome) outcome {
	q := rows[0]
	finish := func(k outcomeKind) outcome {
		res.kind, res.at = k, s.opts.Clock()
		return res
	}
	reason := s.redact(err.Error())
	var tooMany *tgbot.TooManyRequestsError
	var migrate *tgbot.MigrateError
	switch {
	case errors.As(err, &tooMany):
		s.opts.Metrics.rateLimited.Inc()
		res.retryAfter = time.Duration(max(tooMany.RetryAfter, 1)) * time.Second
		log.Warn().Int("retry_after", tooMany.RetryAfter).Msg("sender: telegram rate limit")
		return finish(outRateLimited)
	case errors.As(err, &migrate) && migrate.MigrateToChatID != 0 && int64(migrate.MigrateToChatID) != q.ChatID:
		to := int64(migrate.MigrateToChatID)
		if merr := s.st.MigrateChat(ctx, q.ChatID, to); merr != nil {
			log.Error().Err(merr).Int64("new_chat_id", to).Msg("sender: migrate chat")
			s.opts.Metrics.retried.Inc()
			return finish(outRetry)
		}
		log.Info().Int64("new_chat_id", to).Msg("sender: chat migrated to a supergroup; its subscriptions and queue moved")
		res.newChatID = to
		return finish(outMigrated)
	case errors.Is(err, tgbot.ErrorForbidden):
		// The reason is shown to the chat when it speaks again (PauseNotice): keep Telegram's
		// own words, without our call chain in front of them.
		if i := strings.Index(reason, "Forbidden: "); i >= 0 {
			reason = reason[i:]
		}
		if perr := s.st.PauseChat(ctx, q.ChatID, reason); perr != nil {
			log.Error().Err(perr).Msg("sender: pause chat")
			s.opts.Metrics.retried.Inc()
			return finish(outRetry)
		}
		s.opts.Metrics.paused.Inc()
		s.opts.Metrics.failed.Inc()
		log.Warn().Str("reason", reason).Msg("sender: telegram refused the chat (403); chat paused until it writes again")
		return finish(outPaused)
	case errors.Is(err, tgbot.ErrorBadRequest):
		// The message itself is wrong (bad HTML, unknown chat): retrying cannot help, and
		// holding it would block the chat's later messages for ever.
		for _, r := range rows {
			if ferr := s.st.FailOutbox(ctx, r.ID, reason); ferr != nil {
				log.Error().Err(ferr).Msg("sender: record failed message")
				s.opts.Metrics.retried.Inc()
				return finish(outRetry)
			}
		}
		s.opts.Metrics.failed.Add(float64(len(rows)))
		log.Error().Str("reason", reason).Int("rows", len(rows)).Msg("sender: telegram refused the message for good")
		res.ids = idsOf(rows)
		return finish(outFailed)
	default:
		// 5xx, network errors, and 401/404 (a wrong token or API URL is fixed by the admin,
		// and the messages must still go out afterwards).
		s.opts.Metrics.retried.Inc()
		if rerr := s.st.RecordAttempt(ctx, q.ID, reason); rerr != nil {
			log.Error().Err(rerr).Msg("sender: record send attempt")
		}
		res.attempted = true // q is a copy: the loop counts it on the queued message (handle)
		log.Warn().Str("reason", reason).Int("attempts", q.Attempts+1).Msg("sender: send failed, will retry")
		return finish(outRetry)
	}
}

func idsOf(rows []store.Queued) []int64 {
	if len(rows) <= 1 {
		return nil
	}
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids
}

// ack records a message as done, retrying the database a few times: Telegram already has the
// message, so failing here must not send it again. If the database stays away the rows are
// left claimed and go out once more after a restart.
func (s *Sender) ack(ctx context.Context, d store.Delivered, log zerolog.Logger, k outcomeKind) outcomeKind {
	var err error
	for i := range 5 {
		if err = s.st.AckDelivered(ctx, d); err == nil {
			return k
		}
		time.Sleep(backoff(50*time.Millisecond, time.Second, i+1))
	}
	log.Error().Err(err).Msg("sender: record sent message; it may go again after a restart")
	return outLost
}

// message is what one sendMessage or editMessageText call says.
type message struct {
	chatID, threadID int64
	text             string
	markup           []byte
	silent           bool
	editID           int // > 0: edit that message
	replyTo          int // > 0: a reply to that message
}

// call sends q, or edits message editID with it, and returns the message id.
func (s *Sender) call(ctx context.Context, q store.Queued, editID int) (int, error) {
	return s.send(ctx, message{chatID: q.ChatID, threadID: q.ThreadID, text: q.Text, markup: q.ReplyMarkup, silent: q.Silent, editID: editID})
}

// send makes the call m says and returns the message id. Any ok:true answer is a success,
// even one whose message cannot be read (rawAPI).
func (s *Sender) send(ctx context.Context, m message) (int, error) {
	p := map[string]any{
		"chat_id":              m.chatID,
		"text":                 m.text,
		"parse_mode":           models.ParseModeHTML,
		"link_preview_options": map[string]bool{"is_disabled": true},
	}
	if len(m.markup) > 0 {
		p["reply_markup"] = json.RawMessage(m.markup)
	}
	if m.editID > 0 {
		p["message_id"] = m.editID
		res, err := s.tg.call(ctx, "editMessageText", p)
		if err != nil {
			return 0, fmt.Errorf("bot: edit message: %w", err)
		}
		return max(messageID(res), m.editID), nil
	}
	if m.threadID != 0 {
		p["message_thread_id"] = m.threadID
	}
	if m.silent {
		p["disable_notification"] = true
	}
	if m.replyTo > 0 {
		// Telegram sends it plainly when the message is gone, except in a forum topic,
		// where it refuses instead (sendReplying then sends it plainly itself).
		p["reply_parameters"] = map[string]any{"message_id": m.replyTo, "allow_sending_without_reply": true}
	}
	res, err := s.tg.call(ctx, "sendMessage", p)
	if err != nil {
		return 0, fmt.Errorf("bot: send message: %w", err)
	}
	return messageID(res), nil
}

// redact removes the bot token from error text before it is logged or stored: the client
// masks it in network errors, but other errors may quote a URL or a response body.
func (s *Sender) redact(text string) string {
	text = Redact(text, s.api.Token())
	const maxLen = 500
	if len(text) > maxLen {
		text = strings.ToValidUTF8(text[:maxLen], "")
	}
	return text
}

const healthSender = "sender"

// unreachable says a send failed without an answer from Telegram: a network error, a
// timeout, a 5xx from its front end. Any refusal Telegram itself gives (429, 400, 403)
// proves it is there.
func unreachable(err error) bool {
	var tooMany *tgbot.TooManyRequestsError
	var migrate *tgbot.MigrateError
	return !errors.As(err, &tooMany) && !errors.As(err, &migrate) &&
		!errors.Is(err, tgbot.ErrorBadRequest) && !errors.Is(err, tgbot.ErrorForbidden)
}

// isReplyGone says a reply was refused because the message it answers is gone.
func isReplyGone(err error) bool {
	return errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(err.Error(), "message to be replied not found")
}

func isNotModified(err error) bool {
	return errors.Is(err, tgbot.ErrorBadRequest) && strings.Contains(err.Error(), "message is not modified")
}

// isEditGone says an edit failed because the message cannot be edited any more.
func isEditGone(err error) bool {
	if !errors.Is(err, tgbot.ErrorBadRequest) {
		return false
	}
	t := err.Error()
	return strings.Contains(t, "message to edit not found") || strings.Contains(t, "message can't be edited")
}
