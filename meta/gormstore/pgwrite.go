package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"s3proxy/meta"
)

// PostgreSQL write path in few statements.
//
// Every statement is a network round trip, and on the benchmark's machine each one cost
// PostgreSQL more in context switches and protocol than in execution (a CPU profile of its
// backends: 40 % in the kernel, most of it task switching). A PUT of a new chunk under an
// existing key took thirteen round trips (BEGIN, chunk, scope, bucket lock, object lock,
// old extents counted, extents deleted, object deleted, object inserted, extents inserted,
// two reference updates, COMMIT). Now:
//
//   - the common cases take one autocommitted statement (putObjectPGOne,
//     deleteObjectPGOne): a PUT of new content (or of no new chunk) and a DELETE of an
//     existing key. A statement that finds it cannot apply aborts (a division by zero, so
//     nothing of it commits) and the caller takes the transactional path;
//   - the transactional path takes five round trips for a PUT (BEGIN; the chunk and its
//     scope, insertChunkTx; the object row locked, lockObject; object, extents and
//     references in one statement, putObjectPG; COMMIT). It serves known content (a
//     dedup hit) and whatever the one-statement write declined; a DELETE the
//     one-statement path declines (a failed condition, a long manifest, a deadlock
//     retried) takes the statement-per-step path, which is rare enough.
//
// SQLite keeps the statement-per-step path: it runs in process, where a statement costs
// no round trip, and has no data-modifying CTEs.
//
// A replaced object keeps its row and takes a new id (UPDATE … SET id = DEFAULT) instead
// of a DELETE and an INSERT (one statement could not do both: the sub-statements of a
// WITH run in no set order, and the new row would meet the old one's unique key).
// Readers are unaffected: GetObject reads object, extents and chunks in one statement, so
// in one snapshot. A writer that waited on the row's lock now finds the updated row
// rather than nothing.
//
// Plans: no statement joins a table with a CTE. Rows are named by a scalar (= (SELECT id
// FROM cur)) or an array (= ANY (ARRAY(SELECT id FROM delta))), which the planner can
// answer from the primary key; it cannot know that a CTE yields a row or two, and for
// joins it chose hash joins over sequential scans of chunks, which cost PostgreSQL over
// half of its time in the first versions. (See also analyze.go.)

// pgFastManifest bounds the manifests the few-statement paths write (and the deletes
// they do): every extent is a row of the statement's VALUES list, so each manifest length
// is a statement of its own in every connection's prepared-statement cache. Long
// manifests (multipart objects) are rare and take the step-by-step path, whose batched
// statements do not grow with them.
const pgFastManifest = 16

// putObjectPG writes o over cur (nil: the key is absent) in one statement: the object
// row (updated in place under a new id, or inserted if the bucket exists), its extents,
// the released extents and the net reference changes. It returns what putObjectTx would.
func (s *Store) putObjectPG(tx *gorm.DB, o meta.Object, cur *objectRow, cond meta.WriteCondition) (*meta.Object, error) {
	var replaced *meta.Object
	if cur != nil {
		old, err := objectFromRow(*cur)
		if err != nil {
			return nil, err
		}
		replaced = &old
	}
	row := objectToRow(o)
	var sb strings.Builder
	args := make([]any, 0, 24+5*len(o.Manifest))
	if cur != nil {
		sb.WriteString(`WITH c AS (SELECT CAST(NULL AS BIGINT) AS id WHERE false), b AS (SELECT 1),
			o AS (UPDATE objects SET ` + objectSet + ` WHERE id = ? RETURNING id),
			d AS (DELETE FROM extents WHERE object_id = ? RETURNING chunk_id)`)
		args = append(append(args, objectArgs(row)...), cur.ID, cur.ID)
	} else {
		// The bucket's row is held (KEY SHARE) against a concurrent DeleteBucket, and its
		// absence inserts nothing. (A replaced object needs no such lock: its row, locked
		// by this transaction, keeps the bucket non-empty for DeleteBucket.)
		sb.WriteString(`WITH c AS (SELECT CAST(NULL AS BIGINT) AS id WHERE false),
			b AS (SELECT 1 FROM buckets WHERE name = ? FOR KEY SHARE),
			o AS (` + objectInsert + ` FROM b ON CONFLICT DO NOTHING RETURNING id),
			d AS (SELECT CAST(NULL AS BIGINT) AS chunk_id WHERE false)`)
		args = append(append(args, o.Bucket, o.Bucket, o.Key), objectArgs(row)...)
	}
	args = writeManifestCTEs(&sb, args, o.Manifest)
	sb.WriteString(`
		SELECT (SELECT COUNT(*) FROM b) AS bucket_rows, (SELECT id FROM o) AS id,
			(SELECT COUNT(*) FROM u WHERE n > 0) AS raised, (SELECT COUNT(*) FROM delta WHERE n > 0) AS to_raise`)
	var res struct {
		BucketRows int64
		ID         *int64
		Raised     int64
		ToRaise    int64
	}
	if _, err := rawOf(tx).one(s.rebind(sb.String()), args, &res.BucketRows, &res.ID, &res.Raised, &res.ToRaise); err != nil {
		return nil, err
	}
	switch {
	case res.BucketRows == 0:
		return nil, fmt.Errorf("bucket %q: %w", o.Bucket, meta.ErrNotFound)
	case res.ID == nil && cond.IfNoneMatchStar:
		return nil, fmt.Errorf("key created concurrently (If-None-Match: *): %w", meta.ErrPreconditionFailed)
	case res.ID == nil:
		return nil, errRetry // another writer created the key after we found it absent
	case res.Raised != res.ToRaise:
		return nil, fmt.Errorf("%d of %d referenced chunks no longer exist: %w", res.ToRaise-res.Raised, res.ToRaise, meta.ErrConflict)
	}
	return replaced, nil
}

