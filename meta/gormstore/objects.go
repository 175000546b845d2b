package gormstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"s3proxy/meta"
)

// ---- buckets ----

// CreateBucket inserts b; ErrAlreadyExists if the name is taken.
func (s *Store) CreateBucket(ctx context.Context, b meta.Bucket) error {
	if b.Name == "" {
		return fmt.Errorf("meta create bucket: empty name: %w", meta.ErrInvalid)
	}
	created := toNS(b.CreatedAt)
	if created == 0 {
		created = nowNS()
	}
	row := bucketRow{Name: ckey(b.Name), Owner: b.Owner, Region: b.Region, Backend: b.Backend, CreatedNS: created}
	return s.tx(ctx, "create bucket", func(tx *gorm.DB) error { return tx.Create(&row).Error })
}

func bucketFromRow(r bucketRow) meta.Bucket {
	return meta.Bucket{Name: string(r.Name), Owner: r.Owner, Region: r.Region, Backend: r.Backend, CreatedAt: fromNS(r.CreatedNS)}
}

// GetBucket returns the bucket or ErrNotFound.
func (s *Store) GetBucket(ctx context.Context, name string) (meta.Bucket, error) {
	var rows []bucketRow
	if err := s.rdb.WithContext(ctx).Where("name = ?", name).Limit(1).Find(&rows).Error; err != nil {
		return meta.Bucket{}, classify("get bucket", err)
	}
	if len(rows) == 0 {
		return meta.Bucket{}, fmt.Errorf("meta get bucket %q: %w", name, meta.ErrNotFound)
	}
	return bucketFromRow(rows[0]), nil
}

// ListBuckets returns all buckets by name.
func (s *Store) ListBuckets(ctx context.Context) ([]meta.Bucket, error) {
	var rows []bucketRow
	if err := s.rdb.WithContext(ctx).Order("name").Find(&rows).Error; err != nil {
		return nil, classify("list buckets", err)
	}
	out := make([]meta.Bucket, len(rows))
	for i, r := range rows {
		out[i] = bucketFromRow(r)
	}
	return out, nil
}

// DeleteBucket removes a bucket that holds no objects, aborting its multipart uploads in
// the same transaction (as S3 does: uploads in progress do not keep a bucket alive), with
// their parts' references released exactly as AbortUpload releases them. The bucket row
// is locked first so that writers holding (or about to take) a key-share lock on it
// either finish before the emptiness check or wait and then find it gone; the uploads'
// rows are then locked as AbortUpload locks one, so a part being written (which holds
// its upload's row shared) is counted before the parts are read, and a later one finds
// the upload gone.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	return s.tx(ctx, "delete bucket", func(tx *gorm.DB) error {
		var rows []bucketRow
		if err := s.lock(tx, "UPDATE").Where("name = ?", name).Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("bucket %q: %w", name, meta.ErrNotFound)
		}
		var n []int64
		if err := tx.Raw("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", name).Scan(&n).Error; err != nil {
			return err
		}
		if len(n) == 0 {
			if err := tx.Raw("SELECT 1 FROM object_versions WHERE bucket = ? LIMIT 1", name).Scan(&n).Error; err != nil {
				return err
			}
		}
		if len(n) > 0 {
			return fmt.Errorf("bucket %q holds objects: %w", name, meta.ErrNotEmpty)
		}
		var ups []uploadRow
		if err := s.lock(tx, "UPDATE").Select("id").Where("bucket = ?", name).Order("id").Find(&ups).Error; err != nil {
			return err
		}
		delta := map[int64]int64{}
		for _, u := range ups {
			if err := partsRefs(tx, string(u.ID), delta); err != nil {
				return err
			}
			if err := dropUpload(tx, string(u.ID)); err != nil {
				return err
			}
		}
		if err := s.applyRefs(tx, delta); err != nil {
			return err
		}
		if err := tx.Exec("DELETE FROM bucket_configs WHERE bucket = ?", name).Error; err != nil {
			return err
		}
		return tx.Where("name = ?", name).Delete(&bucketRow{}).Error
	})
}

// lock adds a row-locking clause on PostgreSQL; SQLite's single immediate writer already
// excludes every other writer.
func (s *Store) lock(tx *gorm.DB, strength string) *gorm.DB {
	if !s.pg {
		return tx
	}
	return tx.Clauses(clause.Locking{Strength: strength})
}

