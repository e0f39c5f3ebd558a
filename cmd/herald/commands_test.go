package main

import (
	"maps"
	"testing"

	"github.com/rs/zerolog"
)

// knownCommands (used to check config files without wiring herald) must match the commands
// herald actually registers.
func TestKnownCommandsMatchRegistry(t *testing.T) {
	reg := (&App{Config: &Config{}}).registry(nil, nil, nil, testLogger())
	if got := reg.Known(); !maps.Equal(got, knownCommands) {
		t.Errorf("registry commands %v\nknownCommands   %v", got, knownCommands)
	}
}

func testLogger() zerolog.Logger { return zerolog.Nop() }
