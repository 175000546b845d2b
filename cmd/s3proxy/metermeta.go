package main

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/meta"
)

// metaMetrics times the metadata store's operations on the request path, as the
// database serves them: the store is wrapped inside the caches, so a cache hit is not an
// operation here and a miss is.
type metaMetrics struct {
	latency *prometheus.HistogramVec
	errs    *prometheus.CounterVec
	// walSyncs and walCommits: SQLite's group fdatasyncs of its WAL (gormstore/walsync.go)
	// and the commits they made durable; their ratio is the mean group size.
	walSyncs   prometheus.Histogram
	walCommits prometheus.Counter
}

func newMetaMetrics(reg *prometheus.Registry) *metaMetrics {
	m := &metaMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "s3proxy_meta_operation_seconds",
			Help:    "Metadata store operation latency by operation, cache hits excluded (on SQLite, writes include waiting for their WAL sync).",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 20)}, []string{"op"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "s3proxy_meta_errors_total",
			Help: "Failed metadata store operations by operation (not found and failed preconditions excluded)."}, []string{"op"}),
		walSyncs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "s3proxy_sqlite_wal_sync_seconds",
			Help:    "Duration of each group fdatasync of SQLite's WAL that makes commits durable.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 20)}),
		walCommits: prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_sqlite_wal_synced_commits_total",
			Help: "Commits made durable by WAL syncs (divided by the syncs: the mean group size)."}),
	}
	reg.MustRegister(m.latency, m.errs, m.walSyncs, m.walCommits)
	return m
}

// walSynced is gormstore's WAL sync observer.
func (m *metaMetrics) walSynced(d time.Duration, commits int) {
	m.walSyncs.Observe(d.Seconds())
	m.walCommits.Add(float64(commits))
}

func (m *metaMetrics) wrap(s meta.MetaStore) meta.MetaStore { return &meteredMeta{MetaStore: s, m: m} }

// meteredMeta times the operations requests make; the rest (GC, jobs, admin) pass through.
type meteredMeta struct {
	meta.MetaStore
	m *metaMetrics
}

// observe records one operation; errp is the operation's named result, read when the
// deferred call runs.
func (s *meteredMeta) observe(op string, start time.Time, errp *error) {
	s.m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if err := *errp; err != nil && !errors.Is(err, meta.ErrNotFound) && !errors.Is(err, meta.ErrPreconditionFailed) && !errors.Is(err, meta.ErrAlreadyExists) {
		s.m.errs.WithLabelValues(op).Inc()
	}
}

func (s *meteredMeta) CreateBucket(ctx context.Context, b meta.Bucket) (err error) {
	defer s.observe("create_bucket", time.Now(), &err)
	return s.MetaStore.CreateBucket(ctx, b)
}

func (s *meteredMeta) GetBucket(ctx context.Context, name string) (b meta.Bucket, err error) {
	defer s.observe("get_bucket", time.Now(), &err)
	return s.MetaStore.GetBucket(ctx, name)
}

func (s *meteredMeta) ListBuckets(ctx context.Context) (bs []meta.Bucket, err error) {
	defer s.observe("list_buckets", time.Now(), &err)
	return s.MetaStore.ListBuckets(ctx)
}

func (s *meteredMeta) DeleteBucket(ctx context.Context, name string) (err error) {
	defer s.observe("delete_bucket", time.Now(), &err)
	return s.MetaStore.DeleteBucket(ctx, name)
}

func (s *meteredMeta) GetObject(ctx context.Context, bucket, key string) (o meta.Object, err error) {
	defer s.observe("get_object", time.Now(), &err)
	return s.MetaStore.GetObject(ctx, bucket, key)
}

func (s *meteredMeta) PutObject(ctx context.Context, o meta.Object, cond meta.WriteCondition) (old *meta.Object, err error) {
	defer s.observe("put_object", time.Now(), &err)
	return s.MetaStore.PutObject(ctx, o, cond)
}

func (s *meteredMeta) DeleteObject(ctx context.Context, bucket, key string, cond meta.WriteCondition) (o meta.Object, err error) {
	defer s.observe("delete_object", time.Now(), &err)
	return s.MetaStore.DeleteObject(ctx, bucket, key, cond)
}

func (s *meteredMeta) GetObjectVersion(ctx context.Context, bucket, key, versionID string) (o meta.Object, err error) {
	defer s.observe("get_object_version", time.Now(), &err)
	return s.MetaStore.GetObjectVersion(ctx, bucket, key, versionID)
}

func (s *meteredMeta) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string, cond meta.VersionCondition) (o meta.Object, err error) {
	defer s.observe("delete_object_version", time.Now(), &err)
	return s.MetaStore.DeleteObjectVersion(ctx, bucket, key, versionID, cond)
}

