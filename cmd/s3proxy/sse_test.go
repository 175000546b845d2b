package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"s3proxy/backends"
	"s3proxy/s3api"
)

const (
	sseKey1 = "k2025:" + "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	sseKey2 = "k2026:" + "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
)

// sseStack is the real graph with two local backends: "plain" (the default) and
// "vault" (encrypting, keys in a file); bucket "secure" is placed on the vault.
type sseStack struct {
	*testStack
	dir     string // holds plain/, vault/ and the key file
	keyFile string
}

func newSSEStack(t *testing.T) *sseStack {
	t.Helper()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "vault.keys")
	if err := os.WriteFile(keyFile, []byte("# vault keys\n"+sseKey1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := newStackYAML(t, fmt.Sprintf(`backends:
  - {name: plain, type: local, path: %[1]s/plain}
  - {name: vault, type: local, path: %[1]s/vault, encrypt_key_file: %[2]s}
default_backend: plain
placement:
  secure: vault
`, dir, keyFile))
	c := st.client(t, testAK, testSK)
	for _, b := range []string{"secure", "open"} {
		if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	return &sseStack{testStack: st, dir: dir, keyFile: keyFile}
}

func randData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// storeHolds reports whether any file under a backend's directory contains needle.
func storeHolds(t *testing.T, root string, needle []byte) bool {
	t.Helper()
	found := false
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, needle) {
			found = true
		}
		return nil
	})
	return found
}

func sseOf(v types.ServerSideEncryption) string { return string(v) }

func TestSSEPutGetHead(t *testing.T) {
	st := newSSEStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, size := range []int{0, 100, 20 << 10, 300 << 10} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randData(uint64(size), size)
			key := fmt.Sprintf("obj-%d", size)
			out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("secure"), Key: aws.String(key), Body: bytes.NewReader(data),
				ServerSideEncryption: types.ServerSideEncryptionAes256})
			if err != nil {
				t.Fatal(err)
			}
			if sseOf(out.ServerSideEncryption) != "AES256" {
				t.Errorf("PUT answered x-amz-server-side-encryption %q", out.ServerSideEncryption)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("secure"), Key: aws.String(key)})
			if err != nil || sseOf(head.ServerSideEncryption) != "AES256" {
				t.Fatalf("HEAD: %v, sse %q", err, head.ServerSideEncryption)
			}
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("secure"), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(get.Body)
			get.Body.Close()
			if !bytes.Equal(got, data) || sseOf(get.ServerSideEncryption) != "AES256" {
				t.Errorf("GET: %d bytes (want %d), sse %q", len(got), len(data), get.ServerSideEncryption)
			}
			if size > 10 {
				if g := mustGet(t, c, "secure", key, "bytes=5-9"); !bytes.Equal(g, data[5:10]) {
					t.Errorf("ranged GET: %x", g)
				}
				if storeHolds(t, st.dir+"/vault", data[:min(size, 64)]) || storeHolds(t, st.dir+"/plain", data[:min(size, 64)]) {
					t.Errorf("the plaintext is on disk")
				}
			}
		})
	}
	// Every object of the encrypted bucket is encrypted, header or not; the vault holds
	// blobs with the encryption header and no inline chunk was made.
	mustPut(t, c, "secure", "no-header", []byte("small and secret"))
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("secure"), Key: aws.String("no-header")})
	if err != nil || sseOf(head.ServerSideEncryption) != "AES256" {
		t.Errorf("HEAD of an object put without the header: %v, %q", err, head.ServerSideEncryption)
	}
	if storeHolds(t, st.dir+"/vault", []byte("small and secret")) {
		t.Error("plaintext in the vault")
	}
	if !storeHolds(t, st.dir+"/vault", []byte("S3PE")) {
		t.Error("no encrypted blob in the vault")
	}
	// A plain bucket's objects do not claim encryption.
	mustPut(t, c, "open", "x", []byte("open data"))
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("open"), Key: aws.String("x")})
	if err != nil || head.ServerSideEncryption != "" {
		t.Errorf("HEAD in the plain bucket: %v, sse %q", err, head.ServerSideEncryption)
	}
	if code, out := runVerify(t, st.testStack); code != 0 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
}

