package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// chunkFile is where backends/local keeps a chunk in a store it created: <k0>/<k1k2>/<uid>
// (see its package doc).
func chunkFile(root, uid string) string {
	return filepath.Join(root, uid[0:1], uid[1:3], uid)
}

// runVerify runs `s3proxy verify` with the stack's settings.
func runVerify(t *testing.T, st *testStack, args ...string) (code int, out string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	all := append([]string{"verify", "--config", st.app.cfg.ConfigFile, "--data", st.app.cfg.Data, "--log-level", "error"}, args...)
	code = run(context.Background(), all, func(string) string { return "" }, &stdout, &stderr)
	t.Logf("s3proxy %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout.String(), stderr.String())
	return code, stdout.String()
}

// TestVerify damages chunks on disk by hand — one byte flipped in one, another deleted —
// and shows verify finding both and naming the objects that use them, --repair restoring
// the one a second backend holds a copy of and marking the other, and a GET of the
// marked object failing with a clean 500 InternalError.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	disk1, disk2 := filepath.Join(dir, "disk1"), filepath.Join(dir, "disk2")
	st := newStackYAML(t, fmt.Sprintf("backends:\n  - {name: disk1, type: local, path: %s}\n  - {name: disk2, type: local, path: %s}\ndefault_backend: disk1\n", disk1, disk2))
	c := st.client(t, testAK, testSK)
	ctx := context.Background()
	for _, b := range []string{"bkt", "other"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	contents := map[string][]byte{
		"bkt/corrupt-me":   bytes.Repeat([]byte("corrupt me "), 10_000),
		"bkt/same-content": bytes.Repeat([]byte("corrupt me "), 10_000), // deduplicated: same chunk
		"bkt/delete-me":    bytes.Repeat([]byte("delete me "), 5_000),
		"bkt/fine":         []byte("fine"),
		"other/unrelated":  []byte("unrelated"),
	}
	for name, data := range contents {
		bucket, key, _ := strings.Cut(name, "/")
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	uidOf := func(bucket, key string) string {
		o, err := st.app.meta.GetObject(ctx, bucket, key)
		if err != nil || len(o.Manifest) != 1 {
			t.Fatalf("GetObject %s/%s: %+v, %v", bucket, key, o, err)
		}
		return o.Manifest[0].Chunk.UID
	}
	corruptUID, deleteUID := uidOf("bkt", "corrupt-me"), uidOf("bkt", "delete-me")
	if uidOf("bkt", "same-content") != corruptUID {
		t.Fatal("identical content was not deduplicated into one chunk")
	}

	if code, out := runVerify(t, st); code != 0 || !strings.Contains(out, "checked 4 chunks") {
		t.Fatalf("verify of an intact store: exit %d\n%s", code, out)
	}

	// A second backend holds a copy of the first chunk (as a migration or a restored
	// backup would leave it): the same file, footer and recorded SHA-256 included.
	good, err := os.ReadFile(chunkFile(disk1, corruptUID))
	if err != nil {
		t.Fatal(err)
	}
	copyPath := chunkFile(disk2, "copy"+corruptUID[4:])
	if err := os.MkdirAll(filepath.Dir(copyPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, good, 0o644); err != nil {
		t.Fatal(err)
	}
	// Damage: flip one byte of the first chunk, delete the second.
	bad := bytes.Clone(good)
	bad[1234] ^= 0x01
	if err := os.WriteFile(chunkFile(disk1, corruptUID), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(chunkFile(disk1, deleteUID)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"everything", nil, 1, []string{"corrupt chunk", "used by bkt/corrupt-me, bkt/same-content", "missing chunk", "used by bkt/delete-me",
			"1 missing, 1 corrupt", "--repair"}},
		{"the damaged bucket", []string{"--bucket", "bkt"}, 1, []string{"checked 3 chunks", "1 missing, 1 corrupt"}},
		{"an intact bucket", []string{"--bucket", "other"}, 0, []string{"checked 1 chunks", "0 missing, 0 corrupt"}},
		{"a sample", []string{"--sample", "2"}, -1, []string{"checked 2 chunks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := runVerify(t, st, tc.args...)
			if tc.wantCode >= 0 && code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
		})
	}
	// (Until then a GET of b/corrupt-me streams the damaged bytes from disk: finding
	// that is what verify is for.)
	code, out := runVerify(t, st, "--repair")
	if code != 1 || !strings.Contains(out, "repaired from backend disk2") || !strings.Contains(out, "marked corrupt") {
		t.Errorf("verify --repair: exit %d, want 1 (one chunk could not be restored), a repair and a mark", code)
	}
	for _, key := range []string{"corrupt-me", "same-content"} {
		got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("GET repaired bkt/%s: %v", key, err)
		}
		body, err := io.ReadAll(got.Body)
		got.Body.Close()
		if err != nil || !bytes.Equal(body, contents["bkt/"+key]) {
			t.Errorf("GET repaired bkt/%s: %d bytes, %v; want the original", key, len(body), err)
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("delete-me")})
	if code := apiCode(err); code != "InternalError" || httpStatus(err) != http.StatusInternalServerError {
		t.Errorf("GET of the marked object: %v (code %q), want 500 InternalError", err, code)
	}
	// A second run: the repaired chunk is fine, the lost one still reported; exit non-zero.
	code, out = runVerify(t, st, "--repair")
	if code != 1 || !strings.Contains(out, "0 missing, 0 corrupt, 1 already marked corrupt") {
		t.Errorf("second verify --repair: exit %d", code)
	}
	// Uploading the lost content again restores the chunk: the marked object reads back.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("again"),
		Body: bytes.NewReader(contents["bkt/delete-me"])}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("delete-me")})
	if err != nil {
		t.Fatalf("GET bkt/delete-me after its content was uploaded again: %v", err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if !bytes.Equal(body, contents["bkt/delete-me"]) {
		t.Errorf("GET bkt/delete-me after re-upload: %d bytes, want the original", len(body))
	}
	if code, out := runVerify(t, st); code != 0 || !strings.Contains(out, "0 missing, 0 corrupt, 0 already marked") {
		t.Errorf("verify after the re-upload: exit %d", code)
	}
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
