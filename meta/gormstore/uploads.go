package gormstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"s3proxy/meta"
)

func uploadFromRow(r uploadRow) (meta.Upload, error) {
	u := meta.Upload{
		ID: string(r.ID), Bucket: string(r.Bucket), Key: string(r.ObjectKey), Owner: r.Owner, Scope: r.Scope,
		ContentType: r.ContentType, ChecksumAlgo: r.ChecksumAlgo, ChecksumType: r.ChecksumType,
		Initiated: fromNS(r.InitiatedNS),
	}
	var err error
	if u.Headers, err = decodeMap(r.Headers); err != nil {
		return u, err
	}
	u.UserMeta, err = decodeMap(r.UserMeta)
	return u, err
}

// CreateUpload records a new multipart upload; ErrNotFound if the bucket is gone.
func (s *Store) CreateUpload(ctx context.Context, u meta.Upload) error {
	if u.ID == "" || u.Bucket == "" || u.Key == "" {
		return fmt.Errorf("meta create upload: empty id, bucket or key: %w", meta.ErrInvalid)
	}
	init := toNS(u.Initiated)
	if init == 0 {
		init = nowNS()
	}
	row := uploadRow{
		ID: ckey(u.ID), Bucket: ckey(u.Bucket), ObjectKey: ckey(u.Key), Owner: u.Owner, Scope: u.Scope,
		ContentType: u.ContentType, Headers: encodeMap(u.Headers), UserMeta: encodeMap(u.UserMeta),
		ChecksumAlgo: u.ChecksumAlgo, ChecksumType: u.ChecksumType, InitiatedNS: init,
	}
	return s.tx(ctx, "create upload", func(tx *gorm.DB) error {
		if err := s.lockBucketShared(tx, u.Bucket); err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
}

// GetUpload returns the upload if it exists for this bucket and key.
func (s *Store) GetUpload(ctx context.Context, bucket, key, id string) (meta.Upload, error) {
	var rows []uploadRow
	err := s.rdb.WithContext(ctx).Where("id = ? AND bucket = ? AND object_key = ?", id, bucket, key).Limit(1).Find(&rows).Error
	if err != nil {
		return meta.Upload{}, classify("get upload", err)
	}
	if len(rows) == 0 {
		return meta.Upload{}, fmt.Errorf("meta get upload %q: %w", id, meta.ErrNotFound)
	}
	u, err := uploadFromRow(rows[0])
	return u, classify("get upload", err)
}

// lockUpload reads the upload row: shared on PostgreSQL for part writes (which may run in
// parallel), exclusive for Complete and Abort (which must see every part and exclude new ones).
func (s *Store) lockUpload(tx *gorm.DB, id, strength string) (*uploadRow, error) {
	var rows []uploadRow
	if err := s.lock(tx, strength).Where("id = ?", id).Limit(1).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("upload %q: %w", id, meta.ErrNotFound)
	}
	return &rows[0], nil
}

// encodeExtents stores a part's extents compactly as [part, chunk, offset, length] tuples.
func encodeExtents(es []meta.Extent) string {
	t := make([][4]int64, len(es))
	for i, e := range es {
		t[i] = [4]int64{int64(e.PartNumber), e.ChunkID, e.ChunkOffset, e.Length}
	}
	b, _ := json.Marshal(t) // plain data always marshals
	return string(b)
}

func decodeExtents(s string) ([]meta.Extent, error) {
	if s == "" {
		return nil, nil
	}
	var t [][4]int64
	if err := json.Unmarshal([]byte(s), &t); err != nil {
		return nil, fmt.Errorf("%w: corrupt part extents: %w", meta.ErrInternal, err)
	}
	out := make([]meta.Extent, len(t))
	for i, v := range t {
		out[i] = meta.Extent{PartNumber: int(v[0]), ChunkID: v[1], ChunkOffset: v[2], Length: v[3]}
	}
	return out, nil
}

// PutPart records or replaces a part with its references, in one transaction.
func (s *Store) PutPart(ctx context.Context, uploadID string, p meta.Part) error {
	if p.Number < 1 || p.Number > 10000 {
		return fmt.Errorf("meta put part: number %d: %w", p.Number, meta.ErrInvalid)
	}
	var total int64
	for _, e := range p.Extents {
		if e.ChunkID <= 0 || e.Length < 0 || e.ChunkOffset < 0 {
			return fmt.Errorf("meta put part: bad extent: %w", meta.ErrInvalid)
		}
		total += e.Length
	}
	if total != p.Size {
		return fmt.Errorf("meta put part: extents cover %d of %d bytes: %w", total, p.Size, meta.ErrInvalid)
	}
	mod := toNS(p.LastModified)
	if mod == 0 {
		mod = nowNS()
	}
	row := partRow{
		UploadID: ckey(uploadID), Number: p.Number, Size: p.Size, ETag: p.ETag,
		Checksums: encodeMap(p.Checksums), Extents: encodeExtents(p.Extents), ModNS: mod,
	}
	return s.tx(ctx, "put part", func(tx *gorm.DB) error {
		if _, err := s.lockUpload(tx, uploadID, "SHARE"); err != nil {
			return err
		}
		var old []partRow
		if err := s.lock(tx, "UPDATE").Where("upload_id = ? AND number = ?", uploadID, p.Number).Limit(1).Find(&old).Error; err != nil {
			return err
		}
		delta := map[int64]int64{}
		for _, e := range p.Extents {
			delta[e.ChunkID]++
		}
		if len(old) > 0 {
			es, err := decodeExtents(old[0].Extents)
			if err != nil {
				return err
			}
			for _, e := range es {
				delta[e.ChunkID]--
			}
			if err := tx.Model(&partRow{}).Where("upload_id = ? AND number = ?", uploadID, p.Number).
				Updates(map[string]any{"size": row.Size, "etag": row.ETag, "checksums": row.Checksums, "extents": row.Extents, "mod_ns": row.ModNS}).Error; err != nil {
				return err
			}
		} else {
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
			if res.Error != nil {
				return res.Error
			}
			if res.RowsAffected == 0 {
				return errRetry // the same part number was written concurrently
			}
		}
		return s.applyRefs(tx, delta)
	})
}

// ListParts returns parts after afterPart in ascending order, with extents and chunks.
func (s *Store) ListParts(ctx context.Context, uploadID string, afterPart, limit int) ([]meta.Part, bool, error) {
	limit = pageLimit(limit)
	db := s.rdb.WithContext(ctx)
	var up []uploadRow
	if err := db.Select("id").Where("id = ?", uploadID).Limit(1).Find(&up).Error; err != nil {
		return nil, false, classify("list parts", err)
	}
	if len(up) == 0 {
		return nil, false, fmt.Errorf("meta list parts: upload %q: %w", uploadID, meta.ErrNotFound)
	}
	var rows []partRow
	if err := db.Where("upload_id = ? AND number > ?", uploadID, afterPart).Order("number").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, false, classify("list parts", err)
	}
	if len(rows) == 0 {
		// The upload may have been completed or aborted between the two statements (its
		// parts go with it in one transaction): say so rather than "no parts", which a
		// concurrent CompleteMultipartUpload would report as InvalidPart.
		var still []uploadRow
		if err := db.Select("id").Where("id = ?", uploadID).Limit(1).Find(&still).Error; err != nil {
			return nil, false, classify("list parts", err)
		}
		if len(still) == 0 {
			return nil, false, fmt.Errorf("meta list parts: upload %q: %w", uploadID, meta.ErrNotFound)
		}
	}
	truncated := len(rows) > limit
	if truncated {
		rows = rows[:limit]
	}
	parts := make([]meta.Part, len(rows))
	var ids []int64
	for i, r := range rows {
		cs, err := decodeMap(r.Checksums)
		if err != nil {
			return nil, false, classify("list parts", err)
		}
		es, err := decodeExtents(r.Extents)
		if err != nil {
			return nil, false, classify("list parts", err)
		}
		for _, e := range es {
			ids = append(ids, e.ChunkID)
		}
		parts[i] = meta.Part{Number: r.Number, Size: r.Size, ETag: r.ETag, Checksums: cs, Extents: es, LastModified: fromNS(r.ModNS)}
	}
	// Fill every extent's chunk with one query.
	if len(ids) > 0 {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		byID := make(map[int64]meta.Chunk, len(ids))
		for len(ids) > 0 {
			batch := ids[:min(len(ids), 1000)]
			ids = ids[len(batch):]
			cs, err := s.chunks("list parts", db.Table("chunks").Where("id IN ?", batch))
			if err != nil {
				return nil, false, err
			}
			for _, c := range cs {
				byID[c.ID] = c
			}
		}
		for i := range parts {
			for j := range parts[i].Extents {
				parts[i].Extents[j].Chunk = byID[parts[i].Extents[j].ChunkID]
			}
		}
	}
	return parts, truncated, nil
}

