package main

import (
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/buildbot"
	"github.com/herald-ci/herald/ci/github"
	"github.com/herald-ci/herald/ci/gitlab"
	"github.com/herald-ci/herald/ci/jenkins"
)

// ProviderSection is a provider package's own part of a ci: entry (all of it but name and
// type): a pointer to a struct with yaml tags, which the config decoder fills strictly.
type ProviderSection interface {
	// Validate returns every problem of the section, by key.
	Validate() []ci.ConfigProblem
	// Secrets are the values the log filter must hide.
	Secrets() []string
}

// providerType is one value of a ci: entry's type: the section it reads and the provider it
// makes. Adding a CI system to herald is adding it to providerTypes.
type providerType struct {
	name       string
	newSection func() ProviderSection // empty, or with the package's defaults
	build      func(conn string, s ProviderSection, log zerolog.Logger) (ci.Provider, error)
}

// providerTypes is the one place that maps type: to a provider, in the order problems list
// them. Tests add fakes to it.
var providerTypes = []providerType{
	providerOf("buildbot", func() *buildbot.Section { return &buildbot.Section{} },
		func(conn string, s *buildbot.Section, log zerolog.Logger) (ci.Provider, error) {
			return buildbot.New(s.Config(conn), log)
		}),
	providerOf("github", func() *github.Section { return &github.Section{} },
		func(conn string, s *github.Section, log zerolog.Logger) (ci.Provider, error) {
			return github.New(s.Config(conn), log)
		}),
	providerOf("gitlab", func() *gitlab.Section { return &gitlab.Section{} },
		func(conn string, s *gitlab.Section, log zerolog.Logger) (ci.Provider, error) {
			return gitlab.New(s.Config(conn), log)
		}),
	providerOf("jenkins", func() *jenkins.Section { return &jenkins.Section{} },
		func(conn string, s *jenkins.Section, log zerolog.Logger) (ci.Provider, error) {
			return jenkins.New(s.Config(conn), log)
		}),
}

// providerOf makes a table entry from a package's own section type, so no entry asserts
// types by hand.
func providerOf[S ProviderSection](name string, newSection func() S, build func(conn string, s S, log zerolog.Logger) (ci.Provider, error)) providerType {
	return providerType{
		name:       name,
		newSection: func() ProviderSection { return newSection() },
		build: func(conn string, s ProviderSection, log zerolog.Logger) (ci.Provider, error) {
			sec, ok := s.(S)
			if !ok {
				return nil, fmt.Errorf("config: ci %s: the section is not a %s section", conn, name)
			}
			return build(conn, sec, log)
		},
	}
}

// lookupProviderType is the table's entry for a type.
func lookupProviderType(name string) (providerType, bool) {
	for _, t := range providerTypes {
		if t.name == name {
			return t, true
		}
	}
	return providerType{}, false
}

// providerTypeNames lists the types for problems: "buildbot, github".
func providerTypeNames() string {
	names := make([]string, len(providerTypes))
	for i, t := range providerTypes {
		names[i] = t.name
	}
	return strings.Join(names, ", ")
}

// closestProviderType is the type an entry with an unknown or missing type is checked as, so
// its other problems are still reported in the same run: the one nearest in spelling (a typo
// of buildbot is most likely buildbot), the first on a tie or when the type is missing.
func closestProviderType(name string) providerType {
	best, bestDist := providerTypes[0], -1
	if name == "" {
		return best
	}
	for _, t := range providerTypes {
		if d := editDistance(name, t.name); bestDist < 0 || d < bestDist {
			best, bestDist = t, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, by bytes (types are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// newProviders makes the provider of every connection, through providerTypes.
func newProviders(cfg *Config, log zerolog.Logger) ([]ci.Provider, error) {
	var out []ci.Provider
	for _, c := range cfg.CI {
		t, ok := lookupProviderType(c.Type)
		if !ok {
			return nil, fmt.Errorf("config: ci %s: type %q is not one of: %s", c.Name, c.Type, providerTypeNames())
		}
		p, err := t.build(c.Name, c.Section, log.With().Str("conn", c.Name).Logger())
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	checks, err := checkProviders(cfg, log)
	if err != nil {
		return nil, err
	}
	return append(out, checks...), nil
}

// webhookParsers are the connections that take CI webhooks: those whose provider parses them.
func webhookParsers(providers []ci.Provider) map[string]ci.WebhookParser {
	out := map[string]ci.WebhookParser{}
	for _, p := range providers {
		if wp, ok := p.(ci.WebhookParser); ok {
			out[p.Name()] = wp
		}
	}
	return out
}
