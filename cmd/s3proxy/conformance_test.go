package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithy "github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
)

// Tests of S3 semantics that a conformance sweep (versitygw's integration suite, written
// against AWS S3) found s3proxy answering differently from S3.

// TestDeleteBucketWithUploads: uploads in progress do not keep a bucket, as on S3 (`aws s3
// rb --force` and `mc rb --force` delete the objects and then the bucket, leaving
// uploads); they go with it, their parts released, and later calls on them find nothing.
func TestDeleteBucketWithUploads(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	tests := []struct {
		name    string
		objects []string
		uploads []string
		want    string
	}{
		{"empty", nil, nil, ""},
		{"uploads only", nil, []string{"a", "b/c", "a"}, ""},
		{"an object and an upload", []string{"o"}, []string{"a"}, "BucketNotEmpty"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bucket := fmt.Sprintf("delete-%d", i)
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.objects {
				mustPut(t, c, bucket, k, []byte("object "+k))
			}
			type upload struct{ key, id, content string }
			var ups []upload
			for j, k := range tc.uploads {
				out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(k)})
				if err != nil {
					t.Fatal(err)
				}
				u := upload{k, aws.ToString(out.UploadId), fmt.Sprintf("part of %s/%s #%d", bucket, k, j)}
				if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: aws.String(k), UploadId: &u.id, PartNumber: aws.Int32(1),
					Body: bytes.NewReader([]byte(u.content))}); err != nil {
					t.Fatal(err)
				}
				ups = append(ups, u)
			}
			_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket})
			if got := apiCode(err); got != tc.want {
				t.Fatalf("DeleteBucket: %q, want %q", got, tc.want)
			}
			if tc.want != "" {
				// Refused: nothing was aborted.
				out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
				if err != nil || len(out.Uploads) != len(ups) {
					t.Errorf("uploads after a refused DeleteBucket: %+v, %v", out, err)
				}
				return
			}
			if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err == nil {
				t.Errorf("bucket still there")
			}
			for _, u := range ups {
				_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: aws.String(u.key), UploadId: &u.id, PartNumber: aws.Int32(2),
					Body: bytes.NewReader([]byte("late"))})
				if apiCode(err) != "NoSuchBucket" {
					t.Errorf("UploadPart after DeleteBucket: %v", err)
				}
				// The part's chunk is released: the collector may take it.
				ch, err := st.app.meta.FindChunk(ctx, sha256.Sum256([]byte(u.content)), "")
				if err != nil || ch.Refs != 0 {
					t.Errorf("chunk of %s's part: refs %d, %v; want 0", u.key, ch.Refs, err)
				}
			}
			// The name can be taken again, with none of the old uploads in it.
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatal(err)
			}
			out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
			if err != nil || len(out.Uploads) != 0 {
				t.Errorf("uploads of the re-created bucket: %+v, %v", out, err)
			}
		})
	}
}

