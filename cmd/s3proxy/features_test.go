package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// tagMap flattens a TagSet for comparison.
func tagMap(ts []types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func sameTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestObjectTagging(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tags")}); err != nil {
		t.Fatal(err)
	}
	b := aws.String("tags")
	tagsOf := func(key string) map[string]string {
		t.Helper()
		out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get tagging %s: %v", key, err)
		}
		return tagMap(out.TagSet)
	}
	countOf := func(key string) int32 {
		t.Helper()
		out, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		g, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		g.Body.Close()
		if aws.ToInt32(g.TagCount) != aws.ToInt32(out.TagCount) {
			t.Errorf("%s: GET says %d tags, HEAD %d", key, aws.ToInt32(g.TagCount), aws.ToInt32(out.TagCount))
		}
		if g.Metadata["x-amz-tagging"] != "" || out.Metadata["x-amz-tagging"] != "" {
			t.Errorf("%s: the stored tag set leaks as a header", key)
		}
		return aws.ToInt32(out.TagCount)
	}

	// On PutObject: x-amz-tagging, URL-encoded; kept as sent, counted on GET and HEAD.
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("k"), Body: strings.NewReader("data"),
		Tagging: aws.String("project=blue%20sky&owner=a%2Fb&empty=")})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"project": "blue sky", "owner": "a/b", "empty": ""}
	if got := tagsOf("k"); !sameTags(got, want) {
		t.Fatalf("tags after put: %v, want %v", got, want)
	}
	if n := countOf("k"); n != 3 {
		t.Errorf("tag count %d, want 3", n)
	}
	if n := countOf("k"); n != 3 { // again: from the object cache now
		t.Errorf("cached tag count %d, want 3", n)
	}

	// PutObjectTagging replaces the set and changes neither ETag nor Last-Modified.
	before, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})
	time.Sleep(1100 * time.Millisecond) // Last-Modified has whole seconds
	if _, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("stage"), Value: aws.String("prod")}}}}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("k"); !sameTags(got, map[string]string{"stage": "prod"}) {
		t.Fatalf("tags after PutObjectTagging: %v", got)
	}
	after, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("k")})
	if aws.ToString(after.ETag) != aws.ToString(put.ETag) || !aws.ToTime(after.LastModified).Equal(aws.ToTime(before.LastModified)) {
		t.Errorf("tagging changed the object: ETag %s→%s, Last-Modified %v→%v", aws.ToString(put.ETag), aws.ToString(after.ETag), before.LastModified, after.LastModified)
	}
	if got := string(mustGet(t, c, "tags", "k", "")); got != "data" {
		t.Errorf("content after tagging: %q", got)
	}

	// CopyObject copies the tags unless the tagging directive replaces them, whatever
	// the metadata directive.
	copyTo := func(dst string, in s3.CopyObjectInput) {
		t.Helper()
		in.Bucket, in.Key, in.CopySource = b, aws.String(dst), aws.String("tags/k")
		if _, err := c.CopyObject(ctx, &in); err != nil {
			t.Fatalf("copy to %s: %v", dst, err)
		}
	}
	copyTo("copied", s3.CopyObjectInput{})
	copyTo("copied-replace-meta", s3.CopyObjectInput{MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/plain")})
	copyTo("retagged", s3.CopyObjectInput{TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("x=1")})
	copyTo("untagged", s3.CopyObjectInput{TaggingDirective: types.TaggingDirectiveReplace})
	for key, want := range map[string]map[string]string{
		"copied": {"stage": "prod"}, "copied-replace-meta": {"stage": "prod"}, "retagged": {"x": "1"}, "untagged": {},
	} {
		if got := tagsOf(key); !sameTags(got, want) {
			t.Errorf("%s: tags %v, want %v", key, got, want)
		}
	}
	if n := countOf("untagged"); n != 0 {
		t.Errorf("untagged: count %d", n)
	}

	// A multipart upload takes its tags from CreateMultipartUpload.
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp"), Tagging: aws.String("kind=multipart")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: part.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("mp"); !sameTags(got, map[string]string{"kind": "multipart"}) {
		t.Errorf("multipart tags: %v", got)
	}

	// DeleteObjectTagging empties the set; an overwrite without tags has none.
	if _, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: b, Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("k"); len(got) != 0 {
		t.Errorf("after delete: %v", got)
	}
	mustPut(t, c, "tags", "retagged", []byte("new"))
	if got := tagsOf("retagged"); len(got) != 0 {
		t.Errorf("overwrite kept tags: %v", got)
	}

	// Content the server already stores completes without its body (instant upload):
	// the new object still gets its own tags.
	big := bytes.Repeat([]byte("instant "), 32<<10) // 256 KiB: above the inline size
	mustPut(t, c, "tags", "big1", big)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("big2"), Body: bytes.NewReader(big), Tagging: aws.String("copy=2")}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf("big2"); !sameTags(got, map[string]string{"copy": "2"}) {
		t.Errorf("instant upload's tags: %v", got)
	}
	if got := tagsOf("big1"); len(got) != 0 {
		t.Errorf("the stored original got tags: %v", got)
	}

	// Invalid tag sets are refused with S3's codes, and nothing changes.
	tooMany := make([]types.Tag, 11)
	for i := range tooMany {
		tooMany[i] = types.Tag{Key: aws.String(strings.Repeat("k", i+1)), Value: aws.String("v")}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"eleven tags", func() error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("copied"), Tagging: &types.Tagging{TagSet: tooMany}})
			return err
		}(), "BadRequest"}, // S3's code for this one
		{"eleven tags on put", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad"), Body: strings.NewReader("x"),
				Tagging: aws.String("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10&k=11")})
			return err
		}(), "BadRequest"},
		{"duplicate key in x-amz-tagging", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad"), Body: strings.NewReader("x"), Tagging: aws.String("key=val&key=val")})
			return err
		}(), "InvalidArgument"}, // a malformed header, as S3 answers it
		{"empty key in x-amz-tagging", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad"), Body: strings.NewReader("x"), Tagging: aws.String("=")})
			return err
		}(), "InvalidArgument"},
		{"bad character in a key", func() error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("copied"), Tagging: &types.Tagging{TagSet: []types.Tag{
				{Key: aws.String("user!name"), Value: aws.String("1")}}}})
			return err
		}(), "InvalidTag"},
		{"bad character in a value", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad"), Body: strings.NewReader("x"), Tagging: aws.String("key=val%3F")})
			return err
		}(), "InvalidTag"},
		{"duplicate key", func() error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("copied"), Tagging: &types.Tagging{TagSet: []types.Tag{
				{Key: aws.String("a"), Value: aws.String("1")}, {Key: aws.String("a"), Value: aws.String("2")}}}})
			return err
		}(), "InvalidTag"},
		{"aws: prefix", func() error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("copied"), Tagging: &types.Tagging{TagSet: []types.Tag{
				{Key: aws.String("aws:x"), Value: aws.String("1")}}}})
			return err
		}(), "InvalidTag"},
		{"key too long on put", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("bad"), Body: strings.NewReader("x"), Tagging: aws.String(strings.Repeat("k", 129) + "=v")})
			return err
		}(), "InvalidTag"},
		{"no such key", func() error {
			_, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("missing")})
			return err
		}(), "NoSuchKey"},
		{"tag a missing key", func() error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("missing"), Tagging: &types.Tagging{TagSet: []types.Tag{}}})
			return err
		}(), "NoSuchKey"},
		{"other credential", func() error {
			_, err := st.client(t, otherAK, otherSK).GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("copied")})
			return err
		}(), "AccessDenied"},
	} {
		if got := apiCode(tc.err); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if got := tagsOf("copied"); !sameTags(got, map[string]string{"stage": "prod"}) {
		t.Errorf("a refused tagging changed the tags: %v", got)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("bad")}); apiCode(err) != "NotFound" {
		t.Errorf("a PUT with a bad tag stored the object: %v", err)
	}
}

