package e2e

// Issue 3: instant upload. Content the server already holds, announced by
// its SHA-256 with Expect: 100-continue, is acknowledged without the body
// crossing the wire. The bytes are counted on the connection by a TCP relay
// in the test, not by the server.

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// countingRelay forwards TCP connections to the server and counts the bytes
// clients send through it.
type countingRelay struct {
	endpoint string // http://127.0.0.1:P
	sent     atomic.Int64
}

func startRelay(t testing.TB, backend string) *countingRelay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &countingRelay{endpoint: "http://" + l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.pipe(c.(*net.TCPConn), backend)
			}()
		}
	}()
	return r
}

func (r *countingRelay) pipe(c *net.TCPConn, backend string) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	done := make(chan struct{})
	go func() {
		n, _ := io.Copy(b, c)
		r.sent.Add(n)
		b.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(c, b)
	// The server closed: so does the client side, as a direct connection would.
	c.Close()
	<-done
}

func (r *countingRelay) reset() int64 { return r.sent.Swap(0) }

// TestInstantUploadOnTheWire: the same 200 MiB file uploaded again by the
// aws cli and by boto3 (both send each part's signed SHA-256 and Expect:
// 100-continue over plain HTTP) sends almost nothing; stored bytes stay the
// same. Another credential, in the default credential scope, must send its
// body: it cannot claim content by naming its hash.
func TestInstantUploadOnTheWire(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	alice := credential{AccessKey: "E2EALICE000000000001", SecretKey: "aliceSecret000000000000000000000000000001"}
	bob := credential{AccessKey: "E2EBOB00000000000001", SecretKey: "bobSecret00000000000000000000000000000001"}
	s := startServer(t, serverOptions{creds: []credential{alice, bob}})
	relay := startRelay(t, s.host)
	viaRelay := &server{endpoint: relay.endpoint, host: strings.TrimPrefix(relay.endpoint, "http://")}
	const size = 200 * MiB
	file, sum := writeRandomFile(t, t.TempDir(), "big.bin", 900, size)

	newAWSCLI(t, s, alice).run("s3", "mb", "s3://alice-bucket")
	newAWSCLI(t, s, bob).run("s3", "mb", "s3://bob-bucket")
	newAWSCLI(t, s, alice).run("s3", "cp", file, "s3://alice-bucket/first")
	base := s.stats()

	// The figure: under 64 KiB in all, requests and headers included.
	const limit = 64 * KiB
	tests := []struct {
		name    string
		upload  func()
		key     string
		cred    credential
		instant bool
	}{
		{"aws cli again", func() { newAWSCLI(t, viaRelay, alice).run("s3", "cp", file, "s3://alice-bucket/again") }, "alice-bucket/again", alice, true},
		{"boto3 upload_file", func() {
			runScript(t, "python3", viaRelay, alice, "boto3_upload.py", nil, "alice-bucket", "boto3", file)
		}, "alice-bucket/boto3", alice, true},
		{"other credential sends its body", func() { newAWSCLI(t, viaRelay, bob).run("s3", "cp", file, "s3://bob-bucket/mine") }, "bob-bucket/mine", bob, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			relay.reset()
			tc.upload()
			sent := relay.reset()
			report(t, "%s: %d bytes sent on the wire for a %d-byte file", tc.name, sent, size)
			if tc.instant && sent >= limit {
				t.Errorf("instant upload sent %d bytes, want < %d", sent, limit)
			}
			if !tc.instant && sent < size {
				t.Errorf("upload by another credential sent only %d bytes of %d: content was handed over by hash", sent, size)
			}
			if st := s.stats(); st.StoredBytes != base.StoredBytes {
				t.Errorf("stored_bytes %d, want unchanged %d", st.StoredBytes, base.StoredBytes)
			}
			bucket, key, _ := strings.Cut(tc.key, "/")
			if got, n := getSHA256(t, s3Client(s, tc.cred), bucket, key); n != size || got != sum {
				t.Errorf("%s reads back %d bytes, content matches %t", tc.key, n, got == sum)
			}
		})
	}
}

// TestSDKReuploadKnownContent: aws-sdk-go-v2 sets Expect: 100-continue above
// 2 MiB but does not wait for it (smithy-go builds its http.Request without
// Proto 1.1, so net/http sends the body at once). A server that answers
// known content early and closes the connection then resets a client in
// the middle of its body. Every such upload must still succeed.
func TestSDKReuploadKnownContent(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	const bucket = "sdk-reupload"
	createBucket(t, c, bucket)
	data := randomBytes(910, 24*MiB+1)
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 * MiB; u.Concurrency = 3 })
	for i := 0; i < 4; i++ {
		key := fmt.Sprintf("put-%d", i)
		if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: &key, Body: bytes.NewReader(data)}); err != nil {
			t.Errorf("PutObject #%d of the same content: %v", i+1, err)
		}
		key = fmt.Sprintf("multipart-%d", i)
		if _, err := up.Upload(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: &key, Body: bytes.NewReader(data)}); err != nil {
			t.Errorf("manager Upload #%d of the same content: %v", i+1, err)
		}
	}
	for i := 0; i < 4; i++ {
		for _, key := range []string{fmt.Sprintf("put-%d", i), fmt.Sprintf("multipart-%d", i)} {
			if got, _ := getSHA256(t, c, bucket, key); got != sha256Hex(data) {
				t.Errorf("%s reads back different content", key)
			}
		}
	}
}

// TestInstantUploadAcrossClients: content stored by one client is an instant upload for
// another that declares a different checksum. s3cmd stores a 6 MiB file with
// Content-MD5 only (the object gets S3's default CRC64NVME); boto3 then uploads the same
// file in one PutObject with its default CRC32 header, its signed SHA-256 and
// Expect: 100-continue: the server proves the CRC32 from its stored copy, so the body
// does not cross the wire, and the object reads back whole with boto3's CRC32.
func TestInstantUploadAcrossClients(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	relay := startRelay(t, s.host)
	viaRelay := &server{endpoint: relay.endpoint, host: strings.TrimPrefix(relay.endpoint, "http://")}
	const size = 6 * MiB
	file, sum := writeRandomFile(t, t.TempDir(), "across.bin", 901, size)
	s3cmd := newS3cmd(t, s, s.cred)
	s3cmd.run("mb", "s3://across")
	s3cmd.run("put", "--disable-multipart", file, "s3://across/by-s3cmd")
	base := s.stats()

	relay.reset()
	runScript(t, "python3", viaRelay, s.cred, "boto3_upload.py", nil, "across", "by-boto3", file)
	sent := relay.reset()
	report(t, "boto3 after s3cmd: %d bytes sent on the wire for a %d-byte file", sent, size)
	if sent >= 64*KiB {
		t.Errorf("boto3's upload of content s3cmd stored sent %d bytes, want < 64 KiB", sent)
	}
	if st := s.stats(); st.StoredBytes != base.StoredBytes {
		t.Errorf("stored_bytes %d, want unchanged %d", st.StoredBytes, base.StoredBytes)
	}
	c := s3Client(s, s.cred)
	if got, n := getSHA256(t, c, "across", "by-boto3"); n != size || got != sum {
		t.Errorf("by-boto3 reads back %d bytes, content matches %t", n, got == sum)
	}
	h, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("across"), Key: aws.String("by-boto3"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil || aws.ToString(h.ChecksumCRC32) == "" {
		t.Errorf("by-boto3 has no CRC32: %v", err)
	}
}
