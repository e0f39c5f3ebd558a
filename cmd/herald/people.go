package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/herald-ci/herald/commands"
	"github.com/herald-ci/herald/store"
)

// addPeople wires /iam and /link (the Approve/Deny buttons of link requests) into the
// registry.
func addPeople(reg *commands.Registry, deps commands.Deps, st *store.Store) {
	commands.AddPeople(reg, commands.People{Deps: deps, Links: people{st}})
}

// seedPeople makes the config's people: the config links of this start.
func seedPeople(ctx context.Context, st *store.Store, cfg *Config) error {
	return st.SeedPeople(ctx, cfg.PeopleLinks(), time.Now())
}

// people is the store as commands.PeopleStore: the same records, the package's own errors.
type people struct{ st *store.Store }

func peopleError(err error) error {
	for from, to := range map[error]error{
		store.ErrNotFound:       commands.ErrNoLink,
		store.ErrLinked:         commands.ErrLinked,
		store.ErrLinkTaken:      commands.ErrLinkTaken,
		store.ErrLinkFromConfig: commands.ErrLinkFromConfig,
	} {
		if errors.Is(err, from) {
			return fmt.Errorf("%w: %w", to, err)
		}
	}
	return err
}

func (p people) RequestLink(ctx context.Context, l commands.PersonLink) (commands.PersonLink, bool, error) {
	got, created, err := p.st.RequestLink(ctx, store.PersonLink(l))
	return commands.PersonLink(got), created, peopleError(err)
}

func (p people) DecideLink(ctx context.Context, id int64, approve bool, byUser int64, byName string, at time.Time) (commands.PersonLink, bool, error) {
	got, decided, err := p.st.DecideLink(ctx, id, approve, byUser, byName, at)
	return commands.PersonLink(got), decided, peopleError(err)
}

func (p people) UserLinks(ctx context.Context, telegramID int64) ([]commands.PersonLink, error) {
	list, err := p.st.UserLinks(ctx, telegramID)
	return personLinks(list), err
}

func (p people) PendingLinks(ctx context.Context, limit int) ([]commands.PersonLink, error) {
	list, err := p.st.PendingLinks(ctx, limit)
	return personLinks(list), err
}

func (p people) Unlink(ctx context.Context, telegramID int64, kind, identity string, at time.Time) (commands.PersonLink, error) {
	got, err := p.st.Unlink(ctx, telegramID, kind, identity, at)
	return commands.PersonLink(got), peopleError(err)
}

func personLinks(list []store.PersonLink) []commands.PersonLink {
	out := make([]commands.PersonLink, len(list))
	for i, l := range list {
		out[i] = commands.PersonLink(l)
	}
	return out
}