// TestWhatIsNotProvidedIsRefused: a write that asks for Object Lock in a bucket without
// it, server-side
// encryption or a public ACL is refused before its body is stored; the bucket
// configurations s3proxy keeps none of read as S3 reads a bucket that has none.
func TestWhatIsNotProvidedIsRefused(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
		t.Fatal(err)
	}
	b := aws.String("plain")
	mustPut(t, c, "plain", "src", []byte("source"))
	put := func(mod func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: b, Key: aws.String("refused"), Body: strings.NewReader("x")}
		mod(in)
		_, err := c.PutObject(ctx, in)
		return err
	}
	retain := time.Now().Add(24 * time.Hour)
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"object lock on put", put(func(in *s3.PutObjectInput) {
			in.ObjectLockMode, in.ObjectLockRetainUntilDate = types.ObjectLockModeGovernance, &retain
		}), "InvalidRequest"},
		{"legal hold on put", put(func(in *s3.PutObjectInput) { in.ObjectLockLegalHoldStatus = types.ObjectLockLegalHoldStatusOn }), "InvalidRequest"},
		{"SSE-S3 on put", put(func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 }), "NotImplemented"},
		{"SSE-KMS on put", put(func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKms }), "NotImplemented"},
		{"SSE-C on put", put(func(in *s3.PutObjectInput) {
			in.SSECustomerAlgorithm, in.SSECustomerKey, in.SSECustomerKeyMD5 = aws.String("AES256"), aws.String("MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE="), aws.String("x")
		}), "NotImplemented"},
		{"public ACL on put", put(func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPublicRead }), "AccessControlListNotSupported"},
		{"grant on put", put(func(in *s3.PutObjectInput) {
			in.GrantRead = aws.String("uri=http://acs.amazonaws.com/groups/global/AllUsers")
		}), "AccessControlListNotSupported"},
		{"bad storage class", put(func(in *s3.PutObjectInput) { in.StorageClass = "COLD" }), "InvalidStorageClass"},
		{"object lock on copy", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("refused"), CopySource: aws.String("plain/src"), ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: &retain})
			return err
		}(), "InvalidRequest"},
		{"SSE on multipart", func() error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("refused"), ServerSideEncryption: types.ServerSideEncryptionAes256})
			return err
		}(), "NotImplemented"},
		{"public bucket ACL", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("public"), ACL: types.BucketCannedACLPublicRead})
			return err
		}(), "InvalidBucketAclWithObjectOwnership"},
		{"public object ACL set later", func() error {
			_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("src"), ACL: types.ObjectCannedACLPublicRead})
			return err
		}(), "AccessControlListNotSupported"},
		{"object ACL granting all users", func() error {
			_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("src"), AccessControlPolicy: &types.AccessControlPolicy{
				Owner: &types.Owner{ID: aws.String(testAK)}, Grants: []types.Grant{
					{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(testAK)}, Permission: types.PermissionFullControl},
					{Grantee: &types.Grantee{Type: types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}, Permission: types.PermissionRead}}}})
			return err
		}(), "AccessControlListNotSupported"},
		{"bucket ACL grant header", func() error {
			_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, GrantRead: aws.String("id=someone-else")})
			return err
		}(), "AccessControlListNotSupported"},
		{"ACL of a missing object", func() error {
			_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("missing"), ACL: types.ObjectCannedACLPrivate})
			return err
		}(), "NoSuchKey"},
		// Accepted: what grants nothing beyond the owner (rclone sends private on every
		// upload; s3cmd setacl --acl-private sends the owner's FULL_CONTROL in XML), and
		// any real storage class.
		{"private object ACL set later", func() error {
			_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("src"), ACL: types.ObjectCannedACLPrivate})
			return err
		}(), ""},
		{"owner-only object ACL in XML", func() error {
			_, err := c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: b, Key: aws.String("src"), AccessControlPolicy: &types.AccessControlPolicy{
				Owner: &types.Owner{ID: aws.String(testAK)}, Grants: []types.Grant{
					{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String(testAK)}, Permission: types.PermissionFullControl}}}})
			return err
		}(), ""},
		{"private bucket ACL set later", func() error {
			_, err := c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: b, ACL: types.BucketCannedACLPrivate})
			return err
		}(), ""},
		{"private ACL", put(func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLPrivate }), ""},
		{"owner full control", put(func(in *s3.PutObjectInput) { in.ACL = types.ObjectCannedACLBucketOwnerFullControl }), ""},
		{"storage class", put(func(in *s3.PutObjectInput) { in.StorageClass = types.StorageClassStandardIa }), ""},
		{"private bucket", func() error {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("private"), ACL: types.BucketCannedACLPrivate})
			return err
		}(), ""},
	} {
		if got := apiCode(tc.err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, name := range []string{"locked", "public"} {
		if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)}); err == nil {
			t.Errorf("refused bucket %s exists", name)
		}
	}

	// Bucket configurations: what S3 answers for a bucket without one.
	for _, tc := range []struct {
		method, query string
		status        int
		want          string // error code, or a fragment of the XML body
	}{
		{"GET", "policy", 404, "NoSuchBucketPolicy"},
		{"GET", "cors", 404, "NoSuchCORSConfiguration"},
		{"GET", "lifecycle", 404, "NoSuchLifecycleConfiguration"},
		{"GET", "encryption", 404, "ServerSideEncryptionConfigurationNotFoundError"},
		{"GET", "tagging", 404, "NoSuchTagSet"},
		{"GET", "website", 404, "NoSuchWebsiteConfiguration"},
		{"GET", "replication", 404, "ReplicationConfigurationNotFoundError"},
		{"GET", "publicAccessBlock", 404, "NoSuchPublicAccessBlockConfiguration"},
		{"GET", "object-lock", 404, "ObjectLockConfigurationNotFoundError"},
		{"GET", "ownershipControls", 200, "<ObjectOwnership>BucketOwnerEnforced</ObjectOwnership>"},
		{"GET", "policyStatus", 404, "NoSuchBucketPolicy"}, // S3's answer without a policy
		{"GET", "logging", 200, "<BucketLoggingStatus"},
		{"GET", "notification", 200, "<NotificationConfiguration"},
		{"GET", "accelerate", 200, "<AccelerateConfiguration"},
		{"GET", "requestPayment", 200, "<Payer>BucketOwner</Payer>"},
		{"DELETE", "policy", 204, ""},
		{"DELETE", "cors", 204, ""},
		{"DELETE", "lifecycle", 204, ""},
		{"DELETE", "tagging", 204, ""},
		{"PUT", "policy", 400, "MissingRequestBodyError"}, // kept: bucketpolicy_test.go
		{"DELETE", "ownershipControls", 204, ""},
		{"GET", "analytics", 501, "NotImplemented"},
	} {
		status, body, _ := st.raw(t, tc.method, "/plain?"+tc.query, nil, nil)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s ?%s: %d %s, want %d with %q", tc.method, tc.query, status, body, tc.status, tc.want)
		}
		// The bucket must exist and be the caller's, as for every bucket operation.
		if tc.method == "GET" && tc.status != 501 {
			if status, body, _ := st.raw(t, tc.method, "/nosuchbucket?"+tc.query, nil, nil); status != http.StatusNotFound || !strings.Contains(body, "NoSuchBucket") {
				t.Errorf("%s ?%s on a missing bucket: %d %s", tc.method, tc.query, status, body)
			}
		}
	}
	if _, err := st.client(t, otherAK, otherSK).GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b}); apiCode(err) != "AccessDenied" {
		t.Errorf("other credential's GetBucketPolicy: %v", err)
	}
}

