// Package gormstore implements meta.MetaStore with gorm on SQLite (the embedded default,
// through a pure-Go driver) or PostgreSQL (selected by a postgres:// DSN). The schema is
// created and migrated by Open (gorm AutoMigrate; every index is declared on the models).
//
// Schema. objects is keyed by (bucket, object_key) — collated "C" on PostgreSQL so that
// index order is byte order, as S3 lists — and every write of a key inserts a new row
// (new id) and deletes the old one. The manifest is a child table extents (object_id,
// seq, part_number, chunk_id, chunk_offset, length), written with multi-row INSERTs and
// read in one JOIN with chunks. Headers, user metadata, checksums and the parts list are
// JSON text columns; an upload's parts keep their few extents as a compact JSON column.
// Times are int64 Unix nanoseconds.
//
// Reference counts. A chunk's refs is the number of extents (of objects and of parts in
// progress) naming it: a chunk used twice by one manifest counts twice. Each write
// computes the net change per chunk (new extents minus released ones) and applies it with
// a few set-based UPDATEs in the same transaction; an increment that finds no chunk rolls
// the whole write back with ErrNotFound. zero_since is set when refs falls to 0 and
// cleared when it rises, and GC deletes with the re-check in the DELETE's WHERE.
//
// Listing. A page is read from the (bucket, object_key) index in key order; with a
// delimiter, every common prefix found is skipped by starting the next query at the
// prefix's successor, so a prefix costs one index seek whatever it holds.
//
// Concurrency. On PostgreSQL every write is one READ COMMITTED transaction that
// locks the rows it decides on (SELECT … FOR UPDATE, FOR KEY SHARE on the bucket), relies
// on unique constraints with ON CONFLICT DO NOTHING for "insert if absent" races and is
// retried as a whole on serialization failures and deadlocks; job claims use FOR UPDATE
// SKIP LOCKED. On SQLite all writes go through one connection that begins its
// transactions IMMEDIATE, so writers of this process are serialized and writers of other
// processes wait on busy_timeout instead of failing with "database is locked"; reads use a
// separate read-only pool and run in parallel thanks to WAL.
package gormstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/libtnb/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	sqlitedriver "modernc.org/sqlite"

	"s3proxy/meta"
)

// Store is the gorm MetaStore.
type Store struct {
	db  *gorm.DB // writes; on PostgreSQL also reads
	rdb *gorm.DB // reads: a separate read-only pool on SQLite, db on PostgreSQL
	pg  bool
	// pgDSN is the PostgreSQL DSN with the schema's search_path (serve leases connect
	// with it).
	pgDSN string
	// stats analyzes a young PostgreSQL store's tables as they grow (analyze.go); nil on
	// SQLite.
	stats *analyzer

	queries objectQueries
	writes  writeQueries
}

var _ meta.MetaStore = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	schema   string
	logger   logger.Interface
	maxConns int
	walSync  func(d time.Duration, commits int)
}

// WithSchema makes a PostgreSQL store live in the given schema (created if missing, and
// set as search_path on every connection). Tests use it to get an isolated database per
// test; ignored for SQLite.
func WithSchema(name string) Option { return func(o *options) { o.schema = name } }

// WithLogger sets gorm's SQL logger (default: silent, since "record not found" is a normal
// outcome here, not something to print).
func WithLogger(l logger.Interface) Option { return func(o *options) { o.logger = l } }

// WithMaxConns bounds the PostgreSQL pool, or the SQLite read pool (default 10).
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// WithWALSyncObserver is told of every group fdatasync of a SQLite store's WAL
// (walsync.go): how long it took and how many commits it made durable (metrics).
func WithWALSyncObserver(f func(d time.Duration, commits int)) Option {
	return func(o *options) { o.walSync = f }
}

