package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/cespare/xxhash/v2"
	"github.com/zeebo/xxh3"
)

// allAlgorithms are S3's checksum algorithms, those the SDK computes itself and those
// (MD5, the xxHash family) whose values a client must compute and send.
var allAlgorithms = []types.ChecksumAlgorithm{
	types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmCrc64nvme,
	types.ChecksumAlgorithmMd5, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmSha512,
	types.ChecksumAlgorithmXxhash64, types.ChecksumAlgorithmXxhash3, types.ChecksumAlgorithmXxhash128,
}

// newHash is the test's own hash of an algorithm: the standard library's CRCs and SHAs
// (CRC64NVME from hash/crc64 with the NVMe polynomial, not the server's library) and
// the xxHash libraries with seed 0 (checked against reference vectors in dedup/digest).
func newHash(t *testing.T, algo types.ChecksumAlgorithm) hash.Hash {
	t.Helper()
	switch algo {
	case types.ChecksumAlgorithmCrc32:
		return crc32.NewIEEE()
	case types.ChecksumAlgorithmCrc32c:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case types.ChecksumAlgorithmCrc64nvme:
		return crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5))
	case types.ChecksumAlgorithmMd5:
		return md5.New()
	case types.ChecksumAlgorithmSha1:
		return sha1.New()
	case types.ChecksumAlgorithmSha256:
		return sha256.New()
	case types.ChecksumAlgorithmSha512:
		return sha512.New()
	case types.ChecksumAlgorithmXxhash64:
		return xxhash.New()
	case types.ChecksumAlgorithmXxhash3:
		return xxh3.New()
	case types.ChecksumAlgorithmXxhash128:
		return xxh3.New128()
	}
	t.Fatalf("no hash for %s", algo)
	return nil
}

func checksumOf(t *testing.T, algo types.ChecksumAlgorithm, data []byte) string {
	t.Helper()
	h := newHash(t, algo)
	h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// compositeOf is S3's COMPOSITE checksum: the algorithm over the parts' raw checksums,
// then "-" and the part count.
func compositeOf(t *testing.T, algo types.ChecksumAlgorithm, parts [][]byte) string {
	t.Helper()
	h := newHash(t, algo)
	for _, p := range parts {
		raw, _ := base64.StdEncoding.DecodeString(checksumOf(t, algo, p))
		h.Write(raw)
	}
	return fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), len(parts))
}

// checksums collects the Checksum* fields every S3 output type has, by algorithm.
type checksums struct {
	CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH64, XXHASH3, XXHASH128 *string
}

func (c checksums) of(algo types.ChecksumAlgorithm) string {
	f := map[types.ChecksumAlgorithm]*string{
		types.ChecksumAlgorithmCrc32: c.CRC32, types.ChecksumAlgorithmCrc32c: c.CRC32C, types.ChecksumAlgorithmCrc64nvme: c.CRC64NVME,
		types.ChecksumAlgorithmMd5: c.MD5, types.ChecksumAlgorithmSha1: c.SHA1, types.ChecksumAlgorithmSha256: c.SHA256,
		types.ChecksumAlgorithmSha512: c.SHA512, types.ChecksumAlgorithmXxhash64: c.XXHASH64, types.ChecksumAlgorithmXxhash3: c.XXHASH3,
		types.ChecksumAlgorithmXxhash128: c.XXHASH128,
	}[algo]
	return aws.ToString(f)
}

// set reports which algorithms have a value.
func (c checksums) set() []types.ChecksumAlgorithm {
	var out []types.ChecksumAlgorithm
	for _, a := range allAlgorithms {
		if c.of(a) != "" {
			out = append(out, a)
		}
	}
	return out
}

func putChecksums(o *s3.PutObjectOutput) checksums {
	return checksums{o.ChecksumCRC32, o.ChecksumCRC32C, o.ChecksumCRC64NVME, o.ChecksumMD5, o.ChecksumSHA1, o.ChecksumSHA256, o.ChecksumSHA512, o.ChecksumXXHASH64, o.ChecksumXXHASH3, o.ChecksumXXHASH128}
}

func getChecksums(o *s3.GetObjectOutput) checksums {
	return checksums{o.ChecksumCRC32, o.ChecksumCRC32C, o.ChecksumCRC64NVME, o.ChecksumMD5, o.ChecksumSHA1, o.ChecksumSHA256, o.ChecksumSHA512, o.ChecksumXXHASH64, o.ChecksumXXHASH3, o.ChecksumXXHASH128}
}

func headChecksums(o *s3.HeadObjectOutput) checksums {
	return checksums{o.ChecksumCRC32, o.ChecksumCRC32C, o.ChecksumCRC64NVME, o.ChecksumMD5, o.ChecksumSHA1, o.ChecksumSHA256, o.ChecksumSHA512, o.ChecksumXXHASH64, o.ChecksumXXHASH3, o.ChecksumXXHASH128}
}

