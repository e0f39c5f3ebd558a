package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/herald-ci/herald/ci/hook"
)

// hookCommand is "herald hook test NAME FILE.json": it renders hook NAME of the config
// against a sample body, the way POST /hooks/NAME would, and prints what the chats would
// get (Telegram HTML) or, for a check hook, the result it would store. Nothing is sent or
// stored. Exit status 1 when the body would be refused or the template fails on it.
func hookCommand(args []string, configPath string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) != 3 || args[0] != "test" {
		fmt.Fprintf(stderr, "herald: use: herald hook test NAME FILE.json\n")
		return 2
	}
	name, file := args[1], args[2]
	cfg, err := LoadConfig(configPath, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	hooks, err := cfg.compileHooks(nil)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var h *hook.Hook
	for _, k := range hooks {
		if k.Name() == name {
			h = k
		}
	}
	if h == nil {
		fmt.Fprintf(stderr, "herald: %s has no hook %q\n", configPath, name)
		return 1
	}
	body, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %v\n", err)
		return 1
	}
	data, err := hook.Decode(body)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %s: would answer 400: %v\n", file, err)
		return 1
	}
	key, err := h.DedupKey("", data)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %s: would answer 400: %v\n", file, err)
		return 1
	}
	if key != "" {
		fmt.Fprintf(stderr, "dedup key: %s\n", key)
	}
	if h.IsCheck() {
		ev, err := h.CheckEvent(data, key, time.Now())
		if err != nil {
			fmt.Fprintf(stderr, "herald: %s: would answer 400: %v\n", file, err)
			return 1
		}
		b := ev.Build
		fmt.Fprintf(stdout, "check %s: %s\n", b.Builder, b.Result)
		if b.StateText != "" {
			fmt.Fprintf(stdout, "text: %s\n", b.StateText)
		}
		return 0
	}
	deliver, err := h.Filter(data)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %s: would answer 400: %v\n", file, err)
		return 1
	}
	if !deliver {
		fmt.Fprintf(stderr, "herald: %s: the filter leaves it out: nothing would be sent\n", file)
	}
	msg, err := h.Message(data)
	fmt.Fprintln(stdout, msg)
	if err != nil {
		fmt.Fprintf(stderr, "herald: %s: the template fails on it (%v): the chats would get the raw event above\n", file, err)
		return 1
	}
	return 0
}
