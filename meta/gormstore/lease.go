package gormstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"s3proxy/meta"
)

// A serve lease tells a serve process on PostgreSQL whether it is the only one serving the
// metadata store, which is what makes an in-process cache of it exact (see memcache).
//
// It is a session-level advisory lock on a key derived from the store's schema, held on a
// connection of its own: exclusive for a process that serves alone, shared for every
// other. A process that wants to serve beside an exclusive holder cannot take its shared
// lock; it sends a notification on the lease's channel and retries. The holder, which
// listens on that channel, turns its cache off (OnYield), then takes the shared lock and
// releases the exclusive one, and only then can the newcomer take its shared lock and
// write. So no write by another serve process can commit while a cache is on.
//
// A holder whose lease connection fails (it notices within a second: the connection is
// checked whenever no notification came for a second) turns its cache off at once, then
// reconnects and takes a shared lock. PostgreSQL releases the lock of a connection it
// finds dead only much later (TCP keepalive), so it cannot hand the lease to another
// process while the holder still believes it has it.
//
// A shared holder that wants exclusivity (it was started without Redis) tries to upgrade
// every UpgradeEvery, and turns its cache back on (OnExclusive) when it is alone again.
//
// Admin commands (gc, verify, migrate) take no lease: they change only chunk rows, which
// the cache bounds with its TTL, as on SQLite.

// LeaseOptions configures (*Store).Lease.
type LeaseOptions struct {
	// Exclusive asks for the exclusive lease (the caller will cache while it holds it).
	Exclusive bool
	// OnYield is called while the exclusive lease is still held, before it is given up:
	// the cache must be off when it returns.
	OnYield func()
	// OnExclusive is called whenever the exclusive lease is gained (by Lease itself, or
	// by an upgrade later), while it is held: the cache may go on. A cache starts off.
	OnExclusive func()
	// Wait bounds how long Lease waits for an exclusive holder to yield (default 30 s).
	Wait time.Duration
	// UpgradeEvery is how often a shared holder that asked for exclusivity tries again
	// (default 10 s).
	UpgradeEvery time.Duration
	Log          *slog.Logger
}

// Lease is a held serve lease.
type Lease struct {
	s    *Store
	opts LeaseOptions

	mu        sync.Mutex
	conn      *pgx.Conn
	exclusive bool
	key       int64

	stop chan struct{}
	done chan struct{}
}

// ErrLeaseHeld: another serve process holds the exclusive lease and did not yield in time.
var ErrLeaseHeld = fmt.Errorf("serve lease held by another process: %w", meta.ErrUnavailable)

// Lease takes the serve lease of a PostgreSQL store (see LeaseOptions); on SQLite it is
// ErrInvalid (the serve command uses a file lock there).
func (s *Store) Lease(ctx context.Context, o LeaseOptions) (*Lease, error) {
	if !s.pg {
		return nil, fmt.Errorf("gormstore: lease: not PostgreSQL: %w", meta.ErrInvalid)
	}
	if o.Wait <= 0 {
		o.Wait = 30 * time.Second
	}
	if o.UpgradeEvery <= 0 {
		o.UpgradeEvery = 10 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.OnYield == nil {
		o.OnYield = func() {}
	}
	if o.OnExclusive == nil {
		o.OnExclusive = func() {}
	}
	l := &Lease{s: s, opts: o, stop: make(chan struct{}), done: make(chan struct{})}
	if err := l.acquire(ctx, o.Exclusive); err != nil {
		return nil, err
	}
	go l.watch()
	return l, nil
}

// Exclusive reports whether this process holds the exclusive lease now.
func (l *Lease) Exclusive() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.exclusive
}

// Close releases the lease (its connection).
func (l *Lease) Close() {
	close(l.stop)
	<-l.done
}

