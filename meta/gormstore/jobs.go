package gormstore

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"s3proxy/meta"
)

// Enqueue inserts a pending job.
func (s *Store) Enqueue(ctx context.Context, kind, payload string, runAfter time.Time) error {
	if kind == "" {
		return fmt.Errorf("meta enqueue: empty kind: %w", meta.ErrInvalid)
	}
	now := nowNS()
	ra := toNS(runAfter)
	if ra == 0 {
		ra = now
	}
	row := jobRow{Kind: kind, Payload: payload, State: "pending", RunAfterNS: ra, UpdatedNS: now}
	// In a transaction, as every write of the store is (see stmtPool.wal): a Create
	// reads the new id back with RETURNING.
	return s.tx(ctx, "enqueue", func(tx *gorm.DB) error { return tx.Create(&row).Error })
}

func jobFromRow(r jobRow) meta.Job {
	j := meta.Job{
		ID: r.ID, Kind: r.Kind, Payload: r.Payload, State: r.State, Attempts: r.Attempts,
		LastError: r.LastError, RunAfter: fromNS(r.RunAfterNS), UpdatedAt: fromNS(r.UpdatedNS),
	}
	if r.LeaseUntilNS != nil {
		t := fromNS(*r.LeaseUntilNS)
		j.LeaseUntil = &t
	}
	return j
}

// Claim leases the oldest runnable job of kinds (any kind if empty) with one UPDATE whose
// subquery picks the row: on PostgreSQL FOR UPDATE SKIP LOCKED makes concurrent claimers
// take different jobs; on SQLite the statement runs under the database write lock, which
// excludes other processes too.
func (s *Store) Claim(ctx context.Context, kinds []string, lease time.Duration) (meta.Job, error) {
	if lease <= 0 {
		return meta.Job{}, fmt.Errorf("meta claim: lease %v: %w", lease, meta.ErrInvalid)
	}
	now := nowNS()
	until := now + int64(lease)
	sub := `SELECT id FROM jobs WHERE ((state = 'pending' AND run_after_ns <= ?) OR (state = 'running' AND lease_until_ns < ?))`
	args := []any{until, now, now, now}
	if len(kinds) > 0 {
		sub += " AND kind IN ?"
		args = append(args, kinds)
	}
	sub += " ORDER BY run_after_ns, id LIMIT 1"
	if s.pg {
		sub += " FOR UPDATE SKIP LOCKED"
	}
	var rows []jobRow
	err := s.tx(ctx, "claim", func(tx *gorm.DB) error {
		rows = nil
		return tx.Raw(`UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_until_ns = ?, updated_ns = ?
		WHERE id = (`+sub+`) RETURNING *`, args...).Scan(&rows).Error
	})
	if err != nil {
		return meta.Job{}, err
	}
	if len(rows) == 0 {
		return meta.Job{}, fmt.Errorf("meta claim: no runnable job: %w", meta.ErrNotFound)
	}
	return jobFromRow(rows[0]), nil
}

// Finish completes a job, or records a failure and schedules a retry or gives up.
func (s *Store) Finish(ctx context.Context, id int64, errText string, retryAt time.Time) error {
	set := map[string]any{"lease_until_ns": nil, "updated_ns": nowNS(), "last_error": errText}
	switch {
	case errText == "":
		set["state"] = "done"
	case retryAt.IsZero():
		set["state"] = "failed"
	default:
		set["state"] = "pending"
		set["run_after_ns"] = toNS(retryAt)
	}
	res := s.db.WithContext(ctx).Table("jobs").Where("id = ?", id).Updates(set)
	if res.Error != nil {
		return classify("finish", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("meta finish: job %d: %w", id, meta.ErrNotFound)
	}
	return nil
}

// Heartbeat registers or refreshes a node.
func (s *Store) Heartbeat(ctx context.Context, n meta.Node) error {
	if n.ID == "" {
		return fmt.Errorf("meta heartbeat: empty node id: %w", meta.ErrInvalid)
	}
	hb := toNS(n.Heartbeat)
	if hb == 0 {
		hb = nowNS()
	}
	row := nodeRow{ID: n.ID, Address: n.Address, HeartbeatNS: hb}
	return s.tx(ctx, "heartbeat", func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "id"}},
			DoUpdates: clause.AssignmentColumns([]string{"address", "heartbeat_ns"}),
		}).Create(&row).Error
	})
}

