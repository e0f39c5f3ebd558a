package main

import (
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/herald-ci/herald/bot/relay"
)

// RelayConfig is the Bot API relay (bot/relay): tokens that tools use in place of the bot's
// own, at /relay/<token>/sendMessage, each allowed the chats it lists. No tokens, no relay.
type RelayConfig struct {
	Tokens []RelayTokenConfig `yaml:"tokens"`
	Line   int                `yaml:"-"`
}

// RelayTokenConfig is one relay token: a name for logs, the secret (from ${ENV}), its chats.
type RelayTokenConfig struct {
	Name  string            `yaml:"name"`
	Token string            `yaml:"token"`
	Chats []RelayChatConfig `yaml:"chats"`
	Line  int               `yaml:"-"`
}

// RelayChatConfig is a chat a token may write to: a chat id, or {id, thread} for one topic
// of a forum (a call naming no topic goes there).
type RelayChatConfig struct {
	ID     int64 `yaml:"id"`
	Thread int64 `yaml:"thread"`
	Line   int   `yaml:"-"`

	undecoded bool // its problem is told already
}

// relayTokenPattern keeps a relay token usable in a URL path as it is, and long enough not to
// be guessed.
var relayTokenPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,256}$`)

// RelayTokens is the relay section in the form package relay takes.
func (c *Config) RelayTokens() []relay.Token {
	var out []relay.Token
	for _, t := range c.Relay.Tokens {
		rt := relay.Token{Name: t.Name, Secret: t.Token}
		for _, ch := range t.Chats {
			rt.Chats = append(rt.Chats, relay.Chat{ID: ch.ID, Thread: ch.Thread})
		}
		out = append(out, rt)
	}
	return out
}

// decodeNode decodes the section and checks it as a whole, at the lines of its entries. The
// tokens are secrets: no message quotes one, or says which two are the same.
func (r *RelayConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	d.decodeStruct(n, reflect.ValueOf(r).Elem(), path)
	names := map[string]bool{}
	secrets := map[string]bool{}
	for i, t := range r.Tokens {
		where := fmt.Sprintf("%s.tokens[%d]", path, i)
		switch {
		case !namePattern.MatchString(t.Name):
			d.addf(t.Line, "%s.name must be a short lower-case name like allure", where)
		case names[t.Name]:
			d.addf(t.Line, "%s.name %q is used twice", where, t.Name)
		}
		names[t.Name] = true
		switch {
		case t.Token == "" && reported(d, where+".token: "):
			// ${VAR} not set: said already.
		case t.Token == "":
			d.addf(t.Line, "%s.token is required: a long random secret, from the environment (token: \"${RELAY_TOKEN_%s}\")", where, envSuffix(t.Name))
		case !relayTokenPattern.MatchString(t.Token):
			d.addf(t.Line, "%s.token must be 16 to 256 characters A-Z, a-z, 0-9, _ and - (it is part of a URL); e.g. openssl rand -hex 24", where)
		case secrets[t.Token]:
			d.addf(t.Line, "%s.token is the same as another relay token's: give each tool its own", where)
		}
		secrets[t.Token] = true
		if len(t.Chats) == 0 {
			d.addf(t.Line, "%s.chats is required: the chats this token may write to", where)
		}
		seen := map[RelayChatConfig]bool{}
		for j, ch := range t.Chats {
			at := fmt.Sprintf("%s.chats[%d]", where, j)
			key := RelayChatConfig{ID: ch.ID, Thread: ch.Thread}
			switch {
			case ch.undecoded:
			case ch.ID == 0:
				d.addf(orLine(ch.Line, t.Line), "%s: a chat id is required: the id /getid shows", at)
			case ch.Thread < 0:
				d.addf(orLine(ch.Line, t.Line), "%s.thread must be a topic id (/getid in the topic), or left out for the whole chat", at)
			case seen[key]:
				d.addf(orLine(ch.Line, t.Line), "%s: chat %d is listed twice", at, ch.ID)
			}
			seen[key] = true
		}
	}
}

// decodeNode takes a chat id alone or a mapping of id and thread.
func (c *RelayChatConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	c.Line = n.Line
	if n.Kind != yaml.ScalarNode {
		d.decodeStruct(n, reflect.ValueOf(c).Elem(), path)
		return
	}
	s, ok := d.expand(n, path)
	if !ok {
		c.undecoded = true
		return
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.addf(n.Line, "%s: expected a chat id (a whole number) or {id, thread}", path)
		c.undecoded = true
		return
	}
	c.ID = id
}

// reported says whether the decoder already told a problem whose message starts with prefix.
func reported(d *decoder, prefix string) bool {
	for _, p := range d.problems {
		if strings.HasPrefix(p.Msg, prefix) {
			return true
		}
	}
	return false
}

// envSuffix is a token name as an environment variable's suffix: allure-prod → ALLURE_PROD.
func envSuffix(name string) string {
	out := []byte(name)
	for i, b := range out {
		switch {
		case b >= 'a' && b <= 'z':
			out[i] = b - 'a' + 'A'
		case b == '-':
			out[i] = '_'
		}
	}
	if len(out) == 0 {
		return "NAME"
	}
	return string(out)
}
