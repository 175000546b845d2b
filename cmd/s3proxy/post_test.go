package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/signer"

	"s3proxy/backends"
)

// presignPost builds a POST policy with minio-go's PresignedPostPolicy (bucket, key,
// an hour's expiry, then whatever set adds) and returns the form's URL and fields.
func presignPost(t *testing.T, st *testStack, ak, sk, bucket, key string, set func(p *minio.PostPolicy)) (string, map[string]string) {
	t.Helper()
	u, _ := url.Parse(st.url)
	mc, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	p := minio.NewPostPolicy()
	must(t, p.SetBucket(bucket))
	must(t, p.SetKey(key))
	must(t, p.SetExpires(time.Now().UTC().Add(time.Hour)))
	if set != nil {
		set(p)
	}
	target, fields, err := mc.PresignedPostPolicy(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return target.String(), fields
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// formField is one field of a form, in order.
type formField struct{ name, value string }

// postForm sends a multipart/form-data POST written by mime/multipart as it is sent
// (io.Pipe: the file is never held in memory): fields, then the file part, then
// after fields. The redirect of a 303 is not followed.
func postForm(t *testing.T, target string, fields []formField, filename string, file io.Reader, after ...formField) (*http.Response, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, f := range fields {
				if err := mw.WriteField(f.name, f.value); err != nil {
					return err
				}
			}
			if file != nil {
				w, err := mw.CreateFormFile("file", filename)
				if err != nil {
					return err
				}
				if _, err := io.Copy(w, file); err != nil {
					return err
				}
			}
			for _, f := range after {
				if err := mw.WriteField(f.name, f.value); err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, target, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// ordered turns presigned fields into a form, in a fixed order, with extra fields.
func ordered(fields map[string]string, extra ...formField) []formField {
	var out []formField
	for _, k := range []string{"key", "bucket", "Content-Type", "policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} {
		if v, ok := fields[k]; ok {
			out = append(out, formField{k, v})
		}
	}
	for k, v := range fields {
		switch k {
		case "key", "bucket", "Content-Type", "policy", "x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature":
		default:
			out = append(out, formField{k, v})
		}
	}
	return append(out, extra...)
}

func blobCount(t *testing.T, st *testStack) int {
	t.Helper()
	n := 0
	for _, s := range st.app.stores {
		if err := s.List(context.Background(), "", func(backends.Info) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func errorCode(body string) string {
	code, _ := errorOf(body)
	return code
}

func errorOf(body string) (code, message string) {
	var e struct{ Code, Message string }
	_ = xml.Unmarshal([]byte(body), &e)
	return e.Code, e.Message
}

func TestPostObject(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("forms")}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("form upload "), 20000) // 240,000 bytes: a blob, not inline
	sum := md5.Sum(data)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	// A policy from minio-go with metadata, content type and a length range; the form
	// from mime/multipart.
	target, fields := presignPost(t, st, testAK, testSK, "forms", "docs/a.txt", func(p *minio.PostPolicy) {
		must(t, p.SetContentType("text/plain"))
		must(t, p.SetUserMetadata("owner", "ann"))
		must(t, p.SetContentLengthRange(1, 1<<20))
	})
	before := blobCount(t, st)
	resp, body := postForm(t, target, ordered(fields), "a.txt", bytes.NewReader(data))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("ETag") != etag {
		t.Fatalf("POST: %d ETag %s, want 204 %s: %s", resp.StatusCode, resp.Header.Get("ETag"), etag, body)
	}
	if got := mustGet(t, c, "forms", "docs/a.txt", ""); !bytes.Equal(got, data) {
		t.Fatal("the object reads back different")
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String("docs/a.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(head.ContentType) != "text/plain" || head.Metadata["owner"] != "ann" || aws.ToString(head.ETag) != etag {
		t.Errorf("stored as %q %v %s", aws.ToString(head.ContentType), head.Metadata, aws.ToString(head.ETag))
	}
	if n := blobCount(t, st); n != before+1 {
		t.Errorf("%d blobs after one upload, had %d", n, before)
	}

	// The same content again, under another key: deduplicated, no new blob.
	target, fields = presignPost(t, st, testAK, testSK, "forms", "docs/copy.txt", nil)
	if resp, body := postForm(t, target, ordered(fields), "copy.txt", bytes.NewReader(data)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("second POST: %d %s", resp.StatusCode, body)
	}
	if n := blobCount(t, st); n != before+1 {
		t.Errorf("stored content was written again: %d blobs, want %d", n, before+1)
	}
	if got := mustGet(t, c, "forms", "docs/copy.txt", ""); !bytes.Equal(got, data) {
		t.Fatal("the deduplicated object reads back different")
	}

	// Virtual-host style: the bucket in the Host header.
	target, fields = presignPost(t, st, testAK, testSK, "forms", "vhost.txt", nil)
	u, _ := url.Parse(target)
	req := func() *http.Request {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range ordered(fields) {
			must(t, mw.WriteField(f.name, f.value))
		}
		w, _ := mw.CreateFormFile("file", "v.txt")
		_, _ = w.Write([]byte("virtual"))
		must(t, mw.Close())
		r, _ := http.NewRequest(http.MethodPost, "http://"+u.Host+"/", &buf)
		r.Host = "forms.localhost"
		r.Header.Set("Content-Type", mw.FormDataContentType())
		return r
	}()
	vresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	vresp.Body.Close()
	if vresp.StatusCode != http.StatusNoContent || vresp.Header.Get("Location") != "http://forms.localhost/vhost.txt" {
		t.Fatalf("virtual-host POST: %d Location %q", vresp.StatusCode, vresp.Header.Get("Location"))
	}
	if got := mustGet(t, c, "forms", "vhost.txt", ""); string(got) != "virtual" {
		t.Fatalf("virtual-host object: %q", got)
	}
}

func TestPostObjectResponses(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("resp")}); err != nil {
		t.Fatal(err)
	}
	content := []byte("hello form")
	sum := md5.Sum(content)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	// 201: a PostResponse document.
	target, fields := presignPost(t, st, testAK, testSK, "resp", "created.txt", func(p *minio.PostPolicy) {
		must(t, p.SetSuccessStatusAction("201"))
	})
	resp, body := postForm(t, target, ordered(fields), "x", bytes.NewReader(content))
	var pr struct {
		XMLName                     xml.Name `xml:"PostResponse"`
		Location, Bucket, Key, ETag string
	}
	if resp.StatusCode != http.StatusCreated || xml.Unmarshal([]byte(body), &pr) != nil {
		t.Fatalf("201: %d %s", resp.StatusCode, body)
	}
	if pr.Bucket != "resp" || pr.Key != "created.txt" || pr.ETag != etag || pr.Location != st.url+"/resp/created.txt" {
		t.Errorf("PostResponse %+v", pr)
	}

	// 200: empty.
	target, fields = presignPost(t, st, testAK, testSK, "resp", "ok.txt", func(p *minio.PostPolicy) {
		must(t, p.SetSuccessStatusAction("200"))
	})
	if resp, body := postForm(t, target, ordered(fields), "x", bytes.NewReader(content)); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("200: %d %q", resp.StatusCode, body)
	}

	// A redirect: 303 to the URL with bucket, key and etag added.
	target, fields = presignPost(t, st, testAK, testSK, "resp", "redirected.txt", func(p *minio.PostPolicy) {
		must(t, p.SetSuccessActionRedirect("https://app.example.com/done?from=form"))
	})
	resp, body = postForm(t, target, ordered(fields), "x", bytes.NewReader(content))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("redirect: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "app.example.com" || loc.Path != "/done" {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
	if q := loc.Query(); q.Get("from") != "form" || q.Get("bucket") != "resp" || q.Get("key") != "redirected.txt" || q.Get("etag") != etag {
		t.Errorf("redirect query %v", q)
	}
	if got := mustGet(t, c, "resp", "redirected.txt", ""); !bytes.Equal(got, content) {
		t.Error("redirected upload not stored")
	}

	// ${filename}: the key takes the file's name; the policy bounds it by prefix.
	target, form := handPolicy(t, st, "resp", "uploads/${filename}", "")
	if resp, body := postForm(t, target, form, "photo.jpg", bytes.NewReader(content)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("${filename}: %d %s", resp.StatusCode, body)
	}
	if got := mustGet(t, c, "resp", "uploads/photo.jpg", ""); !bytes.Equal(got, content) {
		t.Error("${filename} upload not stored under the file's name")
	}

	// Tags, as a Tagging document in the form.
	target, fields = presignPost(t, st, testAK, testSK, "resp", "tagged.txt", func(p *minio.PostPolicy) {
		must(t, p.SetTagging(`<Tagging><TagSet><Tag><Key>team</Key><Value>blue</Value></Tag></TagSet></Tagging>`))
	})
	if resp, body := postForm(t, target, ordered(fields), "x", bytes.NewReader(content)); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("tagging: %d %s", resp.StatusCode, body)
	}
	tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("resp"), Key: aws.String("tagged.txt")})
	if err != nil || len(tg.TagSet) != 1 || aws.ToString(tg.TagSet[0].Key) != "team" || aws.ToString(tg.TagSet[0].Value) != "blue" {
		t.Errorf("tags %v %v", tg, err)
	}

	// Fields after the file are ignored, as S3 ignores them (they are not even read).
	target, fields = presignPost(t, st, testAK, testSK, "resp", "after.txt", nil)
	if resp, body := postForm(t, target, ordered(fields), "x", bytes.NewReader(content), formField{"x-amz-meta-late", "1"}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("field after file: %d %s", resp.StatusCode, body)
	}

	// CORS: an allowed origin reads the answer and its Location.
	cst := newStack(t, "--cors-origins", "https://app.example.com")
	cc := cst.client(t, testAK, testSK)
	if _, err := cc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("cors")}); err != nil {
		t.Fatal(err)
	}
	target, fields = presignPost(t, cst, testAK, testSK, "cors", "c.txt", nil)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range ordered(fields) {
		must(t, mw.WriteField(f.name, f.value))
	}
	w, _ := mw.CreateFormFile("file", "c.txt")
	_, _ = w.Write(content)
	must(t, mw.Close())
	r, _ := http.NewRequest(http.MethodPost, target, &buf)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Origin", "https://app.example.com")
	cresp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	cresp.Body.Close()
	if cresp.StatusCode != http.StatusNoContent || cresp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
		!strings.Contains(cresp.Header.Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("CORS POST: %d %v", cresp.StatusCode, cresp.Header)
	}
}

