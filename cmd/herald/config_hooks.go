package main

import (
	"fmt"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/herald-ci/herald/ci/hook"
)

// HookConfig is one entry of hooks: a tool posting JSON to POST /hooks/<name> (package
// ci/hook says what each key does).
type HookConfig struct {
	Name        string           `yaml:"name"`
	Kind        string           `yaml:"kind"`
	Secret      string           `yaml:"secret"`
	Template    string           `yaml:"template"`
	Filter      string           `yaml:"filter"`
	Dedup       string           `yaml:"dedup"`
	Check       string           `yaml:"check"`
	Status      string           `yaml:"status"`
	Text        string           `yaml:"text"`
	Chats       []HookChatConfig `yaml:"chats"`
	AllowChats  []int64          `yaml:"allow_chats"`
	ExpectEvery time.Duration    `yaml:"expect_every"`
	Line        int              `yaml:"-"`

	// starts is, for each key, the line its value's text starts at: the line after the key's
	// for a block scalar (template: |), so a template's line N is the file's starts+N-1.
	starts map[string]int
	// notMapping is set for an entry that is not a mapping: it was reported as such, and
	// checking its keys would only add noise.
	notMapping bool
}

// HookChatConfig is a fixed chat of a hook: a chat id, or {id, thread} for a forum topic.
type HookChatConfig struct {
	ID     int64 `yaml:"id"`
	Thread int64 `yaml:"thread"`
	Line   int   `yaml:"-"`
}

// decodeNode reads a hooks: entry strictly, noting where each value's text starts. An entry
// that is not a mapping is reported without its value, which may be a misplaced secret.
func (h *HookConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	h.Line = n.Line
	h.starts = map[string]int{}
	if n.Kind != yaml.MappingNode {
		d.addf(n.Line, "%s: expected a mapping of keys (name, secret, template, ...), got a single value or a list", path)
		h.notMapping = true
		return
	}
	d.decodeStruct(n, reflect.ValueOf(h).Elem(), path)
	for i := 0; i+1 < len(n.Content); i += 2 {
		val := n.Content[i+1]
		start := val.Line
		if val.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
			start++
		}
		h.starts[n.Content[i].Value] = start
	}
}

// decodeNode reads a chat id alone (chats: [-100123]) or {id, thread}.
func (c *HookChatConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	c.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		d.decode(n, reflect.ValueOf(&c.ID), join(path, "id"))
		return
	}
	d.decodeStruct(n, reflect.ValueOf(c).Elem(), path)
}

// hookConfig is the entry as package hook takes it.
func (h *HookConfig) hookConfig() hook.Config {
	cfg := hook.Config{
		Name: h.Name, Kind: h.Kind, Secret: h.Secret,
		Template: h.Template, Filter: h.Filter, Dedup: h.Dedup,
		Check: h.Check, Status: h.Status, Text: h.Text,
		AllowChats: h.AllowChats, ExpectEvery: h.ExpectEvery,
	}
	for _, c := range h.Chats {
		cfg.Chats = append(cfg.Chats, hook.Target{ChatID: c.ID, ThreadID: c.Thread})
	}
	return cfg
}

// lineOf is the file line of a problem with key, at line (1-based) of its template when the
// problem is inside one.
func (h *HookConfig) lineOf(key string, line int) int {
	start, ok := h.starts[key]
	if !ok {
		if base, _, cut := cutIndex(key); cut {
			start, ok = h.starts[base]
		}
	}
	if !ok {
		return h.Line
	}
	if line > 0 {
		return start + line - 1
	}
	return start
}

// cutIndex splits "chats[2]" into "chats".
func cutIndex(key string) (string, string, bool) {
	for i := 0; i < len(key); i++ {
		if key[i] == '[' {
			return key[:i], key[i:], true
		}
	}
	return key, "", false
}

// hookProblems checks every hook: its own keys and templates (package hook), names used
// twice, and a name that is also a CI connection's (a check hook is a connection, and one
// name must mean one thing in /status, /last and /notify).
func (c *Config) hookProblems() []problem {
	var ps []problem
	conns := map[string]bool{}
	for _, ci := range c.CI {
		conns[ci.Name] = true
	}
	names := map[string]bool{}
	for i := range c.Hooks {
		h := &c.Hooks[i]
		if h.notMapping {
			continue
		}
		where := fmt.Sprintf("hooks[%d]", i)
		_, probs := hook.Compile(h.hookConfig(), nil)
		for _, p := range probs {
			ps = append(ps, problem{Line: h.lineOf(p.Key, p.Line), Msg: where + "." + p.Msg})
		}
		switch {
		case h.Name == "":
		case names[h.Name]:
			ps = append(ps, problem{Line: h.lineOf("name", 0), Msg: fmt.Sprintf("%s.name %q is used twice", where, h.Name)})
		case conns[h.Name]:
			ps = append(ps, problem{Line: h.lineOf("name", 0), Msg: fmt.Sprintf("%s.name %q is also the name of a ci connection: a check hook is a connection of its own, so names must differ", where, h.Name)})
		}
		names[h.Name] = true
	}
	return ps
}

// compileHooks compiles every hook of a validated config.
func (c *Config) compileHooks(now func() time.Time) ([]*hook.Hook, error) {
	out := make([]*hook.Hook, 0, len(c.Hooks))
	for i := range c.Hooks {
		h, probs := hook.Compile(c.Hooks[i].hookConfig(), now)
		if len(probs) > 0 {
			return nil, fmt.Errorf("config: hooks[%d].%s", i, probs[0].Msg)
		}
		out = append(out, h)
	}
	return out, nil
}
