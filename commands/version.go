package commands

import (
	"context"
	"fmt"
)

// Version answers /version.
func Version(d Deps) Command {
	return Command{
		Name:    "version",
		Summary: "show herald's version",
		Help:    "/version shows which herald answers here.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			v := d.Version
			if v == "" {
				v = "(development build)"
			}
			return Say("herald " + Escape(v)), nil
		}),
	}
}

// Source answers /source with where herald's code lives.
func Source(d Deps) Command {
	return Command{
		Name:    "source",
		Summary: "show where herald's source code is",
		Help:    "/source gives the link to herald's source code.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			if d.SourceURL == "" {
				return Say("herald is free software; this build does not say where its source is."), nil
			}
			return Say(fmt.Sprintf(`herald's source code: <a href="%s">%s</a>`, EscapeAttr(d.SourceURL), Escape(d.SourceURL))), nil
		}),
	}
}
