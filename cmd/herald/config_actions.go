package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"regexp"
	"time"

	"github.com/rs/zerolog"
	"gopkg.in/yaml.v3"

	"github.com/herald-ci/herald/bot/actions"
	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// ActionsConfig is actions: extra chat commands that call another system (package
// bot/actions signs and sends; commands/actions.go answers).
type ActionsConfig []ActionConfig

// ActionConfig is one action: /NAME ARGS... POSTs to URL, signed with Secret.
type ActionConfig struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description"`
	URL         string        `yaml:"url"`
	Secret      string        `yaml:"secret"`
	Dangerous   bool          `yaml:"dangerous"`
	Timeout     time.Duration `yaml:"timeout"`
	Line        int           `yaml:"-"`
}

// ForwardConfig is forward: every non-command message in Chats relayed to URL, signed with
// Secret, at least once. No URL, no forwarding.
type ForwardConfig struct {
	URL    string  `yaml:"url"`
	Secret string  `yaml:"secret"`
	Chats  []int64 `yaml:"chats"`
	Line   int     `yaml:"-"`
}

// actionNamePattern is what Telegram takes as a command in setMyCommands.
var actionNamePattern = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// maxActionTimeout bounds an action's timeout by the budget the intake gives one handler
// (commands.HandlerBudget), so a slow service ends in "no answer within …", not in silence.
const maxActionTimeout = 60 * time.Second

// decodeNode decodes the list and checks it as a whole at each entry's line. The secret is
// never quoted (secretPaths), nor is it said which two actions share one.
func (a *ActionsConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	var list []ActionConfig
	d.decodeSlice(n, reflect.ValueOf(&list).Elem(), path)
	names := map[string]bool{}
	for i := range list {
		ac := &list[i]
		where := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !actionNamePattern.MatchString(ac.Name):
			d.addf(ac.Line, "%s.name must be a chat command name: 1-32 characters a-z, 0-9 and _ (e.g. deploy)", where)
		case hasBuiltin(ac.Name):
			d.addf(ac.Line, "%s.name %q is one of herald's own commands; choose another", where, ac.Name)
		case names[ac.Name]:
			d.addf(ac.Line, "%s.name %q is used twice", where, ac.Name)
		}
		names[ac.Name] = true
		if l := len([]rune(ac.Description)); l < 3 || l > 256 {
			d.addf(ac.Line, "%s.description is required: 3-256 characters, shown in /help and the command menu", where)
		}
		if why := callURLProblem(ac.URL); why != "" {
			d.addf(ac.Line, "%s.url %s", where, why)
		}
		switch {
		case ac.Secret == "" && reported(d, where+".secret: "):
		case len(ac.Secret) < 16:
			d.addf(ac.Line, "%s.secret is required: at least 16 characters, from the environment (secret: \"${ACTION_SECRET_%s}\")", where, envSuffix(ac.Name))
		}
		switch {
		case ac.Timeout == 0:
			ac.Timeout = commands.DefaultActionTimeout
		case ac.Timeout < 0 || ac.Timeout > maxActionTimeout:
			d.addf(ac.Line, "%s.timeout must be more than 0 and at most 60s", where)
		}
	}
	*a = list
}

// decodeNode checks forward: as a whole.
func (f *ForwardConfig) decodeNode(d *decoder, n *yaml.Node, path string) {
	d.decodeStruct(n, reflect.ValueOf(f).Elem(), path)
	if n.Kind == yaml.MappingNode && len(n.Content) == 0 {
		return // forward: {} is no forwarding, like leaving the key out
	}
	if why := callURLProblem(f.URL); why != "" {
		d.addf(f.Line, "%s.url %s", path, why)
	}
	switch {
	case f.Secret == "" && reported(d, path+".secret: "):
	case len(f.Secret) < 16:
		d.addf(f.Line, "%s.secret is required: at least 16 characters, from the environment (secret: \"${FORWARD_SECRET}\")", path)
	}
	if len(f.Chats) == 0 {
		d.addf(f.Line, "%s.chats is required: the chat ids (/getid) whose messages are relayed", path)
	}
	seen := map[int64]bool{}
	for _, c := range f.Chats {
		switch {
		case c == 0:
			d.addf(f.Line, "%s.chats: 0 is not a chat id", path)
		case seen[c]:
			d.addf(f.Line, "%s.chats: chat %d is listed twice", path, c)
		}
		seen[c] = true
	}
}

// callURLProblem says what is wrong with a URL herald posts to, or "": https, or http only
// to this machine (a signature does not hide the body from the network).
func callURLProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return "is required: where herald posts"
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "must be an https URL (http only for localhost)"
	case u.Scheme == "http" && !loopback(u.Hostname()):
		return "must be https: http is allowed only for localhost"
	}
	return ""
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hasBuiltin says whether name is one of herald's own commands.
func hasBuiltin(name string) bool {
	_, ok := knownCommands[name]
	return ok
}

// knownWithActions is knownCommands plus the configured actions: what authz rules may name.
func (c *Config) knownWithActions() map[string]bool {
	out := make(map[string]bool, len(knownCommands)+len(c.Actions))
	for k, v := range knownCommands {
		out[k] = v
	}
	for _, a := range c.Actions {
		if _, builtin := out[a.Name]; !builtin && a.Name != "" {
			out[a.Name] = a.Dangerous
		}
	}
	return out
}

// ActionList is the actions as package commands takes them.
func (c *Config) ActionList() []commands.Action {
	var out []commands.Action
	for _, a := range c.Actions {
		out = append(out, commands.Action{Name: a.Name, Description: a.Description, Dangerous: a.Dangerous, Timeout: a.Timeout})
	}
	return out
}

// ActionEndpoints is where each action posts, for bot/actions.
func (c *Config) ActionEndpoints() []actions.Endpoint {
	var out []actions.Endpoint
	for _, a := range c.Actions {
		out = append(out, actions.Endpoint{Name: a.Name, URL: a.URL, Secret: a.Secret})
	}
	return out
}

// roleForwarder sends the forward queue: one process at a time, so a relay is not sent by
// two replicas at once.
const roleForwarder = "forwarder"

// actionCommands are the configured actions as chat commands, calling out through
// bot/actions.
func actionCommands(cfg *Config, d commands.Deps) []commands.Command {
	if len(cfg.Actions) == 0 {
		return nil
	}
	return commands.Actions(d, actions.NewClient(cfg.ActionEndpoints(), nil, version), cfg.ActionList())
}

// forwardBody is the intake's IntakeOptions.Forward: nil without forward:.
func (c *Config) forwardBody() func(req commands.Request) []byte {
	if c.Forward.URL == "" {
		return nil
	}
	return actions.NewRelay(c.Forward.Chats, nil).Body
}

// runForwarder sends the relays while this process holds the forwarder role.
func runForwarder(ctx context.Context, cfg *Config, st *store.Store, log zerolog.Logger) error {
	f := actions.NewForwarder(st, actions.NewClient(nil, nil, version), cfg.Forward.URL, cfg.Forward.Secret,
		actions.ForwarderOptions{}, log.With().Str("part", "forwarder").Logger())
	return f.Run(ctx)
}
