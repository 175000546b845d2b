package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cespare/xxhash/v2"
	"github.com/minio/crc64nvme"
	"github.com/zeebo/xxh3"
)

// Issue 2: aws-sdk-go-v2 with default settings against the real binary.

func TestSDKPutGet(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	plain := s3Client(s, s.cred)
	tlsc := s3ClientTLS(t, s, s.cred)
	const bucket = "sdk-put-get"
	createBucket(t, plain, bucket)

	tests := []struct {
		name     string
		size     int
		client   *s3.Client
		seekable bool
	}{
		{"empty", 0, plain, true},
		{"small seekable", 1000, plain, true},
		// Above 2 MiB the SDK sends Expect: 100-continue.
		{"3MiB seekable", 3*MiB + 17, plain, true},
		// Over TLS an unseekable body goes as aws-chunked with a CRC32 trailer
		// (STREAMING-UNSIGNED-PAYLOAD-TRAILER); the server must strip the framing.
		{"3MiB stream aws-chunked trailer", 3*MiB + 17, tlsc, false},
		{"small stream aws-chunked trailer", 1, tlsc, false},
		{"seekable over TLS", 64 * KiB, tlsc, true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(uint64(100+i), tc.size)
			key := fmt.Sprintf("obj-%d", i)
			var body io.Reader = bytes.NewReader(data)
			if !tc.seekable {
				body = onlyReader{bytes.NewReader(data)}
			}
			in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: &key, Body: body}
			if !tc.seekable {
				in.ContentLength = aws.Int64(int64(tc.size))
			}
			put, err := tc.client.PutObject(ctxT(t), in)
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			md := md5.Sum(data)
			wantETag := `"` + hex.EncodeToString(md[:]) + `"`
			if aws.ToString(put.ETag) != wantETag {
				t.Errorf("ETag %s, want the MD5 %s", aws.ToString(put.ETag), wantETag)
			}
			for _, c := range []*s3.Client{plain, tlsc} {
				sum, n := getSHA256(t, c, bucket, key)
				if n != int64(tc.size) || sum != sha256Hex(data) {
					t.Fatalf("GetObject: %d bytes sha256 %s, want %d bytes %s", n, sum, tc.size, sha256Hex(data))
				}
			}
			head, err := plain.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: &key})
			if err != nil {
				t.Fatalf("HeadObject: %v", err)
			}
			if aws.ToInt64(head.ContentLength) != int64(tc.size) || aws.ToString(head.ETag) != wantETag {
				t.Errorf("HeadObject: length %d ETag %s, want %d %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag), tc.size, wantETag)
			}
		})
	}
}

func TestSDKRanges(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	const bucket, key = "sdk-ranges", "ranged"
	createBucket(t, c, bucket)
	size := 1*MiB + 123
	data := randomBytes(7, size)
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		rng        string
		start, end int // inclusive; ignored when wantErr
		wantErr    bool
	}{
		{"first byte", "bytes=0-0", 0, 0, false},
		{"middle", "bytes=1000-99999", 1000, 99999, false},
		{"open end", "bytes=1000000-", 1000000, size - 1, false},
		{"suffix", "bytes=-500", size - 500, size - 1, false},
		{"last byte", fmt.Sprintf("bytes=%d-", size-1), size - 1, size - 1, false},
		{"end past size is clamped", fmt.Sprintf("bytes=100-%d", size+1000), 100, size - 1, false},
		{"suffix longer than object", fmt.Sprintf("bytes=-%d", size+10), 0, size - 1, false},
		{"start at size", fmt.Sprintf("bytes=%d-", size), 0, 0, true},
		{"start past size", fmt.Sprintf("bytes=%d-%d", size+5, size+10), 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: aws.String(tc.rng)})
			if tc.wantErr {
				if err == nil {
					out.Body.Close()
				}
				wantAPIError(t, err, "InvalidRange", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			if err != nil {
				t.Fatalf("GetObject Range %s: %v", tc.rng, err)
			}
			defer out.Body.Close()
			got, err := io.ReadAll(out.Body)
			if err != nil {
				t.Fatal(err)
			}
			want := data[tc.start : tc.end+1]
			if sha256Hex(got) != sha256Hex(want) {
				t.Errorf("Range %s: got %d bytes, want bytes %d-%d (%d bytes), content differs", tc.rng, len(got), tc.start, tc.end, len(want))
			}
			wantCR := fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, size)
			if aws.ToString(out.ContentRange) != wantCR {
				t.Errorf("Content-Range %q, want %q", aws.ToString(out.ContentRange), wantCR)
			}
			if aws.ToInt64(out.ContentLength) != int64(len(want)) {
				t.Errorf("Content-Length %d, want %d", aws.ToInt64(out.ContentLength), len(want))
			}
		})
	}
}

