package translate

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// configCache keeps one kind of bucket configuration document (CORS rules, policies)
// in memory for the requests that consult it on every call. For CORS: a preflight is unsigned and cheap for a page to send (one before each
// non-simple request whose answer the browser has not cached), so a busy page, or
// anyone, can send many: each bucket's configuration is read from the metadata store
// at most once per configCacheTTL per node, concurrent misses share one read, and the
// absence of a configuration (or of the bucket) is cached like a configuration, so a
// storm of preflights for a bucket without one does not reach the database either.
// Like the bucket cache, an entry may be up to configCacheTTL stale across nodes; this
// node's own changes (PutBucketCors, DeleteBucketCors, CreateBucket, DeleteBucket)
// take effect at once. Bucket policies are read the same way by every request to a
// bucket (policycache.go).
type configCache[T any] struct {
	mu      sync.Mutex
	entries map[string]configEntry[T]
	// gen counts invalidations: a read that began before one must not store its result.
	gen   uint64
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group
	// load reads a bucket's document from the metadata store (nil: none). Fixed at
	// construction, so that a lookup builds no closure: it runs on every request.
	load func(ctx context.Context, bucket string) (*T, error)
}

type configEntry[T any] struct {
	cfg     *T // nil: none
	expires time.Time
}

// configCacheTTL bounds how stale a configuration can be across nodes, as bucketCacheTTL.
const configCacheTTL = time.Second

// configLoadTimeout bounds a shared read of a configuration.
const configLoadTimeout = 10 * time.Second

// maxCachedConfigs bounds a cache (names that do not exist are cached too); past it the
// map is simply cleared.
const maxCachedConfigs = 10000

func newConfigCache[T any](now func() time.Time, load func(ctx context.Context, bucket string) (*T, error)) *configCache[T] {
	return &configCache[T]{entries: map[string]configEntry[T]{}, ttl: configCacheTTL, now: now, load: load}
}

// get returns the bucket's configuration (nil when it has none), reading it on a miss.
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
