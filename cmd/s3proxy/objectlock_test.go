package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"maps"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// TestObjectLock: a bucket created with Object Lock is versioned and cannot be
// suspended; its default retention applies to new versions (and shows on HEAD); a
// version under GOVERNANCE retention is removed only with the bypass, one under a legal
// hold or COMPLIANCE retention not at all, and a COMPLIANCE retention can only grow; a
// DELETE without a version id still makes a delete marker, as on S3.
func TestObjectLock(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("locked")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b}); err != nil || v.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning of a bucket created with Object Lock: %+v %v", v, err)
	}
	_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	if apiCode(err) != "InvalidBucketState" {
		t.Errorf("suspending versioning under Object Lock: %v", err)
	}
	if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}},
	}}); err != nil {
		t.Fatal(err)
	}
	cfg, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
	if err != nil || cfg.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled ||
		aws.ToInt32(cfg.ObjectLockConfiguration.Rule.DefaultRetention.Days) != 1 {
		t.Fatalf("GetObjectLockConfiguration: %+v %v", cfg, err)
	}

	// The default retention: GOVERNANCE for a day.
	gov := mustPut(t, c, "locked", "doc", []byte("governed"))
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("doc")})
	if err != nil || head.ObjectLockMode != types.ObjectLockModeGovernance || head.ObjectLockRetainUntilDate == nil ||
		head.ObjectLockRetainUntilDate.Sub(time.Now()) < 23*time.Hour {
		t.Fatalf("HEAD of a version under the default retention: %+v %v", head, err)
	}
	del := func(v *string, bypass bool) error {
		_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: b, Key: aws.String("doc"), VersionId: v, BypassGovernanceRetention: aws.Bool(bypass)})
		return err
	}
	if err := del(gov.VersionId, false); apiCode(err) != "AccessDenied" {
		t.Errorf("removing a version under GOVERNANCE retention: %v", err)
	}
	// A DELETE without a version id makes a marker; the version stays.
	if err := del(nil, false); err != nil {
		t.Errorf("DELETE without a version id: %v", err)
	}
	if err := del(gov.VersionId, true); err != nil {
		t.Errorf("removing it with the bypass: %v", err)
	}

	// COMPLIANCE: never removed early, never shortened; a legal hold beats the bypass.
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	comp, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("doc"), Body: strings.NewReader("compliant"),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: &until})
	if err != nil {
		t.Fatal(err)
	}
	if err := del(comp.VersionId, true); apiCode(err) != "AccessDenied" {
		t.Errorf("removing a version under COMPLIANCE retention with the bypass: %v", err)
	}
	shorter := until.Add(-time.Hour)
	_, err = c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: b, Key: aws.String("doc"), VersionId: comp.VersionId, BypassGovernanceRetention: aws.Bool(true),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: &shorter}})
	if apiCode(err) != "AccessDenied" {
		t.Errorf("shortening a COMPLIANCE retention: %v", err)
	}
	longer := until.Add(time.Hour)
	if _, err := c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: b, Key: aws.String("doc"), VersionId: comp.VersionId,
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: &longer}}); err != nil {
		t.Errorf("extending a COMPLIANCE retention: %v", err)
	}
	ret, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: b, Key: aws.String("doc"), VersionId: comp.VersionId})
	if err != nil || !ret.Retention.RetainUntilDate.Equal(longer) {
		t.Errorf("GetObjectRetention after extending: %+v %v", ret, err)
	}

	held := mustPut(t, c, "locked", "held", []byte("held"))
	if _, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: aws.String("held"), VersionId: held.VersionId,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
		t.Fatal(err)
	}
	delHeld := func() (*s3.DeleteObjectsOutput, error) {
		return c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, BypassGovernanceRetention: aws.Bool(true), Delete: &types.Delete{
			Objects: []types.ObjectIdentifier{{Key: aws.String("held"), VersionId: held.VersionId}}}})
	}
	out, err := delHeld()
	if err != nil || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
		t.Errorf("DeleteObjects of a held version: %+v %v", out, err)
	}
	if _, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: b, Key: aws.String("held"), VersionId: held.VersionId,
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}}); err != nil {
		t.Fatal(err)
	}
	if out, err := delHeld(); err != nil || len(out.Errors) != 0 {
		t.Errorf("after lifting the hold (GOVERNANCE bypassed): %+v %v", out, err)
	}
	lh, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: b, Key: aws.String("doc"), VersionId: comp.VersionId})
	if apiCode(err) != "NoSuchObjectLockConfiguration" {
		t.Errorf("GetObjectLegalHold of a version never held: %+v %v", lh, err)
	}
	// A plain bucket has none of it.
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("plainlock")}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "plainlock", "k", []byte("x"))
	_, err = c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("plainlock"), Key: aws.String("k")})
	if apiCode(err) != "InvalidRequest" {
		t.Errorf("GetObjectRetention in a bucket without Object Lock: %v", err)
	}
	_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("plainlock"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	if apiCode(err) != "InvalidBucketState" {
		t.Errorf("Object Lock on an unversioned bucket: %v", err)
	}
}

