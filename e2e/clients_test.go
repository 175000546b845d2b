package e2e

// Issue 3: every common S3 client, including their multipart uploads. These
// tests fail until multipart upload lands in the server; that is expected.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
)

// multipartETag checks the S3 form of a multipart ETag: "<md5 hex>-<parts>".
func multipartETag(t testing.TB, etag string, parts int) {
	t.Helper()
	e := strings.Trim(etag, `"`)
	hexPart, n, ok := strings.Cut(e, "-")
	if !ok || len(hexPart) != 32 || n != fmt.Sprint(parts) {
		t.Errorf("ETag %s, want a multipart ETag ending in -%d", etag, parts)
	}
}

func TestRclone(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	rc := newRclone(t, s, s.cred)
	src := t.TempDir()
	sums := map[string]string{}
	files := []struct {
		name string
		size int64
	}{{"small.bin", 100 * KiB}, {"nested/mid.bin", 3*MiB + 5}, {"big.bin", 23 * MiB}, {"empty", 0}}
	for i, f := range files {
		_, sums[f.name] = writeRandomFile(t, src, f.name, uint64(700+i), f.size)
	}
	// 5 MiB parts above 5 MiB: big.bin goes as a 5-part multipart upload.
	mp := []string{"--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"}

	rc.run("mkdir", "s3p:rclone-bucket")
	rc.run(append([]string{"copy", src, "s3p:rclone-bucket/tree"}, mp...)...)
	// check compares sizes and MD5s (ETag for single part, rclone's metadata for multipart).
	rc.run("check", src, "s3p:rclone-bucket/tree")
	dst := t.TempDir()
	rc.run("copy", "s3p:rclone-bucket/tree", dst)
	for name, sum := range sums {
		if got := fileSHA256(t, filepath.Join(dst, name)); got != sum {
			t.Errorf("rclone copy round trip %s: sha256 %s, want %s", name, got, sum)
		}
	}

	t.Run("sync", func(t *testing.T) {
		_, sums["small.bin"] = writeRandomFile(t, src, "small.bin", 710, 150*KiB)
		_, sums["added.bin"] = writeRandomFile(t, src, "added.bin", 711, 6*MiB)
		if err := os.Remove(filepath.Join(src, "empty")); err != nil {
			t.Fatal(err)
		}
		delete(sums, "empty")
		rc.run(append([]string{"sync", src, "s3p:rclone-bucket/tree"}, mp...)...)
		rc.run("check", src, "s3p:rclone-bucket/tree")
		listed := rc.run("lsf", "-R", "--files-only", "s3p:rclone-bucket/tree")
		if strings.Contains(listed, "empty") || !strings.Contains(listed, "added.bin") {
			t.Errorf("after sync, lsf shows:\n%s", listed)
		}
	})

	t.Run("cat offset count", func(t *testing.T) {
		big := filepath.Join(src, "big.bin")
		for _, r := range []struct{ off, n int64 }{{0, 1}, {1000, 5000}, {5*MiB - 100, 200}, {23*MiB - 10, 10}} {
			got := rc.run("cat", "--offset", fmt.Sprint(r.off), "--count", fmt.Sprint(r.n), "s3p:rclone-bucket/tree/big.bin")
			if sha256Hex([]byte(got)) != sliceSHA256(t, big, r.off, r.n) {
				t.Errorf("cat --offset %d --count %d: %d bytes, content differs", r.off, r.n, len(got))
			}
		}
	})
}