func TestSDKConditional(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	const bucket, key = "sdk-cond", "obj"
	createBucket(t, c, bucket)
	data := randomBytes(8, 10*KiB)
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	etag, mod := aws.ToString(head.ETag), aws.ToTime(head.LastModified)
	// If-Modified-Since uses the object's own Last-Modified (what browsers
	// send back), not a future date: servers may ignore dates in the future.
	before, after := mod.Add(-time.Hour), mod.Add(time.Hour)

	type cond struct {
		ifMatch, ifNoneMatch     *string
		ifModSince, ifUnmodSince *time.Time
	}
	tests := []struct {
		name   string
		c      cond
		status int // 200, 304 or 412
	}{
		{"If-Match matching", cond{ifMatch: &etag}, 200},
		{"If-Match other", cond{ifMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, 412},
		{"If-Match star", cond{ifMatch: aws.String("*")}, 200},
		{"If-None-Match matching", cond{ifNoneMatch: &etag}, 304},
		{"If-None-Match other", cond{ifNoneMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)}, 200},
		{"If-Modified-Since Last-Modified", cond{ifModSince: &mod}, 304},
		{"If-Modified-Since earlier", cond{ifModSince: &before}, 200},
		{"If-Unmodified-Since earlier", cond{ifUnmodSince: &before}, 412},
		{"If-Unmodified-Since later", cond{ifUnmodSince: &after}, 200},
		// RFC 7232 order, as S3 applies it: If-Match wins over If-Unmodified-Since,
		// If-None-Match over If-Modified-Since.
		{"If-Match true and If-Unmodified-Since false", cond{ifMatch: &etag, ifUnmodSince: &before}, 200},
		{"If-None-Match false and If-Modified-Since true", cond{ifNoneMatch: &etag, ifModSince: &before}, 304},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			get := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				IfMatch: tc.c.ifMatch, IfNoneMatch: tc.c.ifNoneMatch, IfModifiedSince: tc.c.ifModSince, IfUnmodifiedSince: tc.c.ifUnmodSince}
			out, err := c.GetObject(ctxT(t), get)
			checkCond(t, "GetObject", err, tc.status)
			if err == nil {
				sum, _, _ := readerSHA256(out.Body)
				out.Body.Close()
				if sum != sha256Hex(data) {
					t.Errorf("GetObject body differs")
				}
			}
			hd := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
				IfMatch: tc.c.ifMatch, IfNoneMatch: tc.c.ifNoneMatch, IfModifiedSince: tc.c.ifModSince, IfUnmodifiedSince: tc.c.ifUnmodSince}
			_, err = c.HeadObject(ctxT(t), hd)
			checkCond(t, "HeadObject", err, tc.status)
		})
	}
}

func checkCond(t *testing.T, op string, err error, status int) {
	t.Helper()
	switch {
	case status == 200 && err != nil:
		t.Errorf("%s: want 200, got %v", op, err)
	case status == 412 && op == "GetObject":
		wantAPIError(t, err, "PreconditionFailed", status)
	case status != 200:
		wantAPIError(t, err, "", status) // 304 and HEAD errors carry no body
	}
}