func TestSSERefusals(t *testing.T) {
	st := newSSEStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	put := func(bucket string, f func(*s3.PutObjectInput)) error {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("data")}
		f(in)
		_, err := c.PutObject(ctx, in)
		return err
	}
	for _, tc := range []struct {
		name, bucket string
		f            func(*s3.PutObjectInput)
		code         string
	}{
		{"AES256 on a plain bucket", "open", func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 }, "NotImplemented"},
		{"KMS on the encrypted bucket", "secure", func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKms }, "NotImplemented"},
		{"DSSE on the encrypted bucket", "secure", func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAwsKmsDsse }, "NotImplemented"},
		{"unknown algorithm", "secure", func(in *s3.PutObjectInput) { in.ServerSideEncryption = "AES128" }, "InvalidArgument"},
		{"SSE-C", "secure", func(in *s3.PutObjectInput) {
			in.SSECustomerAlgorithm = aws.String("AES256")
			in.SSECustomerKey = aws.String("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
			in.SSECustomerKeyMD5 = aws.String("9WdLmRkTEkP3NXJb6EW8yQ==")
		}, "NotImplemented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := put(tc.bucket, tc.f)
			if apiCode(err) != tc.code {
				t.Errorf("got %v, want %s", err, tc.code)
			}
		})
	}
	err := put("open", func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 })
	if !strings.Contains(err.Error(), "does not encrypt") {
		t.Errorf("refusal on a plain bucket does not say why: %v", err)
	}
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("open"), Key: aws.String("k"),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); apiCode(err) != "NotImplemented" {
		t.Errorf("multipart with SSE on a plain bucket: %v", err)
	}
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("open"), Key: aws.String("k2"), CopySource: aws.String("open/k"),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); apiCode(err) != "NotImplemented" {
		t.Errorf("copy with SSE into a plain bucket: %v", err)
	}

	// A customer key on a read or a part is refused too, never ignored: on a read as
	// S3 answers it for an object not encrypted with one (which no s3proxy object is),
	// on a part as PutObject is refused.
	const key, keyMD5 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "9WdLmRkTEkP3NXJb6EW8yQ=="
	if err := put("open", func(*s3.PutObjectInput) {}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("open"), Key: aws.String("k"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(key), SSECustomerKeyMD5: aws.String(keyMD5)})
	if apiCode(err) != "InvalidRequest" || !strings.Contains(err.Error(), "not applicable to this object") {
		t.Errorf("GET with a customer key: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("open"), Key: aws.String("k"),
		SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(key), SSECustomerKeyMD5: aws.String(keyMD5)}); err == nil {
		t.Error("HEAD with a customer key succeeded")
	}
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("open"), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("open"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		Body: strings.NewReader("part"), SSECustomerAlgorithm: aws.String("AES256"), SSECustomerKey: aws.String(key), SSECustomerKeyMD5: aws.String(keyMD5)}); apiCode(err) != "NotImplemented" {
		t.Errorf("UploadPart with a customer key: %v", err)
	}
	if _, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("open"), Key: aws.String("mp"), UploadId: up.UploadId, PartNumber: aws.Int32(1),
		CopySource: aws.String("open/k"), CopySourceSSECustomerAlgorithm: aws.String("AES256"), CopySourceSSECustomerKey: aws.String(key),
		CopySourceSSECustomerKeyMD5: aws.String(keyMD5)}); apiCode(err) != "NotImplemented" {
		t.Errorf("UploadPartCopy with a source customer key: %v", err)
	}
}

