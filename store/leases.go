package store

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ProcessTTL is how long a process may go unseen before its claims expire although its lock
// is still held (a process stuck, or cut off from the database while Postgres has not yet
// noticed its connection is gone). A process beats far more often (see Lessee.Beat).
const ProcessTTL = 30 * time.Second

// ProcessGrace is how long after its last beat a process whose lock is gone may still be
// acting on what it held: a process that is alive but lost its lease connection notices at
// its next beat (BeatTimeout at most after the interval) and stops at once, finishing only
// the sends in flight. Until then its claims are not taken back (claimsHeldCond), so a
// standby does not send beside it; a process killed outright costs a standby this much
// more before it takes over.
const ProcessGrace = 5 * time.Second

// BeatTimeout bounds every statement on the lease connection: one that takes longer means
// the connection cannot be trusted (a black-holed network waits for TCP to give up, which
// takes a quarter of an hour), and the roles are given up.
const BeatTimeout = 3 * time.Second

// sessionTimeout is what the server waits on a lease connection that says nothing before
// it ends the session, releasing its locks: a holder on a machine that vanished without a
// FIN, or a process frozen while its kernel still answers TCP keepalives, would otherwise
// keep its roles for as long as TCP keepalive takes (two hours by default). A holder beats
// every second. (idle_session_timeout needs PostgreSQL 14; older servers fall back to the
// TCP keepalive settings alone.)
const sessionTimeout = 10 * time.Second

// SenderRole is the role under which the sender runs: a process holding it may hold outbox
// claims (see claimsHeldCond).
const SenderRole = "sender"

// The advisory lock spaces: the first key of every lock herald takes on its lease connection.
const (
	processLockSpace = `hashtext('herald.process')`
	roleLockSpace    = `hashtext('herald.role')`
)

// Lessee is one process's hold on the database: a connection of its own (never from the
// pool, which may close or hand out a connection at will), on which it holds the advisory
// lock that says it is alive and the locks of the roles it holds. Session-level locks go when
// the connection goes: a process killed with -9 loses them as soon as Postgres sees its socket
// close, which is what makes a standby take over within a second or two. It is safe for
// concurrent use (calls take turns on the connection).
type Lessee struct {
	cfg  *pgx.ConnConfig
	id   int32
	name string

	mu   sync.Mutex
	conn *pgx.Conn
}

// ErrLeaseLost is returned by a Lessee whose connection broke: every role it held is gone.
// Reconnect makes a new one.
var ErrLeaseLost = errors.New("store: the lease connection is gone; every role it held was released")

// NewLessee connects the lease connection of a process called name (host:pid) and makes it
// alive: a random id no live process has, its lock, and its row in processes.
func (s *Store) NewLessee(ctx context.Context, name string) (*Lessee, error) {
	cfg := s.pool.Config().ConnConfig.Copy()
	// The server notices a silent holder: idle_session_timeout ends a session that sends
	// nothing, and short keepalives end one whose peer vanished.
	cfg.RuntimeParams["idle_session_timeout"] = fmt.Sprint(sessionTimeout.Milliseconds())
	cfg.RuntimeParams["tcp_keepalives_idle"] = "5"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "2"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	l := &Lessee{cfg: cfg, name: name}
	for range 10 {
		l.id = randomID()
		err := l.connect(ctx)
		if errors.Is(err, errIDTaken) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return l, nil
	}
	return nil, errors.New("store: lease: no free process id after 10 tries")
}

var errIDTaken = errors.New("store: lease: process id in use")

func randomID() int32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return int32(binary.BigEndian.Uint32(b[:])&0x7fffffff) | 1 // > 0: claimed_by 0 never means a process
}

