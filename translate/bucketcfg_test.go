package translate

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/backends/mem"
	"s3proxy/dedup"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
	"s3proxy/translate/buckettags"
	"s3proxy/translate/cors"
)

// configStore counts the configuration reads that reach the metadata store and lets a
// test hold them (after they have read) or fail writes.
type configStore struct {
	meta.MetaStore
	reads   atomic.Int64
	hold    chan struct{} // when set, each read waits for it to be closed
	started chan struct{} // told of each read that begins
	failPut error
}

func (c *configStore) GetBucketConfig(ctx context.Context, bucket, kind string) (meta.BucketConfig, error) {
	c.reads.Add(1)
	bc, err := c.MetaStore.GetBucketConfig(ctx, bucket, kind)
	// A held read has read the store: what it returns may be stale by the time it does.
	if c.started != nil {
		c.started <- struct{}{}
	}
	if c.hold != nil {
		<-c.hold
	}
	return bc, err
}

func (c *configStore) PutBucketConfig(ctx context.Context, bc meta.BucketConfig) error {
	if c.failPut != nil {
		return c.failPut
	}
	return c.MetaStore.PutBucketConfig(ctx, bc)
}

type cfgFixture struct {
	ctx   context.Context
	clk   *clock
	store *configStore
	svc   *Service
	p     Principal
}

