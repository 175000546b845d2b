package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"s3proxy/meta"
)

func chunkFromRow(r chunkRow) meta.Chunk {
	c := meta.Chunk{
		ID: r.ID, UID: r.UID, Size: r.Size, Backend: r.Backend, Node: r.Node, Refs: r.Refs,
		Corrupt: r.Corrupt, CreatedAt: fromNS(r.CreatedNS),
	}
	if r.Backend == meta.InlineBackend {
		c.Data = r.Data
		if c.Data == nil {
			c.Data = []byte{} // an empty inline chunk reads back as NULL on some drivers
		}
	}
	copy(c.SHA256[:], r.SHA256)
	copy(c.MD5[:], r.MD5)
	if m, err := decodeMap(r.Checksums); err == nil && len(m) > 0 {
		c.Checksums = m
	}
	if r.ZeroSinceNS != nil {
		t := fromNS(*r.ZeroSinceNS)
		c.ZeroSince = &t
	}
	return c
}

// InsertChunk adds c (Refs 0) unless its SHA-256 is already indexed, and records scope as
// an uploader of the content. When the existing chunk is unreferenced its ZeroSince is
// moved to now: the caller is about to reference it (and deletes its own copy), so a GC
// pass that already listed it as a candidate must not delete it in between
// (DeleteChunkIfUnreferenced re-checks ZeroSince against its cutoff).
func (s *Store) InsertChunk(ctx context.Context, c meta.Chunk, scope string) (meta.Chunk, bool, error) {
	if c.UID == "" {
		return meta.Chunk{}, false, fmt.Errorf("meta insert chunk: empty uid: %w", meta.ErrInvalid)
	}
	var got meta.Chunk
	var created bool
	err := s.tx(ctx, "insert chunk", func(tx *gorm.DB) error {
		var err error
		got, created, err = s.insertChunkTx(tx, c, scope, false)
		return err
	})
	if err != nil {
		return meta.Chunk{}, false, err
	}
	return got, created, nil
}

// insertChunkTx is InsertChunk inside the caller's transaction. With inPut (PutObject,
// which references the chunk in the same transaction), an indexed copy marked corrupt
// fails it with meta.ErrCorruptChunk, and an unreferenced indexed copy is not touched:
// its GC grace needs no restart when the same transaction raises its count (a GC that
// collects it first makes that raise fail, and the transaction is retried), and
// locking its row here, before the object's, made writers that lock the object first
// deadlock with this one.
func (s *Store) insertChunkTx(tx *gorm.DB, c meta.Chunk, scope string, inPut bool) (got meta.Chunk, created bool, err error) {
	now := nowNS()
	row := chunkRow{
		UID: c.UID, SHA256: c.SHA256[:], MD5: c.MD5[:], Size: c.Size, Backend: c.Backend, Node: c.Node,
		Corrupt: c.Corrupt, CreatedNS: now, ZeroSinceNS: &now, Checksums: encodeMap(c.Checksums),
	}
	if c.Backend == meta.InlineBackend {
		if int64(len(c.Data)) != c.Size {
			return got, false, fmt.Errorf("meta insert chunk: inline chunk of %d bytes declares size %d: %w", len(c.Data), c.Size, meta.ErrInvalid)
		}
		row.Data = c.Data
		if row.Data == nil {
			row.Data = []byte{}
		}
	}
	if s.pg {
		// New content (the common case) and its scope in one statement (pgwrite.go);
		// known content goes on below.
		var ids []int64
		err := tx.Raw(`WITH c AS (INSERT INTO chunks (uid, sha256, md5, size, backend, node, refs, corrupt, data, checksums, created_ns, zero_since_ns)
				VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING RETURNING id),
			s AS (INSERT INTO chunk_scopes (chunk_id, scope) SELECT id, ? FROM c)
			SELECT id FROM c`, row.UID, row.SHA256, row.MD5, row.Size, row.Backend, row.Node, row.Corrupt, row.Data,
			row.Checksums, row.CreatedNS, row.ZeroSinceNS, scope).Scan(&ids).Error
		if err != nil {
			return got, false, err
		}
		if len(ids) == 1 {
			row.ID = ids[0]
			return chunkFromRow(row), true, nil
		}
	} else {
		created, err = rawOf(tx).one(s.writes.insertChunk, []any{row.UID, row.SHA256, row.MD5, row.Size, row.Backend,
			row.Node, row.Corrupt, row.Data, row.Checksums, row.CreatedNS, row.ZeroSinceNS}, &row.ID)
		if err != nil {
			return got, false, err
		}
	}
	if !created {
		var rows []chunkRow
		if err := tx.Where("sha256 = ?", c.SHA256[:]).Limit(1).Find(&rows).Error; err != nil {
			return got, false, err
		}
		if len(rows) == 0 {
			return got, false, errRetry // collected between the insert attempt and this read
		}
		row = rows[0]
		// Learn checksums this upload computed that the index lacks, so later instant
		// uploads declaring that algorithm can be proven without their body.
		if have, err := decodeMap(row.Checksums); err == nil {
			added := false
			for a, v := range c.Checksums {
				if _, ok := have[a]; !ok {
					if have == nil {
						have = map[string]string{}
					}
					have[a], added = v, true
				}
			}
			if added {
				row.Checksums = encodeMap(have)
				if err := tx.Exec("UPDATE chunks SET checksums = ? WHERE id = ?", row.Checksums, row.ID).Error; err != nil {
					return got, false, err
				}
			}
		}
		if row.Refs == 0 && !inPut {
			if err := tx.Exec("UPDATE chunks SET zero_since_ns = ? WHERE id = ? AND refs = 0", now, row.ID).Error; err != nil {
				return got, false, err
			}
			row.ZeroSinceNS = &now
		}
		if inPut && row.Corrupt {
			return got, false, fmt.Errorf("chunk %d: %w", row.ID, meta.ErrCorruptChunk)
		}
	}
	got = chunkFromRow(row)
	_, err = rawOf(tx).exec(s.writes.insertScope, row.ID, scope)
	return got, created, err
}

