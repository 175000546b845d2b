package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestVersitygwIntegrationSuite runs the S3 integration tests that ship inside
// versitygw (`versitygw test <name>`, v1.8.0, pinned by scripts/install-tools.sh)
// against s3proxy. Versity wrote them against AWS S3; they pin down hundreds of
// edge cases (error codes, ranges, listings, multipart rules, streaming bodies)
// that no client exercises on purpose. testdata/versitygw-suite.txt lists the
// tests s3proxy passes: a change that breaks one fails here. The tests it does
// not list, and why, are in the same file.
//
// The versioning and Object Lock tests (testdata/versitygw-suite-versioning.txt,
// versitygw-suite-objectlock.txt) turn versioning on in
// their own setup, but `versitygw test <name>` empties a bucket for its teardown as if
// versioning were off (only `versitygw test full-flow --versioning-enabled` knows, and
// it runs the whole suite): the versions stay, and its DeleteBucket fails with
// BucketNotEmpty. Such a test passes when that teardown failure is all it reports; the
// harness then removes every version and the bucket itself.
func TestVersitygwIntegrationSuite(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	plain := suiteNames(t, filepath.Join("testdata", "versitygw-suite.txt"))
	versioned := map[string]bool{}
	// The Object Lock tests first: many of them wait out a retention of several
	// seconds, and started first they spread over the shards instead of ending one.
	var names []string
	for _, f := range []string{"versitygw-suite-objectlock.txt", "versitygw-suite-versioning.txt"} {
		for _, n := range suiteNames(t, filepath.Join("testdata", f)) {
			if slices.Contains(plain, n) || versioned[n] {
				t.Fatalf("%s is listed in two suite files", n)
			}
			versioned[n] = true
			names = append(names, n)
		}
	}
	names = append(names, plain...)
	needTool(t, "versitygw")
	// Each test creates and removes its own bucket, named the same in every test,
	// so one server runs one test at a time; two servers halve the wall time. The
	// shards take the next test from one queue, so that neither idles while the
	// other still has a long list (a fixed split left one 40 s behind the other).
	queue := make(chan string, len(names))
	for _, n := range names {
		queue <- n
	}
	close(queue)
	const shards = 2
	for i := range shards {
		t.Run(fmt.Sprintf("shard%d", i), func(t *testing.T) {
			t.Parallel()
			// Public policies allowed: the suite's policy tests grant "*", as on an
			// S3 bucket without Block Public Access.
			s := startServer(t, serverOptions{args: []string{"--block-public-policy=false"}})
			c := s3Client(s, s.cred)
			dir := t.TempDir()
			for name := range queue {
				t.Run(name, func(t *testing.T) {
					out, stderr, err := tryTool(t, 2*time.Minute, childEnv(), dir, "versitygw",
						"test", "-a", s.cred.AccessKey, "-s", s.cred.SecretKey, "-e", s.endpoint, name)
					if versioned[name] {
						if !strings.Contains(out, "FAIL") && (strings.Contains(out, "PASS") || onlyTeardownFailed(out)) {
							err = nil
							out = "PASS (the suite's teardown left the versions, removed here)"
						}
						emptyServer(t, c)
					}
					if err != nil || !strings.Contains(out, "PASS") || strings.Contains(out, "FAIL") {
						t.Errorf("versitygw test %s: %v\n%s\n%s", name, err, clip(stripANSI(out)), clip(stderr))
						// A failed test may leave its bucket behind, and the next test
						// would fail to create its own.
						emptyServer(t, c)
					}
				})
			}
		})
	}
}

// suiteNames reads the test names in path: one per line; '#' starts a comment.
func suiteNames(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if seen[line] {
			t.Fatalf("%s: %s listed twice", path, line)
		}
		seen[line] = true
		names = append(names, line)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatalf("%s lists no tests", path)
	}
	return names
}

// onlyTeardownFailed reports whether the one failure in a suite test's output is its
// teardown's DeleteBucket of a bucket that still holds versions.
func onlyTeardownFailed(out string) bool {
	failed := false
	for _, line := range strings.Split(stripANSI(out), "\n") {
		switch {
		case strings.TrimSpace(line) == "", strings.HasPrefix(line, "RUN "), strings.HasPrefix(line, "uploaded object successfully"):
		case strings.Contains(line, "failed to delete the bucket") && strings.Contains(line, "You must delete all versions in the bucket."):
			failed = true
		default:
			return false
		}
	}
	return failed
}

// emptyServer removes every bucket, with its objects, their versions and delete
// markers, and pending uploads.
func emptyServer(t *testing.T, c *s3.Client) {
	t.Helper()
	ctx := context.Background()
	bs, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Errorf("clean up: list buckets: %v", err)
		return
	}
	for _, b := range bs.Buckets {
		ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b.Name})
		if err == nil {
			for _, u := range ups.Uploads {
				_, _ = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: b.Name, Key: u.Key, UploadId: u.UploadId})
			}
		}
		// Every version (a bucket never versioned lists its objects as null versions).
		in := &s3.ListObjectVersionsInput{Bucket: b.Name}
		for {
			page, err := c.ListObjectVersions(ctx, in)
			if err != nil {
				break
			}
			var ids []types.ObjectIdentifier
			for _, v := range page.Versions {
				ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
			}
			for _, m := range page.DeleteMarkers {
				ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
			}
			if len(ids) > 0 {
				// Governance retention is bypassed; what a legal hold or a compliance
				// retention keeps, the Object Lock tests lift or wait out themselves.
				_, _ = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b.Name, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
					BypassGovernanceRetention: aws.Bool(true)})
			}
			if !aws.ToBool(page.IsTruncated) {
				break
			}
			in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
		}
		if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: b.Name}); err != nil {
			t.Errorf("clean up: delete bucket %s: %v", aws.ToString(b.Name), err)
		}
	}
}

// stripANSI drops the colour codes versitygw prints around PASS and FAIL.
func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < '@' || s[j] > '~') {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
