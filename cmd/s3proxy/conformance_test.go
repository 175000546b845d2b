package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
