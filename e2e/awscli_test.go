package e2e

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAWSCLI drives the installed aws cli v1 through the issue-2 commands.
// The multipart threshold is raised to 64 MB so that the 20 MiB copy is one
// PutObject: multipart is tested in clients_test.go (issue 3).
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	aws := newAWSCLI(t, s, s.cred, "multipart_threshold = 64MB")
	dir := t.TempDir()
	small, smallSum := writeRandomFile(t, dir, "small.bin", 400, 100*KiB+1)
	big, bigSum := writeRandomFile(t, dir, "big.bin", 401, 20*MiB)

	aws.run("s3", "mb", "s3://cli-bucket")
	t.Run("cp up and down", func(t *testing.T) {
		aws.run("s3", "cp", small, "s3://cli-bucket/small.bin")
		aws.run("s3", "cp", big, "s3://cli-bucket/dir/big.bin")
		for _, tc := range []struct{ key, sum string }{{"small.bin", smallSum}, {"dir/big.bin", bigSum}} {
			out := filepath.Join(t.TempDir(), "down")
			aws.run("s3", "cp", "s3://cli-bucket/"+tc.key, out)
			if got := fileSHA256(t, out); got != tc.sum {
				t.Errorf("%s: downloaded sha256 %s, uploaded %s", tc.key, got, tc.sum)
			}
		}
	})
	t.Run("ls", func(t *testing.T) {
		out := aws.run("s3", "ls", "s3://cli-bucket/")
		if !strings.Contains(out, "small.bin") || !strings.Contains(out, "PRE dir/") {
			t.Errorf("s3 ls: want small.bin and PRE dir/, got\n%s", out)
		}
		out = aws.run("s3", "ls", "--recursive", "s3://cli-bucket/")
		if !strings.Contains(out, "20971520 dir/big.bin") {
			t.Errorf("s3 ls --recursive: want 20971520 dir/big.bin, got\n%s", out)
		}
		if out := aws.run("s3", "ls"); !strings.Contains(out, "cli-bucket") {
			t.Errorf("s3 ls (buckets): want cli-bucket, got\n%s", out)
		}
	})
	t.Run("s3api get-object --range", func(t *testing.T) {
		ranges := []struct {
			rng        string
			start, end int64
		}{
			{"bytes=0-0", 0, 0},
			{"bytes=100-1099", 100, 1099},
			{"bytes=20000000-", 20000000, 20*MiB - 1},
			{"bytes=-4096", 20*MiB - 4096, 20*MiB - 1},
		}
		for _, r := range ranges {
			out := filepath.Join(t.TempDir(), "part")
			resp := aws.run("s3api", "get-object", "--bucket", "cli-bucket", "--key", "dir/big.bin", "--range", r.rng, out)
			if want := sliceSHA256(t, big, r.start, r.end-r.start+1); fileSHA256(t, out) != want {
				t.Errorf("get-object --range %s: content differs from the file's bytes %d-%d", r.rng, r.start, r.end)
			}
			if !strings.Contains(resp, `"ContentRange"`) {
				t.Errorf("get-object --range %s: no ContentRange in %s", r.rng, resp)
			}
		}
	})
	t.Run("sync", func(t *testing.T) {
		src := t.TempDir()
		sums := map[string]string{}
		for i, name := range []string{"a.txt", "sub/b.bin", "sub/deeper/c.bin", "empty"} {
			size := int64(i * 50 * KiB)
			_, sums[name] = writeRandomFile(t, src, name, uint64(410+i), size)
		}
		aws.run("s3", "sync", src, "s3://cli-bucket/sync/")
		dst := t.TempDir()
		aws.run("s3", "sync", "s3://cli-bucket/sync/", dst)
		for name, sum := range sums {
			if got := fileSHA256(t, filepath.Join(dst, name)); got != sum {
				t.Errorf("sync round trip %s: sha256 %s, want %s", name, got, sum)
			}
		}
		// A second sync of unchanged files uploads nothing.
		if out := aws.run("s3", "sync", src, "s3://cli-bucket/sync/"); strings.Contains(out, "upload:") {
			t.Errorf("second sync uploaded again:\n%s", out)
		}
		// Changed and deleted files: --delete removes the remote copy.
		_, sums["a.txt"] = writeRandomFile(t, src, "a.txt", 420, 10*KiB)
		if err := os.Remove(filepath.Join(src, "empty")); err != nil {
			t.Fatal(err)
		}
		aws.run("s3", "sync", "--delete", src, "s3://cli-bucket/sync/")
		out := aws.run("s3", "ls", "--recursive", "s3://cli-bucket/sync/")
		if strings.Contains(out, "sync/empty") {
			t.Errorf("sync --delete left sync/empty:\n%s", out)
		}
		got := filepath.Join(t.TempDir(), "a")
		aws.run("s3", "cp", "s3://cli-bucket/sync/a.txt", got)
		if fileSHA256(t, got) != sums["a.txt"] {
			t.Errorf("sync did not upload the changed a.txt")
		}
	})
	t.Run("tagging and bucket configurations", func(t *testing.T) {
		aws.run("s3api", "put-object", "--bucket", "cli-bucket", "--key", "tagged", "--body", small, "--tagging", "team=storage&tier=hot")
		if out := aws.run("s3api", "head-object", "--bucket", "cli-bucket", "--key", "tagged"); !strings.Contains(out, `"TagCount": 2`) {
			t.Errorf("head-object: no TagCount 2 in\n%s", out)
		}
		aws.run("s3api", "put-object-tagging", "--bucket", "cli-bucket", "--key", "tagged", "--tagging", `TagSet=[{Key=team,Value=s3 gateway}]`)
		if out := aws.run("s3api", "get-object-tagging", "--bucket", "cli-bucket", "--key", "tagged"); !strings.Contains(out, `"Value": "s3 gateway"`) || strings.Contains(out, "tier") {
			t.Errorf("get-object-tagging after put-object-tagging:\n%s", out)
		}
		aws.run("s3api", "delete-object-tagging", "--bucket", "cli-bucket", "--key", "tagged")
		if out := aws.run("s3api", "get-object-tagging", "--bucket", "cli-bucket", "--key", "tagged"); strings.Contains(out, "team") {
			t.Errorf("get-object-tagging after delete:\n%s", out)
		}
		aws.run("s3", "rm", "s3://cli-bucket/tagged")
		for op, code := range map[string]string{"get-bucket-policy": "NoSuchBucketPolicy", "get-bucket-cors": "NoSuchCORSConfiguration", "get-bucket-lifecycle-configuration": "NoSuchLifecycleConfiguration"} {
			if _, stderr, err := aws.try("s3api", op, "--bucket", "cli-bucket"); err == nil || !strings.Contains(stderr, code) {
				t.Errorf("%s: want %s, got %v\n%s", op, code, err, stderr)
			}
		}
		if _, stderr, err := aws.try("s3", "cp", small, "s3://cli-bucket/sse", "--sse", "AES256"); err == nil || !strings.Contains(stderr, "NotImplemented") {
			t.Errorf("cp --sse AES256: want NotImplemented, got %v\n%s", err, stderr)
		}
	})
	t.Run("rm", func(t *testing.T) {
		aws.run("s3", "rm", "s3://cli-bucket/small.bin")
		aws.run("s3", "rm", "--recursive", "s3://cli-bucket/sync/")
		out := aws.run("s3", "ls", "--recursive", "s3://cli-bucket/")
		if strings.Contains(out, "small.bin") || strings.Contains(out, "sync/") {
			t.Errorf("objects left after rm:\n%s", out)
		}
		if _, _, err := aws.try("s3api", "head-object", "--bucket", "cli-bucket", "--key", "small.bin"); err == nil {
			t.Errorf("head-object after rm succeeded")
		}
		aws.run("s3", "rm", "s3://cli-bucket/dir/big.bin")
		aws.run("s3", "rb", "s3://cli-bucket")
	})
}

// sliceSHA256 hashes n bytes of a file from off, reading (not loading) them.
func sliceSHA256(t testing.TB, path string, off, n int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, _, err := readerSHA256(io.NewSectionReader(f, off, n))
	if err != nil {
		t.Fatal(err)
	}
	return sum
}
