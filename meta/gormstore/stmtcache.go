package gormstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// stmtPool is the gorm connection pool of a SQLite store: every statement runs as a
// prepared statement kept for the life of the pool, so SQLite parses each distinct SQL
// text once per connection instead of on every call (parsing was a fifth of a GET's CPU).
//
// It replaces gorm's own PrepareStmt mode, which prepares a statement first seen inside a
// transaction on that transaction: database/sql closes such a statement when the
// transaction ends, and every later transaction then prepares it again. Here statements
// are always prepared on the pool, and a transaction borrows them with Tx.StmtContext,
// which reuses the copy already prepared on the transaction's connection.
type stmtPool struct {
	db *sql.DB
	// wal, on the writer pool of a SQLite file, makes each write durable before it
	// returns (walsync.go): after a transaction's commit, and after a statement run
	// outside one (ExecContext). A query outside a transaction must not write (its commit
	// comes when the caller closes the rows, too late to sync): such queries are refused.
	wal *walSync

	mu    sync.RWMutex
	stmts map[string]*sql.Stmt
}

// Statements with long parameter lists (multi-row INSERTs, IN lists) come in many shapes
// and are rarely repeated: they run unprepared, and the cache stays bounded.
const (
	maxCachedStmts  = 512
	maxCachedParams = 32
)

var (
	_ gorm.ConnPool         = (*stmtPool)(nil)
	_ gorm.ConnPoolBeginner = (*stmtPool)(nil)
	_ gorm.GetDBConnector   = (*stmtPool)(nil)
	_ gorm.Tx               = (*stmtTx)(nil)
)

func newStmtPool(db *sql.DB) *stmtPool {
	return &stmtPool{db: db, stmts: map[string]*sql.Stmt{}}
}

func cacheable(query string) bool {
	return strings.Count(query, "?") <= maxCachedParams
}

func (p *stmtPool) cached(query string) *sql.Stmt {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.stmts[query]
}

// stmt returns the pool's prepared statement for query, or nil when it is not to be
// cached (or could not be prepared: the caller then runs it unprepared and gets the
// error from there). Preparing takes a connection of the pool: never call it while
// holding one (inside a transaction), since the SQLite writer pool has only one.
func (p *stmtPool) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := p.cached(query); st != nil || !cacheable(query) {
		return st
	}
	p.mu.RLock()
	full := len(p.stmts) >= maxCachedStmts
	p.mu.RUnlock()
	if full {
		return nil
	}
	// Prepared without holding mu: preparing may wait for a connection, and the
	// transaction holding it must still be able to look statements up.
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if prev := p.stmts[query]; prev != nil {
		_ = st.Close() // prepared twice concurrently: keep the first
		return prev
	}
	p.stmts[query] = st
	return st
}

func (p *stmtPool) GetDBConn() (*sql.DB, error) { return p.db, nil }

func (p *stmtPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

func (p *stmtPool) ExecContext(ctx context.Context, query string, args ...any) (res sql.Result, err error) {
	if st := p.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = p.db.ExecContext(ctx, query, args...)
	}
	if err == nil && p.wal != nil {
		err = p.wal.wait()
	}
	return res, err
}

// errUnsyncedWrite refuses a writing query outside a transaction on the SQLite writer.
var errUnsyncedWrite = errors.New("gormstore: a writing query outside a transaction on the SQLite writer could not be made durable (run it in Store.tx)")

// readOnly reports whether query, by its first keyword, only reads.
func readOnly(query string) bool {
	q := strings.TrimLeft(query, " \t\r\n(")
	for _, kw := range []string{"SELECT", "PRAGMA", "EXPLAIN"} {
		if len(q) >= len(kw) && strings.EqualFold(q[:len(kw)], kw) {
			return true
		}
	}
	return false
}

func (p *stmtPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if p.wal != nil && !readOnly(query) {
		return nil, errUnsyncedWrite
	}
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return p.db.QueryContext(ctx, query, args...)
}

func (p *stmtPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if p.wal != nil && !readOnly(query) {
		// *sql.Row carries no error of ours: this is a programming error, which the
		// store's tests reach (gorm calls this for Row() only).
		panic(errUnsyncedWrite)
	}
	if st := p.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return p.db.QueryRowContext(ctx, query, args...)
}

func (p *stmtPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &stmtTx{Tx: tx, pool: p}, nil
}

// Close closes the statements and the database.
func (p *stmtPool) Close() error {
	p.mu.Lock()
	for q, st := range p.stmts {
		_ = st.Close()
		delete(p.stmts, q)
	}
	p.mu.Unlock()
	if p.wal != nil {
		p.wal.close()
	}
	return p.db.Close()
}

// stmtTx is a transaction of a stmtPool. A statement the pool has not prepared yet runs
// unprepared here (preparing it on the pool would wait for the connection this
// transaction holds) and is prepared on the pool once the transaction ends.
type stmtTx struct {
	*sql.Tx
	pool   *stmtPool
	missed []string
}

func (t *stmtTx) lookup(query string) *sql.Stmt {
	st := t.pool.cached(query)
	if st == nil && cacheable(query) {
		t.missed = append(t.missed, query)
	}
	return st
}

func (t *stmtTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

func (t *stmtTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

func (t *stmtTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.lookup(query); st != nil {
		return t.Tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

func (t *stmtTx) Commit() error {
	err := t.Tx.Commit()
	t.prepareMissed()
	if err == nil && t.pool.wal != nil {
		// The writer connection is back in the pool: the next writer runs meanwhile.
		err = t.pool.wal.wait()
	}
	return err
}

func (t *stmtTx) Rollback() error {
	err := t.Tx.Rollback()
	t.prepareMissed()
	return err
}

func (t *stmtTx) prepareMissed() {
	for _, q := range t.missed {
		t.pool.stmt(context.Background(), q)
	}
	t.missed = nil
}
