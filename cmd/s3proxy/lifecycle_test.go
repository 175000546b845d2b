package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"hash/crc32"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/translate"
	"s3proxy/translate/lifecycle"
)

// TestBucketLifecycleAPI drives Put/Get/DeleteBucketLifecycleConfiguration with
// aws-sdk-go-v2 and raw requests: the rules read back as set (generated IDs, filters in
// their form, the transition-size header), S3's refusals (integrity headers, digests,
// Transition, owner, bucket) store nothing, and DeleteBucket drops the configuration.
func TestBucketLifecycleAPI(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("lcb")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}); apiCode(err) != "NoSuchLifecycleConfiguration" {
		t.Fatalf("GET before any configuration: %v", err)
	}
	date := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	rules := []types.LifecycleRule{
		{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}},
		{ID: aws.String("tmp-tagged"), Status: types.ExpirationStatusDisabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{Prefix: aws.String("tmp/"),
				Tags: []types.Tag{{Key: aws.String("class"), Value: aws.String("scratch")}}, ObjectSizeGreaterThan: aws.Int64(1024)}}},
		{Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{ObjectSizeLessThan: aws.Int64(100)},
			Expiration: &types.LifecycleExpiration{Date: &date}},
		{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)},
			NoncurrentVersionExpiration:    &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(10)}},
	}
	rules[1].Expiration = &types.LifecycleExpiration{Days: aws.Int32(1)}
	put, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration:             &types.BucketLifecycleConfiguration{Rules: rules},
		TransitionDefaultMinimumObjectSize: types.TransitionDefaultMinimumObjectSizeVariesByStorageClass})
	if err != nil {
		t.Fatalf("PutBucketLifecycleConfiguration: %v", err)
	}
	if put.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeVariesByStorageClass {
		t.Errorf("PUT answered transition minimum %q", put.TransitionDefaultMinimumObjectSize)
	}
	got, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	if got.TransitionDefaultMinimumObjectSize != types.TransitionDefaultMinimumObjectSizeVariesByStorageClass || len(got.Rules) != 4 {
		t.Fatalf("GET: %+v", got)
	}
	r0, r1, r2, r3 := got.Rules[0], got.Rules[1], got.Rules[2], got.Rules[3]
	if aws.ToString(r0.ID) != "logs" || r0.Status != types.ExpirationStatusEnabled || aws.ToString(r0.Filter.Prefix) != "logs/" ||
		aws.ToInt32(r0.Expiration.Days) != 30 {
		t.Errorf("rule 0: %+v", r0)
	}
	if a := r1.Filter.And; r1.Status != types.ExpirationStatusDisabled || a == nil || aws.ToString(a.Prefix) != "tmp/" || len(a.Tags) != 1 ||
		aws.ToString(a.Tags[0].Value) != "scratch" || aws.ToInt64(a.ObjectSizeGreaterThan) != 1024 {
		t.Errorf("rule 1: %+v %+v", r1, r1.Filter.And)
	}
	if len(aws.ToString(r2.ID)) != 48 || aws.ToInt64(r2.Filter.ObjectSizeLessThan) != 100 || !aws.ToTime(r2.Expiration.Date).Equal(date) {
		t.Errorf("rule 2 (generated ID): %+v", r2)
	}
	if r3.Filter.Prefix == nil || aws.ToInt32(r3.AbortIncompleteMultipartUpload.DaysAfterInitiation) != 2 ||
		aws.ToInt32(r3.NoncurrentVersionExpiration.NoncurrentDays) != 10 {
		t.Errorf("rule 3: %+v", r3)
	}
	// The generated ID is kept: a second GET gives the same one.
	if again, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}); err != nil ||
		aws.ToString(again.Rules[2].ID) != aws.ToString(r2.ID) {
		t.Errorf("generated ID changed: %v", err)
	}
	stored := func() string {
		t.Helper()
		out, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
		if err != nil {
			return apiCode(err)
		}
		var ids []string
		for _, r := range out.Rules {
			ids = append(ids, aws.ToString(r.ID))
		}
		return strings.Join(ids, ",")
	}
	before := stored()

	// Refusals, raw: none may change what is stored.
	doc := []byte(`<LifecycleConfiguration><Rule><ID>x</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`)
	md5b64 := func(b []byte) string { s := md5.Sum(b); return base64.StdEncoding.EncodeToString(s[:]) }
	crc := func(b []byte) string {
		var s [4]byte
		v := crc32.ChecksumIEEE(b)
		s[0], s[1], s[2], s[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		return base64.StdEncoding.EncodeToString(s[:])
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   []byte
		hdr    map[string]string
		status int
		code   string
	}{
		{"no Content-MD5 nor checksum", "/lcb?lifecycle", doc, nil, 400, "InvalidRequest"},
		{"wrong Content-MD5", "/lcb?lifecycle", doc, map[string]string{"Content-MD5": md5b64([]byte("other"))}, 400, "BadDigest"},
		{"wrong CRC32", "/lcb?lifecycle", doc, map[string]string{"x-amz-checksum-crc32": crc([]byte("other"))}, 400, "BadDigest"},
		{"malformed CRC32", "/lcb?lifecycle", doc, map[string]string{"x-amz-checksum-crc32": "!!"}, 400, "InvalidRequest"},
		{"bad transition minimum", "/lcb?lifecycle", doc, map[string]string{"Content-MD5": md5b64(doc), transitionMinimumHeaderName: "64K"}, 400, "InvalidArgument"},
		{"body over 1 MiB", "/lcb?lifecycle", bytes.Repeat([]byte(" "), 1<<20+1), map[string]string{"Content-MD5": md5b64(bytes.Repeat([]byte(" "), 1<<20+1))}, 400, "MaxMessageLengthExceeded"},
		{"empty body", "/lcb?lifecycle", nil, map[string]string{"Content-MD5": md5b64(nil)}, 400, "MissingRequestBodyError"},
		{"a transition", "/lcb?lifecycle", transitionDoc, map[string]string{"Content-MD5": md5b64(transitionDoc)}, 501, "NotImplemented"},
		{"no such bucket", "/nosuchbucket?lifecycle", doc, map[string]string{"Content-MD5": md5b64(doc)}, 404, "NoSuchBucket"},
	} {
		status, body, _ := st.raw(t, "PUT", tc.path, tc.body, tc.hdr)
		if status != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
		if got := stored(); got != before {
			t.Errorf("%s changed the configuration: %s", tc.name, got)
		}
	}
	// A correct checksum instead of Content-MD5 is enough, and replaces the rules.
	if status, body, hdr := st.raw(t, "PUT", "/lcb?lifecycle", doc, map[string]string{"x-amz-checksum-crc32": crc(doc)}); status != 200 ||
		hdr.Get(transitionMinimumHeaderName) != "all_storage_classes_128K" {
		t.Fatalf("PUT with a CRC32: %d %s %v", status, body, hdr)
	}
	if got := stored(); got != "x" {
		t.Errorf("after a replacing PUT: %s", got)
	}
	status, body, hdr := st.raw(t, "GET", "/lcb?lifecycle", nil, nil)
	if status != 200 || !strings.Contains(body, `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>x</ID><Filter></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`) ||
		hdr.Get(transitionMinimumHeaderName) != "all_storage_classes_128K" || hdr.Get("Content-Type") != "application/xml" {
		t.Errorf("raw GET: %d %v\n%s", status, hdr, body)
	}

	// Another credential may not read, set or delete it.
	other := st.client(t, otherAK, otherSK)
	if _, err := other.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b}); apiCode(err) != "AccessDenied" {
		t.Errorf("other's GET: %v", err)
	}
	if _, err := other.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b}); apiCode(err) != "AccessDenied" {
		t.Errorf("other's DELETE: %v", err)
	}
	if _, err := other.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules}}); apiCode(err) != "AccessDenied" {
		t.Errorf("other's PUT: %v", err)
	}
	// The SDK's own error for a transition names the refusal.
	_, err = c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("t"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, Transitions: []types.Transition{{Days: aws.Int32(30), StorageClass: types.TransitionStorageClassGlacier}}}}}})
	if apiCode(err) != "NotImplemented" || !strings.Contains(err.Error(), "one storage tier") {
		t.Errorf("PUT with a transition: %v", err)
	}

	// DELETE, twice (nothing to delete succeeds); then GET is 404 again.
	for range 2 {
		if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b}); err != nil {
			t.Fatalf("DeleteBucketLifecycle: %v", err)
		}
	}
	if got := stored(); got != "NoSuchLifecycleConfiguration" {
		t.Errorf("after DELETE: %s", got)
	}

	// DeleteBucket drops the configuration: a bucket created again with the name has none.
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules[:1]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if got := stored(); got != "NoSuchLifecycleConfiguration" {
		t.Errorf("a recreated bucket has the old configuration: %s", got)
	}
}

