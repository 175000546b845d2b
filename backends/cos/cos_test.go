package cos

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
	objtest.RunInvalidConfigs(t, ok, func(cfg Config) error {
		_, err := New(context.Background(), cfg)
		return err
	}, []objtest.ConfigEdit[Config]{
		{Name: "no-bucket", Edit: func(c *Config) { c.Bucket = "" }},
		{Name: "half-credentials", Edit: func(c *Config) { c.SecretKey = "" }},
		{Name: "tiny-parts", Edit: func(c *Config) { c.PartSize = 1000 }},
		{Name: "bad-endpoint", Edit: func(c *Config) { c.Endpoint = "ftp://x" }},
	})
}

// TestSignatures: a wrong secret, an unknown key id and a missing bucket make the
// store unusable (ErrUnavailable) and say so, without retrying what cannot change.
func TestSignatures(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	missing := costest.New(t, costest.Options{NoBucket: true})
	refused := func(name string, srv *costest.Server, edit func(*Config), text string) objtest.Refusal {
		return objtest.Refusal{Name: name, Faults: srv.Faults, Store: func(t *testing.T) backends.BlobStore {
			cfg := testConfig(srv, "")
			edit(&cfg)
			return newTestStore(t, cfg)
		}, HealthText: "bucket", PutText: text} // HEAD Bucket's errors have no body: the status tells
	}
	objtest.RunRefusals(t, []objtest.Refusal{
		refused("wrong-secret", srv, func(c *Config) { c.SecretKey = "wrong" }, "SignatureDoesNotMatch"),
		refused("unknown-key", srv, func(c *Config) { c.AccessKey = "AKIDother" }, "InvalidAccessKeyId"),
		refused("anonymous", srv, func(c *Config) { c.AccessKey, c.SecretKey = "", "" }, "AccessDenied"),
		refused("missing-bucket", missing, func(*Config) {}, "NoSuchBucket"),
	})
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

// TestFaults runs objtest's fault-injection table against a costest server.
func TestFaults(t *testing.T) {
	srv := costest.New(t, costest.Options{})
	objtest.RunFaults(t, objtest.Harness{
		New: func(t *testing.T, prefix string) backends.BlobStore {
			return newTestStore(t, testConfig(srv, prefix))
		},
		Faults: srv.Faults,
		Error: func(status int, code string) objtest.Fault {
			return func(w http.ResponseWriter, r *http.Request) bool {
				costest.WriteError(w, r, status, code, "injected")
				return true
			}
		},
		PartSize: testPartSize,
		Unreachable: func(t *testing.T, endpoint string) backends.BlobStore {
			return newTestStore(t, Config{Name: "gone", Endpoint: endpoint, Bucket: "b-1", PathStyle: true, AccessKey: "a", SecretKey: "s", MaxAttempts: 2, RetryBase: time.Millisecond})
		},
		Uploads:   func() int { return srv.Store.Uploads(srv.Bucket) },
		Keys:      func() []string { return srv.Store.Keys(srv.Bucket) },
		CRCHeader: "x-cos-hash-crc64ecma",
	})
}