// TestCompleteMultipartUploadRetried: a Complete repeated after it succeeded (an SDK
// retrying a request whose answer was lost, or Completes racing) gets the same answer,
// as on S3, while the object it created is still the key's; afterwards NoSuchUpload.
func TestCompleteMultipartUploadRetried(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "retried"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	// upload makes a two-part upload of key and returns its id and parts.
	upload := func(t *testing.T, key string) (string, []types.CompletedPart) {
		t.Helper()
		out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
		if err != nil {
			t.Fatal(err)
		}
		var parts []types.CompletedPart
		for n, body := range [][]byte{bytes.Repeat([]byte(key), 5<<20/len(key)+1), []byte("tail of " + key)} {
			p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: out.UploadId, PartNumber: aws.Int32(int32(n + 1)), Body: bytes.NewReader(body)})
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(n + 1)), ETag: p.ETag})
		}
		return aws.ToString(out.UploadId), parts
	}
	complete := func(key, id string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
		return c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: &id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	}
	tests := []struct {
		name string
		// between runs after the first Complete, before the second; parts changes the
		// second Complete's list of parts.
		between func(t *testing.T, key string)
		parts   func(p []types.CompletedPart) []types.CompletedPart
		want    string // the second Complete's error code; "" for the first answer again
	}{
		{"retried at once", nil, nil, ""},
		{"retried after reads", func(t *testing.T, key string) { mustGet(t, c, bucket, key, "") }, nil, ""},
		{"other parts", nil, func(p []types.CompletedPart) []types.CompletedPart { return p[:1] }, "NoSuchUpload"},
		{"after an overwrite", func(t *testing.T, key string) { mustPut(t, c, bucket, key, []byte("new")) }, nil, "NoSuchUpload"},
		{"after a delete", func(t *testing.T, key string) {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
				t.Fatal(err)
			}
		}, nil, "NoSuchUpload"},
		{"after a copy onto itself", func(t *testing.T, key string) {
			if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: &key, CopySource: aws.String(bucket + "/" + key),
				MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x-new")}); err != nil {
				t.Fatal(err)
			}
		}, nil, "NoSuchUpload"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("dir/obj %d", i)
			id, parts := upload(t, key)
			first, err := complete(key, id, parts)
			if err != nil {
				t.Fatal(err)
			}
			if want := st.url + "/" + bucket + "/dir/obj%20" + fmt.Sprint(i); aws.ToString(first.Location) != want {
				t.Errorf("Location %q, want %q", aws.ToString(first.Location), want)
			}
			if tc.between != nil {
				tc.between(t, key)
			}
			if tc.parts != nil {
				parts = tc.parts(parts)
			}
			second, err := complete(key, id, parts)
			if got := apiCode(err); got != tc.want {
				t.Fatalf("second Complete: %q (%v), want %q", got, err, tc.want)
			}
			if tc.want == "" && (aws.ToString(second.ETag) != aws.ToString(first.ETag) || aws.ToString(second.Location) != aws.ToString(first.Location) ||
				aws.ToString(second.Key) != key || aws.ToString(second.Bucket) != bucket) {
				t.Errorf("second Complete = %+v, want the first's %+v", second, first)
			}
			// An upload, completed or not, takes no more parts.
			if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: &id, PartNumber: aws.Int32(3), Body: strings.NewReader("x")}); apiCode(err) != "NoSuchUpload" {
				t.Errorf("UploadPart after Complete: %v", err)
			}
		})
	}
	// The record of the upload is the gateway's own: never a header, never copied.
	status, _, h := st.raw(t, "HEAD", "/retried/dir/obj%200", nil, nil)
	for k := range h {
		if strings.Contains(strings.ToLower(k), "s3proxy") || strings.Contains(strings.ToLower(k), "upload") {
			t.Errorf("HEAD (%d) shows %s: %q", status, k, h.Get(k))
		}
	}
	t.Run("racing Completes", func(t *testing.T) {
		for round := range 3 {
			key := "raced"
			id, parts := upload(t, key)
			var wg sync.WaitGroup
			etags := make([]string, 5)
			errs := make([]error, 5)
			for i := range etags {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := complete(key, id, parts)
					if err == nil {
						etags[i] = aws.ToString(out.ETag)
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil || etags[i] != etags[0] {
					t.Errorf("round %d, Complete %d: %q, %v; want %q", round, i, etags[i], err, etags[0])
				}
			}
		}
	})
}

// TestKeyTooLong: S3's limit is 1,024 bytes of key; every request naming a longer key
// is KeyTooLongError (400; a HEAD gets the status alone), and one of 1,024 works.
func TestKeyTooLong(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "long-keys"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	ok := strings.Repeat("k", 1020) + "/éa" // 1,024 bytes
	long := ok + "x"
	mustPut(t, c, bucket, ok, []byte("at the limit"))
	if got := mustGet(t, c, bucket, ok, ""); string(got) != "at the limit" {
		t.Fatalf("GET of a 1,024-byte key: %q", got)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"PutObject", func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &long, Body: strings.NewReader("x")})
			return err
		}},
		{"GetObject", func() error { _, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &long}); return err }},
		{"DeleteObject", func() error {
			_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &long})
			return err
		}},
		{"CopyObject", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: &long, CopySource: aws.String(bucket + "/" + ok)})
			return err
		}},
		{"CreateMultipartUpload", func() error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &long})
			return err
		}},
		{"PutObjectTagging", func() error {
			_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: &bucket, Key: &long, Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
			return err
		}},
		{"DeleteObjects entry", func() error {
			out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: &long}}}})
			if err != nil {
				return err
			}
			if len(out.Errors) != 1 {
				return fmt.Errorf("DeleteObjects: %+v", out)
			}
			return fmt.Errorf("%s", aws.ToString(out.Errors[0].Code))
		}},
	}
	for _, tc := range tests {
		if got := apiCode(tc.call()); got != "KeyTooLongError" {
			t.Errorf("%s with a 1,025-byte key: %q, want KeyTooLongError", tc.name, got)
		}
	}
	if status, _, _ := st.raw(t, "HEAD", "/"+bucket+"/"+strings.Repeat("h", 1025), nil, nil); status != 400 {
		t.Errorf("HEAD with a 1,025-byte key: %d, want 400", status)
	}
}

