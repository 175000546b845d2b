package translate

import (
	"sync"
	"time"

	"s3proxy/meta"
)

// bucketCache keeps recently used buckets in memory: every S3 request checks its
// bucket's owner, and buckets change only by CreateBucket and DeleteBucket, so one
// metadata query per request can be saved. Only existing buckets are cached (a bucket
// created on another node is visible at once); a bucket deleted through another node
// may still be seen here for up to bucketCacheTTL, after which its objects answer as
// missing. This node's own creates and deletes invalidate at once.
type bucketCache struct {
	mu      sync.Mutex
	entries map[string]bucketEntry
	ttl     time.Duration
	now     func() time.Time
}

type bucketEntry struct {
	b       meta.Bucket
	expires time.Time
}

// bucketCacheTTL bounds how stale a cached bucket can be across nodes.
const bucketCacheTTL = time.Second

// maxCachedBuckets bounds the cache; past it the map is simply cleared.
const maxCachedBuckets = 10000

func newBucketCache(now func() time.Time) *bucketCache {
	return &bucketCache{entries: map[string]bucketEntry{}, ttl: bucketCacheTTL, now: now}
}

func (c *bucketCache) get(name string) (meta.Bucket, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[name]
	if !ok || c.now().After(e.expires) {
		return meta.Bucket{}, false
	}
	return e.b, true
}

func (c *bucketCache) put(b meta.Bucket) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedBuckets {
		clear(c.entries)
	}
	c.entries[b.Name] = bucketEntry{b: b, expires: c.now().Add(c.ttl)}
}

func (c *bucketCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, name)
}
