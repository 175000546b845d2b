package e2e

import (
	"context"
	"encoding/xml"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// postBucket starts a server with a bucket for a POST test and returns its client.
func postBucket(t *testing.T, bucket string) (*server, *s3.Client) {
	t.Helper()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return s, c
}

// readBack GETs a POSTed object and fails unless its bytes hash to sum.
func readBack(t *testing.T, c *s3.Client, bucket, key, sum string) *s3.GetObjectOutput {
	t.Helper()
	got, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := readerSHA256(got.Body)
	got.Body.Close()
	if err != nil || h != sum {
		t.Errorf("%s reads back different (%v)", key, err)
	}
	return got
}

// TestBoto3PresignedPost: boto3's generate_presigned_post, sent by Python's standard
// library as a browser would send the form; the object lands with its metadata under
// the file's name, the 201 document names it, and a file over the policy's
// content-length-range is refused with nothing stored.
func TestBoto3PresignedPost(t *testing.T) {
	t.Parallel()
	s, c := postBucket(t, "post-boto3")
	ctx := context.Background()
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
	got := readBack(t, c, "post-boto3", key, sum)
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
	t.Parallel()
	s, c := postBucket(t, "post-mc")
	mc := newMC(t, s, s.cred)
	path, sum := writeRandomFile(t, t.TempDir(), "f.bin", 41, 5*MiB+3)
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
			readBack(t, c, "post-mc", tc.key, sum)
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
	t.Parallel()
	s, c := postBucket(t, "post-js")
	ctx := context.Background()
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
	if got := readBack(t, c, "post-js", "web/pic.png", sum); aws.ToString(got.ContentType) != "image/png" {
		t.Errorf("web/pic.png stored as %q", aws.ToString(got.ContentType))
	}
	if res.BadStatus != 403 || !strings.Contains(res.BadBody, "<Code>AccessDenied</Code>") || !strings.Contains(res.BadBody, "Policy Condition failed") {
		t.Errorf("a Content-Type outside the policy: %d %s", res.BadStatus, res.BadBody)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("post-js"), Key: aws.String("web/page.html")}); err == nil {
		t.Error("the refused upload was stored")
	}
}
