package s3

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"s3proxy/backends"
)

// fault decides what the faulty server does with one request; nil passes it on.
type fault func(w http.ResponseWriter, r *http.Request, next http.Handler) bool

// faultyS3 is gofakes3 behind a switchable fault injector.
type faultyS3 struct {
	url      string
	fault    atomic.Pointer[fault]
	requests atomic.Int64
}

func startFaulty(t *testing.T) *faultyS3 {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	next := gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	f := &faultyS3{}
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if fp := f.fault.Load(); fp != nil && (*fp)(w, r.WithContext(withRelease(r.Context(), release)), next) {
			return
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(release); ts.Close() })
	f.url = ts.URL
	return f
}

type releaseKey struct{}

func withRelease(ctx context.Context, ch chan struct{}) context.Context {
	return context.WithValue(ctx, releaseKey{}, ch)
}

func (f *faultyS3) set(fn fault) { f.fault.Store(&fn) }
func (f *faultyS3) clear()       { f.fault.Store(nil) }

func s3Error(status int, code string) fault {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<Error><Code>%s</Code><Message>injected</Message><RequestId>1</RequestId></Error>", code)
		return true
	}
}

// times applies fn to the first n requests only.
func times(n int64, fn fault) fault {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
		if seen.Add(1) > n {
			return false
		}
		return fn(w, r, next)
	}
}

func xs(n int) *strings.Reader { return strings.NewReader(strings.Repeat("x", n)) }

func TestRetriesAndErrorKinds(t *testing.T) {
	srv := startFaulty(t)
	s := newTestStore(t, testConfig(srv.url, "faults"))
	defer s.Close()
	ctx := context.Background()
	cases := []struct {
		name     string
		fault    fault
		wantErr  error // nil: the Put succeeds
		attempts int64 // requests the server sees
	}{
		{"throttled-then-ok", times(2, s3Error(503, "SlowDown")), nil, 3},
		{"5xx-then-ok", times(1, s3Error(500, "InternalError")), nil, 2},
		{"throttled-always", s3Error(503, "SlowDown"), backends.ErrExhausted, 3},
		{"429-always", s3Error(429, "TooManyRequests"), backends.ErrExhausted, 3},
		{"5xx-always", s3Error(500, "InternalError"), backends.ErrUnavailable, 3},
		{"access-denied", s3Error(403, "AccessDenied"), backends.ErrUnavailable, 1},
		{"no-such-bucket", s3Error(404, "NoSuchBucket"), backends.ErrUnavailable, 1},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.set(c.fault)
			defer srv.clear()
			before := srv.requests.Load()
			key := fmt.Sprintf("retry%d", i)
			err := s.Put(ctx, key, xs(1000), 1000, backends.PutOptions{})
			if got := srv.requests.Load() - before; got != c.attempts {
				t.Errorf("server saw %d requests, want %d", got, c.attempts)
			}
			srv.clear()
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if _, err := s.Stat(ctx, key); err != nil {
					t.Errorf("Stat after a retried Put: %v", err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Put: %v, want %v", err, c.wantErr)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Stat after a failed Put: %v, want ErrNotFound", err)
			}
		})
	}
}