func partOutChecksums(o *s3.UploadPartOutput) checksums {
	return checksums{o.ChecksumCRC32, o.ChecksumCRC32C, o.ChecksumCRC64NVME, o.ChecksumMD5, o.ChecksumSHA1, o.ChecksumSHA256, o.ChecksumSHA512, o.ChecksumXXHASH64, o.ChecksumXXHASH3, o.ChecksumXXHASH128}
}

func completeChecksums(o *s3.CompleteMultipartUploadOutput) checksums {
	return checksums{o.ChecksumCRC32, o.ChecksumCRC32C, o.ChecksumCRC64NVME, o.ChecksumMD5, o.ChecksumSHA1, o.ChecksumSHA256, o.ChecksumSHA512, o.ChecksumXXHASH64, o.ChecksumXXHASH3, o.ChecksumXXHASH128}
}

func listedPartChecksums(p types.Part) checksums {
	return checksums{p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumMD5, p.ChecksumSHA1, p.ChecksumSHA256, p.ChecksumSHA512, p.ChecksumXXHASH64, p.ChecksumXXHASH3, p.ChecksumXXHASH128}
}

func attrChecksums(c *types.Checksum) checksums {
	if c == nil {
		return checksums{}
	}
	return checksums{c.ChecksumCRC32, c.ChecksumCRC32C, c.ChecksumCRC64NVME, c.ChecksumMD5, c.ChecksumSHA1, c.ChecksumSHA256, c.ChecksumSHA512, c.ChecksumXXHASH64, c.ChecksumXXHASH3, c.ChecksumXXHASH128}
}

func copyChecksums(c *types.CopyObjectResult) checksums {
	return checksums{c.ChecksumCRC32, c.ChecksumCRC32C, c.ChecksumCRC64NVME, c.ChecksumMD5, c.ChecksumSHA1, c.ChecksumSHA256, c.ChecksumSHA512, c.ChecksumXXHASH64, c.ChecksumXXHASH3, c.ChecksumXXHASH128}
}

func copyPartChecksums(c *types.CopyPartResult) checksums {
	return checksums{c.ChecksumCRC32, c.ChecksumCRC32C, c.ChecksumCRC64NVME, c.ChecksumMD5, c.ChecksumSHA1, c.ChecksumSHA256, c.ChecksumSHA512, c.ChecksumXXHASH64, c.ChecksumXXHASH3, c.ChecksumXXHASH128}
}

// withChecksum sets the value of algo on a PutObject, UploadPart or CompletedPart (the
// SDK computes no MD5 or xxHash checksum: a client sends precomputed values).
func withChecksum(in any, algo types.ChecksumAlgorithm, v string) {
	var f map[types.ChecksumAlgorithm]**string
	switch x := in.(type) {
	case *s3.PutObjectInput:
		x.ChecksumAlgorithm = algo
		f = map[types.ChecksumAlgorithm]**string{types.ChecksumAlgorithmCrc32: &x.ChecksumCRC32, types.ChecksumAlgorithmCrc32c: &x.ChecksumCRC32C,
			types.ChecksumAlgorithmCrc64nvme: &x.ChecksumCRC64NVME, types.ChecksumAlgorithmMd5: &x.ChecksumMD5, types.ChecksumAlgorithmSha1: &x.ChecksumSHA1,
			types.ChecksumAlgorithmSha256: &x.ChecksumSHA256, types.ChecksumAlgorithmSha512: &x.ChecksumSHA512, types.ChecksumAlgorithmXxhash64: &x.ChecksumXXHASH64,
			types.ChecksumAlgorithmXxhash3: &x.ChecksumXXHASH3, types.ChecksumAlgorithmXxhash128: &x.ChecksumXXHASH128}
	case *s3.UploadPartInput:
		x.ChecksumAlgorithm = algo
		f = map[types.ChecksumAlgorithm]**string{types.ChecksumAlgorithmCrc32: &x.ChecksumCRC32, types.ChecksumAlgorithmCrc32c: &x.ChecksumCRC32C,
			types.ChecksumAlgorithmCrc64nvme: &x.ChecksumCRC64NVME, types.ChecksumAlgorithmMd5: &x.ChecksumMD5, types.ChecksumAlgorithmSha1: &x.ChecksumSHA1,
			types.ChecksumAlgorithmSha256: &x.ChecksumSHA256, types.ChecksumAlgorithmSha512: &x.ChecksumSHA512, types.ChecksumAlgorithmXxhash64: &x.ChecksumXXHASH64,
			types.ChecksumAlgorithmXxhash3: &x.ChecksumXXHASH3, types.ChecksumAlgorithmXxhash128: &x.ChecksumXXHASH128}
	case *types.CompletedPart:
		f = map[types.ChecksumAlgorithm]**string{types.ChecksumAlgorithmCrc32: &x.ChecksumCRC32, types.ChecksumAlgorithmCrc32c: &x.ChecksumCRC32C,
			types.ChecksumAlgorithmCrc64nvme: &x.ChecksumCRC64NVME, types.ChecksumAlgorithmMd5: &x.ChecksumMD5, types.ChecksumAlgorithmSha1: &x.ChecksumSHA1,
			types.ChecksumAlgorithmSha256: &x.ChecksumSHA256, types.ChecksumAlgorithmSha512: &x.ChecksumSHA512, types.ChecksumAlgorithmXxhash64: &x.ChecksumXXHASH64,
			types.ChecksumAlgorithmXxhash3: &x.ChecksumXXHASH3, types.ChecksumAlgorithmXxhash128: &x.ChecksumXXHASH128}
	}
	*f[algo] = aws.String(v)
}