func TestS3cmd(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := newS3cmd(t, s, s.cred)
	dir := t.TempDir()
	small, smallSum := writeRandomFile(t, dir, "small.bin", 720, 200*KiB)
	big, bigSum := writeRandomFile(t, dir, "big.bin", 721, 23*MiB)

	c.run("mb", "s3://s3cmd-bucket")
	c.run("put", small, "s3://s3cmd-bucket/small.bin")
	c.run("put", "--multipart-chunk-size-mb=5", big, "s3://s3cmd-bucket/big.bin")
	out := c.run("ls", "s3://s3cmd-bucket")
	if !strings.Contains(out, "s3://s3cmd-bucket/small.bin") || !strings.Contains(out, "s3://s3cmd-bucket/big.bin") {
		t.Errorf("s3cmd ls:\n%s", out)
	}
	for _, f := range []struct{ key, sum string }{{"small.bin", smallSum}, {"big.bin", bigSum}} {
		got := filepath.Join(t.TempDir(), "got")
		c.run("get", "s3://s3cmd-bucket/"+f.key, got)
		if fileSHA256(t, got) != f.sum {
			t.Errorf("s3cmd get %s: content differs", f.key)
		}
	}
	// s3cmd info shows its own MD5 metadata, not the ETag: ask the SDK.
	head, err := s3Client(s, s.cred).HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("s3cmd-bucket"), Key: aws.String("big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	multipartETag(t, aws.ToString(head.ETag), 5)
	// ACLs: every bucket is owner-only (BucketOwnerEnforced); resetting that is fine,
	// making an object public is refused, and info reads both.
	c.run("setacl", "--acl-private", "s3://s3cmd-bucket/small.bin")
	if _, stderr, err := c.try("setacl", "--acl-public", "s3://s3cmd-bucket/small.bin"); err == nil || !strings.Contains(stderr, "AccessControlListNotSupported") {
		t.Errorf("s3cmd setacl --acl-public: want AccessControlListNotSupported, got %v\n%s", err, stderr)
	}
	if out := c.run("info", "s3://s3cmd-bucket/small.bin"); !strings.Contains(out, "FULL_CONTROL") {
		t.Errorf("s3cmd info:\n%s", out)
	}
	c.run("del", "s3://s3cmd-bucket/small.bin", "s3://s3cmd-bucket/big.bin")
	if out := c.run("ls", "s3://s3cmd-bucket"); strings.TrimSpace(out) != "" {
		t.Errorf("objects left after del:\n%s", out)
	}
	c.run("rb", "s3://s3cmd-bucket")
}

func TestMC(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	mc := newMC(t, s, s.cred)
	dir := t.TempDir()
	small, smallSum := writeRandomFile(t, dir, "small.bin", 730, 100*KiB)
	// mc (minio-go) uses parts of at least 16 MiB: 40 MiB is a 3-part upload.
	big, bigSum := writeRandomFile(t, dir, "big.bin", 731, 40*MiB)

	mc.run("mb", "s3p/mc-bucket")
	mc.run("cp", small, "s3p/mc-bucket/small.bin")
	mc.run("cp", big, "s3p/mc-bucket/big.bin")
	if out := mc.run("ls", "s3p/mc-bucket"); !strings.Contains(out, "small.bin") || !strings.Contains(out, "big.bin") {
		t.Errorf("mc ls:\n%s", out)
	}
	if got := mc.run("cat", "s3p/mc-bucket/small.bin"); sha256Hex([]byte(got)) != smallSum {
		t.Errorf("mc cat small.bin: content differs")
	}
	got := filepath.Join(t.TempDir(), "big")
	mc.run("cp", "s3p/mc-bucket/big.bin", got)
	if fileSHA256(t, got) != bigSum {
		t.Errorf("mc cp down big.bin: content differs")
	}

	t.Run("mirror", func(t *testing.T) {
		src := t.TempDir()
		sums := map[string]string{}
		for i, name := range []string{"a", "b/c", "b/d/e"} {
			_, sums[name] = writeRandomFile(t, src, name, uint64(740+i), int64(i+1)*300*KiB)
		}
		mc.run("mirror", src, "s3p/mc-bucket/mirror")
		dst := t.TempDir()
		mc.run("mirror", "s3p/mc-bucket/mirror", dst)
		for name, sum := range sums {
			if fileSHA256(t, filepath.Join(dst, name)) != sum {
				t.Errorf("mc mirror round trip %s: content differs", name)
			}
		}
	})

	t.Run("tags and stat", func(t *testing.T) {
		mc.run("cp", "--tags", "origin=upload", small, "s3p/mc-bucket/tagged.bin")
		if out := mc.run("tag", "list", "--json", "s3p/mc-bucket/tagged.bin"); !strings.Contains(out, `"origin":"upload"`) {
			t.Errorf("mc tag list after cp --tags:\n%s", out)
		}
		mc.run("tag", "set", "s3p/mc-bucket/tagged.bin", "project=s3proxy&stage=test")
		out := mc.run("tag", "list", "--json", "s3p/mc-bucket/tagged.bin")
		if !strings.Contains(out, `"project":"s3proxy"`) || !strings.Contains(out, `"stage":"test"`) || strings.Contains(out, "origin") {
			t.Errorf("mc tag list after tag set:\n%s", out)
		}
		if out := mc.run("stat", "s3p/mc-bucket/tagged.bin"); !strings.Contains(out, "tagged.bin") {
			t.Errorf("mc stat:\n%s", out)
		}
		mc.run("tag", "remove", "s3p/mc-bucket/tagged.bin")
		if out := mc.run("tag", "list", "--json", "s3p/mc-bucket/tagged.bin"); strings.Contains(out, "project") {
			t.Errorf("mc tag list after tag remove:\n%s", out)
		}
		mc.run("rm", "s3p/mc-bucket/tagged.bin")
	})

	mc.run("rm", "s3p/mc-bucket/small.bin")
	mc.run("rm", "--recursive", "--force", "s3p/mc-bucket/mirror")
	if out := mc.run("ls", "--recursive", "s3p/mc-bucket"); strings.Contains(out, "small.bin") || strings.Contains(out, "mirror") {
		t.Errorf("objects left after mc rm:\n%s", out)
	}
}

func TestBoto3(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	up, upSum := writeRandomFile(t, t.TempDir(), "up.bin", 750, 23*MiB)
	front := tlsFront(t, s)
	ca := writeCAFile(t, front)
	tests := []struct {
		name  string
		extra []string
	}{
		{"http", nil},
		// Over https boto3 switches to aws-chunked bodies with CRC32 trailers.
		{"https trailers", []string{"E2E_ENDPOINT=" + front.URL, "E2E_CA_BUNDLE=" + ca}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			down := filepath.Join(t.TempDir(), "down.bin")
			out := runScript(t, "python3", s, s.cred, "boto3_transfer.py", tc.extra, fmt.Sprintf("boto3-%d", i), up, down)
			var res struct {
				MultipartETag string   `json:"multipart_etag"`
				MultipartSize int64    `json:"multipart_size"`
				PutCRC32      string   `json:"put_crc32"`
				GetCRC32      string   `json:"get_crc32"`
				SingleOK      bool     `json:"single_ok"`
				Keys          []string `json:"keys"`
			}
			if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
				t.Fatalf("boto3 script output %q: %v", out, err)
			}
			if got := fileSHA256(t, down); got != upSum {
				t.Errorf("download_fileobj: sha256 %s, want %s", got, upSum)
			}
			multipartETag(t, res.MultipartETag, 5)
			if res.MultipartSize != 23*MiB || !res.SingleOK {
				t.Errorf("boto3 result %+v", res)
			}
			if res.GetCRC32 == "" || res.GetCRC32 != res.PutCRC32 {
				t.Errorf("get_object(ChecksumMode=ENABLED) CRC32 %q, put_object sent %q", res.GetCRC32, res.PutCRC32)
			}
		})
	}
}