// TestBackendFailsMidStream: the server drops the connection halfway through every part
// upload; the Put fails (after the SDK's retries) and nothing becomes visible.
func TestBackendFailsMidStream(t *testing.T) {
	srv := startFaulty(t)
	s := newTestStore(t, testConfig(srv.url, "drop"))
	defer s.Close()
	ctx := context.Background()
	for _, size := range []int64{1 << 20, 12 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := fmt.Sprintf("drop%d", size)
			srv.set(func(w http.ResponseWriter, r *http.Request, next http.Handler) bool {
				if r.Method != http.MethodPut {
					return false
				}
				io.CopyN(io.Discard, r.Body, r.ContentLength/2)
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
				return true
			})
			err := s.Put(ctx, key, io.LimitReader(zeros{}, size), size, backends.PutOptions{})
			srv.clear()
			if !errors.Is(err, backends.ErrUnavailable) {
				t.Fatalf("Put: %v, want ErrUnavailable", err)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Stat after a dropped Put: %v, want ErrNotFound", err)
			}
		})
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestBackendStallsMidStream: the server sends half a GET body and stalls; the reader
// fails when the caller's deadline passes, not never.
func TestBackendStallsMidStream(t *testing.T) {
	srv := startFaulty(t)
	s := newTestStore(t, testConfig(srv.url, "stall"))
	defer s.Close()
	ctx := context.Background()
	const size = 1 << 20
	if err := s.Put(ctx, "stall", io.LimitReader(zeros{}, size), size, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.set(func(w http.ResponseWriter, r *http.Request, _ http.Handler) bool {
		if r.Method != http.MethodGet {
			return false
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, size/2))
		http.NewResponseController(w).Flush()
		select { // until the client gives up or the test ends
		case <-r.Context().Done():
		case <-r.Context().Value(releaseKey{}).(chan struct{}):
		}
		return true
	})
	defer srv.clear()
	gctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	rc, err := s.Get(gctx, "stall", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if !errors.Is(err, backends.ErrCanceled) {
		t.Errorf("reading a stalled body: %d bytes, %v; want ErrCanceled", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stalled read took %v", d)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	cfg := testConfig("http://"+addr, "")
	cfg.MaxAttempts = 1
	s := newTestStore(t, cfg)
	defer s.Close()
	if err := s.Health(context.Background()); !errors.Is(err, backends.ErrUnavailable) {
		t.Errorf("Health of a closed port: %v, want ErrUnavailable", err)
	}
}

func TestHealthMissingBucket(t *testing.T) {
	cfg := testConfig(startGofakes3(t), "")
	cfg.Bucket = "no-such-bucket"
	s := newTestStore(t, cfg)
	defer s.Close()
	err := s.Health(context.Background())
	if !errors.Is(err, backends.ErrUnavailable) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("Health with a missing bucket: %v, want ErrUnavailable naming the bucket", err)
	}
}

// TestCABundle: the SDK's loader rejects custom HTTP clients while AWS_CA_BUNDLE is set;
// the store must start (and work) with and without it.
func TestCABundle(t *testing.T) {
	endpoint := startGofakes3(t)
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, selfSignedCA(t), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"", bundle} {
		t.Run("AWS_CA_BUNDLE="+env, func(t *testing.T) {
			t.Setenv("AWS_CA_BUNDLE", env)
			s := newTestStore(t, testConfig(endpoint, "ca"))
			defer s.Close()
			if err := s.Health(context.Background()); err != nil {
				t.Fatalf("Health: %v", err)
			}
		})
	}
}

// selfSignedCA returns a throwaway CA certificate in PEM.
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "s3proxy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestConfigValidation(t *testing.T) {
	ok := testConfig("http://127.0.0.1:1", "")
	cases := []struct {
		name string
		edit func(*Config)
	}{
		{"no-bucket", func(c *Config) { c.Bucket = "" }},
		{"half-credentials", func(c *Config) { c.SecretKey = "" }},
		{"tiny-parts", func(c *Config) { c.PartSize = 1 << 20 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.edit(&cfg)
			if _, err := New(context.Background(), cfg); !errors.Is(err, backends.ErrInvalid) {
				t.Errorf("New: %v, want ErrInvalid", err)
			}
		})
	}
	s, err := New(context.Background(), Config{Name: "defaults", Bucket: "b", Prefix: "p", AccessKey: "a", SecretKey: "s"})
	if err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	if s.prefix != "p/" || s.cfg.PartSize != DefaultPartSize || s.cfg.Concurrency != DefaultConcurrency {
		t.Errorf("defaults: prefix %q, %+v", s.prefix, s.cfg)
	}
}

