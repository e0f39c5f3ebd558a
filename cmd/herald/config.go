package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/ci/glob"
)

// Config is herald's one config file. See herald.example.yaml for every key, explained.
type Config struct {
	Telegram      TelegramConfig      `yaml:"telegram"`
	Database      DatabaseConfig      `yaml:"database"`
	HTTP          HTTPConfig          `yaml:"http"`
	Log           LogConfig           `yaml:"log"`
	CI            []CIConfig          `yaml:"ci"`
	Authz         AuthzConfig         `yaml:"authz"`
	Chats         []ChatConfig        `yaml:"chats"`
	Notifications NotificationsConfig `yaml:"notifications"`
	Hooks         []HookConfig        `yaml:"hooks"`
	Relay         RelayConfig         `yaml:"relay"`
	People        PeopleConfig        `yaml:"people"`  // CI identities → Telegram users, for mentions (config_people.go)
	Actions       ActionsConfig       `yaml:"actions"` // chat commands that call other systems (config_actions.go)
	Forward       ForwardConfig       `yaml:"forward"` // chat messages relayed to another system (config_actions.go)
	Source        string              `yaml:"source"`  // link /source shows

	path string // the file it came from, for reload and messages
}

type TelegramConfig struct {
	Token         string              `yaml:"token"`
	APIURL        string              `yaml:"api_url"`
	Username      string              `yaml:"username"`
	Mode          string              `yaml:"mode"`
	PollTimeout   time.Duration       `yaml:"poll_timeout"`
	Webhook       WebhookConfig       `yaml:"webhook"`
	Limits        LimitsConfig        `yaml:"limits"`
	CommandLimits CommandLimitsConfig `yaml:"command_limits"`
	Line          int                 `yaml:"-"`
}

type WebhookConfig struct {
	URL         string `yaml:"url"`
	URLLine     int    `yaml:"-"`
	SecretToken string `yaml:"secret_token"`
	Path        string `yaml:"path"`
	Line        int    `yaml:"-"`
	// What setWebhook passes on to Telegram (config_tls.go checks them).
	Certificate         string   `yaml:"certificate"` // a PEM file uploaded so Telegram trusts a self-signed certificate
	CertificateLine     int      `yaml:"-"`
	IPAddress           string   `yaml:"ip_address"`
	IPAddressLine       int      `yaml:"-"`
	MaxConnections      int      `yaml:"max_connections"`
	MaxConnectionsLine  int      `yaml:"-"`
	DropPendingUpdates  bool     `yaml:"drop_pending_updates"`
	AllowedUpdates      []string `yaml:"allowed_updates"`
	AllowedUpdatesLines []int    `yaml:"-"`
}

// LimitsConfig are Telegram's sending limits; the defaults are Telegram's own. Raise them only
// for a self-hosted Bot API server or a test server.
type LimitsConfig struct {
	Global            float64 `yaml:"global"`
	PerChatPerSecond  float64 `yaml:"per_chat_per_second"`
	PerGroupPerMinute float64 `yaml:"per_group_per_minute"`
	Line              int     `yaml:"-"`
}

// CommandLimitsConfig is how many commands (and button presses) herald takes in before it
// drops the rest: every command costs CI calls. The defaults are the intake's own.
type CommandLimitsConfig struct {
	PerUser CommandLimitConfig `yaml:"per_user"`
	PerChat CommandLimitConfig `yaml:"per_chat"`
	Line    int                `yaml:"-"`
}

// CommandLimitConfig is one token bucket: Burst commands at once, then one every Every.
// Burst 0 turns it off: a limit of no commands at all would only be a bot that ignores
// everyone, so 0 is free to mean "no limit", the way an admin reads it.
type CommandLimitConfig struct {
	Burst     int           `yaml:"burst"`
	BurstLine int           `yaml:"-"`
	Every     time.Duration `yaml:"every"`
	EveryLine int           `yaml:"-"`
	Line      int           `yaml:"-"`
}

// rate is the limit as the intake takes it, where zero means its default and a negative
// Burst means off.
func (l CommandLimitConfig) rate() bot.RateLimit {
	if l.Burst == 0 {
		return bot.RateLimit{Burst: -1}
	}
	return bot.RateLimit{Burst: l.Burst, Every: l.Every}
}

// IntakeOptions are the intake's settings from the file.
func (c *Config) IntakeOptions() bot.IntakeOptions {
	return bot.IntakeOptions{
		UserRate: c.Telegram.CommandLimits.PerUser.rate(),
		ChatRate: c.Telegram.CommandLimits.PerChat.rate(),
	}
}

