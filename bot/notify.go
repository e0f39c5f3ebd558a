package bot

import (
	"context"
	"errors"
	"fmt"
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
	// RebuildLabel is, for CI connection conn, the words of the button a failure on it gets
	// when the CI can re-run a build (ci.Rebuilder.RebuildLabel), "" when it cannot. nil: no
	// connection can.
	RebuildLabel func(conn string) string
	ConnKind     func(conn string) string // which CI a connection is (ConnKindsOf), for mentions; nil: none known
	// Blamelist lists, in failure messages, the authors of the changes in the build
	// (notifications.blamelist, Buildbot's showBlameList).
	Blamelist bool
	// Revisions names a build by its revisions instead of its number in every message
	// (notifications.revisions, Buildbot's useRevisions).
	Revisions bool
}

// RebuildLabelsOf is NotifyOptions.RebuildLabel for these providers.
func RebuildLabelsOf(providers []ci.Provider) func(conn string) string {
	labels := map[string]string{}
	for _, p := range providers {
		if r, ok := p.(ci.Rebuilder); ok {
			labels[p.Name()] = r.RebuildLabel()
		}
	}
	return func(conn string) string { return labels[conn] }
}

// rebuildLabel is the re-run button's text for conn, "" for none.
func (n *Notifier) rebuildLabel(conn string) string {
	if n.opts.RebuildLabel == nil {
		return ""
	}
	if l := n.opts.RebuildLabel(conn); l != "" {
		return RerunIcon + " " + l
	}
	return ""
}

// Notifier is the ci.EventSink between providers and chats. Each event goes through named
// stages, all in one transaction so that an event and the outbox rows it causes commit
// together (or not at all):
//
//	merge build (Tx.MergeEvent) → classify (ci.ClassifyEvent) → store (Tx.SaveEvent) →
//	take targets (Tx.TakeTargets) → plan (PlanEvent) → render (Render) → enqueue
//
// A duplicate event (same Key) stops at the merge or store stage and queues nothing, so a
// provider may deliver an event as often as it likes.
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
		var err error
		queued, err = n.deliver(ctx, tx, ev)
		return err
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

// deliver runs the stages in tx and returns how many messages it queued.
func (n *Notifier) deliver(ctx context.Context, tx *store.Tx, ev ci.Event) (int, error) {
	merged, err := tx.MergeEvent(ctx, ev)
	if err != nil || merged.Dup {
		return 0, err
	}
	merged.Event = ci.ClassifyEvent(merged.Event)
	if _, isNew, err := tx.SaveEvent(ctx, merged); err != nil || !isNew {
		return 0, err
	}
	stored := merged.Event
	targets, err := tx.TakeTargets(ctx, stored)
	if err != nil {
		return 0, err
	}
	rerun := n.rebuildLabel(stored.Conn)
	plan := PlanEvent(stored, targets, rerun != "")
	plan.RerunLabel = rerun
	if err := n.quietHours(ctx, tx, stored, &plan); err != nil { // quiet hours, Ack buttons (notify_quiet.go)
		return 0, err
	}
	if len(plan.Drafts) == 0 {
		return 0, nil
	}
	shown := withDetails(stored, n.opts.Blamelist, n.opts.Revisions) // format_build.go
	if n.opts.ShowConn {
		shown = withConnLabel(shown)
	}
	texts := Render(shown, plan.Looks, n.opts.Clock())
	msgs, err := outMessages(ctx, tx, stored, plan, texts)
	if err != nil {
		return 0, err
	}
	msgs = n.mention(ctx, stored, plan, msgs) // who broke it, in chats that want it (notify_mentions.go)
	if n.opts.Wake != nil {
		return len(msgs), tx.EnqueueQuiet(ctx, msgs...)
	}
	return len(msgs), tx.Enqueue(ctx, msgs...)
}

// outMessages is the enqueue stage's input: each draft with its look's text, which chats
// share rather than copy, and the buttons its plan asked for (a Stop button for a chat that
// forced the build, Re-run under a failure), their payloads stored per chat in one round
// trip for the whole event.
func outMessages(ctx context.Context, cb callbackStore, ev ci.Event, plan Plan, texts Texts) ([]store.OutMessage, error) {
	msgs := make([]store.OutMessage, 0, len(plan.Drafts))
	var (
		keyed []int // the messages with a keyboard
		chats []int64
		kbs   [][][]commands.Button
	)
	var stop, rerun [][]commands.Button
	if ev.Build != nil {
		stop = [][]commands.Button{{{Text: "⏹ Stop", Data: commands.StopData(ev.Conn, ev.Build.ID)}}}
		label := plan.RerunLabel
		if label == "" {
			label = RerunLabel
		}
		rerun = [][]commands.Button{{{Text: label, Data: commands.RerunData(ev.Conn, ev.Build.ID)}}}
	}
	for _, d := range plan.Drafts {
		m := store.OutMessage{ChatID: d.ChatID, ThreadID: d.ThreadID, Text: texts[d.Look],
			CardKey: d.CardKey, CardOnly: d.CardOnly, Silent: d.Silent}
		applyDraft(&m, d, texts) // priority, group and thread (notify_render.go)
		var kb [][]commands.Button
		switch {
		case d.StopButton:
			kb = stop
		case d.RerunButton:
			kb = rerun
		}
		kb = withAck(kb, d, ev) // the Ack button of a problem (remind.go)
		if kb != nil {
			keyed, chats, kbs = append(keyed, len(msgs)), append(chats, d.ChatID), append(kbs, kb)
		}
		msgs = append(msgs, m)
	}
	if len(keyed) == 0 {
		return msgs, nil
	}
	markups, err := keyboardMarkups(ctx, cb, chats, kbs)
	if err != nil {
		return nil, err
	}
	for i, at := range keyed {
		msgs[at].ReplyMarkup = markups[i]
	}
	return msgs, nil
}

// RerunIcon starts the re-run button under a failure, before the CI's word for it.
const RerunIcon = "🔁"

// RerunLabel is the re-run button's text when the plan names none (GitHub's words).
const RerunLabel = RerunIcon + " Re-run failed jobs"

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
