// Package rediscache is a read-through cache for a meta.MetaStore, kept in Redis so that
// every node of a cluster shares it. It caches GetBucket, and GetObject with its
// manifest; everything else passes straight to the inner store.
//
// # What is cached
//
//   - b:<bucket>            the bucket row, or "does not exist"
//   - o:<bucket>\x00<key>   the object with its manifest's extents, or "does not exist"
//   - c:<chunk id>          a chunk's location and digests (uid, backend, node, corrupt…)
//
// A manifest is cached without its chunk rows, and each chunk row once under its own
// key, so MoveChunk, MarkChunkCorrupt and DeleteChunkIfUnreferenced invalidate exactly one
// key and no cached manifest can point at an old location. Chunk rows are cached without
// Refs and ZeroSince (see meta.MetaStore.GetObject): those change on every write that
// references or releases the chunk, and only GetChunk reports them.
//
// # Never wrong: generations, dirty counts and an epoch
//
// A read-through cache has one classic race: a reader misses, reads the old row from the
// database, a writer commits and deletes the key, and then the reader stores the old row
// it read — stale until the TTL. Three counters in Redis close it:
//
//   - g:<k>, a generation. A reader fetches it in the same round trip as the (missing)
//     value, before reading the database, and later stores its value with a script that
//     writes only if g:<k> is unchanged. Every writer increments g:<k> after its commit,
//     so a value read before that commit can never be stored after it.
//   - d:<k>, a dirty count, incremented (with an expiry) and the value deleted before the
//     inner write, decremented after it. While it is positive nothing is stored under
//     <k>. It covers a writer that committed but failed to reach Redis afterwards: other
//     nodes still will not cache the old row until the count expires.
//   - epoch, part of every value's key name. A node whose post-write invalidation failed
//     (Redis unreachable, timed out) stops using the cache until it has incremented the
//     epoch, which orphans every cached value at once; the orphans expire by TTL.
//
// Writes of small objects are written through: the end script stores the value the write
// left (and its new chunks' rows) when the write's own increment is the only move of the
// generation since it began and no other write of the key is in flight (see endScript).
//
// Each of these steps is a single Lua script, so it is atomic in Redis and one round
// trip. Writes therefore invalidate what they change before they return, through any
// node. The one window left is a partial outage where the writer cannot reach Redis but
// other nodes can and hold a value cached before the write: they may serve it until it
// expires (TTL, one minute by default) or the writer's epoch bump, whichever is first.
//
// # Outages
//
// The cache never fails a request. Every Redis call has a short timeout; an error is
// logged (once per outage), counted, and the call is answered by the inner store. After
// an error the cache is bypassed for a back-off period instead of paying the timeout on
// every request. Counters() exposes hits, misses, errors and bypassed reads for metrics.
//
// The keys a script touches are computed inside it, which standalone Redis (and Redis
// Cluster with a hash-tagged Prefix) accepts. Every method of meta.MetaStore is either
// overridden here or listed as a pass-through in the tests, so a new write method cannot
// silently skip invalidation.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"s3proxy/meta"
)

// Options tunes the cache; zero values take the defaults.
type Options struct {
	// Prefix namespaces every key (default "s3proxy:"); tests use one per test.
	Prefix string
	// TTL bounds how long a value lives (default 1 minute).
	TTL time.Duration
	// Timeout bounds each Redis call (default 250ms): a slow cache must not slow reads.
	Timeout time.Duration
	// DirtyTTL is how long a write's dirty mark outlives a writer that never cleared it
	// (default 30s): longer than any metadata transaction should take.
	DirtyTTL time.Duration
	// Backoff is how long the cache is bypassed after an error (default 1s).
	Backoff time.Duration
	// Log receives outage and recovery messages (default: discarded).
	Log *slog.Logger
}

// Counters are cumulative figures for metrics.
type Counters struct {
	Hits     int64 // answered from Redis
	Misses   int64 // looked up in Redis, answered by the inner store
	Errors   int64 // Redis calls that failed (reads, writes, invalidations)
	Bypassed int64 // reads sent straight to the inner store during an outage back-off
}

