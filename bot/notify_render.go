package bot

import (
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/store"
)

// Texts are an event's rendered looks, Telegram HTML by look.
type Texts map[ci.Kind]string

// formatFunc renders one look of an event; formatLook is the real one, a test counts calls.
type formatFunc func(ev ci.Event, look ci.Kind, now time.Time) string

// Render is the render stage: each distinct look of the plan formatted once, whatever the
// number of chats that get it, so a fan-out's cost in formatting does not grow with its
// chats. ev is the event as messages show it (with the connection label when herald
// follows more than one CI); now is for the running time of a build that has not finished.
//
// Beside each look of a finished build it renders the look's group item (itemLook): the
// one line and headline facts the sender needs to make the message one of a group.
func Render(ev ci.Event, looks []ci.Kind, now time.Time) Texts {
	out := renderWith(formatLook, ev, looks, now)
	if ev.Build == nil || ev.Kind != ci.KindFinished {
		return out
	}
	for _, l := range looks {
		out[itemLook(l)] = formatItem(ev, l)
	}
	return out
}

// itemLook is where Texts keeps the group item of look.
func itemLook(look ci.Kind) ci.Kind { return "item/" + look }

// applyDraft carries the plan's priority, group and thread from d to m. A draft whose look
// has no group item (an event rendered without one) is not grouped.
func applyDraft(m *store.OutMessage, d Draft, texts Texts) {
	m.Priority, m.AnchorKey, m.ReplyToKey = d.Priority, d.AnchorKey, d.ReplyToKey
	if item, ok := texts[itemLook(d.Look)]; ok && d.GroupKey != "" {
		m.GroupKey, m.GroupItem = d.GroupKey, item
	}
}

func renderWith(format formatFunc, ev ci.Event, looks []ci.Kind, now time.Time) Texts {
	out := make(Texts, len(looks))
	for _, l := range looks {
		if _, ok := out[l]; !ok {
			out[l] = format(ev, l, now)
		}
	}
	return out
}

// formatLook is the text of one look (see Draft.Look).
func formatLook(ev ci.Event, look ci.Kind, now time.Time) string {
	if look == ci.KindWorker {
		return FormatWorker(ev)
	}
	return FormatBuild(ev, look, now)
}
