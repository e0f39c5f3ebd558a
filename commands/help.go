package commands

import (
	"context"
	"fmt"
	"strings"
)

// Help answers /help and /help NAME from the registry's own entries, so it never goes stale.
func Help(reg *Registry) Command {
	return Command{
		Name:    "help",
		Summary: "give help for a command",
		Help:    "/help lists the commands; /help NAME explains one.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if len(req.Args) > 0 {
				name := strings.TrimPrefix(strings.ToLower(req.Args[0]), "/")
				c, ok := reg.Lookup(name)
				if !ok {
					return Say(fmt.Sprintf("There is no command /%s. Send /commands for the list.", Escape(name))), nil
				}
				return Say(fmt.Sprintf("<b>/%s</b> — %s\n%s", c.Name, Escape(c.Summary), c.Help)), nil
			}
			return Say(helpText(reg)), nil
		}),
	}
}

func helpText(reg *Registry) string {
	var b strings.Builder
	b.WriteString("I report on your build server and take commands:\n")
	for _, c := range reg.All() {
		fmt.Fprintf(&b, "/%s — %s\n", c.Name, Escape(c.Summary))
	}
	b.WriteString("Send /help NAME for more about one command.")
	return b.String()
}

// Commands answers /commands: the list, or with "botfather" the text to paste into
// BotFather's /setcommands.
func Commands(reg *Registry) Command {
	return Command{
		Name:    "commands",
		Summary: "list available commands",
		Help:    "/commands lists every command; /commands botfather gives the text to paste into BotFather's /setcommands.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			var b strings.Builder
			botfather := len(req.Args) > 0 && strings.EqualFold(req.Args[0], "botfather")
			if !botfather {
				b.WriteString("Commands:\n")
			}
			for _, c := range reg.All() {
				if botfather {
					fmt.Fprintf(&b, "%s - %s\n", c.Name, Escape(c.Summary))
				} else {
					fmt.Fprintf(&b, "/%s — %s\n", c.Name, Escape(c.Summary))
				}
			}
			text := strings.TrimSuffix(b.String(), "\n")
			if botfather {
				text = "<pre>" + text + "</pre>"
			}
			return Say(text), nil
		}),
	}
}

// Start greets a new chat. The transport has already registered the chat when this runs.
func Start(reg *Registry) Command {
	return Command{
		Name:    "start",
		Summary: "say hello and show help",
		Help:    "/start greets you and lists the commands.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			name := req.FirstName
			if name == "" {
				name = "there"
			}
			return Say(fmt.Sprintf("Hello, %s! I am herald, your build server's bot.\n\n%s", Escape(name), helpText(reg))), nil
		}),
	}
}