// lockBucketShared checks the bucket exists and, on PostgreSQL, holds it against a
// concurrent DeleteBucket until the transaction ends.
func (s *Store) lockBucketShared(tx *gorm.DB, name string) error {
	var got string
	found, err := rawOf(tx).one(s.writes.bucketExists, []any{name}, &got)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("bucket %q: %w", name, meta.ErrNotFound)
	}
	return nil
}

// ---- objects ----

type partJSON struct {
	Number    int               `json:"n"`
	Size      int64             `json:"s"`
	ETag      string            `json:"e"`
	Checksums map[string]string `json:"c,omitempty"`
	ModNS     int64             `json:"t,omitempty"`
}

func objectToRow(o meta.Object) objectRow {
	var parts string
	if len(o.Parts) > 0 {
		pj := make([]partJSON, len(o.Parts))
		for i, p := range o.Parts {
			pj[i] = partJSON{Number: p.Number, Size: p.Size, ETag: p.ETag, Checksums: p.Checksums, ModNS: toNS(p.LastModified)}
		}
		b, _ := json.Marshal(pj) // plain data always marshals
		parts = string(b)
	}
	mod := toNS(o.ModTime)
	if mod == 0 {
		mod = nowNS()
	}
	return objectRow{
		Bucket: ckey(o.Bucket), ObjectKey: ckey(o.Key), Size: o.Size, ETag: o.ETag, SHA256: o.SHA256, ContentMD5: o.MD5,
		ContentType: o.ContentType, Headers: encodeMap(o.Headers), UserMeta: encodeMap(o.UserMeta),
		Checksums: encodeMap(o.Checksums), ChecksumType: o.ChecksumType, Parts: parts,
		Owner: o.Owner, Scope: o.Scope, ModNS: mod, ExtentCount: len(o.Manifest), VersionID: o.VersionID,
	}
}

func objectFromRow(r objectRow) (meta.Object, error) {
	o := meta.Object{
		Bucket: string(r.Bucket), Key: string(r.ObjectKey), Size: r.Size, ETag: r.ETag, SHA256: r.SHA256, MD5: r.ContentMD5,
		ContentType: r.ContentType, ChecksumType: r.ChecksumType, Owner: r.Owner, Scope: r.Scope,
		ModTime: fromNS(r.ModNS), VersionID: r.VersionID,
	}
	var err error
	if o.Headers, err = decodeMap(r.Headers); err != nil {
		return o, err
	}
	if o.UserMeta, err = decodeMap(r.UserMeta); err != nil {
		return o, err
	}
	if o.Checksums, err = decodeMap(r.Checksums); err != nil {
		return o, err
	}
	if r.Parts != "" {
		var pj []partJSON
		if err := json.Unmarshal([]byte(r.Parts), &pj); err != nil {
			return o, fmt.Errorf("%w: corrupt parts column: %w", meta.ErrInternal, err)
		}
		o.Parts = make([]meta.Part, len(pj))
		for i, p := range pj {
			o.Parts[i] = meta.Part{Number: p.Number, Size: p.Size, ETag: p.ETag, Checksums: p.Checksums, LastModified: fromNS(p.ModNS)}
		}
	}
	if len(o.SHA256) == 0 {
		o.SHA256 = nil
	}
	if len(o.MD5) == 0 {
		o.MD5 = nil
	}
	return o, nil
}

// GetObject returns the current version with its manifest, read in one statement.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (meta.Object, error) {
	return s.readObject(ctx, "get object", s.queries.byKey, bucket, key)
}

// FindObjectBySHA256 finds an object with this whole-content hash (in scope, unless scope
// is ""), with its manifest.
func (s *Store) FindObjectBySHA256(ctx context.Context, sum [32]byte, scope string) (meta.Object, error) {
	if scope == "" {
		return s.readObject(ctx, "find object by sha256", s.queries.bySHA, sum[:])
	}
	return s.readObject(ctx, "find object by sha256", s.queries.bySHAScope, sum[:], scope)
}

// objectQueries are the object reads, complete and in the engine's placeholder syntax:
// built once by Open, not on every GET.
type objectQueries struct{ byKey, bySHA, bySHAScope, byVersion, archivedByVersion string }

func (s *Store) buildQueries() {
	cur := readObjectSQL("objects", "id", "0")
	q := func(where string) string { return s.rebind(cur + where + " ORDER BY e.seq") }
	old := readObjectSQL("object_versions", "object_id", "CASE WHEN o.delete_marker THEN 1 ELSE 0 END")
	s.queries = objectQueries{
		byKey:             q("o.bucket = ? AND o.object_key = ?"),
		bySHA:             q("o.id = (SELECT MIN(id) FROM objects WHERE sha256 = ?)"),
		bySHAScope:        q("o.id = (SELECT MIN(id) FROM objects WHERE sha256 = ? AND scope = ?)"),
		byVersion:         q("o.bucket = ? AND o.object_key = ? AND o.version_id = ?"),
		archivedByVersion: s.rebind(old + "o.bucket = ? AND o.object_key = ? AND o.version_id = ? ORDER BY e.seq"),
	}
}