// TestEmptyContentMD5: a Content-MD5 header sent empty is a malformed digest
// (InvalidDigest), as on S3, not a missing one.
func TestEmptyContentMD5(t *testing.T) {
	st := newStack(t)
	if status, body, _ := st.raw(t, "PUT", "/md5-bucket", nil, nil); status != 200 {
		t.Fatalf("create bucket: %d %s", status, body)
	}
	tests := []struct {
		name, method, path, body string
		md5                      string
		want                     string
	}{
		{"PutObject, empty", "PUT", "/md5-bucket/k", "dummy data", "", "InvalidDigest"},
		{"PutObject, not base64", "PUT", "/md5-bucket/k", "dummy data", "invalid_md5", "InvalidDigest"},
		{"PutObject, right", "PUT", "/md5-bucket/k", "dummy data", "Mb+5cwrlGvc5U7pyDIZg1w==", ""},
		{"DeleteObjects, empty", "POST", "/md5-bucket?delete", `<Delete><Object><Key>k</Key></Object></Delete>`, "", "InvalidDigest"},
	}
	for _, tc := range tests {
		status, body, _ := st.raw(t, tc.method, tc.path, []byte(tc.body), map[string]string{"Content-MD5": tc.md5})
		if tc.want == "" {
			if status != 200 {
				t.Errorf("%s: %d %s", tc.name, status, body)
			}
			continue
		}
		if status != 400 || !strings.Contains(body, "<Code>"+tc.want+"</Code>") {
			t.Errorf("%s: %d %s, want %s", tc.name, status, body, tc.want)
		}
	}
}

// TestRangesAsS3 checks Range headers as S3 answers them: a malformed range is ignored
// (200, the whole object), an unsatisfiable one is InvalidRange (416), and a suffix
// range of an empty object is the (empty) whole object.
func TestRangesAsS3(t *testing.T) {
	st := newStack(t)
	if status, body, _ := st.raw(t, "PUT", "/ranges", nil, nil); status != 200 {
		t.Fatalf("create bucket: %d %s", status, body)
	}
	data := make([]byte, 100)
	for i := range data {
		data[i] = byte(i)
	}
	for key, body := range map[string][]byte{"hundred": data, "empty": nil} {
		if status, b, _ := st.raw(t, "PUT", "/ranges/"+key, body, nil); status != 200 {
			t.Fatalf("put %s: %d %s", key, status, b)
		}
	}
	tests := []struct {
		key, rng     string
		status       int
		contentRange string
		from, to     int // the bytes answered (data[from:to]) when status is 200 or 206
	}{
		// Ignored: not a single well-formed range.
		{"hundred", "bytes=,", 200, "", 0, 100},
		{"hundred", "bytes= -1", 200, "", 0, 100},
		{"hundred", "bytes=--1", 200, "", 0, 100},
		{"hundred", "bytes=0 -1", 200, "", 0, 100},
		{"hundred", "bytes=0--1", 200, "", 0, 100},
		{"hundred", "bytes=10-5", 200, "", 0, 100},
		{"hundred", "bytes=abc", 200, "", 0, 100},
		{"hundred", "foo=0-1", 200, "", 0, 100},
		{"hundred", "bytes=100-x", 200, "", 0, 100},
		{"hundred", "bytes=0-0,1-2", 200, "", 0, 100},
		{"hundred", "bytes=102-0", 200, "", 0, 100},
		// Satisfiable.
		{"hundred", "bytes=00-01", 206, "bytes 0-1/100", 0, 2},
		{"hundred", "bytes=-1", 206, "bytes 99-99/100", 99, 100},
		{"hundred", "bytes=-101", 206, "bytes 0-99/100", 0, 100},
		{"hundred", "bytes=0-100", 206, "bytes 0-99/100", 0, 100},
		{"hundred", "bytes=50-", 206, "bytes 50-99/100", 50, 100},
		// Unsatisfiable.
		{"hundred", "bytes=-0", 416, "", 0, 0},
		{"hundred", "bytes=100-100", 416, "", 0, 0},
		// An empty object.
		{"empty", "bytes=abc", 200, "", 0, 0},
		{"empty", "bytes= -1", 200, "", 0, 0},
		{"empty", "bytes=-1", 200, "", 0, 0},
		{"empty", "bytes=00-01", 416, "", 0, 0},
		{"empty", "bytes=-0", 416, "", 0, 0},
		{"empty", "bytes=0-0", 416, "", 0, 0},
		{"empty", "bytes=0-", 416, "", 0, 0},
	}
	for _, tc := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			status, body, h := st.raw(t, method, "/ranges/"+tc.key, nil, map[string]string{"Range": tc.rng})
			if status != tc.status || h.Get("Content-Range") != tc.contentRange {
				t.Errorf("%s %s %q: %d %q, want %d %q", method, tc.key, tc.rng, status, h.Get("Content-Range"), tc.status, tc.contentRange)
				continue
			}
			if status == 416 {
				if method == "GET" && !strings.Contains(body, "<Code>InvalidRange</Code>") {
					t.Errorf("GET %s %q: %s", tc.key, tc.rng, body)
				}
				continue
			}
			if want := fmt.Sprint(tc.to - tc.from); h.Get("Content-Length") != want {
				t.Errorf("%s %s %q: Content-Length %s, want %s", method, tc.key, tc.rng, h.Get("Content-Length"), want)
			}
			if method == "GET" && body != string(data[tc.from:tc.to]) {
				t.Errorf("GET %s %q: wrong bytes", tc.key, tc.rng)
			}
		}
	}
}

