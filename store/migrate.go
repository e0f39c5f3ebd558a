package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	migratepgx "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/herald-ci/herald/migrations"
)

// ErrSchemaTooNew means the database was migrated by a newer herald: this one refuses to
// run against a schema it does not know.
var ErrSchemaTooNew = errors.New("store: the database schema is newer than this herald knows")

// Migrate applies every embedded migration not yet applied. golang-migrate holds a Postgres
// advisory lock while it works, so two herald processes starting at once migrate once.
func (s *Store) Migrate(ctx context.Context) (version uint, err error) {
	latest, err := LatestMigration()
	if err != nil {
		return 0, err
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	m, err := newMigrate(db)
	if err != nil {
		return 0, err
	}
	// Close gives the migration connection back to the pool; without it the pool never closes.
	defer m.Close()
	cur, dirty, err := m.Version()
	if err != nil && !errors.Is(err, migrate.ErrNilVersion) {
		return 0, fmt.Errorf("store: read schema version: %w", err)
	}
	if cur > latest {
		return cur, fmt.Errorf("%w (database at %d, herald knows up to %d)", ErrSchemaTooNew, cur, latest)
	}
	if dirty {
		return cur, fmt.Errorf("store: migration %d failed half way; fix the database by hand and run herald migrate again", cur)
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return cur, fmt.Errorf("store: migrate: %w", err)
	}
	return latest, nil
}

func newMigrate(db *sql.DB) (*migrate.Migrate, error) {
	src, err := iofs.New(migrations.FS, ".")
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	drv, err := migratepgx.WithInstance(db, &migratepgx.Config{MigrationsTable: "schema_migrations"})
	if err != nil {
		return nil, fmt.Errorf("store: migrations driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return m, nil
}

// LatestMigration is the highest migration number embedded in this binary.
func LatestMigration() (uint, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return 0, fmt.Errorf("store: read migrations: %w", err)
	}
	var latest uint
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		if !ok || !strings.HasSuffix(e.Name(), ".up.sql") {
			continue
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("store: migration %s: bad number", e.Name())
		}
		if uint(n) > latest {
			latest = uint(n)
		}
	}
	return latest, nil
}