func TestKindOf(t *testing.T) {
	status := func(code int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("status"),
		}}
	}
	api := func(code string) error { return &smithy.GenericAPIError{Code: code} }
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want error
	}{
		{"NoSuchKey", context.Background(), api("NoSuchKey"), backends.ErrNotFound},
		{"NotFound", context.Background(), api("NotFound"), backends.ErrNotFound},
		{"bare 404", context.Background(), status(404), backends.ErrNotFound},
		{"InvalidRange", context.Background(), api("InvalidRange"), backends.ErrInvalid},
		{"SlowDown", context.Background(), api("SlowDown"), backends.ErrExhausted},
		{"503", context.Background(), status(503), backends.ErrExhausted},
		{"502", context.Background(), status(502), backends.ErrUnavailable},
		{"AccessDenied", context.Background(), api("AccessDenied"), backends.ErrUnavailable},
		{"NoSuchBucket", context.Background(), api("NoSuchBucket"), backends.ErrUnavailable},
		{"send error", context.Background(), &smithyhttp.RequestSendError{Err: errors.New("connection refused")}, backends.ErrUnavailable},
		{"net error", context.Background(), &net.OpError{Op: "dial", Err: errors.New("refused")}, backends.ErrUnavailable},
		{"truncated body", context.Background(), io.ErrUnexpectedEOF, backends.ErrUnavailable},
		{"context canceled", context.Background(), fmt.Errorf("x: %w", context.Canceled), backends.ErrCanceled},
		{"deadline", context.Background(), context.DeadlineExceeded, backends.ErrCanceled},
		{"any error after cancel", canceled, errors.New("connection reset"), backends.ErrCanceled},
		{"unknown", context.Background(), errors.New("weird"), backends.ErrInternal},
		{"unknown API code", context.Background(), api("Weird"), backends.ErrInternal},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := kindOf(c.ctx, c.err); got != c.want {
				t.Errorf("kindOf(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// TestRecordedSHA256 checks where the hash is kept on a server that keeps checksums:
// the object's own x-amz-checksum-sha256 for one PUT, the sidecar for multipart.
func TestRecordedSHA256(t *testing.T) {
	endpoint := startVersitygw(t)
	s := newTestStore(t, testConfig(endpoint, "sha"))
	defer s.Close()
	ctx := context.Background()
	createBucket(t, s)
	for _, size := range []int64{1000, 12 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := fmt.Sprintf("sha%d", size)
			h := sha256.New()
			r := io.TeeReader(io.LimitReader(zeros{}, size), h)
			if err := s.Put(ctx, key, r, size, backends.PutOptions{SHA256: func() [32]byte { return [32]byte(h.Sum(nil)) }}); err != nil {
				t.Fatal(err)
			}
			want := [32]byte(h.Sum(nil))
			info, err := s.Stat(ctx, key)
			if err != nil || !info.HasSHA || info.SHA256 != want {
				t.Fatalf("Stat = %+v, %v", info, err)
			}
			head, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
				Bucket: aws.String(testBucket), Key: aws.String(s.object(key)), ChecksumMode: types.ChecksumModeEnabled,
			})
			if err != nil {
				t.Fatal(err)
			}
			if multipart := size > testPartSize; !multipart && aws.ToString(head.ChecksumSHA256) != base64.StdEncoding.EncodeToString(want[:]) {
				t.Errorf("x-amz-checksum-sha256 = %q, want the content's", aws.ToString(head.ChecksumSHA256))
			}
			_, sidecar, err := s.readSidecar(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			if multipart := size > testPartSize; sidecar != multipart {
				t.Errorf("sidecar present = %v, want %v", sidecar, multipart)
			}
			if err := s.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, sidecar, _ := s.readSidecar(ctx, key); sidecar {
				t.Errorf("Delete left the sidecar behind")
			}
		})
	}
	t.Run("bad-credentials", func(t *testing.T) {
		cfg := testConfig(endpoint, "")
		cfg.SecretKey = "wrong"
		bad := newTestStore(t, cfg)
		defer bad.Close()
		if err := bad.Health(ctx); !errors.Is(err, backends.ErrUnavailable) {
			t.Errorf("Health with a wrong secret: %v, want ErrUnavailable", err)
		}
	})
}