// TestPartNumberReads: GET and HEAD with partNumber, as S3 answers them. Part 1 of an
// object uploaded in one piece is all of it (206 with its Content-Range, no parts
// count) unless it is empty; a part beyond the last is InvalidPartNumber (416); a part
// of a multipart object never carries the whole object's checksum.
func TestPartNumberReads(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "parts"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, bucket, "single", bytes.Repeat([]byte("s"), 1234))
	mustPut(t, c, bucket, "empty", nil)
	// A multipart object of one part: the part is the whole object.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String("multi")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: aws.String("multi"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("only part")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: aws.String("multi"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag}}}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, part    string
		status       int
		contentRange string
		partsCount   string
		errBody      string // in the GET's error document
	}{
		{"single", "1", 206, "bytes 0-1233/1234", "", ""},
		{"single", "2", 416, "", "", "<ActualPartCount>1</ActualPartCount>"},
		{"empty", "1", 200, "", "", ""},
		{"multi", "1", 206, "bytes 0-8/9", "1", ""},
		{"multi", "2", 416, "", "", "<PartNumberRequested>2</PartNumberRequested>"},
		{"single", "0", 400, "", "", "<ArgumentName>partNumber</ArgumentName>"},
		{"single", "-3", 400, "", "", "Part number must be an integer between 1 and 10000, inclusive.<"},
	}
	for _, tc := range tests {
		for _, method := range []string{"GET", "HEAD"} {
			status, body, h := st.raw(t, method, "/parts/"+tc.key+"?partNumber="+tc.part, nil, map[string]string{"x-amz-checksum-mode": "ENABLED"})
			if status != tc.status || h.Get("Content-Range") != tc.contentRange || h.Get("x-amz-mp-parts-count") != tc.partsCount {
				t.Errorf("%s %s part %s: %d %q parts %q, want %d %q %q", method, tc.key, tc.part, status, h.Get("Content-Range"),
					h.Get("x-amz-mp-parts-count"), tc.status, tc.contentRange, tc.partsCount)
			}
			if method == "GET" && tc.errBody != "" && !strings.Contains(body, tc.errBody) {
				t.Errorf("GET %s part %s: %s, want %s in it", tc.key, tc.part, body, tc.errBody)
			}
			if tc.key == "multi" && h.Get("x-amz-checksum-type") == "FULL_OBJECT" {
				t.Errorf("%s %s part %s: the whole object's checksum (%v)", method, tc.key, tc.part, h)
			}
		}
	}
}

