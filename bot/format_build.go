package bot

import (
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// Field caps, in runes. Telegram refuses texts over 4096 UTF-16 units after parsing; capping
// every outside field keeps the whole message far below that whatever a CI sends, so a
// notification is never refused (and never blocks its chat) for its length.
const (
	maxField  = 200
	maxReason = 400
	maxRev    = 12
	// maxNamed caps the revisions that name a build and the authors of a blame list; the
	// rest are counted ("+3 more").
	maxNamed = 8
	// shortHash is how long a hash is when it names a build: Buildbot's useRevisions cuts
	// them to 7, since one build may hold several.
	shortHash = 7
	// maxResultWords caps the words of a result the table does not know: "finished (…)"
	// around the provider's name for it, cut at 40 runes.
	maxResultWords = len("finished ()") + 40
)

// headlines are the first words for the derived kinds that get a message of their own.
var headlines = map[ci.Kind]string{
	ci.KindProblem:  "🔴 <b>Problem</b>",
	ci.KindRecovery: "🟢 <b>Recovery</b>",
	ci.KindWorse:    "📉 <b>Worse</b>",
	ci.KindBetter:   "📈 <b>Better</b>",
}

// FormatBuild renders a build notification in Telegram HTML. headline is the kind the
// message is about: a derived kind (problem, recovery, worse, better) puts it in front; any
// other kind renders the plain start or result. now is for the running time of a build that
// has not finished.
func FormatBuild(ev ci.Event, headline ci.Kind, now time.Time) string {
	if ev.Build == nil {
		return ""
	}
	b := ev.Build
	var sb strings.Builder
	if h, ok := headlines[headline]; ok {
		sb.WriteString(h)
		sb.WriteString(": ")
	}
	title := fmt.Sprintf("<b>%s</b> %s", esc(b.Builder, maxField), buildNumber(b))
	switch {
	case ev.Kind == ci.KindStarted || !b.Complete && b.Result == ci.ResultNone:
		fmt.Fprintf(&sb, "🏗 %s started", title)
	default:
		look := commands.LookOf(b.Result) // the result table /last and /status use too
		fmt.Fprintf(&sb, "%s %s %s", look.Icon, title, esc(look.Words, maxResultWords))
	}
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&sb, "\n%s: %s", label, value)
		}
	}
	line("Branch", code(b.Branch, maxField))
	if len(b.Revisions) == 0 { // else the title names them
		line("Revision", code(shortRev(b.Revision), maxRev))
	}
	line("By", people(b))
	line("Reason", esc(b.Reason, maxReason))
	if d := b.Duration(now); d > 0 {
		label := "Duration"
		if b.FinishedAt.IsZero() {
			label = "Running for"
		}
		line(label, formatDuration(d))
	}
	if failed(b.Result) {
		line("Failed step", code(b.FailedStep, maxField))
		line("State", esc(b.StateText, maxField))
		line("Blame list", blameText(b.Blamelist))
	}
	return sb.String()
}

// FormatWorker renders a worker going missing or coming back.
func FormatWorker(ev ci.Event) string {
	if ev.Worker == nil {
		return ""
	}
	name := "<b>" + esc(ev.Worker.Name, maxField) + "</b>"
	if ev.WorkerState == ci.WorkerOnline {
		return "🔌 Worker " + name + " is back online"
	}
	return "🔌 Worker " + name + " went missing"
}

func failed(r ci.Result) bool {
	return r == ci.ResultFailure || r == ci.ResultException
}

func buildNumber(b *ci.Build) string {
	n := b.NumberText()
	if b.Number == 0 && b.ID != "" {
		n = esc(b.ID, 40)
	}
	if len(b.Revisions) > 0 {
		n = revisionsText(b.Revisions)
	}
	if u, err := url.Parse(b.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(b.URL) <= 2000 {
		return fmt.Sprintf(`<a href="%s">%s</a>`, escAttr(b.URL), n)
	}
	return n
}

func people(b *ci.Build) string {
	var parts []string
	if b.Owner != "" {
		parts = append(parts, esc(b.Owner, maxField))
	}
	if b.Author != "" && b.Author != b.Owner {
		parts = append(parts, "author "+esc(b.Author, maxField))
	}
	return strings.Join(parts, ", ")
}

// withDetails is ev as messages show it under the notifications settings: the blame list only
// with blamelist on, and Revisions, which name the build in place of its number (buildNumber),
// only with revisions on, filled then from Revision when the CI named just one.
func withDetails(ev ci.Event, blamelist, revisions bool) ci.Event {
	if ev.Build == nil {
		return ev
	}
	b := *ev.Build
	if !blamelist {
		b.Blamelist = nil
	}
	b.Revisions = nil
	if revisions {
		b.Revisions = ci.BuildRevisions(*ev.Build)
	}
	ev.Build = &b
	return ev
}

// revisionsText names a build by its revisions, as Buildbot's useRevisions does: "revision
// a87b2c4", "revisions a87b2c4, 9e01f3c".
func revisionsText(revs []string) string {
	shown := make([]string, 0, min(len(revs), maxNamed))
	for _, r := range revs[:min(len(revs), maxNamed)] {
		if len(r) > shortHash && strings.Trim(r, "0123456789abcdefABCDEF") == "" {
			r = r[:shortHash]
		}
		shown = append(shown, esc(r, 40))
	}
	text := "revision " + shown[0]
	if len(revs) > 1 {
		text = "revisions " + strings.Join(shown, ", ")
	}
	if more := len(revs) - len(shown); more > 0 {
		text += fmt.Sprintf(" +%d more", more)
	}
	return text
}

// blameText is a failure's blame list: its authors, the first maxNamed of them.
func blameText(authors []string) string {
	if len(authors) == 0 {
		return ""
	}
	shown := make([]string, 0, min(len(authors), maxNamed))
	for _, a := range authors[:min(len(authors), maxNamed)] {
		shown = append(shown, esc(a, 60))
	}
	text := strings.Join(shown, ", ")
	if more := len(authors) - len(shown); more > 0 {
		text += fmt.Sprintf(" +%d more", more)
	}
	return text
}

// shortRev cuts a commit hash the way git shows it; anything else is left to esc's cap.
func shortRev(r string) string {
	if len(r) > maxRev && strings.Trim(r, "0123456789abcdefABCDEF") == "" {
		return r[:maxRev]
	}
	return r
}

func code(s string, limit int) string {
	if s == "" {
		return ""
	}
	return "<code>" + esc(s, limit) + "</code>"
}

// formatDuration prints 42s, 3m05s, 1h02m: precise enough for a build, short for a phone.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// esc cuts s to limit runes (marking the cut) and escapes it for Telegram HTML with the one
// escaper (commands.Escape). Invalid UTF-8 from a CI would make Telegram refuse the whole
// message, so it is replaced.
func esc(s string, limit int) string {
	s = strings.ToValidUTF8(s, "�")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return commands.Escape(cutRunes(s, limit))
}

// cutRunes is s, or its first n-1 characters and "…": a field cut before it is escaped (esc)
// or a button's plain text.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func escAttr(s string) string { return commands.EscapeAttr(s) }
