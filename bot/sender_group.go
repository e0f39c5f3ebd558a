package bot

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/store"
)

// maxGroupRows caps the rows one group message takes from a chat's queue at once; the
// rest join it with the next edit (or the next message, once the window closed).
const maxGroupRows = 500

// groupRows is what the dispatcher hands out for chat c: its head, and when the head may be
// grouped, later rows of the same topic and group key the chat holds (see
// SenderOptions.GroupWindow). Interactive rows never group. A later row is passed over when
// a row between it and the head tells of the same builder and branch (or of something the
// sender cannot read): taking it would move a builder's result ahead of its own later one,
// so a chat queued "x broke, x recovered, x broke" would read "x recovered" last.
func (d *dispatcher) groupRows(c *sendQueue) []store.Queued {
	head := c.msgs[0]
	rows := []store.Queued{head}
	if d.s.opts.GroupWindow <= 0 || head.GroupKey == "" || head.Relayed || head.Interactive() {
		return rows
	}
	skipped := map[builderBranch]bool{} // what the rows passed over tell of
	for _, q := range c.msgs[1:] {
		if len(rows) == maxGroupRows {
			break
		}
		same := q.GroupKey == head.GroupKey && q.ThreadID == head.ThreadID && !q.Relayed && !q.Interactive()
		m, ok := memberOf(q)
		bb := builderBranch{m.Item.Name, m.Item.Branch}
		switch {
		case same && ok && !skipped[bb]:
			rows = append(rows, q)
		case q.Interactive() || q.ThreadID != head.ThreadID:
			// A reply, or another topic: it names no build of this one.
		case !ok:
			return rows // a notification nobody can read: nothing later may pass it
		default:
			skipped[bb] = true
		}
	}
	return rows
}

// builderBranch is what a group member tells of: one builder's results on one branch.
type builderBranch struct{ builder, branch string }

// maxGroupWindows bounds a group's age in windows: a stream of failures that never pauses
// for a window still starts a new message now and then, near the end of the chat.
const maxGroupWindows = 10

// groupOpen says whether rows may still join g's message: the chat's last group update was
// less than a window ago (the burst goes on), and the message is not ten windows old.
func (s *Sender) groupOpen(g store.Group) bool {
	now, w := s.opts.Clock(), s.opts.GroupWindow
	return now.Sub(g.UpdatedAt) < w && now.Sub(g.OpenedAt) < maxGroupWindows*w
}

// joinsByEdit says whether rows may join g's message by an edit. An edit neither notifies
// nor replies, so a loud row does not join a silent message (a problem keeps its sound), and
// a row answering another message than g's does (a recovery whose problem went out apart)
// does not join at all: either goes out as a new message.
func (s *Sender) joinsByEdit(ctx context.Context, g store.Group, rows []store.Queued, log zerolog.Logger) bool {
	for _, q := range rows {
		if g.Silent && !q.Silent {
			return false
		}
		if q.ReplyToKey != "" {
			if id := s.anchor(ctx, q.ChatID, q.ThreadID, q.ReplyToKey, log); id != 0 && id != g.ReplyTo {
				return false
			}
		}
	}
	return true
}

