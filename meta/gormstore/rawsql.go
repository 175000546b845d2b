package gormstore

import (
	"context"
	"database/sql"
	"strings"

	"gorm.io/gorm"
)

// The write path's hot statements, hand-written and run straight on the transaction's
// connection: a small PUT's transaction on SQLite spent more CPU in gorm's statement
// building and reflection (and the garbage they leave) than in SQLite itself, all of it
// while holding the one writer connection that every other write waits for
// (BENCHMARKS.md, thirteenth session). They are the same statements gorm built, in the
// engine's placeholder syntax, built once by Open; on SQLite each is prepared once for
// the pool's life (stmtcache.go), on PostgreSQL pgx caches them per connection.
type writeQueries struct {
	bucketExists string // the bucket's name; held FOR KEY SHARE on PostgreSQL
	objectByKey  string // the key's current row (objectCols); FOR UPDATE on PostgreSQL
	insertObject string // the row's id, or no row if the key exists (ON CONFLICT DO NOTHING)
	extentRefs   string // (chunk_id, count) of an object's extents
	dropExtents  string
	dropObject   string
	insertChunk  string // the new row's id, or no row if the content is indexed
	insertScope  string
	// refOne is applyRefs for one chunk: refs + n, zero_since_ns kept in step.
	refOne string
	// insertExtents[n-1] inserts n extent rows; longer manifests go through gorm in
	// batches (extentBatch), which is not the hot path.
	insertExtents [4]string
}

// objectCols are objectRow's columns in the order objectRowDest scans them.
const objectCols = `id, bucket, object_key, size, etag, sha256, content_md5, content_type, headers, user_meta,
	checksums, checksum_type, parts, owner, scope, mod_ns, extent_count, version_id`

func (s *Store) buildWriteQueries() {
	lock := func(q, strength string) string {
		if s.pg {
			q += " FOR " + strength
		}
		return s.rebind(q)
	}
	w := writeQueries{
		bucketExists: lock("SELECT name FROM buckets WHERE name = ? LIMIT 1", "KEY SHARE"),
		objectByKey:  lock("SELECT "+objectCols+" FROM objects WHERE bucket = ? AND object_key = ? LIMIT 1", "UPDATE"),
		insertObject: s.rebind(`INSERT INTO objects (bucket, object_key, size, etag, sha256, content_md5, content_type,
	headers, user_meta, checksums, checksum_type, parts, owner, scope, mod_ns, extent_count, version_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`),
		extentRefs:  s.rebind("SELECT chunk_id, COUNT(*) FROM extents WHERE object_id = ? GROUP BY chunk_id"),
		dropExtents: s.rebind("DELETE FROM extents WHERE object_id = ?"),
		dropObject:  s.rebind("DELETE FROM objects WHERE id = ?"),
		insertChunk: s.rebind(`INSERT INTO chunks (uid, sha256, md5, size, backend, node, refs, corrupt, data, checksums,
	created_ns, zero_since_ns) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING RETURNING id`),
		insertScope: s.rebind("INSERT INTO chunk_scopes (chunk_id, scope) VALUES (?, ?) ON CONFLICT DO NOTHING"),
		refOne: s.rebind(`UPDATE chunks SET refs = refs + ?,
	zero_since_ns = CASE WHEN refs + ? > 0 THEN NULL WHEN refs > 0 THEN ? ELSE zero_since_ns END WHERE id = ?`),
	}
	for n := range w.insertExtents {
		var b strings.Builder
		b.WriteString("INSERT INTO extents (object_id, seq, part_number, chunk_id, chunk_offset, length) VALUES ")
		for i := 0; i <= n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?, ?, ?, ?, ?)")
		}
		w.insertExtents[n] = s.rebind(b.String())
	}
	s.writes = w
}

// rawTx runs statements on a gorm transaction's connection, without gorm.
type rawTx struct {
	ctx  context.Context
	conn gorm.ConnPool
}

func rawOf(tx *gorm.DB) rawTx {
	return rawTx{ctx: tx.Statement.Context, conn: tx.Statement.ConnPool}
}

// autocommit runs statements outside a transaction, on the writer pool (PostgreSQL's
// one-statement writes).
func (s *Store) autocommit(ctx context.Context) rawTx {
	return rawTx{ctx: ctx, conn: s.db.ConnPool}
}

// exec runs a statement and returns how many rows it changed.
func (r rawTx) exec(query string, args ...any) (int64, error) {
	res, err := r.conn.ExecContext(r.ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// one runs a query and scans its first row into dest; found is false when it has none.
// A write with RETURNING has made all its changes once its first row is read (on both
// engines), so closing the rows early loses nothing.
func (r rawTx) one(query string, args []any, dest ...any) (found bool, err error) {
	rows, err := r.conn.QueryContext(r.ctx, query, args...)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, rows.Close()
}

// objectRowDest is where scanning objectCols puts each column.
func objectRowDest(r *objectRow) []any {
	return []any{&r.ID, &r.Bucket, &r.ObjectKey, &r.Size, &r.ETag, &r.SHA256, &r.ContentMD5, &r.ContentType,
		&r.Headers, &r.UserMeta, &r.Checksums, &r.ChecksumType, &r.Parts, &r.Owner, &r.Scope, &r.ModNS,
		&r.ExtentCount, &r.VersionID}
}

// insertObjectRow inserts row and sets its id; false when the key already has a row.
func (s *Store) insertObjectRow(tx *gorm.DB, row *objectRow) (bool, error) {
	return rawOf(tx).one(s.writes.insertObject, []any{string(row.Bucket), string(row.ObjectKey), row.Size, row.ETag,
		row.SHA256, row.ContentMD5, row.ContentType, row.Headers, row.UserMeta, row.Checksums, row.ChecksumType,
		row.Parts, row.Owner, row.Scope, row.ModNS, row.ExtentCount, row.VersionID}, &row.ID)
}

// insertExtentRows writes an object's manifest rows.
func (s *Store) insertExtentRows(tx *gorm.DB, ext []extentRow) error {
	if len(ext) == 0 {
		return nil
	}
	if len(ext) > len(s.writes.insertExtents) {
		return tx.CreateInBatches(ext, s.extentBatch()).Error
	}
	args := make([]any, 0, 6*len(ext))
	for _, e := range ext {
		args = append(args, e.ObjectID, e.Seq, e.PartNumber, e.ChunkID, e.ChunkOffset, e.Length)
	}
	_, err := rawOf(tx).exec(s.writes.insertExtents[len(ext)-1], args...)
	return err
}

// dropExtentsTx deletes the extents of an object or version (its row's object id) and
// subtracts the references they held from delta, one per extent as they were counted.
func (s *Store) dropExtentsTx(tx *gorm.DB, objectID int64, delta map[int64]int64) error {
	raw := rawOf(tx)
	rows, err := raw.conn.QueryContext(raw.ctx, s.writes.extentRefs, objectID)
	if err != nil {
		return err
	}
	if err := scanRefCounts(rows, delta); err != nil {
		return err
	}
	_, err = raw.exec(s.writes.dropExtents, objectID)
	return err
}

// scanRefCounts reads (chunk_id, count) rows into delta, subtracting each count.
func scanRefCounts(rows *sql.Rows, delta map[int64]int64) error {
	defer rows.Close()
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return err
		}
		delta[id] -= n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}