// ListUploads pages uploads of a bucket by (key, upload id), rolling keys up into common
// prefixes like ListObjects.
func (s *Store) ListUploads(ctx context.Context, bucket string, q meta.UploadListQuery) (meta.UploadListResult, error) {
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var res meta.UploadListResult
	idMarker := q.UploadIDMarker
	if q.KeyMarker == "" {
		idMarker = ""
	}
	pos, ok := startPos(q.Prefix, q.Delimiter, q.KeyMarker, idMarker)
	if !ok {
		return res, nil
	}
	end, hasEnd := "", false
	if q.Prefix != "" {
		end, hasEnd = successor(q.Prefix)
	}
	db := s.rdb.WithContext(ctx)
	fetch := func(p listPos, n int) ([]uploadRow, error) {
		qq := db.Table("uploads").Where("bucket = ?", bucket)
		switch {
		case p.ByID:
			qq = qq.Where("(object_key, id) > (?, ?)", p.Key, p.ID)
		case p.Inclusive:
			qq = qq.Where("object_key >= ?", p.Key)
		default:
			qq = qq.Where("object_key > ?", p.Key)
		}
		if hasEnd {
			qq = qq.Where("object_key < ?", end)
		}
		var rows []uploadRow
		err := qq.Order("object_key, id").Limit(n).Find(&rows).Error
		return rows, err
	}
	entries, truncated, err := walkPage(q.Prefix, q.Delimiter, pos, limit, fetch,
		func(r uploadRow) string { return string(r.ObjectKey) },
		func(r uploadRow) listPos { return listPos{Key: string(r.ObjectKey), ID: string(r.ID), ByID: true} })
	if err != nil {
		return res, classify("list uploads", err)
	}
	res.Truncated = truncated
	for _, e := range entries {
		if e.Prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, e.Key)
			continue
		}
		u, err := uploadFromRow(e.Val)
		if err != nil {
			return meta.UploadListResult{}, classify("list uploads", err)
		}
		res.Uploads = append(res.Uploads, u)
	}
	if len(entries) > 0 {
		last := entries[len(entries)-1]
		res.NextKeyMarker = last.Key
		if !last.Prefix {
			res.NextUploadIDMarker = string(last.Val.ID)
		}
	}
	return res, nil
}

