package e2e

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

const (
	streamingSigned        = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingSignedTrailer = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	emptySHA256            = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// payloadModes records the x-amz-content-sha256 of every PUT a client
// sends, so a test can show which payload mode it really exercised.
type payloadModes struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen []string
}

func (p *payloadModes) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPut {
		p.mu.Lock()
		p.seen = append(p.seen, r.Header.Get("X-Amz-Content-Sha256"))
		p.mu.Unlock()
	}
	return p.next.RoundTrip(r)
}

func (p *payloadModes) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) == 0 {
		return ""
	}
	return p.seen[len(p.seen)-1]
}

// TestMinioSignedStreaming: minio-go over plain HTTP signs every 64 KiB
// chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), and with a checksum it adds a
// signed trailer.
func TestMinioSignedStreaming(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	modes := &payloadModes{next: http.DefaultTransport.(*http.Transport).Clone()}
	newClient := func(trailing bool) *minio.Client {
		mc, err := minio.New(s.host, &minio.Options{
			Creds:           miniocreds.NewStaticV4(s.cred.AccessKey, s.cred.SecretKey, ""),
			Region:          region,
			BucketLookup:    minio.BucketLookupPath,
			Transport:       modes,
			TrailingHeaders: trailing,
		})
		if err != nil {
			t.Fatal(err)
		}
		return mc
	}
	plain, trailing := newClient(false), newClient(true)
	const bucket = "minio-streaming"
	if err := plain.MakeBucket(ctxT(t), bucket, minio.MakeBucketOptions{Region: region}); err != nil {
		t.Fatal(err)
	}
	sdk := s3Client(s, s.cred)

	tests := []struct {
		name     string
		size     int
		client   *minio.Client
		opts     minio.PutObjectOptions
		wantMode string
	}{
		{"one chunk", 1000, plain, minio.PutObjectOptions{}, streamingSigned},
		{"exact chunk multiple", 128 * KiB, plain, minio.PutObjectOptions{}, streamingSigned},
		{"5MiB", 5*MiB + 1, plain, minio.PutObjectOptions{ContentType: "application/x-test"}, streamingSigned},
		{"signed trailer CRC32C", 300*KiB + 7, trailing, minio.PutObjectOptions{Checksum: minio.ChecksumCRC32C}, streamingSignedTrailer},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(uint64(200+i), tc.size)
			key := fmt.Sprintf("obj-%d", i)
			info, err := tc.client.PutObject(ctxT(t), bucket, key, bytes.NewReader(data), int64(len(data)), tc.opts)
			if err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			if got := modes.last(); got != tc.wantMode {
				t.Errorf("minio-go sent x-amz-content-sha256 %q, the test expected %q", got, tc.wantMode)
			}
			if info.Size != int64(len(data)) {
				t.Errorf("PutObject size %d, want %d", info.Size, len(data))
			}
			obj, err := tc.client.GetObject(ctxT(t), bucket, key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			sum, n, err := readerSHA256(obj)
			obj.Close()
			if err != nil || n != int64(len(data)) || sum != sha256Hex(data) {
				t.Fatalf("minio GetObject: %d bytes, err %v, content matches %t", n, err, sum == sha256Hex(data))
			}
			// A second client reads what the first wrote.
			if sum, _ := getSHA256(t, sdk, bucket, key); sum != sha256Hex(data) {
				t.Errorf("aws-sdk-go-v2 reads different content")
			}
		})
	}
}

// TestStreamingContentAddress: a signed aws-chunked body's content address comes from
// the same SHA-256 pass as its chunk signatures (internal/sha256pair). The same bytes
// uploaded again by aws-sdk-go-v2 with a signed hex payload hash (hashed on their own)
// must find the chunk minio-go's upload indexed: nothing more is stored. Sizes: 64 KiB
// chunks on block boundaries, a last chunk off them, and one chunk.
func TestStreamingContentAddress(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	mc, err := minio.New(s.host, &minio.Options{
		Creds:        miniocreds.NewStaticV4(s.cred.AccessKey, s.cred.SecretKey, ""),
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	const bucket = "content-address"
	if err := mc.MakeBucket(ctxT(t), bucket, minio.MakeBucketOptions{Region: region}); err != nil {
		t.Fatal(err)
	}
	sdk := s3Client(s, s.cred)
	for i, size := range []int{1 << 20, 300*KiB + 7, 40 * KiB} {
		data := randomBytes(uint64(900+i), size)
		key := fmt.Sprintf("minio-%d", i)
		if _, err := mc.PutObject(ctxT(t), bucket, key, bytes.NewReader(data), int64(size), minio.PutObjectOptions{}); err != nil {
			t.Fatalf("minio PutObject %d bytes: %v", size, err)
		}
		before := s.stats()
		other := fmt.Sprintf("sdk-%d", i)
		if _, err := sdk.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(other), Body: bytes.NewReader(data)}); err != nil {
			t.Fatalf("sdk PutObject %d bytes: %v", size, err)
		}
		after := s.stats()
		if after.StoredBytes != before.StoredBytes || after.Chunks != before.Chunks {
			t.Errorf("%d bytes: the second upload stored %d bytes in %d chunks; the content address of the streamed upload differs",
				size, after.StoredBytes-before.StoredBytes, after.Chunks-before.Chunks)
		}
		if sum, _ := getSHA256(t, sdk, bucket, key); sum != sha256Hex(data) {
			t.Errorf("%d bytes: streamed object reads back different content", size)
		}
	}
}