// applyDelta adds each CTE delta row's n (id, n) to its chunk's refs, keeping
// zero_since_ns in step as applyRefs does; the caller appends "?" (now) to its arguments.
// The rows are locked first in ascending id order, as applyRefs does: concurrent writers
// over shared chunks otherwise locked them in scan order and deadlocked, each costing a
// second (deadlock_timeout) before PostgreSQL broke the tie.
const applyDelta = `UPDATE chunks SET refs = chunks.refs + (SELECT n FROM delta WHERE delta.id = chunks.id),
	zero_since_ns = CASE WHEN chunks.refs + (SELECT n FROM delta WHERE delta.id = chunks.id) > 0 THEN NULL
		WHEN chunks.refs > 0 THEN CAST(? AS BIGINT) ELSE chunks.zero_since_ns END
	WHERE chunks.id = ANY (ARRAY(SELECT id FROM chunks WHERE id = ANY (ARRAY(SELECT id FROM delta))
		ORDER BY id FOR NO KEY UPDATE))`

// errPGFallback: the one-statement write did not apply (see putObjectPGOne); the caller
// runs the transactional path, which finds and reports the reason.
var errPGFallback = errors.New("one-statement write not applied")

// putObjectPGOne writes o in one autocommitted statement when o carries at most one new
// chunk: the chunk row (inserted with its final reference count, since the statement
// cannot update a row it inserts) and its scope, the object row locked and replaced (or
// inserted, the bucket held), its extents, the released extents and every reference
// change. It applies only in the common case: new content, the condition met, no
// concurrent writer of the key in between, every referenced chunk present. Anything else
// aborts the statement (a division by zero, so that nothing of it commits) and returns
// errPGFallback; the transactional path then does the work or reports why it cannot.
func (s *Store) putObjectPGOne(ctx context.Context, o meta.Object, cond meta.WriteCondition) (replaced *meta.Object, newChunk meta.Chunk, err error) {
	fresh := newChunksOf(o.Manifest)
	row := objectToRow(o)
	var sb strings.Builder
	args := make([]any, 0, 48+5*len(o.Manifest))
	var crow chunkRow
	if len(fresh) == 1 {
		c := o.Manifest[fresh[0]].Chunk
		if c.Backend == meta.InlineBackend && int64(len(c.Data)) != c.Size {
			return nil, newChunk, errPGFallback // insertChunkTx reports it
		}
		crow = chunkRow{UID: c.UID, SHA256: c.SHA256[:], MD5: c.MD5[:], Size: c.Size, Backend: c.Backend, Node: c.Node,
			Corrupt: c.Corrupt, CreatedNS: nowNS(), Checksums: encodeMap(c.Checksums)}
		if c.Backend == meta.InlineBackend {
			crow.Data = c.Data
			if crow.Data == nil {
				crow.Data = []byte{}
			}
		}
		for _, e := range o.Manifest {
			if e.ChunkID == 0 {
				crow.Refs++
			}
		}
		sb.WriteString(`WITH c AS (INSERT INTO chunks (uid, sha256, md5, size, backend, node, refs, corrupt, data, checksums, created_ns)
				VALUES (?, ?, ?, ?, ?, ?, CAST(? AS BIGINT), ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING RETURNING id),
			sc AS (INSERT INTO chunk_scopes (chunk_id, scope) SELECT id, ? FROM c),`)
		args = append(args, crow.UID, crow.SHA256, crow.MD5, crow.Size, crow.Backend, crow.Node, crow.Refs, crow.Corrupt,
			crow.Data, crow.Checksums, crow.CreatedNS, o.Manifest[fresh[0]].NewChunkScope)
	} else {
		sb.WriteString(`WITH c AS (SELECT CAST(NULL AS BIGINT) AS id WHERE false),`)
	}
	// The new chunk's row is inserted before the object row is locked (cur waits for c
	// through its sub-select), the order of the transactional path: a writer of the same
	// content holding the row's sha256 then waits for no lock we hold.
	sb.WriteString(`
		cur AS (SELECT * FROM objects WHERE bucket = ? AND object_key = ? AND (SELECT COUNT(*) FROM c) >= 0
			LIMIT 1 FOR UPDATE),
		b AS (SELECT 1 FROM buckets WHERE name = ? FOR KEY SHARE),
		ok AS (SELECT 1 WHERE EXISTS (SELECT 1 FROM b)`)
	args = append(args, o.Bucket, o.Key, o.Bucket)
	if len(fresh) == 1 {
		sb.WriteString(` AND EXISTS (SELECT 1 FROM c)`) // known content: the transactional path
	}
	if cond.IfNoneMatchStar {
		sb.WriteString(` AND NOT EXISTS (SELECT 1 FROM cur)`)
	}
	if cond.IfMatch != "" {
		want := strings.Trim(cond.IfMatch, `"`)
		sb.WriteString(` AND EXISTS (SELECT 1 FROM cur WHERE CAST(? AS TEXT) = '*' OR etag = ?)`)
		args = append(args, want, want)
	}
	sb.WriteString(`),
		upd AS (UPDATE objects SET ` + objectSet + `
			WHERE objects.id = (SELECT id FROM cur) AND EXISTS (SELECT 1 FROM ok) RETURNING objects.id),
		ins AS (` + objectInsert + `
			FROM ok WHERE NOT EXISTS (SELECT 1 FROM cur) ON CONFLICT DO NOTHING RETURNING id),
		o AS (SELECT id FROM upd UNION ALL SELECT id FROM ins),
		d AS (DELETE FROM extents WHERE object_id = (SELECT id FROM cur) AND EXISTS (SELECT 1 FROM upd) RETURNING chunk_id)`)
	args = append(append(append(args, objectArgs(row)...), o.Bucket, o.Key), objectArgs(row)...)
	args = writeManifestCTEs(&sb, args, o.Manifest)
	sb.WriteString(`
		SELECT 1 / CASE WHEN (SELECT COUNT(*) FROM o) = 1
				AND (SELECT COUNT(*) FROM u WHERE n > 0) = (SELECT COUNT(*) FROM delta WHERE n > 0) THEN 1 ELSE 0 END AS applied,
			(SELECT id FROM c) AS chunk_id,
			` + curColumns + `
		FROM (SELECT 1) one LEFT JOIN cur ON true`)

	var res struct {
		Applied int64
		ChunkID *int64
		Cur     curResult
	}
	_, err = s.autocommit(ctx).one(s.rebind(sb.String()), args, append([]any{&res.Applied, &res.ChunkID}, res.Cur.dest()...)...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22012" { // division by zero: not applied
		return nil, newChunk, errPGFallback
	}
	if err != nil {
		return nil, newChunk, err
	}
	if replaced, err = res.Cur.object(); err != nil {
		return nil, newChunk, err
	}
	if len(fresh) == 1 && res.ChunkID != nil {
		crow.ID = *res.ChunkID
		newChunk = chunkFromRow(crow)
	}
	return replaced, newChunk, nil
}

