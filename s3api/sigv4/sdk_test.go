package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"s3proxy/s3api/s3err"
)

// seen is what the test server observed for one request.
type seen struct {
	method, path  string
	contentSHA256 string
	encoding      string
	auth          *Auth
	body          []byte
	trailer       http.Header
	err           error
}

// sdkServer runs Verify on every request and reads the body to EOF, as the
// real handlers will; failures are answered as S3 XML errors so the SDK
// surfaces the code.
func sdkServer(t *testing.T, tls bool) (*httptest.Server, func() []seen) {
	v := &Verifier{Creds: staticCreds{testAK: testSK}, Region: testRegion}
	var mu sync.Mutex
	var log []seen
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := seen{method: r.Method, path: r.URL.Path, contentSHA256: r.Header.Get("X-Amz-Content-Sha256"), encoding: r.Header.Get("Content-Encoding")}
		a, err := v.Verify(r)
		if err == nil {
			s.auth = a
			s.body, err = io.ReadAll(a.Body)
			if err == nil && a.SignedPayloadSHA256 != nil {
				if sum := sha256.Sum256(s.body); !bytes.Equal(sum[:], a.SignedPayloadSHA256) {
					err = s3err.New(s3err.XAmzContentSHA256Mismatch)
				}
			}
			if err == nil {
				s.trailer = a.Trailer()
			}
		}
		s.err = err
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
		if err != nil {
			e := s3err.As(err)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(e.Status())
			fmt.Fprintf(w, "<Error><Code>%s</Code><Message>%s</Message></Error>", e.Code, e.Msg())
			return
		}
		if r.Method == http.MethodGet {
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
			return
		}
		w.Header().Set("ETag", `"x"`)
	}))
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), log...) }
}

func sdkClient(srv *httptest.Server, secret string) *s3.Client {
	// Built by hand: config.LoadDefaultConfig would read the environment
	// (AWS_CA_BUNDLE and friends) and make the test depend on the machine.
	cfg := aws.Config{
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testAK, secret, ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.Client(), // trusts the test server's certificate
		// What config.LoadDefaultConfig resolves by default; a hand-built
		// Config leaves it Unset, which sends no checksum at all.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

// onlyReader hides Seek, which makes the SDK stream the body as aws-chunked.
type onlyReader struct{ io.Reader }

func TestSDKPutObject(t *testing.T) {
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(i*31 + i>>8)
	}
	crc := make([]byte, 4)
	binary.BigEndian.PutUint32(crc, crc32.ChecksumIEEE(data))
	wantCRC := base64.StdEncoding.EncodeToString(crc)
	key := "dir/a b+c%d€//x~y"

	// Over plain HTTP the SDK signs the payload hash, so it needs a seekable
	// body; over HTTPS it streams aws-chunked with a trailing checksum.
	sum := sha256.Sum256(data)
	cases := []struct {
		name string
		tls  bool
		body func() io.Reader
		mode string // the x-amz-content-sha256 the SDK sends
	}{
		{"http seekable", false, func() io.Reader { return bytes.NewReader(data) }, hex.EncodeToString(sum[:])},
		{"http non-seekable", false, func() io.Reader { return onlyReader{bytes.NewReader(data)} }, ""},
		{"https seekable", true, func() io.Reader { return bytes.NewReader(data) }, StreamingUnsignedTrailer},
		{"https non-seekable", true, func() io.Reader { return onlyReader{bytes.NewReader(data)} }, StreamingUnsignedTrailer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv, log := sdkServer(t, c.tls)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := sdkClient(srv, testSK).PutObject(ctx, &s3.PutObjectInput{
				Bucket:        aws.String("bucket"),
				Key:           aws.String(key),
				Body:          c.body(),
				ContentLength: aws.Int64(int64(len(data))),
			})
			if c.mode == "" {
				// The SDK refuses: it cannot hash the body up front and
				// sends trailing checksums only over TLS.
				if err == nil || !strings.Contains(err.Error(), "seek") {
					t.Fatalf("PutObject = %v, want the SDK's unseekable-stream error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PutObject: %v (server saw %+v)", err, log())
			}
			l := log()
			s := l[len(l)-1]
			if s.path != "/bucket/"+key || !bytes.Equal(s.body, data) {
				t.Fatalf("server got path %q, %d bytes", s.path, len(s.body))
			}
			t.Logf("x-amz-content-sha256=%s content-encoding=%q trailers=%v declared=%v", s.contentSHA256, s.encoding, s.trailer, s.auth.TrailerNames)
			if s.contentSHA256 != c.mode {
				t.Fatalf("SDK sent x-amz-content-sha256 %q, want %q", s.contentSHA256, c.mode)
			}
			if s.auth.Chunked {
				if got := s.trailer.Get("X-Amz-Checksum-Crc32"); got != wantCRC {
					t.Fatalf("trailer crc32 = %q, want %q", got, wantCRC)
				}
				if s.auth.DecodedLength != int64(len(data)) {
					t.Fatalf("DecodedLength = %d", s.auth.DecodedLength)
				}
			}
		})
	}
}

func TestSDKWrongSecret(t *testing.T) {
	srv, _ := sdkServer(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := sdkClient(srv, "wrong").PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("bucket"), Key: aws.String("k"), Body: onlyReader{strings.NewReader("hello")}, ContentLength: aws.Int64(5),
	})
	if err == nil || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatalf("err = %v", err)
	}
}

func TestSDKPresignedGet(t *testing.T) {
	srv, log := sdkServer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ps := s3.NewPresignClient(sdkClient(srv, testSK))
	req, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("a b+c/€")},
		s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range req.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			hr.Header[k] = vs
		}
	}
	resp, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("status %d body %q (server saw %+v)", resp.StatusCode, body, log())
	}
	if a := log()[0].auth; !a.Presigned || a.AccessKey != testAK {
		t.Fatalf("auth = %+v", a)
	}
	// The same URL with the key changed fails.
	hr2, _ := http.NewRequestWithContext(ctx, req.Method, strings.Replace(req.URL, "/bucket/", "/bucket/x", 1), nil)
	resp, err = srv.Client().Do(hr2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("tampered URL: status %d", resp.StatusCode)
	}
}

func TestSDKPresignedPut(t *testing.T) {
	srv, log := sdkServer(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ps := s3.NewPresignClient(sdkClient(srv, testSK))
	req, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("up/load"), ContentType: aws.String("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, strings.NewReader("payload"))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range req.SignedHeader {
		if !strings.EqualFold(k, "Host") {
			hr.Header[k] = vs
		}
	}
	// curl-like clients add headers of their own; unsigned ones must not
	// break the signature.
	hr.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	resp, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	l := log()
	if resp.StatusCode != 200 || string(l[0].body) != "payload" || !l[0].auth.Presigned {
		t.Fatalf("status %d, server saw %+v (signed headers %v)", resp.StatusCode, l, req.SignedHeader)
	}
}
