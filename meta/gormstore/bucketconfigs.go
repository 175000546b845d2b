package gormstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"s3proxy/meta"
)

// ---- bucket configurations ----

func bucketConfigFromRow(r bucketConfigRow) meta.BucketConfig {
	return meta.BucketConfig{Bucket: string(r.Bucket), Kind: r.Kind, Value: r.Value, UpdatedAt: fromNS(r.UpdatedNS)}
}

// GetBucketConfig returns the bucket's document of kind, or ErrNotFound.
func (s *Store) GetBucketConfig(ctx context.Context, bucket, kind string) (meta.BucketConfig, error) {
	var rows []bucketConfigRow
	if err := s.rdb.WithContext(ctx).Where("bucket = ? AND kind = ?", bucket, kind).Limit(1).Find(&rows).Error; err != nil {
		return meta.BucketConfig{}, classify("get bucket config", err)
	}
	if len(rows) == 0 {
		return meta.BucketConfig{}, fmt.Errorf("meta get bucket config %s of %q: %w", kind, bucket, meta.ErrNotFound)
	}
	return bucketConfigFromRow(rows[0]), nil
}

// PutBucketConfig creates or replaces the bucket's document of c.Kind. The bucket row is
// held (KEY SHARE on PostgreSQL; SQLite's one writer excludes the rest) so that a
// concurrent DeleteBucket either runs first, and this finds no bucket, or waits and then
// drops the document with the bucket.
func (s *Store) PutBucketConfig(ctx context.Context, c meta.BucketConfig) error {
	if c.Bucket == "" || c.Kind == "" {
		return fmt.Errorf("meta put bucket config: empty bucket or kind: %w", meta.ErrInvalid)
	}
	return s.tx(ctx, "put bucket config", func(tx *gorm.DB) error {
		if err := s.lockBucketShared(tx, c.Bucket); err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO bucket_configs (bucket, kind, value, updated_ns) VALUES (?, ?, ?, ?)
			ON CONFLICT (bucket, kind) DO UPDATE SET value = excluded.value, updated_ns = excluded.updated_ns`,
			c.Bucket, c.Kind, c.Value, nowNS()).Error
	})
}

// DeleteBucketConfig removes the bucket's document of kind, if any.
func (s *Store) DeleteBucketConfig(ctx context.Context, bucket, kind string) error {
	return s.tx(ctx, "delete bucket config", func(tx *gorm.DB) error {
		return tx.Exec("DELETE FROM bucket_configs WHERE bucket = ? AND kind = ?", bucket, kind).Error
	})
}

// ListBucketConfigs pages the documents of kind in bucket order, from the kind index.
func (s *Store) ListBucketConfigs(ctx context.Context, kind, after string, limit int) ([]meta.BucketConfig, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var rows []bucketConfigRow
	if err := s.rdb.WithContext(ctx).Where("kind = ? AND bucket > ?", kind, after).Order("bucket").Limit(limit).Find(&rows).Error; err != nil {
		return nil, classify("list bucket configs", err)
	}
	out := make([]meta.BucketConfig, len(rows))
	for i, r := range rows {
		out[i] = bucketConfigFromRow(r)
	}
	return out, nil
}