// TestBoto3EmptyUploadKeepAlive: an empty upload followed by others on the same
// connection, each with Expect: 100-continue (testdata/boto3_expect_empty.py). botocore
// keeps the status line of an answer that came without a 100 Continue for the
// connection's next request, and misreads that one's answer: without a new
// connection the second upload waits for its read timeout (the aws cli's `s3 sync`
// of a folder holding an empty file hung 60 s).
func TestBoto3EmptyUploadKeepAlive(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	out := runScript(t, "python3", s, s.cred, "boto3_expect_empty.py", nil, "expect-empty")
	secs, err := strconv.ParseFloat(lastLine(out), 64)
	if err != nil {
		t.Fatalf("script output %q: %v", out, err)
	}
	// Four small uploads; a misread answer costs the 5 s read timeout and fails.
	if secs > 4 {
		t.Errorf("four small uploads took %.1f s", secs)
	}
	c := s3Client(s, s.cred)
	for key, size := range map[string]int64{"empty": 0, "full": 50 * KiB, "empty-again": 0, "full-again": 50 * KiB} {
		h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("expect-empty"), Key: aws.String(key)})
		if err != nil || aws.ToInt64(h.ContentLength) != size {
			t.Errorf("HEAD %s: %v %v, want %d bytes", key, h, err, size)
		}
	}
}

