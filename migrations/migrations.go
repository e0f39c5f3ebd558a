// Package migrations holds herald's database schema as numbered SQL files, embedded in the
// binary. Files are named NNNN_name.up.sql; store applies them in order.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
