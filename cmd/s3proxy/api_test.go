package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithy "github.com/aws/smithy-go"

	"s3proxy/backends"
	"s3proxy/s3api"
)

const (
	testAK  = "AKIATESTOWNER0000001"
	testSK  = "secret-owner-0000000000000000000000001"
	otherAK = "AKIATESTOTHER000002"
	otherSK = "secret-other-00000000000000000000000002"
	adminAK = "AKIATESTADMIN000003"
	adminSK = "secret-admin-00000000000000000000000003"
)

type testStack struct {
	url     string
	app     *app
	handler http.Handler // the S3 API, to serve it again (over TLS)
}

// newStack wires the real graph (SQLite metadata in a temp dir, local-disk chunks)
// behind an httptest server: every S3 semantic is exercised in-process.
func newStack(t testing.TB, args ...string) *testStack {
	t.Helper()
	return newStackYAML(t, "", args...)
}

// newStackYAML is newStack with extra YAML settings (backends, placement).
func newStackYAML(t testing.TB, extra string, args ...string) *testStack {
	t.Helper()
	dir := t.TempDir()
	cfgFile := dir + "/config.yaml"
	yaml := fmt.Sprintf("credentials:\n  - {access_key: %s, secret_key: %s}\n  - {access_key: %s, secret_key: %s}\n  - {access_key: %s, secret_key: %s, admin: true}\n",
		testAK, testSK, otherAK, otherSK, adminAK, adminSK) + extra
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(append([]string{"--config", cfgFile, "--data", dir + "/data", "--log-level", "error"}, args...),
		func(string) string { return "" }, io.Discard, "serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureNodeID(); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	api, err := s3api.New(apiConfig(cfg, a.svc, a.log))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() { srv.Close(); a.close() })
	return &testStack{url: srv.URL, app: a, handler: api}
}

func (st *testStack) client(t *testing.T, ak, sk string) *s3.Client {
	t.Helper()
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(ak, sk, "")}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(st.url)
		o.UsePathStyle = true
	})
}

// raw sends a request signed with SigV4 and returns status, body.
func (st *testStack) raw(t *testing.T, method, path string, body []byte, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, st.url+path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(body)
	ph := hex.EncodeToString(sum[:])
	if v, ok := hdr["x-amz-content-sha256"]; ok {
		ph = v
	}
	req.Header.Set("x-amz-content-sha256", ph)
	signer := v4.NewSigner()
	if err := signer.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK}, req, ph, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func mustPut(t *testing.T, c *s3.Client, bucket, key string, data []byte) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

func mustGet(t *testing.T, c *s3.Client, bucket, key string, rng string) []byte {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if rng != "" {
		in.Range = &rng
	}
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("get %s/%s %s: %v", bucket, key, rng, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBucketsAndOwnership(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner, other, admin := st.client(t, testAK, testSK), st.client(t, otherAK, otherSK), st.client(t, adminAK, adminSK)
	if _, err := owner.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("owned")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"again by owner", func() error {
			_, err := owner.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("owned")})
			return err
		}(), "BucketAlreadyOwnedByYou"},
		{"taken by other", func() error {
			_, err := other.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("owned")})
			return err
		}(), "BucketAlreadyExists"},
		{"bad name", func() error {
			_, err := owner.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
			return err
		}(), "InvalidBucketName"},
		{"wrong region", func() error {
			_, err := owner.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("elsewhere"), CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
			return err
		}(), "InvalidLocationConstraint"},
		{"other cannot list", func() error {
			_, err := other.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("owned")})
			return err
		}(), "AccessDenied"},
		{"other cannot put", func() error {
			_, err := other.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("owned"), Key: aws.String("k"), Body: strings.NewReader("x")})
			return err
		}(), "AccessDenied"},
		{"admin can put", func() error {
			_, err := admin.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("owned"), Key: aws.String("k"), Body: strings.NewReader("x")})
			return err
		}(), ""},
		{"missing bucket", func() error {
			_, err := owner.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("nosuchbucket")})
			return err
		}(), "NoSuchBucket"},
		{"not empty", func() error {
			_, err := owner.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("owned")})
			return err
		}(), "BucketNotEmpty"},
	}
	for _, tc := range tests {
		if got := apiCode(tc.err); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, c := range []struct {
		name string
		cl   *s3.Client
		want int
	}{{"owner", owner, 1}, {"other", other, 0}, {"admin", admin, 1}} {
		out, err := c.cl.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Buckets) != c.want {
			t.Errorf("%s sees %d buckets, want %d", c.name, len(out.Buckets), c.want)
		}
	}
	loc, err := owner.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("owned")})
	if err != nil || loc.LocationConstraint != "" {
		t.Errorf("location %v %v", loc, err)
	}
	if _, err := owner.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("owned"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("owned")}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("owned")}); err == nil {
		t.Fatal("bucket still there")
	}
}