// Store is the caching decorator. Methods it does not override pass through to the
// inner store via the embedded interface.
type Store struct {
	meta.MetaStore
	rc  *redis.Client
	opt Options
	// genTTL bounds the life of generation counters; long enough that no reader holds a
	// token across a counter's expiry (which would let it match a recreated counter).
	genTTL time.Duration

	hits, misses, errs, bypassed atomic.Int64
	// downUntil is the UnixNano until which Redis is not tried (0: up).
	downUntil atomic.Int64
	// needFlush is set when an invalidation after a commit may not have happened; the
	// epoch must be bumped before this node trusts the cache again.
	needFlush atomic.Bool
}

var _ meta.MetaStore = (*Store)(nil)

// New wraps inner with a cache in client's Redis. The caller keeps ownership of client
// (Close closes only the inner store) and should configure it with short dial, read and
// write timeouts and few retries.
func New(inner meta.MetaStore, client *redis.Client, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "s3proxy:"
	}
	if o.TTL <= 0 {
		o.TTL = time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 250 * time.Millisecond
	}
	if o.DirtyTTL <= 0 {
		o.DirtyTTL = 30 * time.Second
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &Store{MetaStore: inner, rc: client, opt: o, genTTL: max(time.Hour, 10*o.TTL, 10*o.DirtyTTL)}
}

// Counters returns the cumulative hit, miss, error and bypass counts.
func (s *Store) Counters() Counters {
	return Counters{Hits: s.hits.Load(), Misses: s.misses.Load(), Errors: s.errs.Load(), Bypassed: s.bypassed.Load()}
}

// PingCache reports whether Redis answers (for readiness probes). Ping still checks
// only the inner store: the cache being down does not make metadata unavailable.
func (s *Store) PingCache(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, max(s.opt.Timeout, time.Second))
	defer cancel()
	if err := s.rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis cache: %w", err)
	}
	return nil
}

// ---- the scripts ----

// readScript returns the epoch, then for each logical key its value ("" if absent) and a
// token for storing it later: the generation, or "" when the key is dirty (do not store).
var readScript = redis.NewScript(`
local p = ARGV[1]
local e = redis.call('GET', p .. 'epoch') or '0'
local out = {e}
for i = 2, #ARGV do
  local k = ARGV[i]
  local v = redis.call('GET', p .. 'v:' .. e .. ':' .. k)
  if v then
    out[#out+1] = v
    out[#out+1] = ''
  else
    out[#out+1] = ''
    if tonumber(redis.call('GET', p .. 'd:' .. k) or '0') > 0 then
      out[#out+1] = ''
    else
      out[#out+1] = redis.call('GET', p .. 'g:' .. k) or '0'
    end
  end
end
return out
`)

// readObjectScript is readScript for one object key (ARGV: prefix, key) that also
// returns, when the cached value lists its chunk ids (tagObjectIDs), each chunk's value
// ("" if absent): a hit costs one round trip.
var readObjectScript = redis.NewScript(`
local p = ARGV[1]
local k = ARGV[2]
local e = redis.call('GET', p .. 'epoch') or '0'
local v = redis.call('GET', p .. 'v:' .. e .. ':' .. k)
if not v then
  if tonumber(redis.call('GET', p .. 'd:' .. k) or '0') > 0 then
    return {e, '', ''}
  end
  return {e, '', redis.call('GET', p .. 'g:' .. k) or '0'}
end
local out = {e, v, ''}
local ids = string.match(v, '^C([%d,]*);')
if ids then
  for id in string.gmatch(ids, '%d+') do
    out[#out+1] = redis.call('GET', p .. 'v:' .. e .. ':c:' .. id) or ''
  end
end
return out
`)

// storeScript stores values (ARGV: prefix, epoch, ttl ms, then key, token, value triples)
// only where the epoch and the key's generation are what the reader saw before it read
// the database, and the key is not dirty.
var storeScript = redis.NewScript(`
local p = ARGV[1]
if (redis.call('GET', p .. 'epoch') or '0') ~= ARGV[2] then return 0 end
local n = 0
for i = 4, #ARGV, 3 do
  local k = ARGV[i]
  if tonumber(redis.call('GET', p .. 'd:' .. k) or '0') <= 0 and (redis.call('GET', p .. 'g:' .. k) or '0') == ARGV[i+1] then
    redis.call('SET', p .. 'v:' .. ARGV[2] .. ':' .. k, ARGV[i+2], 'PX', ARGV[3])
    n = n + 1
  end
end
return n
`)