func (s *meteredMeta) PutDeleteMarker(ctx context.Context, m meta.Object, cond meta.WriteCondition) (old *meta.Object, err error) {
	defer s.observe("put_delete_marker", time.Now(), &err)
	return s.MetaStore.PutDeleteMarker(ctx, m, cond)
}

func (s *meteredMeta) SetVersionHeaders(ctx context.Context, bucket, key, versionID string, headers, ifHeaders map[string]string) (err error) {
	defer s.observe("set_version_headers", time.Now(), &err)
	return s.MetaStore.SetVersionHeaders(ctx, bucket, key, versionID, headers, ifHeaders)
}

func (s *meteredMeta) ListObjectVersions(ctx context.Context, bucket string, q meta.VersionListQuery) (r meta.VersionListResult, err error) {
	defer s.observe("list_object_versions", time.Now(), &err)
	return s.MetaStore.ListObjectVersions(ctx, bucket, q)
}

func (s *meteredMeta) ListObjects(ctx context.Context, bucket string, q meta.ListQuery) (r meta.ListResult, err error) {
	defer s.observe("list_objects", time.Now(), &err)
	return s.MetaStore.ListObjects(ctx, bucket, q)
}

func (s *meteredMeta) FindObjectBySHA256(ctx context.Context, sum [32]byte, scope string) (o meta.Object, err error) {
	defer s.observe("find_object_by_sha256", time.Now(), &err)
	return s.MetaStore.FindObjectBySHA256(ctx, sum, scope)
}

func (s *meteredMeta) InsertChunk(ctx context.Context, c meta.Chunk, scope string) (got meta.Chunk, created bool, err error) {
	defer s.observe("insert_chunk", time.Now(), &err)
	return s.MetaStore.InsertChunk(ctx, c, scope)
}

func (s *meteredMeta) FindChunk(ctx context.Context, sum [32]byte, scope string) (c meta.Chunk, err error) {
	defer s.observe("find_chunk", time.Now(), &err)
	return s.MetaStore.FindChunk(ctx, sum, scope)
}

func (s *meteredMeta) GetChunk(ctx context.Context, id int64) (c meta.Chunk, err error) {
	defer s.observe("get_chunk", time.Now(), &err)
	return s.MetaStore.GetChunk(ctx, id)
}

func (s *meteredMeta) CreateUpload(ctx context.Context, u meta.Upload) (err error) {
	defer s.observe("create_upload", time.Now(), &err)
	return s.MetaStore.CreateUpload(ctx, u)
}

func (s *meteredMeta) GetUpload(ctx context.Context, bucket, key, id string) (u meta.Upload, err error) {
	defer s.observe("get_upload", time.Now(), &err)
	return s.MetaStore.GetUpload(ctx, bucket, key, id)
}

func (s *meteredMeta) PutPart(ctx context.Context, uploadID string, p meta.Part) (err error) {
	defer s.observe("put_part", time.Now(), &err)
	return s.MetaStore.PutPart(ctx, uploadID, p)
}

func (s *meteredMeta) ListParts(ctx context.Context, uploadID string, afterPart, limit int) (parts []meta.Part, truncated bool, err error) {
	defer s.observe("list_parts", time.Now(), &err)
	return s.MetaStore.ListParts(ctx, uploadID, afterPart, limit)
}

func (s *meteredMeta) ListUploads(ctx context.Context, bucket string, q meta.UploadListQuery) (r meta.UploadListResult, err error) {
	defer s.observe("list_uploads", time.Now(), &err)
	return s.MetaStore.ListUploads(ctx, bucket, q)
}

func (s *meteredMeta) CompleteUpload(ctx context.Context, uploadID string, o meta.Object, cond meta.WriteCondition) (old *meta.Object, err error) {
	defer s.observe("complete_upload", time.Now(), &err)
	return s.MetaStore.CompleteUpload(ctx, uploadID, o, cond)
}

func (s *meteredMeta) AbortUpload(ctx context.Context, uploadID string) (err error) {
	defer s.observe("abort_upload", time.Now(), &err)
	return s.MetaStore.AbortUpload(ctx, uploadID)
}

func (s *meteredMeta) GetBucketConfig(ctx context.Context, bucket, kind string) (c meta.BucketConfig, err error) {
	defer s.observe("get_bucket_config", time.Now(), &err)
	return s.MetaStore.GetBucketConfig(ctx, bucket, kind)
}

func (s *meteredMeta) PutBucketConfig(ctx context.Context, c meta.BucketConfig) (err error) {
	defer s.observe("put_bucket_config", time.Now(), &err)
	return s.MetaStore.PutBucketConfig(ctx, c)
}

func (s *meteredMeta) DeleteBucketConfig(ctx context.Context, bucket, kind string) (err error) {
	defer s.observe("delete_bucket_config", time.Now(), &err)
	return s.MetaStore.DeleteBucketConfig(ctx, bucket, kind)
}