func TestObjectRoundTripRangesAndConditions(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("objs")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.bin"), Body: bytes.NewReader(data),
		ContentType: aws.String("application/x-test"), Metadata: map[string]string{"color": "blue"}, CacheControl: aws.String("max-age=60")})
	if err != nil {
		t.Fatal(err)
	}
	md := md5.Sum(data)
	if want := `"` + hex.EncodeToString(md[:]) + `"`; aws.ToString(put.ETag) != want {
		t.Fatalf("etag %s want %s", aws.ToString(put.ETag), want)
	}
	ranges := []struct {
		rng  string
		want []byte
	}{
		{"", data},
		{"bytes=0-0", data[:1]},
		{"bytes=100-199", data[100:200]},
		{"bytes=65000-", data[65000:]},
		{"bytes=-10", data[len(data)-10:]},
		{"bytes=65535-70000", data[65535:]},
		{"bytes=-100000", data},
	}
	for _, r := range ranges {
		if got := mustGet(t, c, "objs", "dir/file.bin", r.rng); !bytes.Equal(got, r.want) {
			t.Errorf("range %q: got %d bytes, want %d", r.rng, len(got), len(r.want))
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.bin"), Range: aws.String("bytes=65536-")})
	if apiCode(err) != "InvalidRange" {
		t.Errorf("unsatisfiable range: %v", err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ContentType) != "application/x-test" || head.Metadata["color"] != "blue" || aws.ToString(head.CacheControl) != "max-age=60" || aws.ToInt64(head.ContentLength) != int64(len(data)) {
		t.Errorf("head: %+v", head)
	}
	etag := aws.ToString(put.ETag)
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	conds := []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"if-match ok", map[string]string{"If-Match": etag}, 200},
		{"if-match fail", map[string]string{"If-Match": `"nope"`}, 412},
		{"if-none-match hit", map[string]string{"If-None-Match": etag}, 304},
		{"if-none-match miss", map[string]string{"If-None-Match": `"nope"`}, 200},
		{"if-modified-since future", map[string]string{"If-Modified-Since": future.UTC().Format(http.TimeFormat)}, 304},
		{"if-modified-since past", map[string]string{"If-Modified-Since": past.UTC().Format(http.TimeFormat)}, 200},
		{"if-unmodified-since past", map[string]string{"If-Unmodified-Since": past.UTC().Format(http.TimeFormat)}, 412},
		{"if-match beats unmodified-since", map[string]string{"If-Match": etag, "If-Unmodified-Since": past.UTC().Format(http.TimeFormat)}, 200},
		{"none-match miss beats modified-since", map[string]string{"If-None-Match": `"x"`, "If-Modified-Since": future.UTC().Format(http.TimeFormat)}, 200},
		{"response override", map[string]string{}, 200},
	}
	for _, tc := range conds {
		status, _, h := st.raw(t, "GET", "/objs/dir/file.bin?response-content-type=text/plain", nil, tc.hdr)
		if status != tc.status {
			t.Errorf("%s: status %d want %d", tc.name, status, tc.status)
		}
		if status == 200 && h.Get("Content-Type") != "text/plain" {
			t.Errorf("%s: response-content-type not applied: %q", tc.name, h.Get("Content-Type"))
		}
		if status == 304 && h.Get("ETag") != etag {
			t.Errorf("%s: 304 without ETag", tc.name)
		}
	}
	// versionId=null is the current version.
	if status, _, _ := st.raw(t, "HEAD", "/objs/dir/file.bin?versionId=null", nil, nil); status != 200 {
		t.Errorf("versionId=null: %d", status)
	}
	if status, _, _ := st.raw(t, "GET", "/objs/dir/file.bin?versionId=abc", nil, nil); status != 400 {
		t.Errorf("versionId=abc: %d", status)
	}
	if _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("objs"), Key: aws.String("missing")}); apiCode(err) != "NoSuchKey" {
		t.Errorf("missing key: %v", err)
	}
	// Delete is idempotent.
	for i := 0; i < 2; i++ {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("objs"), Key: aws.String("dir/file.bin")}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConditionalWritesAreAtomic(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cond")}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, fails := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("once"), Body: strings.NewReader(fmt.Sprint("writer ", i)), IfNoneMatch: aws.String("*")})
			mu.Lock()
			defer mu.Unlock()
			switch apiCode(err) {
			case "":
				wins++
			case "PreconditionFailed", "ConditionalRequestConflict":
				fails++
			default:
				t.Errorf("unexpected: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if wins != 1 || fails != 7 {
		t.Fatalf("wins %d fails %d", wins, fails)
	}
	head, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cond"), Key: aws.String("once")})
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("once"), Body: strings.NewReader("v2"), IfMatch: aws.String(`"wrong"`)}); apiCode(err) != "PreconditionFailed" {
		t.Errorf("if-match wrong: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("once"), Body: strings.NewReader("v2"), IfMatch: head.ETag}); err != nil {
		t.Errorf("if-match right: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("absent"), Body: strings.NewReader("v2"), IfMatch: head.ETag}); apiCode(err) != "NoSuchKey" {
		t.Errorf("if-match on missing key: %v", err)
	}
}

func TestListing(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("list")}); err != nil {
		t.Fatal(err)
	}
	keys := []string{"a.txt", "b/1", "b/2", "b/c/3", "c d/é", "d+e", "z"}
	for _, k := range keys {
		mustPut(t, c, "list", k, []byte(k))
	}
	// Paginate one key at a time: every key once, in order.
	var got []string
	var token *string
	for {
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), MaxKeys: aws.Int32(2), ContinuationToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		token = out.NextContinuationToken
	}
	if strings.Join(got, ",") != strings.Join(keys, ",") {
		t.Fatalf("paged keys %q", got)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var cps []string
	for _, p := range out.CommonPrefixes {
		cps = append(cps, aws.ToString(p.Prefix))
	}
	if strings.Join(cps, ",") != "b/,c d/" || len(out.Contents) != 3 || aws.ToInt32(out.KeyCount) != 5 {
		t.Errorf("delimiter listing: prefixes %q contents %d keycount %d", cps, len(out.Contents), aws.ToInt32(out.KeyCount))
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("b/"), Delimiter: aws.String("/"), StartAfter: aws.String("b/1"), FetchOwner: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "b/2" || out.Contents[0].Owner == nil || len(out.CommonPrefixes) != 1 {
		t.Errorf("prefix+start-after: %+v", out)
	}
	// v1 with marker and url encoding.
	status, body, _ := st.raw(t, "GET", "/list?marker=b%2Fc%2F3&encoding-type=url", nil, nil)
	if status != 200 || !strings.Contains(body, "<Key>c%20d/%C3%A9</Key>") || strings.Contains(body, "<Key>a.txt</Key>") {
		t.Errorf("v1 marker/url: %d %s", status, body)
	}
	// Versions listing reports the null version.
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("list")})
	if err != nil || len(vs.Versions) != len(keys) || aws.ToString(vs.Versions[0].VersionId) != "null" {
		t.Errorf("versions: %v %v", vs, err)
	}
	// DeleteObjects, verbose and quiet.
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("list"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("a.txt")}, {Key: aws.String("z"), VersionId: aws.String("null")}, {Key: aws.String("missing")}}}})
	if err != nil || len(del.Deleted) != 3 || len(del.Errors) != 0 {
		t.Errorf("delete objects: %+v %v", del, err)
	}
	del, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("list"), Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("b/1")}}}})
	if err != nil || len(del.Deleted) != 0 {
		t.Errorf("quiet delete: %+v %v", del, err)
	}
}

