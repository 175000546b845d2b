package cos

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/backends/blobtest"
	"s3proxy/backends/cos/costest"
	"s3proxy/backends/internal/objtest"
)

// testPartSize is COS's minimum, so that blobtest's 12 MiB round trip takes 12 parts.
const testPartSize = MinPartSize

func testConfig(srv *costest.Server, prefix string) Config {
	return Config{
		Name: "cos-test", Endpoint: srv.URL, Bucket: srv.Bucket, Prefix: prefix, PathStyle: true,
		AccessKey: srv.SecretID, SecretKey: srv.SecretKey,
		PartSize: testPartSize, MaxAttempts: 3, Timeout: 10 * time.Second, RetryBase: 5 * time.Millisecond,
	}
}

func newTestStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	var n atomic.Int64
	blobtest.Run(t, func(t *testing.T) backends.BlobStore {
		// Every store of the run gets its own prefix, so they share the bucket unseen.
		return newTestStore(t, testConfig(srv, fmt.Sprintf("run%d", n.Add(1))))
	}, blobtest.Options{RequireSHA: true})
	if n := srv.Store.Uploads(srv.Bucket); n != 0 {
		t.Errorf("%d multipart uploads left behind (failed Puts must abort theirs)", n)
	}
}

func TestBucketURL(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"service host", Config{Bucket: "b-125", Endpoint: "cos.ap-guangzhou.myqcloud.com"}, "https://b-125.cos.ap-guangzhou.myqcloud.com"},
		{"service URL", Config{Bucket: "b-125", Endpoint: "http://cos.ap-guangzhou.myqcloud.com/"}, "http://b-125.cos.ap-guangzhou.myqcloud.com"},
		{"region only", Config{Bucket: "b-125", Region: "ap-beijing"}, "https://b-125.cos.ap-beijing.myqcloud.com"},
		{"bucket host already", Config{Bucket: "b-125", Endpoint: "https://b-125.cos.ap-beijing.myqcloud.com"}, "https://b-125.cos.ap-beijing.myqcloud.com"},
		{"as is", Config{Bucket: "b-125", Endpoint: "http://127.0.0.1:9000", PathStyle: true}, "http://127.0.0.1:9000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := BucketURL(c.cfg)
			if err != nil || u.String() != c.want {
				t.Errorf("BucketURL = %v, %v; want %s", u, err, c.want)
			}
		})
	}
	for _, bad := range []Config{{Bucket: "b"}, {Bucket: "b", Endpoint: "ftp://x"}} {
		if _, err := BucketURL(bad); err == nil {
			t.Errorf("BucketURL(%+v) succeeded", bad)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	ok := testConfig(srv, "")
	cases := []struct {
		name string
		edit func(*Config)
	}{
		{"no-bucket", func(c *Config) { c.Bucket = "" }},
		{"half-credentials", func(c *Config) { c.SecretKey = "" }},
		{"tiny-parts", func(c *Config) { c.PartSize = 1000 }},
		{"bad-endpoint", func(c *Config) { c.Endpoint = "ftp://x" }},
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
}

// TestSignatures: a wrong secret, an unknown key id and a missing bucket make the
// store unusable (ErrUnavailable) and say so, without retrying what cannot change.
func TestSignatures(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	missing := costest.New(t, costest.Options{NoBucket: true})
	cases := []struct {
		name     string
		srv      *costest.Server
		edit     func(*Config)
		wantText string
	}{
		{"wrong-secret", srv, func(c *Config) { c.SecretKey = "wrong" }, "SignatureDoesNotMatch"},
		{"unknown-key", srv, func(c *Config) { c.AccessKey = "AKIDother" }, "InvalidAccessKeyId"},
		{"anonymous", srv, func(c *Config) { c.AccessKey, c.SecretKey = "", "" }, "AccessDenied"},
		{"missing-bucket", missing, func(*Config) {}, "NoSuchBucket"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(c.srv, "")
			c.edit(&cfg)
			s := newTestStore(t, cfg)
			defer s.Close()
			before := c.srv.Faults.Requests()
			// HEAD Bucket's errors have no body: the status tells.
			err := s.Health(context.Background())
			if !errors.Is(err, backends.ErrUnavailable) || !strings.Contains(err.Error(), "bucket") {
				t.Errorf("Health: %v; want ErrUnavailable naming the bucket", err)
			}
			if got := c.srv.Faults.Requests() - before; got != 1 {
				t.Errorf("server saw %d requests, want 1 (no retries)", got)
			}
			err = s.Put(context.Background(), "k", strings.NewReader("x"), 1, backends.PutOptions{})
			if !errors.Is(err, backends.ErrUnavailable) || !strings.Contains(err.Error(), c.wantText) {
				t.Errorf("Put: %v; want ErrUnavailable mentioning %q", err, c.wantText)
			}
		})
	}
	t.Run("expired-clock", func(t *testing.T) {
		srv.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		defer func() { srv.Now = time.Now }()
		s := newTestStore(t, testConfig(srv, ""))
		defer s.Close()
		if err := s.Health(context.Background()); !errors.Is(err, backends.ErrUnavailable) {
			t.Errorf("Health with an expired signature: %v, want ErrUnavailable", err)
		}
	})
}

func cosError(status int, code string) objtest.Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		costest.WriteError(w, r, status, code, "injected")
		return true
	}
}

