package translate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/backends/mem"
	"s3proxy/dedup"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
	"s3proxy/translate/lifecycle"
)

// clock is the service's injectable clock: passes are run "days later" by setting it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// hookStore lets a test act between the worker's reads and its writes.
type hookStore struct {
	meta.MetaStore
	afterList func(bucket string, page meta.ListResult)
	afterGet  func(bucket, key string)
	pages     []int // size of every page listed
}

func (h *hookStore) ListObjects(ctx context.Context, bucket string, q meta.ListQuery) (meta.ListResult, error) {
	res, err := h.MetaStore.ListObjects(ctx, bucket, q)
	h.pages = append(h.pages, len(res.Objects))
	if err == nil && h.afterList != nil {
		h.afterList(bucket, res)
	}
	return res, err
}

func (h *hookStore) GetObject(ctx context.Context, bucket, key string) (meta.Object, error) {
	o, err := h.MetaStore.GetObject(ctx, bucket, key)
	if err == nil && h.afterGet != nil {
		h.afterGet(bucket, key)
	}
	return o, err
}

type lcFixture struct {
	t     *testing.T
	ctx   context.Context
	clk   *clock
	store *hookStore
	svc   *Service
	p     Principal
}

// t0 is when the fixture's objects are written: 10:30 UTC, S3's example hour.
var t0 = time.Date(2026, 1, 15, 10, 30, 0, 0, time.UTC)

func day(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }

func newLCFixture(t *testing.T) *lcFixture {
	t.Helper()
	ctx := context.Background()
	ms, err := gormstore.Open(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close() })
	hs := &hookStore{MetaStore: ms}
	eng, err := dedup.New(dedup.Config{Meta: hs, Stores: map[string]backends.BlobStore{"mem": mem.New("mem")}, DefaultBackend: "mem"})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: t0}
	svc, err := New(Config{Meta: hs, Dedup: eng, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	f := &lcFixture{t: t, ctx: ctx, clk: clk, store: hs, svc: svc, p: Principal{AccessKey: "owner"}}
	if err := svc.CreateBucket(ctx, f.p, "bkt", "", nil); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *lcFixture) put(bucket, key, body, tags string) {
	f.t.Helper()
	headers := map[string]string{}
	if tags != "" {
		headers[TaggingKey] = tags
	}
	if _, err := f.svc.PutObject(f.ctx, &PutObjectInput{Principal: f.p, Bucket: bucket, Key: key, Headers: headers,
		Body: Body{Reader: strings.NewReader(body), Size: int64(len(body))}}); err != nil {
		f.t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
}

func (f *lcFixture) setRules(bucket string, rules ...lifecycle.Rule) {
	f.t.Helper()
	if err := f.svc.SetBucketLifecycle(f.ctx, f.p, bucket, lifecycle.Configuration{Rules: rules}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *lcFixture) keys(bucket string) []string {
	f.t.Helper()
	out, err := f.svc.ListObjects(f.ctx, &ListObjectsInput{Principal: f.p, Bucket: bucket, MaxKeys: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	var ks []string
	for _, o := range out.Objects {
		ks = append(ks, o.Key)
	}
	return ks
}

func (f *lcFixture) read(bucket, key string) string {
	f.t.Helper()
	out, err := f.svc.GetObject(f.ctx, &GetObjectInput{Principal: f.p, Bucket: bucket, Key: key})
	if err != nil {
		f.t.Fatalf("get %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// pass runs a pass at the given instant and returns what it expired and aborted.
func (f *lcFixture) pass(at time.Time, opts LifecycleOptions) (LifecycleResult, []string) {
	f.t.Helper()
	f.clk.set(at)
	var acts []string
	opts.OnAction = func(a LifecycleAction) {
		if a.Kind == ActionAbort {
			acts = append(acts, "abort "+a.Bucket+"/"+a.Key+" by "+a.RuleID)
			return
		}
		acts = append(acts, a.Bucket+"/"+a.Key+" by "+a.RuleID)
	}
	res, err := f.svc.ApplyLifecycle(f.ctx, opts)
	if err != nil {
		f.t.Fatalf("pass at %v: %v", at, err)
	}
	slices.Sort(acts)
	return res, acts
}

func i64(v int64) *int64 { return &v }

func rule(id string, f lifecycle.Filter, days int) lifecycle.Rule {
	return lifecycle.Rule{ID: id, Status: lifecycle.Enabled, Filter: f, Expiration: &lifecycle.Expiration{Days: days}}
}

// TestLifecycleExpiration: passes run at chosen instants expire exactly the objects
// whose rule (prefix, tags, size bounds, status) selects them once their S3 due date
// (last modified plus the days, rounded up to midnight UTC; or the rule's date) is
// reached, and nothing earlier.
func TestLifecycleExpiration(t *testing.T) {
	f := newLCFixture(t)
	big := strings.Repeat("x", 200)
	f.put("bkt", "logs/a", "log a", "")
	f.put("bkt", "keep/a", "kept: its rule is disabled", "")
	f.put("bkt", "data/big", big, "")
	f.put("bkt", "data/tagged", "tmp", "tmp=yes&team=a")
	f.put("bkt", "data/other-tag", "tmp no", "tmp=no")
	f.put("bkt", "data/small", "small", "")
	f.put("bkt", "old/x", "old", "")
	f.put("bkt", "sized/mid", strings.Repeat("m", 50), "")
	f.put("bkt", "sized/low", strings.Repeat("l", 10), "")
	disabled := rule("disabled", lifecycle.Filter{Prefix: "keep/"}, 1)
	disabled.Status = lifecycle.Disabled
	date := lifecycle.Rule{ID: "date", Status: lifecycle.Enabled, Filter: lifecycle.Filter{Prefix: "old/"},
		Expiration: &lifecycle.Expiration{Date: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}}
	f.setRules("bkt",
		rule("logs", lifecycle.Filter{Prefix: "logs/"}, 3),
		disabled,
		rule("big", lifecycle.Filter{Prefix: "data/", SizeGreaterThan: i64(100)}, 1),
		rule("tagged", lifecycle.Filter{Tags: []lifecycle.Tag{{Key: "tmp", Value: "yes"}}}, 1),
		rule("range", lifecycle.Filter{Prefix: "sized/", SizeGreaterThan: i64(20), SizeLessThan: i64(100)}, 2),
		date,
	)
	all := f.keys("bkt")
	for _, tc := range []struct {
		at      time.Time
		expired []string
	}{
		{t0, nil},
		{day(16), nil},
		{day(17).Add(-time.Nanosecond), nil},
		{day(17), []string{"bkt/data/big by big", "bkt/data/tagged by tagged"}},
		{day(18), []string{"bkt/sized/mid by range"}},
		{day(19).Add(-time.Second), nil},
		{day(19), []string{"bkt/logs/a by logs"}},
		{day(31), nil},
		{time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), []string{"bkt/old/x by date"}},
		{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), nil},
	} {
		res, got := f.pass(tc.at, LifecycleOptions{})
		if fmt.Sprint(got) != fmt.Sprint(tc.expired) || res.Expired != int64(len(tc.expired)) || res.Changed != 0 || res.Errors != 0 || res.Buckets != 1 {
			t.Errorf("pass at %v: expired %q (%+v), want %q", tc.at, got, res, tc.expired)
		}
		for _, e := range tc.expired {
			key := strings.TrimPrefix(strings.Fields(e)[0], "bkt/")
			all = slices.DeleteFunc(all, func(k string) bool { return k == key })
		}
		if got := f.keys("bkt"); fmt.Sprint(got) != fmt.Sprint(all) {
			t.Fatalf("after the pass at %v: keys %q, want %q", tc.at, got, all)
		}
	}
	if fmt.Sprint(all) != "[data/other-tag data/small keep/a sized/low]" {
		t.Errorf("left at the end: %q", all)
	}
}

// TestLifecycleReleasesReferences: an expired object's chunk references go as a
// DeleteObject's do: content another key shares stays, the rest is left for the
// collector.
func TestLifecycleReleasesReferences(t *testing.T) {
	f := newLCFixture(t)
	shared, own := strings.Repeat("s", 100<<10), strings.Repeat("o", 100<<10) // above the inline limit: blobs
	f.put("bkt", "tmp/shared", shared, "")
	f.put("bkt", "keep/shared", shared, "")
	f.put("bkt", "tmp/own", own, "")
	before, err := f.store.Stats(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.setRules("bkt", rule("tmp", lifecycle.Filter{Prefix: "tmp/"}, 1))
	res, _ := f.pass(day(17), LifecycleOptions{})
	if res.Expired != 2 || res.ExpiredBytes != int64(len(shared)+len(own)) {
		t.Fatalf("result %+v", res)
	}
	after, err := f.store.Stats(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Objects != before.Objects-2 || after.LogicalBytes != before.LogicalBytes-int64(len(shared)+len(own)) {
		t.Errorf("stats after: %+v (before %+v)", after, before)
	}
	if got := f.read("bkt", "keep/shared"); got != shared {
		t.Errorf("the key sharing the expired content lost it")
	}
	cands, err := f.store.GCCandidates(f.ctx, time.Now().Add(time.Hour), 10)
	if err != nil || len(cands) != 1 || cands[0].Size != int64(len(own)) {
		t.Errorf("unreferenced chunks after expiration: %+v, %v (want only the expired key's own)", cands, err)
	}
}

// TestLifecycleAbortsUploads: uploads whose rule's days since initiation (rounded up
// to midnight UTC) have passed are aborted with their parts; others stay.
func TestLifecycleAbortsUploads(t *testing.T) {
	f := newLCFixture(t)
	start := func(key string) string {
		t.Helper()
		out, err := f.svc.CreateMultipartUpload(f.ctx, &CreateUploadInput{Principal: f.p, Bucket: "bkt", Key: key})
		if err != nil {
			t.Fatal(err)
		}
		id := out.UploadID
		body := strings.Repeat(key, 1000)
		if _, err := f.svc.UploadPart(f.ctx, &UploadPartInput{Principal: f.p, Bucket: "bkt", Key: key, UploadID: id, PartNumber: 1,
			Body: Body{Reader: strings.NewReader(body), Size: int64(len(body))}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	for _, k := range []string{"tmp/a", "tmp/b", "data/c", "data/d"} {
		start(k)
	}
	f.clk.set(day(17).Add(12 * time.Hour))
	start("tmp/late") // initiated later: due later
	f.put("bkt", "tmp/object", "objects are not uploads", "")
	f.setRules("bkt",
		lifecycle.Rule{ID: "tmp", Status: lifecycle.Enabled, Filter: lifecycle.Filter{Prefix: "tmp/"},
			AbortIncompleteMultipartUpload: &lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: 2}},
		lifecycle.Rule{ID: "all", Status: lifecycle.Enabled,
			AbortIncompleteMultipartUpload: &lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: 7}},
	)
	uploads := func() []string {
		t.Helper()
		out, err := f.svc.ListMultipartUploads(f.ctx, &ListUploadsInput{Principal: f.p, Bucket: "bkt", MaxUploads: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, u := range out.Uploads {
			ks = append(ks, u.Key)
		}
		return ks
	}
	for _, tc := range []struct {
		at      time.Time
		aborted []string
		left    string
	}{
		{day(17), nil, "[data/c data/d tmp/a tmp/b tmp/late]"},
		{day(18), []string{"abort bkt/tmp/a by tmp", "abort bkt/tmp/b by tmp"}, "[data/c data/d tmp/late]"},
		{day(20), []string{"abort bkt/tmp/late by tmp"}, "[data/c data/d]"},
		{day(23).Add(-time.Second), nil, "[data/c data/d]"},
		{day(23), []string{"abort bkt/data/c by all", "abort bkt/data/d by all"}, "[]"},
	} {
		res, got := f.pass(tc.at, LifecycleOptions{})
		if fmt.Sprint(got) != fmt.Sprint(tc.aborted) || res.Aborted != int64(len(tc.aborted)) || res.Expired != 0 {
			t.Errorf("pass at %v: %q (%+v), want %q", tc.at, got, res, tc.aborted)
		}
		if got := fmt.Sprint(uploads()); got != tc.left {
			t.Errorf("uploads after the pass at %v: %s, want %s", tc.at, got, tc.left)
		}
	}
	if ks := f.keys("bkt"); fmt.Sprint(ks) != "[tmp/object]" {
		t.Errorf("objects: %q", ks)
	}
	// The parts' chunks were released with their uploads.
	cands, err := f.store.GCCandidates(f.ctx, time.Now().Add(time.Hour), 100)
	if err != nil || len(cands) != 5 {
		t.Errorf("unreferenced chunks after the aborts: %d, %v; want the 5 uploads' parts", len(cands), err)
	}
}

// TestLifecycleRaces: an object changed between the worker's reads and its delete is
// left alone: overwritten (with other content, or the same: same ETag), retagged so that
// the rule no longer selects it, or deleted. The next pass judges the new version.
func TestLifecycleRaces(t *testing.T) {
	tagRule := rule("tagged", lifecycle.Filter{Tags: []lifecycle.Tag{{Key: "tmp", Value: "yes"}}}, 1)
	prefixRule := rule("all", lifecycle.Filter{}, 1)
	for _, tc := range []struct {
		name string
		rule lifecycle.Rule
		tags string
		// afterList or afterGet acts on "k" once the worker has read it.
		afterList, afterGet func(f *lcFixture)
		wantLeft            string // content of "k" afterwards ("" gone)
	}{
		{name: "overwritten with the same content", rule: prefixRule,
			afterList: func(f *lcFixture) { f.clk.set(f.clk.Now().Add(time.Second)); f.put("bkt", "k", "v1", "") }, wantLeft: "v1"},
		{name: "overwritten with other content", rule: prefixRule,
			afterList: func(f *lcFixture) { f.put("bkt", "k", "v2", "") }, wantLeft: "v2"},
		{name: "deleted", rule: prefixRule,
			afterList: func(f *lcFixture) {
				if _, err := f.svc.DeleteObject(f.ctx, f.p, "bkt", "k", "", "", false); err != nil {
					f.t.Fatal(err)
				}
			}},
		{name: "retagged after its tags were read", rule: tagRule, tags: "tmp=yes",
			afterGet: func(f *lcFixture) {
				if _, err := f.svc.SetObjectTagging(f.ctx, f.p, "bkt", "k", "", "tmp=no"); err != nil {
					f.t.Fatal(err)
				}
			}, wantLeft: "v1"},
		{name: "overwritten after its tags were read", rule: tagRule, tags: "tmp=yes",
			afterGet: func(f *lcFixture) { f.clk.set(f.clk.Now().Add(time.Second)); f.put("bkt", "k", "v1", "tmp=yes") }, wantLeft: "v1"},
		{name: "overwritten between listing and reading its tags", rule: tagRule, tags: "tmp=yes",
			afterList: func(f *lcFixture) { f.clk.set(f.clk.Now().Add(time.Second)); f.put("bkt", "k", "v1", "tmp=yes") }, wantLeft: "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLCFixture(t)
			f.put("bkt", "k", "v1", tc.tags)
			f.setRules("bkt", tc.rule)
			// Each hook acts once, and is unset before it acts: its own writes read too.
			if tc.afterList != nil {
				f.store.afterList = func(string, meta.ListResult) { f.store.afterList = nil; tc.afterList(f) }
			}
			if tc.afterGet != nil {
				f.store.afterGet = func(string, string) { f.store.afterGet = nil; tc.afterGet(f) }
			}
			res, got := f.pass(day(17), LifecycleOptions{})
			if res.Expired != 0 || len(got) != 0 || res.Changed != 1 || res.Errors != 0 {
				t.Errorf("pass: expired %q, %+v; want nothing expired and one change", got, res)
			}
			f.store.afterList, f.store.afterGet = nil, nil
			if tc.wantLeft == "" {
				if ks := f.keys("bkt"); len(ks) != 0 {
					t.Errorf("keys %q", ks)
				}
				return
			}
			if got := f.read("bkt", "k"); got != tc.wantLeft {
				t.Errorf("k = %q, want %q", got, tc.wantLeft)
			}
			// The new version is judged by its own date (written on the 17th: due on the
			// 19th), if the rule still selects it.
			for _, next := range []struct {
				at   time.Time
				kept bool
			}{{day(18), true}, {day(19), tc.name == "retagged after its tags were read"}} {
				res, _ = f.pass(next.at, LifecycleOptions{})
				if kept := len(f.keys("bkt")) == 1; kept != next.kept || res.Changed != 0 {
					t.Errorf("pass at %v: %+v, kept %v, want kept %v", next.at, res, kept, next.kept)
				}
			}
		})
	}
}

// TestLifecycleDryRunAndPaging: a dry run as of a later instant reports what would be
// due and changes nothing; passes read keys, uploads and configurations a page at a time
// and still see every one.
func TestLifecycleDryRunAndPaging(t *testing.T) {
	f := newLCFixture(t)
	for _, b := range []string{"c1x", "c2x", "c3x"} {
		if err := f.svc.CreateBucket(f.ctx, f.p, b, "", nil); err != nil {
			t.Fatal(err)
		}
		f.setRules(b, rule("r", lifecycle.Filter{Prefix: "p/"}, 1))
	}
	for i := range 23 {
		f.put("c2x", fmt.Sprintf("p/%02d", i), "x", "")
	}
	f.put("c2x", "q/kept", "x", "")
	f.put("c3x", "p/one", "x", "")

	f.store.pages = nil
	res, acts := f.pass(t0, LifecycleOptions{DryRun: true, At: day(20), page: 5})
	if res.Expired != 24 || len(acts) != 24 || res.Buckets != 3 {
		t.Errorf("dry run: %+v, %d actions", res, len(acts))
	}
	// c1x has no key under p/, c2x 23 in five pages, c3x one.
	if fmt.Sprint(f.store.pages) != "[0 5 5 5 5 3 1]" {
		t.Errorf("pages listed: %v, want at most 5 keys each", f.store.pages)
	}
	if n := len(f.keys("c2x")) + len(f.keys("c3x")); n != 25 {
		t.Fatalf("a dry run deleted objects: %d left", n)
	}

	// Only one bucket, then all of them.
	res, _ = f.pass(day(17), LifecycleOptions{Bucket: "c3x", page: 5})
	if res.Expired != 1 || res.Buckets != 1 || len(f.keys("c3x")) != 0 || len(f.keys("c2x")) != 24 {
		t.Errorf("pass over c3 only: %+v", res)
	}
	res, _ = f.pass(day(17), LifecycleOptions{page: 5})
	// Only the rules' prefixes are listed: q/kept is never examined.
	if res.Expired != 23 || res.Objects != 23 || fmt.Sprint(f.keys("c2x")) != "[q/kept]" {
		t.Errorf("pass over all: %+v, c2 %q", res, f.keys("c2x"))
	}
	if res, _ := f.pass(day(17), LifecycleOptions{Bucket: "nosuchbucket"}); res != (LifecycleResult{}) {
		t.Errorf("pass over a bucket without a configuration: %+v", res)
	}
}

// TestLifecycleStops: a cancelled context ends a pass with its error; a bucket whose
// stored configuration cannot be read is skipped and counted, the others still run.
func TestLifecycleStops(t *testing.T) {
	f := newLCFixture(t)
	f.put("bkt", "k", "v", "")
	f.setRules("bkt", rule("all", lifecycle.Filter{}, 1))
	ctx, cancel := context.WithCancel(f.ctx)
	cancel()
	f.clk.set(day(20))
	if _, err := f.svc.ApplyLifecycle(ctx, LifecycleOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled pass: %v", err)
	}
	if err := f.svc.CreateBucket(f.ctx, f.p, "a-broken", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.store.PutBucketConfig(f.ctx, meta.BucketConfig{Bucket: "a-broken", Kind: lifecycle.Kind, Value: "{not json"}); err != nil {
		t.Fatal(err)
	}
	res, _ := f.pass(day(20), LifecycleOptions{})
	if res.Errors != 1 || res.Expired != 1 {
		t.Errorf("pass with a broken configuration: %+v", res)
	}
	if _, err := f.svc.BucketLifecycle(f.ctx, f.p, "a-broken"); err == nil {
		t.Errorf("GetBucketLifecycleConfiguration of a broken configuration succeeded")
	}
}