func TestCopyObjectCopiesNoData(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, b := range []string{"src", "dst"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	data := bytes.Repeat([]byte{7}, 1<<20)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("k"), Body: bytes.NewReader(data), Metadata: map[string]string{"a": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := st.app.meta.Stats(ctx)
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String("src/k")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("replaced"), CopySource: aws.String("/src/k"),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"b": "2"}, ContentType: aws.String("text/x")}); err != nil {
		t.Fatal(err)
	}
	after, _ := st.app.meta.Stats(ctx)
	if after.StoredBytes != before.StoredBytes || after.Objects != before.Objects+2 {
		t.Errorf("copy stored data: before %+v after %+v", before, after)
	}
	h1, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	h2, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("replaced")})
	if h1.Metadata["a"] != "1" || h2.Metadata["b"] != "2" || h2.Metadata["a"] != "" || aws.ToString(h2.ContentType) != "text/x" || aws.ToString(h1.ETag) != aws.ToString(put.ETag) {
		t.Errorf("copy metadata: %v %v", h1.Metadata, h2.Metadata)
	}
	if !bytes.Equal(mustGet(t, c, "dst", "copy", ""), data) {
		t.Error("copy content differs")
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/k"), CopySourceIfMatch: aws.String(`"nope"`)})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("copy-source-if-match: %v", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("k"), CopySource: aws.String("src/k")})
	if apiCode(err) != "InvalidRequest" {
		t.Errorf("copy onto itself: %v", err)
	}
}