func TestRetriesAndErrorKinds(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	s := newTestStore(t, testConfig(srv, "faults"))
	defer s.Close()
	ctx := context.Background()
	cases := []struct {
		name     string
		fault    objtest.Fault
		size     int
		wantErr  error // nil: the Put succeeds
		attempts int64 // requests the server sees
	}{
		{"throttled-then-ok", objtest.Times(2, cosError(503, "SlowDown")), 1000, nil, 3},
		{"5xx-then-ok", objtest.Times(1, cosError(500, "InternalError")), 1000, nil, 2},
		{"throttled-always", cosError(503, "SlowDown"), 1000, backends.ErrExhausted, 3},
		{"429-always", cosError(429, "TooManyRequests"), 1000, backends.ErrExhausted, 3},
		{"5xx-always", cosError(500, "InternalError"), 1000, backends.ErrUnavailable, 3},
		{"access-denied", cosError(403, "AccessDenied"), 1000, backends.ErrUnavailable, 1},
		// initiate, 3 parts (one throttled once), complete, sidecar
		{"multipart-part-retried", objtest.Only(http.MethodPut, objtest.Times(1, cosError(503, "SlowDown"))), 3 * testPartSize, nil, 7},
		// initiate, 3 parts refused three times each at most, then abort
		{"multipart-fails", objtest.Only(http.MethodPut, cosError(500, "InternalError")), 3 * testPartSize, backends.ErrUnavailable, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv.Faults.Set(c.fault)
			defer srv.Faults.Set(nil)
			before := srv.Faults.Requests()
			key := fmt.Sprintf("retry%d", i)
			data := bytes.Repeat([]byte{'x'}, c.size)
			sum := sha256.Sum256(data)
			err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), backends.PutOptions{SHA256: func() [32]byte { return sum }})
			if got := srv.Faults.Requests() - before; c.attempts > 0 && got != c.attempts {
				t.Errorf("server saw %d requests, want %d", got, c.attempts)
			}
			srv.Faults.Set(nil)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if info, err := s.Stat(ctx, key); err != nil || info.SHA256 != sum {
					t.Errorf("Stat after a retried Put: %+v, %v", info, err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Put: %v, want %v", err, c.wantErr)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Stat after a failed Put: %v, want ErrNotFound", err)
			}
			if n := srv.Store.Uploads(srv.Bucket); n != 0 {
				t.Errorf("%d multipart uploads left behind", n)
			}
		})
	}
	t.Run("get-retried", func(t *testing.T) {
		if err := s.Put(ctx, "getretry", strings.NewReader("hello"), 5, backends.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		srv.Faults.Set(objtest.Only(http.MethodGet, objtest.Times(2, cosError(503, "SlowDown"))))
		defer srv.Faults.Set(nil)
		rc, err := s.Get(ctx, "getretry", 1, 3)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer rc.Close()
		if b, err := io.ReadAll(rc); err != nil || string(b) != "ell" {
			t.Errorf("Get = %q, %v", b, err)
		}
	})
}