func TestSDKListObjectsV2(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	const bucket = "sdk-list"
	createBucket(t, c, bucket)
	keys := []string{"a.txt", "dir/1", "dir/2", "dir/sub/3", "dir2/x", "z", "ü/utf8 key+plus&amp"}
	for i, k := range keys {
		if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(randomBytes(uint64(i), i))}); err != nil {
			t.Fatalf("PutObject %q: %v", k, err)
		}
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted) // S3 lists in UTF-8 binary order, which is Go's string order

	tests := []struct {
		name         string
		in           s3.ListObjectsV2Input
		wantKeys     []string
		wantPrefixes []string
	}{
		{"all", s3.ListObjectsV2Input{}, sorted, nil},
		{"delimiter at root", s3.ListObjectsV2Input{Delimiter: aws.String("/")}, []string{"a.txt", "z"}, []string{"dir/", "dir2/", "ü/"}},
		{"prefix and delimiter", s3.ListObjectsV2Input{Prefix: aws.String("dir/"), Delimiter: aws.String("/")}, []string{"dir/1", "dir/2"}, []string{"dir/sub/"}},
		{"prefix only", s3.ListObjectsV2Input{Prefix: aws.String("dir")}, []string{"dir/1", "dir/2", "dir/sub/3", "dir2/x"}, nil},
		{"start-after", s3.ListObjectsV2Input{StartAfter: aws.String("dir/2")}, []string{"dir/sub/3", "dir2/x", "z", "ü/utf8 key+plus&amp"}, nil},
		{"no match", s3.ListObjectsV2Input{Prefix: aws.String("nothing")}, nil, nil},
	}
	for _, tc := range tests {
		for _, pageSize := range []int32{1000, 2, 1} {
			t.Run(fmt.Sprintf("%s/page=%d", tc.name, pageSize), func(t *testing.T) {
				in := tc.in
				in.Bucket = aws.String(bucket)
				in.MaxKeys = aws.Int32(pageSize)
				var gotKeys, gotPrefixes []string
				p := s3.NewListObjectsV2Paginator(c, &in)
				for pages := 0; p.HasMorePages(); pages++ {
					if pages > 20 {
						t.Fatal("pagination does not end")
					}
					page, err := p.NextPage(ctxT(t))
					if err != nil {
						t.Fatalf("ListObjectsV2: %v", err)
					}
					if n := len(page.Contents) + len(page.CommonPrefixes); n > int(pageSize) {
						t.Errorf("page has %d entries, max-keys %d", n, pageSize)
					}
					if aws.ToInt32(page.KeyCount) != int32(len(page.Contents)+len(page.CommonPrefixes)) {
						t.Errorf("KeyCount %d, page has %d entries", aws.ToInt32(page.KeyCount), len(page.Contents)+len(page.CommonPrefixes))
					}
					for _, o := range page.Contents {
						gotKeys = append(gotKeys, aws.ToString(o.Key))
						if want := int64(slices.Index(keys, aws.ToString(o.Key))); aws.ToInt64(o.Size) != want {
							t.Errorf("%s: size %d, want %d", aws.ToString(o.Key), aws.ToInt64(o.Size), want)
						}
					}
					for _, cp := range page.CommonPrefixes {
						gotPrefixes = append(gotPrefixes, aws.ToString(cp.Prefix))
					}
				}
				if !slices.Equal(gotKeys, tc.wantKeys) {
					t.Errorf("keys %q, want %q", gotKeys, tc.wantKeys)
				}
				if !slices.Equal(gotPrefixes, tc.wantPrefixes) {
					t.Errorf("common prefixes %q, want %q", gotPrefixes, tc.wantPrefixes)
				}
			})
		}
	}
}