// beginScript marks keys dirty (ARGV: prefix, dirty ttl ms, keys…) and drops their
// values; it returns each key's generation, for endScript's write-through check.
var beginScript = redis.NewScript(`
local p = ARGV[1]
local e = redis.call('GET', p .. 'epoch') or '0'
local out = {}
for i = 3, #ARGV do
  local k = ARGV[i]
  redis.call('INCR', p .. 'd:' .. k)
  redis.call('PEXPIRE', p .. 'd:' .. k, ARGV[2])
  redis.call('DEL', p .. 'v:' .. e .. ':' .. k)
  out[#out+1] = redis.call('GET', p .. 'g:' .. k) or '0'
end
return out
`)

// endScript runs after the inner write (ARGV: prefix, generation ttl ms, "1" if begin
// succeeded, value ttl ms, n, then n key, generation at begin, value triples, then new
// key, value pairs): a new generation, the value dropped, the dirty mark released.
//
// Write-through: a key's value (if not "") is stored when the write began, no other write
// of the key is in flight (the dirty count is back to zero) and none ended since this one
// began (the generation moved by this write alone): a write that commits later than this
// one ends later too, so it either ended first (and moved the generation) or will drop
// the value when it ends. A new key (a chunk this write indexed) is stored only if no
// write of it ever ended or is in flight (no generation, not dirty): its row as this write
// read it is then the row.
var endScript = redis.NewScript(`
local p = ARGV[1]
local e = redis.call('GET', p .. 'epoch') or '0'
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local k, g0, v = ARGV[6 + 3*i], ARGV[7 + 3*i], ARGV[8 + 3*i]
  local g = redis.call('INCR', p .. 'g:' .. k)
  redis.call('PEXPIRE', p .. 'g:' .. k, ARGV[2])
  redis.call('DEL', p .. 'v:' .. e .. ':' .. k)
  local d = 0
  if ARGV[3] == '1' then
    d = redis.call('DECR', p .. 'd:' .. k)
    if d <= 0 then redis.call('DEL', p .. 'd:' .. k) end
  end
  if v ~= '' and ARGV[3] == '1' and d <= 0 and g == tonumber(g0) + 1 then
    redis.call('SET', p .. 'v:' .. e .. ':' .. k, v, 'PX', ARGV[4])
  end
end
for i = 6 + 3*n, #ARGV, 2 do
  local k = ARGV[i]
  if not redis.call('GET', p .. 'g:' .. k) and tonumber(redis.call('GET', p .. 'd:' .. k) or '0') <= 0 then
    redis.call('SET', p .. 'v:' .. e .. ':' .. k, ARGV[i+1], 'PX', ARGV[4])
  end
end
return 1
`)

// ---- plumbing ----

// usable reports whether Redis should be tried now, bumping the epoch first if an
// invalidation was lost.
func (s *Store) usable(ctx context.Context) bool {
	if until := s.downUntil.Load(); until != 0 {
		if time.Now().UnixNano() < until {
			return false
		}
	}
	if s.needFlush.Load() {
		cctx, cancel := s.callCtx(ctx)
		defer cancel()
		if err := s.rc.Incr(cctx, s.opt.Prefix+"epoch").Err(); err != nil {
			s.failed("bump epoch", err)
			return false
		}
		s.needFlush.Store(false)
		s.opt.Log.Info("redis cache: epoch bumped after a lost invalidation; cached values dropped")
	}
	if s.downUntil.Swap(0) != 0 {
		s.opt.Log.Info("redis cache: reachable again")
	}
	return true
}

// callCtx bounds one Redis call. It is detached from the caller's cancellation so that
// an invalidation after a committed write still happens when the client went away.
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.opt.Timeout)
}

func (s *Store) failed(op string, err error) {
	s.errs.Add(1)
	next := time.Now().Add(s.opt.Backoff).UnixNano()
	if s.downUntil.Swap(next) == 0 {
		s.opt.Log.Warn("redis cache unavailable: reading the metadata store directly", "op", op, "err", err, "retry_in", s.opt.Backoff)
	}
}

