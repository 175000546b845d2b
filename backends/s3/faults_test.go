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
	"sort"
	"strings"
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
	"s3proxy/backends/internal/objtest"
)

// faultyS3 is gofakes3 behind objtest's switchable fault injector.
type faultyS3 struct {
	url    string
	mem    *s3mem.Backend
	faults *objtest.Faults
}

func startFaulty(t *testing.T) *faultyS3 {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	next := gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	f := &faultyS3{mem: mem, faults: objtest.NewFaults()}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.faults.Intercept(w, r) {
			return
		}
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(f.faults.Release); ts.Close() })
	f.url = ts.URL
	return f
}

// keys lists every object name in the test bucket.
func (f *faultyS3) keys(t *testing.T) []string {
	list, err := f.mem.ListBucket(testBucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	sort.Strings(keys)
	return keys
}

func s3Error(status int, code string) objtest.Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<Error><Code>%s</Code><Message>injected</Message><RequestId>1</RequestId></Error>", code)
		return true
	}
}

// TestFaults runs objtest's fault-injection table against gofakes3. The retries are
// the SDK's (Config.MaxAttempts 3 in testConfig).
func TestFaults(t *testing.T) {
	srv := startFaulty(t)
	objtest.RunFaults(t, objtest.Harness{
		New: func(t *testing.T, prefix string) backends.BlobStore {
			return newTestStore(t, testConfig(srv.url, prefix))
		},
		Faults:   srv.faults,
		Error:    s3Error,
		PartSize: testPartSize,
		Unreachable: func(t *testing.T, endpoint string) backends.BlobStore {
			cfg := testConfig(endpoint, "")
			cfg.MaxAttempts = 1
			return newTestStore(t, cfg)
		},
		Keys: func() []string { return srv.keys(t) },
	})
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
	objtest.RunInvalidConfigs(t, ok, func(cfg Config) error {
		_, err := New(context.Background(), cfg)
		return err
	}, []objtest.ConfigEdit[Config]{
		{Name: "no-bucket", Edit: func(c *Config) { c.Bucket = "" }},
		{Name: "half-credentials", Edit: func(c *Config) { c.SecretKey = "" }},
		{Name: "tiny-parts", Edit: func(c *Config) { c.PartSize = 1 << 20 }},
	})
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
			r := io.TeeReader(io.LimitReader(objtest.Zeros{}, size), h)
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
