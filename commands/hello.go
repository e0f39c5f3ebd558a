package commands

import (
	"context"
	"fmt"
	"math/rand/v2"
)

// Greetings are /hello's answers for a user called name (escaped here): Buildbot's bot
// answers hello with one of a few greetings, so herald does too.
func Greetings(name string) []string {
	name = Escape(name)
	return []string{
		fmt.Sprintf("Hello, %s!", name),
		fmt.Sprintf("Hi %s, what shall we build today?", name),
		fmt.Sprintf("Yes, %s? I am listening.", name),
		fmt.Sprintf("Good to see you, %s. /help says what I can do.", name),
	}
}

// Hello answers /hello with one of Greetings.
func Hello() Command {
	return Command{
		Name:    "hello",
		Summary: "say hello",
		Help:    "/hello greets you, as Buildbot's bot does.",
		Handler: HandlerFunc(func(ctx context.Context, req Request) (Response, error) {
			name := req.FirstName
			if name == "" {
				name = displayName(req)
			}
			gs := Greetings(name)
			return Say(gs[rand.IntN(len(gs))]), nil
		}),
	}
}