func newCfgFixture(t testing.TB) *cfgFixture {
	t.Helper()
	ctx := context.Background()
	ms, err := gormstore.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close() })
	cs := &configStore{MetaStore: ms}
	eng, err := dedup.New(dedup.Config{Meta: cs, Stores: map[string]backends.BlobStore{"mem": mem.New("mem")}, DefaultBackend: "mem"})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	svc, err := New(Config{Meta: cs, Dedup: eng, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return &cfgFixture{ctx: ctx, clk: clk, store: cs, svc: svc, p: Principal{AccessKey: "owner"}}
}

func code(err error) string {
	var te *Error
	if errors.As(err, &te) {
		return te.Code
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestBucketTagging: tags read back in order, an empty set and a delete leave none,
// tags given to CreateBucket are stored, and they go with the bucket.
func TestBucketTagging(t *testing.T) {
	f := newCfgFixture(t)
	other := Principal{AccessKey: "other"}
	tags := buckettags.Set{{Key: "project", Value: "blue"}, {Key: "cost-center", Value: ""}}
	if err := f.svc.CreateBucket(f.ctx, f.p, "tagged", "", tags); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := f.svc.BucketTagging(f.ctx, f.p, "tagged"); err != nil || !ok || !reflect.DeepEqual(got, tags) {
		t.Fatalf("tags given to CreateBucket: %+v %v %v", got, ok, err)
	}
	if _, _, err := f.svc.BucketTagging(f.ctx, other, "tagged"); code(err) != CodeAccessDenied {
		t.Errorf("another credential's GetBucketTagging: %v", err)
	}
	if err := f.svc.SetBucketTagging(f.ctx, other, "tagged", buckettags.Set{{Key: "x", Value: "y"}}); code(err) != CodeAccessDenied {
		t.Errorf("another credential's PutBucketTagging: %v", err)
	}
	if _, _, err := f.svc.BucketTagging(f.ctx, f.p, "missing"); code(err) != CodeNoSuchBucket {
		t.Errorf("GetBucketTagging of a missing bucket: %v", err)
	}
	next := buckettags.Set{{Key: "b", Value: "2"}, {Key: "a", Value: "1"}}
	if err := f.svc.SetBucketTagging(f.ctx, f.p, "tagged", next); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := f.svc.BucketTagging(f.ctx, f.p, "tagged"); !reflect.DeepEqual(got, next) {
		t.Errorf("replaced tags: %+v", got)
	}
	if err := f.svc.SetBucketTagging(f.ctx, f.p, "tagged", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.svc.BucketTagging(f.ctx, f.p, "tagged"); ok || err != nil {
		t.Errorf("after an empty set: %v %v", ok, err)
	}
	if err := f.svc.DeleteBucketTagging(f.ctx, f.p, "tagged"); err != nil {
		t.Errorf("deleting no tags: %v", err)
	}
	if err := f.svc.SetBucketTagging(f.ctx, f.p, "tagged", next); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteBucket(f.ctx, f.p, "tagged"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CreateBucket(f.ctx, f.p, "tagged", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.svc.BucketTagging(f.ctx, f.p, "tagged"); ok || err != nil {
		t.Errorf("a new bucket of the name has tags: %v %v", ok, err)
	}
}

// TestCreateBucketTagsFailure: a bucket whose tags cannot be stored is not left behind.
func TestCreateBucketTagsFailure(t *testing.T) {
	f := newCfgFixture(t)
	f.store.failPut = meta.ErrUnavailable
	err := f.svc.CreateBucket(f.ctx, f.p, "half", "", buckettags.Set{{Key: "k", Value: "v"}})
	if code(err) != CodeServiceUnavailable {
		t.Fatalf("CreateBucket whose tags fail: %v", err)
	}
	if _, err := f.svc.HeadBucket(f.ctx, f.p, "half"); code(err) != CodeNoSuchBucket {
		t.Errorf("the bucket was left: %v", err)
	}
	// Without tags, nothing but the bucket is written.
	if err := f.svc.CreateBucket(f.ctx, f.p, "half", "", nil); err != nil {
		t.Errorf("CreateBucket without tags: %v", err)
	}
}

func (f *cfgFixture) rules(t *testing.T, bucket string) (*cors.Configuration, bool) {
	t.Helper()
	cfg, ok, err := f.svc.BucketCORSRules(f.ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, ok
}

var oneRule = cors.Configuration{Rules: []cors.Rule{{AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"PUT"}}}}

// TestCORSRulesCache: the configuration browsers' requests are evaluated with is read
// from the store at most once a second per bucket, its absence (and a missing bucket's)
// included; this node's changes apply at once, another node's within the second.
func TestCORSRulesCache(t *testing.T) {
	f := newCfgFixture(t)
	if err := f.svc.CreateBucket(f.ctx, f.p, "web", "", nil); err != nil {
		t.Fatal(err)
	}
	reads := func() int64 { return f.store.reads.Swap(0) }

	if _, ok := f.rules(t, "web"); ok {
		t.Fatal("a configuration before any was set")
	}
	for range 100 {
		f.rules(t, "web")
	}
	if n := reads(); n != 1 {
		t.Errorf("101 lookups of a bucket without a configuration read the store %d times", n)
	}
	for range 100 {
		if _, ok := f.rules(t, "no-such-bucket"); ok {
			t.Fatal("a missing bucket has a configuration")
		}
	}
	if n := reads(); n != 1 {
		t.Errorf("100 lookups of a missing bucket read the store %d times", n)
	}
	if _, ok := f.rules(t, "Not_A_Bucket"); ok || reads() != 0 {
		t.Error("an impossible bucket name was looked up")
	}

	// This node's PutBucketCors applies at once.
	if err := f.svc.SetBucketCORS(f.ctx, f.p, "web", oneRule); err != nil {
		t.Fatal(err)
	}
	if cfg, ok := f.rules(t, "web"); !ok || !reflect.DeepEqual(*cfg, oneRule) {
		t.Fatalf("after PutBucketCors: %+v %v", cfg, ok)
	}
	// Another node's change (written to the store directly) shows within the second.
	doc, _ := cors.Configuration{Rules: []cors.Rule{{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}}}}.Encode()
	if err := f.store.MetaStore.PutBucketConfig(f.ctx, meta.BucketConfig{Bucket: "web", Kind: cors.Kind, Value: doc}); err != nil {
		t.Fatal(err)
	}
	if cfg, _ := f.rules(t, "web"); !reflect.DeepEqual(*cfg, oneRule) {
		t.Errorf("the cached configuration changed before its second was up: %+v", cfg)
	}
	f.clk.set(t0.Add(1100 * time.Millisecond))
	if cfg, _ := f.rules(t, "web"); cfg.Rules[0].AllowedOrigins[0] != "*" {
		t.Errorf("another node's change not seen after a second: %+v", cfg)
	}
	reads()

	// DeleteBucketCors, DeleteBucket and CreateBucket apply at once.
	if err := f.svc.DeleteBucketCORS(f.ctx, f.p, "web"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.rules(t, "web"); ok {
		t.Error("a configuration after DeleteBucketCors")
	}
	if err := f.svc.SetBucketCORS(f.ctx, f.p, "web", oneRule); err != nil {
		t.Fatal(err)
	}
	f.rules(t, "web")
	if err := f.svc.DeleteBucket(f.ctx, f.p, "web"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.rules(t, "web"); ok {
		t.Error("a deleted bucket's configuration is still used")
	}
	if err := f.svc.CreateBucket(f.ctx, f.p, "web", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.rules(t, "web"); ok {
		t.Error("a new bucket of the name has the old one's configuration")
	}
}

// TestCORSRulesStorm: concurrent lookups of an uncached bucket share one read, and a
// read that began before this node changed the configuration does not cache what it
// read.
func TestCORSRulesStorm(t *testing.T) {
	f := newCfgFixture(t)
	if err := f.svc.CreateBucket(f.ctx, f.p, "busy", "", nil); err != nil {
		t.Fatal(err)
	}
	f.store.hold, f.store.started = make(chan struct{}), make(chan struct{}, 100)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, ok, err := f.svc.BucketCORSRules(f.ctx, "busy"); ok || err != nil {
				t.Errorf("lookup: %v %v", ok, err)
			}
		})
	}
	<-f.store.started
	// Let the other lookups join the held read.
	time.Sleep(50 * time.Millisecond)
	// While the read is held, this node sets a configuration: the held read's "none"
	// must not be cached over it.
	if err := f.svc.SetBucketCORS(f.ctx, f.p, "busy", oneRule); err != nil {
		t.Fatal(err)
	}
	close(f.store.hold)
	wg.Wait()
	if n := f.store.reads.Load(); n != 1 {
		t.Errorf("50 concurrent lookups read the store %d times", n)
	}
	f.store.hold, f.store.started = nil, nil
	if _, ok, err := f.svc.BucketCORSRules(f.ctx, "busy"); !ok || err != nil {
		t.Errorf("after PutBucketCors during a read: %v %v", ok, err)
	}
}