// readObjectSQL selects one row of table (objects, or object_versions, whose rows name
// their extents by idCol and say by marker whether they are a delete marker) joined with
// its extents and their chunks, one
// result row per extent (one row with NULL extent columns for an empty object). The
// object's large JSON columns are selected on the first row only, so a 10,000-part
// object does not repeat its parts list 10,000 times. A LEFT JOIN on chunks so that a
// dangling reference is reported as corruption rather than silently shortening the object.
// One statement is one snapshot on both engines: no retry for a concurrent overwrite.
func readObjectSQL(table, idCol, marker string) string {
	return `SELECT o.` + idCol + `, o.bucket, o.object_key, o.size, o.etag, o.sha256, o.content_md5,
	o.content_type, o.checksum_type, o.owner, o.scope, o.mod_ns, o.extent_count, o.version_id, ` + marker + `,
	CASE WHEN e.seq IS NULL OR e.seq = 0 THEN o.headers END,
	CASE WHEN e.seq IS NULL OR e.seq = 0 THEN o.user_meta END,
	CASE WHEN e.seq IS NULL OR e.seq = 0 THEN o.checksums END,
	CASE WHEN e.seq IS NULL OR e.seq = 0 THEN o.parts END,
	e.seq, e.part_number, e.chunk_id, e.chunk_offset, e.length,
	c.id, c.uid, c.sha256, c.md5, c.size, c.backend, c.node, c.refs, c.corrupt, c.created_ns, c.zero_since_ns, c.data
	FROM ` + table + ` o LEFT JOIN extents e ON e.object_id = o.` + idCol + ` LEFT JOIN chunks c ON c.id = e.chunk_id
	WHERE `
}

// readObject runs query (one of s.queries: readObjectSQL with a condition on o) straight on the pool
// (through gorm's prepared-statement cache on SQLite): this is the hot read of every GET
// and HEAD, and gorm's query building and reflection would cost more than SQLite does.
func (s *Store) readObject(ctx context.Context, op, query string, args ...any) (meta.Object, error) {
	rows, err := s.rdb.ConnPool.QueryContext(ctx, query, args...)
	if err != nil {
		return meta.Object{}, classify(op, err)
	}
	defer rows.Close()
	var (
		r     objectRow
		found bool
		dm    int64
		m     []meta.Extent
		total int64
	)
	for rows.Next() {
		var (
			headers, userMeta, checksums, parts  sql.NullString
			seq, part, chunkID, chunkOff, length sql.NullInt64
			cID, cSize, cRefs, cCreated          sql.NullInt64
			cUID, cBackend, cNode                sql.NullString
			cSHA, cMD5, cData                    []byte
			cCorrupt                             sql.NullBool
			cZero                                *int64
		)
		if err := rows.Scan(&r.ID, &r.Bucket, &r.ObjectKey, &r.Size, &r.ETag, &r.SHA256, &r.ContentMD5,
			&r.ContentType, &r.ChecksumType, &r.Owner, &r.Scope, &r.ModNS, &r.ExtentCount, &r.VersionID, &dm,
			&headers, &userMeta, &checksums, &parts,
			&seq, &part, &chunkID, &chunkOff, &length,
			&cID, &cUID, &cSHA, &cMD5, &cSize, &cBackend, &cNode, &cRefs, &cCorrupt, &cCreated, &cZero, &cData); err != nil {
			return meta.Object{}, classify(op, err)
		}
		if !found {
			found = true
			r.Headers, r.UserMeta, r.Checksums, r.Parts = headers.String, userMeta.String, checksums.String, parts.String
			m = make([]meta.Extent, 0, r.ExtentCount)
		}
		if !seq.Valid {
			continue // an object without extents
		}
		if !cID.Valid {
			return meta.Object{}, fmt.Errorf("meta %s: %s/%s extent %d references missing chunk %d: %w",
				op, r.Bucket, r.ObjectKey, seq.Int64, chunkID.Int64, meta.ErrInternal)
		}
		cr := chunkRow{ID: cID.Int64, UID: cUID.String, SHA256: cSHA, MD5: cMD5, Size: cSize.Int64,
			Backend: cBackend.String, Node: cNode.String, Refs: cRefs.Int64, Corrupt: cCorrupt.Bool,
			CreatedNS: cCreated.Int64, ZeroSinceNS: cZero, Data: cData}
		m = append(m, meta.Extent{PartNumber: int(part.Int64), ChunkID: chunkID.Int64, ChunkOffset: chunkOff.Int64,
			Length: length.Int64, Chunk: chunkFromRow(cr)})
		total += length.Int64
	}
	if err := rows.Err(); err != nil {
		return meta.Object{}, classify(op, err)
	}
	if !found {
		return meta.Object{}, fmt.Errorf("meta %s: %w", op, meta.ErrNotFound)
	}
	o, err := objectFromRow(r)
	if err != nil {
		return meta.Object{}, classify(op, err)
	}
	if len(m) != r.ExtentCount || total != o.Size {
		return meta.Object{}, fmt.Errorf("meta %s: %s/%s manifest has %d extents covering %d bytes, want %d covering %d: %w",
			op, o.Bucket, o.Key, len(m), total, r.ExtentCount, o.Size, meta.ErrInternal)
	}
	o.Manifest = m
	o.DeleteMarker = dm != 0
	return o, nil
}