// TestWebsiteRedirectLocation: x-amz-website-redirect-location is kept with the object
// and returned on GET and HEAD, from PutObject, CreateMultipartUpload, CopyObject and
// POST Object; S3 validates it and never copies it from a copy's source.
func TestWebsiteRedirectLocation(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "redirects"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("src"), Body: strings.NewReader("source"),
		WebsiteRedirectLocation: aws.String("/from-source")}); err != nil {
		t.Fatal(err)
	}
	copyTo := func(key, directive, redirect string) error {
		in := &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String(key), CopySource: aws.String(bucket + "/src"),
			MetadataDirective: types.MetadataDirective(directive)}
		if redirect != "" {
			in.WebsiteRedirectLocation = &redirect
		}
		_, err := c.CopyObject(ctx, in)
		return err
	}
	tests := []struct {
		name  string
		write func(key string) error
		want  string // the stored redirect; "InvalidRedirectLocation" when refused
	}{
		{"PutObject, a path", func(k string) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &k, Body: strings.NewReader("x"), WebsiteRedirectLocation: aws.String("/other.html")})
			return err
		}, "/other.html"},
		{"PutObject, a URL", func(k string) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &k, Body: strings.NewReader("x"), WebsiteRedirectLocation: aws.String("https://example.com/x")})
			return err
		}, "https://example.com/x"},
		{"PutObject, refused", func(k string) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &k, Body: strings.NewReader("x"), WebsiteRedirectLocation: aws.String("ftp://example.com")})
			return err
		}, "InvalidRedirectLocation"},
		{"CreateMultipartUpload", func(k string) error {
			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &k, WebsiteRedirectLocation: aws.String("/multipart")})
			if err != nil {
				return err
			}
			p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &k, UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("p")})
			if err != nil {
				return err
			}
			_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &k, UploadId: up.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: p.ETag}}}})
			return err
		}, "/multipart"},
		{"CreateMultipartUpload, refused", func(k string) error {
			_, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &k, WebsiteRedirectLocation: aws.String("example.com")})
			return err
		}, "InvalidRedirectLocation"},
		{"CopyObject COPY: the source's is not copied", func(k string) error { return copyTo(k, "COPY", "") }, ""},
		{"CopyObject COPY with one", func(k string) error { return copyTo(k, "COPY", "/given") }, "/given"},
		{"CopyObject REPLACE", func(k string) error { return copyTo(k, "REPLACE", "http://example.com/r") }, "http://example.com/r"},
		{"CopyObject, refused", func(k string) error { return copyTo(k, "REPLACE", "ftp://example.com") }, "InvalidRedirectLocation"},
		{"POST Object", func(k string) error {
			target, fields := presignPost(t, st, testAK, testSK, bucket, k, func(p *minio.PostPolicy) {
				must(t, p.SetUserData("website-redirect-location", "/posted"))
			})
			resp, body := postForm(t, target, ordered(fields), "f.txt", strings.NewReader("form"))
			if resp.StatusCode != 204 {
				return fmt.Errorf("POST: %d %s", resp.StatusCode, body)
			}
			return nil
		}, "/posted"},
	}
	for i, tc := range tests {
		key := fmt.Sprintf("obj-%d", i)
		err := tc.write(key)
		if tc.want == "InvalidRedirectLocation" {
			if apiCode(err) != tc.want {
				t.Errorf("%s: %v, want InvalidRedirectLocation", tc.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
		if err != nil || aws.ToString(head.WebsiteRedirectLocation) != tc.want {
			t.Errorf("%s: HEAD redirect %q (%v), want %q", tc.name, aws.ToString(head.WebsiteRedirectLocation), err, tc.want)
		}
		get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
		if err != nil || aws.ToString(get.WebsiteRedirectLocation) != tc.want {
			t.Errorf("%s: GET redirect %q (%v), want %q", tc.name, aws.ToString(get.WebsiteRedirectLocation), err, tc.want)
		}
		if get != nil {
			get.Body.Close()
		}
	}
	// A new redirect is a change that makes copying an object onto itself legal.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("src"), CopySource: aws.String(bucket + "/src"),
		WebsiteRedirectLocation: aws.String("/moved")}); err != nil {
		t.Errorf("copy onto itself with a new redirect: %v", err)
	}
	if err := copyTo("src", "COPY", ""); apiCode(err) != "InvalidRequest" {
		t.Errorf("copy onto itself changing nothing: %v, want InvalidRequest", err)
	}
}

