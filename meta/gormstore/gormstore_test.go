package gormstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"s3proxy/meta"
	"s3proxy/meta/metatest"
)

// pgBase is the test database; PG_DSN overrides it.
func pgBase() string {
	if dsn := os.Getenv("PG_DSN"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// adminDB opens a plain connection to the test database, without creating any tables.
func adminDB(t testing.TB) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(pgBase()), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatalf("open %s: %v", pgBase(), err)
	}
	return db
}

func closeDB(db *gorm.DB) {
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

// requirePG fails in CI (CI=true) and skips elsewhere when PostgreSQL is unreachable.
func requirePG(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := gorm.Open(postgres.Open(pgBase()), &gorm.Config{Logger: logger.Discard})
	if err == nil {
		defer closeDB(db)
		err = db.WithContext(ctx).Exec("SELECT 1").Error
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("PostgreSQL unreachable at %s (CI is set, so this fails rather than skips): %v", pgBase(), err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v", pgBase(), err)
	}
}

// pgSchema returns a fresh schema name for t and drops the schema when t ends.
func pgSchema(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "t_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		db := adminDB(t)
		defer closeDB(db)
		if err := db.WithContext(ctx).Exec(`DROP SCHEMA IF EXISTS "` + name + `" CASCADE`).Error; err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

func openT(t testing.TB, dsn string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", dsn, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newSQLite(t *testing.T) meta.MetaStore {
	return openT(t, filepath.Join(t.TempDir(), "meta.db"))
}

func sqlitePair(t *testing.T) (meta.MetaStore, meta.MetaStore) {
	path := filepath.Join(t.TempDir(), "meta.db")
	return openT(t, path), openT(t, path)
}

func newPG(t *testing.T) meta.MetaStore {
	return openT(t, pgBase(), WithSchema(pgSchema(t)))
}

func pgPair(t *testing.T) (meta.MetaStore, meta.MetaStore) {
	schema := pgSchema(t)
	return openT(t, pgBase(), WithSchema(schema)), openT(t, pgBase(), WithSchema(schema))
}

func TestSQLite(t *testing.T) {
	metatest.Run(t, newSQLite, metatest.WithSharedPair(sqlitePair))
}

func TestPostgres(t *testing.T) {
	requirePG(t)
	metatest.Run(t, newPG, metatest.WithSharedPair(pgPair))
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "meta.db")
	s := openT(t, path)
	if err := s.CreateBucket(ctx, meta.Bucket{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s2 := openT(t, path) // migrating an existing schema is a no-op
	if _, err := s2.GetBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
}

func TestSQLiteInMemory(t *testing.T) {
	ctx := context.Background()
	s := openT(t, ":memory:")
	if err := s.CreateBucket(ctx, meta.Bucket{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresReopenAndCollation(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	schema := pgSchema(t)
	s := openT(t, pgBase(), WithSchema(schema))
	_ = s.Close()
	s = openT(t, pgBase(), WithSchema(schema))
	var coll []string
	err := s.db.WithContext(ctx).Raw(`SELECT collation_name FROM information_schema.columns
		WHERE table_schema = ? AND table_name = 'objects' AND column_name = 'object_key'`, schema).Scan(&coll).Error
	if err != nil || len(coll) != 1 || coll[0] != "C" {
		t.Errorf("object_key collation = %v, %v; want C", coll, err)
	}
}

// TestPostgresSearchPathDSN: a schema named only by the DSN's search_path is created and
// used, and DropSchema removes it.
func TestPostgresSearchPathDSN(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	schema := pgSchema(t)
	u, err := url.Parse(pgBase())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s := openT(t, u.String())
	if err := s.CreateBucket(ctx, meta.Bucket{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	var n []int64
	if err := s.db.WithContext(ctx).Raw(`SELECT COUNT(*) FROM "` + schema + `".buckets`).Scan(&n).Error; err != nil || len(n) != 1 || n[0] != 1 {
		t.Fatalf("bucket in schema %s: %v, %v", schema, n, err)
	}
	_ = s.Close()
	if err := DropSchema(ctx, pgBase(), schema); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := openT(t, pgBase(), WithSchema("public")).db.WithContext(ctx).Raw(
		"SELECT schema_name FROM information_schema.schemata WHERE schema_name = ?", schema).Scan(&left).Error; err != nil || len(left) != 0 {
		t.Errorf("schema after DropSchema: %v, %v", left, err)
	}
	if err := DropSchema(ctx, pgBase(), "bad-name;"); err == nil {
		t.Errorf("DropSchema accepted an invalid name")
	}
}

func TestClassify(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	// Nothing listens on port 1: connection errors are ErrUnavailable.
	_, err := Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=1")
	if err == nil || !strings.Contains(err.Error(), meta.ErrUnavailable.Error()) {
		t.Errorf("Open unreachable PostgreSQL: %v, want ErrUnavailable", err)
	}
	s := openT(t, filepath.Join(t.TempDir(), "m.db"))
	_ = s.Close()
	if err := s.Ping(ctx); err == nil {
		t.Errorf("Ping after Close succeeded")
	} else if !isKind(err, meta.ErrUnavailable) {
		t.Errorf("Ping after Close: %v, want ErrUnavailable", err)
	}
	tests := []struct {
		in   error
		want error
	}{
		{gorm.ErrRecordNotFound, meta.ErrNotFound},
		{fmt.Errorf("x: %w", meta.ErrPreconditionFailed), meta.ErrPreconditionFailed},
		{context.Canceled, context.Canceled},
		{errRetry, meta.ErrInternal},
	}
	for _, tc := range tests {
		if got := classify("op", tc.in); !isKind(got, tc.want) {
			t.Errorf("classify(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func isKind(err, kind error) bool {
	for e := err; e != nil; {
		if e == kind {
			return true
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				if isKind(x, kind) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			e = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

func TestSuccessor(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a/", "a0", true},
		{"", "", false},
		{"ü", "ý", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
		{"a\uD7FF", "a\uE000", true},
		{"a\xff", "b", true},
	} {
		got, ok := successor(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestUpgradeAddsBucketConfigs: a database made before bucket configurations existed (no
// bucket_configs table) is upgraded in place when opened, its data kept, on both engines.
func TestUpgradeAddsBucketConfigs(t *testing.T) {
	for _, tc := range []struct {
		name string
		dsn  func(t *testing.T) (string, []Option)
	}{
		{"sqlite", func(t *testing.T) (string, []Option) { return filepath.Join(t.TempDir(), "meta.db"), nil }},
		{"postgres", func(t *testing.T) (string, []Option) {
			requirePG(t)
			return pgBase(), []Option{WithSchema(pgSchema(t))}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn, opts := tc.dsn(t)
			old := openT(t, dsn, opts...)
			if err := old.CreateBucket(ctx, meta.Bucket{Name: "kept", Owner: "o"}); err != nil {
				t.Fatal(err)
			}
			// What an older version left: everything but the new table.
			if err := old.db.WithContext(ctx).Exec("DROP TABLE bucket_configs").Error; err != nil {
				t.Fatal(err)
			}
			if err := old.Close(); err != nil {
				t.Fatal(err)
			}
			s := openT(t, dsn, opts...)
			if _, err := s.GetBucket(ctx, "kept"); err != nil {
				t.Fatalf("bucket after the upgrade: %v", err)
			}
			if err := s.PutBucketConfig(ctx, meta.BucketConfig{Bucket: "kept", Kind: "lifecycle", Value: "v"}); err != nil {
				t.Fatalf("PutBucketConfig after the upgrade: %v", err)
			}
			if c, err := s.GetBucketConfig(ctx, "kept", "lifecycle"); err != nil || c.Value != "v" {
				t.Fatalf("GetBucketConfig after the upgrade: %+v, %v", c, err)
			}
			if cs, err := s.ListBucketConfigs(ctx, "lifecycle", "", 10); err != nil || len(cs) != 1 {
				t.Fatalf("ListBucketConfigs after the upgrade: %+v, %v", cs, err)
			}
		})
	}
}
