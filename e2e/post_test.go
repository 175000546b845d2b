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
	"time"

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

// TestMCSharePost: `mc share upload` prints a curl command carrying a POST policy, for
// one key and for a prefix (the key then names the file); curl sends it as someone
// without keys would, and the object lands intact. A form for another key than the
// policy names is refused.
func TestMCSharePost(t *testing.T) {
	s := startServer(t, serverOptions{})
	mc := newMC(t, s, s.cred)
	mc.run("mb", "s3p/post-mc")
	path, sum := writeRandomFile(t, t.TempDir(), "f.bin", 41, 5*MiB+3)
	c := s3Client(s, s.cred)
	for _, tc := range []struct {
		name, target, key string
		recursive         bool
	}{
		{"one key", "s3p/post-mc/one/f.bin", "one/f.bin", false},
		{"prefix", "s3p/post-mc/pre/", "pre/named.bin", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"share", "upload", "--json"} // the default lifetime, 7 days: the longest a form may live
			if tc.recursive {
				args = append(args, "--recursive")
			}
			var res struct{ Status, Share string }
			mustJSON(t, lastLine(mc.run(append(args, tc.target)...)), &res)
			words := strings.Fields(res.Share)
			if res.Status != "success" || len(words) < 3 || words[0] != "curl" {
				t.Fatalf("mc share upload: %+v", res)
			}
			for i, w := range words {
				w = strings.ReplaceAll(w, "<FILE>", path)
				words[i] = strings.ReplaceAll(w, "<NAME>", "named.bin")
			}
			code := runTool(t, time.Minute, childEnv(), "", "curl", append(words[1:], "-sS", "-o", "/dev/null", "-w", "%{http_code}")...)
			if code != "204" {
				t.Fatalf("curl POST: HTTP %s", code)
			}
			got, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("post-mc"), Key: aws.String(tc.key)})
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			_, err = io.Copy(h, got.Body)
			got.Body.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != sum {
				t.Errorf("%s reads back different (%v)", tc.key, err)
			}
			if tc.recursive {
				return
			}
			// The same signed form cannot be pointed at another key.
			for i, w := range words {
				if w == "key=one/f.bin" {
					words[i] = "key=one/other.bin"
				}
			}
			out := runTool(t, time.Minute, childEnv(), "", "curl", append(words[1:], "-sS", "-w", "\n%{http_code}")...)
			if !strings.HasSuffix(out, "\n403") || !strings.Contains(out, "<Code>AccessDenied</Code>") {
				t.Errorf("a form for another key: %s", out)
			}
		})
	}
}

// TestJSPresignedPost: the JavaScript SDK's createPresignedPost, sent as a web page
// sends it (fetch with FormData): the object lands under the file's name with the
// form's Content-Type, and the same form with a type its policy does not allow is
// refused with nothing stored.
func TestJSPresignedPost(t *testing.T) {
	s := startServer(t, serverOptions{})
	ctx := context.Background()
	c := s3Client(s, s.cred)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("post-js")}); err != nil {
		t.Fatal(err)
	}
	path, sum := writeRandomFile(t, t.TempDir(), "pic.png", 43, 2*MiB+5)
	var res struct {
		Status    int    `json:"status"`
		ETag      string `json:"etag"`
		Body      string `json:"body"`
		BadStatus int    `json:"bad_status"`
		BadBody   string `json:"bad_body"`
	}
	mustJSON(t, lastLine(runScript(t, "node", s, s.cred, "js_post.cjs", nil, "post-js", path)), &res)
	var pr struct{ Bucket, Key, ETag string }
	if res.Status != 201 || xml.Unmarshal([]byte(res.Body), &pr) != nil || pr.Key != "web/pic.png" || pr.ETag != res.ETag {
		t.Fatalf("POST: %d ETag %s %s", res.Status, res.ETag, res.Body)
	}
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("post-js"), Key: aws.String("web/pic.png")})
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, err = io.Copy(h, got.Body)
	got.Body.Close()
	if err != nil || hex.EncodeToString(h.Sum(nil)) != sum || aws.ToString(got.ContentType) != "image/png" {
		t.Errorf("web/pic.png reads back different (%v) or as %q", err, aws.ToString(got.ContentType))
	}
	if res.BadStatus != 403 || !strings.Contains(res.BadBody, "<Code>AccessDenied</Code>") || !strings.Contains(res.BadBody, "Policy Condition failed") {
		t.Errorf("a Content-Type outside the policy: %d %s", res.BadStatus, res.BadBody)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("post-js"), Key: aws.String("web/page.html")}); err == nil {
		t.Error("the refused upload was stored")
	}
}