// PutObject writes o as the current version of its key in one transaction.
func (s *Store) PutObject(ctx context.Context, o meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	if err := validateObject(o); err != nil {
		return nil, fmt.Errorf("meta put object: %w", err)
	}
	var replaced *meta.Object
	fresh := newChunksOf(o.Manifest)
	if s.pg && len(fresh) <= 1 && len(o.Manifest) <= pgFastManifest && !cond.PinsVersion() && cond.Versioning == meta.Unversioned {
		replaced, c, err := s.putObjectPGOne(ctx, o, cond)
		if err == nil {
			for _, i := range fresh {
				o.Manifest[i].ChunkID, o.Manifest[i].Chunk = c.ID, c
			}
			s.stats.wrote()
			return replaced, nil
		}
		if !errors.Is(err, errPGFallback) && !retryable(err) {
			return nil, classify("put object", err)
		}
	}
	indexed := make([]meta.Chunk, len(fresh))
	err := s.tx(ctx, "put object", func(tx *gorm.DB) error {
		o := o
		if len(fresh) > 0 {
			// Index the new chunks first, in this transaction (one commit per PUT instead
			// of two), on a copy of the manifest: a retried transaction starts over.
			o.Manifest = slices.Clone(o.Manifest)
			for j, i := range fresh {
				e := &o.Manifest[i]
				got, _, err := s.insertChunkTx(tx, e.Chunk, e.NewChunkScope, true)
				if err != nil {
					return err
				}
				e.ChunkID, indexed[j] = got.ID, got
			}
		}
		var err error
		replaced, err = s.putObjectTx(tx, o, cond, map[int64]int64{})
		if len(fresh) > 0 && errors.Is(err, meta.ErrConflict) {
			// A chunk this transaction found indexed was collected before its count went
			// up (PostgreSQL, READ COMMITTED): run again, and index it anew.
			return errRetry
		}
		return err
	})
	if err == nil {
		for j, i := range fresh {
			o.Manifest[i].ChunkID, o.Manifest[i].Chunk = indexed[j].ID, indexed[j]
		}
		s.stats.wrote()
	}
	return replaced, err
}

func validateObject(o meta.Object) error {
	if o.Bucket == "" || o.Key == "" {
		return fmt.Errorf("empty bucket or key: %w", meta.ErrInvalid)
	}
	var total int64
	for i, e := range o.Manifest {
		newChunk := e.ChunkID == 0 && e.Chunk.UID != "" && e.Chunk.Backend != "" // indexed by PutObject
		if e.Length < 0 || e.ChunkOffset < 0 || (e.ChunkID <= 0 && !newChunk) {
			return fmt.Errorf("extent %d out of range: %w", i, meta.ErrInvalid)
		}
		total += e.Length
	}
	if total != o.Size {
		return fmt.Errorf("manifest covers %d bytes, object size is %d: %w", total, o.Size, meta.ErrInvalid)
	}
	return nil
}

// lockObject reads the current row of bucket/key, locked against concurrent writers on
// PostgreSQL.
func (s *Store) lockObject(tx *gorm.DB, bucket, key string, recheck bool) (*objectRow, error) {
	for i := 0; i < 2; i++ {
		var row objectRow
		found, err := rawOf(tx).one(s.writes.objectByKey, []any{bucket, key}, objectRowDest(&row)...)
		if err != nil {
			return nil, err
		}
		if found {
			return &row, nil
		}
		// Under READ COMMITTED a FOR UPDATE that waited on a row which the other writer then
		// replaced (deleted + inserted) returns nothing; one more statement sees the new row.
		if !s.pg || !recheck {
			break
		}
	}
	return nil, nil
}

