package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestBoto3PresignedPost: boto3's generate_presigned_post, sent by Python's standard
// library as a browser would send the form; the object lands with its metadata under
// the file's name, the 201 document names it, and a file over the policy's
// content-length-range is refused with nothing stored.
func TestBoto3PresignedPost(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := context.Background()
	c := s3Client(s, s.cred)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("post-boto3")}); err != nil {
		t.Fatal(err)
	}
	path, sum := writeRandomFile(t, t.TempDir(), "photo.bin", 31, 3*MiB+17)
	out := runScript(t, "python3", s, s.cred, "boto3_post.py", nil, "post-boto3", path)
	var res struct {
		Status     int    `json:"status"`
		ETag       string `json:"etag"`
		Body       string `json:"body"`
		OverStatus int    `json:"over_status"`
		OverBody   string `json:"over_body"`
	}
	mustJSON(t, lastLine(out), &res)
	var pr struct {
		Bucket, Key, ETag, Location string
	}
	if res.Status != 201 || xml.Unmarshal([]byte(res.Body), &pr) != nil {
		t.Fatalf("POST: %d %s", res.Status, res.Body)
	}
	key := "forms/" + filepath.Base(path)
	if pr.Bucket != "post-boto3" || pr.Key != key || pr.ETag != res.ETag || res.ETag == "" {
		t.Errorf("PostResponse %+v, ETag header %s", pr, res.ETag)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("post-boto3"), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, got.Body)
	got.Body.Close()
	if err != nil || hex.EncodeToString(h.Sum(nil)) != sum {
		t.Errorf("the POSTed object reads back different (%v)", err)
	}
	if got.Metadata["origin"] != "boto3" || aws.ToString(got.ETag) != res.ETag {
		t.Errorf("stored metadata %v, ETag %s", got.Metadata, aws.ToString(got.ETag))
	}
	if res.OverStatus != 400 || !strings.Contains(res.OverBody, "<Code>EntityTooLarge</Code>") {
		t.Errorf("over content-length-range: %d %s", res.OverStatus, res.OverBody)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("post-boto3"), Key: aws.String("too-big")}); err == nil {
		t.Error("the refused upload was stored")
	}
}
