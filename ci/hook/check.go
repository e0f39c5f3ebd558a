package hook

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/herald-ci/herald/ci"
)

// statusWords maps what monitors say (Nagios' and most tools' words first, then herald's
// own results) to a result.
var statusWords = map[string]ci.Result{
	"ok":       ci.ResultSuccess,
	"warning":  ci.ResultWarnings,
	"critical": ci.ResultFailure,
	"unknown":  ci.ResultException,
}

// statusList is the words a status may be, for the error that names them.
const statusList = "ok, warning, critical, unknown, or one of herald's results (success, warnings, failure, skipped, exception, retry, cancelled)"

// ParseStatus is the result a rendered status names.
func ParseStatus(s string) (ci.Result, error) {
	w := strings.ToLower(strings.TrimSpace(s))
	if r, ok := statusWords[w]; ok {
		return r, nil
	}
	if r := ci.Result(w); r.Valid() {
		return r, nil
	}
	return "", &TemplateError{Field: "status", Msg: fmt.Sprintf("%q is not one of %s", truncate(40, w), statusList)}
}

// CheckEvent is a check hook's body as a finished build of connection <hook name>: the
// builder is the rendered check, the result the rendered status, the state text the
// rendered text. key (DedupKey) names the delivery: the build's id is made from it, so a
// repeat is the same event and stored once; without one every body is a new result.
func (h *Hook) CheckEvent(data any, key string, now time.Time) (ci.Event, error) {
	check, err := execute(h.check, data)
	if err != nil {
		return ci.Event{}, templateError("check", err)
	}
	check = ci.CleanText(strings.TrimSpace(check))
	if check == "" {
		return ci.Event{}, &TemplateError{Field: "check", Msg: "rendered nothing: which check is this about?"}
	}
	if len([]rune(check)) > 200 {
		return ci.Event{}, &TemplateError{Field: "check", Msg: "rendered a name longer than 200 characters"}
	}
	status, err := execute(h.status, data)
	if err != nil {
		return ci.Event{}, templateError("status", err)
	}
	result, err := ParseStatus(status)
	if err != nil {
		return ci.Event{}, err
	}
	var words string
	if h.text != nil {
		if words, err = execute(h.text, data); err != nil {
			return ci.Event{}, templateError("text", err)
		}
	}
	now = now.UTC().Truncate(time.Microsecond) // as Postgres keeps it
	b := ci.Build{
		Conn: h.cfg.Name, ID: resultID(h.cfg.Name, check, key, now), Builder: check,
		StartedAt: now, FinishedAt: now, Complete: true, Result: result,
		StateText: truncate(400, ci.CleanText(strings.TrimSpace(words))),
	}
	return ci.Event{Conn: h.cfg.Name, Kind: ci.KindFinished, Build: &b, At: now}, nil
}

// resultID is a check result's build id: from the delivery's key when there is one (a
// repeat is the same build), else from the time and a few random bytes. It is shown where a
// build number would be, so it reads as a time.
func resultID(hook, check, key string, now time.Time) string {
	if key != "" {
		sum := sha256.Sum256([]byte(hook + "\x00" + check + "\x00" + key))
		return "k" + hex.EncodeToString(sum[:6])
	}
	var r [3]byte
	_, _ = rand.Read(r[:])
	return now.Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(r[:])
}