// TestAbortIfMatchInitiatedTime: S3's conditional abort aborts only the upload
// initiated at the given time (to the second); another time is PreconditionFailed and
// leaves the upload; a time in the future names no initiation and is ignored.
func TestAbortIfMatchInitiatedTime(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "aborts"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		when func(initiated time.Time) *time.Time
		want string
	}{
		{"no condition", func(time.Time) *time.Time { return nil }, ""},
		{"the initiation", func(i time.Time) *time.Time { return &i }, ""},
		{"the initiation, to the second", func(i time.Time) *time.Time { i = i.Truncate(time.Second); return &i }, ""},
		{"in the future", func(time.Time) *time.Time { f := time.Now().AddDate(1, 0, 0); return &f }, ""},
		{"another time", func(i time.Time) *time.Time { o := i.AddDate(-1, 0, 1); return &o }, "PreconditionFailed"},
	}
	for _, tc := range tests {
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		list, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
		if err != nil {
			t.Fatal(err)
		}
		var initiated time.Time
		for _, u := range list.Uploads {
			if aws.ToString(u.UploadId) == aws.ToString(up.UploadId) {
				initiated = aws.ToTime(u.Initiated)
			}
		}
		_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: aws.String("k"), UploadId: up.UploadId,
			IfMatchInitiatedTime: tc.when(initiated)})
		if got := apiCode(err); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
		_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: aws.String("k"), UploadId: up.UploadId})
		if aborted := apiCode(err) == "NoSuchUpload"; aborted != (tc.want == "") {
			t.Errorf("%s: aborted %v (%v)", tc.name, aborted, err)
		}
	}
}

// TestRequestChecksOfS3: requests S3 refuses before looking at what they address.
func TestRequestChecksOfS3(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("checks")}); err != nil {
		t.Fatal(err)
	}
	presignPut := func(t *testing.T) string {
		t.Helper()
		req, err := s3.NewPresignClient(c).PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("checks"), Key: aws.String("presigned")})
		if err != nil {
			t.Fatal(err)
		}
		return req.URL
	}
	send := func(t *testing.T, method, url string, hdr map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader("body"))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	tests := []struct {
		name   string
		do     func(t *testing.T) (int, string)
		status int
		code   string
	}{
		{"8 KiB of headers", func(t *testing.T) (int, string) {
			status, body, _ := st.raw(t, "PUT", "/checks/big-header", nil, map[string]string{"x-amz-custom-header": strings.Repeat("d", 8<<10)})
			return status, body
		}, 400, "RequestHeaderSectionTooLarge"},
		{"6 KiB of headers", func(t *testing.T) (int, string) {
			status, body, _ := st.raw(t, "PUT", "/checks/header", nil, map[string]string{"x-amz-custom-header": strings.Repeat("d", 6<<10)})
			return status, body
		}, 200, ""},
		{"presigned PUT", func(t *testing.T) (int, string) { return send(t, "PUT", presignPut(t), nil) }, 200, ""},
		{"presigned PUT turned into a copy", func(t *testing.T) (int, string) {
			return send(t, "PUT", presignPut(t), map[string]string{"X-Amz-Copy-Source": "checks/header", "X-Amz-Tagging": "a=b"})
		}, 403, "AccessDenied"},
		{"presigned PUT with a session token", func(t *testing.T) (int, string) {
			return send(t, "PUT", presignPut(t)+"&X-Amz-Security-Token=my_token", nil)
		}, 400, "InvalidToken"},
		{"unknown authorization scheme", func(t *testing.T) (int, string) {
			return send(t, "GET", st.url+"/checks", map[string]string{"Authorization": "invalid_header"})
		}, 400, "InvalidArgument"},
	}
	for _, tc := range tests {
		status, body := tc.do(t)
		if status != tc.status || (tc.code != "" && !strings.Contains(body, "<Code>"+tc.code+"</Code>")) {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.code)
		}
	}
}

