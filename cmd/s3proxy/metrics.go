package main

import (
	"context"
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/backends"
	"s3proxy/meta/memcache"
	"s3proxy/meta/rediscache"
	"s3proxy/translate"
)

// metrics implements s3api.Observer and exports dedup figures.
type metrics struct {
	requests     *prometheus.CounterVec
	latency      *prometheus.HistogramVec
	bytesIn      prometheus.Counter
	bytesOut     prometheus.Counter
	instantHits  prometheus.Counter
	instantBytes prometheus.Counter
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "s3proxy_requests_total", Help: "S3 requests by operation and HTTP status."}, []string{"op", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "s3proxy_request_duration_seconds", Help: "S3 request latency by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 18)}, []string{"op"}),
		bytesIn:      prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_bytes_in_total", Help: "Request body bytes received."}),
		bytesOut:     prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_bytes_out_total", Help: "Response body bytes sent."}),
		instantHits:  prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_instant_uploads_total", Help: "Uploads completed without reading their body."}),
		instantBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_instant_upload_bytes_saved_total", Help: "Body bytes instant uploads did not transfer."}),
	}
	reg.MustRegister(m.requests, m.latency, m.bytesIn, m.bytesOut, m.instantHits, m.instantBytes)
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// lifecycleMetrics counts what lifecycle passes did, as they do it (a long pass shows
// progress), and how passes ended.
type lifecycleMetrics struct {
	expired      prometheus.Counter
	expiredBytes prometheus.Counter
	aborted      prometheus.Counter
	passes       *prometheus.CounterVec
}

func newLifecycleMetrics(reg *prometheus.Registry) *lifecycleMetrics {
	m := &lifecycleMetrics{
		expired: prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_lifecycle_expired_objects_total",
			Help: "Objects deleted by bucket lifecycle expiration rules."}),
		expiredBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_lifecycle_expired_bytes_total",
			Help: "Logical bytes of the objects deleted by lifecycle expiration rules."}),
		aborted: prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_lifecycle_aborted_uploads_total",
			Help: "Multipart uploads aborted by lifecycle AbortIncompleteMultipartUpload rules."}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "s3proxy_lifecycle_passes_total",
			Help: "Lifecycle passes run by this node, by result (ok, or error: stopped early, for example by an unreachable store)."}, []string{"result"}),
	}
	reg.MustRegister(m.expired, m.expiredBytes, m.aborted, m.passes)
	return m
}

// action is translate.LifecycleOptions.OnAction.
func (m *lifecycleMetrics) action(a translate.LifecycleAction) {
	switch a.Kind {
	case translate.ActionExpire:
		m.expired.Inc()
		m.expiredBytes.Add(float64(a.Size))
	case translate.ActionAbort:
		m.aborted.Inc()
	}
}

// pass records how a pass ended.
func (m *lifecycleMetrics) pass(err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.passes.WithLabelValues(result).Inc()
}

// cacheCounters is what the metrics need from the metadata cache.
type cacheCounters interface{ Counters() rediscache.Counters }

func registerCacheMetrics(reg *prometheus.Registry, c cacheCounters) {
	for _, f := range []struct {
		name, help string
		get        func(rediscache.Counters) int64
	}{
		{"s3proxy_cache_hits_total", "Metadata lookups answered by the Redis cache.", func(n rediscache.Counters) int64 { return n.Hits }},
		{"s3proxy_cache_misses_total", "Metadata lookups the Redis cache did not hold.", func(n rediscache.Counters) int64 { return n.Misses }},
		{"s3proxy_cache_errors_total", "Failed Redis calls (answered by the metadata store).", func(n rediscache.Counters) int64 { return n.Errors }},
		{"s3proxy_cache_bypassed_total", "Metadata lookups sent past the cache during a Redis outage.", func(n rediscache.Counters) int64 { return n.Bypassed }},
	} {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: f.name, Help: f.help},
			func() float64 { return float64(f.get(c.Counters())) }))
	}
}

// registerObjectCacheMetrics exports the in-process object cache's counters.
func registerObjectCacheMetrics(reg *prometheus.Registry, c *memcache.Store) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "s3proxy_object_cache_hits_total",
			Help: "Object lookups answered by the in-process object cache."},
			func() float64 { h, _ := c.Counters(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "s3proxy_object_cache_misses_total",
			Help: "Object lookups the in-process object cache did not hold."},
			func() float64 { _, m := c.Counters(); return float64(m) }))
}

func (m *metrics) ObserveRequest(op string, status int, dur time.Duration, in, out int64) {
	m.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(op).Observe(dur.Seconds())
	m.bytesIn.Add(float64(in))
	m.bytesOut.Add(float64(out))
}

func (m *metrics) instant(bytes int64) {
	m.instantHits.Inc()
	m.instantBytes.Add(float64(bytes))
}

// statsCollector exports the metadata store's totals, cached briefly so scrapes stay
// cheap on large stores.
type statsCollector struct {
	a    *app
	mu   sync.Mutex
	at   time.Time
	vals map[string]float64
}

