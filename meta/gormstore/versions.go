package gormstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"s3proxy/meta"
)

// Versions. The current version of a key is its objects row; every other version, and a
// delete marker, is an object_versions row (see versionRow). A bucket never versioned
// has no such rows, and its writes take the paths they always took.

// replaceVersion takes cur (the key's locked current row, nil if none) out of the way of
// a new current version or delete marker, as mode says: dropped, its references released
// into delta (a bucket never versioned, or the null version while versioning is
// suspended), or kept as the newest noncurrent version, its extents and references left
// as they are. While suspended the null version among the noncurrent ones is dropped
// too: the new version is the null one. It returns the replaced version, nil if none.
func (s *Store) replaceVersion(tx *gorm.DB, bucket, key string, cur *objectRow, mode meta.Versioning, delta map[int64]int64) (*meta.Object, error) {
	if mode == meta.VersionsSuspended {
		if err := s.dropNullVersion(tx, bucket, key, delta); err != nil {
			return nil, err
		}
	}
	if cur == nil {
		return nil, nil
	}
	old, err := objectFromRow(*cur)
	if err != nil {
		return nil, err
	}
	keep := mode == meta.VersionsEnabled || mode == meta.VersionsSuspended && cur.VersionID != ""
	if !keep {
		return &old, s.dropObjectTx(tx, cur.ID, delta)
	}
	v := archived(*cur)
	if err := tx.Create(&v).Error; err != nil {
		return nil, err
	}
	return &old, tx.Exec("DELETE FROM objects WHERE id = ?", cur.ID).Error
}

// dropNullVersion removes the key's noncurrent null version, if it has one.
func (s *Store) dropNullVersion(tx *gorm.DB, bucket, key string, delta map[int64]int64) error {
	var rows []versionRow
	if err := s.lock(tx, "UPDATE").Where("bucket = ? AND object_key = ? AND version_id = ''", bucket, key).
		Limit(1).Find(&rows).Error; err != nil {
		return err
	}
	if len(rows) == 0 {
		return nil
	}
	return s.dropVersionTx(tx, rows[0], delta)
}

// dropVersionTx deletes a noncurrent version (or delete marker) and its extents, adding
// the released references to delta.
func (s *Store) dropVersionTx(tx *gorm.DB, v versionRow, delta map[int64]int64) error {
	if v.ObjectID != 0 { // a delete marker has no extents
		if err := s.dropExtentsTx(tx, v.ObjectID, delta); err != nil {
			return err
		}
	}
	return tx.Exec("DELETE FROM object_versions WHERE seq = ?", v.Seq).Error
}

// GetObjectVersion returns the version versionID of bucket/key, current or not.
func (s *Store) GetObjectVersion(ctx context.Context, bucket, key, versionID string) (meta.Object, error) {
	const op = "get object version"
	// A version moves between the two tables only when it stops or starts being
	// current; a read that missed it in both (it was promoted back to current between
	// the two statements) looks at the current row once more.
	for _, q := range []string{s.queries.byVersion, s.queries.archivedByVersion, s.queries.byVersion} {
		o, err := s.readObject(ctx, op, q, bucket, key, versionID)
		if !errors.Is(err, meta.ErrNotFound) {
			return o, err
		}
	}
	return meta.Object{}, fmt.Errorf("meta %s %s/%s %q: %w", op, bucket, key, versionID, meta.ErrNotFound)
}

// PutDeleteMarker makes m the newest version of its key.
func (s *Store) PutDeleteMarker(ctx context.Context, m meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	if m.Bucket == "" || m.Key == "" || cond.Versioning == meta.Unversioned {
		return nil, fmt.Errorf("meta put delete marker: empty bucket or key, or unversioned: %w", meta.ErrInvalid)
	}
	mod := toNS(m.ModTime)
	if mod == 0 {
		mod = nowNS()
	}
	var replaced *meta.Object
	err := s.tx(ctx, "put delete marker", func(tx *gorm.DB) error {
		if err := s.lockBucketShared(tx, m.Bucket); err != nil {
			return err
		}
		cur, err := s.lockObject(tx, m.Bucket, m.Key, true)
		if err != nil {
			return err
		}
		if err := checkCondition(cond, cur); err != nil {
			return err
		}
		delta := map[int64]int64{}
		if replaced, err = s.replaceVersion(tx, m.Bucket, m.Key, cur, cond.Versioning, delta); err != nil {
			return err
		}
		marker := versionRow{Bucket: ckey(m.Bucket), ObjectKey: ckey(m.Key), VersionID: m.VersionID, DeleteMarker: true,
			Owner: m.Owner, ModNS: mod}
		if err := tx.Create(&marker).Error; err != nil {
			return err
		}
		return s.applyRefs(tx, delta)
	})
	if err != nil {
		return nil, err
	}
	s.stats.wrote()
	return replaced, nil
}