func checkCondition(cond meta.WriteCondition, cur *objectRow) error {
	if cond.IfNoneMatchStar && cur != nil {
		return fmt.Errorf("key exists (If-None-Match: *): %w", meta.ErrPreconditionFailed)
	}
	if (cond.IfMatch != "" || cond.PinsVersion()) && cur == nil {
		return fmt.Errorf("conditional write of a missing key: %w", meta.ErrNotFound)
	}
	if cond.IfMatch != "" {
		want := strings.Trim(cond.IfMatch, `"`)
		if want != "*" && want != cur.ETag {
			return fmt.Errorf("ETag %q does not match %q: %w", cur.ETag, want, meta.ErrPreconditionFailed)
		}
	}
	if !cond.IfModTime.IsZero() && cur.ModNS != toNS(cond.IfModTime) {
		return fmt.Errorf("modified at %d, not %d: %w", cur.ModNS, toNS(cond.IfModTime), meta.ErrPreconditionFailed)
	}
	if cond.IfHeaders != nil {
		headers, err := decodeMap(cur.Headers)
		if err != nil {
			return err
		}
		for k, want := range cond.IfHeaders {
			if headers[k] != want {
				return fmt.Errorf("header %s is %q, not %q: %w", k, headers[k], want, meta.ErrPreconditionFailed)
			}
		}
	}
	return nil
}

// putObjectTx is PutObject inside tx; delta carries reference changes already decided by
// the caller (CompleteUpload releases its parts through it) so that every chunk's count
// is updated once, by its net change.
func (s *Store) putObjectTx(tx *gorm.DB, o meta.Object, cond meta.WriteCondition, delta map[int64]int64) (*meta.Object, error) {
	// On PostgreSQL a plain PUT takes the few-statement path (pgwrite.go), which checks
	// the bucket in its write statement.
	fast := s.pg && len(delta) == 0 && len(o.Manifest) <= pgFastManifest && cond.Versioning == meta.Unversioned
	if !fast {
		if err := s.lockBucketShared(tx, o.Bucket); err != nil {
			return nil, err
		}
	}
	cur, err := s.lockObject(tx, o.Bucket, o.Key, cond.IfMatch != "" || cond.PinsVersion())
	if err != nil {
		return nil, err
	}
	if err := checkCondition(cond, cur); err != nil {
		return nil, err
	}
	if fast {
		if cur == nil || cur.ExtentCount <= pgFastManifest {
			return s.putObjectPG(tx, o, cur, cond)
		}
		if err := s.lockBucketShared(tx, o.Bucket); err != nil {
			return nil, err
		}
	}
	replaced, err := s.replaceVersion(tx, o.Bucket, o.Key, cur, cond.Versioning, delta)
	if err != nil {
		return nil, err
	}
	for _, e := range o.Manifest {
		delta[e.ChunkID]++
	}
	row := objectToRow(o)
	inserted, err := s.insertObjectRow(tx, &row)
	if err != nil {
		return nil, err
	}
	if !inserted {
		// Another writer created the key after we found it absent.
		if cond.IfNoneMatchStar {
			return nil, fmt.Errorf("key created concurrently (If-None-Match: *): %w", meta.ErrPreconditionFailed)
		}
		return nil, errRetry
	}
	if len(o.Manifest) > 0 {
		ext := make([]extentRow, len(o.Manifest))
		for i, e := range o.Manifest {
			ext[i] = extentRow{ObjectID: row.ID, Seq: i, PartNumber: e.PartNumber, ChunkID: e.ChunkID, ChunkOffset: e.ChunkOffset, Length: e.Length}
		}
		if err := s.insertExtentRows(tx, ext); err != nil {
			return nil, err
		}
	}
	if err := s.applyRefs(tx, delta); err != nil {
		return nil, err
	}
	return replaced, nil
}

// newChunksOf returns the indexes of the extents carrying a new chunk (ChunkID 0).
func newChunksOf(m []meta.Extent) []int {
	var out []int
	for i, e := range m {
		if e.ChunkID == 0 {
			out = append(out, i)
		}
	}
	return out
}

// extentBatch is how many extent rows one INSERT carries. The SQLite driver matches each
// bound parameter by a linear search over all arguments, so its cost grows with the square
// of the statement's parameter count: small statements there, large ones on PostgreSQL
// (where each statement is a network round trip).
func (s *Store) extentBatch() int {
	if s.pg {
		return 1000
	}
	return 100
}