// connect opens the connection and takes the process lock, under l.mu or before l is shared.
func (l *Lessee) connect(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil && isUnknownParameter(err) {
		// A server before PostgreSQL 14: keepalives alone.
		delete(l.cfg.RuntimeParams, "idle_session_timeout")
		conn, err = pgx.ConnectConfig(ctx, l.cfg)
	}
	if err != nil {
		return fmt.Errorf("store: lease: connect: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+processLockSpace+`, $1)`, l.id).Scan(&ok); err != nil {
		_ = conn.Close(ctx)
		return fmt.Errorf("store: lease: take the process lock: %w", err)
	}
	if !ok {
		_ = conn.Close(ctx)
		return errIDTaken
	}
	_, err = conn.Exec(ctx, `
		INSERT INTO processes (id, name) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, seen_at = now()`, l.id, l.name)
	if err != nil {
		_ = conn.Close(ctx)
		return fmt.Errorf("store: lease: register the process: %w", err)
	}
	l.conn = conn
	return nil
}

// ID is the process id claims name (outbox.claimed_by).
func (l *Lessee) ID() int32 { return l.id }

// Name is the process's name (host:pid).
func (l *Lessee) Name() string { return l.name }

// Beat says the process is alive (processes.seen_at) and proves the connection still holds
// its locks; ErrLeaseLost when it does not.
func (l *Lessee) Beat(ctx context.Context) error {
	return l.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		// An upsert: a row someone deleted (a clean-up by hand) comes back, else the
		// process would hold its lock yet count as dead for ever.
		_, err := conn.Exec(ctx, `
			INSERT INTO processes (id, name) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET seen_at = now()`, l.id, l.name)
		return err
	})
}

// TryRole takes the role's lock if no process holds it; it reports whether this process
// holds it now. Taking a role this process already holds is true again (and must be
// released once per take: call it only for roles not held).
func (l *Lessee) TryRole(ctx context.Context, role string) (bool, error) {
	var ok bool
	err := l.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		return conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(`+roleLockSpace+`, hashtext($1))`, role).Scan(&ok)
	})
	return ok, err
}

// ReleaseRole gives a role up, for a process that stops acting in it while it runs on.
func (l *Lessee) ReleaseRole(ctx context.Context, role string) error {
	return l.do(ctx, func(ctx context.Context, conn *pgx.Conn) error {
		_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock(`+roleLockSpace+`, hashtext($1))`, role)
		return err
	})
}

// do runs fn on the connection; a broken connection is closed and reported as ErrLeaseLost.
//
// The statement runs on a context of its own, bounded by BeatTimeout: the caller's context
// ending (herald stopping) must not cut a statement in the middle, which would leave the
// connection unusable and free every lock before the roles were stopped in order; only
// Close ends the lease on purpose.
func (l *Lessee) do(ctx context.Context, fn func(context.Context, *pgx.Conn) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return ErrLeaseLost
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), BeatTimeout)
	defer cancel()
	err := fn(sctx, l.conn)
	if err == nil {
		return nil
	}
	if sctx.Err() == nil && !l.conn.IsClosed() && !isConnError(err) {
		return fmt.Errorf("store: lease: %w", err)
	}
	// A statement past its time leaves the connection in an unknown state, and a broken
	// one holds nothing: either way the locks cannot be trusted any more.
	_ = l.conn.Close(context.Background())
	l.conn = nil
	return fmt.Errorf("%w (%v)", ErrLeaseLost, err)
}

// Reconnect makes a new lease connection after ErrLeaseLost, with the same process id, so
// the claims this process made stay its own. It holds no role afterwards.
func (l *Lessee) Reconnect(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		_ = l.conn.Close(context.Background())
		l.conn = nil
	}
	err := l.connect(ctx)
	if errors.Is(err, errIDTaken) {
		// Postgres has not yet noticed that the old connection is gone.
		return fmt.Errorf("%w: the old connection still holds it", errIDTaken)
	}
	return err
}