// TestPostObjectRefusals: every refusal stores nothing and answers S3's code.
func TestPostObjectRefusals(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, b := range []string{"refuse", "theirs"} {
		cl := c
		if b == "theirs" {
			cl = st.client(t, otherAK, otherSK)
		}
		if _, err := cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	small := []byte("0123456789")
	big := bytes.Repeat([]byte("x"), 100<<10)
	sign := func(bucket, key string, set func(p *minio.PostPolicy)) (string, map[string]string) {
		return presignPost(t, st, testAK, testSK, bucket, key, set)
	}
	cases := []struct {
		name   string
		form   func() (string, []formField)
		file   []byte
		status int
		code   string
		msg    string
	}{
		{"too large for content-length-range", func() (string, []formField) {
			u, f := sign("refuse", "k1", func(p *minio.PostPolicy) { must(t, p.SetContentLengthRange(1, 1000)) })
			return u, ordered(f)
		}, big, 400, "EntityTooLarge", ""},
		{"too small for content-length-range", func() (string, []formField) {
			u, f := sign("refuse", "k2", func(p *minio.PostPolicy) { must(t, p.SetContentLengthRange(100, 1000)) })
			return u, ordered(f)
		}, small, 400, "EntityTooSmall", ""},
		{"wrong signature", func() (string, []formField) {
			u, f := sign("refuse", "k3", nil)
			f["x-amz-signature"] = strings.Repeat("0", 64)
			return u, ordered(f)
		}, small, 403, "SignatureDoesNotMatch", ""},
		{"signed with another secret", func() (string, []formField) {
			u, f := presignPost(t, st, testAK, "not-the-secret", "refuse", "k4", nil)
			return u, ordered(f)
		}, small, 403, "SignatureDoesNotMatch", ""},
		{"unknown access key", func() (string, []formField) {
			u, f := presignPost(t, st, "AKIAUNKNOWN", testSK, "refuse", "k5", nil)
			return u, ordered(f)
		}, small, 403, "InvalidAccessKeyId", ""},
		{"expired", func() (string, []formField) {
			u, f := sign("refuse", "k6", func(p *minio.PostPolicy) { must(t, p.SetExpires(time.Now().UTC().Add(-time.Minute))) })
			return u, ordered(f)
		}, small, 403, "AccessDenied", "Policy expired"},
		{"extra field", func() (string, []formField) {
			u, f := sign("refuse", "k7", nil)
			return u, ordered(f, formField{"x-amz-meta-sneaky", "1"})
		}, small, 403, "AccessDenied", "Extra input fields: x-amz-meta-sneaky"},
		{"key not the signed one", func() (string, []formField) {
			u, f := sign("refuse", "k8", nil)
			f["key"] = "elsewhere"
			return u, ordered(f)
		}, small, 403, "AccessDenied", `Policy Condition failed: ["eq", "$key", "k8"]`},
		{"policy for another bucket", func() (string, []formField) {
			_, f := sign("theirs", "k9", nil)
			u, _ := sign("refuse", "k9", nil)
			delete(f, "bucket")
			return u, ordered(f)
		}, small, 403, "AccessDenied", `Policy Condition failed: ["eq", "$bucket", "theirs"]`},
		{"another credential's bucket", func() (string, []formField) {
			u, f := sign("theirs", "k10", nil)
			return u, ordered(f)
		}, small, 403, "AccessDenied", ""},
		{"public ACL", func() (string, []formField) {
			return handPolicy(t, st, "refuse", "k12", `,{"acl":"public-read"}`, formField{"acl", "public-read"})
		}, small, 400, "AccessControlListNotSupported", ""},
		{"object lock", func() (string, []formField) {
			u, f := sign("refuse", "k13", func(p *minio.PostPolicy) { must(t, p.SetUserData("object-lock-mode", "GOVERNANCE")) })
			return u, ordered(f)
		}, small, 400, "InvalidArgument", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied."},
		{"checksum mismatch", func() (string, []formField) {
			u, f := sign("refuse", "k14", func(p *minio.PostPolicy) {
				must(t, p.SetChecksum(minio.NewChecksum(minio.ChecksumCRC32C, []byte{1, 2, 3, 4})))
			})
			return u, ordered(f)
		}, small, 400, "BadDigest", ""},
		{"xxhash3 mismatch", func() (string, []formField) {
			return handPolicy(t, st, "refuse", "k22", `,["starts-with","$x-amz-checksum-xxhash3",""]`, formField{"x-amz-checksum-xxhash3", "LQaABTjTlMI="})
		}, small, 400, "BadDigest", "The XXHASH3 you specified did not match the calculated checksum."},
		{"malformed md5 checksum", func() (string, []formField) {
			return handPolicy(t, st, "refuse", "k23", `,["starts-with","$x-amz-checksum-md5",""]`, formField{"x-amz-checksum-md5", "invalid"})
		}, small, 400, "InvalidRequest", "Value for x-amz-checksum-md5 header is invalid."},
		{"unknown checksum algorithm", func() (string, []formField) {
			return handPolicy(t, st, "refuse", "k24", `,["starts-with","$x-amz-checksum-crc16",""]`, formField{"x-amz-checksum-crc16", "AAA="})
		}, small, 400, "InvalidRequest", "The algorithm type you specified in x-amz-checksum- header is invalid."},
		{"Content-MD5 mismatch", func() (string, []formField) {
			return handPolicy(t, st, "refuse", "k15", `,["starts-with","$Content-MD5",""]`, formField{"Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="})
		}, small, 400, "BadDigest", ""},
		{"no key", func() (string, []formField) {
			u, f := sign("refuse", "k16", nil)
			delete(f, "key")
			return u, ordered(f)
		}, small, 400, "InvalidArgument", "Bucket POST must contain a field named 'key'."},
		{"anonymous", func() (string, []formField) {
			u, _ := sign("refuse", "k18", nil)
			return u, []formField{{"key", "k18"}}
		}, small, 403, "AccessDenied", ""},
		{"signature version 2", func() (string, []formField) {
			u, _ := sign("refuse", "k19", nil)
			return u, []formField{{"key", "k19"}, {"AWSAccessKeyId", testAK}, {"policy", "e30="}, {"signature", "abc"}}
		}, small, 403, "SignatureDoesNotMatch", ""},
		{"fields over 20 KiB", func() (string, []formField) {
			u, f := sign("refuse", "k20", nil)
			return u, ordered(f, formField{"x-ignore-padding", strings.Repeat("p", 21<<10)})
		}, small, 400, "MaxPostPreDataLengthExceededError", ""},
		{"no file", func() (string, []formField) {
			u, f := sign("refuse", "k21", nil)
			return u, ordered(f)
		}, nil, 400, "IncorrectNumberOfFilesInPostRequest", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := blobCount(t, st)
			target, form := tc.form()
			var file io.Reader
			if tc.file != nil {
				file = bytes.NewReader(tc.file)
			}
			resp, body := postForm(t, target, form, "f.txt", file)
			if code, msg := errorOf(body); resp.StatusCode != tc.status || code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Fatalf("got %d %s, want %d %s %q", resp.StatusCode, body, tc.status, tc.code, tc.msg)
			}
			if n := blobCount(t, st); n != before {
				t.Errorf("a refused POST left %d blobs (had %d)", n, before)
			}
			list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("refuse")})
			if err != nil || len(list.Contents) != 0 {
				t.Errorf("a refused POST stored an object: %v %v", list, err)
			}
		})
	}

	// A key after the file is never read: S3's hint names the order of the fields.
	target, fields := sign("refuse", "late", nil)
	delete(fields, "key")
	if resp, body := postForm(t, target, ordered(fields), "f", bytes.NewReader(small), formField{"key", "late"}); resp.StatusCode != 400 ||
		!strings.Contains(body, "please check the order of the fields") {
		t.Errorf("key after the file: %d %s", resp.StatusCode, body)
	}
	// A bucket that does not exist: NoSuchBucket, as PutObject answers.
	target, fields = sign("missing", "k", nil)
	if resp, body := postForm(t, target, ordered(fields), "f", bytes.NewReader(small)); resp.StatusCode != 404 || errorCode(body) != "NoSuchBucket" {
		t.Errorf("missing bucket: %d %s", resp.StatusCode, body)
	}
	// Not a form at all.
	req, _ := http.NewRequest(http.MethodPost, st.url+"/refuse", strings.NewReader("key=k"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || errorCode(string(b)) != "RequestIsNotMultiPartContent" {
		t.Errorf("urlencoded POST: %d %s", resp.StatusCode, b)
	}
	// A private ACL is what every object has: accepted.
	target, form := handPolicy(t, st, "refuse", "private", `,{"acl":"private"}`, formField{"acl", "private"})
	if resp, body := postForm(t, target, form, "f", bytes.NewReader(small)); resp.StatusCode != http.StatusNoContent {
		t.Errorf("private ACL: %d %s", resp.StatusCode, body)
	}
}

// TestPostObjectStreams: a 64 MiB file, generated while it is sent, is stored
// without the server holding it: the heap stays far below the file's size.
func TestPostObjectStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MiB upload")
	}
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("big")}); err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	target, fields := presignPost(t, st, testAK, testSK, "big", "big.bin", func(p *minio.PostPolicy) {
		must(t, p.SetContentLengthRange(size, size))
	})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
		}
	}()
	h := md5.New()
	src := io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{7}), size), h)
	resp, body := postForm(t, target, ordered(fields), "big.bin", src)
	close(stop)
	<-done
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	if want := `"` + hex.EncodeToString(h.Sum(nil)) + `"`; resp.Header.Get("ETag") != want {
		t.Errorf("ETag %s, want %s", resp.Header.Get("ETag"), want)
	}
	grew := int64(peak.Load()) - int64(base)
	t.Logf("heap in use grew by at most %d KiB during a %d MiB POST", grew>>10, size>>20)
	if grew > 24<<20 {
		t.Errorf("heap grew by %d MiB during a %d MiB POST: the file is being buffered", grew>>20, size>>20)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	g := md5.New()
	n, err := io.Copy(g, out.Body)
	out.Body.Close()
	if err != nil || n != size || !bytes.Equal(g.Sum(nil), h.Sum(nil)) {
		t.Errorf("read back %d bytes (%v), digest match %v", n, err, bytes.Equal(g.Sum(nil), h.Sum(nil)))
	}
}