// partsRefs adds minus one reference per extent of every part of the upload to delta.
func partsRefs(tx *gorm.DB, uploadID string, delta map[int64]int64) error {
	var rows []partRow
	if err := tx.Select("extents").Where("upload_id = ?", uploadID).Find(&rows).Error; err != nil {
		return err
	}
	for _, r := range rows {
		es, err := decodeExtents(r.Extents)
		if err != nil {
			return err
		}
		for _, e := range es {
			delta[e.ChunkID]--
		}
	}
	return nil
}

func dropUpload(tx *gorm.DB, uploadID string) error {
	if err := tx.Exec("DELETE FROM parts WHERE upload_id = ?", uploadID).Error; err != nil {
		return err
	}
	return tx.Exec("DELETE FROM uploads WHERE id = ?", uploadID).Error
}

// CompleteUpload writes o and removes the upload in one transaction; the parts' references
// and the object's are netted per chunk, so a chunk moving from a part to the object is
// counted once and never passes through zero.
func (s *Store) CompleteUpload(ctx context.Context, uploadID string, o meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	if err := validateObject(o); err != nil {
		return nil, fmt.Errorf("meta complete upload: %w", err)
	}
	var replaced *meta.Object
	err := s.tx(ctx, "complete upload", func(tx *gorm.DB) error {
		// The bucket before the upload, in DeleteBucket's order (which aborts the
		// bucket's uploads under its bucket lock): the other order can deadlock.
		if err := s.lockBucketShared(tx, o.Bucket); err != nil {
			return err
		}
		u, err := s.lockUpload(tx, uploadID, "UPDATE")
		if err != nil {
			return err
		}
		if string(u.Bucket) != o.Bucket || string(u.ObjectKey) != o.Key {
			return fmt.Errorf("upload %q is for %s/%s, not %s/%s: %w", uploadID, u.Bucket, u.ObjectKey, o.Bucket, o.Key, meta.ErrInvalid)
		}
		delta := map[int64]int64{}
		if err := partsRefs(tx, uploadID, delta); err != nil {
			return err
		}
		if err := dropUpload(tx, uploadID); err != nil {
			return err
		}
		replaced, err = s.putObjectTx(tx, o, cond, delta)
		return err
	})
	return replaced, err
}

// AbortUpload removes the upload and releases its parts' references.
func (s *Store) AbortUpload(ctx context.Context, uploadID string) error {
	return s.tx(ctx, "abort upload", func(tx *gorm.DB) error {
		if _, err := s.lockUpload(tx, uploadID, "UPDATE"); err != nil {
			return err
		}
		delta := map[int64]int64{}
		if err := partsRefs(tx, uploadID, delta); err != nil {
			return err
		}
		if err := dropUpload(tx, uploadID); err != nil {
			return err
		}
		return s.applyRefs(tx, delta)
	})
}

// StaleUploads lists uploads initiated before cutoff, oldest first.
func (s *Store) StaleUploads(ctx context.Context, cutoff time.Time, limit int) ([]meta.Upload, error) {
	var rows []uploadRow
	err := s.rdb.WithContext(ctx).Where("initiated_ns < ?", toNS(cutoff)).Order("initiated_ns, id").Limit(pageLimit(limit)).Find(&rows).Error
	if err != nil {
		return nil, classify("stale uploads", err)
	}
	out := make([]meta.Upload, 0, len(rows))
	for _, r := range rows {
		u, err := uploadFromRow(r)
		if err != nil {
			return nil, classify("stale uploads", err)
		}
		out = append(out, u)
	}
	return out, nil
}