// TestCORS: with cors_origins set, a browser page on an allowed origin gets its
// preflight answered and can read the answers (errors included) of its signed or
// presigned requests; other origins get nothing; without the setting there is no CORS.
func TestCORS(t *testing.T) {
	const app = "https://app.example.com"
	st := newStack(t, "--cors-origins", app+",http://localhost:3000")
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	preflight := func(base, origin, method string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, base+"/web/upload.bin", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		req.Header.Set("Access-Control-Request-Method", method)
		req.Header.Set("Access-Control-Request-Headers", "content-type,x-amz-checksum-crc32")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		name, origin, method string
		status               int
		allow                string
	}{
		{"allowed PUT", app, "PUT", 200, app},
		{"allowed GET, other configured origin", "http://localhost:3000", "GET", 200, "http://localhost:3000"},
		{"origin not configured", "https://evil.example", "PUT", 403, ""},
		{"method S3 never allows", app, "PATCH", 400, ""},
		{"no origin", "", "PUT", 400, ""},
	} {
		resp := preflight(st.url, tc.origin, tc.method)
		if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != tc.allow {
			t.Errorf("preflight %s: %d, Allow-Origin %q; want %d, %q", tc.name, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), tc.status, tc.allow)
		}
		if tc.status == 200 {
			if h := resp.Header.Get("Access-Control-Allow-Headers"); h != "content-type,x-amz-checksum-crc32" {
				t.Errorf("preflight %s: Allow-Headers %q", tc.name, h)
			}
			if !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), tc.method) || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") {
				t.Errorf("preflight %s: methods %q, expose %q", tc.name, resp.Header.Get("Access-Control-Allow-Methods"), resp.Header.Get("Access-Control-Expose-Headers"))
			}
		}
	}

	// The browser's actual request: a presigned PUT, then a GET, from the page's origin.
	ps := s3.NewPresignClient(c)
	preq, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("web"), Key: aws.String("upload.bin")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, preq.URL, strings.NewReader("from the browser"))
	req.Header.Set("Origin", app)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != app || resp.Header.Get("ETag") == "" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "ETag") || !strings.Contains(resp.Header.Get("Vary"), "Origin") {
		t.Errorf("presigned PUT from %s: %d %v", app, resp.StatusCode, resp.Header)
	}
	if got := string(mustGet(t, c, "web", "upload.bin", "")); got != "from the browser" {
		t.Errorf("uploaded %q", got)
	}
	// An error's answer is readable too; another origin's is not decorated.
	status, _, h := st.raw(t, http.MethodGet, "/web/missing", nil, map[string]string{"Origin": app})
	if status != 404 || h.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("404 from %s: %d, Allow-Origin %q", app, status, h.Get("Access-Control-Allow-Origin"))
	}
	if _, _, h := st.raw(t, http.MethodGet, "/web/upload.bin", nil, map[string]string{"Origin": "https://evil.example"}); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("answer to another origin carries Allow-Origin %q", h.Get("Access-Control-Allow-Origin"))
	}
	// An unsigned request from an allowed origin is still refused: CORS is not auth.
	if resp, err := http.Get(st.url + "/web/upload.bin"); err != nil || resp.StatusCode != 403 {
		t.Errorf("anonymous GET: %v %v", resp.StatusCode, err)
	}
	// GetBucketCors reports the gateway-wide rule.
	out, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("web")})
	if err != nil || len(out.CORSRules) != 1 || strings.Join(out.CORSRules[0].AllowedOrigins, " ") != app+" http://localhost:3000" {
		t.Errorf("GetBucketCors: %+v %v", out, err)
	}

	// Without the setting: no CORS at all.
	plain := newStack(t)
	if resp := preflight(plain.url, app, "PUT"); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without cors_origins: %d %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	if _, _, h := plain.raw(t, http.MethodGet, "/", nil, map[string]string{"Origin": app}); h.Get("Access-Control-Allow-Origin") != "" || h.Get("Vary") != "" {
		t.Errorf("answer without cors_origins carries CORS headers: %v", h)
	}
}