// handPolicy signs a policy minio-go cannot write (conditions on acl, Content-MD5, a
// key with ${filename}): bucket, the key's prefix (up to ${filename}) and the
// signature fields, plus conds (JSON, each with a leading comma), with minio-go's
// POST signer; extra are the fields the conditions name.
func handPolicy(t *testing.T, st *testStack, bucket, key, conds string, extra ...formField) (string, []formField) {
	t.Helper()
	now := time.Now().UTC()
	cred := testAK + "/" + now.Format("20060102") + "/us-east-1/s3/aws4_request"
	date := now.Format("20060102T150405Z")
	prefix, _, _ := strings.Cut(key, "${filename}")
	policy := fmt.Sprintf(`{"expiration":%q,"conditions":[{"bucket":%q},["starts-with","$key",%q],{"x-amz-algorithm":"AWS4-HMAC-SHA256"},{"x-amz-credential":%q},{"x-amz-date":%q}%s]}`,
		now.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), bucket, prefix, cred, date, conds)
	b64 := base64.StdEncoding.EncodeToString([]byte(policy))
	form := []formField{{"key", key}, {"policy", b64}, {"x-amz-algorithm", "AWS4-HMAC-SHA256"}, {"x-amz-credential", cred},
		{"x-amz-date", date}, {"x-amz-signature", signer.PostPresignSignatureV4(b64, now, testSK, "us-east-1")}}
	return st.url + "/" + bucket, append(form, extra...)
}

