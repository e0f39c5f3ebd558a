package commands_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// userErr checks that err is a user error starting with want.
func userErr(t *testing.T, err error, want string) {
	t.Helper()
	msg, ok := commands.AsUser(err)
	if !ok || !strings.HasPrefix(msg, want) {
		t.Fatalf("error %v, want a user error starting %q", err, want)
	}
}

func TestParseQuiet(t *testing.T) {
	tests := []struct {
		args string
		want commands.QuietCommand
		err  string
	}{
		{args: "", want: commands.QuietCommand{}},
		{args: "off", want: commands.QuietCommand{Action: "off"}},
		{args: "22:00-08:00 Europe/Berlin", want: commands.QuietCommand{Action: "set", From: 1320, To: 480, Zone: "Europe/Berlin"}},
		{args: "9:30-17:05", want: commands.QuietCommand{Action: "set", From: 570, To: 1025}},
		{args: "22:00–08:00 UTC loud problem", want: commands.QuietCommand{Action: "set", From: 1320, To: 480, Zone: "UTC",
			Loud: []ci.Kind{ci.KindProblem}, LoudGiven: true}},
		{args: "loud recovery problem", want: commands.QuietCommand{Action: "loud", Loud: []ci.Kind{ci.KindProblem, ci.KindRecovery}, LoudGiven: true}},
		{args: "loud none", want: commands.QuietCommand{Action: "loud", Loud: []ci.Kind{}, LoudGiven: true}},
		{args: "22:00-08:00 Mars/Olympus", err: `"Mars/Olympus" is not a time zone I know`},
		{args: "22:00-08:00 Local", err: "Name a time zone"},
		{args: "24:00-08:00", err: `"24:00" is not a time of day`},
		{args: "22:60-08:00", err: `"22:60" is not a time of day`},
		{args: "22-08", err: `"22" is not a time of day`},
		{args: "tonight", err: `"tonight" is not a time window`},
		{args: "08:00-08:00", err: "The window 08:00-08:00 starts where it ends"},
		{args: "loud", err: "Name the events that stay loud"},
		{args: "loud explosions", err: "Unknown event explosions."},
		{args: "off now", err: "/quiet off takes nothing more."},
		{args: "22:00-08:00 UTC please", err: `I did not understand "please"`},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			got, err := commands.ParseQuiet(strings.Fields(tt.args))
			if tt.err != "" {
				userErr(t, err, tt.err)
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseDigest(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want commands.DigestCommand
		err  string
	}{
		{name: "show", args: nil, want: commands.DigestCommand{}},
		{name: "off", args: []string{"off"}, want: commands.DigestCommand{Action: "off"}},
		{name: "daily", args: []string{"daily", "09:00"}, want: commands.DigestCommand{Action: "set", Spec: "0 9 * * *"}},
		{name: "daily with zone and empty", args: []string{"daily", "18:30", "Europe/Berlin", "empty"},
			want: commands.DigestCommand{Action: "set", Spec: "30 18 * * *", Zone: "Europe/Berlin", Empty: true}},
		{name: "quoted cron", args: []string{"0 9 * * 1-5"}, want: commands.DigestCommand{Action: "set", Spec: "0 9 * * 1-5"}},
		{name: "unquoted cron with day names", args: []string{"0", "9", "*", "*", "MON-FRI"}, want: commands.DigestCommand{Action: "set", Spec: "0 9 * * MON-FRI"}},
		{name: "cron and UTC", args: []string{"*/30 * * * *", "UTC"}, want: commands.DigestCommand{Action: "set", Spec: "*/30 * * * *", Zone: "UTC"}},
		{name: "CRON_TZ in the spec", args: []string{"CRON_TZ=Asia/Tokyo 0 8 * * *"}, want: commands.DigestCommand{Action: "set", Spec: "CRON_TZ=Asia/Tokyo 0 8 * * *"}},
		{name: "descriptor", args: []string{"@daily"}, want: commands.DigestCommand{Action: "set", Spec: "@daily"}},
		{name: "bad time", args: []string{"daily", "9am"}, err: `"9am" is not a time of day`},
		{name: "bad zone", args: []string{"daily", "09:00", "Europe/Atlantis"}, err: `"Europe/Atlantis" is not a time zone I know`},
		{name: "bad cron", args: []string{"0 25 * * *"}, err: "That is not a schedule I can read"},
		{name: "too few fields", args: []string{"0 9 *"}, err: "That is not a schedule I can read"},
		{name: "too often", args: []string{"@every 10s"}, err: "A digest at most once a minute"},
		{name: "two zones", args: []string{"CRON_TZ=UTC 0 9 * * *", "Europe/Berlin"}, err: "Name the zone once"},
		{name: "nothing but empty", args: []string{"empty"}, err: "Say when"},
		{name: "bad CRON_TZ", args: []string{"CRON_TZ=Nowhere/Land 0 9 * * *"}, err: "That is not a schedule I can read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := commands.ParseDigest(tt.args)
			if tt.err != "" {
				userErr(t, err, tt.err)
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v %v, want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseRemind(t *testing.T) {
	tests := []struct {
		args  string
		every time.Duration
		set   bool
		err   string
	}{
		{args: ""},
		{args: "off", set: true},
		{args: "4h", every: 4 * time.Hour, set: true},
		{args: "1h30m", every: 90 * time.Minute, set: true},
		{args: "2d", every: 48 * time.Hour, set: true},
		{args: "1m", every: time.Minute, set: true},
		{args: "30s", err: `"30s" is not a duration`},
		{args: "31d", err: `"31d" is not a duration`},
		{args: "soon", err: `"soon" is not a duration`},
		{args: "4h now", err: "Use /remind 4h or /remind off."},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			every, set, err := commands.ParseRemind(strings.Fields(tt.args))
			if tt.err != "" {
				userErr(t, err, tt.err)
				return
			}
			if err != nil || every != tt.every || set != tt.set {
				t.Fatalf("got %v %v %v, want %v %v", every, set, err, tt.every, tt.set)
			}
		})
	}
}

// timelyEnv is the commands env with /quiet, /digest, /remind and /ack, as herald wires them.
func timelyEnv(t *testing.T) *env {
	e := newEnv(t)
	commands.AddTimely(e.reg, commands.Timely{Deps: e.deps, Settings: e.st})
	return e
}

// TestQuietDigestRemindCommands: the settings each command sets are stored per chat and
// topic, shown by the command alone and by /notify list, and survive a restart (a new
// registry on the same database); a digest takes the chat's quiet-hours zone when it names
// none.
func TestQuietDigestRemindCommands(t *testing.T) {
	e := timelyEnv(t)
	mustContain(t, e.send(groupID, admin, "/quiet"), "Quiet hours for this chat: none.")
	mustContain(t, e.send(groupID, admin, "/quiet 22:00-07:30 Europe/Berlin"),
		"Quiet hours for this chat: 22:00–07:30 Europe/Berlin (now 13:00 there): notifications arrive silently.")
	mustContain(t, e.send(groupID, admin, "/quiet loud problem"), "22:00–07:30 Europe/Berlin", "Loud even then: problem.")
	// A new window keeps the zone and the loud kinds.
	mustContain(t, e.send(groupID, admin, "/quiet 23:00-06:00"), "23:00–06:00 Europe/Berlin", "Loud even then: problem.")
	if _, err := e.reg.Handle(context.Background(), req(groupID, admin, "/quiet 23:00-06:00 Atlantis/Deep")); err == nil {
		t.Fatal("an unknown zone was accepted")
	}

	r := req(groupID, admin, "/digest")
	r.Args = []string{"0 9 * * 1-5"}
	res, err := e.reg.Handle(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	// 1 March 2026 is a Sunday: the next weekday 09:00 in Berlin is Monday's.
	mustContain(t, res, "Digest for this chat: <code>0 9 * * 1-5</code> (Europe/Berlin), next Mon 2 Mar 09:00; skipped when nothing ran.")
	spec, empty, err := e.st.DigestSchedule(context.Background(), groupID, 0)
	if err != nil || spec != "CRON_TZ=Europe/Berlin 0 9 * * 1-5" || empty {
		t.Fatalf("stored digest %q %v %v", spec, empty, err)
	}
	mustContain(t, e.send(groupID, admin, "/remind 4h"), "Reminders for this chat: every 4h, of builders broken longer than that.")

	// In a topic, the chat's settings do not apply.
	topic := req(groupID, admin, "/quiet")
	topic.ThreadID = 7
	res, err = e.reg.Handle(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, res, "Quiet hours for this topic: none.")

	// After a restart, /notify list shows all three.
	e.restart(testSpec())
	commands.AddTimely(e.reg, commands.Timely{Deps: e.deps, Settings: e.st})
	mustContain(t, e.send(groupID, admin, "/notify list"),
		"Quiet hours for this chat: 23:00–06:00 Europe/Berlin",
		"Digest for this chat: <code>0 9 * * 1-5</code> (Europe/Berlin)",
		"Reminders for this chat: every 4h")

	mustContain(t, e.send(groupID, admin, "/quiet off"), "Quiet hours for this chat: none.")
	mustContain(t, e.send(groupID, admin, "/digest off"), "Digest for this chat: none.")
	mustContain(t, e.send(groupID, admin, "/remind off"), "Reminders for this chat: none.")
	mustContain(t, e.send(groupID, admin, "/digest daily 08:15 empty"), "<code>15 8 * * *</code> (UTC)", "sent even when nothing ran")
}

// TestAckCommand: /ack names a broken builder and acknowledges its breakage, says so when
// the builder is not broken, and the Ack button acknowledges the breakage of its build and
// tells the chat who did.
func TestAckCommand(t *testing.T) {
	e := timelyEnv(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i, r := range []ci.Result{ci.ResultSuccess, ci.ResultFailure} {
		b := ci.Build{Conn: "bb", ID: "b" + string(rune('1'+i)), Number: i + 1, Builder: "docs-site", Branch: "main",
			FinishedAt: t0.Add(time.Duration(i) * time.Hour), Complete: true, Result: r}
		if _, _, _, err := e.st.RecordEvent(ctx, ci.Event{Conn: "bb", Kind: ci.KindFinished, Build: &b, At: b.FinishedAt}); err != nil {
			t.Fatal(err)
		}
	}
	mustContain(t, e.send(groupID, admin, "/ack pass"), "pass is not broken now: nothing to acknowledge.")
	mustContain(t, e.send(groupID, admin, "/ack docs-site"), "✔️ U acknowledged docs-site (main): no more reminders of this breakage here.")

	press := req(groupID, nobody, "")
	press.Button = &commands.Pressed{QueryID: "q", Data: commands.AckData("bb", "b2")}
	res, err := e.reg.Handle(ctx, press)
	if err != nil {
		t.Fatal(err)
	}
	if res.Notice != "Acknowledged: no more reminders of this breakage here." {
		t.Errorf("notice %q", res.Notice)
	}
	mustContain(t, res, "✔️ U acknowledged docs-site")
	press.Button.Data = commands.AckData("bb", "gone")
	if res, err = e.reg.Handle(ctx, press); err != nil || res.Notice != "I know nothing of that build any more." {
		t.Errorf("press on an unknown build: %q %v", res.Notice, err)
	}
	press.Button.Data = "ack:not json"
	if res, err = e.reg.Handle(ctx, press); err != nil || res.Notice == "" || len(res.Replies) != 0 {
		t.Errorf("press with bad data: %+v %v", res, err)
	}
	var acked int
	if err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM breakage_reminders WHERE chat_id = $1 AND build_id = 'b2' AND acked_at IS NOT NULL`, groupID).Scan(&acked); err != nil || acked != 1 {
		t.Errorf("%d acked rows (%v), want 1", acked, err)
	}
}