func TestJSSDK(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	dir := t.TempDir()
	small, smallSum := writeRandomFile(t, dir, "small.bin", 760, 300*KiB+1)
	big, bigSum := writeRandomFile(t, dir, "big.bin", 761, 23*MiB)
	out := runScript(t, "node", s, s.cred, "js_transfer.cjs", nil, "js-bucket", small, big)
	var res struct {
		SHA256        map[string]string `json:"sha256"`
		BufferCRC32   string            `json:"buffer_crc32"`
		MultipartETag string            `json:"multipart_etag"`
		MultipartSize int64             `json:"multipart_size"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		t.Fatalf("node script output %q: %v", out, err)
	}
	for key, want := range map[string]string{"buffer.bin": smallSum, "stream.bin": smallSum, "multipart.bin": bigSum} {
		if res.SHA256[key] != want {
			t.Errorf("%s reads back sha256 %s, want %s", key, res.SHA256[key], want)
		}
	}
	multipartETag(t, res.MultipartETag, 5)
	if res.MultipartSize != 23*MiB {
		t.Errorf("multipart.bin size %d, want %d", res.MultipartSize, 23*MiB)
	}
}

func TestSDKTransferManager(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	const bucket = "sdk-manager"
	createBucket(t, c, bucket)
	path, sum := writeRandomFile(t, t.TempDir(), "up.bin", 770, 23*MiB+3)

	uploader := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 * MiB; u.Concurrency = 3 })
	downloader := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = 5 * MiB; d.Concurrency = 3 })
	tests := []struct {
		name   string
		stream bool
	}{{"file body", false}, {"unseekable stream", true}}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var body io.Reader = f
			if tc.stream {
				body = onlyReader{f}
			}
			key := fmt.Sprintf("obj-%d", i)
			out, err := uploader.Upload(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: &key, Body: body})
			if err != nil {
				t.Fatalf("Upload: %v", err)
			}
			multipartETag(t, aws.ToString(out.ETag), 5)
			down, err := os.Create(filepath.Join(t.TempDir(), "down"))
			if err != nil {
				t.Fatal(err)
			}
			defer down.Close()
			n, err := downloader.Download(ctxT(t), down, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: &key})
			if err != nil {
				t.Fatalf("Download: %v", err)
			}
			if got := fileSHA256(t, down.Name()); n != 23*MiB+3 || got != sum {
				t.Errorf("Download: %d bytes sha256 %s, want %d %s", n, got, 23*MiB+3, sum)
			}
		})
	}
}

func TestMinioParallelParts(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	mc := minioClient(t, s, s.cred)
	const bucket = "minio-parts"
	if err := mc.MakeBucket(ctxT(t), bucket, minio.MakeBucketOptions{Region: region}); err != nil {
		t.Fatal(err)
	}
	const size = 37*MiB + 11
	path, sum := writeRandomFile(t, t.TempDir(), "up.bin", 780, size)
	tests := []struct {
		name  string
		size  int64 // -1: unknown length, streamed
		opts  minio.PutObjectOptions
		parts int
	}{
		{"file, 4 threads", size, minio.PutObjectOptions{PartSize: 5 * MiB, NumThreads: 4}, 8},
		{"unknown size, concurrent stream parts", -1, minio.PutObjectOptions{PartSize: 5 * MiB, NumThreads: 3, ConcurrentStreamParts: true}, 8},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var body io.Reader = f
			if tc.size < 0 {
				body = onlyReader{f}
			}
			key := fmt.Sprintf("obj-%d", i)
			info, err := mc.PutObject(ctxT(t), bucket, key, body, tc.size, tc.opts)
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			multipartETag(t, info.ETag, tc.parts)
			obj, err := mc.GetObject(ctxT(t), bucket, key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer obj.Close()
			got, n, err := readerSHA256(obj)
			if err != nil || n != size || got != sum {
				t.Errorf("GetObject: %d bytes err %v, content matches %t", n, err, got == sum)
			}
		})
	}
}

func TestAWSCLIMultipart(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	aws := newAWSCLI(t, s, s.cred) // defaults: multipart above 8 MiB, 8 MiB parts
	dir := t.TempDir()
	aws.run("s3", "mb", "s3://cli-multipart")

	t.Run("s3 cp 200 MiB", func(t *testing.T) {
		big, bigSum := writeRandomFile(t, dir, "big.bin", 790, 200*MiB)
		aws.run("s3", "cp", big, "s3://cli-multipart/big.bin")
		var head struct{ ETag string }
		mustJSON(t, aws.run("s3api", "head-object", "--bucket", "cli-multipart", "--key", "big.bin"), &head)
		multipartETag(t, head.ETag, 25)
		got := filepath.Join(t.TempDir(), "big.bin")
		aws.run("s3", "cp", "s3://cli-multipart/big.bin", got)
		if fileSHA256(t, got) != bigSum {
			t.Errorf("200 MiB round trip: content differs")
		}
		if err := os.Remove(got); err != nil { // keep the disk use down
			t.Fatal(err)
		}
	})

	t.Run("s3api multipart calls", func(t *testing.T) {
		part1, _ := writeRandomFile(t, dir, "part1", 791, 5*MiB)
		part2, _ := writeRandomFile(t, dir, "part2", 792, 2*MiB+1)
		var create struct{ UploadId string }
		mustJSON(t, aws.run("s3api", "create-multipart-upload", "--bucket", "cli-multipart", "--key", "assembled"), &create)
		type part struct {
			ETag       string
			PartNumber int
		}
		var parts []part
		for i, p := range []string{part1, part2} {
			var up struct{ ETag string }
			mustJSON(t, aws.run("s3api", "upload-part", "--bucket", "cli-multipart", "--key", "assembled",
				"--upload-id", create.UploadId, "--part-number", fmt.Sprint(i+1), "--body", p), &up)
			parts = append(parts, part{ETag: up.ETag, PartNumber: i + 1})
		}
		var listed struct{ Parts []struct{ PartNumber int } }
		mustJSON(t, aws.run("s3api", "list-parts", "--bucket", "cli-multipart", "--key", "assembled", "--upload-id", create.UploadId), &listed)
		if len(listed.Parts) != 2 {
			t.Errorf("list-parts: %d parts, want 2", len(listed.Parts))
		}
		mpu, _ := json.Marshal(map[string]any{"Parts": parts})
		mpuFile := filepath.Join(t.TempDir(), "mpu.json")
		writeFile(t, mpuFile, string(mpu))
		var done struct{ ETag string }
		mustJSON(t, aws.run("s3api", "complete-multipart-upload", "--bucket", "cli-multipart", "--key", "assembled",
			"--upload-id", create.UploadId, "--multipart-upload", "file://"+mpuFile), &done)
		multipartETag(t, done.ETag, 2)

		want := concatSHA256(t, part1, part2)
		got := filepath.Join(t.TempDir(), "assembled")
		aws.run("s3api", "get-object", "--bucket", "cli-multipart", "--key", "assembled", got)
		if fileSHA256(t, got) != want {
			t.Errorf("assembled object differs from part1+part2")
		}
	})

	t.Run("abort", func(t *testing.T) {
		var create struct{ UploadId string }
		mustJSON(t, aws.run("s3api", "create-multipart-upload", "--bucket", "cli-multipart", "--key", "aborted"), &create)
		part1 := filepath.Join(dir, "part1")
		aws.run("s3api", "upload-part", "--bucket", "cli-multipart", "--key", "aborted", "--upload-id", create.UploadId, "--part-number", "1", "--body", part1)
		aws.run("s3api", "abort-multipart-upload", "--bucket", "cli-multipart", "--key", "aborted", "--upload-id", create.UploadId)
		out := aws.run("s3api", "list-multipart-uploads", "--bucket", "cli-multipart")
		if strings.Contains(out, create.UploadId) {
			t.Errorf("aborted upload still listed:\n%s", out)
		}
		if _, stderr, err := aws.try("s3api", "list-parts", "--bucket", "cli-multipart", "--key", "aborted", "--upload-id", create.UploadId); err == nil || !strings.Contains(stderr, "NoSuchUpload") {
			t.Errorf("list-parts after abort: err %v, stderr %s (want NoSuchUpload)", err, stderr)
		}
	})
}

// runScript runs a testdata script (python3 or node) with the server's
// endpoint and c's keys in its environment; extra overrides variables.
func runScript(t *testing.T, interp string, s *server, c credential, script string, extra []string, args ...string) string {
	t.Helper()
	env := scriptEnv(s, c, extra...)
	switch interp {
	case "node":
		// The scripts are CommonJS so that NODE_PATH finds the pinned SDK.
		mods := filepath.Join(h.tools.nodeDir, "node_modules")
		_, err := os.Stat(filepath.Join(mods, "@aws-sdk", "lib-storage"))
		need(t, err, "@aws-sdk/client-s3 and lib-storage in .tools/node")
		env = append(env, "NODE_PATH="+mods)
	case "python3":
		_, _, err := tryTool(t, time.Minute, env, "", "python3", "-c", "import boto3")
		need(t, err, "python3 with boto3")
	}
	return runTool(t, 10*time.Minute, env, "", interp, append([]string{testdata(t, script)}, args...)...)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func mustJSON(t testing.TB, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
}

func concatSHA256(t testing.TB, paths ...string) string {
	t.Helper()
	hs := sha256.New()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(hs, f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return hex.EncodeToString(hs.Sum(nil))
}
