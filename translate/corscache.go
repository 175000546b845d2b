package translate

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"s3proxy/meta"
	"s3proxy/translate/cors"
)

// corsCache keeps buckets' CORS configurations in memory for evaluating browsers'
// requests. A preflight is unsigned and cheap for a page to send (one before each
// non-simple request whose answer the browser has not cached), so a busy page, or
// anyone, can send many: each bucket's configuration is read from the metadata store
// at most once per corsCacheTTL per node, concurrent misses share one read, and the
// absence of a configuration (or of the bucket) is cached like a configuration, so a
// storm of preflights for a bucket without one does not reach the database either.
// Like the bucket cache, an entry may be up to corsCacheTTL stale across nodes; this
// node's own changes (PutBucketCors, DeleteBucketCors, CreateBucket, DeleteBucket)
// take effect at once.
type corsCache struct {
	mu      sync.Mutex
	entries map[string]corsEntry
	// gen counts invalidations: a read that began before one must not store its result.
	gen   uint64
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group
}

type corsEntry struct {
	cfg     *cors.Configuration // nil: none
	expires time.Time
}

// corsCacheTTL bounds how stale a configuration can be across nodes, as bucketCacheTTL.
const corsCacheTTL = time.Second

// corsLoadTimeout bounds a shared read of a configuration.
const corsLoadTimeout = 10 * time.Second

// maxCachedCORS bounds the cache (names that do not exist are cached too); past it the
// map is simply cleared.
const maxCachedCORS = 10000

func newCORSCache(now func() time.Time) *corsCache {
	return &corsCache{entries: map[string]corsEntry{}, ttl: corsCacheTTL, now: now}
}

// get returns the bucket's configuration (nil when it has none), reading it with load on
// a miss.
func (c *corsCache) get(ctx context.Context, bucket string, load func(context.Context) (*cors.Configuration, error)) (*cors.Configuration, error) {
	c.mu.Lock()
	e, ok := c.entries[bucket]
	gen := c.gen
	c.mu.Unlock()
	if ok && !c.now().After(e.expires) {
		return e.cfg, nil
	}
	v, err, _ := c.group.Do(bucket, func() (any, error) {
		// The shared read must not end with the request that happened to start it, but
		// must end.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), corsLoadTimeout)
		defer cancel()
		cfg, err := load(lctx)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.gen == gen {
			if len(c.entries) >= maxCachedCORS {
				clear(c.entries)
			}
			c.entries[bucket] = corsEntry{cfg: cfg, expires: c.now().Add(c.ttl)}
		}
		return cfg, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*cors.Configuration), nil
}

// forget drops the bucket's entry after a change on this node, and keeps reads begun
// before it from storing what they read.
func (c *corsCache) forget(bucket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, bucket)
	c.group.Forget(bucket)
}

// loadCORS reads a bucket's configuration from the metadata store: nil when the bucket
// has none or does not exist.
func (s *Service) loadCORS(ctx context.Context, bucket string) (*cors.Configuration, error) {
	c, err := s.meta.GetBucketConfig(ctx, bucket, cors.Kind)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, metaErr(err, "")
	}
	cfg, err := cors.Decode(c.Value)
	if err != nil {
		return nil, wrapErr(CodeInternalError, err)
	}
	return &cfg, nil
}
