package translate

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"s3proxy/meta"
	"s3proxy/translate/cors"
	"s3proxy/translate/lifecycle"
)

// configCache keeps one kind of bucket configuration document in memory for requests
// that consult it without asking for it: CORS for browsers' requests, lifecycle for
// the x-amz-expiration header of GET, HEAD and writes. A preflight is unsigned and
// cheap for a page to send, and a GET is the hot path, so each bucket's document is
// read from the metadata store at most once per configCacheTTL per node, concurrent
// misses share one read, and the absence of a document (or of the bucket) is cached
// like a document, so a storm of requests for a bucket without one does not reach
// the database either. Like the bucket cache, an entry may be up to configCacheTTL
// stale across nodes; this node's own changes (the Put and Delete of the document,
// CreateBucket, DeleteBucket) take effect at once.
type configCache[T any] struct {
	mu      sync.Mutex
	entries map[string]configEntry[T]
	// gen counts invalidations: a read that began before one must not store its result.
	gen   uint64
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group
	load  func(ctx context.Context, bucket string) (*T, error)
}

type configEntry[T any] struct {
	cfg     *T // nil: none
	expires time.Time
}

// configCacheTTL bounds how stale a configuration can be across nodes, as bucketCacheTTL.
const configCacheTTL = time.Second

// configLoadTimeout bounds a shared read of a configuration.
const configLoadTimeout = 10 * time.Second

// maxCachedConfigs bounds the cache (names that do not exist are cached too); past it
// the map is simply cleared.
const maxCachedConfigs = 10000

// newConfigCache returns a cache that reads a bucket's document with load (nil, nil
// when the bucket has none or does not exist).
func newConfigCache[T any](now func() time.Time, load func(ctx context.Context, bucket string) (*T, error)) *configCache[T] {
	return &configCache[T]{entries: map[string]configEntry[T]{}, ttl: configCacheTTL, now: now, load: load}
}

// get returns the bucket's configuration (nil when it has none).
func (c *configCache[T]) get(ctx context.Context, bucket string) (*T, error) {
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
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), configLoadTimeout)
		defer cancel()
		cfg, err := c.load(lctx, bucket)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.gen == gen {
			if len(c.entries) >= maxCachedConfigs {
				clear(c.entries)
			}
			c.entries[bucket] = configEntry[T]{cfg: cfg, expires: c.now().Add(c.ttl)}
		}
		return cfg, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*T), nil
}

// forget drops the bucket's entry after a change on this node, and keeps reads begun
// before it from storing what they read.
func (c *configCache[T]) forget(bucket string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, bucket)
	c.group.Forget(bucket)
}

// loadConfig reads a bucket's document of a kind from the metadata store and decodes
// it: nil when the bucket has none or does not exist.
func loadConfig[T any](ctx context.Context, m meta.MetaStore, bucket, kind string, decode func(string) (T, error)) (*T, error) {
	c, err := m.GetBucketConfig(ctx, bucket, kind)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, metaErr(err, "")
	}
	cfg, err := decode(c.Value)
	if err != nil {
		return nil, wrapErr(CodeInternalError, err)
	}
	return &cfg, nil
}

// loadCORS reads a bucket's CORS configuration: nil when the bucket has none or does
// not exist.
func (s *Service) loadCORS(ctx context.Context, bucket string) (*cors.Configuration, error) {
	return loadConfig(ctx, s.meta, bucket, cors.Kind, cors.Decode)
}

// loadLifecycle reads a bucket's lifecycle configuration: nil when the bucket has none
// or does not exist.
func (s *Service) loadLifecycle(ctx context.Context, bucket string) (*lifecycle.Configuration, error) {
	return loadConfig(ctx, s.meta, bucket, lifecycle.Kind, lifecycle.Decode)
}
