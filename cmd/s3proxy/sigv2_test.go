package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7/pkg/signer"
)

// v2Do sends a request signed with minio-go's SigV2 header signer.
func v2Do(t *testing.T, method, url string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(signer.SignV2(*req, testAK, testSK, false))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func v2Presign(t *testing.T, method, url string) string {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	return signer.PreSignV2(*req, testAK, testSK, 600, false).URL.String()
}

func plainDo(t *testing.T, method, url string, body []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSigV2: header-signed SigV2 requests and SigV2 presigned URLs (minio-go's
// signer) work end to end on the real stack, and a SigV2 POST form uploads.
func TestSigV2(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("sig-v2")}); err != nil {
		t.Fatal(err)
	}
	base := st.url + "/sig-v2"
	data := []byte("signature version two")

	if code, body := v2Do(t, "PUT", base+"/hdr/a%20b.txt", data); code != 200 {
		t.Fatalf("SigV2 PUT: %d %s", code, body)
	}
	if code, body := v2Do(t, "GET", base+"/hdr/a%20b.txt", nil); code != 200 || body != string(data) {
		t.Fatalf("SigV2 GET: %d %q", code, body)
	}
	if code, body := v2Do(t, "GET", base+"?prefix=hdr/", nil); code != 200 || !strings.Contains(body, "<Key>hdr/a b.txt</Key>") {
		t.Fatalf("SigV2 ListObjects: %d %s", code, body)
	}
	if code, body := v2Do(t, "GET", base+"/hdr/a%20b.txt?tagging", nil); code != 200 || !strings.Contains(body, "<Tagging") {
		t.Fatalf("SigV2 GetObjectTagging (a signed sub-resource): %d %s", code, body)
	}
	if code, body := v2Do(t, "DELETE", base+"/hdr/a%20b.txt", nil); code != 204 {
		t.Fatalf("SigV2 DELETE: %d %s", code, body)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sig-v2"), Key: aws.String("hdr/a b.txt")}); err == nil {
		t.Fatal("object still there after the SigV2 DELETE")
	}

	// Presigned PUT then GET, with plain HTTP clients that know no signing.
	if code, body := plainDo(t, "PUT", v2Presign(t, "PUT", base+"/pre/k"), data); code != 200 {
		t.Fatalf("presigned PUT: %d %s", code, body)
	}
	if code, body := plainDo(t, "GET", v2Presign(t, "GET", base+"/pre/k"), nil); code != 200 || body != string(data) {
		t.Fatalf("presigned GET: %d %q", code, body)
	}
	tampered := strings.Replace(v2Presign(t, "GET", base+"/pre/k"), "/pre/k", "/pre/other", 1)
	if code, body := plainDo(t, "GET", tampered, nil); code != 403 || !strings.Contains(body, "SignatureDoesNotMatch") || !strings.Contains(body, "<StringToSign>") {
		t.Fatalf("presigned URL for another key: %d %s", code, body)
	}

	// A SigV2 POST form.
	policy := base64.StdEncoding.EncodeToString([]byte(`{"expiration":"` + time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z") +
		`","conditions":[{"bucket":"sig-v2"},["starts-with","$key","form/"]]}`))
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range [][2]string{{"key", "form/${filename}"}, {"AWSAccessKeyId", testAK}, {"policy", policy}, {"signature", signer.PostPresignSignatureV2(policy, testSK)}} {
		_ = mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("file", "f.txt")
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", base, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("SigV2 POST form: %d", resp.StatusCode)
	}
	if code, body := v2Do(t, "GET", base+"/form/f.txt", nil); code != 200 || body != string(data) {
		t.Fatalf("GET of the form's upload: %d %q", code, body)
	}
}

// TestSigV2Off: with --sigv2=false every SigV2 form is UnsupportedSignature.
func TestSigV2Off(t *testing.T) {
	st := newStack(t, "--sigv2=false")
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("sig-v2")}); err != nil {
		t.Fatal(err)
	}
	if code, body := v2Do(t, "PUT", st.url+"/sig-v2/k", []byte("x")); code != 400 || !strings.Contains(body, "UnsupportedSignature") {
		t.Errorf("SigV2 PUT: %d %s", code, body)
	}
	if code, body := plainDo(t, "GET", v2Presign(t, "GET", st.url+"/sig-v2/k"), nil); code != 400 || !strings.Contains(body, "UnsupportedSignature") {
		t.Errorf("SigV2 presigned GET: %d %s", code, body)
	}
}