// acquire connects and takes the lease: exclusive if asked and free, else shared.
func (l *Lease) acquire(ctx context.Context, wantExclusive bool) error {
	conn, err := pgx.Connect(ctx, l.s.pgDSN)
	if err != nil {
		return classify("lease connect", err)
	}
	fail := func(op string, err error) error {
		_ = conn.Close(context.Background())
		return classify(op, err)
	}
	var key int64
	if err := conn.QueryRow(ctx, `SELECT hashtext(current_schema() || '.s3proxy-serve')::bigint`).Scan(&key); err != nil {
		return fail("lease key", err)
	}
	channel := fmt.Sprintf("s3proxy_serve_%d", uint32(key))
	// Listen before locking: a newcomer notifies only once the lock is held, and a
	// notification sent after LISTEN is queued for us.
	if _, err := conn.Exec(ctx, `LISTEN "`+channel+`"`); err != nil {
		return fail("lease listen", err)
	}
	exclusive := false
	if wantExclusive {
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&exclusive); err != nil {
			return fail("lease lock", err)
		}
	}
	if !exclusive {
		deadline := time.Now().Add(l.opts.Wait)
		for {
			var ok bool
			if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock_shared($1)`, key).Scan(&ok); err != nil {
				return fail("lease lock", err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				_ = conn.Close(context.Background())
				return ErrLeaseHeld
			}
			// Ask the exclusive holder to yield; our own notification comes back to us
			// too, unread: notifications are read only by watch, which is not running.
			if _, err := conn.Exec(ctx, `SELECT pg_notify($1, 'join')`, channel); err != nil {
				return fail("lease notify", err)
			}
			select {
			case <-ctx.Done():
				_ = conn.Close(context.Background())
				return ctx.Err()
			case <-l.stop: // Close while reconnecting
				_ = conn.Close(context.Background())
				return ErrLeaseHeld
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	if exclusive {
		l.opts.OnExclusive()
	}
	l.mu.Lock()
	l.conn, l.exclusive, l.key = conn, exclusive, key
	l.mu.Unlock()
	return nil
}

// watch serves the lease until Close: yields to newcomers, checks the connection,
// reconnects, and upgrades when asked to.
func (l *Lease) watch() {
	defer close(l.done)
	defer func() {
		l.mu.Lock()
		if l.conn != nil {
			// Release the locks before closing: PostgreSQL drops a closed session's locks
			// only when its backend has exited, after the close returns, and a process
			// that takes the lease right after this one (a restart, a test) would
			// otherwise still find it held and settle for a shared one.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = l.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
			cancel()
			_ = l.conn.Close(context.Background())
		}
		l.mu.Unlock()
	}()
	lastUpgrade := time.Now()
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		l.mu.Lock()
		conn, exclusive := l.conn, l.exclusive
		l.mu.Unlock()
		if conn == nil {
			l.reconnect()
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		n, err := conn.WaitForNotification(ctx)
		cancel()
		switch {
		case err == nil:
			if n.PID == conn.PgConn().PID() || !exclusive {
				continue // our own notification, or nothing to yield
			}
			l.opts.Log.Info("another serve process joins the metadata store: in-process object cache off")
			if err := l.yield(conn); err != nil {
				l.lost(err)
			}
		case errors.Is(err, context.DeadlineExceeded):
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := conn.Exec(ctx, `SELECT 1`)
			cancel()
			if err != nil {
				l.lost(err)
				continue
			}
			if !exclusive && l.opts.Exclusive && time.Since(lastUpgrade) >= l.opts.UpgradeEvery {
				lastUpgrade = time.Now()
				if err := l.upgrade(conn); err != nil {
					l.lost(err)
				}
			}
		default:
			l.lost(err)
		}
	}
}

// yield turns the cache off, then trades the exclusive lock for a shared one.
func (l *Lease) yield(conn *pgx.Conn) error {
	l.opts.OnYield()
	l.mu.Lock()
	l.exclusive = false
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A session's own locks never conflict with each other: shared is granted at once.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock_shared($1)`, l.key); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
	return err
}

// upgrade takes the exclusive lock if no other process holds the shared one, turns the
// cache on and drops the shared lock.
func (l *Lease) upgrade(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&ok); err != nil || !ok {
		return err
	}
	l.opts.OnExclusive()
	l.mu.Lock()
	l.exclusive = true
	l.mu.Unlock()
	l.opts.Log.Info("alone on the metadata store again: in-process object cache on")
	_, err := conn.Exec(ctx, `SELECT pg_advisory_unlock_shared($1)`, l.key)
	return err
}

// lost handles a failed lease connection: cache off first, then drop the connection
// (watch reconnects).
func (l *Lease) lost(err error) {
	l.mu.Lock()
	was := l.exclusive
	l.mu.Unlock()
	if was {
		l.opts.OnYield()
	}
	l.opts.Log.Warn("serve lease connection lost; reconnecting", "err", err)
	l.mu.Lock()
	l.exclusive = false
	if l.conn != nil {
		_ = l.conn.Close(context.Background())
		l.conn = nil
	}
	l.mu.Unlock()
}

// reconnect takes a shared lease again (exclusive comes back through upgrade), retrying
// every second until it succeeds or the lease is closed.
func (l *Lease) reconnect() {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), l.opts.Wait+5*time.Second)
		err := l.acquire(ctx, false)
		cancel()
		if err == nil {
			return
		}
		l.opts.Log.Warn("serve lease: reconnect failed", "err", err)
		select {
		case <-l.stop:
			return
		case <-time.After(time.Second):
		}
	}
}