// chunk is one aws-chunked frame of a signed streaming upload.
type chunk struct {
	data []byte
	sig  string
}

// TestSignedChunkTamper builds STREAMING-AWS4-HMAC-SHA256-PAYLOAD requests by
// hand: the seed signature from aws-sdk-go-v2's v4 signer, each chunk's
// signature chained from it as the SigV4 streaming spec says. One valid
// request proves the framing is right; each tampered one must be refused
// with SignatureDoesNotMatch and leave nothing behind.
func TestSignedChunkTamper(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	sdk := s3Client(s, s.cred)
	const bucket = "chunk-tamper"
	createBucket(t, sdk, bucket)
	data := randomBytes(300, 3*64*KiB+10*KiB) // three full 64 KiB chunks and a short one

	flip := func(s string) string { // change one hex digit
		b := []byte(s)
		if b[10] == '0' {
			b[10] = '1'
		} else {
			b[10] = '0'
		}
		return string(b)
	}
	tests := []struct {
		name   string
		tamper func(chunks []chunk) // applied after signing; nil = valid
	}{
		{"valid", nil},
		{"second chunk signature", func(c []chunk) { c[1].sig = flip(c[1].sig) }},
		{"second chunk data", func(c []chunk) { c[1].data = bytes.Clone(c[1].data); c[1].data[5] ^= 0xff }},
		{"last data chunk signature", func(c []chunk) { c[3].sig = flip(c[3].sig) }},
		{"final empty chunk signature", func(c []chunk) { c[4].sig = flip(c[4].sig) }},
		{"chunks swapped", func(c []chunk) { c[0], c[1] = c[1], c[0] }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("obj-%d", i)
			req := signedChunkedRequest(t, s.endpoint+"/"+bucket+"/"+key, s.cred, data, 64*KiB, tc.tamper)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("PUT: %v", err)
			}
			defer resp.Body.Close()
			if tc.tamper == nil {
				if resp.StatusCode != http.StatusOK {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("valid signed streaming PUT: %s\n%s", resp.Status, b)
				}
				if sum, _ := getSHA256(t, sdk, bucket, key); sum != sha256Hex(data) {
					t.Fatalf("stored content differs from what was sent")
				}
				return
			}
			wantHTTPError(t, resp, "SignatureDoesNotMatch", http.StatusForbidden)
			wantNoObject(t, sdk, bucket, key)
		})
	}
}

// signedChunkedRequest returns a PUT with an aws-chunked body whose chunks
// are signed with c's secret; tamper, if set, edits the chunks after signing.
func signedChunkedRequest(t *testing.T, url string, c credential, data []byte, chunkSize int, tamper func([]chunk)) *http.Request {
	t.Helper()
	var chunks []chunk
	for off := 0; off < len(data); off += chunkSize {
		chunks = append(chunks, chunk{data: data[off:min(off+chunkSize, len(data))]})
	}
	chunks = append(chunks, chunk{}) // the final zero-length chunk is signed too

	// The encoded length only depends on the sizes: a signature is always 64 hex digits.
	var encodedLen int
	for _, ch := range chunks {
		encodedLen += len(strconv.FormatInt(int64(len(ch.data)), 16)) + len(";chunk-signature=") + 64 + 2 + len(ch.data) + 2
	}

	req, err := http.NewRequest(http.MethodPut, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(encodedLen)
	req.Header.Set("X-Amz-Content-Sha256", streamingSigned)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(data)))
	now := time.Now().UTC()
	creds := aws.Credentials{AccessKeyID: c.AccessKey, SecretAccessKey: c.SecretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, streamingSigned, "s3", region, now); err != nil {
		t.Fatal(err)
	}
	auth := req.Header.Get("Authorization")
	_, seed, ok := strings.Cut(auth, "Signature=")
	if !ok || len(seed) != 64 {
		t.Fatalf("no seed signature in %q", auth)
	}

	amzDate := now.Format("20060102T150405Z")
	scope := now.Format("20060102") + "/" + region + "/s3/aws4_request"
	key := signingKey(c.SecretKey, now.Format("20060102"), region, "s3")
	prev := seed
	for i := range chunks {
		sum := sha256.Sum256(chunks[i].data)
		sts := strings.Join([]string{"AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, prev, emptySHA256, hex.EncodeToString(sum[:])}, "\n")
		chunks[i].sig = hex.EncodeToString(hmacSHA256(key, sts))
		prev = chunks[i].sig
	}
	if tamper != nil {
		tamper(chunks)
	}
	var body bytes.Buffer
	for _, ch := range chunks {
		fmt.Fprintf(&body, "%x;chunk-signature=%s\r\n", len(ch.data), ch.sig)
		body.Write(ch.data)
		body.WriteString("\r\n")
	}
	if body.Len() != encodedLen {
		t.Fatalf("encoded %d bytes, announced %d", body.Len(), encodedLen)
	}
	b := body.Bytes()
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	req.Body, _ = req.GetBody()
	return req
}

func signingKey(secret, day, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
