package gormstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/libtnb/sqlite"

	"s3proxy/meta"
)

// TestSQLiteTableForms: a new SQLite database keeps extents and chunk scopes WITHOUT
// ROWID (one B-tree each, one WAL page fewer per write), and a database whose tables were
// created before, as rowid tables, keeps them and works as before.
func TestSQLiteTableForms(t *testing.T) {
	ctx := context.Background()
	forms := func(t *testing.T, s *Store) map[string]bool {
		t.Helper()
		var rows []struct{ Name, SQL string }
		if err := s.db.WithContext(ctx).Raw("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name IN ('extents', 'chunk_scopes')").Scan(&rows).Error; err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, r := range rows {
			out[r.Name] = strings.Contains(strings.ToUpper(r.SQL), "WITHOUT ROWID")
		}
		return out
	}
	roundTrip := func(t *testing.T, s *Store) {
		t.Helper()
		if err := s.CreateBucket(ctx, meta.Bucket{Name: "bench", Owner: "ak"}); err != nil {
			t.Fatal(err)
		}
		for i := range 3 { // a new key, then the same key replaced twice
			o := benchObject(uint64(i+1), 0, 1, 4096, true)
			if _, err := s.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
				t.Fatal(err)
			}
			got, err := s.GetObject(ctx, o.Bucket, o.Key)
			if err != nil || got.ETag != o.ETag || len(got.Manifest) != 1 || string(got.Manifest[0].Chunk.Data) != string(o.Manifest[0].Chunk.Data) {
				t.Fatalf("GetObject after put %d: %+v, %v", i, got, err)
			}
		}
		if _, err := s.DeleteObject(ctx, "bench", "k/00000", meta.WriteCondition{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("new database", func(t *testing.T) {
		s := openT(t, filepath.Join(t.TempDir(), "meta.db"))
		if f := forms(t, s); !f["extents"] || !f["chunk_scopes"] {
			t.Errorf("WITHOUT ROWID by table: %v; want both", f)
		}
		roundTrip(t, s)
	})
	t.Run("database from before", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "meta.db")
		db, err := sql.Open(sqlite.DriverName, path)
		if err != nil {
			t.Fatal(err)
		}
		// The tables as the earlier releases created them.
		for _, stmt := range []string{
			"CREATE TABLE `extents` (`object_id` integer,`seq` integer,`part_number` integer NOT NULL,`chunk_id` integer NOT NULL,`chunk_offset` integer NOT NULL,`length` integer NOT NULL,PRIMARY KEY (`object_id`,`seq`))",
			"CREATE INDEX `ix_extents_chunk` ON `extents`(`chunk_id`)",
			"CREATE TABLE `chunk_scopes` (`chunk_id` integer,`scope` text,PRIMARY KEY (`chunk_id`,`scope`))",
		} {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		s := openT(t, path)
		if f := forms(t, s); f["extents"] || f["chunk_scopes"] {
			t.Errorf("WITHOUT ROWID by table: %v; want the tables as they were", f)
		}
		roundTrip(t, s)
	})
}
