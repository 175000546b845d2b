package e2e

import (
	"bytes"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestBucketOwnership: a bucket belongs to the credential that created it.
// Another credential gets AccessDenied and does not see it in ListBuckets;
// an admin credential sees and reads everything.
func TestBucketOwnership(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	alice := credential{AccessKey: "E2EALICE000000000001", SecretKey: "aliceSecret000000000000000000000000000001"}
	bob := credential{AccessKey: "E2EBOB00000000000001", SecretKey: "bobSecret00000000000000000000000000000001"}
	root := credential{AccessKey: "E2EADMIN000000000001", SecretKey: "adminSecret000000000000000000000000000001", Admin: true}
	s := startServer(t, serverOptions{creds: []credential{alice, bob, root}})
	a, b, adm := s3Client(s, alice), s3Client(s, bob), s3Client(s, root)

	createBucket(t, a, "alice-bucket")
	createBucket(t, b, "bob-bucket")
	data := randomBytes(600, 64*KiB)
	if _, err := a.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("alice-bucket"), Key: aws.String("secret"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}

	buckets := func(c *s3.Client) []string {
		t.Helper()
		out, err := c.ListBuckets(ctxT(t), &s3.ListBucketsInput{})
		if err != nil {
			t.Fatalf("ListBuckets: %v", err)
		}
		var names []string
		for _, b := range out.Buckets {
			names = append(names, aws.ToString(b.Name))
		}
		return names
	}
	t.Run("ListBuckets", func(t *testing.T) {
		if got := buckets(a); !slices.Equal(got, []string{"alice-bucket"}) {
			t.Errorf("alice sees %q", got)
		}
		if got := buckets(b); !slices.Equal(got, []string{"bob-bucket"}) {
			t.Errorf("bob sees %q", got)
		}
		if got := buckets(adm); !slices.Equal(got, []string{"alice-bucket", "bob-bucket"}) {
			t.Errorf("admin sees %q", got)
		}
	})

	bucket, key := aws.String("alice-bucket"), aws.String("secret")
	denied := []struct {
		name string
		call func() error
	}{
		{"GetObject", func() error {
			_, err := b.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: bucket, Key: key})
			return err
		}},
		{"PutObject", func() error {
			_, err := b.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: bucket, Key: aws.String("bob-was-here"), Body: bytes.NewReader([]byte("x"))})
			return err
		}},
		{"ListObjectsV2", func() error {
			_, err := b.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: bucket})
			return err
		}},
		{"DeleteObject", func() error {
			_, err := b.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: bucket, Key: key})
			return err
		}},
		{"CopyObject from it", func() error {
			_, err := b.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String("bob-bucket"), Key: aws.String("stolen"), CopySource: aws.String("alice-bucket/secret")})
			return err
		}},
		{"DeleteBucket", func() error {
			_, err := b.DeleteBucket(ctxT(t), &s3.DeleteBucketInput{Bucket: bucket})
			return err
		}},
	}
	for _, tc := range denied {
		t.Run("bob "+tc.name, func(t *testing.T) {
			wantAPIError(t, tc.call(), "AccessDenied", http.StatusForbidden)
		})
	}
	t.Run("bob HeadBucket", func(t *testing.T) {
		_, err := b.HeadBucket(ctxT(t), &s3.HeadBucketInput{Bucket: bucket})
		wantAPIError(t, err, "", http.StatusForbidden)
	})
	t.Run("bob CreateBucket with alice's name", func(t *testing.T) {
		_, err := b.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: bucket})
		wantAPIError(t, err, "BucketAlreadyExists", http.StatusConflict)
	})
	t.Run("alice CreateBucket again", func(t *testing.T) {
		_, err := a.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: bucket})
		wantAPIError(t, err, "BucketAlreadyOwnedByYou", http.StatusConflict)
	})
	t.Run("nothing of bob's landed", func(t *testing.T) {
		wantNoObject(t, a, "alice-bucket", "bob-was-here")
		wantNoObject(t, b, "bob-bucket", "stolen")
		if sum, _ := getSHA256(t, a, "alice-bucket", "secret"); sum != sha256Hex(data) {
			t.Errorf("alice's object changed")
		}
	})
	t.Run("admin reads alice's object", func(t *testing.T) {
		if sum, _ := getSHA256(t, adm, "alice-bucket", "secret"); sum != sha256Hex(data) {
			t.Errorf("admin reads different content")
		}
		if _, err := adm.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: bucket}); err != nil {
			t.Errorf("admin ListObjectsV2: %v", err)
		}
	})
}