// FindChunk returns the chunk with this content that scope uploaded ("" = any scope).
func (s *Store) FindChunk(ctx context.Context, sum [32]byte, scope string) (meta.Chunk, error) {
	db := s.rdb.WithContext(ctx).Table("chunks c").Select("c.*").Where("c.sha256 = ?", sum[:])
	if scope != "" {
		db = db.Where("EXISTS (SELECT 1 FROM chunk_scopes s WHERE s.chunk_id = c.id AND s.scope = ?)", scope)
	}
	return s.oneChunk("find chunk", db)
}

// GetChunk returns the chunk with this id.
func (s *Store) GetChunk(ctx context.Context, id int64) (meta.Chunk, error) {
	return s.oneChunk("get chunk", s.rdb.WithContext(ctx).Table("chunks").Where("id = ?", id))
}

// ChunkByUID returns the chunk stored under this backend key.
func (s *Store) ChunkByUID(ctx context.Context, uid string) (meta.Chunk, error) {
	return s.oneChunk("chunk by uid", s.rdb.WithContext(ctx).Table("chunks").Where("uid = ?", uid))
}

func (s *Store) oneChunk(op string, db *gorm.DB) (meta.Chunk, error) {
	var rows []chunkRow
	if err := db.Limit(1).Find(&rows).Error; err != nil {
		return meta.Chunk{}, classify(op, err)
	}
	if len(rows) == 0 {
		return meta.Chunk{}, fmt.Errorf("meta %s: %w", op, meta.ErrNotFound)
	}
	return chunkFromRow(rows[0]), nil
}

func (s *Store) chunks(op string, db *gorm.DB) ([]meta.Chunk, error) {
	var rows []chunkRow
	if err := db.Find(&rows).Error; err != nil {
		return nil, classify(op, err)
	}
	out := make([]meta.Chunk, len(rows))
	for i, r := range rows {
		out[i] = chunkFromRow(r)
	}
	return out, nil
}

func pageLimit(n int) int {
	if n <= 0 || n > 10000 {
		return 1000
	}
	return n
}