func TestSDKCopyObject(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	const src, dst = "sdk-copy-src", "sdk-copy-dst"
	createBucket(t, c, src)
	createBucket(t, c, dst)
	data := randomBytes(9, 2*MiB+5)
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{
		Bucket: aws.String(src), Key: aws.String("orig"), Body: bytes.NewReader(data),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"color": "blue"},
	}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		in        s3.CopyObjectInput
		wantType  string
		wantMeta  map[string]string
		dstBucket string
	}{
		{"COPY same bucket", s3.CopyObjectInput{Bucket: aws.String(src), Key: aws.String("copy")},
			"text/plain", map[string]string{"color": "blue"}, src},
		{"COPY other bucket", s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("copy"), MetadataDirective: types.MetadataDirectiveCopy},
			"text/plain", map[string]string{"color": "blue"}, dst},
		{"REPLACE", s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("replaced"), MetadataDirective: types.MetadataDirectiveReplace,
			ContentType: aws.String("application/json"), Metadata: map[string]string{"shape": "round"}},
			"application/json", map[string]string{"shape": "round"}, dst},
		// Copying an object onto itself is only allowed with REPLACE.
		{"REPLACE onto itself", s3.CopyObjectInput{Bucket: aws.String(src), Key: aws.String("orig"), MetadataDirective: types.MetadataDirectiveReplace,
			ContentType: aws.String("text/plain"), Metadata: map[string]string{"color": "green"}},
			"text/plain", map[string]string{"color": "green"}, src},
	}
	md := md5.Sum(data)
	wantETag := `"` + hex.EncodeToString(md[:]) + `"`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.CopySource = aws.String(src + "/orig")
			out, err := c.CopyObject(ctxT(t), &in)
			if err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			if out.CopyObjectResult == nil || aws.ToString(out.CopyObjectResult.ETag) != wantETag {
				t.Errorf("CopyObjectResult ETag %v, want %s", out.CopyObjectResult, wantETag)
			}
			head, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: &tc.dstBucket, Key: in.Key})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(head.ContentType) != tc.wantType {
				t.Errorf("Content-Type %q, want %q", aws.ToString(head.ContentType), tc.wantType)
			}
			if fmt.Sprint(head.Metadata) != fmt.Sprint(tc.wantMeta) {
				t.Errorf("metadata %v, want %v", head.Metadata, tc.wantMeta)
			}
			if sum, _ := getSHA256(t, c, tc.dstBucket, *in.Key); sum != sha256Hex(data) {
				t.Errorf("copied content differs")
			}
		})
	}
	t.Run("missing source", func(t *testing.T) {
		_, err := c.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(dst), Key: aws.String("x"), CopySource: aws.String(src + "/missing")})
		wantAPIError(t, err, "NoSuchKey", http.StatusNotFound)
	})
	t.Run("copy onto itself without REPLACE", func(t *testing.T) {
		_, err := c.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String(src), Key: aws.String("orig"), CopySource: aws.String(src + "/orig")})
		wantAPIError(t, err, "InvalidRequest", http.StatusBadRequest)
	})
}