// dropObjectTx deletes an object row and its extents, adding the released references to
// delta (one per extent, as they were counted when written).
func (s *Store) dropObjectTx(tx *gorm.DB, id int64, delta map[int64]int64) error {
	if err := s.dropExtentsTx(tx, id, delta); err != nil {
		return err
	}
	_, err := rawOf(tx).exec(s.writes.dropObject, id)
	return err
}

// refBatch bounds the VALUES list of one reference update (two parameters per chunk).
const refBatch = 400

// applyRefs adds delta[id] to each chunk's refs with a few set-based UPDATEs rather than
// one statement per chunk, keeping zero_since in step: set when the count drops to zero,
// cleared when it rises above. An increment that finds no row means the chunk was
// collected: ErrConflict (the caller may retry with a fresh copy), and the caller's
// transaction rolls back.
func (s *Store) applyRefs(tx *gorm.DB, delta map[int64]int64) error {
	ids := make([]int64, 0, len(delta))
	for id, n := range delta {
		if n != 0 {
			ids = append(ids, id)
		}
	}
	// Ascending ids, so concurrent transactions tend to lock chunks in the same order.
	slices.Sort(ids)
	now := nowNS()
	var inc, dec []int64
	for _, id := range ids {
		if delta[id] > 0 {
			inc = append(inc, id)
		} else {
			dec = append(dec, id)
		}
	}
	for _, group := range [][]int64{inc, dec} {
		for len(group) > 0 {
			batch := group[:min(len(group), refBatch)]
			group = group[len(batch):]
			query, args := s.writes.refOne, []any{delta[batch[0]], delta[batch[0]], now, batch[0]}
			if len(batch) > 1 {
				var sb strings.Builder
				args = make([]any, 0, 2*len(batch)+1)
				sb.WriteString("WITH v(id, n) AS (VALUES ")
				for i, id := range batch {
					if i > 0 {
						sb.WriteByte(',')
					}
					sb.WriteString("(CAST(? AS BIGINT), CAST(? AS BIGINT))")
					args = append(args, id, delta[id])
				}
				sb.WriteString(`) UPDATE chunks SET refs = chunks.refs + v.n,
				zero_since_ns = CASE WHEN chunks.refs + v.n > 0 THEN NULL
					WHEN chunks.refs > 0 THEN ? ELSE chunks.zero_since_ns END
				FROM v WHERE chunks.id = v.id`)
				query, args = s.rebind(sb.String()), append(args, now)
			}
			n, err := rawOf(tx).exec(query, args...)
			if err != nil {
				return err
			}
			if n != int64(len(batch)) && delta[batch[0]] > 0 {
				return fmt.Errorf("%d of %d referenced chunks no longer exist: %w", int64(len(batch))-n, len(batch), meta.ErrConflict)
			}
		}
	}
	return nil
}

// DeleteObject removes bucket/key and releases its references.
func (s *Store) DeleteObject(ctx context.Context, bucket, key string, cond meta.WriteCondition) (meta.Object, error) {
	// A condition beyond the ETag is checked on the row this transaction locks, below.
	if s.pg && !cond.IfNoneMatchStar && !cond.PinsVersion() {
		out, err := s.deleteObjectPGOne(ctx, bucket, key, cond)
		if err == nil {
			return out, nil
		}
		if errors.Is(err, meta.ErrNotFound) || !errors.Is(err, errPGFallback) && !retryable(err) {
			return meta.Object{}, classify("delete object", err)
		}
	}
	var out meta.Object
	err := s.tx(ctx, "delete object", func(tx *gorm.DB) error {
		cur, err := s.lockObject(tx, bucket, key, true)
		if err != nil {
			return err
		}
		if err := checkCondition(cond, cur); err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("%s/%s: %w", bucket, key, meta.ErrNotFound)
		}
		if out, err = objectFromRow(*cur); err != nil {
			return err
		}
		delta := map[int64]int64{}
		if err := s.dropObjectTx(tx, cur.ID, delta); err != nil {
			return err
		}
		return s.applyRefs(tx, delta)
	})
	return out, err
}

