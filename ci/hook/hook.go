// Package hook is herald's provider for any tool that can post JSON: a hook is a name, a
// secret and Go templates over the body. A message hook turns each body into a message for
// the chats that subscribed to it (/notify on hook:NAME) and its fixed chats; a check hook
// turns each body into the result of a check (a build of connection NAME whose builder is
// the check), so monitors get herald's problem and recovery, /status and /last like any CI,
// and a check that falls silent is reported missing like a worker. The package knows
// nothing of Postgres or Telegram: what it stores goes through small interfaces.
package hook

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"
	"time"

	"github.com/herald-ci/herald/ci/tghtml"
)

// The kinds of hook.
const (
	KindMessage = "message" // the default
	KindCheck   = "check"
)

// MaxBody is the largest body a hook takes: a tool's event is a few kB, and a body is held
// in memory whole.
const MaxBody = 1 << 20

// Target is a fixed chat of a message hook, or one forum topic of it.
type Target struct {
	ChatID, ThreadID int64
}

// Config is one hook as the config file gives it.
type Config struct {
	Name   string
	Kind   string // KindMessage ("" too) or KindCheck
	Secret string
	// Templates, by field; empty ones are not used. A message hook needs Template; a check
	// hook needs Check and Status.
	Template, Filter, Dedup string
	Check, Status, Text     string
	// Chats are a message hook's fixed targets, subscribed once (then /notify off works).
	Chats []Target
	// AllowChats, when not empty, are the only chats that may /notify on hook:NAME (Chats
	// always may).
	AllowChats []int64
	// ExpectEvery is how often a check hook's checks report: a check silent for longer is
	// reported missing. 0: never.
	ExpectEvery time.Duration
}