func TestSDKDelete(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	const bucket = "sdk-delete"
	createBucket(t, c, bucket)
	put := func(key string) {
		t.Helper()
		if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(key)}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("DeleteObject is idempotent", func(t *testing.T) {
		put("one")
		for i := 0; i < 2; i++ {
			if _, err := c.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("one")}); err != nil {
				t.Fatalf("DeleteObject #%d: %v", i+1, err)
			}
		}
		wantNoObject(t, c, bucket, "one")
		_, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("one")})
		wantAPIError(t, err, "NoSuchKey", http.StatusNotFound)
	})

	for _, quiet := range []bool{false, true} {
		t.Run(fmt.Sprintf("DeleteObjects quiet=%t", quiet), func(t *testing.T) {
			put("a")
			put("b")
			ids := []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b")}, {Key: aws.String("never-existed")},
				// Cleanup code in common test suites sends VersionId "null" on unversioned buckets.
				{Key: aws.String("a"), VersionId: aws.String("null")}}
			out, err := c.DeleteObjects(ctxT(t), &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(quiet)}})
			if err != nil {
				t.Fatalf("DeleteObjects: %v", err)
			}
			if len(out.Errors) != 0 {
				t.Errorf("DeleteObjects errors: %+v", out.Errors)
			}
			if quiet && len(out.Deleted) != 0 {
				t.Errorf("quiet DeleteObjects listed %d deleted keys", len(out.Deleted))
			}
			if !quiet && len(out.Deleted) != len(ids) {
				t.Errorf("verbose DeleteObjects listed %d deleted keys, want %d (missing keys count as deleted)", len(out.Deleted), len(ids))
			}
			wantNoObject(t, c, bucket, "a")
			wantNoObject(t, c, bucket, "b")
		})
	}

	t.Run("DeleteBucket", func(t *testing.T) {
		put("left")
		_, err := c.DeleteBucket(ctxT(t), &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		wantAPIError(t, err, "BucketNotEmpty", http.StatusConflict)
		if _, err := c.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("left")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteBucket(ctxT(t), &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatalf("DeleteBucket: %v", err)
		}
		_, err = c.HeadBucket(ctxT(t), &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		wantAPIError(t, err, "", http.StatusNotFound)
	})
}

func TestSDKPresign(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	pc := s3.NewPresignClient(c)
	const bucket = "sdk-presign"
	createBucket(t, c, bucket)
	data := randomBytes(10, 300*KiB)
	if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	httpc := &http.Client{Timeout: time.Minute}

	t.Run("GET", func(t *testing.T) {
		req, err := pc.PresignGetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj")}, s3.WithPresignExpires(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := httpc.Get(req.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sum, _, err := readerSHA256(resp.Body)
		if err != nil || resp.StatusCode != 200 || sum != sha256Hex(data) {
			t.Fatalf("presigned GET: %s, err %v, content matches %t", resp.Status, err, sum == sha256Hex(data))
		}
	})

	t.Run("PUT", func(t *testing.T) {
		up := randomBytes(11, 200*KiB)
		req, err := pc.PresignPutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("presigned-put")}, s3.WithPresignExpires(10*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		resp := doPresigned(t, httpc, req.Method, req.URL, req.SignedHeader, up)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("presigned PUT: %s", resp.Status)
		}
		if sum, _ := getSHA256(t, c, bucket, "presigned-put"); sum != sha256Hex(up) {
			t.Errorf("presigned PUT stored different content")
		}
	})

	t.Run("expired", func(t *testing.T) {
		get, err := pc.PresignGetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj")}, s3.WithPresignExpires(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		put, err := pc.PresignPutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("expired-put")}, s3.WithPresignExpires(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2100 * time.Millisecond)
		resp := doPresigned(t, httpc, get.Method, get.URL, get.SignedHeader, nil)
		wantHTTPError(t, resp, "AccessDenied", http.StatusForbidden)
		resp.Body.Close()
		resp = doPresigned(t, httpc, put.Method, put.URL, put.SignedHeader, []byte("late"))
		wantHTTPError(t, resp, "AccessDenied", http.StatusForbidden)
		resp.Body.Close()
		wantNoObject(t, c, bucket, "expired-put")
	})

	t.Run("tampered", func(t *testing.T) {
		get, err := pc.PresignGetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj")}, s3.WithPresignExpires(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		// Another key under the same signature.
		resp := doPresigned(t, httpc, get.Method, strings.Replace(get.URL, "/obj?", "/presigned-put?", 1), get.SignedHeader, nil)
		wantHTTPError(t, resp, "SignatureDoesNotMatch", http.StatusForbidden)
		resp.Body.Close()
	})
}

func doPresigned(t *testing.T, c *http.Client, method, url string, hdr http.Header, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	req.ContentLength = int64(len(body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestSDKAuthErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	good := s3Client(s, s.cred)
	const bucket = "sdk-auth"
	createBucket(t, good, bucket)

	tests := []struct {
		name string
		cred credential
		code string
	}{
		{"wrong secret", credential{AccessKey: s.cred.AccessKey, SecretKey: s.cred.SecretKey + "x"}, "SignatureDoesNotMatch"},
		{"unknown access key", credential{AccessKey: "E2EUNKNOWNKEY0000000", SecretKey: s.cred.SecretKey}, "InvalidAccessKeyId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bad := s3Client(s, tc.cred)
			_, err := bad.ListBuckets(ctxT(t), &s3.ListBucketsInput{})
			wantAPIError(t, err, tc.code, http.StatusForbidden)
			_, err = bad.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("nope"), Body: strings.NewReader("data")})
			wantAPIError(t, err, tc.code, http.StatusForbidden)
			wantNoObject(t, good, bucket, "nope")
		})
	}
	t.Run("anonymous", func(t *testing.T) {
		resp, err := http.Get(s.endpoint + "/" + bucket + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		wantHTTPError(t, resp, "AccessDenied", http.StatusForbidden)
	})
}