// SetObjectDigests records the whole-content hashes if the object still has etag. The ETag
// identifies the content (MD5, or the MD5 of the part MD5s), so a later write of
// different content is never tagged with this hash. A nil md5 keeps the one recorded.
func (s *Store) SetObjectDigests(ctx context.Context, bucket, key, etag string, sum, md5 []byte) error {
	if len(sum) != 32 || (len(md5) != 0 && len(md5) != 16) {
		return fmt.Errorf("meta set object digests: %d-byte sha256, %d-byte md5: %w", len(sum), len(md5), meta.ErrInvalid)
	}
	stmt, args := "UPDATE objects SET sha256 = ?, content_md5 = ? WHERE bucket = ? AND object_key = ? AND etag = ?", []any{sum, md5, bucket, key, etag}
	if len(md5) == 0 {
		stmt, args = "UPDATE objects SET sha256 = ? WHERE bucket = ? AND object_key = ? AND etag = ?", []any{sum, bucket, key, etag}
	}
	return s.tx(ctx, "set object sha256", func(tx *gorm.DB) error {
		res := tx.Exec(stmt, args...)
		if res.Error != nil || res.RowsAffected > 0 {
			return res.Error
		}
		var n []int64
		if err := tx.Raw("SELECT 1 FROM objects WHERE bucket = ? AND object_key = ?", bucket, key).Scan(&n).Error; err != nil {
			return err
		}
		if len(n) == 0 {
			return fmt.Errorf("%s/%s: %w", bucket, key, meta.ErrNotFound)
		}
		return fmt.Errorf("%s/%s changed: %w", bucket, key, meta.ErrPreconditionFailed)
	})
}

// ---- listing ----

// successor returns the smallest string greater than every string that starts with p,
// as valid UTF-8 where p is (PostgreSQL rejects invalid UTF-8 parameters): the last rune
// is incremented, dropping trailing runes that are already the maximum. ok is false when
// no such string exists.
func successor(p string) (string, bool) {
	b := []byte(p)
	for len(b) > 0 {
		r, size := utf8.DecodeLastRune(b)
		if r == utf8.RuneError && size <= 1 {
			// An invalid byte: increment it as a byte.
			if b[len(b)-1] < 0xFF {
				b[len(b)-1]++
				return string(b), true
			}
			b = b[:len(b)-1]
			continue
		}
		b = b[:len(b)-size]
		next := r + 1
		if next == 0xD800 {
			next = 0xE000 // skip surrogates, which UTF-8 cannot encode
		}
		if next <= 0x10FFFF {
			return string(utf8.AppendRune(b, next)), true
		}
	}
	return "", false
}

// listPos is where the next listing query starts: after (or at, if inclusive) Key; for
// uploads, ID refines an exclusive position within one key.
type listPos struct {
	Key       string
	ID        string
	Inclusive bool
	ByID      bool
}

type listEntry[T any] struct {
	Key    string
	Prefix bool
	Val    T
}

// startPos computes the first position of a listing from its prefix and its exclusive
// marker. A marker inside a common prefix (including the common prefix itself, which is
// what a previous page returns as NextAfter) skips the whole prefix: its keys were rolled
// up into an entry that is not greater than the marker.
func startPos(prefix, delim, after, afterID string) (listPos, bool) {
	pos := listPos{Key: prefix, Inclusive: true}
	if after == "" || after < prefix {
		return pos, true
	}
	pos = listPos{Key: after, ID: afterID, ByID: afterID != ""}
	if delim != "" && strings.HasPrefix(after, prefix) {
		if i := strings.Index(after[len(prefix):], delim); i >= 0 {
			cp := after[:len(prefix)+i+len(delim)]
			succ, ok := successor(cp)
			if !ok {
				return pos, false
			}
			pos = listPos{Key: succ, Inclusive: true}
		}
	}
	return pos, true
}

// walkPage is walkList cut to one page: at most limit entries, and whether more follow.
func walkPage[T any](prefix, delim string, pos listPos, limit int,
	fetch func(pos listPos, n int) ([]T, error), keyOf func(T) string, next func(T) listPos,
) ([]listEntry[T], bool, error) {
	entries, err := walkList(prefix, delim, pos, limit, fetch, keyOf, next)
	if err != nil || len(entries) <= limit {
		return entries, false, err
	}
	return entries[:limit], true, nil
}