var statsDescs = map[string]*prometheus.Desc{
	"objects":       prometheus.NewDesc("s3proxy_objects", "Objects stored.", nil, nil),
	"logical_bytes": prometheus.NewDesc("s3proxy_logical_bytes", "Sum of object sizes.", nil, nil),
	"chunks":        prometheus.NewDesc("s3proxy_chunks", "Chunks in the index.", nil, nil),
	"stored_bytes":  prometheus.NewDesc("s3proxy_stored_bytes", "Sum of chunk sizes.", nil, nil),
	"dedup_ratio":   prometheus.NewDesc("s3proxy_dedup_ratio", "Logical bytes (noncurrent versions included) / stored bytes.", nil, nil),
	"versions":      prometheus.NewDesc("s3proxy_noncurrent_versions", "Noncurrent object versions stored (delete markers apart).", nil, nil),
	"version_bytes": prometheus.NewDesc("s3proxy_noncurrent_version_bytes", "Sum of noncurrent version sizes.", nil, nil),
	"uploads":       prometheus.NewDesc("s3proxy_multipart_uploads", "Multipart uploads in progress.", nil, nil),
	"jobs_pending":  prometheus.NewDesc("s3proxy_jobs_pending", "Background jobs waiting.", nil, nil),
	"jobs_failed":   prometheus.NewDesc("s3proxy_jobs_failed", "Background jobs that failed for good.", nil, nil),
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range statsDescs {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > 10*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.a.meta.Stats(ctx)
		cancel()
		if err == nil {
			c.vals = map[string]float64{"objects": float64(st.Objects), "logical_bytes": float64(st.LogicalBytes), "chunks": float64(st.Chunks),
				"stored_bytes": float64(st.StoredBytes), "dedup_ratio": dedupRatio(st.LogicalBytes+st.VersionBytes, st.StoredBytes), "uploads": float64(st.Uploads),
				"versions": float64(st.Versions), "version_bytes": float64(st.VersionBytes),
				"jobs_pending": float64(st.Jobs["pending"]), "jobs_failed": float64(st.Jobs["failed"])}
			c.at = time.Now()
		}
	}
	for k, v := range c.vals {
		ch <- prometheus.MustNewConstMetric(statsDescs[k], prometheus.GaugeValue, v)
	}
}

func dedupRatio(logical, stored int64) float64 {
	if stored == 0 {
		return 1
	}
	return float64(logical) / float64(stored)
}

// meteredStore counts a BlobStore's operations, errors and latency per backend: a
// decorator, so every store is measured the same way without knowing about metrics.
type meteredStore struct {
	backends.BlobStore
	ops     *prometheus.CounterVec
	errs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

type backendMetrics struct {
	ops     *prometheus.CounterVec
	errs    *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

func newBackendMetrics(reg *prometheus.Registry) *backendMetrics {
	m := &backendMetrics{
		ops:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "s3proxy_backend_operations_total", Help: "Chunk store operations by backend and operation."}, []string{"backend", "op"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "s3proxy_backend_errors_total", Help: "Failed chunk store operations by backend and operation."}, []string{"backend", "op"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "s3proxy_backend_operation_seconds", Help: "Chunk store operation latency (get: until the reader is open; put_finish: from the body's last byte to the end of the put).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 20)}, []string{"backend", "op"}),
	}
	reg.MustRegister(m.ops, m.errs, m.latency)
	return m
}

func (m *backendMetrics) wrap(s backends.BlobStore) backends.BlobStore {
	return &meteredStore{BlobStore: s, ops: m.ops, errs: m.errs, latency: m.latency}
}

// Unwrap returns the store measured, for capabilities beyond BlobStore (dedup's rekey).
func (s *meteredStore) Unwrap() backends.BlobStore { return s.BlobStore }

func (s *meteredStore) observe(op string, start time.Time, err error) {
	name := s.Name()
	s.ops.WithLabelValues(name, op).Inc()
	s.latency.WithLabelValues(name, op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, backends.ErrNotFound) {
		s.errs.WithLabelValues(name, op).Inc()
	}
}

// Put also observes op "put_finish": the time from the body's last byte to Put's return,
// what the store spends after the client is done (for the local store: the last write and
// the file's and directory's fsync; for S3: completing the upload). With op "put" it tells
// a slow client or network (put − put_finish) from a slow disk or remote store.
func (s *meteredStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	start := time.Now()
	er := &eofReader{r: r}
	err := s.BlobStore.Put(ctx, key, er, size, opts)
	s.observe("put", start, err)
	if err == nil && !er.eof.IsZero() {
		s.latency.WithLabelValues(s.Name(), "put_finish").Observe(time.Since(er.eof).Seconds())
	}
	return err
}

// eofReader notes when its reader first reports io.EOF.
type eofReader struct {
	r   io.Reader
	eof time.Time
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && e.eof.IsZero() {
		e.eof = time.Now()
	}
	return n, err
}

func (s *meteredStore) Get(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := s.BlobStore.Get(ctx, key, off, n)
	s.observe("get", start, err)
	return rc, err
}

func (s *meteredStore) Stat(ctx context.Context, key string) (backends.Info, error) {
	start := time.Now()
	info, err := s.BlobStore.Stat(ctx, key)
	s.observe("stat", start, err)
	return info, err
}

func (s *meteredStore) Delete(ctx context.Context, key string) error {
	start := time.Now()
	err := s.BlobStore.Delete(ctx, key)
	s.observe("delete", start, err)
	return err
}
