package commands

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-ci/herald/ci"
)

const quietHelp = "/quiet 22:00-08:00 Europe/Berlin: in those hours (on that zone's clock, across " +
	"midnight if the end comes first) notifications arrive silently — none is dropped. " +
	"Without a zone the one set before is kept (UTC at first).\n" +
	"/quiet loud problem recovery: those events still make a sound in quiet hours; " +
	"/quiet loud none: every event is silent then.\n" +
	"/quiet off: no quiet hours. /quiet alone shows them.\n" +
	"Zones are IANA names (Europe/Berlin, America/New_York, Asia/Tokyo, UTC). " +
	"Settings are per chat, and per topic in a forum."

// QuietCommand is a parsed /quiet.
type QuietCommand struct {
	Action    string // "" (show), "off", "set" or "loud"
	From, To  int    // minutes after midnight, for set
	Zone      string // for set; "" keeps the zone set before
	Loud      []ci.Kind
	LoudGiven bool // set: the loud kinds were named too
}

// ParseQuiet reads /quiet's arguments; errors are user errors (plain text).
func ParseQuiet(args []string) (QuietCommand, error) {
	var qc QuietCommand
	if len(args) == 0 {
		return qc, nil
	}
	switch strings.ToLower(args[0]) {
	case "off":
		if len(args) > 1 {
			return QuietCommand{}, Userf("/quiet off takes nothing more.")
		}
		qc.Action = "off"
		return qc, nil
	case "loud":
		qc.Action = "loud"
		loud, err := parseLoud(args[1:])
		qc.Loud, qc.LoudGiven = loud, true
		return qc, err
	}
	qc.Action = "set"
	from, to, err := ParseWindow(args[0])
	if err != nil {
		return QuietCommand{}, err
	}
	qc.From, qc.To = from, to
	rest := args[1:]
	if len(rest) > 0 && !strings.EqualFold(rest[0], "loud") {
		if _, err := LoadZone(rest[0]); err != nil {
			return QuietCommand{}, err
		}
		qc.Zone, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		if !strings.EqualFold(rest[0], "loud") {
			return QuietCommand{}, Userf("I did not understand %q: use /quiet 22:00-08:00 Europe/Berlin (see /help quiet).", rest[0])
		}
		loud, err := parseLoud(rest[1:])
		if err != nil {
			return QuietCommand{}, err
		}
		qc.Loud, qc.LoudGiven = loud, true
	}
	return qc, nil
}

func parseLoud(args []string) ([]ci.Kind, error) {
	if len(args) == 0 {
		return nil, Userf("Name the events that stay loud, e.g. /quiet loud problem, or /quiet loud none.")
	}
	if len(args) == 1 && (strings.EqualFold(args[0], "none") || strings.EqualFold(args[0], "off")) {
		return []ci.Kind{}, nil
	}
	named := map[ci.Kind]bool{}
	for _, a := range args {
		k, err := ci.ParseKind(strings.ToLower(strings.TrimSuffix(a, ",")))
		if err != nil {
			return nil, Userf("Unknown event %s. Events: %s.", a, kindList(ci.Kinds))
		}
		named[k] = true
	}
	var out []ci.Kind
	for _, k := range ci.Kinds {
		if named[k] {
			out = append(out, k)
		}
	}
	return out, nil
}

// ParseWindow reads "22:00-08:00" into minutes after midnight. The end may come before the
// start (the window crosses midnight); a window that starts where it ends is refused.
func ParseWindow(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(strings.ReplaceAll(s, "–", "-"), "-")
	if !ok {
		return 0, 0, Userf("%q is not a time window: use START-END, e.g. /quiet 22:00-08:00 Europe/Berlin.", s)
	}
	if from, err = ParseClock(a); err != nil {
		return 0, 0, err
	}
	if to, err = ParseClock(b); err != nil {
		return 0, 0, err
	}
	if from == to {
		return 0, 0, Userf("The window %s starts where it ends: give two different times, e.g. 22:00-08:00.", s)
	}
	return from, to, nil
}

// ParseClock reads a wall-clock time "HH:MM" (00:00 to 23:59) into minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, herr := strconv.Atoi(h)
	mm, merr := strconv.Atoi(m)
	if !ok || herr != nil || merr != nil || len(m) != 2 || len(h) < 1 || len(h) > 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, Userf("%q is not a time of day: use HH:MM, from 00:00 to 23:59.", s)
	}
	return hh*60 + mm, nil
}

// LoadZone loads an IANA time zone by name, with an error a user can act on: herald's one
// way to read a zone (commands, quiet hours, digests). The binary carries the zone database
// (time/tzdata in cmd/herald), so it does not depend on the host's; the host's own zone
// ("Local") is refused, so a setting means the same on every replica. Zones are cached:
// time.LoadLocation reads and parses the zone's data each call, and the quiet stage asks
// for every target of every event.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || strings.EqualFold(name, "local") {
		return nil, Userf("Name a time zone, e.g. Europe/Berlin or UTC.")
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, Userf("%q is not a time zone I know: use an IANA name such as Europe/Berlin, America/New_York or UTC.", name)
	}
	zones.Store(name, loc)
	return loc, nil
}

var zones sync.Map // name → *time.Location, for LoadZone

func clockText(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// Quiet answers /quiet.
func (t Timely) Quiet() Command {
	return Command{
		Name:    "quiet",
		Summary: "set quiet hours: notifications arrive silently",
		Help:    quietHelp,
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			qc, err := ParseQuiet(req.Args)
			if err != nil {
				return Response{}, err
			}
			if qc.Action == "" {
				s, err := t.quietText(ctx, req)
				return Say(s), err
			}
			if r := t.mayChange(ctx, req); r != nil {
				return *r, nil
			}
			from, to, zone, loud, err := t.Settings.QuietHours(ctx, req.ChatID, req.ThreadID)
			if err != nil {
				return Response{}, err
			}
			switch qc.Action {
			case "off":
				zone, loud = "", nil
			case "loud":
				loud = kindNames(qc.Loud)
			case "set":
				from, to = qc.From, qc.To
				switch {
				case qc.Zone != "":
					zone = qc.Zone
				case zone == "":
					zone = "UTC"
				}
				if qc.LoudGiven {
					loud = kindNames(qc.Loud)
				}
			}
			if err := t.Settings.SetQuietHours(ctx, req.ChatID, req.ThreadID, from, to, zone, loud); err != nil {
				return Response{}, err
			}
			s, err := t.quietText(ctx, req)
			return Say(s), err
		}),
	}
}

// quietText says the quiet hours of req's chat (topic), as stored.
func (t Timely) quietText(ctx context.Context, req Request) (string, error) {
	from, to, zone, loud, err := t.Settings.QuietHours(ctx, req.ChatID, req.ThreadID)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if zone == "" {
		fmt.Fprintf(&b, "Quiet hours for %s: none.", here(req))
	} else {
		fmt.Fprintf(&b, "Quiet hours for %s: %s–%s %s", here(req), clockText(from), clockText(to), Escape(zone))
		if loc, err := LoadZone(zone); err == nil {
			fmt.Fprintf(&b, " (now %s there)", t.now().In(loc).Format("15:04"))
		}
		b.WriteString(": notifications arrive silently.")
	}
	if len(loud) > 0 {
		fmt.Fprintf(&b, " Loud even then: %s.", Escape(strings.Join(loud, ", ")))
	}
	return b.String(), nil
}