func TestIntegrityFailuresStoreNothing(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("integ")}); err != nil {
		t.Fatal(err)
	}
	body := []byte("the quick brown fox")
	wrongMD5 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name   string
		hdr    map[string]string
		status int
		code   string
	}{
		{"wrong content-md5", map[string]string{"Content-MD5": wrongMD5}, 400, "BadDigest"},
		{"malformed content-md5", map[string]string{"Content-MD5": "abc"}, 400, "InvalidDigest"},
		{"wrong crc32", map[string]string{"x-amz-checksum-crc32": "AAAAAA=="}, 400, "BadDigest"},
		{"wrong sha256 checksum", map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(make([]byte, 32))}, 400, "BadDigest"},
		{"malformed crc32", map[string]string{"x-amz-checksum-crc32": "zz"}, 400, "InvalidRequest"},
		{"wrong payload hash", map[string]string{"x-amz-content-sha256": strings.Repeat("0", 64)}, 400, "XAmzContentSHA256Mismatch"},
	}
	for _, tc := range tests {
		status, resp, _ := st.raw(t, "PUT", "/integ/obj", body, tc.hdr)
		if status != tc.status || !strings.Contains(resp, "<Code>"+tc.code+"</Code>") || !strings.Contains(resp, "<RequestId>") {
			t.Errorf("%s: %d %s", tc.name, status, resp)
		}
	}
	stats, _ := st.app.meta.Stats(ctx)
	if stats.Objects != 0 || stats.Chunks != 0 {
		t.Errorf("something was stored: %+v", stats)
	}
	// Chunk files: none may remain either.
	for name, s := range st.app.stores {
		_ = s.List(ctx, "", func(b backends.Info) error {
			t.Errorf("backend %s holds %s after failed uploads", name, b.Key)
			return nil
		})
	}
}

// onlyReader hides Seek so the SDK must stream (aws-chunked with a trailing checksum).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestSDKDefaultsStreamingAndPresign(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sdk")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("streaming body "), 100_000) // 1.5 MB
	// Over plain HTTP the Go SDK signs payloads; streaming an unseekable body needs the
	// unsigned-payload middleware, and then it sends aws-chunked with a CRC32 trailer.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String("stream"), Body: onlyReader{bytes.NewReader(data)}, ContentLength: aws.Int64(int64(len(data)))},
		s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	if err != nil {
		t.Fatalf("streaming put: %v", err)
	}
	if got := mustGet(t, c, "sdk", "stream", ""); !bytes.Equal(got, data) {
		t.Fatalf("streamed object differs (%d vs %d bytes)", len(got), len(data))
	}
	// Over plain HTTP the Go SDK signs the payload and sends no CRC; like S3 the
	// gateway computes a full-object CRC64NVME and returns it on request.
	mustPut(t, c, "sdk", "seekable", data)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String("seekable"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, out.Body)
	out.Body.Close()
	if aws.ToString(out.ChecksumCRC64NVME) == "" || out.ChecksumType != types.ChecksumTypeFullObject {
		t.Error("GetObject(ChecksumMode=ENABLED) returned no CRC64NVME")
	}
	h, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sdk"), Key: aws.String("stream")})
	if h.ContentEncoding != nil && strings.Contains(*h.ContentEncoding, "aws-chunked") {
		t.Errorf("aws-chunked stored as content encoding: %q", *h.ContentEncoding)
	}

	ps := s3.NewPresignClient(c)
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String("stream")}, s3.WithPresignExpires(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Errorf("presigned get: %d, %d bytes", resp.StatusCode, len(got))
	}
	preq, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sdk"), Key: aws.String("presigned-put")})
	if err != nil {
		t.Fatal(err)
	}
	hreq, _ := http.NewRequest(http.MethodPut, preq.URL, strings.NewReader("via presigned url"))
	for k, v := range preq.SignedHeader {
		hreq.Header[k] = v
	}
	resp, err = http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || string(mustGet(t, c, "sdk", "presigned-put", "")) != "via presigned url" {
		t.Errorf("presigned put: %d", resp.StatusCode)
	}
	// A URL signed in the past with a 1s lifetime has expired.
	old := s3.NewPresignClient(c, func(o *s3.PresignOptions) {
		o.Presigner = v4.NewSigner()
	})
	ereq, err := old.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sdk"), Key: aws.String("stream")}, s3.WithPresignExpires(time.Second),
		func(o *s3.PresignOptions) { o.ClientOptions = append(o.ClientOptions, func(co *s3.Options) {}) })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	resp, err = http.Get(ereq.URL)
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(eb), "AccessDenied") {
		t.Errorf("expired presign: %d %s", resp.StatusCode, eb)
	}
	// A wrong secret fails with SignatureDoesNotMatch.
	bad := st.client(t, testAK, "wrong-secret")
	if _, err := bad.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("sdk")}); apiCode(err) != "SignatureDoesNotMatch" {
		t.Errorf("wrong secret: %v", err)
	}
	unknown := st.client(t, "AKIAUNKNOWN", "x")
	if _, err := unknown.ListBuckets(ctx, &s3.ListBucketsInput{}); apiCode(err) != "InvalidAccessKeyId" {
		t.Errorf("unknown key: %v", err)
	}
	// Anonymous requests are refused.
	resp, err = http.Get(st.url + "/sdk/stream")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Errorf("anonymous: %d", resp.StatusCode)
	}
}

