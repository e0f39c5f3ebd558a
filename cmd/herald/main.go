// Command herald is a Telegram bot for build servers. See README.md.
//
//	herald [flags] serve              run the bot
//	herald [flags] migrate            apply database migrations and exit
//	herald check-config [FILE]        validate a config file, print every problem
//	herald version                    print the version
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
  herald [flags] serve           run the bot (migrates the database first)
  herald [flags] migrate         apply database migrations and exit
  herald check-config [FILE]     validate a config file and print every problem
  herald version                 print the version

Flags:
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("herald", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "herald.yaml", "config file")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (overrides log.level)")
	logFormat := fs.String("log-format", "", "json or console (default: console on a terminal, json otherwise)")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "herald", version)
		return 0
	case "check-config":
		path := *configPath
		if len(rest) > 0 {
			path = rest[0]
		}
		if _, err := LoadConfig(path, getenv); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: OK\n", path)
		return 0
	case "serve", "migrate":
	default:
		fmt.Fprintf(stderr, "herald: unknown command %q\n\n", cmd)
		fs.Usage()
		return 2
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
