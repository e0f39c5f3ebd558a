package bot

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/tghtml"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// Grouping (issue 12): a burst of results for one chat becomes one message. The notifier
// cannot do it, because whether a second result is "part of a burst" depends on what is
// still queued for the chat and on when the chat may be written to again, which only the
// sender knows. So the notifier leaves on each row a group key and an item (groupItem, made
// by formatItem once per event and look), and the sender composes the group's message from
// the items (composeGroup), sending it or editing the message the group already has.

// groupItem is one result as a line of a group message, with the facts a headline is made
// of when every member shares them.
type groupItem struct {
	Look   ci.Kind `json:"k"`
	Verb   string  `json:"v"` // broke, failed, recovered, passed, finished
	Branch string  `json:"b,omitempty"`
	Rev    string  `json:"r,omitempty"`
	By     string  `json:"a,omitempty"`
	Line   string  `json:"l"` // Telegram HTML
	Name   string  `json:"n"` // the builder as messages show it, for a button's label
}

// groupMember is a row's part of a group message, as the group stores it (store.Group's
// Members): later rows of the group edit the message to show all of them.
type groupMember struct {
	Item   groupItem       `json:"i"`
	Markup json.RawMessage `json:"m,omitempty"` // the row's inline keyboard
	Silent bool            `json:"s,omitempty"`
}

// formatItem renders ev's group item for look: one line with the build's link.
func formatItem(ev ci.Event, look ci.Kind) string {
	b := ev.Build
	res := commands.LookOf(b.Result)
	it := groupItem{
		Look: look, Branch: b.Branch, Rev: shortRev(b.Revision), Name: b.Builder,
		Verb: verbOf(look, b.Result),
	}
	it.By = b.Author
	if it.By == "" {
		it.By = b.Owner
	}
	line := fmt.Sprintf("%s <b>%s</b> %s %s", res.Icon, esc(b.Builder, maxField), buildNumber(b), esc(res.Words, maxResultWords))
	if failed(b.Result) && b.FailedStep != "" {
		line += " in " + code(b.FailedStep, maxField)
	}
	it.Line = line
	out, _ := json.Marshal(it)
	return string(out)
}

func verbOf(look ci.Kind, r ci.Result) string {
	switch {
	case look == ci.KindProblem:
		return "broke"
	case look == ci.KindRecovery:
		return "recovered"
	case failed(r):
		return "failed"
	case r == ci.ResultSuccess:
		return "passed"
	}
	return "finished"
}

// memberOf is q's part of a group; ok is false when its item cannot be read (the row then
// goes out on its own, as its text says).
func memberOf(q store.Queued) (groupMember, bool) {
	var it groupItem
	if q.GroupKey == "" || json.Unmarshal([]byte(q.GroupItem), &it) != nil || it.Line == "" {
		return groupMember{}, false
	}
	return groupMember{Item: it, Markup: json.RawMessage(q.ReplyMarkup), Silent: q.Silent}, true
}

// maxGroupButtons caps the buttons of a group message: a keyboard of twenty re-run buttons
// is no longer something a person reads.
const maxGroupButtons = 8

// composeGroup is the text and keyboard of a group message, and whether it goes out silent:
// a headline from what the members share ("❌ 20 builds broke on main after a1b2c3d by
// Ann"), then a line per member, cut before Telegram's limit with "… and N more" (the HTML
// source is measured, which is never shorter than what Telegram counts). It is
// silent only when every member is: a problem keeps its sound inside a group. When the
// keyboard cannot hold every member's Ack, a line under the headline says /ack NAME does it.
func composeGroup(members []groupMember) (text string, markup []byte, silent bool) {
	markup, acksLeft := groupKeyboard(members)
	var sb strings.Builder
	sb.WriteString(groupHeadline(members))
	if acksLeft {
		sb.WriteString(ackHint)
	}
	used := tghtml.Len(sb.String())
	silent = true
	for i, m := range members {
		silent = silent && m.Silent
		line := "\n" + m.Item.Line
		rest := len(members) - i - 1
		reserve := 0
		if rest > 0 {
			reserve = tghtml.Len(moreLine(rest + 1))
		}
		if n := tghtml.Len(line); used+n+reserve > MaxMessageLength {
			sb.WriteString(moreLine(len(members) - i))
			for _, m := range members[i+1:] {
				silent = silent && m.Silent
			}
			break
		} else {
			used += n
		}
		sb.WriteString(line)
	}
	return sb.String(), markup, silent
}