// TestPostObjectUndeclaredLength: a form's file declares no length. A small one is
// stored inline as a small PutObject is (no blob), and a large one is refused at the
// server's largest object size while it streams, with nothing left behind.
func TestPostObjectUndeclaredLength(t *testing.T) {
	st := newStack(t, "--max-object-size", "1MiB")
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("forms")}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		size      int
		status    int
		code      string
		blobsMade int
	}{
		{"small, inline", 3000, http.StatusNoContent, "", 0},
		{"larger than the inline limit", 64 << 10, http.StatusNoContent, "", 1},
		{"exactly the largest object", 1 << 20, http.StatusNoContent, "", 1},
		{"over the largest object", 1<<20 + 1, http.StatusBadRequest, "EntityTooLarge", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("n/%d", tc.size)
			data := bytes.Repeat([]byte{byte(tc.size)}, tc.size)
			copy(data, key) // distinct content per case: no deduplication between them
			target, fields := presignPost(t, st, testAK, testSK, "forms", key, nil)
			before := blobCount(t, st)
			resp, body := postForm(t, target, ordered(fields), "f", bytes.NewReader(data))
			if resp.StatusCode != tc.status || errorCode(body) != tc.code {
				t.Fatalf("POST of %d bytes: %d %s, want %d %s", tc.size, resp.StatusCode, body, tc.status, tc.code)
			}
			if n := blobCount(t, st); n != before+tc.blobsMade {
				t.Errorf("%d new blobs, want %d", n-before, tc.blobsMade)
			}
			if tc.code != "" {
				if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String(key)}); err == nil {
					t.Error("the refused upload was stored")
				}
				return
			}
			if got := mustGet(t, c, "forms", key, ""); !bytes.Equal(got, data) {
				t.Error("the object reads back different")
			}
		})
	}
}

