// Command herald is a Telegram bot for build servers. See README.md.
//
//	herald serve [flags]             run the bot
//	herald migrate [flags]           apply database migrations and exit
//	herald check-config [FILE]       validate a config file, print every problem
//	herald webhook-info              print what Telegram reports of the webhook
//	herald gen-cert --host NAME      write a self-signed pair for http.tls
//	herald version                   print the version
//
// Flags may come before or after the command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `herald is a Telegram bot for build servers.

Usage:
  herald serve [flags]           run the bot (migrates the database first)
  herald migrate [flags]         apply database migrations and exit
  herald check-config [FILE]     validate a config file (default: --config) and print every problem
  herald hook test NAME FILE     render hook NAME of the config against the JSON body in FILE
  herald webhook-info            print what Telegram reports of the webhook (getWebhookInfo)
  herald gen-cert --host NAME [--out DIR] [--days N]
                                 write a self-signed pair for http.tls (gen-cert comes first)
  herald version                 print the version

Flags, before or after the command:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// usageError is a command line herald cannot run: the message names what is wrong.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) > 0 && args[0] == "gen-cert" { // flags of its own (gencert.go)
		return genCertCommand(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("herald", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, once, in herald's words
	configPath := fs.String("config", "herald.yaml", "config file")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log.level)")
	logFormat := fs.String("log-format", "", "json or console (default: console on a terminal, json otherwise)")
	printUsage := func(w io.Writer) {
		fmt.Fprint(w, usage)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fail := func(msg string) int {
		fmt.Fprintf(stderr, "herald: %s\nRun \"herald -h\" for the commands and flags.\n", msg)
		return 2
	}

	words, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printUsage(stdout)
		return 0
	case err != nil:
		return fail(err.Error())
	case len(words) == 0:
		printUsage(stderr)
		return 2
	}
	cmd, rest := words[0], words[1:]
	switch cmd {
	case "version", "serve", "migrate":
		if len(rest) > 0 {
			return fail(fmt.Sprintf("%s takes no arguments, got %q", cmd, rest[0]))
		}
	case "check-config":
		if len(rest) > 1 {
			return fail(fmt.Sprintf("check-config takes at most one FILE, got %q too", rest[1]))
		}
	case "hook":
		return hookCommand(rest, *configPath, stdout, stderr, getenv)
	case "webhook-info":
		if len(rest) > 0 {
			return fail(fmt.Sprintf("webhook-info takes no arguments, got %q", rest[0]))
		}
		return webhookInfoCommand(*configPath, stdout, stderr, getenv) // webhookinfo.go
	default:
		return fail(fmt.Sprintf("unknown command %q (commands: serve, migrate, check-config, version)", cmd))
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "herald", version)
		return 0
	case "check-config":
		path := *configPath
		if len(rest) > 0 {
			path = rest[0]
		}
		c, err := LoadConfig(path, getenv)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		for _, w := range c.Warnings() { // config_tls.go: they do not fail the file
			fmt.Fprintln(stderr, w)
		}
		fmt.Fprintf(stdout, "%s: OK\n", path)
		return 0
	}
	cfg, err := LoadConfig(*configPath, getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *logLevel != "" {
		cfg.Log.Level = *logLevel
	}
	if *logFormat != "" {
		cfg.Log.Format = *logFormat
	}
	log := newLogger(stderr, cfg)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd == "migrate" {
		err = migrateOnly(ctx, cfg, log)
	} else {
		err = (&App{Config: cfg, Log: log, Getenv: getenv}).Run(ctx)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error().Msg(err.Error())
		return 1
	}
	return 0
}

// parseInterspersed parses flags wherever they stand among the words (Go's flag package stops
// at the first word), so "herald serve --config F" and "herald --config F serve" mean the
// same. After "--" everything is a word.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var words []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(words, rest...), nil
		}
		if len(rest) == 0 {
			return words, nil
		}
		words = append(words, rest[0])
		args = rest[1:]
	}
}