func TestSSEMultipartAndCopy(t *testing.T) {
	st := newSSEStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	part1, part2 := randData(1, 5<<20), randData(2, 1<<20)
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("secure"), Key: aws.String("mp"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil {
		t.Fatal(err)
	}
	if sseOf(cr.ServerSideEncryption) != "AES256" {
		t.Errorf("CreateMultipartUpload answered sse %q", cr.ServerSideEncryption)
	}
	var parts []types.CompletedPart
	for i, p := range [][]byte{part1, part2} {
		up, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("secure"), Key: aws.String("mp"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		if sseOf(up.ServerSideEncryption) != "AES256" {
			t.Errorf("UploadPart answered sse %q", up.ServerSideEncryption)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("secure"), Key: aws.String("mp"),
		UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		t.Fatal(err)
	}
	if sseOf(done.ServerSideEncryption) != "AES256" {
		t.Errorf("Complete answered sse %q", done.ServerSideEncryption)
	}
	whole := append(append([]byte(nil), part1...), part2...)
	if got := mustGet(t, c, "secure", "mp", ""); !bytes.Equal(got, whole) {
		t.Error("multipart object reads back wrong")
	}
	if got := mustGet(t, c, "secure", "mp", fmt.Sprintf("bytes=%d-%d", 5<<20-10, 5<<20+10)); !bytes.Equal(got, whole[5<<20-10:5<<20+11]) {
		t.Error("range across the parts reads back wrong")
	}
	if storeHolds(t, st.dir+"/vault", part2[1000:1064]) {
		t.Error("plaintext in the vault")
	}

	// Content stored in clear by a plain bucket, then copied, deduplicated or instantly
	// uploaded into the encrypted bucket: it ends up encrypted, and read the same from both.
	src := randData(3, 200<<10)
	mustPut(t, c, "open", "src", src)
	if !storeHolds(t, st.dir+"/plain", src[:64]) {
		t.Fatal("test setup: the plain backend should hold the plaintext")
	}
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("secure"), Key: aws.String("copy"), CopySource: aws.String("open/src"),
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil {
		t.Fatal(err)
	}
	if sseOf(cp.ServerSideEncryption) != "AES256" {
		t.Errorf("CopyObject answered sse %q", cp.ServerSideEncryption)
	}
	if storeHolds(t, st.dir+"/plain", src[:64]) {
		t.Error("after the copy into the encrypted bucket, the content is still in clear")
	}
	for _, k := range []string{"open/src", "secure/copy"} {
		b, key, _ := strings.Cut(k, "/")
		if got := mustGet(t, c, b, key, ""); !bytes.Equal(got, src) {
			t.Errorf("%s reads back wrong", k)
		}
	}
	dup := randData(4, 100<<10)
	mustPut(t, c, "open", "dup", dup)
	mustPut(t, c, "secure", "dup", dup)
	if storeHolds(t, st.dir+"/plain", dup[:64]) {
		t.Error("content uploaded to the encrypted bucket stays in clear because a plain bucket had it")
	}
	small := []byte("tiny inline content")
	mustPut(t, c, "open", "small", small) // inline in the metadata store
	mustPut(t, c, "secure", "small", small)
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("secure"), Key: aws.String("small")})
	if err != nil || sseOf(head.ServerSideEncryption) != "AES256" {
		t.Errorf("small object deduplicated onto an inline chunk: %v, sse %q", err, head.ServerSideEncryption)
	}
	if got := mustGet(t, c, "open", "small", ""); !bytes.Equal(got, small) {
		t.Error("the plain bucket's small object reads back wrong")
	}
	if code, out := runVerify(t, st.testStack); code != 0 {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
}

func TestSSEBucketEncryption(t *testing.T) {
	st := newSSEStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	got, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("secure")})
	if err != nil {
		t.Fatal(err)
	}
	if r := got.ServerSideEncryptionConfiguration.Rules; len(r) != 1 || r[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != types.ServerSideEncryptionAes256 {
		t.Errorf("GetBucketEncryption = %+v", got.ServerSideEncryptionConfiguration)
	}
	if _, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("open")}); apiCode(err) != "ServerSideEncryptionConfigurationNotFoundError" {
		t.Errorf("GetBucketEncryption of a plain bucket: %v", err)
	}
	cfg := func(alg types.ServerSideEncryption) *types.ServerSideEncryptionConfiguration {
		return &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: alg}}}}
	}
	for _, tc := range []struct {
		bucket string
		alg    types.ServerSideEncryption
		code   string
	}{
		{"secure", types.ServerSideEncryptionAes256, ""},
		{"secure", types.ServerSideEncryptionAwsKms, "NotImplemented"},
		{"open", types.ServerSideEncryptionAes256, "NotImplemented"},
	} {
		_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(tc.bucket), ServerSideEncryptionConfiguration: cfg(tc.alg)})
		if apiCode(err) != tc.code {
			t.Errorf("PutBucketEncryption %s %s: %v, want %q", tc.bucket, tc.alg, err, tc.code)
		}
	}
	if _, err := c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String("secure")}); err != nil {
		t.Errorf("DeleteBucketEncryption: %v", err)
	}
}

