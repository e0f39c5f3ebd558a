package main

import (
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
)

// newProviders makes the provider of every connection.
func newProviders(cfg *Config, log zerolog.Logger) ([]ci.Provider, error) {
	var out []ci.Provider
	for _, c := range cfg.CI {
		p, err := buildbot.New(buildbot.Config{
			Name: c.Name, URL: c.URL, PollInterval: c.PollInterval,
			Auth: buildbot.Auth{Kind: c.Auth.Type, Username: c.Auth.Username, Password: c.Auth.Password, Token: c.Auth.Token},
		}, log.With().Str("conn", c.Name).Logger())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