// Close ends the lease: every role and the process lock are released at once, and the
// process row goes (its claims then belong to nobody).
func (l *Lessee) Close(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	// A half-open connection would hold shutdown for as long as TCP takes to give up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), BeatTimeout)
	defer cancel()
	_, _ = l.conn.Exec(ctx, `DELETE FROM processes WHERE id = $1`, l.id)
	_ = l.conn.Close(ctx)
	l.conn = nil
}

// isUnknownParameter reports a server refusing a setting it does not know (42704).
func isUnknownParameter(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42704"
}

// isConnError reports an error of the connection itself rather than of the statement.
func isConnError(err error) bool {
	return IsUnavailable(err)
}

// aliveSQL is true for a process id whose lock is held and which was seen within the TTL:
// its claims are live. It is a condition on a column or parameter named by %s. pg_locks
// lists the whole server's locks and an advisory lock belongs to one database, so the lock
// must be this database's: another herald on the same server may use the same id.
const aliveSQL = `(EXISTS (
	SELECT 1 FROM pg_locks l JOIN processes p ON p.id = %[1]s
	WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
		AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND l.classid::bigint = (hashtext('herald.process')::bigint & 4294967295)
		AND l.objid::bigint = (%[1]s::bigint & 4294967295)
		AND p.seen_at > now() - make_interval(secs => %[2]d)))`

// aliveCond is aliveSQL for the process id in column (or parameter) col.
func aliveCond(col string) string {
	return fmt.Sprintf(aliveSQL, col, int(ProcessTTL.Seconds()))
}

// claimsHeldCond is true for a process id whose outbox claims must not be taken back:
// it holds the sender role (only a sender claims rows, and only the holder of the role
// runs one), or its lease connection is gone less than ProcessGrace after its last beat (it
// may be alive and not know yet; it stops at its next beat). A live process that holds no
// sender role holds nothing it may still send: claims it could not release (the database
// was away when its sender stopped) are taken back, not waited for.
func claimsHeldCond(col string) string {
	return fmt.Sprintf(`(EXISTS (
		SELECT 1 FROM pg_locks pl JOIN pg_locks rl ON rl.pid = pl.pid
		WHERE pl.locktype = 'advisory' AND pl.granted AND pl.objsubid = 2
			AND pl.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND pl.classid::bigint = (hashtext('herald.process')::bigint & 4294967295)
			AND pl.objid::bigint = (%[1]s::bigint & 4294967295)
			AND rl.locktype = 'advisory' AND rl.granted AND rl.objsubid = 2 AND rl.database = pl.database
			AND rl.classid::bigint = (hashtext('herald.role')::bigint & 4294967295)
			AND rl.objid::bigint = (hashtext(%[2]s)::bigint & 4294967295))
		OR (NOT %[3]s AND EXISTS (SELECT 1 FROM processes g WHERE g.id = %[1]s
			AND g.seen_at > now() - make_interval(secs => %[4]g))))`,
		col, "'"+SenderRole+"'", lockHeldCond(col), ProcessGrace.Seconds())
}

// lockHeldCond is true for a process id whose process lock is held in this database.
func lockHeldCond(col string) string {
	return fmt.Sprintf(`EXISTS (
		SELECT 1 FROM pg_locks l
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.classid::bigint = (hashtext('herald.process')::bigint & 4294967295)
			AND l.objid::bigint = (%[1]s::bigint & 4294967295))`, col)
}

// ProcessAlive reports whether process id is alive: its lock held, seen within ProcessTTL.
func (s *Store) ProcessAlive(ctx context.Context, id int32) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT `+aliveCond("$1::integer"), id).Scan(&ok); err != nil {
		return false, fmt.Errorf("store: process alive: %w", err)
	}
	return ok, nil
}

// PruneProcesses deletes rows of processes that are not alive and were not seen for a day.
func (s *Store) PruneProcesses(ctx context.Context) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM processes WHERE seen_at < now() - interval '1 day' AND NOT `+aliveCond("processes.id"))
	if err != nil {
		return 0, fmt.Errorf("store: prune processes: %w", err)
	}
	return tag.RowsAffected(), nil
}