// checksumOf computes S3's base64 checksum values.
func checksumOf(alg types.ChecksumAlgorithm, data []byte) string {
	var hs hash.Hash
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		hs = crc32.NewIEEE()
	case types.ChecksumAlgorithmCrc32c:
		hs = crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case types.ChecksumAlgorithmCrc64nvme:
		hs = crc64nvme.New()
	case types.ChecksumAlgorithmSha1:
		hs = sha1.New()
	case types.ChecksumAlgorithmSha256:
		hs = sha256.New()
	case types.ChecksumAlgorithmSha512:
		hs = sha512.New()
	case types.ChecksumAlgorithmMd5:
		hs = md5.New()
	case types.ChecksumAlgorithmXxhash64:
		hs = xxhash.New()
	case types.ChecksumAlgorithmXxhash3:
		hs = xxh3.New()
	case types.ChecksumAlgorithmXxhash128:
		hs = xxh3.New128()
	default:
		panic("unknown checksum algorithm " + alg)
	}
	hs.Write(data)
	return base64.StdEncoding.EncodeToString(hs.Sum(nil))
}

func TestSDKChecksums(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	tlsc := s3ClientTLS(t, s, s.cred)
	const bucket = "sdk-checksums"
	createBucket(t, c, bucket)
	data := randomBytes(12, 256*KiB+3)
	other := randomBytes(13, 16)
	otherMD5 := md5.Sum(other)

	t.Run("bad digests", func(t *testing.T) {
		tests := []struct {
			name string
			set  func(*s3.PutObjectInput)
		}{
			{"Content-MD5", func(in *s3.PutObjectInput) {
				in.ContentMD5 = aws.String(base64.StdEncoding.EncodeToString(otherMD5[:]))
			}},
			{"x-amz-checksum-crc32", func(in *s3.PutObjectInput) {
				in.ChecksumCRC32 = aws.String(checksumOf(types.ChecksumAlgorithmCrc32, other))
			}},
			{"x-amz-checksum-crc32c", func(in *s3.PutObjectInput) {
				in.ChecksumCRC32C = aws.String(checksumOf(types.ChecksumAlgorithmCrc32c, other))
			}},
			{"x-amz-checksum-crc64nvme", func(in *s3.PutObjectInput) {
				in.ChecksumCRC64NVME = aws.String(checksumOf(types.ChecksumAlgorithmCrc64nvme, other))
			}},
			{"x-amz-checksum-sha1", func(in *s3.PutObjectInput) {
				in.ChecksumSHA1 = aws.String(checksumOf(types.ChecksumAlgorithmSha1, other))
			}},
			{"x-amz-checksum-sha256", func(in *s3.PutObjectInput) {
				in.ChecksumSHA256 = aws.String(checksumOf(types.ChecksumAlgorithmSha256, other))
			}},
			{"x-amz-checksum-sha512", func(in *s3.PutObjectInput) {
				in.ChecksumSHA512 = aws.String(checksumOf(types.ChecksumAlgorithmSha512, other))
			}},
			{"x-amz-checksum-md5", func(in *s3.PutObjectInput) {
				in.ChecksumMD5 = aws.String(checksumOf(types.ChecksumAlgorithmMd5, other))
			}},
			{"x-amz-checksum-xxhash64", func(in *s3.PutObjectInput) {
				in.ChecksumXXHASH64 = aws.String(checksumOf(types.ChecksumAlgorithmXxhash64, other))
			}},
			{"x-amz-checksum-xxhash3", func(in *s3.PutObjectInput) {
				in.ChecksumXXHASH3 = aws.String(checksumOf(types.ChecksumAlgorithmXxhash3, other))
			}},
			{"x-amz-checksum-xxhash128", func(in *s3.PutObjectInput) {
				in.ChecksumXXHASH128 = aws.String(checksumOf(types.ChecksumAlgorithmXxhash128, other))
			}},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				key := fmt.Sprintf("bad-%d", i)
				in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: &key, Body: bytes.NewReader(data)}
				tc.set(in)
				_, err := c.PutObject(ctxT(t), in)
				wantAPIError(t, err, "BadDigest", http.StatusBadRequest)
				wantNoObject(t, c, bucket, key)
			})
		}
	})

	t.Run("stored and returned", func(t *testing.T) {
		tests := []struct {
			name   string
			alg    types.ChecksumAlgorithm // "" is the SDK default (CRC32)
			client *s3.Client
		}{
			{"default CRC32 header", "", c},
			{"default CRC32 trailer", "", tlsc},
			{"CRC32C", types.ChecksumAlgorithmCrc32c, c},
			{"CRC64NVME", types.ChecksumAlgorithmCrc64nvme, c},
			{"SHA1", types.ChecksumAlgorithmSha1, c},
			{"SHA256", types.ChecksumAlgorithmSha256, c},
			{"SHA256 trailer", types.ChecksumAlgorithmSha256, tlsc},
			{"SHA512", types.ChecksumAlgorithmSha512, c},
			{"SHA512 trailer", types.ChecksumAlgorithmSha512, tlsc},
			// The SDK computes neither MD5 nor the xxHash family: values come precomputed.
			{"MD5", types.ChecksumAlgorithmMd5, c},
			{"XXHASH64", types.ChecksumAlgorithmXxhash64, c},
			{"XXHASH3", types.ChecksumAlgorithmXxhash3, c},
			{"XXHASH128", types.ChecksumAlgorithmXxhash128, c},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				key := fmt.Sprintf("ck-%d", i)
				alg := tc.alg
				if alg == "" {
					alg = types.ChecksumAlgorithmCrc32
				}
				in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: &key, Body: bytes.NewReader(data), ChecksumAlgorithm: tc.alg}
				precomputed(in, alg, data)
				if tc.client == tlsc {
					in.Body, in.ContentLength = onlyReader{bytes.NewReader(data)}, aws.Int64(int64(len(data)))
				}
				if _, err := tc.client.PutObject(ctxT(t), in); err != nil {
					t.Fatalf("PutObject: %v", err)
				}
				want := checksumOf(alg, data)
				out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: &key, ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				// The SDK validates the body against the returned checksum while reading.
				sum, _, err := readerSHA256(out.Body)
				out.Body.Close()
				if err != nil || sum != sha256Hex(data) {
					t.Fatalf("GetObject body: err %v, content matches %t", err, sum == sha256Hex(data))
				}
				if got := returnedChecksum(alg, out.ChecksumCRC32, out.ChecksumCRC32C, out.ChecksumCRC64NVME, out.ChecksumSHA1, out.ChecksumSHA256,
					out.ChecksumSHA512, out.ChecksumMD5, out.ChecksumXXHASH64, out.ChecksumXXHASH3, out.ChecksumXXHASH128); got != want {
					t.Errorf("GetObject checksum %s = %q, want %q", alg, got, want)
				}
				head, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: &key, ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("HeadObject: %v", err)
				}
				if got := returnedChecksum(alg, head.ChecksumCRC32, head.ChecksumCRC32C, head.ChecksumCRC64NVME, head.ChecksumSHA1, head.ChecksumSHA256,
					head.ChecksumSHA512, head.ChecksumMD5, head.ChecksumXXHASH64, head.ChecksumXXHASH3, head.ChecksumXXHASH128); got != want {
					t.Errorf("HeadObject checksum %s = %q, want %q", alg, got, want)
				}
			})
		}
	})

	// Multipart uploads with the SDK's defaults: created without an algorithm, the
	// SDK sends a CRC32 with each part and the object gets S3's default full-object
	// CRC64NVME; created with SHA512 (over TLS, as trailers), a COMPOSITE SHA512.
	// GET validates what the SDK can.
	t.Run("multipart", func(t *testing.T) {
		parts := [][]byte{randomBytes(14, 5*MiB), randomBytes(15, 100*KiB+1)}
		whole := append(append([]byte{}, parts[0]...), parts[1]...)
		for _, tc := range []struct {
			name   string
			alg    types.ChecksumAlgorithm
			client *s3.Client
		}{
			{"default", "", c},
			{"SHA512 trailers", types.ChecksumAlgorithmSha512, tlsc},
		} {
			t.Run(tc.name, func(t *testing.T) {
				key := "mp-" + strings.ReplaceAll(tc.name, " ", "-")
				mp, err := tc.client.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: &key, ChecksumAlgorithm: tc.alg})
				if err != nil {
					t.Fatalf("CreateMultipartUpload: %v", err)
				}
				var done []types.CompletedPart
				composite := sha512.New()
				for i, p := range parts {
					in := &s3.UploadPartInput{Bucket: aws.String(bucket), Key: &key, UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)),
						Body: bytes.NewReader(p), ChecksumAlgorithm: tc.alg}
					if tc.client == tlsc {
						in.Body, in.ContentLength = onlyReader{bytes.NewReader(p)}, aws.Int64(int64(len(p)))
					}
					out, err := tc.client.UploadPart(ctxT(t), in)
					if err != nil {
						t.Fatalf("UploadPart %d: %v", i+1, err)
					}
					done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumSHA512: out.ChecksumSHA512})
					raw, _ := base64.StdEncoding.DecodeString(checksumOf(types.ChecksumAlgorithmSha512, p))
					composite.Write(raw)
				}
				out, err := tc.client.CompleteMultipartUpload(ctxT(t), &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: &key, UploadId: mp.UploadId,
					MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
				if err != nil {
					t.Fatalf("CompleteMultipartUpload: %v", err)
				}
				switch tc.alg {
				case "":
					if aws.ToString(out.ChecksumCRC64NVME) != checksumOf(types.ChecksumAlgorithmCrc64nvme, whole) || out.ChecksumType != types.ChecksumTypeFullObject {
						t.Errorf("default checksum: %q %s", aws.ToString(out.ChecksumCRC64NVME), out.ChecksumType)
					}
				default:
					want := base64.StdEncoding.EncodeToString(composite.Sum(nil)) + "-2"
					if aws.ToString(out.ChecksumSHA512) != want || out.ChecksumType != types.ChecksumTypeComposite {
						t.Errorf("composite SHA512: %q %s, want %s", aws.ToString(out.ChecksumSHA512), out.ChecksumType, want)
					}
				}
				get, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: &key, ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("GetObject: %v", err)
				}
				sum, _, err := readerSHA256(get.Body)
				get.Body.Close()
				if err != nil || sum != sha256Hex(whole) {
					t.Fatalf("GetObject body: err %v, content matches %t", err, sum == sha256Hex(whole))
				}
				// A part of the COMPOSITE object comes with its SHA512, which the SDK validates.
				part, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: &key, PartNumber: aws.Int32(2), ChecksumMode: types.ChecksumModeEnabled})
				if err != nil {
					t.Fatalf("GetObject part 2: %v", err)
				}
				sum, _, err = readerSHA256(part.Body)
				part.Body.Close()
				if err != nil || sum != sha256Hex(parts[1]) || (tc.alg != "") != (aws.ToString(part.ChecksumSHA512) == checksumOf(types.ChecksumAlgorithmSha512, parts[1])) {
					t.Errorf("part 2: err %v, checksum %q", err, aws.ToString(part.ChecksumSHA512))
				}
			})
		}
	})
}