func TestGetObjectAttributes(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("attrs")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	all := []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts,
		types.ObjectAttributesStorageClass, types.ObjectAttributesObjectSize}

	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("single"), Body: strings.NewReader("attributes"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("single"), ObjectAttributes: all})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.ETag) != strings.Trim(aws.ToString(put.ETag), `"`) || aws.ToInt64(out.ObjectSize) != 10 || out.StorageClass != types.StorageClassStandard ||
		out.Checksum == nil || aws.ToString(out.Checksum.ChecksumCRC32) != aws.ToString(put.ChecksumCRC32) || out.ObjectParts != nil || out.LastModified == nil {
		t.Errorf("single-part attributes: %+v (checksum %+v)", out, out.Checksum)
	}

	// A multipart object with part checksums: its parts, paged.
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("multi"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	sizes := []int{5 << 20, 5 << 20, 1000}
	for i, n := range sizes {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: aws.String("multi"), UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)),
			Body: bytes.NewReader(bytes.Repeat([]byte{byte('a' + i)}, n)), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	cmp, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("multi"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatal(err)
	}
	page1, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("multi"), ObjectAttributes: all, MaxParts: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	op := page1.ObjectParts
	if op == nil || aws.ToInt32(op.TotalPartsCount) != 3 || len(op.Parts) != 2 || !aws.ToBool(op.IsTruncated) || aws.ToString(op.NextPartNumberMarker) != "2" ||
		aws.ToString(op.Parts[0].ChecksumCRC32) != aws.ToString(done[0].ChecksumCRC32) || aws.ToInt64(op.Parts[1].Size) != 5<<20 {
		t.Fatalf("first page of parts: %+v", op)
	}
	// The composite checksum, which S3 gives here without its "-3" part count.
	if composite, ok := strings.CutSuffix(aws.ToString(cmp.ChecksumCRC32), "-3"); page1.Checksum == nil || !ok ||
		page1.Checksum.ChecksumType != types.ChecksumTypeComposite || aws.ToString(page1.Checksum.ChecksumCRC32) != composite {
		t.Errorf("multipart checksum: %+v, Complete gave %s", page1.Checksum, aws.ToString(cmp.ChecksumCRC32))
	}
	page2, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("multi"), ObjectAttributes: all,
		MaxParts: aws.Int32(2), PartNumberMarker: op.NextPartNumberMarker})
	if err != nil {
		t.Fatal(err)
	}
	if op := page2.ObjectParts; op == nil || len(op.Parts) != 1 || aws.ToInt32(op.Parts[0].PartNumber) != 3 || aws.ToBool(op.IsTruncated) {
		t.Errorf("second page of parts: %+v", op)
	}
	// Only what was asked for.
	some, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: aws.String("multi"), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectSize}})
	if err != nil || aws.ToInt64(some.ObjectSize) != 10<<20+1000 || some.ETag != nil || some.ObjectParts != nil || some.Checksum != nil {
		t.Errorf("ObjectSize only: %+v %v", some, err)
	}

	for _, tc := range []struct {
		name string
		hdr  map[string]string
		key  string
		want string
	}{
		{"no attributes header", nil, "single", "InvalidRequest"}, // S3's code for this one
		{"unknown attribute", map[string]string{"x-amz-object-attributes": "ETag,Colour"}, "single", "InvalidArgument"},
		{"missing key", map[string]string{"x-amz-object-attributes": "ETag"}, "missing", "NoSuchKey"},
		// A missing bucket is reported before what is wrong with the request.
		{"missing bucket, no attributes", nil, "../no-such-bucket/k", "NoSuchBucket"},
	} {
		path := "/attrs/" + tc.key
		if strings.HasPrefix(tc.key, "../") {
			path = "/" + strings.TrimPrefix(tc.key, "../")
		}
		if _, body, _ := st.raw(t, http.MethodGet, path+"?attributes", nil, tc.hdr); !strings.Contains(body, "<Code>"+tc.want+"</Code>") {
			t.Errorf("%s: %s", tc.name, body)
		}
	}
}

