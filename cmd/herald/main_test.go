package main

import (
	"bytes"
	"strings"
	"testing"
)

// The command line, verbatim: flags before or after the command mean the same, and a word
// herald does not know stops it with exit 2 and names the word.
func TestRunCommandLine(t *testing.T) {
	const hint = "Run \"herald -h\" for the commands and flags.\n"
	wrongType := strings.Join([]string{
		`testdata/config/wrong_type.yaml:3: telegram.poll_timeout: the value is not a duration (use e.g. 30s, 5m)`,
		`testdata/config/wrong_type.yaml:5: telegram.limits.global: the value is not a number`,
		`testdata/config/wrong_type.yaml:6: database: expected a mapping of keys, got a single value`,
		`testdata/config/wrong_type.yaml:6: database.url is required (or set DATABASE_URL)`,
		`testdata/config/wrong_type.yaml:8: ci: expected a list, got a mapping`,
	}, "\n") + "\n"
	tests := []struct {
		name      string
		args      []string
		code      int
		stdout    string
		stderr    string
		stderrHas string // instead of stderr, when the text is long
		stdoutHas string
	}{
		{name: "serve, --config after", args: []string{"serve", "--config", "testdata/config/wrong_type.yaml"}, code: 1, stderr: wrongType},
		{name: "serve, --config before", args: []string{"--config", "testdata/config/wrong_type.yaml", "serve"}, code: 1, stderr: wrongType},
		{name: "serve, -config=F after", args: []string{"serve", "-config=testdata/config/wrong_type.yaml"}, code: 1, stderr: wrongType},
		{name: "migrate, --config after", args: []string{"migrate", "--log-level", "debug", "--config", "testdata/config/wrong_type.yaml"}, code: 1, stderr: wrongType},
		{name: "check-config, --config after", args: []string{"check-config", "--config", "testdata/config/wrong_type.yaml"}, code: 1, stderr: wrongType},
		{name: "check-config, --config before", args: []string{"--config", "testdata/config/wrong_type.yaml", "check-config"}, code: 1, stderr: wrongType},
		{name: "check-config, FILE wins over --config", args: []string{"--config", "nowhere.yaml", "check-config", "testdata/config/wrong_type.yaml"}, code: 1, stderr: wrongType},
		{name: "unknown flag after the command", args: []string{"serve", "--no-such-flag"}, code: 2,
			stderr: "herald: flag provided but not defined: -no-such-flag\n" + hint},
		{name: "unknown flag before the command", args: []string{"--no-such-flag", "serve"}, code: 2,
			stderr: "herald: flag provided but not defined: -no-such-flag\n" + hint},
		{name: "unknown flag on check-config", args: []string{"check-config", "-x", "testdata/config/valid.yaml"}, code: 2,
			stderr: "herald: flag provided but not defined: -x\n" + hint},
		{name: "flag without its value", args: []string{"serve", "--config"}, code: 2,
			stderr: "herald: flag needs an argument: -config\n" + hint},
		{name: "stray argument to serve", args: []string{"serve", "--config", "testdata/config/wrong_type.yaml", "extra"}, code: 2,
			stderr: "herald: serve takes no arguments, got \"extra\"\n" + hint},
		{name: "stray argument to migrate", args: []string{"migrate", "now"}, code: 2,
			stderr: "herald: migrate takes no arguments, got \"now\"\n" + hint},
		{name: "stray argument to version", args: []string{"version", "2"}, code: 2,
			stderr: "herald: version takes no arguments, got \"2\"\n" + hint},
		{name: "two files to check-config", args: []string{"check-config", "a.yaml", "b.yaml"}, code: 2,
			stderr: "herald: check-config takes at most one FILE, got \"b.yaml\" too\n" + hint},
		{name: "after -- every word is an argument", args: []string{"serve", "--", "--config"}, code: 2,
			stderr: "herald: serve takes no arguments, got \"--config\"\n" + hint},
		{name: "unknown command", args: []string{"frobnicate"}, code: 2,
			stderr: "herald: unknown command \"frobnicate\" (commands: serve, migrate, check-config, version)\n" + hint},
		{name: "version", args: []string{"version"}, code: 0, stdout: "herald dev\n"},
		{name: "version with a flag after", args: []string{"version", "--log-level", "debug"}, code: 0, stdout: "herald dev\n"},
		{name: "no command", args: nil, code: 2, stderrHas: "Usage:\n  herald serve [flags]"},
		{name: "help", args: []string{"-h"}, code: 0, stdoutHas: "Flags, before or after the command:\n  -config string"},
		{name: "help after the command", args: []string{"serve", "--help"}, code: 0, stdoutHas: "Usage:\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr, testEnv(nil))
			if code != tt.code {
				t.Errorf("exit %d; want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			switch {
			case tt.stderrHas != "":
				if !strings.Contains(stderr.String(), tt.stderrHas) {
					t.Errorf("stderr:\n%s\nwant it to contain:\n%s", stderr.String(), tt.stderrHas)
				}
			case stderr.String() != tt.stderr:
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), tt.stderr)
			}
			switch {
			case tt.stdoutHas != "":
				if !strings.Contains(stdout.String(), tt.stdoutHas) {
					t.Errorf("stdout:\n%s\nwant it to contain:\n%s", stdout.String(), tt.stdoutHas)
				}
			case stdout.String() != tt.stdout:
				t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), tt.stdout)
			}
		})
	}
}
