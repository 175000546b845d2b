package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// getURL fetches a presigned URL with Go's plain HTTP client (no signing of its
// own) and returns the SHA-256 of the body.
func getURL(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, b)
	}
	return sha256Hex(b)
}

// TestSigV2AWSCLIPresign: `aws s3 presign` with the aws cli's default signature
// for presigning (SigV2: the config says nothing about signature_version) gives a
// URL that works.
func TestSigV2AWSCLIPresign(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config"), "[default]\nregion = "+region+"\n")
	writeFile(t, filepath.Join(dir, "credentials"), fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", s.cred.AccessKey, s.cred.SecretKey))
	aws := &awsCLI{t: t, endpoint: s.endpoint, env: childEnv(
		"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
		"AWS_PAGER=",
	)}
	file, sum := writeRandomFile(t, dir, "obj.bin", 900, 300*KiB+7)
	aws.run("s3", "mb", "s3://presign-v2")
	for _, key := range []string{"obj.bin", "dir/with space+plus.bin"} {
		aws.run("s3", "cp", file, "s3://presign-v2/"+key)
		url := strings.TrimSpace(aws.run("s3", "presign", "s3://presign-v2/"+key, "--expires-in", "600"))
		// The point of the test: the cli really signed with SigV2.
		if !strings.Contains(url, "AWSAccessKeyId=") || !strings.Contains(url, "Expires=") || strings.Contains(url, "X-Amz-Algorithm") {
			t.Fatalf("aws s3 presign did not make a SigV2 URL: %s", url)
		}
		if got := getURL(t, url); got != sum {
			t.Errorf("%s: presigned GET sha256 %s, uploaded %s", key, got, sum)
		}
	}
}

// TestSigV2S3cmd: s3cmd with signature_v2 = True signs every request with SigV2
// (mb, put, ls, get, del, rb), and `s3cmd signurl` makes a SigV2 URL that works.
func TestSigV2S3cmd(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	c := newS3cmd(t, s, s.cred)
	conf, err := os.ReadFile(c.conf)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.conf, strings.Replace(string(conf), "signature_v2 = False", "signature_v2 = True", 1))
	dir := t.TempDir()
	file, sum := writeRandomFile(t, dir, "obj.bin", 901, 1*MiB+3)

	// -d shows which signature s3cmd used: make sure it is SigV2.
	_, stderr, err := c.try("-d", "mb", "s3://s3cmd-v2")
	if err != nil || !strings.Contains(stderr, "Using signature v2") {
		t.Fatalf("s3cmd mb with signature_v2: %v\n%s", err, clip(stderr))
	}
	c.run("put", file, "s3://s3cmd-v2/a/obj.bin")
	if out := c.run("ls", "s3://s3cmd-v2/a/"); !strings.Contains(out, "s3://s3cmd-v2/a/obj.bin") {
		t.Errorf("s3cmd ls:\n%s", out)
	}
	got := filepath.Join(t.TempDir(), "got")
	c.run("get", "s3://s3cmd-v2/a/obj.bin", got)
	if fileSHA256(t, got) != sum {
		t.Error("s3cmd get: content differs")
	}
	url := strings.TrimSpace(c.run("signurl", "s3://s3cmd-v2/a/obj.bin", "+600"))
	if !strings.Contains(url, "AWSAccessKeyId=") {
		t.Fatalf("s3cmd signurl: %s", url)
	}
	if got := getURL(t, url); got != sum {
		t.Errorf("s3cmd signurl GET: sha256 %s, uploaded %s", got, sum)
	}
	c.run("del", "s3://s3cmd-v2/a/obj.bin")
	if out := c.run("ls", "s3://s3cmd-v2/a/"); strings.TrimSpace(out) != "" {
		t.Errorf("s3cmd ls after del:\n%s", out)
	}
	c.run("rb", "s3://s3cmd-v2")
}
