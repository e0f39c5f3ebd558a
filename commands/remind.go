package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

const remindHelp = "/remind 4h: remind this chat of every builder that has been broken longer than that, " +
	"once every 4h while it stays broken, with who broke it and a link. " +
	"Durations: 30m, 4h, 1h30m, 1d (at least 1m).\n" +
	"/ack NAME (or the Ack button under the problem message) stops the reminders of that breakage; " +
	"a new breakage reminds again.\n" +
	"/remind off stops reminders; /remind alone shows them. Only builders and branches this chat's " +
	"/notify filters cover are reminded of. Settings are per chat, and per topic in a forum."

// minRemind and maxRemind bound /remind's interval.
const (
	minRemind = time.Minute
	maxRemind = 30 * 24 * time.Hour
)

// ParseRemind reads /remind's argument: "off" (0) or a duration; ok false for none (show).
func ParseRemind(args []string) (every time.Duration, ok bool, err error) {
	switch {
	case len(args) == 0:
		return 0, false, nil
	case len(args) > 1:
		return 0, false, Userf("Use /remind 4h or /remind off.")
	case strings.EqualFold(args[0], "off"):
		return 0, true, nil
	}
	every, err = parseInterval(args[0])
	if err != nil {
		return 0, false, err
	}
	return every, true, nil
}

// parseInterval reads "4h", "90m", "1h30m" and whole days ("1d", "2d").
func parseInterval(s string) (time.Duration, error) {
	bad := Userf("%q is not a duration: use e.g. 30m, 4h or 1d (at least 1m, at most 30d).", s)
	var d time.Duration
	if days, ok := strings.CutSuffix(strings.ToLower(s), "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(strings.ToLower(s)); err != nil {
			return 0, bad
		}
	}
	if d < minRemind || d > maxRemind {
		return 0, bad
	}
	return d.Truncate(time.Second), nil
}

// intervalText is a reminder interval as people say it: "4h", "1h30m", "2d".
func intervalText(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}

// Remind answers /remind.
func (t Timely) Remind() Command {
	return Command{
		Name:    "remind",
		Summary: "remind me of builders that stay broken",
		Help:    remindHelp,
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			every, set, err := ParseRemind(req.Args)
			if err != nil {
				return Response{}, err
			}
			if set {
				if r := t.mayChange(ctx, req); r != nil {
					return *r, nil
				}
				if err := t.Settings.SetRemindEvery(ctx, req.ChatID, req.ThreadID, every); err != nil {
					return Response{}, err
				}
			}
			s, err := t.remindText(ctx, req)
			return Say(s), err
		}),
	}
}

// remindText says the reminders of req's chat (topic), as stored.
func (t Timely) remindText(ctx context.Context, req Request) (string, error) {
	every, err := t.Settings.RemindEvery(ctx, req.ChatID, req.ThreadID)
	if err != nil {
		return "", err
	}
	if every == 0 {
		return fmt.Sprintf("Reminders for %s: none.", here(req)), nil
	}
	return fmt.Sprintf("Reminders for %s: every %s, of builders broken longer than that.", here(req), intervalText(every)), nil
}
