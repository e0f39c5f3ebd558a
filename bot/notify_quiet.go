package bot

import (
	"context"
	"slices"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// InQuietHours reports whether t falls in the quiet hours from (inclusive) to to (exclusive),
// minutes after midnight on the wall clock of loc. from > to crosses midnight (22:00-08:00);
// from == to is no window. The wall clock decides, not elapsed time: on the night clocks go
// forward "22:00-08:00" lasts nine hours, on the night they go back eleven, and a window
// inside the hour that is skipped (02:00-03:00 in Europe/Berlin on the last Sunday of March)
// does not happen that night, while in October's repeated hour it happens twice.
func InQuietHours(t time.Time, from, to int, loc *time.Location) bool {
	local := t.In(loc)
	m := local.Hour()*60 + local.Minute()
	switch {
	case from < to:
		return m >= from && m < to
	case from > to:
		return m >= from || m < to
	}
	return false
}

// quietDrafts is the quiet stage: the drafts of chats in their quiet hours at now are sent
// silently (disable_notification), never dropped, unless the event is of a kind the chat
// keeps loud (/quiet loud problem). The same lookup, one round trip for all the event's
// targets, marks the problem messages of chats with reminders on (/remind) for an Ack
// button (see withAck).
func quietDrafts(ctx context.Context, tx *store.Tx, ev ci.Event, plan *Plan, now time.Time) error {
	if len(plan.Drafts) == 0 {
		return nil
	}
	var keys []store.ChatKey
	seen := map[store.ChatKey]bool{}
	for _, d := range plan.Drafts {
		k := store.ChatKey{ChatID: d.ChatID, ThreadID: d.ThreadID}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	settings, err := tx.TargetSettingsOf(ctx, keys)
	if err != nil || len(settings) == 0 {
		return err
	}
	kinds := store.EventKinds(ev)
	for i, d := range plan.Drafts {
		s, ok := settings[store.ChatKey{ChatID: d.ChatID, ThreadID: d.ThreadID}]
		if !ok {
			continue
		}
		if s.Reminds && d.Look == ci.KindProblem && !d.CardOnly {
			plan.Drafts[i].AckButton = true
		}
		if !s.HasQuiet || d.Silent || keptLoud(kinds, s.Quiet.Loud) {
			continue
		}
		loc, err := commands.LoadZone(s.Quiet.Zone)
		if err != nil {
			continue // a zone this binary does not know (stored by a newer one): stay loud
		}
		if InQuietHours(now, s.Quiet.From, s.Quiet.To, loc) {
			plan.Drafts[i].Silent = true
		}
	}
	return nil
}

// quietHours runs the quiet stage for deliver.
func (n *Notifier) quietHours(ctx context.Context, tx *store.Tx, ev ci.Event, plan *Plan) error {
	return quietDrafts(ctx, tx, ev, plan, n.opts.Clock())
}

func keptLoud(kinds []ci.Kind, loud []string) bool {
	for _, k := range kinds {
		if slices.Contains(loud, string(k)) {
			return true
		}
	}
	return false
}

// quietJobMessages sends a job's messages (reminders) silently to the chats in their quiet
// hours at now. No event kind keeps them loud: a reminder tells of nothing new.
func quietJobMessages(ctx context.Context, tx *store.Tx, msgs []store.OutMessage, now time.Time) error {
	keys := make([]store.ChatKey, len(msgs))
	for i, m := range msgs {
		keys[i] = store.ChatKey{ChatID: m.ChatID, ThreadID: m.ThreadID}
	}
	settings, err := tx.TargetSettingsOf(ctx, keys)
	if err != nil {
		return err
	}
	for i, k := range keys {
		s, ok := settings[k]
		if !ok || !s.HasQuiet {
			continue
		}
		if loc, err := commands.LoadZone(s.Quiet.Zone); err == nil && InQuietHours(now, s.Quiet.From, s.Quiet.To, loc) {
			msgs[i].Silent = true
		}
	}
	return nil
}