// DeleteObjectVersion removes one version for good.
func (s *Store) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string, cond meta.VersionCondition) (meta.Object, error) {
	var out meta.Object
	err := s.tx(ctx, "delete object version", func(tx *gorm.DB) error {
		if err := s.lockBucketShared(tx, bucket); err != nil {
			return err
		}
		cur, err := s.lockObject(tx, bucket, key, true)
		if err != nil {
			return err
		}
		delta := map[int64]int64{}
		if cur != nil && cur.VersionID == versionID {
			if cond.OnlyNoncurrent {
				return fmt.Errorf("%s/%s version %q is current: %w", bucket, key, versionID, meta.ErrPreconditionFailed)
			}
			if err := headersMatch(cur.Headers, cond.IfHeaders); err != nil {
				return err
			}
			if out, err = objectFromRow(*cur); err != nil {
				return err
			}
			if err := s.dropObjectTx(tx, cur.ID, delta); err != nil {
				return err
			}
			cur = nil
		} else {
			var rows []versionRow
			if err := s.lock(tx, "UPDATE").Where("bucket = ? AND object_key = ? AND version_id = ?", bucket, key, versionID).
				Limit(1).Find(&rows).Error; err != nil {
				return err
			}
			if len(rows) == 0 {
				// Under READ COMMITTED the version may have been made current (a removal
				// of the version above it committed while this one waited for its row).
				if now, err := s.lockObject(tx, bucket, key, true); err != nil {
					return err
				} else if now != nil && now.VersionID == versionID {
					return errRetry
				}
				return fmt.Errorf("%s/%s version %q: %w", bucket, key, versionID, meta.ErrNotFound)
			}
			if err := headersMatch(rows[0].Headers, cond.IfHeaders); err != nil {
				return err
			}
			if out, err = versionFromRow(rows[0]); err != nil {
				return err
			}
			if err := s.dropVersionTx(tx, rows[0], delta); err != nil {
				return err
			}
		}
		if cur == nil {
			if err := s.promoteNewest(tx, bucket, key); err != nil {
				return err
			}
		}
		return s.applyRefs(tx, delta)
	})
	if err == nil {
		s.stats.wrote()
	}
	return out, err
}

// promoteNewest makes the key's newest noncurrent version its current one again, when
// the key has no current version and that newest one is not a delete marker (S3: removing
// the current version, or the delete marker in front of one, uncovers the version below).
func (s *Store) promoteNewest(tx *gorm.DB, bucket, key string) error {
	var rows []versionRow
	if err := s.lock(tx, "UPDATE").Where("bucket = ? AND object_key = ?", bucket, key).
		Order("seq DESC").Limit(1).Find(&rows).Error; err != nil {
		return err
	}
	if len(rows) == 0 || rows[0].DeleteMarker {
		return nil
	}
	row := current(rows[0])
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return errRetry // a writer made a current version meanwhile: start over
	}
	return tx.Exec("DELETE FROM object_versions WHERE seq = ?", rows[0].Seq).Error
}

func versionFromRow(v versionRow) (meta.Object, error) {
	o, err := objectFromRow(current(v))
	o.DeleteMarker = v.DeleteMarker
	return o, err
}

