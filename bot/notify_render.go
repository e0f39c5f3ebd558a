package bot

import (
	"time"

	"github.com/herald-ci/herald/ci"
)

// Texts are an event's rendered looks, Telegram HTML by look.
type Texts map[ci.Kind]string

// formatFunc renders one look of an event; formatLook is the real one, a test counts calls.
type formatFunc func(ev ci.Event, look ci.Kind, now time.Time) string

// Render is the render stage: each distinct look of the plan formatted once, whatever the
// number of chats that get it, so a fan-out's cost in formatting does not grow with its
// chats. ev is the event as messages show it (with the connection label when herald
// follows more than one CI); now is for the running time of a build that has not finished.
func Render(ev ci.Event, looks []ci.Kind, now time.Time) Texts {
	return renderWith(formatLook, ev, looks, now)
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