// TestBackendFailsMidStream: the server drops the connection halfway through every
// upload; the Put fails (after retries) and nothing becomes visible.
func TestBackendFailsMidStream(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	s := newTestStore(t, testConfig(srv, "drop"))
	defer s.Close()
	ctx := context.Background()
	for _, size := range []int64{100 << 10, 3 * testPartSize} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := fmt.Sprintf("drop%d", size)
			srv.Faults.Set(objtest.Only(http.MethodPut, func(w http.ResponseWriter, r *http.Request) bool {
				_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
				return true
			}))
			err := s.Put(ctx, key, io.LimitReader(zeros{}, size), size, backends.PutOptions{})
			srv.Faults.Set(nil)
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
	srv := costest.New(t, costest.Options{})
	s := newTestStore(t, testConfig(srv, "stall"))
	defer s.Close()
	ctx := context.Background()
	const size = 1 << 20
	if err := s.Put(ctx, "stall", io.LimitReader(zeros{}, size), size, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Faults.Set(objtest.Only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, size/2))
		_ = http.NewResponseController(w).Flush()
		select { // until the client gives up or the test ends
		case <-r.Context().Done():
		case <-srv.Faults.Release:
		}
		return true
	}))
	defer srv.Faults.Set(nil)
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

// TestCorruptRead: a whole-chunk read whose bytes do not match the recorded CRC fails.
func TestCorruptRead(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	s := newTestStore(t, testConfig(srv, "crc"))
	defer s.Close()
	ctx := context.Background()
	if err := s.Put(ctx, "crc", strings.NewReader("hello world"), 11, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.Faults.Set(objtest.Only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("x-cos-hash-crc64ecma", "12345")
		w.Header().Set("Content-Length", "11")
		_, _ = io.WriteString(w, "hello world")
		return true
	}))
	defer srv.Faults.Set(nil)
	rc, err := s.Get(ctx, "crc", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, backends.ErrInternal) {
		t.Errorf("reading a corrupt chunk: %v, want ErrInternal", err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := newTestStore(t, Config{Name: "gone", Endpoint: "http://" + addr, Bucket: "b-1", PathStyle: true, AccessKey: "a", SecretKey: "s", MaxAttempts: 2, RetryBase: time.Millisecond})
	defer s.Close()
	if err := s.Health(context.Background()); !errors.Is(err, backends.ErrUnavailable) {
		t.Errorf("Health of a closed port: %v, want ErrUnavailable", err)
	}
}

// TestSidecar: a multipart chunk's hash lives in the sidecar, which List hides and
// Delete removes.
func TestSidecar(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	s := newTestStore(t, testConfig(srv, "side"))
	defer s.Close()
	ctx := context.Background()
	data := bytes.Repeat([]byte("ab"), testPartSize)
	sum := sha256.Sum256(data)
	if err := s.Put(ctx, "mp", bytes.NewReader(data), -1, backends.PutOptions{SHA256: func() [32]byte { return sum }}); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Store.Keys(srv.Bucket); strings.Join(keys, ",") != "side/_sha256/mp,side/mp" {
		t.Errorf("objects = %q", keys)
	}
	if info, err := s.Stat(ctx, "mp"); err != nil || !info.HasSHA || info.SHA256 != sum {
		t.Errorf("Stat = %+v, %v", info, err)
	}
	if err := s.Delete(ctx, "mp"); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Store.Keys(srv.Bucket); len(keys) != 0 {
		t.Errorf("objects after Delete = %q", keys)
	}
}