func TestMultipartRules(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mpu")}); err != nil {
		t.Fatal(err)
	}
	create := func(key string, algo types.ChecksumAlgorithm) string {
		t.Helper()
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), ChecksumAlgorithm: algo})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.UploadId)
	}
	// The parts of a CRC32 upload (COMPOSITE) must carry their CRC32, as on S3; this
	// client computes it when asked (a hand-built aws.Config sends none by default).
	part := func(key, id string, n int32, data []byte) *s3.UploadPartOutput {
		t.Helper()
		algo := types.ChecksumAlgorithm("")
		if key == "obj" {
			algo = types.ChecksumAlgorithmCrc32
		}
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: aws.String(id), PartNumber: aws.Int32(n),
			Body: bytes.NewReader(data), ChecksumAlgorithm: algo})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	p1 := bytes.Repeat([]byte{1}, 5<<20)
	p2 := bytes.Repeat([]byte{2}, 5<<20)
	p3 := []byte("tail")
	id := create("obj", types.ChecksumAlgorithmCrc32)
	e1, e2 := part("obj", id, 1, p1), part("obj", id, 2, p2)
	e3 := part("obj", id, 3, []byte("to be replaced"))
	e3 = part("obj", id, 3, p3)
	e4 := part("obj", id, 4, p1) // never completed: released with the upload
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("obj"), UploadId: aws.String(id), MaxParts: aws.Int32(2)})
	if err != nil || len(lp.Parts) != 2 || !aws.ToBool(lp.IsTruncated) {
		t.Fatalf("list parts: %+v %v", lp, err)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	if err != nil || len(ups.Uploads) != 1 {
		t.Fatalf("list uploads: %+v %v", ups, err)
	}
	cp := func(n int32, o *s3.UploadPartOutput) types.CompletedPart {
		return types.CompletedPart{PartNumber: aws.Int32(n), ETag: o.ETag, ChecksumCRC32: o.ChecksumCRC32}
	}
	bad := []struct {
		name  string
		parts []types.CompletedPart
		code  string
	}{
		{"order", []types.CompletedPart{cp(2, e2), cp(1, e1)}, "InvalidPartOrder"},
		{"etag", []types.CompletedPart{cp(1, e1), {PartNumber: aws.Int32(2), ETag: aws.String(`"00"`), ChecksumCRC32: e2.ChecksumCRC32}}, "InvalidPart"},
		{"missing part", []types.CompletedPart{cp(1, e1), cp(4, e3)}, "InvalidPart"},
		{"too small", []types.CompletedPart{cp(3, e3), cp(4, e4)}, "EntityTooSmall"},
	}
	for _, tc := range bad {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("obj"), UploadId: aws.String(id),
			MultipartUpload: &types.CompletedMultipartUpload{Parts: tc.parts}})
		if apiCode(err) != tc.code {
			t.Errorf("%s: got %v want %s", tc.name, err, tc.code)
		}
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("obj"), UploadId: aws.String(id),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{cp(1, e1), cp(2, e2), cp(3, e3)}}})
	if err != nil {
		t.Fatal(err)
	}
	h := md5.New()
	for _, p := range [][]byte{p1, p2, p3} {
		s := md5.Sum(p)
		h.Write(s[:])
	}
	if want := fmt.Sprintf(`"%x-3"`, h.Sum(nil)); aws.ToString(done.ETag) != want {
		t.Errorf("etag %s want %s", aws.ToString(done.ETag), want)
	}
	whole := append(append(append([]byte{}, p1...), p2...), p3...)
	for _, r := range []struct {
		rng  string
		want []byte
	}{{"", whole}, {"bytes=5242870-5242890", whole[5242870:5242891]}, {"bytes=-6", whole[len(whole)-6:]}} {
		if got := mustGet(t, c, "mpu", "obj", r.rng); !bytes.Equal(got, r.want) {
			t.Errorf("range %q differs", r.rng)
		}
	}
	// partNumber reads.
	po, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("obj"), PartNumber: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(po.Body)
	po.Body.Close()
	if !bytes.Equal(pb, p3) || aws.ToInt32(po.PartsCount) != 3 {
		t.Errorf("part 3: %q parts %d", pb, aws.ToInt32(po.PartsCount))
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("obj"), UploadId: aws.String(id), PartNumber: aws.Int32(1), Body: bytes.NewReader(p3)}); apiCode(err) != "NoSuchUpload" {
		t.Errorf("part after complete: %v", err)
	}
	// Abort releases; then NoSuchUpload.
	id2 := create("aborted", "")
	part("aborted", id2, 1, []byte("abandoned part content"))
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: aws.String(id2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: aws.String(id2)}); apiCode(err) != "NoSuchUpload" {
		t.Errorf("list parts after abort: %v", err)
	}
	// UploadPartCopy with and without a range.
	id3 := create("copied", "")
	pc1, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("copied"), UploadId: aws.String(id3), PartNumber: aws.Int32(1), CopySource: aws.String("mpu/obj"), CopySourceRange: aws.String("bytes=0-5242879")})
	if err != nil {
		t.Fatal(err)
	}
	pc2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("copied"), UploadId: aws.String(id3), PartNumber: aws.Int32(2), CopySource: aws.String("mpu/obj"), CopySourceRange: aws.String("bytes=5242878-10485763")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("copied"), UploadId: aws.String(id3),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: pc2.CopyPartResult.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte{}, whole[:5242880]...), whole[5242878:10485764]...)
	if got := mustGet(t, c, "mpu", "copied", ""); !bytes.Equal(got, want) {
		t.Errorf("part copy content differs")
	}
}

