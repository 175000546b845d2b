package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRemoveBucketWithPendingUploads: `aws s3 rb --force` and `mc rb --force` delete a
// bucket's objects and then the bucket, without aborting its multipart uploads. On S3
// the bucket goes anyway, uploads with it; s3proxy used to answer BucketNotEmpty. The
// uploads' parts must be released so that the collector reclaims them.
func TestRemoveBucketWithPendingUploads(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	aws := newAWSCLI(t, s, s.cred)
	part, _ := writeRandomFile(t, t.TempDir(), "part.bin", 900, 6*MiB)
	obj, _ := writeRandomFile(t, t.TempDir(), "obj.bin", 901, 100*KiB)
	tests := []struct {
		name   string
		bucket string
		remove func(t *testing.T, bucket string)
	}{
		{"aws s3 rb --force", "rb-aws", func(t *testing.T, b string) { aws.run("s3", "rb", "--force", "s3://"+b) }},
		{"mc rb --force", "rb-mc", func(t *testing.T, b string) { newMC(t, s, s.cred).run("rb", "--force", "s3p/"+b) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			aws.run("s3", "mb", "s3://"+tc.bucket)
			aws.run("s3", "cp", obj, "s3://"+tc.bucket+"/kept-until-rb")
			out := aws.run("s3api", "create-multipart-upload", "--bucket", tc.bucket, "--key", "pending")
			var created struct{ UploadId string }
			if err := json.Unmarshal([]byte(out), &created); err != nil || created.UploadId == "" {
				t.Fatalf("create-multipart-upload: %v\n%s", err, out)
			}
			aws.run("s3api", "upload-part", "--bucket", tc.bucket, "--key", "pending", "--upload-id", created.UploadId,
				"--part-number", "1", "--body", part)
			tc.remove(t, tc.bucket)
			if out := aws.run("s3", "ls"); strings.Contains(out, tc.bucket) {
				t.Errorf("bucket %s still listed:\n%s", tc.bucket, out)
			}
			if _, stderr, err := aws.try("s3api", "list-parts", "--bucket", tc.bucket, "--key", "pending", "--upload-id", created.UploadId); err == nil || !strings.Contains(stderr, "NoSuchBucket") {
				t.Errorf("list-parts after rb: want NoSuchBucket, got %v\n%s", err, stderr)
			}
		})
	}
	if h.target == "s3proxy" {
		// Nothing references the parts any more: the collector takes every chunk.
		s.admincmd("gc", "--gc-grace", "1ms")
		if st := s.stats(); st.Chunks != 0 || st.StoredBytes != 0 {
			t.Errorf("after gc: %d chunks, %d stored bytes left, want none", st.Chunks, st.StoredBytes)
		}
	}
}

// TestWebsiteRedirectWithAWSCLI: `aws s3 cp --website-redirect` stores the redirect, and
// head-object reads it back, as static-site deployers rely on; a redirect S3 would
// refuse is refused with S3's code.
func TestWebsiteRedirectWithAWSCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	aws := newAWSCLI(t, s, s.cred)
	page, _ := writeRandomFile(t, t.TempDir(), "index.html", 902, 2*KiB)
	aws.run("s3", "mb", "s3://site")
	aws.run("s3", "cp", page, "s3://site/old.html", "--website-redirect", "/new.html")
	out := aws.run("s3api", "head-object", "--bucket", "site", "--key", "old.html")
	var head struct{ WebsiteRedirectLocation string }
	if err := json.Unmarshal([]byte(out), &head); err != nil || head.WebsiteRedirectLocation != "/new.html" {
		t.Errorf("head-object: redirect %q (%v)\n%s", head.WebsiteRedirectLocation, err, out)
	}
	if _, stderr, err := aws.try("s3", "cp", page, "s3://site/bad.html", "--website-redirect", "ftp://elsewhere"); err == nil || !strings.Contains(stderr, "InvalidRedirectLocation") {
		t.Errorf("cp --website-redirect ftp://: want InvalidRedirectLocation, got %v\n%s", err, stderr)
	}
}