// ListChunks pages the chunk index by id.
func (s *Store) ListChunks(ctx context.Context, q meta.ChunkQuery) ([]meta.Chunk, error) {
	db := s.rdb.WithContext(ctx).Table("chunks").Where("id > ?", q.AfterID)
	if q.Backend != "" {
		db = db.Where("backend = ?", q.Backend)
	}
	if q.Bucket != "" {
		db = db.Where(`(EXISTS (SELECT 1 FROM extents e JOIN objects o ON o.id = e.object_id
			WHERE e.chunk_id = chunks.id AND o.bucket = ?) OR EXISTS (SELECT 1 FROM extents e
			JOIN object_versions v ON v.object_id = e.object_id WHERE e.chunk_id = chunks.id AND v.bucket = ?))`, q.Bucket, q.Bucket)
	}
	return s.chunks("list chunks", db.Order("id").Limit(pageLimit(q.Limit)))
}

// GCCandidates returns unreferenced chunks whose count reached zero before cutoff.
func (s *Store) GCCandidates(ctx context.Context, cutoff time.Time, limit int) ([]meta.Chunk, error) {
	db := s.rdb.WithContext(ctx).Table("chunks").
		Where("refs = 0 AND zero_since_ns IS NOT NULL AND zero_since_ns < ?", toNS(cutoff))
	return s.chunks("gc candidates", db.Order("zero_since_ns, id").Limit(pageLimit(limit)))
}

// DeleteChunkIfUnreferenced deletes the index entry only if it is still a candidate. The
// re-check is in the DELETE itself: on PostgreSQL a transaction that just incremented the
// count holds the row lock, and the DELETE re-evaluates its WHERE on the committed row.
// The NOT EXISTS guards against a count that drifted from the manifests.
func (s *Store) DeleteChunkIfUnreferenced(ctx context.Context, id int64, cutoff time.Time) (bool, error) {
	var deleted bool
	err := s.tx(ctx, "delete chunk", func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM chunks WHERE id = ? AND refs = 0 AND zero_since_ns IS NOT NULL AND zero_since_ns < ?
			AND NOT EXISTS (SELECT 1 FROM extents e WHERE e.chunk_id = chunks.id)`, id, toNS(cutoff))
		if res.Error != nil {
			return res.Error
		}
		deleted = res.RowsAffected == 1
		if !deleted {
			return nil
		}
		return tx.Exec("DELETE FROM chunk_scopes WHERE chunk_id = ?", id).Error
	})
	return deleted, err
}

// MoveChunk points a chunk at a new location. An inline chunk moved to a backend drops
// its inline bytes; nothing moves into the index (there would be no bytes to hold).
func (s *Store) MoveChunk(ctx context.Context, id int64, backend, node, uid string) error {
	if uid == "" || backend == meta.InlineBackend {
		return fmt.Errorf("meta move chunk: uid %q, backend %q: %w", uid, backend, meta.ErrInvalid)
	}
	return s.updateChunk(ctx, "move chunk", id, map[string]any{"backend": backend, "node": node, "uid": uid, "data": nil})
}

// MarkChunkCorrupt sets or clears the corrupt flag.
func (s *Store) MarkChunkCorrupt(ctx context.Context, id int64, corrupt bool) error {
	return s.updateChunk(ctx, "mark chunk corrupt", id, map[string]any{"corrupt": corrupt})
}

func (s *Store) updateChunk(ctx context.Context, op string, id int64, set map[string]any) error {
	res := s.db.WithContext(ctx).Table("chunks").Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return classify(op, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("meta %s %d: %w", op, id, meta.ErrNotFound)
	}
	return nil
}

// ObjectsUsingChunk lists objects whose manifests reference the chunk (no manifests):
// current versions, then noncurrent ones.
func (s *Store) ObjectsUsingChunk(ctx context.Context, id int64, limit int) ([]meta.Object, error) {
	rows, err := scanListed(s.rdb.WithContext(ctx).Raw("SELECT "+listCols+
		" FROM (SELECT 0 AS k, "+listCols+" FROM objects WHERE id IN (SELECT object_id FROM extents WHERE chunk_id = ?)"+
		" UNION ALL SELECT 1 AS k, "+listCols+" FROM object_versions WHERE object_id IN (SELECT object_id FROM extents WHERE chunk_id = ?)) u"+
		" ORDER BY k, bucket, object_key LIMIT ?", id, id, pageLimit(limit)))
	if err != nil {
		return nil, classify("objects using chunk", err)
	}
	out := make([]meta.Object, 0, len(rows))
	for _, r := range rows {
		o, err := objectFromRow(r)
		if err != nil {
			return nil, classify("objects using chunk", err)
		}
		out = append(out, o)
	}
	return out, nil
}