func TestListBucketsPaging(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, name := range []string{"lb-c", "lb-a", "other-x", "lb-b"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	names := func(out *s3.ListBucketsOutput) string {
		var n []string
		for _, b := range out.Buckets {
			n = append(n, aws.ToString(b.Name))
		}
		return strings.Join(n, ",")
	}
	all, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || names(all) != "lb-a,lb-b,lb-c,other-x" || all.ContinuationToken != nil {
		t.Fatalf("all buckets: %s %v %v", names(all), all.ContinuationToken, err)
	}
	page1, err := c.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("lb-"), MaxBuckets: aws.Int32(2)})
	if err != nil || names(page1) != "lb-a,lb-b" || page1.ContinuationToken == nil || aws.ToString(page1.Prefix) != "lb-" {
		t.Fatalf("first page: %s %v %v", names(page1), page1.ContinuationToken, err)
	}
	page2, err := c.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("lb-"), MaxBuckets: aws.Int32(2), ContinuationToken: page1.ContinuationToken})
	if err != nil || names(page2) != "lb-c" || page2.ContinuationToken != nil {
		t.Fatalf("second page: %s %v %v", names(page2), page2.ContinuationToken, err)
	}
	if out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{BucketRegion: aws.String("eu-west-1")}); err != nil || len(out.Buckets) != 0 {
		t.Errorf("other region: %s %v", names(out), err)
	}
	if _, err := c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(0)}); apiCode(err) != "InvalidArgument" {
		t.Errorf("max-buckets 0: %v", err)
	}
	// Another credential sees none of them.
	if out, err := st.client(t, otherAK, otherSK).ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("lb-")}); err != nil || len(out.Buckets) != 0 {
		t.Errorf("other credential: %s %v", names(out), err)
	}
}

