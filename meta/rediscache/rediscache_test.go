package rediscache

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"s3proxy/meta"
	"s3proxy/meta/gormstore"
	"s3proxy/meta/metatest"
)

// redisAddr is the test Redis; REDIS_ADDR overrides it.
func redisAddr() string {
	if a := os.Getenv("REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func pgBase() string {
	if dsn := os.Getenv("PG_DSN"); dsn != "" {
		return dsn
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// unreachable fails in CI (CI=true) and skips elsewhere.
func unreachable(t *testing.T, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s unreachable (CI is set, so this fails rather than skips): %v", what, err)
	}
	t.Skipf("%s unreachable: %v", what, err)
}

func newClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c, err := NewClient("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func requireRedis(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: redisAddr()})
	defer c.Close()
	if err := c.Ping(ctx).Err(); err != nil {
		unreachable(t, "Redis at "+redisAddr(), err)
	}
}

func requirePG(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := gormstore.Open(ctx, pgBase(), gormstore.WithSchema("public"), gormstore.WithMaxConns(1))
	if err == nil {
		err = s.Ping(ctx)
		_ = s.Close()
	}
	if err != nil {
		unreachable(t, "PostgreSQL at "+pgBase(), err)
	}
}

var seq atomic.Int64

// testPrefix returns a fresh key prefix and deletes its keys when t ends.
func testPrefix(t *testing.T) string {
	t.Helper()
	p := fmt.Sprintf("s3ptest:%d:%d:", time.Now().UnixNano(), seq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := redis.NewClient(&redis.Options{Addr: redisAddr()})
		defer c.Close()
		iter := c.Scan(ctx, 0, p+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			_ = c.Del(ctx, keys[:n]...).Err()
			keys = keys[n:]
		}
	})
	return p
}

func openSQLite(t *testing.T, path string) meta.MetaStore {
	t.Helper()
	s, err := gormstore.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func pgSchema(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("rc_%d_%d", time.Now().UnixNano()%1e12, seq.Add(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := gormstore.DropSchema(ctx, pgBase(), name); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name
}

func openPG(t *testing.T, schema string) meta.MetaStore {
	t.Helper()
	s, err := gormstore.Open(context.Background(), pgBase(), gormstore.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func wrap(t *testing.T, inner meta.MetaStore, addr, prefix string) *Store {
	t.Helper()
	return New(inner, newClient(t, addr), Options{Prefix: prefix, Backoff: 20 * time.Millisecond})
}

func TestSQLite(t *testing.T) {
	requireRedis(t)
	newStore := func(t *testing.T) meta.MetaStore {
		return wrap(t, openSQLite(t, filepath.Join(t.TempDir(), "m.db")), redisAddr(), testPrefix(t))
	}
	pair := func(t *testing.T) (meta.MetaStore, meta.MetaStore) {
		path, prefix := filepath.Join(t.TempDir(), "m.db"), testPrefix(t)
		return wrap(t, openSQLite(t, path), redisAddr(), prefix), wrap(t, openSQLite(t, path), redisAddr(), prefix)
	}
	metatest.Run(t, newStore, metatest.WithSharedPair(pair))
}

func TestPostgres(t *testing.T) {
	requireRedis(t)
	requirePG(t)
	newStore := func(t *testing.T) meta.MetaStore {
		return wrap(t, openPG(t, pgSchema(t)), redisAddr(), testPrefix(t))
	}
	pair := func(t *testing.T) (meta.MetaStore, meta.MetaStore) {
		schema, prefix := pgSchema(t), testPrefix(t)
		return wrap(t, openPG(t, schema), redisAddr(), prefix), wrap(t, openPG(t, schema), redisAddr(), prefix)
	}
	metatest.Run(t, newStore, metatest.WithSharedPair(pair))
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestRedisDown runs the whole suite with the cache pointing at a closed port: every
// answer comes from the inner store, no call fails, and errors are counted.
func TestRedisDown(t *testing.T) {
	addr := closedAddr(t)
	var caches []*Store
	var mu sync.Mutex
	track := func(s *Store) *Store {
		mu.Lock()
		defer mu.Unlock()
		caches = append(caches, s)
		return s
	}
	newStore := func(t *testing.T) meta.MetaStore {
		return track(wrap(t, openSQLite(t, filepath.Join(t.TempDir(), "m.db")), addr, "down:"))
	}
	pair := func(t *testing.T) (meta.MetaStore, meta.MetaStore) {
		path := filepath.Join(t.TempDir(), "m.db")
		return track(wrap(t, openSQLite(t, path), addr, "down:")), track(wrap(t, openSQLite(t, path), addr, "down:"))
	}
	metatest.Run(t, newStore, metatest.WithSharedPair(pair))
	var total Counters
	for _, c := range caches {
		n := c.Counters()
		total.Hits += n.Hits
		total.Errors += n.Errors
		total.Bypassed += n.Bypassed
	}
	if total.Hits != 0 || total.Errors == 0 || total.Bypassed == 0 {
		t.Errorf("counters with Redis down = %+v; want no hits, some errors and bypassed reads", total)
	}
	if err := caches[0].PingCache(context.Background()); err == nil {
		t.Errorf("PingCache with Redis down succeeded")
	}
}

// fixture is a bucket with one object over two chunks in a SQLite store, wrapped twice
// (two nodes) over one Redis prefix; raw is the inner store, for changes the cache
// does not see.
type fixture struct {
	ctx    context.Context
	raw    meta.MetaStore
	a, b   *Store
	c1, c2 meta.Chunk
}

func newFixture(t *testing.T, innerB func(meta.MetaStore) meta.MetaStore) *fixture {
	t.Helper()
	requireRedis(t)
	ctx := context.Background()
	path, prefix := filepath.Join(t.TempDir(), "m.db"), testPrefix(t)
	raw := openSQLite(t, path)
	other := openSQLite(t, path)
	if innerB != nil {
		other = innerB(other)
	}
	f := &fixture{ctx: ctx, raw: raw, a: wrap(t, raw, redisAddr(), prefix), b: wrap(t, other, redisAddr(), prefix)}
	if err := f.a.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o"}); err != nil {
		t.Fatal(err)
	}
	for i, p := range []*meta.Chunk{&f.c1, &f.c2} {
		content := fmt.Sprintf("chunk %d", i)
		c, _, err := f.a.InsertChunk(ctx, meta.Chunk{UID: fmt.Sprintf("uid-%d", i), SHA256: sha256.Sum256([]byte(content)), Size: int64(len(content)), Backend: "disk", Node: "n1"}, "")
		if err != nil {
			t.Fatal(err)
		}
		*p = c
	}
	f.put(t, f.a, "v1")
	return f
}

func (f *fixture) put(t *testing.T, s meta.MetaStore, etag string) {
	t.Helper()
	o := meta.Object{Bucket: "b", Key: "k", ETag: etag, Size: f.c1.Size + f.c2.Size, ContentType: "text/plain",
		UserMeta: map[string]string{"a": "1"}, Manifest: []meta.Extent{{ChunkID: f.c1.ID, Length: f.c1.Size}, {ChunkID: f.c2.ID, Length: f.c2.Size}}}
	if _, err := s.PutObject(f.ctx, o, meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) etag(t *testing.T, s meta.MetaStore) string {
	t.Helper()
	o, err := s.GetObject(f.ctx, "b", "k")
	if errors.Is(err, meta.ErrNotFound) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.ETag
}

// TestServedFromCache shows reads are answered by Redis once warm: a change made
// behind the cache's back (straight to the database) is not seen, and the counters move.
func TestServedFromCache(t *testing.T) {
	f := newFixture(t, nil)
	for range 3 { // object, then chunk rows, then a full hit
		f.etag(t, f.b)
	}
	before := f.b.Counters()
	f.put(t, f.raw, "behind-the-back")
	got, err := f.b.GetObject(f.ctx, "b", "k")
	if err != nil || got.ETag != "v1" || len(got.Manifest) != 2 || got.Manifest[1].Chunk.UID != f.c2.UID ||
		got.Manifest[0].Chunk.Node != "n1" || got.UserMeta["a"] != "1" {
		t.Fatalf("warm GetObject = %+v, %v; want the cached v1", got, err)
	}
	if after := f.b.Counters(); after.Hits != before.Hits+1 || after.Misses != before.Misses {
		t.Errorf("counters %+v -> %+v, want one more hit", before, after)
	}
	// A hit, chunk rows included, is one round trip to Redis.
	var calls atomic.Int32
	f.b.rc.AddHook(countHook{&calls})
	if e := f.etag(t, f.b); e != "v1" || calls.Load() != 1 {
		t.Errorf("hit: %s in %d Redis round trips, want v1 in 1", e, calls.Load())
	}
	// The same through the other node: the cache is shared.
	if e := f.etag(t, f.a); e != "v1" {
		t.Errorf("node a reads %s, want the shared cached v1", e)
	}
	// A write through either node invalidates for both.
	f.put(t, f.a, "v2")
	if e := f.etag(t, f.b); e != "v2" {
		t.Errorf("after a write through node a, node b reads %s", e)
	}
	// Negative answers are cached, and invalidated by creation.
	_, err = f.b.GetBucket(f.ctx, "nob")
	if !errors.Is(err, meta.ErrNotFound) {
		t.Fatal(err)
	}
	if err := f.raw.CreateBucket(f.ctx, meta.Bucket{Name: "nob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.b.GetBucket(f.ctx, "nob"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("cached absence not served: %v", err)
	}
}

// countHook counts the commands a client sends (a script run is one).
type countHook struct{ n *atomic.Int32 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}
func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(int32(len(cmds))); return next(ctx, cmds) }
}

// slowInner delays GetObject between reading the database and returning, so a test can
// commit a write in that gap.
type slowInner struct {
	meta.MetaStore
	armed   atomic.Bool
	read    chan struct{} // closed when an armed GetObject has read
	release chan struct{} // GetObject returns once this is closed
}

func (s *slowInner) GetObject(ctx context.Context, bucket, key string) (meta.Object, error) {
	o, err := s.MetaStore.GetObject(ctx, bucket, key)
	if s.armed.CompareAndSwap(true, false) {
		close(s.read)
		<-s.release
	}
	return o, err
}

// TestStaleFillRejected is the classic read-through race: node b misses and reads v1
// from the database; node a writes v2 and invalidates; then b stores what it read. The
// generation check must drop b's v1.
func TestStaleFillRejected(t *testing.T) {
	var slow *slowInner
	f := newFixture(t, func(s meta.MetaStore) meta.MetaStore {
		slow = &slowInner{MetaStore: s, read: make(chan struct{}), release: make(chan struct{})}
		return slow
	})
	slow.armed.Store(true)
	done := make(chan string)
	go func() {
		o, _ := f.b.GetObject(f.ctx, "b", "k")
		done <- o.ETag
	}()
	<-slow.read
	f.put(t, f.a, "v2")
	close(slow.release)
	if got := <-done; got != "v1" {
		t.Fatalf("racing read returned %s, want the v1 it read", got)
	}
	for range 3 {
		if e := f.etag(t, f.b); e != "v2" {
			t.Fatalf("after the race node b reads %s, want v2 (stale fill was stored)", e)
		}
	}
}

// TestDirtyWhileWriting: a writer marked the key dirty and committed, but never got to
// invalidate (crashed, or lost Redis just then). Readers meanwhile must not have cached
// the old row they read before the commit.
func TestDirtyWhileWriting(t *testing.T) {
	f := newFixture(t, nil)
	keys := []string{objectKey("b", "k")}
	if _, ok := f.a.begin(f.ctx, keys); !ok {
		t.Fatal("begin failed")
	}
	for range 2 {
		if e := f.etag(t, f.b); e != "v1" {
			t.Fatalf("during the write node b reads %s", e)
		}
	}
	f.put(t, f.raw, "v2") // the commit; no invalidation follows
	if e := f.etag(t, f.b); e != "v2" {
		t.Errorf("after the commit node b reads %s, want v2 (a read during the write was cached)", e)
	}
}

// proxy is a TCP relay to Redis that a test can cut, to simulate an outage of one node's
// connection while other nodes still reach Redis.
type proxy struct {
	ln    net.Listener
	down  atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(func() { _ = ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if p.down.Load() {
				_ = c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	return p
}

func (p *proxy) cut() {
	p.down.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// TestOutageAndRecovery: node a loses Redis, keeps answering from the database, writes
// while it cannot invalidate; once Redis is back, a bumps the epoch before using the
// cache, so node b (which never lost Redis) stops serving what it had cached.
func TestOutageAndRecovery(t *testing.T) {
	requireRedis(t)
	ctx := context.Background()
	path, prefix := filepath.Join(t.TempDir(), "m.db"), testPrefix(t)
	px := newProxy(t, redisAddr())
	a := wrap(t, openSQLite(t, path), px.ln.Addr().String(), prefix)
	b := wrap(t, openSQLite(t, path), redisAddr(), prefix)
	f := &fixture{ctx: ctx, a: a, b: b}
	if err := a.CreateBucket(ctx, meta.Bucket{Name: "b"}); err != nil {
		t.Fatal(err)
	}
	for i, p := range []*meta.Chunk{&f.c1, &f.c2} {
		c, _, err := a.InsertChunk(ctx, meta.Chunk{UID: fmt.Sprint(i), SHA256: sha256.Sum256([]byte{byte(i)}), Size: 1}, "")
		if err != nil {
			t.Fatal(err)
		}
		*p = c
	}
	f.put(t, a, "v1")
	for range 3 {
		f.etag(t, b)
	}
	px.cut()
	f.put(t, a, "v2") // cannot invalidate: b's cached v1 survives for now
	if e := f.etag(t, a); e != "v2" {
		t.Errorf("node a during its outage reads %s, want v2 from the database", e)
	}
	if n := a.Counters(); n.Errors == 0 || n.Bypassed == 0 {
		t.Errorf("node a counters during outage = %+v", n)
	}
	if e := f.etag(t, b); e != "v1" {
		t.Logf("node b reads %s during a's outage (the documented window allows v1)", e)
	}
	px.down.Store(false)
	time.Sleep(50 * time.Millisecond) // past the back-off
	if e := f.etag(t, a); e != "v2" {
		t.Errorf("node a after recovery reads %s", e)
	}
	if e := f.etag(t, b); e != "v2" {
		t.Errorf("node b after a's recovery reads %s, want v2 (epoch not bumped)", e)
	}
	if err := a.PingCache(ctx); err != nil {
		t.Errorf("PingCache after recovery: %v", err)
	}
}

// TestEveryMethodClassified fails when meta.MetaStore gains a method this package has
// not decided about: a new write that passed through unseen could leave stale entries.
func TestEveryMethodClassified(t *testing.T) {
	overridden := []string{
		"GetBucket", "CreateBucket", "DeleteBucket",
		"GetObject", "PutObject", "DeleteObject", "SetObjectDigests", "CompleteUpload",
		"InsertChunk", "MoveChunk", "MarkChunkCorrupt", "DeleteChunkIfUnreferenced",
		"PutDeleteMarker", "DeleteObjectVersion",
	}
	// Pass-throughs: reads not cached, or writes that change nothing cached (uploads in
	// progress, parts, jobs, nodes, settings, locks; reference counts are not cached).
	passThrough := []string{
		"ListBuckets", "ListObjects", "FindObjectBySHA256",
		"GetObjectVersion", "ListObjectVersions", "SetVersionHeaders", // noncurrent versions are not cached
		"FindChunk", "GetChunk", "ChunkByUID", "ListChunks", "GCCandidates", "ObjectsUsingChunk",
		"CreateUpload", "GetUpload", "PutPart", "ListParts", "ListUploads", "AbortUpload", "StaleUploads",
		"Enqueue", "Claim", "Finish", "Heartbeat", "ListNodes", "GetOrCreateSetting", "TryLock", "Unlock",
		"Stats", "Ping", "Close",
		// Bucket configurations are not cached; DeleteBucket (overridden) drops them.
		"GetBucketConfig", "PutBucketConfig", "DeleteBucketConfig", "ListBucketConfigs",
	}
	metatest.CheckEveryMethodClassified(t, "Store", overridden, passThrough)
}

// TestWriteThrough: a small object written through one node is, on another, a hit in one
// round trip, equal to what the store returns; a delete leaves the key's absence.
func TestWriteThrough(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.a.PutObject(f.ctx, metatest.NewInlineObject("small", "s1", "hello"), meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	f.etag(t, f.b) // node b's connection made
	var calls atomic.Int32
	f.b.rc.AddHook(countHook{&calls})
	before := f.b.Counters()
	got, err := f.b.GetObject(f.ctx, "b", "small")
	if err != nil || calls.Load() != 1 {
		t.Fatalf("read after a write through node a: %v in %d round trips", err, calls.Load())
	}
	if after := f.b.Counters(); after.Hits != before.Hits+1 || after.Misses != before.Misses {
		t.Errorf("counters %+v -> %+v, want one more hit", before, after)
	}
	want, err := f.raw.GetObject(f.ctx, "b", "small")
	if err != nil {
		t.Fatal(err)
	}
	gc, wc := got.Manifest[0].Chunk, want.Manifest[0].Chunk
	if got.ETag != want.ETag || got.Size != want.Size || !got.ModTime.Equal(want.ModTime) || got.Owner != want.Owner ||
		gc.ID != wc.ID || gc.UID != wc.UID || gc.SHA256 != wc.SHA256 || gc.Backend != wc.Backend || string(gc.Data) != string(wc.Data) {
		t.Errorf("cached after the write:\n %+v\nstore:\n %+v", got, want)
	}

	if _, err := f.a.DeleteObject(f.ctx, "b", "small", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	calls.Store(0)
	before = f.b.Counters()
	if _, err := f.b.GetObject(f.ctx, "b", "small"); !errors.Is(err, meta.ErrNotFound) || calls.Load() != 1 {
		t.Fatalf("read after a delete through node a: %v in %d round trips", err, calls.Load())
	}
	if after := f.b.Counters(); after.Hits != before.Hits+1 {
		t.Errorf("counters %+v -> %+v, want one more hit", before, after)
	}
}

// TestWriteThroughRace: two nodes write a key; the first to commit finishes last. Neither
// may leave its object behind as the current one unless it is.
func TestWriteThroughRace(t *testing.T) {
	requireRedis(t)
	ctx := context.Background()
	path, prefix := filepath.Join(t.TempDir(), "m.db"), testPrefix(t)
	hold := metatest.NewHoldPut(openSQLite(t, path), "first")
	a, b := wrap(t, hold, redisAddr(), prefix), wrap(t, openSQLite(t, path), redisAddr(), prefix)
	if err := a.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o"}); err != nil {
		t.Fatal(err)
	}
	hold.Cross(t, ctx, a, b)
	for name, n := range map[string]*Store{"a": a, "b": b} {
		if o, err := n.GetObject(ctx, "b", "k"); err != nil || o.ETag != "second" {
			t.Errorf("node %s after crossing writes: %q, %v; want second", name, o.ETag, err)
		}
	}
}
