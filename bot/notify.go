package bot

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// NotifyOptions tune the notifier.
type NotifyOptions struct {
	Clock func() time.Time // for running times; default time.Now
	// Wake, when set, is called after each commit that queued messages; pass the sender's
	// Wake when both run in one process. Events then commit without a Postgres NOTIFY,
	// which would serialise every commit (see store.Tx.EnqueueQuiet). Without it the
	// notifier NOTIFYs, and a sender in another process wakes by LISTEN.
	Wake func()
	// ShowConn names the CI connection in every message ("main/docs #12"): set it when herald
	// follows more than one CI, so two builders of the same name stay apart.
	ShowConn bool
}

// Notifier is the ci.EventSink between providers and chats: it stores each event, matches
// it against subscriptions, watches and follow-ups, and queues the messages it causes, all
// in one transaction. A duplicate event (same Key) queues nothing, so a provider may
// deliver an event as often as it likes.
type Notifier struct {
	st   *store.Store
	opts NotifyOptions
	log  zerolog.Logger
}

var _ ci.EventSink = (*Notifier)(nil)

// NewNotifier makes a notifier.
func NewNotifier(st *store.Store, opts NotifyOptions, log zerolog.Logger) *Notifier {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Notifier{st: st, opts: opts, log: log}
}

// Deliver implements ci.EventSink. It returns once the event and its messages committed, or
// once it is clear they never can: an event Postgres refuses as data (store.IsDataError) or
// the store calls malformed is logged with its key and skipped, not returned for a retry.
func (n *Notifier) Deliver(ctx context.Context, ev ci.Event) error {
	var queued int
	err := n.st.InTx(ctx, func(tx *store.Tx) error {
		stored, _, isNew, err := tx.RecordEvent(ctx, ev)
		if err != nil {
			return err
		}
		if !isNew {
			return nil
		}
		targets, err := tx.MatchTargets(ctx, stored)
		if err != nil {
			return err
		}
		now := n.opts.Clock()
		shown := stored
		if n.opts.ShowConn {
			shown = withConnLabel(stored)
		}
		var msgs []store.OutMessage
		for _, t := range targets {
			planned := Plan(shown, t, now)
			if stored.Kind == ci.KindStarted && t.Watch && len(planned) > 0 {
				// The chat forced this build: its start message gets a Stop button.
				markup, err := keyboardMarkup(ctx, tx, t.ChatID, [][]commands.Button{{
					{Text: "⏹ Stop", Data: commands.StopData(stored.Conn, stored.Build.ID)},
				}})
				if err != nil {
					return err
				}
				planned[0].ReplyMarkup = markup
			}
			msgs = append(msgs, planned...)
		}
		queued = len(msgs)
		if n.opts.Wake != nil {
			return tx.EnqueueQuiet(ctx, msgs...)
		}
		return tx.Enqueue(ctx, msgs...)
	})
	if err != nil && (store.IsDataError(err) || errors.Is(err, store.ErrBadEvent)) {
		// Storing it again would fail again, and the provider offers its events in order:
		// retrying would hold back every later event of the connection for good. Providers
		// clean what they send (ci.CleanText), so this is a provider's bug: say which event.
		n.log.Error().Err(err).Str("event", ev.Key()).Str("conn", ev.Conn).
			Msg("notify: CI event cannot be stored; skipped")
		return nil
	}
	if err != nil {
		return fmt.Errorf("bot: deliver event %s: %w", ev.Key(), err)
	}
	if queued > 0 && n.opts.Wake != nil {
		n.opts.Wake()
	}
	if queued > 0 {
		n.log.Debug().Str("event", ev.Key()).Int("messages", queued).Msg("notify: event queued")
	}
	return nil
}

// withConnLabel is ev with its builder or worker shown as "conn/name", for messages only.
func withConnLabel(ev ci.Event) ci.Event {
	if ev.Build != nil {
		b := *ev.Build
		b.Builder = ev.Conn + "/" + b.Builder
		ev.Build = &b
	}
	if ev.Worker != nil {
		w := *ev.Worker
		w.Name = ev.Conn + "/" + w.Name
		ev.Worker = &w
	}
	return ev
}

// CardKey names the live build card of a build.
func CardKey(ev ci.Event) string {
	if ev.Build == nil {
		return ""
	}
	return ev.Conn + "/build/" + ev.Build.ID
}

// Plan decides the messages one chat gets for one stored event. It is pure, so every case
// of the card rules is a table test:
//   - started: one message; in card mode "edit" it opens the build's card;
//   - a result: in "edit" mode it edits the card (or is sent new when there is none), and
//     successes are silent unless the chat wants them loud;
//   - problem and recovery are always a new, notifying message; the card, if any, is still
//     brought up to date by a silent edit;
//   - a chat that forced or watches the build gets the result as a new message with sound;
//   - a chat that only subscribes to started has its card updated and hears nothing more.
func Plan(ev ci.Event, t store.Target, now time.Time) []store.OutMessage {
	base := store.OutMessage{ChatID: t.ChatID, ThreadID: t.ThreadID}
	edit := t.CardMode != "new"
	switch {
	case ev.Worker != nil:
		if len(t.Kinds) == 0 {
			return nil
		}
		m := base
		m.Text = FormatWorker(ev)
		return []store.OutMessage{m}
	case ev.Build == nil:
		return nil
	case ev.Kind == ci.KindStarted:
		if ev.Build.Complete {
			return nil // a late start of a build whose result is already out
		}
		m := base
		m.Text = FormatBuild(ev, ci.KindStarted, now)
		if edit {
			m.CardKey = CardKey(ev)
		}
		return []store.OutMessage{m}
	case ev.Kind != ci.KindFinished:
		return nil
	}

	result := FormatBuild(ev, ci.KindFinished, now)
	card := func() store.OutMessage {
		m := base
		m.Text, m.CardKey, m.CardOnly, m.Silent = result, CardKey(ev), true, true
		return m
	}
	var alert ci.Kind
	for _, k := range []ci.Kind{ci.KindProblem, ci.KindRecovery} {
		if slices.Contains(t.Kinds, k) {
			alert = k
		}
	}
	switch {
	case alert != "":
		m := base
		m.Text = FormatBuild(ev, alert, now)
		if edit && t.Started {
			return []store.OutMessage{card(), m}
		}
		return []store.OutMessage{m}
	case t.Watch:
		// The chat forced or watches this build: it asked to be told, so the result is a
		// new message with sound; a card of the build is still brought up to date.
		m := base
		m.Text = result
		if edit {
			return []store.OutMessage{card(), m}
		}
		return []store.OutMessage{m}
	case len(t.Kinds) > 0:
		m := base
		headline := ci.KindFinished
		for _, k := range []ci.Kind{ci.KindWorse, ci.KindBetter} {
			if slices.Contains(t.Kinds, k) {
				headline = k
			}
		}
		m.Text = FormatBuild(ev, headline, now)
		m.Silent = ev.Build.Result == ci.ResultSuccess && !t.LoudSuccess
		if edit {
			m.CardKey = CardKey(ev)
		}
		return []store.OutMessage{m}
	case edit && t.Started:
		return []store.OutMessage{card()}
	}
	return nil
}
