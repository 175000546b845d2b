package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"s3proxy/backends"
	"s3proxy/backends/blobtest"
)

const (
	testBucket = "chunks"
	testAccess = "AKIATESTTESTTEST"
	testSecret = "testsecrettestsecrettestsecret"
	// testPartSize is S3's minimum, so that blobtest's 12 MiB round trip takes 3 parts.
	testPartSize = 5 << 20
)

func testConfig(endpoint, prefix string) Config {
	return Config{
		Name: "s3-test", Endpoint: endpoint, Region: "us-east-1", Bucket: testBucket, Prefix: prefix,
		AccessKey: testAccess, SecretKey: testSecret, PathStyle: true,
		PartSize: testPartSize, MaxAttempts: 3, Timeout: 10 * time.Second,
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

// startGofakes3 serves an in-memory S3 with the test bucket.
func startGofakes3(t *testing.T) string {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	faker := gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog()), gofakes3.WithIntegrityCheck(true))
	ts := httptest.NewServer(faker.Server())
	t.Cleanup(ts.Close)
	return ts.URL
}

// prefixes gives every store of a run its own prefix, so they share a bucket unseen.
func prefixes(t *testing.T, endpoint string) blobtest.NewStore {
	var n atomic.Int64
	return func(t *testing.T) backends.BlobStore {
		return newTestStore(t, testConfig(endpoint, fmt.Sprintf("run%d/%s", n.Add(1), t.Name())))
	}
}

func TestConformanceGofakes3(t *testing.T) {
	endpoint := startGofakes3(t)
	blobtest.Run(t, prefixes(t, endpoint), blobtest.Options{RequireSHA: true})
}

func TestConformanceVersitygw(t *testing.T) {
	endpoint := startVersitygw(t)
	s := newTestStore(t, testConfig(endpoint, ""))
	createBucket(t, s)
	s.Close()
	blobtest.Run(t, prefixes(t, endpoint), blobtest.Options{RequireSHA: true})
}

// createBucket creates the test bucket if it is not there yet.
func createBucket(t *testing.T, s *Store) {
	t.Helper()
	if err := s.Health(context.Background()); err == nil {
		return
	}
	if _, err := s.client.CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String(testBucket)}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
}

// versitygwInstall is how CI (and a developer) gets the real S3 server these tests use.
const versitygwInstall = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// findVersitygw looks in $VERSITYGW, PATH and $(go env GOPATH)/bin.
func findVersitygw() string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "versitygw")
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// startVersitygw runs versitygw (posix backend on a temp dir) on a free loopback port
// until the test ends. Without the binary it skips, except in CI where it fails.
func startVersitygw(t *testing.T) string {
	t.Helper()
	bin := findVersitygw()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("versitygw not found (CI=true, so not skipping); install it with: %s", versitygwInstall)
		}
		t.Skipf("versitygw not found; install it with: %s", versitygwInstall)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--access", testAccess, "--secret", testSecret, "--port", addr,
		"--keep-alive", "--quiet", "posix", t.TempDir())
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("versitygw output:\n%s", logs.String())
		}
	})
	endpoint := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("versitygw exited: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(endpoint)
		if err == nil {
			resp.Body.Close()
			http.DefaultClient.CloseIdleConnections()
			return endpoint
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw did not answer on %s: %v\n%s", addr, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPartBoundaries round-trips sizes around the part size, where the single-PUT and
// multipart paths meet and the last part may be full or empty.
func TestPartBoundaries(t *testing.T) {
	s := newTestStore(t, testConfig(startGofakes3(t), "bounds"))
	defer s.Close()
	ctx := context.Background()
	for _, size := range []int64{testPartSize - 1, testPartSize, testPartSize + 1, 2 * testPartSize} {
		for _, known := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/known=%v", size, known), func(t *testing.T) {
				data := bytes.Repeat([]byte{byte(size)}, int(size))
				data[len(data)-1] = 0xEE // so a lost or repeated last byte shows
				arg := size
				if !known {
					arg = -1
				}
				key := fmt.Sprintf("b%d%v", size, known)
				sum := sha256.Sum256(data)
				opts := backends.PutOptions{SHA256: func() [32]byte { return sum }}
				if err := s.Put(ctx, key, struct{ io.Reader }{bytes.NewReader(data)}, arg, opts); err != nil {
					t.Fatalf("Put: %v", err)
				}
				rc, err := s.Get(ctx, key, 0, -1)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("Get: %d bytes, %v; want %d identical", len(got), err, len(data))
				}
				if info, err := s.Stat(ctx, key); err != nil || info.Size != size || info.SHA256 != sum {
					t.Errorf("Stat = %+v, %v", info, err)
				}
			})
		}
	}
}