type DatabaseConfig struct {
	URL  string `yaml:"url"`
	Line int    `yaml:"-"`
}

type HTTPConfig struct {
	Listen string `yaml:"listen"`
	// MetricsListen serves /metrics on a listener of its own (e.g. one only the monitoring
	// network reaches); empty serves it on Listen.
	MetricsListen string `yaml:"metrics_listen"`
	// TLS serves Listen over HTTPS (config_tls.go, tlsreload.go).
	TLS  TLSConfig `yaml:"tls"`
	Line int       `yaml:"-"`
}

type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
	Line   int    `yaml:"-"`
}

// CIConfig is one named connection to a CI server. Name and type are read here, for every
// provider; the rest of the entry is the section the provider's package owns, chosen by type
// through providerTypes (see decodeNode).
type CIConfig struct {
	Name    string          `yaml:"name"`
	Type    string          `yaml:"type"`
	Section ProviderSection `yaml:"-"` // e.g. *buildbot.Section; never nil once decoded
	Line    int             `yaml:"-"`

	lines map[string]int // each key of the entry ("auth", "auth.type") → the line of its value
}

// Secrets are the connection's values that must never reach a log.
func (c *CIConfig) Secrets() []string {
	if c.Section == nil {
		return nil
	}
	return c.Section.Secrets()
}

// lineOf is the line of a key of the entry, or of the nearest key above it that is in the
// file, or else the entry's own.
func (c *CIConfig) lineOf(key string) int {
	for key != "" {
		if l, ok := c.lines[key]; ok {
			return l
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return c.Line
}

// AuthzConfig is the admin's permission matrix; authz.Compile checks its meaning.
type AuthzConfig struct {
	Groups           []AuthzGroupConfig `yaml:"groups"`
	Rules            []AuthzRuleConfig  `yaml:"rules"`
	NotifyAdminsOnly bool               `yaml:"notify_admins_only"`
	Line             int                `yaml:"-"`
	// Registration: open | approval | invite, where requests go, what unregistered chats may
	// use (see config_authz.go and package authz).
	Registration     string   `yaml:"registration"`
	RegistrationLine int      `yaml:"-"`
	AdminChat        int64    `yaml:"admin_chat"`
	AdminChatLine    int      `yaml:"-"`
	Unregistered     []string `yaml:"unregistered"`
	UnregisteredLine int      `yaml:"-"`
}

type AuthzGroupConfig struct {
	Name         string   `yaml:"name"`
	Members      []string `yaml:"members"`
	MembersLines []int    `yaml:"-"` // the line of each member
	Line         int      `yaml:"-"`
}

type AuthzRuleConfig struct {
	Commands   []string `yaml:"commands"`
	Allow      []string `yaml:"allow"`
	AllowLines []int    `yaml:"-"` // the line of each entry of Allow
	Builders   []string `yaml:"builders"`
	Line       int      `yaml:"-"`
}

// ChatConfig is a chat subscribed by default, like Buildbot's chat_ids + notify_events. It is
// seeded once; later /notify changes in that chat win over the file.
type ChatConfig struct {
	ID            int64    `yaml:"id"`
	Username      string   `yaml:"-"` // id: "@channelusername" instead of a number (chat_usernames.go)
	Thread        int64    `yaml:"thread"`
	Events        []string `yaml:"events"`
	Builders      []string `yaml:"builders"`
	BuildersLines []int    `yaml:"-"` // the line of each pattern
	Branches      []string `yaml:"branches"`
	BranchesLines []int    `yaml:"-"`
	Line          int      `yaml:"-"`
}

type NotificationsConfig struct {
	// GroupWindow: a chat's results arriving within it of each other become one message
	// (bot.SenderOptions.GroupWindow); 0 turns grouping off.
	GroupWindow time.Duration `yaml:"group_window"`
	// Blamelist lists the authors of a failed build's changes in its message (Buildbot's
	// showBlameList; bot.NotifyOptions.Blamelist).
	Blamelist bool `yaml:"blamelist"`
	// Revisions names builds by their revisions instead of their numbers (Buildbot's
	// useRevisions; bot.NotifyOptions.Revisions).
	Revisions bool `yaml:"revisions"`
	Line      int  `yaml:"-"`
}

// ConfigError lists every problem of a config file, one "file:line: message" per line.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string { return strings.Join(e.Problems, "\n") }

// defaults are what an empty file means.
func defaults() Config {
	return Config{
		Telegram: TelegramConfig{
			APIURL:      "https://api.telegram.org",
			Mode:        "polling",
			PollTimeout: 30 * time.Second,
			Webhook:     WebhookConfig{Path: "/telegram/webhook"},
			Limits:      LimitsConfig{Global: 30, PerChatPerSecond: 1, PerGroupPerMinute: 20},
			CommandLimits: CommandLimitsConfig{
				PerUser: CommandLimitConfig{Burst: bot.DefaultUserRate.Burst, Every: bot.DefaultUserRate.Every},
				PerChat: CommandLimitConfig{Burst: bot.DefaultChatRate.Burst, Every: bot.DefaultChatRate.Every},
			},
		},
		HTTP:          HTTPConfig{Listen: "127.0.0.1:8080"},
		Notifications: NotificationsConfig{GroupWindow: 5 * time.Second},
		Log:           LogConfig{Level: "info"},
	}
}

// LoadConfig reads, decodes and validates the file at path. Environment variables
// TELEGRAM_BOT_TOKEN, TELEGRAM_API_URL and DATABASE_URL override the file. Every problem is
// reported at once, each as "path:line: message".
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parseConfig(path, raw, getenv)
}

func parseConfig(path string, raw []byte, getenv func(string) string) (*Config, error) {
	cfg := defaults()
	cfg.path = path
	var root yaml.Node
	if err := yaml.Unmarshal(raw, &root); err != nil {
		return nil, &ConfigError{Problems: []string{path + ": " + yamlSyntaxError(err)}}
	}
	d := &decoder{getenv: getenv}
	if len(root.Content) > 0 {
		d.decode(&root, reflectValue(&cfg), "")
	}
	for name, dst := range map[string]*string{
		"TELEGRAM_BOT_TOKEN": &cfg.Telegram.Token,
		"TELEGRAM_API_URL":   &cfg.Telegram.APIURL,
		"DATABASE_URL":       &cfg.Database.URL,
	} {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	d.problems = append(d.problems, cfg.validate()...)
	if len(d.problems) == 0 {
		return &cfg, nil
	}
	msgs := make([]string, 0, len(d.problems))
	for _, p := range sortProblems(d.problems) {
		if p.Line > 0 {
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s", path, p.Line, p.Msg))
		} else {
			msgs = append(msgs, fmt.Sprintf("%s: %s", path, p.Msg))
		}
	}
	return nil, &ConfigError{Problems: msgs}
}

// yamlSyntaxError turns yaml.v3's "yaml: line 3: ..." into "3: ...", so the message reads
// file:line: like every other.
func yamlSyntaxError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if _, err := strconv.Atoi(num); err == nil {
				return num + ": " + tail
			}
		}
	}
	return msg
}