func readAll(t *testing.T, body io.ReadCloser) []byte {
	t.Helper()
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestChecksumAlgorithmsPutGet: every algorithm through PutObject (with the value in a
// header), verified, stored, returned on GET and HEAD with checksum mode (where the SDK
// validates the body against those it knows), and in GetObjectAttributes; a wrong value
// is BadDigest and stores nothing.
func TestChecksumAlgorithmsPutGet(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("cks")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("checksummed content "), 5_000) // 100 KB: a chunk in a backend, not inline
	for _, algo := range allAlgorithms {
		t.Run(string(algo), func(t *testing.T) {
			key := aws.String("obj-" + strings.ToLower(string(algo)))
			want := checksumOf(t, algo, data)
			in := &s3.PutObjectInput{Bucket: b, Key: key, Body: bytes.NewReader(data)}
			withChecksum(in, algo, want)
			put, err := c.PutObject(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := putChecksums(put); got.of(algo) != want || len(got.set()) != 1 || put.ChecksumType != types.ChecksumTypeFullObject {
				t.Errorf("PutObject answered %v %s, want %s FULL_OBJECT", got.set(), got.of(algo), want)
			}
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key, ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readAll(t, get.Body), data) || getChecksums(get).of(algo) != want || get.ChecksumType != types.ChecksumTypeFullObject {
				t.Errorf("GetObject: %v %s", getChecksums(get).set(), get.ChecksumType)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key})
			if err != nil || len(headChecksums(head).set()) != 0 {
				t.Errorf("HeadObject without checksum mode: %v %v", headChecksums(head).set(), err)
			}
			head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key, ChecksumMode: types.ChecksumModeEnabled})
			if err != nil || headChecksums(head).of(algo) != want {
				t.Errorf("HeadObject: %v %v", headChecksums(head).set(), err)
			}
			attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: key, ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum}})
			if err != nil || attrChecksums(attrs.Checksum).of(algo) != want || attrs.Checksum.ChecksumType != types.ChecksumTypeFullObject {
				t.Errorf("GetObjectAttributes: %+v %v", attrs, err)
			}
			// A well-formed value that does not match: BadDigest, the object unchanged.
			wrong := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xff}, len(mustDecode(t, want))))
			in = &s3.PutObjectInput{Bucket: b, Key: key, Body: bytes.NewReader(append([]byte("other "), data...))}
			withChecksum(in, algo, wrong)
			if _, err := c.PutObject(ctx, in); apiCode(err) != "BadDigest" || !strings.Contains(err.Error(), "The "+string(algo)+" you specified did not match the calculated checksum.") {
				t.Errorf("wrong value: %v", err)
			}
			if got := mustGet(t, c, "cks", *key, ""); !bytes.Equal(got, data) {
				t.Error("a failed upload changed the object")
			}
		})
	}
}