var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// IsPostgres reports whether dsn selects PostgreSQL rather than a SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens (creating and migrating the schema) the store named by dsn: a postgres:// or
// postgresql:// URL, or else the path of a SQLite file.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{logger: logger.Discard, maxConns: 10}
	for _, f := range opts {
		f(&o)
	}
	cfg := func() *gorm.Config {
		return &gorm.Config{
			Logger: o.logger,
			// Every multi-statement write is already an explicit transaction.
			SkipDefaultTransaction: true,
			NowFunc:                func() time.Time { return time.Now().UTC() },
		}
	}
	var s *Store
	var err error
	if IsPostgres(dsn) {
		s, err = openPostgres(ctx, dsn, o, cfg())
	} else {
		s, err = openSQLite(ctx, dsn, o, cfg)
	}
	if err != nil {
		return nil, err
	}
	s.buildQueries()
	s.buildWriteQueries()
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func openPostgres(ctx context.Context, dsn string, o options, cfg *gorm.Config) (*Store, error) {
	if o.schema == "" {
		// A search_path in the DSN (postgres://…/db?search_path=tenant) names the schema
		// as WithSchema does, so it is created on first use: a cluster's nodes (or a test)
		// can share one database in their own schema with nothing but the DSN.
		if u, err := url.Parse(dsn); err == nil {
			if sp := u.Query().Get("search_path"); sp != "" && schemaName.MatchString(sp) {
				o.schema = sp
			}
		}
	}
	if o.schema != "" {
		if !schemaName.MatchString(o.schema) {
			return nil, fmt.Errorf("gormstore: schema name %q: %w", o.schema, meta.ErrInvalid)
		}
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("gormstore: parse dsn: %w: %w", meta.ErrInvalid, err)
		}
		q := u.Query()
		// pgx passes unknown URL parameters as run-time parameters of every connection.
		q.Set("search_path", o.schema)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	db, err := gorm.Open(postgres.Open(dsn), cfg)
	if err != nil {
		return nil, classify("open postgres", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, classify("open postgres", err)
	}
	sqlDB.SetMaxOpenConns(o.maxConns)
	sqlDB.SetMaxIdleConns(o.maxConns)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{db: db, rdb: db, pg: true, pgDSN: dsn}
	s.stats = newAnalyzer(func(ctx context.Context) error {
		return s.db.WithContext(ctx).Exec("ANALYZE chunks, chunk_scopes, objects, extents").Error
	})
	if o.schema != "" {
		if err := db.WithContext(ctx).Exec(`CREATE SCHEMA IF NOT EXISTS "` + o.schema + `"`).Error; err != nil {
			_ = sqlDB.Close()
			return nil, classify("create schema", err)
		}
	}
	return s, nil
}

func openSQLite(ctx context.Context, path string, o options, cfg func() *gorm.Config) (*Store, error) {
	file := path
	if i := strings.IndexByte(file, '?'); i >= 0 {
		file = file[:i]
	}
	if file == "" {
		return nil, fmt.Errorf("gormstore: empty SQLite path: %w", meta.ErrInvalid)
	}
	memory := file == ":memory:" || strings.Contains(path, "mode=memory")
	if dir := filepath.Dir(file); dir != "" && !memory {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("gormstore: %w: %w", meta.ErrUnavailable, err)
		}
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	// WAL lets readers run beside the writer. synchronous=NORMAL alone would let a power
	// loss or an OS crash drop the last acknowledged commits; every write also waits for
	// a group fdatasync of the WAL after its commit (walsync.go), which makes it as
	// durable as synchronous=FULL without an fsync under SQLite's write lock. A
	// checkpoint every 4,000 WAL pages (16 MiB) instead of SQLite's 1,000 writes the hot
	// index pages back a quarter as often: mixed 4 KiB 0.30 → 0.28 CPU-s/1k ops,
	// 3,199 → 3,373 ops/s (-compare, 4 runs).
	common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=wal_autocheckpoint(4000)"
	wdsn := path + sep + "_pragma=journal_mode(WAL)&" + common + "&_txlock=immediate"
	// Every statement runs prepared, kept for the life of the pool (stmtcache.go).
	// The writer pool of a file database makes each write durable before it returns.
	open := func(dsn string, wal *walSync) (*gorm.DB, error) {
		sqlDB, err := sql.Open(sqlite.DriverName, dsn)
		if err != nil {
			return nil, err
		}
		pool := newStmtPool(sqlDB)
		pool.wal = wal
		return gorm.Open(sqlite.New(sqlite.Config{Conn: pool}), cfg())
	}
	var wal *walSync
	if !memory {
		wal = newWALSync(strings.TrimPrefix(file, "file:"))
		wal.observe = o.walSync
	}
	w, err := open(wdsn, wal)
	if err != nil {
		return nil, classify("open sqlite", err)
	}
	wsql, err := w.DB()
	if err != nil {
		return nil, classify("open sqlite", err)
	}
	// One writer connection: writers of this process queue in database/sql instead of
	// contending for SQLite's lock.
	wsql.SetMaxOpenConns(1)
	wsql.SetMaxIdleConns(1)
	wsql.SetConnMaxLifetime(0)
	if err := wsql.PingContext(ctx); err != nil {
		_ = wsql.Close()
		return nil, classify("open sqlite", err)
	}
	if memory {
		// Each connection to an in-memory database is its own database: one pool only.
		return &Store{db: w, rdb: w}, nil
	}
	r, err := open(path+sep+common+"&_pragma=query_only(1)", nil)
	if err != nil {
		_ = wsql.Close()
		return nil, classify("open sqlite", err)
	}
	rsql, err := r.DB()
	if err != nil {
		_ = wsql.Close()
		return nil, classify("open sqlite", err)
	}
	rsql.SetMaxOpenConns(o.maxConns)
	rsql.SetMaxIdleConns(o.maxConns)
	return &Store{db: w, rdb: r}, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if s.pg {
		// Serialize concurrent migrations (several nodes starting at once): DDL is
		// transactional on PostgreSQL, and the advisory lock is released at commit.
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.s3proxy-migrate'))`).Error; err != nil {
				return err
			}
			return tx.AutoMigrate(allModels()...)
		})
		return classify("migrate", err)
	}
	// New SQLite databases keep extents and chunk scopes in their primary key's B-tree
	// (WITHOUT ROWID) instead of a rowid table beside a key index: one page fewer each
	// for every PUT and DELETE to write to the WAL. Tables that exist keep their form
	// (the statements are the same for both).
	if err := s.db.WithContext(ctx).Set("gorm:table_options", "WITHOUT ROWID").AutoMigrate(&extentRow{}, &chunkScopeRow{}); err != nil {
		return classify("migrate", err)
	}
	return classify("migrate", s.db.WithContext(ctx).AutoMigrate(allModels()...))
}

