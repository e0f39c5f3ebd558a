package hook

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"

	"github.com/herald-ci/herald/ci/tghtml"
)

// HTML is text a helper made that is Telegram HTML already (a link): the escaper leaves it
// as it is. Everything else a template prints is escaped.
type HTML string

// escFunc is the function appended to every printing pipeline of a message template, as
// html/template does it: an admin writes {{.launchName}} and a name holding "<" cannot
// break the message, or smuggle a link into it.
const escFunc = "_herald_escape"

// textFunc ends every printing pipeline of the other templates: a value prints as text does
// (nothing for an absent key, not text/template's "<no value>").
const textFunc = "_herald_text"

// funcs are the helpers every template has.
func funcs(now func() time.Time) template.FuncMap {
	return template.FuncMap{
		escFunc:    escapeValue,
		textFunc:   text,
		"default":  defaultValue,
		"truncate": truncate,
		"json":     jsonText,
		"ago":      func(v any) (string, error) { return ago(v, now()) },
		"link":     link,
	}
}

// parseTemplate parses one template of a hook. html makes every value it prints escaped for
// Telegram HTML (message templates); the others (filter, dedup, check, status, text) make
// plain strings that are escaped where they are shown, if at all.
func parseTemplate(name, text string, html bool, now func() time.Time) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=zero").Funcs(funcs(now)).Parse(text)
	if err != nil {
		return nil, err
	}
	last := textFunc
	if html {
		last = escFunc
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			escapeList(tt.Tree.Root, last)
		}
	}
	return t, nil
}

// escapeList appends fn to every pipeline that prints, anywhere in the list.
func escapeList(l *parse.ListNode, fn string) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		switch n := n.(type) {
		case *parse.ActionNode:
			if len(n.Pipe.Decl) == 0 {
				n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pos,
					Args: []parse.Node{parse.NewIdentifier(fn).SetPos(n.Pos)}})
			}
		case *parse.IfNode:
			escapeList(n.List, fn)
			escapeList(n.ElseList, fn)
		case *parse.RangeNode:
			escapeList(n.List, fn)
			escapeList(n.ElseList, fn)
		case *parse.WithNode:
			escapeList(n.List, fn)
			escapeList(n.ElseList, fn)
		}
	}
}

// execute renders t over data.
func execute(t *template.Template, data any) (string, error) {
	var sb strings.Builder
	if err := t.Execute(&sb, data); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func escapeValue(v any) string {
	if h, ok := v.(HTML); ok {
		return string(h)
	}
	return tghtml.Escape(text(v))
}

// text is how a JSON value reads in a message: strings and numbers as they are, nothing for
// null or absent, objects and arrays as compact JSON (not Go's map[...] notation).
func text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case HTML:
		return string(x)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case map[string]any, []any:
		return jsonText(x)
	}
	return fmt.Sprint(v)
}

// defaultValue is {{.x | default "none"}}: def when v is absent, null, "" or an empty
// object or list. 0 and false are values, not absences: a monitor's "failures: 0" says
// something.
func defaultValue(def, v any) any {
	switch x := v.(type) {
	case nil:
		return def
	case string:
		if x == "" {
			return def
		}
	case map[string]any:
		if len(x) == 0 {
			return def
		}
	case []any:
		if len(x) == 0 {
			return def
		}
	}
	return v
}

// truncate is {{.message | truncate 200}}: at most n characters, the last one "…" when cut.
func truncate(n int, v any) string {
	s := text(v)
	if n <= 0 || utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// jsonText is {{json .labels}}: the value as compact JSON.
func jsonText(v any) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false) // the escaper escapes what the template prints, once
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// link is {{link .launchUrl .launchName}}: a link with the text, or the text alone when the
// URL is not http(s) (a javascript: URL stays text). With the text empty the URL is the text.
func link(u, label any) HTML {
	us, ls := text(u), text(label)
	if ls == "" {
		ls = us
	}
	p, err := url.Parse(us)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return HTML(tghtml.Escape(ls))
	}
	return HTML(`<a href="` + tghtml.EscapeAttr(us) + `">` + tghtml.Escape(ls) + `</a>`)
}

// ago is {{ago .createdDate}}: how long before now a time was, "5m ago". It reads RFC 3339
// text and Unix times in seconds or milliseconds (Allure TestOps sends milliseconds).
func ago(v any, now time.Time) (string, error) {
	t, err := timeOf(v)
	if err != nil {
		return "", err
	}
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "just now", nil
	case d < time.Hour:
		s = fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s, nil
	}
	return s + " ago", nil
}

func timeOf(v any) (time.Time, error) {
	var f float64
	switch x := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return t, nil
		}
		n, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("ago: %q is neither an RFC 3339 time nor a Unix time", truncate(40, x))
		}
		f = n
	case json.Number:
		n, err := x.Float64()
		if err != nil {
			return time.Time{}, fmt.Errorf("ago: %s is not a number", x)
		}
		f = n
	case float64:
		f = x
	default:
		if rv := reflect.ValueOf(v); rv.IsValid() && rv.CanInt() {
			f = float64(rv.Int())
			break
		}
		return time.Time{}, fmt.Errorf("ago: %s is not a time", truncate(40, text(v)))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return time.Time{}, errors.New("ago: not a time")
	}
	if math.Abs(f) >= 1e11 { // after 5138 in seconds: milliseconds
		return time.UnixMilli(int64(f)), nil
	}
	return time.Unix(int64(f), 0), nil
}

// TemplateError is a template's failure, parse or run, with where in the template it is.
type TemplateError struct {
	Field  string // "template", "filter", "dedup", "check", "status", "text"
	Line   int    // 1-based line inside the template; 0 when unknown
	Column int    // 0 when unknown
	Msg    string
}

func (e *TemplateError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s, line %d, column %d: %s", e.Field, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s, line %d: %s", e.Field, e.Line, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

var templateErr = regexp.MustCompile(`^template: [^:]*:(\d+)(?::(\d+))?: (?:executing "[^"]*" )?(.*)$`)

// templateError reads text/template's "template: NAME:LINE:COL: executing "NAME" at <.x>:
// ..." into a TemplateError of field.
func templateError(field string, err error) *TemplateError {
	msg := err.Error()
	te := &TemplateError{Field: field, Msg: msg}
	if m := templateErr.FindStringSubmatch(msg); m != nil {
		te.Line, _ = strconv.Atoi(m[1])
		te.Column, _ = strconv.Atoi(m[2])
		te.Msg = strings.NewReplacer(escFunc, "escape", textFunc, "text").Replace(m[3])
	}
	return te
}