func mustDecode(t *testing.T, v string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// modeRecorder keeps the payload mode and trailer of every request the server sees.
type modeRecorder struct {
	http.Handler
	mu   sync.Mutex
	seen []string
}

func (r *modeRecorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.seen = append(r.seen, req.Header.Get("x-amz-content-sha256")+" "+req.Header.Get("x-amz-trailer"))
	r.mu.Unlock()
	r.Handler.ServeHTTP(w, req)
}

// TestChecksumTrailerOverTLS: over https the SDK streams an upload as aws-chunked with
// the checksum it computes in a trailer (SHA512 is the one new algorithm it computes);
// a hand-built trailer carries any algorithm, and a malformed one is refused.
func TestChecksumTrailerOverTLS(t *testing.T) {
	st := newStack(t)
	rec := &modeRecorder{Handler: st.handler}
	srv := httptest.NewTLSServer(rec)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(testAK, testSK, ""), HTTPClient: srv.Client()}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(srv.URL); o.UsePathStyle = true })
	ctx := context.Background()
	b := aws.String("trailers")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("trailing checksum "), 200_000) // 3.6 MB
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("sha512"), Body: onlyReader{bytes.NewReader(data)},
		ContentLength: aws.Int64(int64(len(data))), ChecksumAlgorithm: types.ChecksumAlgorithmSha512})
	if err != nil {
		t.Fatal(err)
	}
	if want := checksumOf(t, types.ChecksumAlgorithmSha512, data); aws.ToString(put.ChecksumSHA512) != want {
		t.Errorf("SHA512 %s want %s", aws.ToString(put.ChecksumSHA512), want)
	}
	rec.mu.Lock()
	streamed := strings.Join(rec.seen, "\n")
	rec.mu.Unlock()
	if !strings.Contains(streamed, "STREAMING-UNSIGNED-PAYLOAD-TRAILER x-amz-checksum-sha512") {
		t.Errorf("the SDK did not send a trailing SHA512: %s", streamed)
	}
	// GET validates SHA512 in the SDK.
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("sha512"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || !bytes.Equal(readAll(t, get.Body), data) {
		t.Fatalf("get: %v", err)
	}

	// Hand-built trailers (an SDK that computes the xxHash family sends these).
	for _, tc := range []struct {
		name, trailer, value, code, msg string
	}{
		{"xxhash3", "x-amz-checksum-xxhash3", "WkDcP9RMBS8=", "", ""},
		{"md5", "x-amz-checksum-md5", "esZsDxSN6VGbi9JkMSxNZA==", "", ""},
		{"xxhash128", "x-amz-checksum-xxhash128", "Kq/YOGmlnDE/55jA7aptxg==", "", ""},
		{"wrong", "x-amz-checksum-xxhash64", "70bbN1HY6Zk=", "BadDigest", "The XXHASH64 you specified did not match the calculated checksum."},
		{"malformed", "x-amz-checksum-xxhash64", "invalid", "InvalidRequest", "Value for x-amz-checksum-xxhash64 trailing header is invalid."},
	} {
		body := "7\r\nabcdefg\r\n0\r\n" + tc.trailer + ":" + tc.value + "\r\n\r\n"
		status, resp, h := st.raw(t, "PUT", "/trailers/hand-"+tc.name, []byte(body), map[string]string{
			"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked",
			"x-amz-decoded-content-length": "7", "x-amz-trailer": tc.trailer})
		switch {
		case tc.code == "" && (status != 200 || h.Get(tc.trailer) != tc.value):
			t.Errorf("%s: %d %s %v", tc.name, status, resp, h)
		case tc.code != "" && (status != 400 || !strings.Contains(resp, "<Code>"+tc.code+"</Code>") || !strings.Contains(resp, tc.msg)):
			t.Errorf("%s: %d %s", tc.name, status, resp)
		}
	}
	// An unsigned-trailer body that declares no trailer gets the default checksum.
	status, resp, h := st.raw(t, "PUT", "/trailers/no-trailer", []byte("B\r\nhello world\r\n0\r\n\r\n"), map[string]string{
		"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11"})
	if want := checksumOf(t, types.ChecksumAlgorithmCrc64nvme, []byte("hello world")); status != 200 || h.Get("x-amz-checksum-crc64nvme") != want {
		t.Errorf("no trailer: %d %s %v", status, resp, h)
	}
}

