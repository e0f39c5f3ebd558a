// Package storetest gives each test its own freshly migrated Postgres database.
//
// It connects to HERALD_TEST_DATABASE_URL (an admin connection; `make test` sets it, and
// falls back to postgres@127.0.0.1:5432), creates a database with a random name, migrates it,
// and drops it when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/herald-ci/herald/store"
)

// AdminURL is the connection tests create databases through.
func AdminURL() string {
	if u := os.Getenv("HERALD_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewURL creates an empty database for this test and returns its URL. The database is dropped
// when the test ends.
func NewURL(t testing.TB) string {
	t.Helper()
	dbURL, drop, err := Create(context.Background(), "herald_test_")
	if err != nil {
		t.Fatalf("%v (run the tests with `make test`, which starts a Postgres)", err)
	}
	t.Cleanup(drop)
	return dbURL
}

// Create makes an empty database named prefix plus a random suffix on the AdminURL server,
// and returns its URL and a function that drops it. Outside tests herald-bench uses it.
func Create(ctx context.Context, prefix string) (dbURL string, drop func(), err error) {
	admin := AdminURL()
	u, err := url.Parse(admin)
	if err != nil {
		return "", nil, errors.New("storetest: the admin URL (HERALD_TEST_DATABASE_URL) cannot be parsed")
	}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", nil, fmt.Errorf("storetest: connect to %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("storetest: create database: %w", err)
	}
	drop = func() {
		c, err := pgx.Connect(context.Background(), admin)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// New returns a store on a fresh, migrated database of its own.
func New(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, NewURL(t))
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return s
}