// ListNodes returns the registered nodes by id.
func (s *Store) ListNodes(ctx context.Context) ([]meta.Node, error) {
	var rows []nodeRow
	if err := s.rdb.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, classify("list nodes", err)
	}
	out := make([]meta.Node, len(rows))
	for i, r := range rows {
		out[i] = meta.Node{ID: r.ID, Address: r.Address, Heartbeat: fromNS(r.HeartbeatNS)}
	}
	return out, nil
}

// GetOrCreateSetting stores value under name unless present, and returns the stored value
// (so concurrent first starts agree on one generated secret).
func (s *Store) GetOrCreateSetting(ctx context.Context, name, value string) (string, error) {
	var out string
	err := s.tx(ctx, "setting", func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&settingRow{Name: name, Value: value}).Error; err != nil {
			return err
		}
		var rows []settingRow
		if err := tx.Where("name = ?", name).Limit(1).Find(&rows).Error; err != nil {
			return err
		}
		if len(rows) == 0 {
			return errRetry
		}
		out = rows[0].Value
		return nil
	})
	return out, err
}

// TryLock takes name for owner until now+ttl if it is free, expired, or already owner's
// (which extends it), in one upsert.
func (s *Store) TryLock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error) {
	if name == "" || owner == "" || ttl <= 0 {
		return false, fmt.Errorf("meta try lock: %w", meta.ErrInvalid)
	}
	now := nowNS()
	res := s.db.WithContext(ctx).Exec(`INSERT INTO locks (name, owner, expires_ns) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ns = excluded.expires_ns
		WHERE locks.expires_ns <= ? OR locks.owner = excluded.owner`, name, owner, now+int64(ttl), now)
	if res.Error != nil {
		return false, classify("try lock", res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Unlock releases name if owner holds it; releasing a lock not held is not an error.
func (s *Store) Unlock(ctx context.Context, name, owner string) error {
	return classify("unlock", s.db.WithContext(ctx).Exec("DELETE FROM locks WHERE name = ? AND owner = ?", name, owner).Error)
}

// Stats sums the tables with plain aggregates (index-only scans where the engine can).
func (s *Store) Stats(ctx context.Context) (meta.Stats, error) {
	db := s.rdb.WithContext(ctx)
	var st meta.Stats
	var agg struct {
		N int64
		B int64
	}
	if err := db.Raw("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM objects").Scan(&agg).Error; err != nil {
		return st, classify("stats", err)
	}
	st.Objects, st.LogicalBytes = agg.N, agg.B
	if err := db.Raw("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM object_versions WHERE NOT delete_marker").Scan(&agg).Error; err != nil {
		return st, classify("stats", err)
	}
	st.Versions, st.VersionBytes = agg.N, agg.B
	if err := db.Raw("SELECT COUNT(*) FROM object_versions WHERE delete_marker").Scan(&st.DeleteMarkers).Error; err != nil {
		return st, classify("stats", err)
	}
	if err := db.Raw("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM chunks").Scan(&agg).Error; err != nil {
		return st, classify("stats", err)
	}
	st.Chunks, st.StoredBytes = agg.N, agg.B
	if err := db.Raw("SELECT COUNT(*) AS n, COALESCE(SUM(size), 0) AS b FROM chunks WHERE backend = ?", meta.InlineBackend).Scan(&agg).Error; err != nil {
		return st, classify("stats", err)
	}
	st.InlineChunks, st.InlineBytes = agg.N, agg.B
	if err := db.Raw("SELECT COUNT(*) FROM uploads").Scan(&st.Uploads).Error; err != nil {
		return st, classify("stats", err)
	}
	var jobs []struct {
		State string
		N     int64
	}
	if err := db.Raw("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state").Scan(&jobs).Error; err != nil {
		return st, classify("stats", err)
	}
	st.Jobs = map[string]int64{}
	for _, j := range jobs {
		st.Jobs[j.State] = j.N
	}
	return st, nil
}