// walkList collects up to limit+1 entries (keys and common prefixes in byte order) from
// batches returned by fetch. With a delimiter, keys inside the common prefix just emitted
// are skipped while they are in the batch at hand; when a batch ends inside the prefix,
// the next query starts at the prefix's successor, so a prefix holding a million keys
// costs one index seek, not a million rows. fetch must return at most n rows in key order
// with key > pos (>= if inclusive) and below the listing prefix's end.
func walkList[T any](prefix, delim string, pos listPos, limit int,
	fetch func(pos listPos, n int) ([]T, error), keyOf func(T) string, next func(T) listPos,
) ([]listEntry[T], error) {
	// After a seek nothing is known about what follows, so batches start small (rows
	// inside a large prefix are read only to be dropped) and double while they pay off.
	const seekBatch = 16
	want := limit + 1
	var out []listEntry[T]
	batch := want
	if delim != "" {
		batch = min(want, seekBatch)
	}
	for len(out) < want {
		n := min(batch, want-len(out))
		rows, err := fetch(pos, n)
		if err != nil {
			return nil, err
		}
		inPrefix := "" // the common prefix whose keys are being skipped
		for _, r := range rows {
			if len(out) >= want {
				break
			}
			k := keyOf(r)
			if inPrefix != "" && strings.HasPrefix(k, inPrefix) {
				continue
			}
			inPrefix = ""
			if delim != "" {
				if j := strings.Index(k[len(prefix):], delim); j >= 0 {
					cp := k[:len(prefix)+j+len(delim)]
					var zero T
					out = append(out, listEntry[T]{Key: cp, Prefix: true, Val: zero})
					succ, ok := successor(cp)
					if !ok {
						return out, nil // nothing sorts after this prefix
					}
					pos = listPos{Key: succ, Inclusive: true}
					inPrefix = cp
					continue
				}
			}
			out = append(out, listEntry[T]{Key: k, Val: r})
			pos = next(r)
		}
		if len(rows) < n {
			break // the index has nothing more in range
		}
		if inPrefix != "" {
			batch = min(want, seekBatch)
		} else {
			batch = min(want, batch*2)
		}
	}
	return out, nil
}

// listCols are the columns a listing returns: what ListObjects and ObjectsUsingChunk
// report, and no more (listing a page is dominated by reading these per row).
const listCols = "bucket, object_key, size, etag, content_type, checksums, checksum_type, owner, mod_ns"

// listedDest are the scan destinations of listCols: into r, but for the bucket and key
// (text to convert).
func listedDest(r *objectRow, bucket, key *string, more ...any) []any {
	return append([]any{bucket, key, &r.Size, &r.ETag, &r.ContentType, &r.Checksums, &r.ChecksumType, &r.Owner, &r.ModNS}, more...)
}

// scanListed reads listCols rows without gorm's reflection, which costs more than the
// index seek itself on SQLite.
func scanListed(q *gorm.DB) ([]objectRow, error) {
	rows, err := q.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []objectRow
	for rows.Next() {
		var r objectRow
		var bucket, key string
		if err := rows.Scan(listedDest(&r, &bucket, &key)...); err != nil {
			return nil, err
		}
		r.Bucket, r.ObjectKey = ckey(bucket), ckey(key)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListObjects serves one page of bucket in key order from the (bucket, object_key) index.
func (s *Store) ListObjects(ctx context.Context, bucket string, q meta.ListQuery) (meta.ListResult, error) {
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var res meta.ListResult
	pos, ok := startPos(q.Prefix, q.Delimiter, q.After, "")
	if !ok {
		return res, nil
	}
	end, hasEnd := "", false
	if q.Prefix != "" {
		end, hasEnd = successor(q.Prefix)
	}
	db := s.rdb.WithContext(ctx)
	fetch := func(p listPos, n int) ([]objectRow, error) {
		sqlText := "SELECT " + listCols + " FROM objects WHERE bucket = ? AND object_key > ?"
		if p.Inclusive {
			sqlText = "SELECT " + listCols + " FROM objects WHERE bucket = ? AND object_key >= ?"
		}
		args := []any{bucket, p.Key}
		if hasEnd {
			sqlText += " AND object_key < ?"
			args = append(args, end)
		}
		args = append(args, n)
		return scanListed(db.Raw(sqlText+" ORDER BY object_key LIMIT ?", args...))
	}
	entries, truncated, err := walkPage(q.Prefix, q.Delimiter, pos, limit, fetch,
		func(r objectRow) string { return string(r.ObjectKey) },
		func(r objectRow) listPos { return listPos{Key: string(r.ObjectKey)} })
	if err != nil {
		return res, classify("list objects", err)
	}
	res.Truncated = truncated
	for _, e := range entries {
		if e.Prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, e.Key)
			continue
		}
		o, err := objectFromRow(e.Val)
		if err != nil {
			return meta.ListResult{}, classify("list objects", err)
		}
		res.Objects = append(res.Objects, o)
	}
	if len(entries) > 0 {
		res.NextAfter = entries[len(entries)-1].Key
	}
	return res, nil
}