// TestConditionalDeletes: If-Match on DeleteObject, and an entry's ETag in
// DeleteObjects, are checked in the deleting transaction (S3 since 2025-09).
func TestConditionalDeletes(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("conddel")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	etag := aws.ToString(mustPut(t, c, "conddel", "k", []byte("v1")).ETag)
	del := func(key, ifMatch string) error {
		in := &s3.DeleteObjectInput{Bucket: b, Key: aws.String(key)}
		if ifMatch != "" {
			in.IfMatch = aws.String(ifMatch)
		}
		_, err := c.DeleteObject(ctx, in)
		return err
	}
	exists := func(key string) bool {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key)})
		return err == nil
	}
	if err := del("k", `"0123456789abcdef0123456789abcdef"`); apiCode(err) != "PreconditionFailed" || httpStatus(err) != 412 || !exists("k") {
		t.Errorf("stale ETag: %v; object kept: %v", err, exists("k"))
	}
	if err := del("k", etag); err != nil || exists("k") {
		t.Errorf("matching ETag: %v; object still there: %v", err, exists("k"))
	}
	if err := del("k", "*"); apiCode(err) != "NoSuchKey" {
		t.Errorf("If-Match * on a missing key: %v", err)
	}
	if err := del("k", ""); err != nil {
		t.Errorf("unconditional delete of a missing key: %v", err)
	}
	mustPut(t, c, "conddel", "k", []byte("v2"))
	if err := del("k", "*"); err != nil || exists("k") {
		t.Errorf("If-Match * on an existing key: %v", err)
	}

	// DeleteObjects: each entry's ETag is its condition.
	e1 := mustPut(t, c, "conddel", "a", []byte("a")).ETag
	mustPut(t, c, "conddel", "b", []byte("b"))
	mustPut(t, c, "conddel", "c", []byte("c"))
	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("a"), ETag: e1},
		{Key: aws.String("b"), ETag: aws.String(`"ffffffffffffffffffffffffffffffff"`)},
		{Key: aws.String("c")},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 2 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "b" || aws.ToString(out.Errors[0].Code) != "PreconditionFailed" {
		t.Errorf("DeleteObjects: deleted %d, errors %+v", len(out.Deleted), out.Errors)
	}
	if exists("a") || !exists("b") || exists("c") {
		t.Errorf("after DeleteObjects: a %v, b %v, c %v; want only b", exists("a"), exists("b"), exists("c"))
	}
}