// TestHashJobEnablesWholeObjectInstantUpload: after a multipart upload, the background
// job records the whole content's SHA-256 (not its MD5); a single PutObject of the same
// content then completes without its body, its ETag (the content's MD5) computed from
// the stored copy once and recorded for the next one. A damaged stored copy makes the
// upload read its body instead.
func TestHashJobEnablesWholeObjectInstantUpload(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("hash")}); err != nil {
		t.Fatal(err)
	}
	jctx, stop := context.WithCancel(ctx)
	go st.app.svc.RunJobs(jctx, 20*time.Millisecond)
	defer stop()
	whole := multipartHashed(t, st, c, "mp", bytes.Repeat([]byte{9}, 5<<20), []byte("the end"), 1)
	o, err := st.app.meta.GetObject(ctx, "hash", "mp")
	if err != nil || len(o.MD5) != 0 {
		t.Fatalf("the hash job recorded an MD5 (%x, %v): only the SHA-256 is its work", o.MD5, err)
	}
	md := md5.Sum(whole)
	wantETag := `"` + hex.EncodeToString(md[:]) + `"`
	// A single PutObject of the same content, declared up front with Expect:
	// 100-continue, completes without its body, twice: the second time with the MD5
	// the first one recorded.
	for i, key := range []string{"single", "again"} {
		resp, n := hashedPut(t, expectClient(t), st.url+"/hash/"+key, whole, true, nil)
		if resp.StatusCode != 200 || n != 0 {
			t.Fatalf("instant put %d: status %d, %d body bytes read", i, resp.StatusCode, n)
		}
		if resp.Header.Get("ETag") != wantETag {
			t.Errorf("instant put %d: ETag %s, want the content MD5 %s", i, resp.Header.Get("ETag"), wantETag)
		}
		if o, err := st.app.meta.GetObject(ctx, "hash", "mp"); err != nil || !bytes.Equal(o.MD5, md[:]) {
			t.Errorf("after instant put %d: recorded MD5 %x, %v; want %x", i, o.MD5, err, md)
		}
	}
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("hash"), Key: aws.String("single")})
	if err != nil || aws.ToInt64(h.ContentLength) != int64(len(whole)) || h.PartsCount != nil {
		t.Fatalf("head: %v %v", h, err)
	}
	if got := mustGet(t, c, "hash", "single", "bytes=5242878-"); !bytes.Equal(got, whole[5242878:]) {
		t.Error("instant object reads back wrong")
	}

	// Damage the stored copy of other content: its MD5 cannot be vouched for, so the
	// upload reads its body and stores it afresh.
	whole2 := multipartHashed(t, st, c, "mp2", bytes.Repeat([]byte{7}, 5<<20), []byte("the other end"), 2)
	damageFirstChunk(t, st, "hash", "mp2")
	resp, n := hashedPut(t, expectClient(t), st.url+"/hash/single2", whole2, true, nil)
	if resp.StatusCode != 200 || n != int64(len(whole2)) {
		t.Fatalf("put over a damaged copy: status %d, %d of %d body bytes read", resp.StatusCode, n, len(whole2))
	}
	md2 := md5.Sum(whole2)
	if want := `"` + hex.EncodeToString(md2[:]) + `"`; resp.Header.Get("ETag") != want {
		t.Errorf("put over a damaged copy: ETag %s, want %s", resp.Header.Get("ETag"), want)
	}
	if got := mustGet(t, c, "hash", "single2", ""); !bytes.Equal(got, whole2) {
		t.Error("object stored over a damaged copy reads back wrong")
	}
	if o, err := st.app.meta.GetObject(ctx, "hash", "mp2"); err != nil || len(o.MD5) != 0 {
		t.Errorf("an MD5 was recorded for a damaged copy: %x, %v", o.MD5, err)
	}
}