func moreLine(n int) string { return fmt.Sprintf("\n… and %d more", n) }

// groupHeadline counts the members and names what they share.
func groupHeadline(members []groupMember) string {
	first := members[0].Item
	verb, branch, rev, by := first.Verb, first.Branch, first.Rev, first.By
	bad := false
	good := true
	for _, m := range members {
		it := m.Item
		if it.Verb != verb {
			verb = ""
		}
		if it.Branch != branch {
			branch = ""
		}
		if it.Rev != rev {
			rev = ""
		}
		if it.By != by {
			by = ""
		}
		switch it.Verb {
		case "broke", "failed":
			bad, good = true, false
		case "recovered", "passed":
		default:
			good = false
		}
	}
	icon := "⚠️"
	switch {
	case bad:
		icon = "❌"
	case good:
		icon = "✅"
	}
	if verb == "" {
		switch {
		case bad:
			verb = "failed"
		case good:
			verb = "passed"
		default:
			verb = "finished"
		}
	}
	h := fmt.Sprintf("%s <b>%d builds %s</b>", icon, len(members), verb)
	if branch != "" {
		h += " on " + code(branch, maxField)
	}
	if rev != "" {
		h += " after " + code(rev, maxRev)
	}
	if by != "" {
		h += " by " + esc(by, maxField)
	}
	return h
}

// inlineKeyboard and inlineButton are render.go's.

// groupKeyboard keeps the members' buttons (a failure's Re-run, a problem's Ack), each named
// after its builder, two to a row, at most maxGroupButtons; nil when no member has one.
// Over the cap, Ack buttons go first, one per member: a Re-run is also /rebuild in the chat,
// but a reminder nobody can silence keeps coming. acksLeft says some Ack did not fit even
// so, for the headline to point at /ack NAME.
func groupKeyboard(members []groupMember) (markup []byte, acksLeft bool) {
	type memberButton struct {
		b   inlineButton
		ack bool
	}
	var all []memberButton
	acks := 0
	for _, m := range members {
		if len(m.Markup) == 0 {
			continue
		}
		var kb inlineKeyboard
		if json.Unmarshal(m.Markup, &kb) != nil {
			continue
		}
		for _, row := range kb.InlineKeyboard {
			for _, b := range row {
				ack := b.Text == commands.AckLabel
				if ack {
					acks++
				}
				b.Text = cutRunes(groupButtonLabel(b.Text)+" "+m.Item.Name, 40)
				all = append(all, memberButton{b, ack})
			}
		}
	}
	if len(all) == 0 {
		return nil, false
	}
	others := maxGroupButtons - min(acks, maxGroupButtons) // the room Acks leave
	var btns []inlineButton
	for _, mb := range all {
		if len(btns) == maxGroupButtons {
			break
		}
		switch {
		case mb.ack:
			btns = append(btns, mb.b)
		case others > 0:
			others--
			btns = append(btns, mb.b)
		}
	}
	var kb inlineKeyboard
	for i := 0; i < len(btns); i += 2 {
		kb.InlineKeyboard = append(kb.InlineKeyboard, btns[i:min(i+2, len(btns))])
	}
	out, _ := json.Marshal(kb)
	return out, acks > maxGroupButtons
}

// ackHint is the line under a group's headline when its keyboard could not hold every Ack.
const ackHint = "\n<i>/ack NAME silences the reminders of a builder without a button</i>"

// groupButtonLabel is what a member's button keeps of its text before the builder's name:
// a short label whole ("✔️ Ack"), a long one its icon ("🔁" of "🔁 Re-run failed jobs").
func groupButtonLabel(text string) string {
	if utf8.RuneCountInString(text) <= 8 {
		return text
	}
	icon, _, _ := strings.Cut(text, " ")
	return icon
}
