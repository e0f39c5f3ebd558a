package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/herald-ci/herald/store"
	"github.com/herald-ci/herald/store/storetest"
)

func TestMigrateIsIdempotentAndRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	latest, err := store.LatestMigration()
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Migrate(ctx)
	if err != nil || v != latest {
		t.Fatalf("second Migrate = %d, %v; want %d, nil", v, err, latest)
	}
	if _, err := s.Pool().Exec(ctx, `UPDATE schema_migrations SET version = $1`, latest+1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("Migrate on a newer schema = %v; want ErrSchemaTooNew", err)
	}
}