// lookup is one read round trip: epoch, and per key its value and store token.
type lookup struct {
	epoch  string
	vals   []string
	tokens []string
}

func (s *Store) read(ctx context.Context, keys ...string) (*lookup, bool) {
	if !s.usable(ctx) {
		s.bypassed.Add(1)
		return nil, false
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	args := make([]any, 0, len(keys)+1)
	args = append(args, s.opt.Prefix)
	for _, k := range keys {
		args = append(args, k)
	}
	res, err := readScript.Run(cctx, s.rc, nil, args...).StringSlice()
	if err == nil && len(res) != 1+2*len(keys) {
		err = fmt.Errorf("read script returned %d values for %d keys", len(res), len(keys))
	}
	if err != nil {
		s.failed("read", err)
		return nil, false
	}
	l := &lookup{epoch: res[0], vals: make([]string, len(keys)), tokens: make([]string, len(keys))}
	for i := range keys {
		l.vals[i], l.tokens[i] = res[1+2*i], res[2+2*i]
	}
	return l, true
}

// entry is a value to store with the token its key had before the database was read.
type entry struct {
	key, token string
	val        []byte
}

func (s *Store) store(ctx context.Context, epoch string, entries []entry) {
	args := make([]any, 0, 3+3*len(entries))
	args = append(args, s.opt.Prefix, epoch, s.opt.TTL.Milliseconds())
	for _, e := range entries {
		if e.token == "" {
			continue // dirty when looked up: a write is in flight
		}
		args = append(args, e.key, e.token, e.val)
	}
	if len(args) == 3 || !s.usable(ctx) {
		return
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	if err := storeScript.Run(cctx, s.rc, nil, args...).Err(); err != nil {
		s.failed("store", err)
	}
}

// write runs fn, the inner write, between marking keys dirty and invalidating them.
func (s *Store) write(ctx context.Context, keys []string, fn func() error) error {
	return s.writeThrough(ctx, keys, fn, nil)
}

// writeThrough is write that also leaves values behind (see endScript): after, called
// once fn succeeded, returns a value per key (nil for none) and new keys to fill.
func (s *Store) writeThrough(ctx context.Context, keys []string, fn func() error, after func() ([][]byte, []entry)) error {
	gens, began := s.begin(ctx, keys)
	err := fn()
	var vals [][]byte
	var fresh []entry
	if err == nil && began && after != nil {
		vals, fresh = after()
	}
	s.invalidate(ctx, keys, gens, began, vals, fresh)
	return err
}

func (s *Store) begin(ctx context.Context, keys []string) ([]string, bool) {
	if !s.usable(ctx) {
		return nil, false
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	args := make([]any, 0, 2+len(keys))
	args = append(args, s.opt.Prefix, s.opt.DirtyTTL.Milliseconds())
	for _, k := range keys {
		args = append(args, k)
	}
	gens, err := beginScript.Run(cctx, s.rc, nil, args...).StringSlice()
	if err == nil && len(gens) != len(keys) {
		err = fmt.Errorf("begin script returned %d generations for %d keys", len(gens), len(keys))
	}
	if err != nil {
		s.failed("mark dirty", err)
		return nil, false
	}
	return gens, true
}

// invalidate runs after the inner write. If it cannot reach Redis the write may have left
// a stale value behind, so the epoch must be bumped before the cache is used again.
func (s *Store) invalidate(ctx context.Context, keys, gens []string, began bool, vals [][]byte, fresh []entry) {
	if !s.usable(ctx) {
		s.needFlush.Store(true)
		return
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	b := "0"
	if began {
		b = "1"
	}
	args := make([]any, 0, 5+3*len(keys)+2*len(fresh))
	args = append(args, s.opt.Prefix, s.genTTL.Milliseconds(), b, s.opt.TTL.Milliseconds(), len(keys))
	for i, k := range keys {
		g, v := "0", []byte{}
		if began {
			g = gens[i]
		}
		if i < len(vals) && vals[i] != nil {
			v = vals[i]
		}
		args = append(args, k, g, v)
	}
	for _, e := range fresh {
		args = append(args, e.key, e.val)
	}
	if err := endScript.Run(cctx, s.rc, nil, args...).Err(); err != nil {
		s.needFlush.Store(true)
		s.failed("invalidate", err)
	}
}

func bucketKey(name string) string        { return "b:" + name }
func objectKey(bucket, key string) string { return "o:" + bucket + "\x00" + key }
func chunkKey(id int64) string            { return "c:" + strconv.FormatInt(id, 10) }

// ---- buckets ----

// GetBucket serves the bucket (or its absence) from the cache.
func (s *Store) GetBucket(ctx context.Context, name string) (meta.Bucket, error) {
	k := bucketKey(name)
	l, ok := s.read(ctx, k)
	if ok && l.vals[0] != "" {
		v := []byte(l.vals[0])
		if v[0] == tagNotFound {
			s.hits.Add(1)
			return meta.Bucket{}, fmt.Errorf("meta get bucket %q: %w", name, meta.ErrNotFound)
		}
		if b, err := decodeBucket(name, v); err == nil {
			s.hits.Add(1)
			return b, nil
		}
	}
	if ok {
		s.misses.Add(1)
	}
	b, err := s.MetaStore.GetBucket(ctx, name)
	if ok {
		switch {
		case err == nil:
			s.store(ctx, l.epoch, []entry{{k, l.tokens[0], encodeBucket(b)}})
		case errors.Is(err, meta.ErrNotFound):
			s.store(ctx, l.epoch, []entry{{k, l.tokens[0], []byte{tagNotFound}}})
		}
	}
	return b, err
}

// CreateBucket invalidates the bucket's key (a cached "does not exist").
func (s *Store) CreateBucket(ctx context.Context, b meta.Bucket) error {
	return s.write(ctx, []string{bucketKey(b.Name)}, func() error { return s.MetaStore.CreateBucket(ctx, b) })
}

// DeleteBucket invalidates the bucket's key.
func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	return s.write(ctx, []string{bucketKey(name)}, func() error { return s.MetaStore.DeleteBucket(ctx, name) })
}

// ---- objects ----

// GetObject serves the object and its manifest from the cache: one round trip for the
// object, one for the chunk rows of its manifest. A manifest whose chunk rows are not
// all cached is read from the inner store, and the missing rows are cached then (a
// first read caches only the object, since chunk tokens must be taken before the read).
// Chunk rows come without Refs and ZeroSince, whichever way the object was found.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (meta.Object, error) {
	k := objectKey(bucket, key)
	l, chunkVals, ok := s.readObject(ctx, k)
	if ok && l.vals[0] != "" {
		v := []byte(l.vals[0])
		if v[0] == tagNotFound {
			s.hits.Add(1)
			return meta.Object{}, fmt.Errorf("meta get object %s/%s: %w", bucket, key, meta.ErrNotFound)
		}
		if o, err := decodeObject(bucket, key, v); err == nil {
			if withChunks(o, chunkVals) {
				s.hits.Add(1)
				return o, nil
			}
			return s.fillChunks(ctx, o)
		}
	}
	if ok {
		s.misses.Add(1)
	}
	o, err := s.MetaStore.GetObject(ctx, bucket, key)
	if ok {
		switch {
		case err == nil:
			s.store(ctx, l.epoch, []entry{{k, l.tokens[0], encodeCachedObject(o)}})
		case errors.Is(err, meta.ErrNotFound):
			s.store(ctx, l.epoch, []entry{{k, l.tokens[0], []byte{tagNotFound}}})
		}
	}
	stripRefs(o.Manifest)
	return o, err
}

// readObject is read for one object key through readObjectScript: the lookup, and the
// values of the chunks the cached object lists.
func (s *Store) readObject(ctx context.Context, k string) (*lookup, []string, bool) {
	if !s.usable(ctx) {
		s.bypassed.Add(1)
		return nil, nil, false
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	res, err := readObjectScript.Run(cctx, s.rc, nil, s.opt.Prefix, k).StringSlice()
	if err == nil && len(res) < 3 {
		err = fmt.Errorf("read object script returned %d values", len(res))
	}
	if err != nil {
		s.failed("read", err)
		return nil, nil, false
	}
	return &lookup{epoch: res[0], vals: res[1:2], tokens: res[2:3]}, res[3:], true
}

// withChunks completes o's manifest from the chunk values the read script returned, in
// the order of followedChunkIDs; false if any is missing or does not match (fillChunks
// then reads them again and fills what is missing).
func withChunks(o meta.Object, vals []string) bool {
	ids, ok := followedChunkIDs(o.Manifest)
	if !ok || len(ids) == 0 || len(vals) != len(ids) {
		return ok && len(ids) == 0
	}
	chunks := make([]meta.Chunk, len(ids))
	for i, v := range vals {
		c, err := decodeChunk([]byte(v))
		if v == "" || err != nil || c.ID != ids[i] {
			return false
		}
		chunks[i] = c
	}
	for i := range o.Manifest {
		o.Manifest[i].Chunk = chunks[slices.Index(ids, o.Manifest[i].ChunkID)]
	}
	return true
}

// fillChunks completes a cached object with its chunk rows.
func (s *Store) fillChunks(ctx context.Context, o meta.Object) (meta.Object, error) {
	var ids []int64
	seen := map[int64]int{}
	for _, x := range o.Manifest {
		if _, dup := seen[x.ChunkID]; !dup {
			seen[x.ChunkID] = len(ids)
			ids = append(ids, x.ChunkID)
		}
	}
	if len(ids) == 0 {
		s.hits.Add(1)
		return o, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = chunkKey(id)
	}
	l, ok := s.read(ctx, keys...)
	if ok {
		chunks := make([]meta.Chunk, len(ids))
		complete := true
		for i, v := range l.vals {
			c, err := decodeChunk([]byte(v))
			if v == "" || err != nil || c.ID != ids[i] {
				complete = false
				break
			}
			chunks[i] = c
		}
		if complete {
			for i := range o.Manifest {
				o.Manifest[i].Chunk = chunks[seen[o.Manifest[i].ChunkID]]
			}
			s.hits.Add(1)
			return o, nil
		}
		s.misses.Add(1)
	}
	full, err := s.MetaStore.GetObject(ctx, o.Bucket, o.Key)
	if err != nil {
		return full, err
	}
	if ok {
		var entries []entry
		stored := map[int64]bool{}
		for _, x := range full.Manifest {
			if i, known := seen[x.ChunkID]; known && l.vals[i] == "" && !stored[x.ChunkID] {
				entries = append(entries, entry{keys[i], l.tokens[i], encodeChunk(x.Chunk)})
				stored[x.ChunkID] = true
			}
		}
		s.store(ctx, l.epoch, entries)
	}
	stripRefs(full.Manifest)
	return full, nil
}

// stripRefs clears what the cache does not keep, so a result looks the same whether it
// came from Redis or from the inner store.
func stripRefs(m []meta.Extent) {
	for i := range m {
		m[i].Chunk.Refs = 0
		m[i].Chunk.ZeroSince = nil
	}
}

// PutObject invalidates the object's key and, for a small object, leaves it behind
// (write-through, see endScript).
func (s *Store) PutObject(ctx context.Context, o meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	fresh := o.NewChunksOnly() // before the call, which fills in the chunk ids
	var replaced *meta.Object
	err := s.writeThrough(ctx, []string{objectKey(o.Bucket, o.Key)}, func() error {
		var err error
		replaced, err = s.MetaStore.PutObject(ctx, o, cond)
		return err
	}, func() ([][]byte, []entry) {
		// Written through: a small object (all its bytes inline, as for memcache) whose
		// chunks this write indexed, with their rows as the store returned them.
		if !fresh || o.InlineBytes() != o.Size {
			return nil, nil
		}
		var chunks []entry
		for i, e := range o.Manifest {
			if !slices.ContainsFunc(o.Manifest[:i], func(x meta.Extent) bool { return x.ChunkID == e.ChunkID }) {
				chunks = append(chunks, entry{key: chunkKey(e.ChunkID), val: encodeChunk(e.Chunk)})
			}
		}
		return [][]byte{encodeCachedObject(o)}, chunks
	})
	return replaced, err
}

// DeleteObject invalidates the object's key and leaves its absence (write-through).
func (s *Store) DeleteObject(ctx context.Context, bucket, key string, cond meta.WriteCondition) (meta.Object, error) {
	var old meta.Object
	err := s.writeThrough(ctx, []string{objectKey(bucket, key)}, func() error {
		var err error
		old, err = s.MetaStore.DeleteObject(ctx, bucket, key, cond)
		return err
	}, func() ([][]byte, []entry) { return [][]byte{{tagNotFound}}, nil })
	return old, err
}

// PutDeleteMarker invalidates the object's key and leaves its absence (write-through):
// a key whose newest version is a delete marker has no current version.
func (s *Store) PutDeleteMarker(ctx context.Context, m meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	var replaced *meta.Object
	err := s.writeThrough(ctx, []string{objectKey(m.Bucket, m.Key)}, func() error {
		var err error
		replaced, err = s.MetaStore.PutDeleteMarker(ctx, m, cond)
		return err
	}, func() ([][]byte, []entry) { return [][]byte{{tagNotFound}}, nil })
	return replaced, err
}

// DeleteObjectVersion invalidates the object's key: removing a version may uncover an
// older one as current.
func (s *Store) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string, cond meta.VersionCondition) (meta.Object, error) {
	var out meta.Object
	err := s.write(ctx, []string{objectKey(bucket, key)}, func() error {
		var err error
		out, err = s.MetaStore.DeleteObjectVersion(ctx, bucket, key, versionID, cond)
		return err
	})
	return out, err
}

// SetObjectDigests invalidates the object's key.
func (s *Store) SetObjectDigests(ctx context.Context, bucket, key, etag string, sum, md5 []byte) error {
	return s.write(ctx, []string{objectKey(bucket, key)}, func() error {
		return s.MetaStore.SetObjectDigests(ctx, bucket, key, etag, sum, md5)
	})
}

// CompleteUpload invalidates the key the upload completes.
func (s *Store) CompleteUpload(ctx context.Context, uploadID string, o meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	var replaced *meta.Object
	err := s.write(ctx, []string{objectKey(o.Bucket, o.Key)}, func() error {
		var err error
		replaced, err = s.MetaStore.CompleteUpload(ctx, uploadID, o, cond)
		return err
	})
	return replaced, err
}

// ---- chunks ----

// InsertChunk may merge checksums into an existing chunk; its id is only known
// afterwards, so the key is invalidated then (the generation still rejects a reader that
// looked it up before).
func (s *Store) InsertChunk(ctx context.Context, c meta.Chunk, scope string) (meta.Chunk, bool, error) {
	got, created, err := s.MetaStore.InsertChunk(ctx, c, scope)
	if err == nil && !created && len(c.Checksums) > 0 {
		s.invalidate(ctx, []string{chunkKey(got.ID)}, nil, false, nil, nil)
	}
	return got, created, err
}

// MoveChunk invalidates the chunk's key.
func (s *Store) MoveChunk(ctx context.Context, id int64, backend, node, uid string) error {
	return s.write(ctx, []string{chunkKey(id)}, func() error { return s.MetaStore.MoveChunk(ctx, id, backend, node, uid) })
}

// MarkChunkCorrupt invalidates the chunk's key.
func (s *Store) MarkChunkCorrupt(ctx context.Context, id int64, corrupt bool) error {
	return s.write(ctx, []string{chunkKey(id)}, func() error { return s.MetaStore.MarkChunkCorrupt(ctx, id, corrupt) })
}

// DeleteChunkIfUnreferenced invalidates the chunk's key (SQLite may reuse the id).
func (s *Store) DeleteChunkIfUnreferenced(ctx context.Context, id int64, cutoff time.Time) (bool, error) {
	var deleted bool
	err := s.write(ctx, []string{chunkKey(id)}, func() error {
		var err error
		deleted, err = s.MetaStore.DeleteChunkIfUnreferenced(ctx, id, cutoff)
		return err
	})
	return deleted, err
}

// NewClient connects to the Redis named by a redis:// or rediss:// URL, tuned for a
// cache that must never slow requests down: short dial, read and write timeouts and no
// retries (a failed call falls back to the metadata store, which is the retry).
func NewClient(rawURL string) (*redis.Client, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis url: %w", err)
	}
	tuneOptions(o)
	return redis.NewClient(o), nil
}

func tuneOptions(o *redis.Options) {
	o.DialTimeout = 500 * time.Millisecond
	o.ReadTimeout = 250 * time.Millisecond
	o.WriteTimeout = 250 * time.Millisecond
	o.MaxRetries = -1
	o.DialerRetries = 1
}
