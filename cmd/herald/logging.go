package main

import (
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// newLogger writes JSON lines, or readable lines on a terminal or when asked. Every line
// passes through a filter that masks the bot token, the webhook secret and CI passwords,
// wherever they might appear: a second guard behind never logging them.
func newLogger(w io.Writer, cfg *Config) zerolog.Logger {
	w = &redactingWriter{w: w, secrets: cfg.secrets()}
	format := cfg.Log.Format
	if format == "" {
		format = "json"
		if f, ok := w.(*redactingWriter).w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "console"
		}
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// secrets lists every secret value in the config, for the log filter.
func (c *Config) secrets() [][]byte {
	var out [][]byte
	add := func(s string) {
		if len(s) >= 4 {
			out = append(out, []byte(s))
		}
	}
	add(c.Telegram.Token)
	add(c.Telegram.Webhook.SecretToken)
	for _, t := range c.Relay.Tokens {
		add(t.Token)
	}
	for _, ci := range c.CI {
		for _, s := range ci.Secrets() {
			add(s)
		}
	}
	for _, h := range c.Hooks {
		add(h.Secret)
	}
	for _, a := range c.Actions {
		add(a.Secret)
	}
	add(c.Forward.Secret)
	return out
}

type redactingWriter struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, []byte("<redacted>"))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