// TestDefaultChecksum: like S3, an object uploaded without a checksum, single or
// multipart, gets a full-object CRC64NVME, returned on upload and with checksum mode;
// a multipart one derives it from its parts' without reading them.
func TestDefaultChecksum(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("default")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 100, 200_000} {
		data := bytes.Repeat([]byte{'d'}, size)
		key := fmt.Sprintf("put-%d", size)
		put := mustPut(t, c, "default", key, data)
		want := checksumOf(t, types.ChecksumAlgorithmCrc64nvme, data)
		if aws.ToString(put.ChecksumCRC64NVME) != want || put.ChecksumType != types.ChecksumTypeFullObject {
			t.Errorf("%s: PutObject answered %v %s", key, putChecksums(put).set(), put.ChecksumType)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || aws.ToString(head.ChecksumCRC64NVME) != want {
			t.Errorf("%s: HeadObject %v %v", key, headChecksums(head).set(), err)
		}
	}

	// Multipart without an algorithm: parts with no checksum, and one whose client
	// sent a CRC32 (verified and shown, while the part keeps the CRC64NVME).
	mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	if mp.ChecksumAlgorithm != "" || mp.ChecksumType != "" {
		t.Errorf("an upload without an algorithm answered %s %s", mp.ChecksumAlgorithm, mp.ChecksumType)
	}
	parts := [][]byte{bytes.Repeat([]byte{1}, 5<<20), []byte("the tail part")}
	var done []types.CompletedPart
	for i, p := range parts {
		in := &s3.UploadPartInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)}
		if i == 1 {
			in.ChecksumAlgorithm = types.ChecksumAlgorithmCrc32
		}
		up, err := c.UploadPart(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if got := partOutChecksums(up).set(); (i == 0 && len(got) != 0) || (i == 1 && (len(got) != 1 || got[0] != types.ChecksumAlgorithmCrc32)) {
			t.Errorf("part %d answered %v", i+1, got)
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId})
	if err != nil || len(lp.Parts) != 2 {
		t.Fatal(err)
	}
	for i, p := range lp.Parts {
		if got := listedPartChecksums(p); got.of(types.ChecksumAlgorithmCrc64nvme) != checksumOf(t, types.ChecksumAlgorithmCrc64nvme, parts[i]) || len(got.set()) != 1 {
			t.Errorf("listed part %d: %v", i+1, got.set())
		}
	}
	cmp, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: aws.String("mp"), UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatal(err)
	}
	whole := append(append([]byte{}, parts[0]...), parts[1]...)
	want := checksumOf(t, types.ChecksumAlgorithmCrc64nvme, whole)
	if aws.ToString(cmp.ChecksumCRC64NVME) != want || cmp.ChecksumType != types.ChecksumTypeFullObject {
		t.Errorf("Complete answered %v %s, want CRC64NVME %s", completeChecksums(cmp).set(), cmp.ChecksumType, want)
	}
	// The SDK validates the CRC64NVME of the body it reads.
	get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || !bytes.Equal(readAll(t, get.Body), whole) || aws.ToString(get.ChecksumCRC64NVME) != want {
		t.Errorf("get: %v", err)
	}
	// A part of a FULL_OBJECT object has no checksum of its own to show.
	get, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("mp"), PartNumber: aws.Int32(2), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || len(getChecksums(get).set()) != 0 {
		t.Errorf("part read: %v %v", getChecksums(get).set(), err)
	}
	readAll(t, get.Body)
}