const transitionMinimumHeaderName = "x-amz-transition-default-minimum-object-size"

var transitionDoc = []byte(`<LifecycleConfiguration><Rule><ID>Transition and Expiration Rule</ID><Filter><Prefix>tax/</Prefix></Filter>` +
	`<Status>Enabled</Status><Transition><Days>365</Days><StorageClass>GLACIER</StorageClass></Transition>` +
	`<Expiration><Days>3650</Days></Expiration></Rule></LifecycleConfiguration>`)

// TestLifecycleExpiresThroughTheStack: rules set with the SDK are what a pass applies,
// as of a chosen instant; expired objects are gone for every reader, uploads aborted,
// and `s3proxy lifecycle --dry-run --at` lists what will be due without deleting.
func TestLifecycleExpiresThroughTheStack(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("exp")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"tmp/a", "tmp/b", "keep/c"} {
		mustPut(t, c, "exp", k, []byte("data of "+k))
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("keep/tagged"), Body: strings.NewReader("t"),
		Tagging: aws.String("scratch=yes")}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("keep/upload")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
			{ID: aws.String("scratch"), Status: types.ExpirationStatusEnabled,
				Filter:     &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("scratch"), Value: aws.String("yes")}},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(3)}},
			{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)}},
		}}}); err != nil {
		t.Fatal(err)
	}
	keys := func() string {
		t.Helper()
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b})
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, o := range out.Contents {
			ks = append(ks, aws.ToString(o.Key))
		}
		return strings.Join(ks, " ")
	}

	// The admin command's dry run, five days ahead: everything due, nothing deleted.
	var stdout, stderr bytes.Buffer
	at := time.Now().UTC().AddDate(0, 0, 5).Format(time.DateOnly)
	args := []string{"lifecycle", "--config", st.app.cfg.ConfigFile, "--data", st.app.cfg.Data, "--log-level", "error", "--dry-run", "--at", at}
	if code := run(ctx, args, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("s3proxy lifecycle --dry-run: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"expire exp/tmp/a (", "expire exp/tmp/b (", "expire exp/keep/tagged (1 B, rule scratch)",
		"abort exp/keep/upload upload " + aws.ToString(up.UploadId) + " (rule uploads)", "would expire 3 objects"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, stdout.String())
		}
	}
	if got := keys(); got != "keep/c keep/tagged tmp/a tmp/b" {
		t.Fatalf("a dry run deleted objects: %s", got)
	}
	if code := run(ctx, []string{"lifecycle", "--config", st.app.cfg.ConfigFile, "--data", st.app.cfg.Data, "--at", at}, func(string) string { return "" },
		&stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "--at needs --dry-run") {
		t.Errorf("--at without --dry-run: exit %d\n%s", code, stderr.String())
	}

	// A pass as of three days from now: tmp/ (1 day) and the upload (2) are due, the
	// tagged object (3: due at the fourth midnight UTC after it was written) not yet.
	res, err := st.app.svc.ApplyLifecycle(ctx, translate.LifecycleOptions{At: time.Now().AddDate(0, 0, 3)})
	if err != nil || res.Expired != 2 || res.Aborted != 1 {
		t.Fatalf("pass: %+v, %v", res, err)
	}
	if got := keys(); got != "keep/c keep/tagged" {
		t.Errorf("after the pass: %s", got)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("tmp/a")}); apiCode(err) != "NoSuchKey" {
		t.Errorf("GET of an expired object: %v", err)
	}
	if out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b}); err != nil || len(out.Uploads) != 0 {
		t.Errorf("uploads after the pass: %+v, %v", out, err)
	}
	// Removing the tag before it is due keeps the object.
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("keep/tagged")}); err != nil {
		t.Fatal(err)
	}
	if res, err := st.app.svc.ApplyLifecycle(ctx, translate.LifecycleOptions{At: time.Now().AddDate(0, 0, 10)}); err != nil || res.Expired != 0 {
		t.Errorf("pass after untagging: %+v, %v", res, err)
	}
	if got := keys(); got != "keep/c keep/tagged" {
		t.Errorf("after untagging and a later pass: %s", got)
	}
}

