package commands

import (
	"context"
	"sort"
	"strings"
)

// Command is one chat command as users see it in /help and in Telegram's command menu.
type Command struct {
	Name      string // without slash, lower case
	Summary   string // one line, for /commands and setMyCommands
	Help      string // longer text for /help NAME (HTML, already escaped)
	Dangerous bool   // force, stop: denied unless the admin allows them
	Handler   Handler
}

// Gate decides whether the user who acts may run a command at all. It is asked before every
// command and every button press; the handler asks again with the builder once it is known.
// A nil Gate allows everything.
type Gate interface {
	// Allow returns "" when allowed, or a chat-safe reason when not.
	Allow(ctx context.Context, req Request, command string) string
}

// Registry routes requests to commands.
type Registry struct {
	byName map[string]Command
	order  []string
	gate   Gate
	// Text handles messages that are not commands (answers to a pending question, or a hint).
	Text Handler
	// Admit, when set, is asked before the gate about every command and button press:
	// registration answers those from chats that may not use herald yet (handled true) and
	// lets the rest through (handled false).
	Admit func(ctx context.Context, req Request, command string) (resp Response, handled bool, err error)
}

// NewRegistry returns an empty registry using gate for permission checks.
func NewRegistry(gate Gate) *Registry {
	return &Registry{byName: map[string]Command{}, gate: gate}
}

// Add registers commands; a later one with the same name replaces the earlier.
func (r *Registry) Add(cmds ...Command) {
	for _, c := range cmds {
		if _, ok := r.byName[c.Name]; !ok {
			r.order = append(r.order, c.Name)
		}
		r.byName[c.Name] = c
	}
}

// Lookup returns the command named name.
func (r *Registry) Lookup(name string) (Command, bool) {
	c, ok := r.byName[strings.ToLower(name)]
	return c, ok
}

// All lists the commands in the order they were added.
func (r *Registry) All() []Command {
	out := make([]Command, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.byName[n])
	}
	return out
}

// Names returns every command name, sorted.
func (r *Registry) Names() []string {
	out := append([]string(nil), r.order...)
	sort.Strings(out)
	return out
}

// ButtonCommand is the command a button's data belongs to: data is "command:rest".
func ButtonCommand(data string) string {
	name, _, _ := strings.Cut(data, ":")
	return name
}

// Handle routes req to its command (by name, or by the pressed button's data), after the gate.
func (r *Registry) Handle(ctx context.Context, req Request) (Response, error) {
	name := req.Command
	if req.Button != nil {
		name = ButtonCommand(req.Button.Data)
	}
	if name == "" {
		if r.Text == nil {
			return Response{}, nil
		}
		return r.Text.Handle(ctx, req)
	}
	cmd, ok := r.Lookup(name)
	if !ok {
		if req.Button != nil {
			return Response{Notice: "This button no longer works."}, nil
		}
		return Say("Unknown command /" + Escape(name) + ". Send /help for the list of commands."), nil
	}
	if r.Admit != nil {
		if resp, handled, err := r.Admit(ctx, req, cmd.Name); handled || err != nil {
			return resp, err
		}
	}
	if r.gate != nil {
		if why := r.gate.Allow(ctx, req, cmd.Name); why != "" {
			if req.Button != nil {
				return Response{Notice: why}, nil
			}
			return Say(Escape(why)), nil
		}
	}
	return cmd.Handler.Handle(ctx, req)
}

// Known maps every command name to whether it is dangerous: what authz.Compile validates the
// admin's matrix against.
func (r *Registry) Known() map[string]bool {
	out := make(map[string]bool, len(r.byName))
	for n, c := range r.byName {
		out[n] = c.Dangerous
	}
	return out
}