// TestChecksumMultipart: each algorithm as an upload's COMPOSITE checksum (the CRCs
// also as FULL_OBJECT), with parts uploaded and copied, and what S3 refuses on the way.
func TestChecksumMultipart(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("mpck")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	p1 := bytes.Repeat([]byte("first part "), 500_000)[:5<<20]
	src := []byte("the source of a copied part")
	mustPut(t, c, "mpck", "source", src)
	type kind struct {
		algo types.ChecksumAlgorithm
		typ  types.ChecksumType
	}
	kinds := []kind{{types.ChecksumAlgorithmCrc32, types.ChecksumTypeFullObject}, {types.ChecksumAlgorithmCrc64nvme, ""}, {types.ChecksumAlgorithmSha256, ""}}
	for _, a := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmMd5, types.ChecksumAlgorithmSha512, types.ChecksumAlgorithmXxhash64,
		types.ChecksumAlgorithmXxhash3, types.ChecksumAlgorithmXxhash128} {
		kinds = append(kinds, kind{a, ""})
	}
	for _, k := range kinds {
		t.Run(string(k.algo)+string(k.typ), func(t *testing.T) {
			key := aws.String("mp-" + strings.ToLower(string(k.algo)))
			mp, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: key, ChecksumAlgorithm: k.algo, ChecksumType: k.typ})
			if err != nil {
				t.Fatal(err)
			}
			typ := k.typ
			if typ == "" {
				typ = types.ChecksumTypeComposite
				if k.algo == types.ChecksumAlgorithmCrc64nvme {
					typ = types.ChecksumTypeFullObject
				}
			}
			if mp.ChecksumAlgorithm != k.algo || mp.ChecksumType != typ {
				t.Errorf("CreateMultipartUpload answered %s %s", mp.ChecksumAlgorithm, mp.ChecksumType)
			}
			// A COMPOSITE upload needs every part's checksum, of its algorithm.
			if typ == types.ChecksumTypeComposite {
				_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: b, Key: key, UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("no checksum")})
				if want := "expected checksum Type: " + strings.ToLower(string(k.algo)) + ", actual checksum Type: null"; apiCode(err) != "InvalidRequest" || !strings.Contains(err.Error(), want) {
					t.Errorf("part without checksum: %v", err)
				}
			}
			in := &s3.UploadPartInput{Bucket: b, Key: key, UploadId: mp.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader(p1)}
			withChecksum(in, k.algo, checksumOf(t, k.algo, p1))
			up1, err := c.UploadPart(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if partOutChecksums(up1).of(k.algo) != checksumOf(t, k.algo, p1) {
				t.Errorf("UploadPart answered %v", partOutChecksums(up1).set())
			}
			// The second part is copied: its checksum is computed from the source's content.
			cp, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: key, UploadId: mp.UploadId, PartNumber: aws.Int32(2), CopySource: aws.String("mpck/source")})
			if err != nil {
				t.Fatal(err)
			}
			if got := copyPartChecksums(cp.CopyPartResult); got.of(k.algo) != checksumOf(t, k.algo, src) || len(got.set()) != 1 {
				t.Errorf("UploadPartCopy answered %v", got.set())
			}
			lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: key, UploadId: mp.UploadId})
			if err != nil || lp.ChecksumAlgorithm != k.algo || lp.ChecksumType != typ || len(lp.Parts) != 2 ||
				listedPartChecksums(lp.Parts[0]).of(k.algo) != checksumOf(t, k.algo, p1) || listedPartChecksums(lp.Parts[1]).of(k.algo) != checksumOf(t, k.algo, src) {
				t.Errorf("ListParts: %+v %v", lp, err)
			}
			var done []types.CompletedPart
			for i, e := range []*string{up1.ETag, cp.CopyPartResult.ETag} {
				part := types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: e}
				withChecksum(&part, k.algo, checksumOf(t, k.algo, [][]byte{p1, src}[i]))
				done = append(done, part)
			}
			whole := append(append([]byte{}, p1...), src...)
			want := checksumOf(t, k.algo, whole)
			if typ == types.ChecksumTypeComposite {
				want = compositeOf(t, k.algo, [][]byte{p1, src})
			}
			// A wrong object checksum is BadDigest, and the upload remains.
			wrongIn := &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: mp.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
			setCompleteChecksum(wrongIn, k.algo, done[0])
			if _, err := c.CompleteMultipartUpload(ctx, wrongIn); apiCode(err) != "BadDigest" {
				t.Errorf("wrong object checksum: %v", err)
			}
			cmp, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: key, UploadId: mp.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
			if err != nil {
				t.Fatal(err)
			}
			if completeChecksums(cmp).of(k.algo) != want || cmp.ChecksumType != typ {
				t.Errorf("Complete answered %v %s, want %s %s", completeChecksums(cmp).set(), cmp.ChecksumType, want, typ)
			}
			head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key, ChecksumMode: types.ChecksumModeEnabled})
			if err != nil || headChecksums(head).of(k.algo) != want || head.ChecksumType != typ {
				t.Errorf("HeadObject: %v %v", headChecksums(head).set(), err)
			}
			attrs, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: b, Key: key,
				ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts}})
			bare, _, _ := strings.Cut(want, "-") // S3 gives a composite checksum here without its part count
			if err != nil || attrChecksums(attrs.Checksum).of(k.algo) != bare || attrs.ObjectParts == nil || len(attrs.ObjectParts.Parts) != 2 ||
				aws.ToString(attrs.ObjectParts.Parts[1].ChecksumXXHASH3)+aws.ToString(attrs.ObjectParts.Parts[1].ChecksumMD5)+
					aws.ToString(attrs.ObjectParts.Parts[1].ChecksumSHA512)+aws.ToString(attrs.ObjectParts.Parts[1].ChecksumXXHASH64)+
					aws.ToString(attrs.ObjectParts.Parts[1].ChecksumXXHASH128)+aws.ToString(attrs.ObjectParts.Parts[1].ChecksumCRC32)+
					aws.ToString(attrs.ObjectParts.Parts[1].ChecksumCRC64NVME)+aws.ToString(attrs.ObjectParts.Parts[1].ChecksumSHA256) != checksumOf(t, k.algo, src) {
				t.Errorf("GetObjectAttributes: %+v %v", attrs, err)
			}
			// A part of a COMPOSITE object comes with its own checksum.
			get, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: key, PartNumber: aws.Int32(2), ChecksumMode: types.ChecksumModeEnabled})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(readAll(t, get.Body), src) || (typ == types.ChecksumTypeComposite) != (getChecksums(get).of(k.algo) == checksumOf(t, k.algo, src)) {
				t.Errorf("part read: %v", getChecksums(get).set())
			}
		})
	}
}