// TestLifecycleMetrics: the counters follow what passes do.
func TestLifecycleMetrics(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("met")}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "met", "a", []byte("12345"))
	mustPut(t, c, "met", "b", []byte("123"))
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("met"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("all"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	lm := newLifecycleMetrics(reg)
	res, err := st.app.svc.ApplyLifecycle(ctx, translate.LifecycleOptions{At: time.Now().AddDate(0, 0, 2), OnAction: lm.action})
	lm.pass(err)
	if err != nil || res.Expired != 2 {
		t.Fatalf("pass: %+v, %v", res, err)
	}
	for name, want := range map[string]float64{"s3proxy_lifecycle_expired_objects_total": 2, "s3proxy_lifecycle_expired_bytes_total": 8,
		"s3proxy_lifecycle_aborted_uploads_total": 0, "s3proxy_lifecycle_passes_total": 1} {
		if got := counterValue(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	lm.pass(context.Canceled)
	if got := counterValue(t, reg, "s3proxy_lifecycle_passes_total"); got != 2 {
		t.Errorf("passes after a failed one: %v", got)
	}
}

// TestProgressCount: a pass whose total is not known in advance is drawn as a count.
func TestProgressCount(t *testing.T) {
	for _, tc := range []struct {
		s    progressState
		want string
	}{
		{progressState{done: 1200, unit: "objects and uploads examined", note: "3 expired, 1 uploads"}, "1200 objects and uploads examined  3 expired, 1 uploads"},
		{progressState{unit: "objects and uploads examined"}, "0 objects and uploads examined"},
		{progressState{done: 2, total: 8, unit: "objects"}, "[=======>                      ]  25%  2/8 objects  0 B  "},
	} {
		if got := bar(tc.s, 0); !strings.HasPrefix(got, tc.want) {
			t.Errorf("bar(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

// TestLifecycleExpirationHeader: PutObject, HeadObject, GetObject, CopyObject and
// CompleteMultipartUpload answers carry x-amz-expiration for an object an enabled
// Expiration rule selects (by prefix, size or tags), naming the rule due first, and
// none without such a rule; deleting the configuration takes the header away at once.
func TestLifecycleExpirationHeader(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("exph")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	date := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{
			{ID: aws.String("logs"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}},
			{ID: aws.String("older copy"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(7)}},
			{ID: aws.String("off"), Status: types.ExpirationStatusDisabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
			{ID: aws.String("scratch"), Status: types.ExpirationStatusEnabled,
				Filter:     &types.LifecycleRuleFilter{Tag: &types.Tag{Key: aws.String("scratch"), Value: aws.String("yes")}},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}},
			{ID: aws.String("small"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{ObjectSizeLessThan: aws.Int64(100)},
				Expiration: &types.LifecycleExpiration{Date: &date}},
			{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)}},
		}}}); err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("e"), 200)
	due := func(days int) string {
		return `expiry-date="` + lifecycle.DueAfter(time.Now(), days).Format(http.TimeFormat) + `", rule-id=`
	}
	put := func(key, tagging string, data []byte) string {
		t.Helper()
		in := &s3.PutObjectInput{Bucket: b, Key: aws.String(key), Body: bytes.NewReader(data)}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		out, err := c.PutObject(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Expiration)
	}
	for _, tc := range []struct{ key, tagging, want string }{
		{"logs/a", "", due(7) + `"older%20copy"`},
		{"other/x", "", ""},
		{"other/t", "scratch=yes", due(1) + `"scratch"`},
		{"other/t2", "scratch=no", ""},
	} {
		if got := put(tc.key, tc.tagging, body); got != tc.want {
			t.Errorf("PUT %s: x-amz-expiration %q, want %q", tc.key, got, tc.want)
		}
	}
	if got := put("other/small", "", []byte("tiny")); got != `expiry-date="Wed, 01 Jan 2031 00:00:00 GMT", rule-id="small"` {
		t.Errorf("PUT of a small object: %q", got)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("logs/a")})
	if err != nil || aws.ToString(head.Expiration) != due(7)+`"older%20copy"` {
		t.Errorf("HEAD logs/a: %q, %v", aws.ToString(head.Expiration), err)
	}
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("other/t")})
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if aws.ToString(get.Expiration) != due(1)+`"scratch"` {
		t.Errorf("GET other/t: %q", aws.ToString(get.Expiration))
	}
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("logs/copy"), CopySource: aws.String("exph/other/x")})
	if err != nil || aws.ToString(cp.Expiration) != due(7)+`"older%20copy"` {
		t.Errorf("CopyObject to logs/: %q, %v", aws.ToString(cp.Expiration), err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("logs/mp")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("logs/mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("logs/mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}})
	if err != nil || aws.ToString(done.Expiration) != due(7)+`"older%20copy"` {
		t.Errorf("CompleteMultipartUpload: %q, %v", aws.ToString(done.Expiration), err)
	}

	if _, err := c.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("logs/a")})
	if err != nil || head.Expiration != nil {
		t.Errorf("HEAD after the configuration was deleted: %q, %v", aws.ToString(head.Expiration), err)
	}
}