// A bucket written in clear is migrated to the encrypting backend: its objects then read
// back the same, report AES256, and nothing of them is left in clear; verify passes.
func TestSSEMigrate(t *testing.T) {
	st := newSSEStack(t)
	c := st.client(t, testAK, testSK)
	big, small := randData(5, 300<<10), []byte("small inline object")
	mustPut(t, c, "open", "big", big)
	mustPut(t, c, "open", "small", small)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"migrate", "--config", st.app.cfg.ConfigFile, "--data", st.app.cfg.Data, "--log-level", "error",
		"--to", "vault", "--bucket", "open", "--delete-delay", "0s"}, func(string) string { return "" }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "moved 2 chunks") {
		t.Errorf("migrate: %s", stdout.String())
	}
	for key, data := range map[string][]byte{"big": big, "small": small} {
		if got := mustGet(t, c, "open", key, ""); !bytes.Equal(got, data) {
			t.Errorf("%s reads back wrong after migrate", key)
		}
		head, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("open"), Key: aws.String(key)})
		if err != nil || sseOf(head.ServerSideEncryption) != "AES256" {
			t.Errorf("HEAD %s after migrate: %v, sse %q", key, err, head.ServerSideEncryption)
		}
	}
	if storeHolds(t, st.dir+"/plain", big[:64]) || storeHolds(t, st.dir+"/vault", big[:64]) {
		t.Error("plaintext left on disk after migrate")
	}
	if code, out := runVerify(t, st.testStack); code != 0 || !strings.Contains(out, "0 missing, 0 corrupt") {
		t.Errorf("verify: exit %d\n%s", code, out)
	}
	// gc works through the decorator: deleted objects' chunks, and a blob no metadata
	// names (a crash's leftover), leave the vault; nothing else does.
	mustPut(t, c, "secure", "kept", big[:100<<10])
	for _, k := range []string{"big", "small"} {
		if _, err := c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("open"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	vault := st.app.stores["vault"]
	if err := vault.Put(context.Background(), "0123456789abcdef0123456789abcdef", strings.NewReader("orphan"), 6, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"gc", "--config", st.app.cfg.ConfigFile, "--data", st.app.cfg.Data, "--log-level", "error",
		"--gc-grace", "1ns"}, func(string) string { return "" }, &stdout, &stderr); code != 0 {
		t.Fatalf("gc: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	var left []string
	_ = vault.List(context.Background(), "", func(i backends.Info) error { left = append(left, i.Key); return nil })
	if len(left) != 1 {
		t.Errorf("after gc the vault holds %d blobs, want 1 (the kept object's): %v\n%s", len(left), left, stdout.String())
	}
	if got := mustGet(t, c, "secure", "kept", ""); !bytes.Equal(got, big[:100<<10]) {
		t.Error("the kept object reads back wrong after gc")
	}
}

// Rotation: a second key is appended; a server started with both reads the objects the
// first wrote and writes with the second; one started without the first key fails those
// reads with a clean InternalError, not wrong bytes, until migrate --rekey has
// re-encrypted them under the second.
func TestSSEKeyRotation(t *testing.T) {
	st := newSSEStack(t)
	c := st.client(t, testAK, testSK)
	old := randData(6, 100<<10)
	mustPut(t, c, "secure", "old", old)

	serve := func(keys string) *s3.Client {
		if err := os.WriteFile(st.keyFile, []byte(keys), 0o600); err != nil {
			t.Fatal(err)
		}
		a := openTestApp(t, []string{"--config", st.app.cfg.ConfigFile, "--data", st.app.cfg.Data, "--log-level", "error"})
		api, err := s3api.New(s3api.Config{Service: a.svc, Credentials: []s3api.Credential{{AccessKey: testAK, SecretKey: testSK}}, Region: a.cfg.Region, Log: a.log})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(api)
		t.Cleanup(srv.Close)
		return (&testStack{url: srv.URL}).client(t, testAK, testSK)
	}
	rotated := serve(sseKey1 + "\n" + sseKey2 + "\n")
	if got := mustGet(t, rotated, "secure", "old", ""); !bytes.Equal(got, old) {
		t.Error("old object unreadable after rotation")
	}
	fresh := randData(7, 100<<10)
	mustPut(t, rotated, "secure", "new", fresh)
	withNewOnly := serve(sseKey2 + "\n")
	if got := mustGet(t, withNewOnly, "secure", "new", ""); !bytes.Equal(got, fresh) {
		t.Error("new object not written with the new key")
	}
	_, err := withNewOnly.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("secure"), Key: aws.String("old")})
	if apiCode(err) != "InternalError" {
		t.Errorf("old object without its key: %v, want InternalError", err)
	}

	// Retiring the first key: migrate --rekey re-encrypts, on the vault itself, what the
	// first key encrypted; then a server without that key reads everything.
	if err := os.WriteFile(st.keyFile, []byte(sseKey1+"\n"+sseKey2+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rekey := func(to string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"migrate", "--config", st.app.cfg.ConfigFile, "--data", st.app.cfg.Data, "--log-level", "error",
			"--to", to, "--rekey", "--delete-delay", "0s"}, func(string) string { return "" }, &stdout, &stderr)
		return code, stdout.String() + stderr.String()
	}
	for _, want := range []string{"re-encrypted 1 chunks", "re-encrypted 0 chunks"} { // the second run has nothing left to do
		code, out := rekey("vault")
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "already under the current key") {
			t.Fatalf("migrate --rekey: exit %d, want %q\n%s", code, want, out)
		}
	}
	if code, out := rekey("plain"); code == 0 || !strings.Contains(out, "does not encrypt") {
		t.Errorf("migrate --rekey of a plain backend: exit %d\n%s", code, out)
	}
	retired := serve(sseKey2 + "\n")
	for key, data := range map[string][]byte{"old": old, "new": fresh} {
		if got := mustGet(t, retired, "secure", key, ""); !bytes.Equal(got, data) {
			t.Errorf("%s unreadable with the first key retired after --rekey", key)
		}
	}
	if storeHolds(t, st.dir+"/vault", old[:64]) {
		t.Error("plaintext on disk after --rekey")
	}
	if code, out := runVerify(t, st.testStack); code != 0 || !strings.Contains(out, "0 missing, 0 corrupt") {
		t.Errorf("verify with the first key retired: exit %d\n%s", code, out)
	}
}