// deliverGroup sends rows (a chat's head and later rows of its group) as one message. While
// the chat's group of that key is open (groupOpen) its message is edited to show the new
// rows too; otherwise a lone row goes out as its text says, exactly as without grouping, and
// several become a new group message. Either way the message is remembered as the group's,
// for the rows that come after.
func (s *Sender) deliverGroup(ctx context.Context, rows []store.Queued) outcome {
	head := rows[0]
	log := s.log.With().Int64("chat_id", head.ChatID).Int64("outbox_id", head.ID).Logger()
	res := outcome{chatID: head.ChatID}
	finish := func(k outcomeKind) outcome {
		res.kind, res.at = k, s.opts.Clock()
		return res
	}
	var (
		taken   []store.Queued
		members []groupMember
	)
	for _, q := range rows {
		m, ok := memberOf(q)
		if !ok {
			if q.ID == head.ID {
				return s.deliverOne(ctx, head, nil) // an item nobody can read: the row alone
			}
			continue // it goes when it is the head
		}
		taken, members = append(taken, q), append(members, m)
	}
	res.ids = idsOf(taken)

	g, err := s.st.MessageGroup(ctx, head.ChatID, head.ThreadID, head.GroupKey)
	var shown []groupMember
	open := err == nil && s.groupOpen(g) && json.Unmarshal(g.Members, &shown) == nil && len(shown) > 0
	if open {
		overtaken, oerr := s.st.GroupOvertaken(ctx, g)
		if oerr != nil {
			log.Error().Err(oerr).Msg("sender: look up later groups")
			s.opts.Metrics.retried.Inc()
			return finish(outRetry)
		}
		open = !overtaken && s.joinsByEdit(ctx, g, taken, log) // a later message of the topic: the rows go below it, as a new one
	}
	switch {
	case open:
		all := append(shown, members...)
		text, markup, _ := composeGroup(all)
		_, err := s.send(ctx, message{chatID: head.ChatID, threadID: head.ThreadID, text: text, markup: markup, editID: g.MessageID})
		if err != nil && isEditGone(err) {
			// Deleted by someone, or too old: the rows open a new group instead.
			if ferr := s.st.ForgetGroup(ctx, head.ChatID, head.ThreadID, head.GroupKey); ferr != nil {
				log.Error().Err(ferr).Msg("sender: forget message group")
			}
			break
		}
		s.health(err)
		if err == nil || isNotModified(err) {
			sentAt := s.sent(head)
			for _, q := range taken[1:] {
				s.opts.Metrics.latency.Observe(sentAt.Sub(q.CreatedAt).Seconds())
			}
			g.Members, _ = json.Marshal(all)
			g.UpdatedAt = sentAt
			return finish(s.ack(ctx, store.Delivered{Rows: taken, MessageID: g.MessageID, SentAt: sentAt, Group: &g}, log, outSent))
		}
		return s.refused(ctx, taken, err, log, res)
	case err != nil && !errors.Is(err, store.ErrNotFound):
		log.Error().Err(err).Msg("sender: look up message group")
		s.opts.Metrics.retried.Inc()
		return finish(outRetry)
	}

	if len(taken) == 1 {
		return s.deliverOne(ctx, head, &members[0])
	}
	text, markup, silent := composeGroup(members)
	replyKey := ""
	for _, q := range taken {
		if q.ReplyToKey != "" {
			replyKey = q.ReplyToKey // the first recovery's problem: often all of theirs
			break
		}
	}
	replyTo := 0
	if replyKey != "" {
		replyTo = s.anchor(ctx, head.ChatID, head.ThreadID, replyKey, log)
	}
	msgID, err := s.sendReplying(ctx, message{chatID: head.ChatID, threadID: head.ThreadID, text: text, markup: markup, silent: silent}, replyKey, log)
	s.health(err)
	if err != nil {
		return s.refused(ctx, taken, err, log, res)
	}
	sentAt := s.sent(head)
	for _, q := range taken[1:] {
		s.opts.Metrics.latency.Observe(sentAt.Sub(q.CreatedAt).Seconds())
	}
	shownJSON, _ := json.Marshal(members)
	grp := &store.Group{ChatID: head.ChatID, ThreadID: head.ThreadID, Key: head.GroupKey, MessageID: msgID,
		OpenedAt: sentAt, UpdatedAt: sentAt, Members: shownJSON, Silent: silent, ReplyTo: replyTo}
	if msgID <= 0 {
		grp = nil // an answer without a message id: nothing to edit later
	}
	return finish(s.ack(ctx, store.Delivered{Rows: taken, MessageID: msgID, SentAt: sentAt, Group: grp}, log, outSent))
}
