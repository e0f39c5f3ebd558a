package commands

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

const digestHelp = "/digest daily 09:00 [ZONE]: a summary of the builds every day at that time.\n" +
	"/digest \"0 9 * * 1-5\" [ZONE]: on a cron schedule (minute hour day-of-month month day-of-week; " +
	"@daily, @hourly and CRON_TZ=Europe/Berlin at its start work too).\n" +
	"The zone is the one named, else this chat's quiet-hours zone, else UTC.\n" +
	"A digest tells, per builder, how many builds ran and how they ended, what is still broken " +
	"(since when, by whom), what recovered, which builders are flaky (results flipping), and the slowest builds. " +
	"A period without builds is skipped; add <code>empty</code> to be sent one anyway.\n" +
	"/digest off stops it; /digest alone shows it. Settings are per chat, and per topic in a forum."

// DigestCommand is a parsed /digest.
type DigestCommand struct {
	Action string // "" (show), "off" or "set"
	// Spec is the schedule as robfig/cron reads it, without a zone unless typed with one
	// (CRON_TZ=…); Zone is a zone named after it, "" for none.
	Spec, Zone string
	Empty      bool
}

// ParseDigest reads /digest's arguments; errors are user errors (plain text).
func ParseDigest(args []string) (DigestCommand, error) {
	var dc DigestCommand
	if len(args) == 0 {
		return dc, nil
	}
	if strings.EqualFold(args[0], "off") {
		if len(args) > 1 {
			return DigestCommand{}, Userf("/digest off takes nothing more.")
		}
		dc.Action = "off"
		return dc, nil
	}
	dc.Action = "set"
	rest := args
	if n := len(rest); n > 0 && strings.EqualFold(rest[n-1], "empty") {
		dc.Empty, rest = true, rest[:n-1]
	}
	if n := len(rest); n > 1 {
		switch last := rest[n-1]; {
		case zoneShaped(last):
			if _, err := LoadZone(last); err != nil {
				return DigestCommand{}, err
			}
			dc.Zone, rest = last, rest[:n-1]
		case startsWithLetter(last) && !strings.EqualFold(last, "daily"):
			if _, err := LoadZone(last); err == nil {
				dc.Zone, rest = last, rest[:n-1] // UTC, EST: a zone, not a field
			}
		}
	}
	if len(rest) == 0 {
		return DigestCommand{}, Userf("Say when: /digest daily 09:00 or /digest \"0 9 * * 1-5\".")
	}
	if strings.EqualFold(rest[0], "daily") {
		if len(rest) != 2 {
			return DigestCommand{}, Userf("Use /digest daily HH:MM, e.g. /digest daily 09:00.")
		}
		m, err := ParseClock(rest[1])
		if err != nil {
			return DigestCommand{}, err
		}
		dc.Spec = fmt.Sprintf("%d %d * * *", m%60, m/60)
	} else {
		dc.Spec = strings.Join(strings.Fields(strings.Join(rest, " ")), " ")
	}
	if hasZone(dc.Spec) && dc.Zone != "" {
		return DigestCommand{}, Userf("Name the zone once: either CRON_TZ= in the schedule or a zone after it.")
	}
	probe := dc.Spec
	if !hasZone(probe) {
		probe = "CRON_TZ=UTC " + probe
	}
	if _, err := ParseSchedule(probe); err != nil {
		return DigestCommand{}, err
	}
	return dc, nil
}

// zoneShaped tells a zone named after a schedule ("Europe/Berlin") from the schedule's last
// field ("1-5", "*/2", "MON-FRI"): an area/city name starts with a letter and has a slash.
func zoneShaped(s string) bool { return startsWithLetter(s) && strings.Contains(s, "/") }

func startsWithLetter(s string) bool {
	return s != "" && (s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z')
}

func hasZone(spec string) bool {
	return strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=")
}

// ScheduleZone splits a stored schedule into its zone (its CRON_TZ= or TZ=, "UTC" without
// one, as robfig/cron reads it) and the rest of the spec: what /digest shows and the zone
// a digest's times are written in.
func ScheduleZone(spec string) (zone, bare string) {
	if z, rest, ok := strings.Cut(spec, " "); ok && hasZone(z) {
		_, zone, _ = strings.Cut(z, "=")
		return zone, rest
	}
	return "UTC", spec
}

// minDigestGap is the shortest time between two digests.
const minDigestGap = time.Minute

// ParseSchedule reads a digest schedule as stored (robfig/cron's standard syntax with its
// CRON_TZ=) and refuses one that would run more often than once a minute.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, Userf("That is not a schedule I can read (%s). Use /digest daily 09:00 or a cron spec such as \"0 9 * * 1-5\".", err.Error())
	}
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	first := s.Next(t0)
	if first.IsZero() {
		return nil, Userf("That schedule never runs.")
	}
	if s.Next(first).Sub(first) < minDigestGap {
		return nil, Userf("A digest at most once a minute, please.")
	}
	return s, nil
}

// Digest answers /digest.
func (t Timely) Digest() Command {
	return Command{
		Name:    "digest",
		Summary: "a summary of the builds on a schedule",
		Help:    digestHelp,
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			dc, err := ParseDigest(req.Args)
			if err != nil {
				return Response{}, err
			}
			if dc.Action == "" {
				s, err := t.digestText(ctx, req)
				return Say(s), err
			}
			if r := t.mayChange(ctx, req); r != nil {
				return *r, nil
			}
			spec := ""
			if dc.Action == "set" {
				spec = dc.Spec
				if !hasZone(spec) {
					zone := dc.Zone
					if zone == "" {
						if _, _, qz, _, err := t.Settings.QuietHours(ctx, req.ChatID, req.ThreadID); err != nil {
							return Response{}, err
						} else if qz != "" {
							zone = qz
						}
					}
					if zone == "" {
						zone = "UTC"
					}
					spec = "CRON_TZ=" + zone + " " + spec
				}
			}
			if err := t.Settings.SetDigestSchedule(ctx, req.ChatID, req.ThreadID, spec, dc.Empty, t.now()); err != nil {
				return Response{}, err
			}
			s, err := t.digestText(ctx, req)
			return Say(s), err
		}),
	}
}

// digestText says the digest of req's chat (topic), as stored, and when it runs next.
func (t Timely) digestText(ctx context.Context, req Request) (string, error) {
	spec, empty, err := t.Settings.DigestSchedule(ctx, req.ChatID, req.ThreadID)
	if err != nil {
		return "", err
	}
	if spec == "" {
		return fmt.Sprintf("Digest for %s: none.", here(req)), nil
	}
	zone, bare := ScheduleZone(spec)
	s := fmt.Sprintf("Digest for %s: <code>%s</code> (%s)", here(req), Escape(bare), Escape(zone))
	if sched, err := ParseSchedule(spec); err == nil {
		if loc, err := LoadZone(zone); err == nil {
			s += ", next " + sched.Next(t.now()).In(loc).Format("Mon 2 Jan 15:04")
		}
	}
	if empty {
		return s + "; sent even when nothing ran.", nil
	}
	return s + "; skipped when nothing ran.", nil
}