// TestHashJobTakesDigestsOfSameManifest: a multipart upload of content the store holds
// already (the same parts again, under another key) gets its whole-content digests from
// the first object, without the job reading the content: the chunks are damaged on disk
// before the job runs, and the SHA-256 it records is still the true one.
func TestHashJobTakesDigestsOfSameManifest(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("hash")}); err != nil {
		t.Fatal(err)
	}
	p1, p2 := bytes.Repeat([]byte{5}, 5<<20), []byte("tail")
	runJobs := func() (stop func()) {
		jctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); st.app.svc.RunJobs(jctx, 20*time.Millisecond) }()
		return func() { cancel(); <-done }
	}
	stop := runJobs()
	whole := multipartHashed(t, st, c, "first", p1, p2, 1)
	// An instant upload records the content's MD5 on the first object.
	if resp, n := hashedPut(t, expectClient(t), st.url+"/hash/single", whole, true, nil); resp.StatusCode != 200 || n != 0 {
		t.Fatalf("instant put: status %d, %d body bytes read", resp.StatusCode, n)
	}
	stop()
	uploadParts(t, c, "second", p1, p2)
	damageFirstChunk(t, st, "hash", "second") // the second part, a few bytes, is inline
	defer runJobs()()
	waitHashed(t, st, "second", whole, 2)
	md := md5.Sum(whole)
	if o, err := st.app.meta.GetObject(ctx, "hash", "second"); err != nil || !bytes.Equal(o.MD5, md[:]) {
		t.Errorf("second object's MD5 %x, %v; want the first's, %x", o.MD5, err, md)
	}
}

// damageFirstChunk flips a byte of the chunk file that holds the start of bucket/key, in
// the stack's default local store.
func damageFirstChunk(t *testing.T, st *testStack, bucket, key string) {
	t.Helper()
	o, err := st.app.meta.GetObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatal(err)
	}
	file := chunkFile(filepath.Join(st.app.cfg.Data, "chunks"), o.Manifest[0].Chunk.UID)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 1
	if err := os.WriteFile(file, data, 0o640); err != nil {
		t.Fatal(err)
	}
}

// multipartHashed uploads p1 and p2 as the two parts of hash/key, waits for the hash
// job to record the whole content's SHA-256 (the done-jobs count reaching jobs), and
// returns the content.
func multipartHashed(t *testing.T, st *testStack, c *s3.Client, key string, p1, p2 []byte, jobs int) []byte {
	t.Helper()
	whole := uploadParts(t, c, key, p1, p2)
	waitHashed(t, st, key, whole, jobs)
	return whole
}

// uploadParts uploads p1 and p2 as the two parts of hash/key and returns the content.
func uploadParts(t *testing.T, c *s3.Client, key string, p1, p2 []byte) []byte {
	t.Helper()
	ctx := context.Background()
	cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("hash"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, p := range [][]byte{p1, p2} {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("hash"), Key: aws.String(key), UploadId: cu.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("hash"), Key: aws.String(key), UploadId: cu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
	return append(append([]byte{}, p1...), p2...)
}

// waitHashed waits for the hash job to record the SHA-256 of whole for hash/key and for
// the done-jobs count to reach jobs.
func waitHashed(t *testing.T, st *testStack, key string, whole []byte, jobs int) {
	t.Helper()
	ctx := context.Background()
	sum := sha256.Sum256(whole)
	// The job records the hash, then (a second write) marks itself done.
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, err := st.app.meta.GetObject(ctx, "hash", key)
		if err != nil {
			t.Fatal(err)
		}
		js, err := st.app.meta.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(o.SHA256, sum[:]) && js.Jobs["done"] == int64(jobs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("hash job did not record the SHA-256 of %s and finish: SHA-256 recorded %v, job states %v",
				key, bytes.Equal(o.SHA256, sum[:]), js.Jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hashedPut sends a PUT as the aws cli sends known content: the body's SHA-256 signed
// up front (x-amz-content-sha256), with Expect: 100-continue unless expect is false, and
// the extra headers hdr. It returns the answer (its body read and closed) and how many
// body bytes the client's transport read: 0 for an instant upload.
func hashedPut(t *testing.T, hc *http.Client, url string, data []byte, expect bool, hdr map[string]string) (*http.Response, int64) {
	t.Helper()
	sum := sha256.Sum256(data)
	body := &countReader{r: bytes.NewReader(data)}
	req, _ := http.NewRequest(http.MethodPut, url, body)
	req.ContentLength = int64(len(data))
	if expect {
		req.Header.Set("Expect", "100-continue")
	}
	ph := hex.EncodeToString(sum[:])
	req.Header.Set("x-amz-content-sha256", ph)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK}, req, ph, "s3", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, body.n.Load()
}

// expectClient waits for the server's interim or final answer before sending a body
// announced with Expect: 100-continue, as the aws cli does.
func expectClient(t *testing.T) *http.Client {
	tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type countReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestVirtualHostStyle(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vhost")}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, "vhost", "dir/key.txt", []byte("virtual"))
	// The SDK addresses "<bucket>.<endpoint host>" when path style is off; point its
	// resolver at "localhost" so the bucket rides in the Host header.
	port := st.url[strings.LastIndex(st.url, ":")+1:]
	vc := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(testAK, testSK, "")}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String("http://localhost:" + port)
		o.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
		}}}
	})
	out, err := vc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/key.txt")})
	if err != nil {
		t.Fatalf("virtual-host GET: %v", err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "virtual" {
		t.Fatalf("got %q", b)
	}
	l, err := vc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	if err != nil || len(l.Contents) != 1 {
		t.Fatalf("virtual-host list: %v %v", l, err)
	}
}

// TestKnownContentWithoutExpectIsVerifiedNotWritten: a client that declares the SHA-256
// of stored content but sends the body anyway (no Expect: 100-continue) has its body
// read and verified, and nothing is written; a body that does not match the declared
// hash is rejected.
func TestKnownContentWithoutExpectIsVerifiedNotWritten(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("known")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("known content "), 10000)
	mustPut(t, c, "known", "first", data)
	var puts int
	countPuts := func() int {
		n := 0
		for _, s := range st.app.stores {
			_ = s.List(ctx, "", func(backends.Info) error { n++; return nil })
		}
		return n
	}
	puts = countPuts()
	sum := sha256.Sum256(data)
	status, body, _ := st.raw(t, "PUT", "/known/second", data, map[string]string{"x-amz-content-sha256": hex.EncodeToString(sum[:])})
	if status != 200 {
		t.Fatalf("second put: %d %s", status, body)
	}
	if n := countPuts(); n != puts {
		t.Errorf("known content was written again: %d blobs, had %d", n, puts)
	}
	if got := mustGet(t, c, "known", "second", ""); !bytes.Equal(got, data) {
		t.Error("second object reads back wrong")
	}
	// Same length, different bytes, declared as the stored content: rejected.
	forged := bytes.Repeat([]byte("KNOWN CONTENT "), 10000)
	status, body, _ = st.raw(t, "PUT", "/known/forged", forged, map[string]string{"x-amz-content-sha256": hex.EncodeToString(sum[:])})
	if status != 400 || !strings.Contains(body, "XAmzContentSHA256Mismatch") {
		t.Errorf("forged body: %d %s", status, body)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("known"), Key: aws.String("forged")}); err == nil {
		t.Error("forged object exists")
	}
}