// TestObjectLockIntegrity: a write that would lock what it stores (lock headers, or the
// bucket's default retention; a PutObject, or a part of an upload that will be locked)
// needs a body its client can vouch for. S3 asks for a
// Content-MD5 or a checksum; s3proxy takes a signed payload as well, and refuses only a
// body nothing checks, before reading it. The lock documents need their Content-MD5 or
// checksum, as S3's do.
func TestObjectLockIntegrity(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, b := range []string{"plain", "bare", "defaulted"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b), ObjectLockEnabledForBucket: aws.Bool(b != "plain")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("defaulted"), ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled,
		Rule:              &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}},
	}}); err != nil {
		t.Fatal(err)
	}
	body := []byte("worm")
	md5sum := md5.Sum(body)
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	unsigned := map[string]string{"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
	with := func(h map[string]string, kv ...string) map[string]string {
		out := maps.Clone(h)
		if out == nil {
			out = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	const refused = "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters"
	for _, tc := range []struct {
		name, path string
		hdr        map[string]string
		refuse     bool
	}{
		{"unsigned, no lock", "/bare/a", unsigned, false},
		{"unsigned, no lock, not a lock bucket", "/plain/a", unsigned, false},
		{"unsigned under a default retention", "/defaulted/a", unsigned, true},
		{"unsigned with a retention", "/bare/b", with(unsigned, "x-amz-object-lock-mode", "GOVERNANCE", "x-amz-object-lock-retain-until-date", until), true},
		{"unsigned with a legal hold", "/bare/c", with(unsigned, "x-amz-object-lock-legal-hold", "ON"), true},
		{"unsigned with the legal hold off", "/bare/d", with(unsigned, "x-amz-object-lock-legal-hold", "OFF"), false},
		{"unsigned with a Content-MD5", "/defaulted/e", with(unsigned, "Content-MD5", base64.StdEncoding.EncodeToString(md5sum[:])), false},
		{"unsigned with a checksum", "/defaulted/f", with(unsigned, "x-amz-checksum-crc32", checksumOf(t, types.ChecksumAlgorithmCrc32, body)), false},
		{"signed payload", "/defaulted/g", nil, false},
		{"signed payload with a legal hold", "/bare/h", with(nil, "x-amz-object-lock-legal-hold", "ON"), false},
	} {
		status, resp, _ := st.raw(t, "PUT", tc.path, body, tc.hdr)
		switch {
		case tc.refuse && (status != 400 || !strings.Contains(resp, "<Code>InvalidRequest</Code>") || !strings.Contains(resp, refused)):
			t.Errorf("%s: %d %s, want InvalidRequest", tc.name, status, resp)
		case !tc.refuse && status != 200:
			t.Errorf("%s: %d %s", tc.name, status, resp)
		}
	}
	// A refused write stored nothing.
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("defaulted"), Key: aws.String("a")}); apiCode(err) != "NotFound" {
		t.Errorf("HEAD of a refused write: %v", err)
	}
	// minio-go over HTTP (a signed aws-chunked body) into the default retention.
	u, _ := url.Parse(st.url)
	mc, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(testAK, testSK, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mc.PutObject(ctx, "defaulted", "chunked", bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{}); err != nil {
		t.Errorf("minio-go's signed aws-chunked PUT: %v", err)
	}

	// The parts of an upload that will be locked (the bucket's default retention)
	// need the same; those of one that will not, do not.
	for _, tc := range []struct {
		name, bucket string
		hdr          map[string]string
		refuse       bool
	}{
		{"unsigned part, default retention", "defaulted", unsigned, true},
		{"unsigned part with a Content-MD5", "defaulted", with(unsigned, "Content-MD5", base64.StdEncoding.EncodeToString(md5sum[:])), false},
		{"signed part", "defaulted", nil, false},
		{"unsigned part, no lock", "bare", unsigned, false},
	} {
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(tc.bucket), Key: aws.String("mpu")})
		if err != nil {
			t.Fatal(err)
		}
		status, resp, _ := st.raw(t, "PUT", "/"+tc.bucket+"/mpu?partNumber=1&uploadId="+url.QueryEscape(aws.ToString(up.UploadId)), body, tc.hdr)
		switch {
		case tc.refuse && (status != 400 || !strings.Contains(resp, "<Code>InvalidRequest</Code>") || !strings.Contains(resp, "required for Upload Part requests with Object Lock parameters")):
			t.Errorf("%s: %d %s, want InvalidRequest", tc.name, status, resp)
		case !tc.refuse && status != 200:
			t.Errorf("%s: %d %s", tc.name, status, resp)
		}
	}

	// The lock documents: without a Content-MD5 or checksum, InvalidRequest.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bare"), Key: aws.String("doc"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path, doc string }{
		{"retention", "/bare/doc?retention", `<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>` + until + `</RetainUntilDate></Retention>`},
		{"legal hold", "/bare/doc?legal-hold", `<LegalHold><Status>ON</Status></LegalHold>`},
		{"lock configuration", "/bare?object-lock", `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`},
	} {
		status, resp, _ := st.raw(t, "PUT", tc.path, []byte(tc.doc), nil)
		if status != 400 || !strings.Contains(resp, "<Code>InvalidRequest</Code>") || !strings.Contains(resp, "Content-MD5") {
			t.Errorf("%s without a Content-MD5: %d %s", tc.name, status, resp)
		}
		sum := md5.Sum([]byte(tc.doc))
		if status, resp, _ := st.raw(t, "PUT", tc.path, []byte(tc.doc), map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])}); status != 200 {
			t.Errorf("%s with a Content-MD5: %d %s", tc.name, status, resp)
		}
	}
}