// TestExpectedBucketOwner: a request naming another owner than the bucket's is refused,
// for the bucket it addresses and for a copy's source.
func TestExpectedBucketOwner(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner, admin := st.client(t, testAK, testSK), st.client(t, adminAK, adminSK)
	if _, err := owner.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mine")}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("admins")}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, owner, "mine", "k", []byte("data"))
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"right owner", func() error {
			_, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mine"), Key: aws.String("k2"), Body: strings.NewReader("x"), ExpectedBucketOwner: aws.String(testAK)})
			return err
		}(), ""},
		{"wrong owner", func() error {
			_, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mine"), Key: aws.String("k3"), Body: strings.NewReader("x"), ExpectedBucketOwner: aws.String(adminAK)})
			return err
		}(), "AccessDenied"},
		{"wrong owner on a read", func() error {
			_, err := owner.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("mine"), ExpectedBucketOwner: aws.String("someone")})
			return err
		}(), "AccessDenied"},
		{"copy source of another owner", func() error {
			_, err := admin.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("admins"), Key: aws.String("copy"), CopySource: aws.String("mine/k"),
				ExpectedSourceBucketOwner: aws.String(adminAK)})
			return err
		}(), "AccessDenied"},
		{"copy source of the expected owner", func() error {
			_, err := admin.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("admins"), Key: aws.String("copy"), CopySource: aws.String("mine/k"),
				ExpectedSourceBucketOwner: aws.String(testAK), ExpectedBucketOwner: aws.String(adminAK)})
			return err
		}(), ""},
	} {
		if got := apiCode(tc.err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := owner.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mine"), Key: aws.String("k3")}); err == nil {
		t.Error("the refused PUT stored its object")
	}
}