// A browser form upload (POST Object) asking for SSE-S3: accepted and answered on the
// encrypted bucket, refused on a plain one.
func TestSSEPostObject(t *testing.T) {
	st := newSSEStack(t)
	data := randData(8, 50<<10)
	for _, tc := range []struct {
		bucket string
		status int
	}{{"secure", http.StatusNoContent}, {"open", http.StatusNotImplemented}} {
		target, form := handPolicy(t, st.testStack, tc.bucket, "form.bin", `,{"x-amz-server-side-encryption":"AES256"}`,
			formField{"x-amz-server-side-encryption", "AES256"})
		resp, body := postForm(t, target, form, "form.bin", bytes.NewReader(data))
		if resp.StatusCode != tc.status {
			t.Fatalf("POST to %s: %d %s, want %d", tc.bucket, resp.StatusCode, body, tc.status)
		}
		if tc.status == http.StatusNoContent && resp.Header.Get("x-amz-server-side-encryption") != "AES256" {
			t.Errorf("POST answer lacks x-amz-server-side-encryption: %v", resp.Header)
		}
	}
}

// An instant upload (declared SHA-256, Expect: 100-continue) into the encrypted bucket of
// content a plain bucket stored in clear completes without the body, and the content
// is then stored encrypted.
func TestSSEInstantUpload(t *testing.T) {
	st := newSSEStack(t)
	c := st.client(t, testAK, testSK)
	data := randData(9, 200<<10)
	mustPut(t, c, "open", "src", data)
	resp, n := hashedPut(t, expectClient(t), st.url+"/secure/instant", data, true, map[string]string{"x-amz-server-side-encryption": "AES256"})
	if resp.StatusCode != 200 || resp.Header.Get("x-amz-server-side-encryption") != "AES256" {
		t.Fatalf("instant put: %d, sse %q", resp.StatusCode, resp.Header.Get("x-amz-server-side-encryption"))
	}
	if n != 0 {
		t.Errorf("instant put read %d body bytes", n)
	}
	if storeHolds(t, st.dir+"/plain", data[:64]) {
		t.Error("the content stays in clear after an instant upload into the encrypted bucket")
	}
	for _, k := range []string{"open/src", "secure/instant"} {
		b, key, _ := strings.Cut(k, "/")
		if got := mustGet(t, c, b, key, ""); !bytes.Equal(got, data) {
			t.Errorf("%s reads back wrong", k)
		}
	}
}