func setCompleteChecksum(in *s3.CompleteMultipartUploadInput, algo types.ChecksumAlgorithm, p types.CompletedPart) {
	c := checksums{p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumMD5, p.ChecksumSHA1, p.ChecksumSHA256, p.ChecksumSHA512, p.ChecksumXXHASH64, p.ChecksumXXHASH3, p.ChecksumXXHASH128}
	v := aws.String(c.of(algo))
	switch algo {
	case types.ChecksumAlgorithmCrc32:
		in.ChecksumCRC32 = v
	case types.ChecksumAlgorithmCrc64nvme:
		in.ChecksumCRC64NVME = v
	case types.ChecksumAlgorithmMd5:
		in.ChecksumMD5 = v
	case types.ChecksumAlgorithmSha256:
		in.ChecksumSHA256 = v
	case types.ChecksumAlgorithmSha512:
		in.ChecksumSHA512 = v
	case types.ChecksumAlgorithmXxhash64:
		in.ChecksumXXHASH64 = v
	case types.ChecksumAlgorithmXxhash3:
		in.ChecksumXXHASH3 = v
	case types.ChecksumAlgorithmXxhash128:
		in.ChecksumXXHASH128 = v
	}
}

// TestCopyObjectChecksum: a copy keeps the source's checksum; asked for an algorithm,
// it gets that full-object checksum, computed from the source's content (read, never
// written) when nothing known gives it.
func TestCopyObjectChecksum(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("copyck")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("copied "), 30_000)
	mustPut(t, c, "copyck", "src", data)
	stats0, _ := st.app.meta.Stats(ctx)
	kept, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("kept"), CopySource: aws.String("copyck/src")})
	if err != nil || aws.ToString(kept.CopyObjectResult.ChecksumCRC64NVME) != checksumOf(t, types.ChecksumAlgorithmCrc64nvme, data) {
		t.Errorf("copy keeps the checksum: %v %v", copyChecksums(kept.CopyObjectResult).set(), err)
	}
	for _, algo := range []types.ChecksumAlgorithm{types.ChecksumAlgorithmXxhash128, types.ChecksumAlgorithmMd5, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmSha512} {
		key := aws.String("as-" + strings.ToLower(string(algo)))
		out, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: key, CopySource: aws.String("copyck/src"), ChecksumAlgorithm: algo})
		if err != nil {
			t.Fatal(err)
		}
		want := checksumOf(t, algo, data)
		if got := copyChecksums(out.CopyObjectResult); got.of(algo) != want || len(got.set()) != 1 || out.CopyObjectResult.ChecksumType != types.ChecksumTypeFullObject {
			t.Errorf("%s: copy answered %v %s", algo, got.set(), out.CopyObjectResult.ChecksumType)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: key, ChecksumMode: types.ChecksumModeEnabled})
		if err != nil || headChecksums(head).of(algo) != want || len(headChecksums(head).set()) != 1 {
			t.Errorf("%s: head %v %v", algo, headChecksums(head).set(), err)
		}
	}
	// Changing an object's checksum is a copy onto itself, legal without REPLACE.
	self, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: aws.String("src"), CopySource: aws.String("copyck/src"), ChecksumAlgorithm: types.ChecksumAlgorithmXxhash3})
	if err != nil || aws.ToString(self.CopyObjectResult.ChecksumXXHASH3) != checksumOf(t, types.ChecksumAlgorithmXxhash3, data) {
		t.Errorf("copy onto itself: %v", err)
	}
	// No data was written by any of these copies.
	stats1, _ := st.app.meta.Stats(ctx)
	if stats1.StoredBytes != stats0.StoredBytes || stats1.Chunks != stats0.Chunks {
		t.Errorf("copies stored data: %+v then %+v", stats0, stats1)
	}
	status, resp, _ := st.raw(t, "PUT", "/copyck/bad", nil, map[string]string{"x-amz-copy-source": "/copyck/missing", "x-amz-checksum-algorithm": "BOGUS"})
	if status != 400 || !strings.Contains(resp, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, XXHASH3, XXHASH64]") {
		t.Errorf("unsupported algorithm: %d %s", status, resp)
	}
}