// precomputed sets the value of a checksum the SDK does not compute (MD5, xxHash).
func precomputed(in *s3.PutObjectInput, alg types.ChecksumAlgorithm, data []byte) {
	v := aws.String(checksumOf(alg, data))
	switch alg {
	case types.ChecksumAlgorithmMd5:
		in.ChecksumMD5 = v
	case types.ChecksumAlgorithmXxhash64:
		in.ChecksumXXHASH64 = v
	case types.ChecksumAlgorithmXxhash3:
		in.ChecksumXXHASH3 = v
	case types.ChecksumAlgorithmXxhash128:
		in.ChecksumXXHASH128 = v
	}
}

func returnedChecksum(alg types.ChecksumAlgorithm, crc32, crc32c, crc64, sha1, sha256, sha512, md5, xxhash64, xxhash3, xxhash128 *string) string {
	switch alg {
	case types.ChecksumAlgorithmCrc32:
		return aws.ToString(crc32)
	case types.ChecksumAlgorithmCrc32c:
		return aws.ToString(crc32c)
	case types.ChecksumAlgorithmCrc64nvme:
		return aws.ToString(crc64)
	case types.ChecksumAlgorithmSha1:
		return aws.ToString(sha1)
	case types.ChecksumAlgorithmSha256:
		return aws.ToString(sha256)
	case types.ChecksumAlgorithmSha512:
		return aws.ToString(sha512)
	case types.ChecksumAlgorithmMd5:
		return aws.ToString(md5)
	case types.ChecksumAlgorithmXxhash64:
		return aws.ToString(xxhash64)
	case types.ChecksumAlgorithmXxhash3:
		return aws.ToString(xxhash3)
	case types.ChecksumAlgorithmXxhash128:
		return aws.ToString(xxhash128)
	}
	return ""
}