// TestListMultipartUploadsOrder: a key's uploads are listed in the order they were
// initiated, as on S3, and upload-id-marker (with a key marker) continues after one;
// a marker that is no upload id is InvalidArgument, and without a key marker it is
// ignored.
func TestListMultipartUploadsOrder(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "upload-order"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	var ids []string // in initiation order: bar, bar, bar, baz, baz, baz, baz, foo, foo
	for _, k := range []struct {
		key string
		n   int
	}{{"bar", 3}, {"baz", 4}, {"foo", 2}} {
		for range k.n {
			out, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(k.key)})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, aws.ToString(out.UploadId))
		}
	}
	tests := []struct {
		name, keyMarker, idMarker string
		want                      []string // upload ids; nil with code
		code                      string
	}{
		{"all", "", "", ids, ""},
		{"keys after a marker not in the list", "bat", "", ids[3:], ""},
		{"after an upload of the marker's key", "baz", ids[4], ids[5:], ""},
		{"id marker without key marker is ignored", "", "invalid_uploadId_marker", ids, ""},
		{"malformed id marker", "baz", "invalid_uploadId_marker", nil, "InvalidArgument"},
	}
	for _, tc := range tests {
		in := &s3.ListMultipartUploadsInput{Bucket: &bucket}
		if tc.keyMarker != "" {
			in.KeyMarker = &tc.keyMarker
		}
		if tc.idMarker != "" {
			in.UploadIdMarker = &tc.idMarker
		}
		out, err := c.ListMultipartUploads(ctx, in)
		if tc.code != "" {
			if apiCode(err) != tc.code {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, u := range out.Uploads {
			got = append(got, aws.ToString(u.UploadId))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket, MaxUploads: aws.Int32(-3)}); apiCode(err) != "InvalidArgument" {
		t.Errorf("max-uploads -3: %v", err)
	}
}

// TestCopyChecks: CopyObject checks its metadata headers whatever the directive, and
// UploadPartCopy to a missing bucket says so before judging its copy source.
func TestCopyChecks(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "copies"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, c, bucket, "src", []byte("source"))
	long := map[string]string{strings.Repeat("s", 2048): "value"}
	tests := []struct {
		name string
		call func() error
		want string
	}{
		{"COPY with too much metadata", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("dst"), CopySource: aws.String(bucket + "/src"), Metadata: long})
			return err
		}, "MetadataTooLarge"},
		{"REPLACE with too much metadata", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("dst"), CopySource: aws.String(bucket + "/src"), Metadata: long,
				MetadataDirective: types.MetadataDirectiveReplace})
			return err
		}, "MetadataTooLarge"},
		{"COPY with some metadata", func() error {
			_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("dst"), CopySource: aws.String(bucket + "/src"), Metadata: map[string]string{"a": "b"}})
			return err
		}, ""},
		{"UploadPartCopy to a missing bucket", func() error {
			_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k"), UploadId: aws.String("u"),
				PartNumber: aws.Int32(1), CopySource: aws.String("Copy-Source")})
			return err
		}, "NoSuchBucket"},
		{"UploadPartCopy of a range past the source's end", func() error {
			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String("parts")})
			if err != nil {
				return err
			}
			_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &bucket, Key: aws.String("parts"), UploadId: up.UploadId,
				PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/src"), CopySourceRange: aws.String("bytes=0-56")})
			var ae smithy.APIError
			if errors.As(err, &ae) && ae.ErrorMessage() != "Range specified is not valid for source object of size: 6" {
				return fmt.Errorf("message %q", ae.ErrorMessage())
			}
			return err
		}, "InvalidArgument"},
		{"UploadPartCopy with a bad source", func() error {
			_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &bucket, Key: aws.String("k"), UploadId: aws.String("u"),
				PartNumber: aws.Int32(1), CopySource: aws.String("Copy-Source")})
			return err
		}, "InvalidArgument"},
	}
	for _, tc := range tests {
		if got := apiCode(tc.call()); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// The COPY kept the source's metadata: the request's is not applied.
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("dst")})
	if err != nil || len(head.Metadata) != 0 {
		t.Errorf("COPY applied the request's metadata: %v %v", head.Metadata, err)
	}
}