// Problem is one thing wrong in a hook's config, by key, as ci.ConfigProblem (the caller
// knows the file and turns it into file:line). For a template, Line and Column are where in
// the template.
type Problem struct {
	Key          string
	Msg          string
	Line, Column int
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Hook is a compiled hook.
type Hook struct {
	cfg                     Config
	template, filter, dedup *template.Template
	check, status, text     *template.Template
	now                     func() time.Time
}

// Compile checks cfg and parses its templates; every problem is returned at once. now is
// the clock for ago; nil is time.Now.
func Compile(cfg Config, now func() time.Time) (*Hook, []Problem) {
	if now == nil {
		now = time.Now
	}
	h := &Hook{cfg: cfg, now: now}
	var ps []Problem
	add := func(key, format string, args ...any) {
		ps = append(ps, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if !namePattern.MatchString(cfg.Name) {
		add("name", "name must be a short lower-case name like allure or monitor (a-z, 0-9, _ and -)")
	}
	if cfg.Secret == "" {
		add("secret", "secret is required: without it anyone who finds the URL could post to the chats")
	}
	parse := func(field, src string, html bool) *template.Template {
		if src == "" {
			return nil
		}
		t, err := parseTemplate(field, src, html, now)
		if err != nil {
			te := templateError(field, err)
			ps = append(ps, Problem{Key: field, Msg: te.Error(), Line: te.Line, Column: te.Column})
			return nil
		}
		return t
	}
	h.dedup = parse("dedup", cfg.Dedup, false)
	switch cfg.Kind {
	case "", KindMessage:
		h.cfg.Kind = KindMessage
		if cfg.Template == "" {
			add("template", "template is required: the message, a Go template over the JSON body")
		}
		h.template = parse("template", cfg.Template, true)
		h.filter = parse("filter", cfg.Filter, false)
		for _, key := range []struct{ key, val string }{{"check", cfg.Check}, {"status", cfg.Status}, {"text", cfg.Text}} {
			if key.val != "" {
				add(key.key, "%s is for kind: check; a message hook has template", key.key)
			}
		}
		if cfg.ExpectEvery != 0 {
			add("expect_every", "expect_every is for kind: check")
		}
	case KindCheck:
		if cfg.Check == "" {
			add("check", "check is required for kind: check: which thing the body is about, e.g. '{{.service}}'")
		}
		if cfg.Status == "" {
			add("status", "status is required for kind: check: e.g. '{{.status}}' (ok, warning, critical, unknown)")
		}
		h.check = parse("check", cfg.Check, false)
		h.status = parse("status", cfg.Status, false)
		h.text = parse("text", cfg.Text, false)
		if cfg.Template != "" {
			add("template", "template is for message hooks; a check's message is herald's problem or recovery (use text: for its words)")
		}
		if cfg.Filter != "" {
			add("filter", "filter is for message hooks")
		}
		if len(cfg.Chats) > 0 {
			add("chats", "chats is for message hooks; a check reaches the chats subscribed to problem and recovery (/notify, or chats: at the top level)")
		}
		if len(cfg.AllowChats) > 0 {
			add("allow_chats", "allow_chats is for message hooks")
		}
		if cfg.ExpectEvery < 0 {
			add("expect_every", "expect_every must be a positive duration such as 10m")
		}
	default:
		add("kind", "kind must be message or check")
	}
	for i, c := range cfg.Chats {
		if c.ChatID == 0 {
			add(fmt.Sprintf("chats[%d]", i), "chats[%d].id is required: the chat id /getid shows", i)
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return h, nil
}

// Name is the hook's name: its URL is POST /hooks/<name>.
func (h *Hook) Name() string { return h.cfg.Name }

// IsCheck reports whether this is a check hook.
func (h *Hook) IsCheck() bool { return h.cfg.Kind == KindCheck }

// Config is the hook's config, as compiled.
func (h *Hook) Config() Config { return h.cfg }

// ErrNotJSON means a body is not one JSON value.
var ErrNotJSON = errors.New("hook: body is not JSON")

// Decode reads a body as the data templates see: one JSON value, numbers as json.Number so
// an id of 13 digits prints as it was sent.
func Decode(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotJSON, err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more after the first value", ErrNotJSON)
	}
	return v, nil
}

// Filter reports whether the body is to be delivered: no filter, or one that renders "true".
func (h *Hook) Filter(data any) (bool, error) {
	if h.filter == nil {
		return true, nil
	}
	out, err := execute(h.filter, data)
	if err != nil {
		return false, templateError("filter", err)
	}
	return strings.TrimSpace(out) == "true", nil
}

// DedupKey is what makes a delivery a repeat of an earlier one: the Idempotency-Key the
// sender gave, else the dedup template's rendering; "" for neither.
func (h *Hook) DedupKey(idempotencyKey string, data any) (string, error) {
	if k := strings.TrimSpace(idempotencyKey); k != "" {
		return boundKey(k), nil
	}
	if h.dedup == nil {
		return "", nil
	}
	out, err := execute(h.dedup, data)
	if err != nil {
		return "", templateError("dedup", err)
	}
	return boundKey(strings.TrimSpace(out)), nil
}

// maxKey is the longest key stored as written.
const maxKey = 200

// boundKey keeps a key short without losing any of it: a longer one becomes its SHA-256. A
// cut would make two keys that differ only at the end (a group whose newest alert comes
// last) one key, and the second delivery a "repeat".
func boundKey(k string) string {
	if len(k) <= maxKey {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Message renders a message hook's message for data, cut to Telegram's limit. When the
// template fails on this body the message is the raw event instead (pretty JSON, escaped,
// in <pre>), so the chat hears of it anyway, and err says why.
func (h *Hook) Message(data any) (msg string, err error) {
	out, xerr := execute(h.template, data)
	if xerr == nil && strings.TrimSpace(out) != "" {
		return tghtml.Cut(strings.TrimSpace(out), tghtml.MaxMessage), nil
	}
	if xerr == nil {
		err = &TemplateError{Field: "template", Msg: "rendered an empty message"}
	} else {
		err = templateError("template", xerr)
	}
	return RawMessage(h.cfg.Name, data), err
}

// RawMessage is the event as received, for a hook whose template failed on it.
func RawMessage(name string, data any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // escaped below, once, for Telegram
	enc.SetIndent("", "  ")
	var pretty string
	if err := enc.Encode(data); err != nil {
		pretty = fmt.Sprint(data)
	} else {
		pretty = strings.TrimSpace(buf.String())
	}
	return tghtml.Cut("⚠️ hook <b>"+tghtml.Escape(name)+"</b>: the template failed on this event; here it is as received:\n<pre>"+
		tghtml.Escape(pretty)+"</pre>", tghtml.MaxMessage)
}
