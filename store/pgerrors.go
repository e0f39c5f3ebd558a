package store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
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

// IsUnavailable reports that err says the database could not be used, not that it refused
// what it was given: the same work done again once the database is back may well succeed, so
// whoever gets it tries again (with backoff) instead of giving up on the work. It is true for
//   - a failed connection attempt (pgconn.ConnectError: refused, reset, not accepting
//     connections, starting up);
//   - SQLSTATE class 08 (connection exception) and 57P01–57P03 (admin shutdown, crash
//     shutdown, cannot connect now), and 53300 (too many connections);
//   - an error pgx reports before it sent anything (pgconn.SafeToRetry), or a connection
//     pgx holds that broke under it (a network error or EOF inside a pgconn error, or
//     pgconn.ErrConnClosed);
//   - a closed pool (herald is shutting down; the next start does it).
//
// A context that ended is not unavailability: the work ran out of time or was stopped, and
// its caller decides about that. A network error that pgconn did not report (a CI call) is
// not the database's either.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", pe.Code == "53300":
			return true
		}
		return false
	}
	if errors.Is(err, puddle.ErrClosedPool) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.SafeToRetry(err) {
		return true
	}
	// pgconn's own errors (unexported) all say whether they are safe to retry; one that is
	// not, around a broken socket, is a connection lost in the middle of a statement.
	var fromPgconn interface{ SafeToRetry() bool }
	if !errors.As(err, &fromPgconn) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func hasClass(err error, class string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && strings.HasPrefix(pe.Code, class)
}
