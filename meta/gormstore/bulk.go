package gormstore

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"s3proxy/meta"
)

// bulkBatch rows go into one INSERT. Small, because the SQLite driver finds each bound
// parameter by a linear search over all of them (see extentBatch): 64 rows of 16
// columns is cheap there and still few statements.
const bulkBatch = 64

// BulkInsertEmptyObjects inserts zero-byte objects (no manifest, so no chunk references
// to count) under new keys of an existing bucket, a batch per statement and one
// transaction per call. It skips the per-object write path (conditions, replacing an
// older version), so an existing key makes it fail with meta.ErrAlreadyExists. It is
// for tools that populate a store quickly: the benchmark's million-key listing bucket.
func (s *Store) BulkInsertEmptyObjects(ctx context.Context, objs []meta.Object) error {
	rows := make([]objectRow, 0, len(objs))
	for _, o := range objs {
		if o.Bucket == "" || o.Key == "" || o.Size != 0 || len(o.Manifest) != 0 {
			return fmt.Errorf("meta bulk insert: %s/%s is not an empty object: %w", o.Bucket, o.Key, meta.ErrInvalid)
		}
		rows = append(rows, objectToRow(o))
	}
	return s.tx(ctx, "bulk insert objects", func(tx *gorm.DB) error {
		return tx.CreateInBatches(rows, bulkBatch).Error
	})
}
