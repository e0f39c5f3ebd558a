package commands_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/commands"
)

// TestOneUserError: every user-facing error is a ci.UserError with a plain-text message, found
// through wrapping; the transport escapes it once (Escape).
func TestOneUserError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // what AsUser gives: plain text
		html string // what the chat is sent
	}{
		{"from a provider", fmt.Errorf("commands: force: %w", ci.Userf(errors.New("http 400"), "Buildbot refused <x> & co")),
			"Buildbot refused <x> & co", "Buildbot refused &lt;x&gt; &amp; co"},
		{"Userf is plain text", commands.Userf("Unknown event %s.", "<b>&"),
			"Unknown event <b>&.", "Unknown event &lt;b&gt;&amp;."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, ok := commands.AsUser(tt.err)
			if !ok || msg != tt.want {
				t.Fatalf("AsUser = %q, %v; want %q", msg, ok, tt.want)
			}
			if got := commands.Escape(msg); got != tt.html {
				t.Errorf("shown as %q, want %q", got, tt.html)
			}
			var ue *ci.UserError
			if !errors.As(tt.err, &ue) {
				t.Error("not a ci.UserError")
			}
		})
	}
	if _, ok := commands.AsUser(errors.New("db down")); ok {
		t.Error("AsUser(any other error) = true, want false: it is an internal error")
	}
}
