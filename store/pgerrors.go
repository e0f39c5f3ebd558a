package store

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsDataError reports whether err holds Postgres's refusal of a value itself (SQLSTATE class
// 22, data exception: a NUL or invalid UTF-8 in text or JSON, a number or time out of range).
// Storing the same thing again fails the same way, so whoever delivers it must log it and
// move on: retrying would stop everything queued behind it for good.
func IsDataError(err error) bool { return hasClass(err, "22") }

// IsIntegrityError reports a violated constraint (SQLSTATE class 23). A CI event does not
// give up on it (the row it refers to may be there on the next try); a chat's command does,
// since its chat waits behind it.
func IsIntegrityError(err error) bool { return hasClass(err, "23") }

func hasClass(err error, class string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, class)
}