// SetVersionHeaders replaces a noncurrent version's headers.
func (s *Store) SetVersionHeaders(ctx context.Context, bucket, key, versionID string, headers, ifHeaders map[string]string) error {
	return s.tx(ctx, "set version headers", func(tx *gorm.DB) error {
		var rows []versionRow
		if err := s.lock(tx, "UPDATE").Where("bucket = ? AND object_key = ? AND version_id = ? AND NOT delete_marker", bucket, key, versionID).
			Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return fmt.Errorf("%s/%s noncurrent version %q: %w", bucket, key, versionID, meta.ErrNotFound)
		}
		if err := headersMatch(rows[0].Headers, ifHeaders); err != nil {
			return err
		}
		return tx.Exec("UPDATE object_versions SET headers = ? WHERE seq = ?", encodeMap(headers), rows[0].Seq).Error
	})
}

// headersMatch checks stored headers (their JSON) against a condition (nil: none).
func headersMatch(stored string, want map[string]string) error {
	if want == nil {
		return nil
	}
	have, err := decodeMap(stored)
	if err != nil {
		return err
	}
	for k, v := range want {
		if have[k] != v {
			return fmt.Errorf("header %s is %q, not %q: %w", k, have[k], v, meta.ErrPreconditionFailed)
		}
	}
	return nil
}

// ---- listing versions ----

// archivedOrd turns a noncurrent version's seq into its place among its key's versions,
// newest first after the current one (ord 0): a listing orders by (key, ord).
const ordBase = int64(1) << 62

func archivedOrd(seq int64) int64 { return ordBase - seq }

// ListObjectVersions pages every version of a bucket's keys: for each key (in byte
// order) its current version, then its noncurrent versions and delete markers, newest
// first. Each of the two tables is read from its key index, at most one page's worth,
// and the two are merged.
func (s *Store) ListObjectVersions(ctx context.Context, bucket string, q meta.VersionListQuery) (meta.VersionListResult, error) {
	const op = "list object versions"
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var res meta.VersionListResult
	db := s.rdb.WithContext(ctx)
	afterID := ""
	if q.KeyMarker != "" && q.VersionIDMarker != nil {
		ord, err := s.versionOrd(db, bucket, q.KeyMarker, *q.VersionIDMarker)
		if err != nil {
			return res, err
		}
		afterID = strconv.FormatInt(ord, 10)
	}
	pos, ok := startPos(q.Prefix, q.Delimiter, q.KeyMarker, afterID)
	if !ok {
		return res, nil
	}
	end, hasEnd := "", false
	if q.Prefix != "" {
		end, hasEnd = successor(q.Prefix)
	}
	fetch := func(p listPos, n int) ([]listedVersion, error) {
		return s.fetchVersions(db, bucket, p, end, hasEnd, n)
	}
	entries, truncated, err := walkPage(q.Prefix, q.Delimiter, pos, limit, fetch,
		func(r listedVersion) string { return string(r.row.ObjectKey) },
		func(r listedVersion) listPos {
			return listPos{Key: string(r.row.ObjectKey), ID: strconv.FormatInt(r.ord, 10), ByID: true}
		})
	if err != nil {
		return res, classify(op, err)
	}
	res.Truncated = truncated
	for _, e := range entries {
		if e.Prefix {
			res.CommonPrefixes = append(res.CommonPrefixes, e.Key)
			continue
		}
		o, err := objectFromRow(e.Val.row)
		if err != nil {
			return meta.VersionListResult{}, classify(op, err)
		}
		o.DeleteMarker, o.IsLatest = e.Val.marker, e.Val.latest
		res.Versions = append(res.Versions, o)
	}
	if res.Truncated && len(entries) > 0 {
		last := entries[len(entries)-1]
		res.NextKeyMarker = last.Key
		if !last.Prefix {
			id := last.Val.row.VersionID
			res.NextVersionIDMarker = &id
		}
	}
	return res, nil
}

type listedVersion struct {
	row    objectRow
	marker bool
	ord    int64
	latest bool
}

// versionOrd finds where a version marker stands among its key's versions; ErrInvalid if
// the key has no such version (S3 refuses such a marker).
func (s *Store) versionOrd(db *gorm.DB, bucket, key, versionID string) (int64, error) {
	var n []int64
	if err := db.Raw("SELECT 1 FROM objects WHERE bucket = ? AND object_key = ? AND version_id = ?", bucket, key, versionID).Scan(&n).Error; err != nil {
		return 0, classify("list object versions", err)
	}
	if len(n) > 0 {
		return 0, nil
	}
	if err := db.Raw("SELECT seq FROM object_versions WHERE bucket = ? AND object_key = ? AND version_id = ?", bucket, key, versionID).Scan(&n).Error; err != nil {
		return 0, classify("list object versions", err)
	}
	if len(n) == 0 {
		return 0, fmt.Errorf("meta list object versions: version-id-marker %q names no version of %q: %w", versionID, key, meta.ErrInvalid)
	}
	return archivedOrd(n[0]), nil
}