// TestInstantUploadAcrossChecksumAlgorithms: content stored by a client that declared
// one checksum algorithm is instantly uploaded again by clients that declare another,
// or none (which gets S3's default CRC64NVME): the value is proven from the stored
// copy, the body never crosses the wire, and the new object carries the right
// checksum. A declared value the content does not have still makes the body be read
// and refused.
func TestInstantUploadAcrossChecksumAlgorithms(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("algos")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("checksums of one content "), 200_000)
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	be32 := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	be64 := func(v uint64) []byte { return append(be32(uint32(v>>32)), be32(uint32(v))...) }
	crc32IEEE := b64(be32(crc32.ChecksumIEEE(data)))
	crc32C := b64(be32(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))))
	crc64NVME := b64(be64(crc64.Checksum(data, crc64.MakeTable(0x9a6c9329ac4bc9b5))))
	hc := expectClient(t)
	put := func(key string, expect bool, hdr map[string]string) (int, int64) {
		t.Helper()
		resp, n := hashedPut(t, hc, st.url+"/algos/"+key, data, expect, hdr)
		return resp.StatusCode, n
	}
	// Stored first with a CRC32 only.
	if code, n := put("first", false, map[string]string{"x-amz-checksum-crc32": crc32IEEE}); code != 200 || n != int64(len(data)) {
		t.Fatalf("first PUT: %d, %d bytes read", code, n)
	}
	for _, tc := range []struct {
		key, header, value string
		check              func(*s3.HeadObjectOutput) string
		want               string
	}{
		{"default", "", "", func(h *s3.HeadObjectOutput) string { return aws.ToString(h.ChecksumCRC64NVME) }, crc64NVME},
		{"crc32c", "x-amz-checksum-crc32c", crc32C, func(h *s3.HeadObjectOutput) string { return aws.ToString(h.ChecksumCRC32C) }, crc32C},
		{"crc32-again", "x-amz-checksum-crc32", crc32IEEE, func(h *s3.HeadObjectOutput) string { return aws.ToString(h.ChecksumCRC32) }, crc32IEEE},
	} {
		hdr := map[string]string{}
		if tc.header != "" {
			hdr[tc.header] = tc.value
		}
		if code, n := put(tc.key, true, hdr); code != 200 || n != 0 {
			t.Errorf("%s: PUT %d, %d body bytes read, want an instant upload", tc.key, code, n)
			continue
		}
		h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("algos"), Key: aws.String(tc.key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || tc.check(h) != tc.want {
			t.Errorf("%s: HEAD checksum %q, want %q (%v)", tc.key, tc.check(h), tc.want, err)
		}
	}
	// A CRC32C the content does not have: the body is read, and refused.
	if code, n := put("wrong", true, map[string]string{"x-amz-checksum-crc32c": crc32IEEE}); code != 400 || n == 0 {
		t.Errorf("a wrong CRC32C: PUT %d, %d body bytes read", code, n)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("algos"), Key: aws.String("wrong")}); apiCode(err) != "NotFound" {
		t.Errorf("the refused object exists: %v", err)
	}
}