// TestCompleteMultipartUploadChecks: what S3 refuses in a Complete, with its codes.
func TestCompleteMultipartUploadChecks(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "completes"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: aws.String("k"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("one part")})
	if err != nil {
		t.Fatal(err)
	}
	path := "/" + bucket + "/k?uploadId=" + aws.ToString(up.UploadId)
	doc := func(parts string) []byte {
		return []byte(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + parts + `</CompleteMultipartUpload>`)
	}
	good := fmt.Sprintf("<Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>", aws.ToString(p.ETag))
	tests := []struct {
		name string
		body []byte
		hdr  map[string]string
		code string
		msg  string
	}{
		{"no parts", doc(""), nil, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema."},
		{"a part without its ETag", doc("<Part><PartNumber>1</PartNumber></Part>"), nil, "MalformedXML", ""},
		{"a part without its number", doc("<Part><ETag>" + aws.ToString(p.ETag) + "</ETag></Part>"), nil, "MalformedXML", ""},
		{"part number -4", doc(fmt.Sprintf("<Part><PartNumber>-4</PartNumber><ETag>%s</ETag></Part>", aws.ToString(p.ETag))), nil, "InvalidArgument", "PartNumber must be >= 1"},
		{"an unknown part", doc("<Part><PartNumber>2</PartNumber><ETag>\"00\"</ETag></Part>"), nil, "InvalidPart",
			"One or more of the specified parts could not be found.  The part may not have been uploaded"},
		{"negative object size", doc(good), map[string]string{"x-amz-mp-object-size": "-1"}, "InvalidRequest", "less than zero"},
		{"wrong object size", doc(good), map[string]string{"x-amz-mp-object-size": "213123"}, "InvalidRequest",
			"The provided 'x-amz-mp-object-size' header value 213123 does not match what was computed: 8"},
		{"If-None-Match with an ETag", doc(good), map[string]string{"If-None-Match": `"abc"`}, "NotImplemented",
			"A header you provided implies functionality that is not implemented."},
		{"If-Match and If-None-Match", doc(good), map[string]string{"If-Match": `"abc"`, "If-None-Match": "*"}, "NotImplemented", ""},
		{"the right object size", doc(good), map[string]string{"x-amz-mp-object-size": "8"}, "", ""},
	}
	for _, tc := range tests {
		status, body, _ := st.raw(t, "POST", path, tc.body, tc.hdr)
		if tc.code == "" {
			if status != 200 || !strings.Contains(body, "<CompleteMultipartUploadResult") {
				t.Errorf("%s: %d %s", tc.name, status, body)
			}
			continue
		}
		if !strings.Contains(body, "<Code>"+tc.code+"</Code>") || !strings.Contains(html.UnescapeString(body), tc.msg) {
			t.Errorf("%s: %d %s, want %s %q", tc.name, status, body, tc.code, tc.msg)
		}
	}
}

// TestDotSegmentKeys: a request path whose "." or ".." segments resolve to the bucket
// or above it is refused with a bare 400, as S3's front end refuses it; keys whose dot
// segments stay inside the bucket are keys like any other.
func TestDotSegmentKeys(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	bucket := "dots"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, key string
		status      int
	}{
		{"PUT", "../escape", 400},
		{"PUT", "a/../../escape", 400},
		{"PUT", "a/..", 400},
		{"GET", "../escape", 400},
		{"DELETE", "for/../../bar/", 400},
		{"PUT", "a/../b", 200},
		{"GET", "a/../b", 200},
	} {
		status, body, h := st.raw(t, tc.method, "/"+bucket+"/"+tc.key, nil, nil)
		if status != tc.status || (status == 400 && (body != "" || h.Get("Content-Length") != "0")) {
			t.Errorf("%s %s: %d %q, want %d (a bare 400 when refused)", tc.method, tc.key, status, body, tc.status)
		}
	}
	// A POST form cannot store what no request could address.
	target, fields := presignPost(t, st, testAK, testSK, bucket, "../../etc/passwd", nil)
	if resp, body := postForm(t, target, ordered(fields), "f", strings.NewReader("x")); resp.StatusCode != 400 || body != "" {
		t.Errorf("POST of ../../etc/passwd: %d %q", resp.StatusCode, body)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "a/../b" {
		t.Errorf("objects after the refusals: %+v %v", out, err)
	}
}

// TestErrorBeforeTheBody: an error decided before a large body is read (here a bad
// signature) still reaches the client as S3's error document, not a reset
// connection: the server answers, closes its side, and lets the client read the
// answer while it is still sending.
func TestErrorBeforeTheBody(t *testing.T) {
	st := newStack(t)
	body := bytes.Repeat([]byte("x"), 32<<20)
	for i := range 3 {
		req, _ := http.NewRequest("PUT", st.url+"/nosuchbucket/k", bytes.NewReader(body))
		now := time.Now().UTC()
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=nokey/"+now.Format("20060102")+"/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00")
		req.Header.Set("x-amz-date", now.Format("20060102T150405Z"))
		req.Header.Set("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>InvalidAccessKeyId</Code>") {
			t.Errorf("attempt %d: %d %q %v", i, resp.StatusCode, b, err)
		}
	}
}