// curColumns selects the locked row "cur" of a one-statement write, in the order that
// curResult.dest scans them (all NULL when the key is absent).
const curColumns = `cur.id AS cur_id, cur.bucket AS cur_bucket, cur.object_key AS cur_object_key, cur.size AS cur_size,
	cur.etag AS cur_etag, cur.sha256 AS cur_sha256, cur.content_md5 AS cur_content_md5,
	cur.content_type AS cur_content_type, cur.headers AS cur_headers, cur.user_meta AS cur_user_meta,
	cur.checksums AS cur_checksums, cur.checksum_type AS cur_checksum_type, cur.parts AS cur_parts,
	cur.owner AS cur_owner, cur.scope AS cur_scope, cur.mod_ns AS cur_mod_ns, cur.extent_count AS cur_extent_count,
	cur.version_id AS cur_version_id`

type curResult struct {
	CurID           *int64
	CurBucket       *string
	CurObjectKey    *string
	CurSize         *int64
	CurEtag         *string
	CurSHA256       []byte
	CurContentMD5   []byte
	CurContentType  *string
	CurHeaders      *string
	CurUserMeta     *string
	CurChecksums    *string
	CurChecksumType *string
	CurParts        *string
	CurOwner        *string
	CurScope        *string
	CurModNS        *int64
	CurExtentCount  *int
	CurVersionID    *string
}

