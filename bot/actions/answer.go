package actions

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/herald-ci/herald/commands"
)

// Limits on an answer's buttons: Telegram allows more, but a reply in a chat is not a menu.
const (
	maxRows       = 8
	maxPerRow     = 4
	maxButtonText = 64
	maxButtonData = 256
)

// answerJSON is an application/json answer. Text is always plain text: herald escapes it,
// so a system cannot make the reply refused by Telegram with a stray "<", nor make it say
// more than it meant (no HTML, no hidden links).
type answerJSON struct {
	Text    string         `json:"text"`
	Buttons [][]buttonJSON `json:"buttons"`
}

type buttonJSON struct {
	Text string `json:"text"`
	URL  string `json:"url"`
	Data string `json:"data"`
}

// ParseAnswer reads a 2xx answer: JSON {"text", "buttons"} when the content type says JSON,
// the body as plain text otherwise. Anything it cannot take is commands.ErrActionAnswer
// with the reason, never part of the body.
func ParseAnswer(contentType string, raw []byte) (commands.ActionAnswer, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		if !utf8.Valid(raw) {
			return commands.ActionAnswer{}, fmt.Errorf("%w: the text is not UTF-8", commands.ErrActionAnswer)
		}
		return commands.ActionAnswer{Text: string(raw)}, nil
	}
	var a answerJSON
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return commands.ActionAnswer{}, fmt.Errorf("%w: not the JSON herald reads ({\"text\", \"buttons\"})", commands.ErrActionAnswer)
	}
	if dec.More() {
		return commands.ActionAnswer{}, fmt.Errorf("%w: more than one JSON value", commands.ErrActionAnswer)
	}
	out := commands.ActionAnswer{Text: a.Text}
	if len(a.Buttons) > maxRows {
		return commands.ActionAnswer{}, fmt.Errorf("%w: more than %d rows of buttons", commands.ErrActionAnswer, maxRows)
	}
	for i, row := range a.Buttons {
		if len(row) > maxPerRow {
			return commands.ActionAnswer{}, fmt.Errorf("%w: row %d has more than %d buttons", commands.ErrActionAnswer, i+1, maxPerRow)
		}
		var r []commands.ActionButton
		for j, b := range row {
			if why := badButton(b); why != "" {
				return commands.ActionAnswer{}, fmt.Errorf("%w: button %d of row %d: %s", commands.ErrActionAnswer, j+1, i+1, why)
			}
			r = append(r, commands.ActionButton{Text: b.Text, URL: b.URL, Data: b.Data})
		}
		if len(r) > 0 {
			out.Buttons = append(out.Buttons, r)
		}
	}
	return out, nil
}

// badButton says what is wrong with a button, or "".
func badButton(b buttonJSON) string {
	switch {
	case strings.TrimSpace(b.Text) == "":
		return "no text"
	case utf8.RuneCountInString(b.Text) > maxButtonText:
		return fmt.Sprintf("text longer than %d characters", maxButtonText)
	case (b.URL == "") == (b.Data == ""):
		return "it needs either url (a link) or data (pressed, it calls the action again)"
	case b.URL != "":
		u, err := url.Parse(b.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "url must be an http(s) link"
		}
	case len(b.Data) > maxButtonData:
		return fmt.Sprintf("data longer than %d bytes", maxButtonData)
	}
	return ""
}