// fetchVersions returns up to n versions at or after p in (key, ord) order, below end.
func (s *Store) fetchVersions(db *gorm.DB, bucket string, p listPos, end string, hasEnd bool, n int) ([]listedVersion, error) {
	var ord int64
	if p.ByID {
		var err error
		if ord, err = strconv.ParseInt(p.ID, 10, 64); err != nil {
			return nil, fmt.Errorf("version position %q: %w", p.ID, meta.ErrInternal)
		}
	}
	// Each branch seeks to the key and reads at most n rows in index order; the rows of
	// the position's own key that come before it are filtered out on the way.
	curWhere, verWhere := "bucket = ? AND object_key > ?", "bucket = ? AND object_key > ?"
	curArgs, verArgs := []any{bucket, p.Key}, []any{bucket, p.Key}
	switch {
	case p.Inclusive:
		curWhere, verWhere = "bucket = ? AND object_key >= ?", "bucket = ? AND object_key >= ?"
	case p.ByID:
		// The current version (ord 0) is before every noncurrent one.
		curWhere = "bucket = ? AND object_key > ?"
		verWhere = "bucket = ? AND object_key >= ? AND (object_key > ? OR seq < ?)"
		verArgs = append(verArgs, p.Key, ordBase-ord)
	}
	if hasEnd {
		curWhere += " AND object_key < ?"
		verWhere += " AND object_key < ?"
		curArgs = append(curArgs, end)
		verArgs = append(verArgs, end)
	}
	curQ := "SELECT " + listCols + ", version_id, 0 AS dm, 0 AS ord, 1 AS latest FROM objects WHERE " + curWhere +
		" ORDER BY object_key LIMIT ?"
	verQ := "SELECT " + listCols + `, version_id, CASE WHEN delete_marker THEN 1 ELSE 0 END AS dm, CAST(? AS BIGINT) - seq AS ord,
		CASE WHEN NOT EXISTS (SELECT 1 FROM objects c WHERE c.bucket = v.bucket AND c.object_key = v.object_key)
			AND NOT EXISTS (SELECT 1 FROM object_versions w WHERE w.bucket = v.bucket AND w.object_key = v.object_key AND w.seq > v.seq)
		THEN 1 ELSE 0 END AS latest
		FROM object_versions v WHERE ` + verWhere + " ORDER BY object_key, seq DESC LIMIT ?"
	cur, err := scanVersions(db.Raw(curQ, append(curArgs, n)...))
	if err != nil {
		return nil, err
	}
	old, err := scanVersions(db.Raw(verQ, append(append([]any{ordBase}, verArgs...), n)...))
	if err != nil {
		return nil, err
	}
	// Merge the two ordered runs, keeping the first n.
	out := make([]listedVersion, 0, min(n, len(cur)+len(old)))
	for len(out) < n && (len(cur) > 0 || len(old) > 0) {
		takeCur := len(old) == 0 || len(cur) > 0 && cur[0].row.ObjectKey <= old[0].row.ObjectKey
		if takeCur {
			out, cur = append(out, cur[0]), cur[1:]
		} else {
			out, old = append(out, old[0]), old[1:]
		}
	}
	return out, nil
}

// scanVersions reads listCols rows followed by version_id, dm, ord and latest.
func scanVersions(q *gorm.DB) ([]listedVersion, error) {
	rows, err := q.Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []listedVersion
	for rows.Next() {
		var v listedVersion
		r := &v.row
		var bucket, key string
		var dm, latest int64
		if err := rows.Scan(listedDest(r, &bucket, &key, &r.VersionID, &dm, &v.ord, &latest)...); err != nil {
			return nil, err
		}
		r.Bucket, r.ObjectKey = ckey(bucket), ckey(key)
		v.marker, v.latest = dm != 0, latest != 0
		out = append(out, v)
	}
	return out, rows.Err()
}