// TestPostRefusalReadsToTheEnd: a form refused after its fields (here a key outside
// the policy) while the client is still sending the file. The client writes the whole
// request before it reads (as curl does when its 100-continue wait runs out): the
// gateway must take the rest of the body and let the client read its answer, not
// close with bytes unread, which makes the kernel reset the connection and the client
// lose the answer (curl: "Connection reset by peer").
func TestPostRefusalReadsToTheEnd(t *testing.T) {
	st := newStack(t)
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("drain")}); err != nil {
		t.Fatal(err)
	}
	target, f := presignPost(t, st, testAK, testSK, "drain", "signed", nil)
	f["key"] = "elsewhere"
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, ff := range ordered(f) {
		must(t, mw.WriteField(ff.name, ff.value))
	}
	w, err := mw.CreateFormFile("file", "f.bin")
	must(t, err)
	_, err = w.Write(bytes.Repeat([]byte("z"), 24<<20)) // far more than the socket buffers hold
	must(t, err)
	must(t, mw.Close())
	u, _ := url.Parse(target)
	conn, err := net.Dial("tcp", u.Host)
	must(t, err)
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	sent := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
			u.RequestURI(), u.Host, mw.FormDataContentType(), body.Len())
		if err == nil {
			_, err = conn.Write(body.Bytes())
		}
		sent <- err
	}()
	// Like curl, the client finishes sending before it reads the answer.
	if err := <-sent; err != nil {
		t.Fatalf("sending the form: %v (the gateway closed with the body unread)", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if code, msg := errorOf(string(b)); resp.StatusCode != 403 || code != "AccessDenied" || !strings.Contains(msg, "Policy Condition failed") {
		t.Fatalf("answer %d %s %s", resp.StatusCode, code, msg)
	}
}
