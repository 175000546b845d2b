package oss

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/backends/blobtest"
	"s3proxy/backends/internal/objtest"
	"s3proxy/backends/oss/osstest"
)

// testPartSize makes blobtest's 12 MiB round trip take 12 parts.
const testPartSize = 1 << 20

func testConfig(srv *osstest.Server, prefix string) Config {
	return Config{
		Name: "oss-test", Endpoint: srv.URL, Region: srv.Region, Bucket: srv.Bucket, Prefix: prefix, PathStyle: true,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey,
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

// TestConformance runs the suite signing with V4 (a region is configured) and with V1.
func TestConformance(t *testing.T) {
	for _, c := range []struct{ name, region, version string }{
		{"V4", "oss-cn-hangzhou", "OSS4-HMAC-SHA256"},
		{"V1", "", "OSS"},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := osstest.New(t, osstest.Options{})
			var n atomic.Int64
			blobtest.Run(t, func(t *testing.T) backends.BlobStore {
				// Every store of the run gets its own prefix, so they share the bucket unseen.
				cfg := testConfig(srv, fmt.Sprintf("run%d", n.Add(1)))
				cfg.Region = c.region
				return newTestStore(t, cfg)
			}, blobtest.Options{RequireSHA: true})
			if n := srv.Store.Uploads(srv.Bucket); n != 0 {
				t.Errorf("%d multipart uploads left behind (failed Puts must abort theirs)", n)
			}
			if srv.Signed(c.version) == 0 {
				t.Errorf("no request was signed with %s", c.version)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	srv := osstest.New(t, osstest.Options{})
	ok := testConfig(srv, "")
	objtest.RunInvalidConfigs(t, ok, func(cfg Config) error {
		_, err := New(context.Background(), cfg)
		return err
	}, []objtest.ConfigEdit[Config]{
		{Name: "no-bucket", Edit: func(c *Config) { c.Bucket = "" }},
		{Name: "half-credentials", Edit: func(c *Config) { c.SecretKey = "" }},
		{Name: "tiny-parts", Edit: func(c *Config) { c.PartSize = 1000 }},
		{Name: "no-endpoint", Edit: func(c *Config) { c.Endpoint = "" }},
		{Name: "bad-endpoint", Edit: func(c *Config) { c.Endpoint = "ftp://x" }},
	})
}

// TestSignatures: a wrong secret, an unknown key id and a missing bucket make the
// store unusable (ErrUnavailable) and say so, without retrying what cannot change.
func TestSignatures(t *testing.T) {
	srv := osstest.New(t, osstest.Options{})
	missing := osstest.New(t, osstest.Options{NoBucket: true})
	refused := func(name string, srv *osstest.Server, edit func(*Config), text string) objtest.Refusal {
		return objtest.Refusal{Name: name, Faults: srv.Faults, Store: func(t *testing.T) backends.BlobStore {
			cfg := testConfig(srv, "")
			edit(&cfg)
			return newTestStore(t, cfg)
		}, HealthText: text, PutText: text}
	}
	objtest.RunRefusals(t, []objtest.Refusal{
		refused("wrong-secret", srv, func(c *Config) { c.SecretKey = "wrong" }, "SignatureDoesNotMatch"),
		refused("unknown-key", srv, func(c *Config) { c.AccessKey = "LTAIother" }, "InvalidAccessKeyId"),
		// The SDK signs even without keys; OSS rejects the empty key id.
		refused("anonymous", srv, func(c *Config) { c.AccessKey, c.SecretKey = "", "" }, "InvalidAccessKeyId"),
		refused("wrong-secret-v1", srv, func(c *Config) { c.SecretKey, c.Region = "wrong", "" }, "SignatureDoesNotMatch"),
		refused("wrong-region", srv, func(c *Config) { c.Region = "cn-beijing" }, "SignatureDoesNotMatch"),
		refused("missing-bucket", missing, func(*Config) {}, "NoSuchBucket"),
	})
	t.Run("expired-clock", func(t *testing.T) {
		srv.Now = func() time.Time { return time.Now().Add(time.Hour) }
		defer func() { srv.Now = time.Now }()
		s := newTestStore(t, testConfig(srv, ""))
		defer s.Close()
		if err := s.Health(context.Background()); !errors.Is(err, backends.ErrUnavailable) {
			t.Errorf("Health with a skewed clock: %v, want ErrUnavailable", err)
		}
	})
}

// TestFaults runs objtest's fault-injection table against a osstest server.
func TestFaults(t *testing.T) {
	srv := osstest.New(t, osstest.Options{})
	objtest.RunFaults(t, objtest.Harness{
		New: func(t *testing.T, prefix string) backends.BlobStore {
			return newTestStore(t, testConfig(srv, prefix))
		},
		Faults: srv.Faults,
		Error: func(status int, code string) objtest.Fault {
			return func(w http.ResponseWriter, r *http.Request) bool {
				osstest.WriteError(w, r, status, code, "injected")
				return true
			}
		},
		PartSize: testPartSize,
		Unreachable: func(t *testing.T, endpoint string) backends.BlobStore {
			return newTestStore(t, Config{Name: "gone", Endpoint: endpoint, Bucket: "b-1", AccessKey: "a", SecretKey: "s", MaxAttempts: 2, RetryBase: time.Millisecond})
		},
		Uploads:   func() int { return srv.Store.Uploads(srv.Bucket) },
		Keys:      func() []string { return srv.Store.Keys(srv.Bucket) },
		CRCHeader: "x-oss-hash-crc64ecma",
	})
}