// Close closes the pools.
func (s *Store) Close() error {
	s.stats.close()
	var errs []error
	for _, d := range s.pools() {
		var err error
		if p, ok := d.ConnPool.(*stmtPool); ok {
			err = p.Close() // its statements, then the database
		} else {
			var sqlDB *sql.DB
			if sqlDB, err = d.DB(); err == nil {
				err = sqlDB.Close()
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return classify("close", errors.Join(errs...))
}

func (s *Store) pools() []*gorm.DB {
	if s.rdb == s.db {
		return []*gorm.DB{s.db}
	}
	return []*gorm.DB{s.db, s.rdb}
}

// Ping checks every pool can reach the database.
func (s *Store) Ping(ctx context.Context) error {
	// A failed WAL sync fails every later write (walsync.go): the node is not ready.
	if p, ok := s.db.ConnPool.(*stmtPool); ok && p.wal != nil {
		if err := p.wal.failed(); err != nil {
			return classify("ping", err)
		}
	}
	for _, d := range s.pools() {
		sqlDB, err := d.DB()
		if err == nil {
			err = sqlDB.PingContext(ctx)
		}
		if err != nil {
			return classify("ping", err)
		}
	}
	return nil
}

// errRetry asks tx to run the transaction again: a concurrent writer changed what this
// one decided on (for example inserted the key it found absent).
var errRetry = errors.New("retry transaction")

const maxAttempts = 20

// tx runs fn in one write transaction, retrying it whole on transient conflicts, and
// classifies the final error.
func (s *Store) tx(ctx context.Context, op string, fn func(tx *gorm.DB) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = s.db.WithContext(ctx).Transaction(fn)
		if err == nil || !retryable(err) || attempt >= maxAttempts || ctx.Err() != nil {
			break
		}
		d := time.Duration(attempt) * time.Millisecond
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	}
	if errors.Is(err, errRetry) {
		err = fmt.Errorf("%w: gave up after %d attempts", meta.ErrConflict, maxAttempts)
	}
	return classify(op, err)
}

func retryable(err error) bool {
	if errors.Is(err, errRetry) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	var sqErr *sqlitedriver.Error
	if errors.As(err, &sqErr) {
		c := sqErr.Code() & 0xff
		return c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	return false
}

var kinds = []error{
	meta.ErrNotFound, meta.ErrAlreadyExists, meta.ErrPreconditionFailed, meta.ErrNotEmpty,
	meta.ErrInvalid, meta.ErrUnavailable, meta.ErrConflict, meta.ErrInternal, meta.ErrCorruptChunk,
}

// classify is the one place native errors become meta.Err* kinds. Errors that already
// carry a kind, and context cancellation, pass through (with op prepended).
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return fmt.Errorf("meta %s: %w", op, err)
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("meta %s: %w", op, err)
	}
	return fmt.Errorf("meta %s: %w: %w", op, kindOf(err), err)
}

func kindOf(err error) error {
	if errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, sql.ErrNoRows) {
		return meta.ErrNotFound
	}
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return meta.ErrAlreadyExists
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505":
			return meta.ErrAlreadyExists
		case pgErr.Code == "23503":
			return meta.ErrNotFound
		case pgErr.Code == "40001" || pgErr.Code == "40P01" || pgErr.Code == "55P03":
			return meta.ErrConflict
		case strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23"):
			return meta.ErrInvalid
		case strings.HasPrefix(pgErr.Code, "08") || strings.HasPrefix(pgErr.Code, "53") ||
			strings.HasPrefix(pgErr.Code, "57P") || pgErr.Code == "3D000" || pgErr.Code == "28P01" || pgErr.Code == "28000":
			return meta.ErrUnavailable
		}
		return meta.ErrInternal
	}
	var sqErr *sqlitedriver.Error
	if errors.As(err, &sqErr) {
		switch code := sqErr.Code(); {
		case code == 2067 || code == 1555: // CONSTRAINT_UNIQUE, CONSTRAINT_PRIMARYKEY
			return meta.ErrAlreadyExists
		case code == 787: // CONSTRAINT_FOREIGNKEY
			return meta.ErrNotFound
		case code&0xff == 19: // other constraints (NOT NULL, CHECK)
			return meta.ErrInvalid
		case code&0xff == 5 || code&0xff == 6: // BUSY, LOCKED
			return meta.ErrConflict
		case code&0xff == 10 || code&0xff == 13 || code&0xff == 14 || code&0xff == 8 || code&0xff == 26:
			// IOERR, FULL, CANTOPEN, READONLY, NOTADB
			return meta.ErrUnavailable
		}
		return meta.ErrInternal
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || errors.As(err, &netErr) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, sql.ErrConnDone) || pgconn.Timeout(err) || strings.Contains(err.Error(), "sql: database is closed") {
		return meta.ErrUnavailable
	}
	return meta.ErrInternal
}

func nowNS() int64 { return time.Now().UnixNano() }

func fromNS(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

func toNS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func encodeMap(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m) // a map[string]string always marshals
	return string(b)
}

func decodeMap(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("%w: corrupt JSON column: %w", meta.ErrInternal, err)
	}
	return m, nil
}

// DropSchema removes a PostgreSQL schema and everything in it (tests and tooling that
// give each run its own schema clean up with it). dsn selects the database; its own
// search_path is irrelevant.
func DropSchema(ctx context.Context, dsn, schema string) error {
	if !schemaName.MatchString(schema) {
		return fmt.Errorf("gormstore: schema name %q: %w", schema, meta.ErrInvalid)
	}
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return classify("drop schema", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return classify("drop schema", err)
	}
	defer sqlDB.Close()
	sqlDB.SetMaxOpenConns(1)
	return classify("drop schema", db.WithContext(ctx).Exec(`DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`).Error)
}

// rebind turns the ? placeholders of hand-written SQL (used on the hot paths, straight on
// the connection pool) into PostgreSQL's $n; SQLite takes them as they are. The SQL it is
// given has no ? inside literals.
func (s *Store) rebind(q string) string {
	if !s.pg {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}