// dest is where scanning curColumns puts each column.
func (r *curResult) dest() []any {
	return []any{&r.CurID, &r.CurBucket, &r.CurObjectKey, &r.CurSize, &r.CurEtag, &r.CurSHA256, &r.CurContentMD5,
		&r.CurContentType, &r.CurHeaders, &r.CurUserMeta, &r.CurChecksums, &r.CurChecksumType, &r.CurParts,
		&r.CurOwner, &r.CurScope, &r.CurModNS, &r.CurExtentCount, &r.CurVersionID}
}

// object returns the row as an object (without its manifest), nil if there was none.
func (r curResult) object() (*meta.Object, error) {
	if r.CurID == nil {
		return nil, nil
	}
	o, err := objectFromRow(objectRow{ID: *r.CurID, Bucket: ckey(*r.CurBucket), ObjectKey: ckey(*r.CurObjectKey),
		Size: *r.CurSize, ETag: *r.CurEtag, SHA256: r.CurSHA256, ContentMD5: r.CurContentMD5,
		ContentType: *r.CurContentType, Headers: *r.CurHeaders, UserMeta: *r.CurUserMeta,
		Checksums: *r.CurChecksums, ChecksumType: *r.CurChecksumType, Parts: *r.CurParts,
		Owner: *r.CurOwner, Scope: *r.CurScope, ModNS: *r.CurModNS, ExtentCount: *r.CurExtentCount,
		VersionID: *r.CurVersionID})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// deleteObjectPGOne deletes bucket/key in one autocommitted statement: the row locked,
// the If-Match condition checked, row and extents deleted, references released. A
// missing key is meta.ErrNotFound (the statement changed nothing); a failed condition or
// a long manifest declines it (errPGFallback), as in putObjectPGOne.
func (s *Store) deleteObjectPGOne(ctx context.Context, bucket, key string, cond meta.WriteCondition) (meta.Object, error) {
	args := []any{bucket, key, pgFastManifest}
	check := ""
	if cond.IfMatch != "" {
		want := strings.Trim(cond.IfMatch, `"`)
		check = ` AND (CAST(? AS TEXT) = '*' OR etag = ?)`
		args = append(args, want, want)
	}
	args = append(args, nowNS())
	var res struct {
		Applied  int64
		Released int64
		Cur      curResult
	}
	_, err := s.autocommit(ctx).one(s.rebind(`WITH cur AS (SELECT * FROM objects WHERE bucket = ? AND object_key = ? LIMIT 1 FOR UPDATE),
			ok AS (SELECT 1 FROM cur WHERE extent_count <= CAST(? AS INT)`+check+`),
			o AS (DELETE FROM objects USING ok WHERE objects.id = (SELECT id FROM cur) RETURNING objects.id),
			d AS (DELETE FROM extents WHERE object_id = (SELECT id FROM o) RETURNING chunk_id),
			delta AS (SELECT chunk_id AS id, -COUNT(*) AS n FROM d GROUP BY chunk_id),
			u AS (`+applyDelta+` RETURNING 1)
		SELECT 1 / CASE WHEN NOT EXISTS (SELECT 1 FROM cur) OR EXISTS (SELECT 1 FROM o) THEN 1 ELSE 0 END AS applied,
			(SELECT COUNT(*) FROM u) AS released, `+curColumns+`
		FROM (SELECT 1) one LEFT JOIN cur ON true`), args, append([]any{&res.Applied, &res.Released}, res.Cur.dest()...)...)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "22012" { // division by zero: not applied
		return meta.Object{}, errPGFallback
	}
	if err != nil {
		return meta.Object{}, err
	}
	o, err := res.Cur.object()
	if err != nil {
		return meta.Object{}, err
	}
	if o == nil {
		return meta.Object{}, fmt.Errorf("%s/%s: %w", bucket, key, meta.ErrNotFound)
	}
	return *o, nil
}

// objectSet is the SET list that replaces an object row under a new id, objectInsert the
// INSERT … SELECT of a new row (bucket, key, then the same values); objectArgs gives
// those values. (The byte strings are written "CAST( ?" because gorm, which used to run
// these statements, expanded a "?" right after "(" whose value was a slice, as for IN (?).)
const (
	objectSet = `id = DEFAULT, size = ?, etag = ?, sha256 = ?, content_md5 = ?, content_type = ?,
		headers = ?, user_meta = ?, checksums = ?, checksum_type = ?, parts = ?, owner = ?, scope = ?,
		mod_ns = ?, extent_count = ?, version_id = ?`
	objectInsert = `INSERT INTO objects (bucket, object_key, size, etag, sha256, content_md5, content_type,
			headers, user_meta, checksums, checksum_type, parts, owner, scope, mod_ns, extent_count, version_id)
		SELECT ?, ?, CAST(? AS BIGINT), ?, CAST( ? AS BYTEA), CAST( ? AS BYTEA), ?, ?, ?, ?, ?, ?, ?, ?,
			CAST(? AS BIGINT), CAST(? AS INT), ?`
)

func objectArgs(row objectRow) []any {
	return []any{row.Size, row.ETag, row.SHA256, row.ContentMD5, row.ContentType, row.Headers, row.UserMeta,
		row.Checksums, row.ChecksumType, row.Parts, row.Owner, row.Scope, row.ModNS, row.ExtentCount, row.VersionID}
}

// writeManifestCTEs appends, after CTEs c (a new chunk's id, or none), o (the object
// row written, or none) and d (released extents' chunk ids), the CTEs v (the manifest;
// NULL for the new chunk's extents), e (its extents inserted), delta (the net change
// per chunk, nothing if no row was written: the caller then rolls back or aborts; the
// new chunk is counted by its own insert) and u (delta applied, RETURNING n).
func writeManifestCTEs(sb *strings.Builder, args []any, m []meta.Extent) []any {
	if len(m) > 0 {
		sb.WriteString(`, v(seq, part_number, chunk_id, chunk_offset, length) AS (VALUES `)
		for i, e := range m {
			if i > 0 {
				sb.WriteByte(',')
			}
			var id any
			if e.ChunkID != 0 {
				id = e.ChunkID
			}
			sb.WriteString(`(CAST(? AS INT), CAST(? AS INT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))`)
			args = append(args, i, e.PartNumber, id, e.ChunkOffset, e.Length)
		}
		sb.WriteString(`), e AS (INSERT INTO extents (object_id, seq, part_number, chunk_id, chunk_offset, length)
			SELECT o.id, v.seq, v.part_number, COALESCE(v.chunk_id, (SELECT id FROM c)), v.chunk_offset, v.length FROM o, v)`)
	} else {
		sb.WriteString(`, v AS (SELECT CAST(NULL AS BIGINT) AS chunk_id WHERE false)`)
	}
	sb.WriteString(`, delta AS (SELECT chunk_id AS id, SUM(n) AS n FROM (
				SELECT chunk_id, -1 AS n FROM d UNION ALL SELECT chunk_id, 1 FROM v WHERE chunk_id IS NOT NULL) x
			WHERE EXISTS (SELECT 1 FROM o) GROUP BY chunk_id HAVING SUM(n) <> 0),
		u AS (` + applyDelta + ` RETURNING (SELECT n FROM delta WHERE delta.id = chunks.id) AS n)`)
	return append(args, nowNS())
}