// TestChecksumRequestErrors: S3's answers to checksum headers it refuses, and nothing
// stored for any of them.
func TestChecksumRequestErrors(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("errs")}); err != nil {
		t.Fatal(err)
	}
	body := []byte("abcdefg")
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		code string
		msg  string
	}{
		{"sdk algorithm other than the header's", map[string]string{"x-amz-sdk-checksum-algorithm": "CRC32", "x-amz-checksum-crc32c": "m0cB1Q=="},
			"InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid."},
		{"unknown sdk algorithm", map[string]string{"x-amz-sdk-checksum-algorithm": "BOGUS", "x-amz-checksum-md5": "esZsDxSN6VGbi9JkMSxNZA=="},
			"InvalidRequest", "Value for x-amz-sdk-checksum-algorithm header is invalid."},
		{"sdk algorithm without a checksum", map[string]string{"x-amz-sdk-checksum-algorithm": "XXHASH64"},
			"InvalidRequest", "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found."},
		{"two checksums", map[string]string{"x-amz-checksum-md5": "esZsDxSN6VGbi9JkMSxNZA==", "x-amz-checksum-xxhash64": "GGCUDikCgi0="},
			"InvalidRequest", "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."},
		{"unknown algorithm", map[string]string{"x-amz-checksum-xxhash32": "AAAAAA=="},
			"InvalidRequest", "The algorithm type you specified in x-amz-checksum- header is invalid."},
		{"malformed value", map[string]string{"x-amz-checksum-xxhash128": "GGCUDikCgi0="},
			"InvalidRequest", "Value for x-amz-checksum-xxhash128 header is invalid."},
		{"empty value", map[string]string{"x-amz-checksum-sha512": ""},
			"InvalidRequest", "Value for x-amz-checksum-sha512 header is invalid."},
		{"wrong value", map[string]string{"x-amz-checksum-md5": base64.StdEncoding.EncodeToString(make([]byte, 16))},
			"BadDigest", "The MD5 you specified did not match the calculated checksum."},
	} {
		status, resp, _ := st.raw(t, "PUT", "/errs/obj", body, tc.hdr) // an empty value is sent too
		if status != 400 || !strings.Contains(resp, "<Code>"+tc.code+"</Code>") || !strings.Contains(resp, "<Message>"+tc.msg+"</Message>") {
			t.Errorf("%s: %d %s", tc.name, status, resp)
		}
	}
	if stats, _ := st.app.meta.Stats(ctx); stats.Objects != 0 {
		t.Errorf("a refused upload stored something: %+v", stats)
	}
	// An aws-chunked body is object data only: S3 refuses it elsewhere.
	for _, target := range []string{"/errs?tagging", "/errs?cors", "/errs/obj?tagging"} {
		status, resp, _ := st.raw(t, "PUT", target, []byte("5\r\nabcde\r\n0\r\n\r\n"), map[string]string{
			"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "x-amz-decoded-content-length": "5"})
		if status != 400 || !strings.Contains(resp, "<Message>The value of x-amz-content-sha256 header is invalid.</Message>") {
			t.Errorf("aws-chunked PUT %s: %d %s", target, status, resp)
		}
	}
	// x-amz-checksum-algorithm is not an upload's header: S3 ignores it there.
	status, resp, h := st.raw(t, "PUT", "/errs/ignored", body, map[string]string{"x-amz-checksum-algorithm": "SHA256"})
	if status != 200 || h.Get("x-amz-checksum-crc64nvme") != checksumOf(t, types.ChecksumAlgorithmCrc64nvme, body) || h.Get("x-amz-checksum-sha256") != "" {
		t.Errorf("x-amz-checksum-algorithm on PutObject: %d %s %v", status, resp, h)
	}
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		msg  string
	}{
		{"unsupported", map[string]string{"x-amz-checksum-algorithm": "CRC16"},
			"Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, XXHASH3, XXHASH64]"},
		{"md5 full object", map[string]string{"x-amz-checksum-algorithm": "MD5", "x-amz-checksum-type": "FULL_OBJECT"},
			"The FULL_OBJECT checksum type cannot be used with the md5 checksum algorithm."},
		{"invalid type", map[string]string{"x-amz-checksum-algorithm": "XXHASH3", "x-amz-checksum-type": "PARTIAL"},
			"Value for x-amz-checksum-type header is invalid."},
	} {
		status, resp, _ := st.raw(t, "POST", "/errs/mp?uploads", nil, tc.hdr)
		if status != 400 || !strings.Contains(resp, "<Message>"+tc.msg+"</Message>") {
			t.Errorf("CreateMultipartUpload %s: %d %s", tc.name, status, resp)
		}
	}
}

// TestPostObjectChecksum: a form's x-amz-checksum-* field is verified and stored like
// a PutObject header.
func TestPostObjectChecksum(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("form")}); err != nil {
		t.Fatal(err)
	}
	data := []byte("a file posted by a browser form")
	want := checksumOf(t, types.ChecksumAlgorithmXxhash128, data)
	target, form := handPolicy(t, st, "form", "posted", `,["starts-with","$x-amz-checksum-xxhash128",""]`, formField{"x-amz-checksum-xxhash128", want})
	resp, body := postForm(t, target, form, "f.txt", bytes.NewReader(data))
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("x-amz-checksum-xxhash128") != want {
		t.Fatalf("POST: %d %s %v", resp.StatusCode, body, resp.Header)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("form"), Key: aws.String("posted"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(head.ChecksumXXHASH128) != want {
		t.Errorf("head: %v %v", headChecksums(head).set(), err)
	}
}
