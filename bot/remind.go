package bot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci/tghtml"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// Reminders is the reminders job: it tells chats with /remind on of builders that stayed
// broken longer than their interval, once per interval, until the breakage is acked or
// fixed. It runs under the "reminders" role, in one process at a time; each chat's claim and
// its message commit together (store.Tx.DueReminders), so a failover neither repeats nor
// loses a reminder.
type Reminders struct {
	st    *store.Store
	opts  JobOptions
	log   zerolog.Logger
	every time.Duration
}

// NewReminders makes the reminders job.
func NewReminders(st *store.Store, opts JobOptions, log zerolog.Logger) *Reminders {
	opts.defaults(15 * time.Second)
	return &Reminders{st: st, opts: opts, log: log}
}

// Run reminds until ctx ends; a failed round is logged and tried again at the next.
func (r *Reminders) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Interval)
	defer t.Stop()
	for {
		if n, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("reminders: round failed; trying again")
		} else if n > 0 {
			r.log.Info().Int("chats", n).Msg("reminders: queued")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RunOnce queues the reminders due now, in one transaction, and returns how many chats it
// reminded.
func (r *Reminders) RunOnce(ctx context.Context) (int, error) {
	now := r.opts.Clock()
	var n int
	err := r.st.InTx(ctx, func(tx *store.Tx) error {
		due, err := tx.DueReminders(ctx, now)
		if err != nil {
			return err
		}
		var msgs []store.OutMessage
		var chats []int64
		var kbs [][][]commands.Button
		for _, rm := range due {
			msgs = append(msgs, store.OutMessage{ChatID: rm.ChatID, ThreadID: rm.ThreadID,
				Text: FormatReminder(rm, now, r.opts.ShowConn)})
			chats, kbs = append(chats, rm.ChatID), append(kbs, ackKeyboard(rm.Breakages))
		}
		if len(msgs) == 0 {
			return nil
		}
		if err := quietJobMessages(ctx, tx, msgs, now); err != nil {
			return err
		}
		markups, err := keyboardMarkups(ctx, tx, chats, kbs)
		if err != nil {
			return err
		}
		for i := range msgs {
			msgs[i].ReplyMarkup = markups[i]
		}
		n = len(msgs)
		return enqueueJob(ctx, tx, r.opts.Wake, msgs)
	})
	if err != nil {
		return 0, fmt.Errorf("bot: reminders: %w", err)
	}
	if n > 0 && r.opts.Wake != nil {
		r.opts.Wake()
	}
	return n, nil
}

// maxAckButtons bounds the Ack buttons under one reminder (one per breakage, in order).
const maxAckButtons = 8

func ackKeyboard(bs []store.Breakage) [][]commands.Button {
	var kb [][]commands.Button
	for _, b := range bs {
		if len(kb) == maxAckButtons {
			break
		}
		label := commands.AckLabel + " " + b.Broke.Builder
		if b.Broke.Branch != "" {
			label += " (" + b.Broke.Branch + ")"
		}
		kb = append(kb, []commands.Button{{Text: label, Data: commands.AckData(b.Broke.Conn, b.Broke.ID)}})
	}
	return kb
}

// FormatReminder is the text of one chat's reminder: each breakage with its builder and
// branch, how long it has been broken, who broke it, and links to the build that broke it
// and the newest failure.
func FormatReminder(rm store.Reminder, now time.Time, showConn bool) string {
	var b strings.Builder
	if len(rm.Breakages) == 1 {
		b.WriteString("⏰ <b>Still broken</b>\n")
	} else {
		fmt.Fprintf(&b, "⏰ <b>Still broken: %d builders</b>\n", len(rm.Breakages))
	}
	for _, br := range rm.Breakages {
		b.WriteString("\n" + breakageLine(br, now, showConn))
	}
	b.WriteString("\n\n/ack NAME (or its button) stops the reminders of a breakage.")
	return tghtml.Cut(b.String(), MaxMessageLength)
}

// breakageLine is one breakage as reminders and digests show it.
func breakageLine(br store.Breakage, now time.Time, showConn bool) string {
	broke := br.Broke
	name := broke.Builder
	if showConn {
		name = broke.Conn + "/" + name
	}
	line := "❌ <b>" + esc(name, maxField) + "</b>"
	if broke.Branch != "" {
		line += " on " + code(broke.Branch, maxField)
	}
	line += " broken for " + formatDuration(now.Sub(br.Since())) + " since " + buildNumber(&broke)
	if who := people(&broke); who != "" {
		line += " by " + who
	}
	if broke.Revision != "" {
		line += " (" + code(shortRev(broke.Revision), maxField) + ")"
	}
	if br.Latest.ID != "" && br.Latest.ID != broke.ID {
		latest := br.Latest
		line += "; last failed " + buildNumber(&latest)
	}
	return line
}