var (
	tokenPattern  = regexp.MustCompile(`^[0-9]+:[A-Za-z0-9_-]+$`)
	secretPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)
	namePattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// validate checks values, not shapes (the decoder did those). Messages never quote a value
// where a secret may be (mayBeSecret): not even telegram.mode, which a misplaced token could
// fill.
func (c *Config) validate() []problem {
	var ps []problem
	add := func(line int, format string, args ...any) {
		ps = append(ps, problem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	t := c.Telegram
	switch {
	case t.Token == "":
		add(t.Line, "telegram.token is required (or set TELEGRAM_BOT_TOKEN)")
	case !tokenPattern.MatchString(t.Token):
		add(t.Line, "telegram.token does not look like a bot token from BotFather (digits, a colon, then letters)")
	}
	if u, err := url.Parse(t.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(t.Line, "telegram.api_url must be an http(s) URL")
	}
	switch t.Mode {
	case "polling":
	case "webhook":
		if u, err := url.Parse(t.Webhook.URL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			add(t.Webhook.Line, "telegram.webhook.url must be the public http(s) URL Telegram posts updates to")
		}
		if !secretPattern.MatchString(t.Webhook.SecretToken) {
			add(t.Webhook.Line, "telegram.webhook.secret_token is required in webhook mode: 1-256 characters A-Z, a-z, 0-9, _ and -")
		}
		if !strings.HasPrefix(t.Webhook.Path, "/") {
			add(t.Webhook.Line, "telegram.webhook.path must start with /")
		}
	default:
		add(t.Line, "telegram.mode must be polling or webhook")
	}
	if w := c.Notifications.GroupWindow; w < 0 || w > 10*time.Minute {
		add(c.Notifications.Line, "notifications.group_window must be between 0 (off) and 10m")
	}
	if t.PollTimeout < time.Second || t.PollTimeout > 10*time.Minute {
		add(t.Line, "telegram.poll_timeout must be between 1s and 10m")
	}
	if t.Limits.Global <= 0 || t.Limits.PerChatPerSecond <= 0 || t.Limits.PerGroupPerMinute <= 0 {
		add(t.Limits.Line, "telegram.limits must all be positive")
	}
	for _, l := range []struct {
		key string
		CommandLimitConfig
	}{{"per_user", t.CommandLimits.PerUser}, {"per_chat", t.CommandLimits.PerChat}} {
		switch {
		case l.Burst < 0:
			add(orLine(l.BurstLine, l.Line), "telegram.command_limits.%s.burst must be 0 (no limit) or more", l.key)
		case l.Burst > 0 && l.Every <= 0:
			add(orLine(l.EveryLine, l.Line), "telegram.command_limits.%s.every must be more than 0 while burst is above 0 (burst: 0 turns the limit off)", l.key)
		}
	}
	if c.Database.URL == "" {
		add(c.Database.Line, "database.url is required (or set DATABASE_URL)")
	} else if u, err := url.Parse(c.Database.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		add(c.Database.Line, "database.url must be a postgres:// URL")
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Listen); err != nil {
		add(c.HTTP.Line, "http.listen must be host:port, e.g. 127.0.0.1:8080")
	}
	if m := c.HTTP.MetricsListen; m != "" {
		if _, _, err := net.SplitHostPort(m); err != nil {
			add(c.HTTP.Line, "http.metrics_listen must be host:port, e.g. 127.0.0.1:9090, or left out to serve /metrics on http.listen")
		} else if m == c.HTTP.Listen {
			add(c.HTTP.Line, "http.metrics_listen must differ from http.listen; leave it out to serve /metrics on http.listen")
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(c.Log.Line, "log.level must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "", "json", "console":
	default:
		add(c.Log.Line, "log.format must be json or console, not %q", c.Log.Format)
	}
	names := map[string]bool{}
	for i, ci := range c.CI {
		where := fmt.Sprintf("ci[%d]", i)
		switch {
		case !namePattern.MatchString(ci.Name):
			add(ci.Line, "%s.name must be a short lower-case name like main or nightly", where)
		case names[ci.Name]:
			add(ci.Line, "%s.name %q is used twice", where, ci.Name)
		}
		names[ci.Name] = true
		if _, ok := lookupProviderType(ci.Type); !ok {
			add(ci.Line, "%s.type must be one of: %s, not %q", where, providerTypeNames(), ci.Type)
		}
		sec := ci.Section
		if sec == nil { // an entry left empty: checked as the closest type, like an unknown one
			sec = closestProviderType(ci.Type).newSection()
		}
		for _, p := range sec.Validate() {
			add(ci.lineOf(p.Key), "%s.%s", where, p.Msg)
		}
	}
	for i, ch := range c.Chats {
		if ch.ID == 0 && ch.Username == "" {
			add(ch.Line, "chats[%d].id is required: the chat id /getid shows, or @channelusername", i)
		}
		for _, e := range ch.Events {
			if !knownEvent(e) {
				add(ch.Line, "chats[%d].events: unknown event %q", i, e)
			}
		}
		ps = append(ps, patternProblems(fmt.Sprintf("chats[%d].builders", i), ch.Builders, ch.BuildersLines, ch.Line)...)
		ps = append(ps, patternProblems(fmt.Sprintf("chats[%d].branches", i), ch.Branches, ch.BranchesLines, ch.Line)...)
	}
	ps = append(ps, c.authzProblems()...)
	ps = append(ps, c.hookProblems()...)
	ps = append(ps, c.tlsProblems()...) // config_tls.go
	return ps
}

// patternProblems checks globs at the line of each, so a typo is not left to match nothing.
func patternProblems(where string, patterns []string, lines []int, line int) []problem {
	var out []problem
	for i, p := range patterns {
		err := glob.Validate(p)
		if err == nil {
			continue
		}
		why := err.Error()
		var ge *glob.Error
		if errors.As(err, &ge) {
			why = ge.Problem
		}
		at := line
		if i < len(lines) {
			at = lines[i]
		}
		out = append(out, problem{Line: at, Msg: fmt.Sprintf("%s: bad pattern %q: %s", where, p, why)})
	}
	return out
}

// orLine is line, or fallback when the value was not in the file.
func orLine(line, fallback int) int {
	if line > 0 {
		return line
	}
	return fallback
}

func sortProblems(ps []problem) []problem {
	out := append([]problem(nil), ps...)
	// Stable by line: messages read top to bottom like the file.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Line < out[j-1].Line; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

var errNoConfig = errors.New("no config file")
