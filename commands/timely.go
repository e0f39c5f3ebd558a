package commands

import (
	"context"
	"strings"
	"time"
)

// TimelyStore keeps what decides when a chat (or forum topic) hears things: quiet hours,
// digest schedules, reminder intervals and acknowledged breakages (store/chat_settings.go,
// store/reminders.go). *store.Store implements it with these plain values.
type TimelyStore interface {
	// QuietHours: from and to are minutes after local midnight in zone (an IANA name; ""
	// means none); loud lists the event kinds that stay loud.
	QuietHours(ctx context.Context, chatID, threadID int64) (from, to int, zone string, loud []string, err error)
	SetQuietHours(ctx context.Context, chatID, threadID int64, from, to int, zone string, loud []string) error
	// DigestSchedule: a robfig/cron spec with its CRON_TZ= ("" means none).
	DigestSchedule(ctx context.Context, chatID, threadID int64) (spec string, empty bool, err error)
	// SetDigestSchedule starts the first period at since.
	SetDigestSchedule(ctx context.Context, chatID, threadID int64, spec string, empty bool, since time.Time) error
	RemindEvery(ctx context.Context, chatID, threadID int64) (time.Duration, error)
	SetRemindEvery(ctx context.Context, chatID, threadID int64, every time.Duration) error
	// AckBuild silences the reminders of the breakage build buildID started; found is false
	// for a build herald never heard of.
	AckBuild(ctx context.Context, chatID, threadID int64, conn, buildID string, byUser int64, byName string, at time.Time) (builder string, found bool, err error)
	// AckBroken silences the reminders of every current breakage of builder (conn "" is any
	// connection) and returns the branches acknowledged.
	AckBroken(ctx context.Context, chatID, threadID int64, conn, builder string, byUser int64, byName string, at time.Time) (branches []string, err error)
}

// Timely holds the commands that decide when a chat hears things: /quiet, /digest, /remind
// and /ack.
type Timely struct {
	Deps
	Settings TimelyStore
}

// AddTimely registers /quiet, /digest, /remind and /ack.
func AddTimely(reg *Registry, t Timely) {
	reg.Add(t.Quiet(), t.Digest(), t.Remind(), t.Ack())
}

// timelyLines are the lines /notify list adds about quiet hours, digests and reminders, each
// starting with a newline. /notify has only Deps: the settings are found on its store, which
// in herald (*store.Store) keeps them too; a store that does not (a test's) adds none.
func (d Deps) timelyLines(ctx context.Context, req Request) (string, error) {
	ts, ok := d.Store.(TimelyStore)
	if !ok {
		return "", nil
	}
	t := Timely{Deps: d, Settings: ts}
	var b strings.Builder
	for _, line := range []func(context.Context, Request) (string, error){t.quietText, t.digestText, t.remindText} {
		s, err := line(ctx, req)
		if err != nil {
			return "", err
		}
		b.WriteString("\n" + s)
	}
	return b.String(), nil
}

// here names where a setting applies, as the settings texts say it.
func here(req Request) string {
	if req.ThreadID != 0 {
		return "this topic"
	}
	return "this chat"
}

// mayChange answers a request to change a timely setting that the chat's rules refuse, or
// nil when it may go ahead (the same rule as /notify).
func (t Timely) mayChange(ctx context.Context, req Request) *Response {
	if why := t.mayNotify(ctx, req); why != "" {
		r := Say(Escape(why))
		return &r
	}
	return nil
}
