package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// With S3PROXY_E2E_BACKEND=s3 every s3proxy the suite starts keeps its chunks in a
// real S3 server (versitygw, started once for the run) through the s3 backend instead
// of on local disk: the same client tests then show that the backend is transparent.
// `make test` runs the aws cli and aws-sdk-go-v2 tests a second time this way.

// chunkBackend is the run-wide S3 server chunks go to, when enabled.
type chunkBackend struct {
	endpoint string
	cmd      *exec.Cmd
	dir      string
	n        atomic.Int64 // buckets handed out, one per s3proxy started (tests run in parallel)
}

const (
	backendAccessKey = "E2EBACKENDKEY0000001"
	backendSecretKey = "e2eBackendSecret000000000000000000000001"
)

// startChunkBackend starts versitygw on a free port with a posix directory.
func startChunkBackend(s *suite) (*chunkBackend, error) {
	bin, err := s.tools.lookPath("versitygw")
	if err != nil {
		return nil, fmt.Errorf("S3PROXY_E2E_BACKEND=s3 needs versitygw: %w", err)
	}
	dir := filepath.Join(s.tmp, "chunk-backend")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePortErr()
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "--access", backendAccessKey, "--secret", backendSecretKey, "--region", region, "--port", host, "posix", dir)
	logf, err := os.Create(filepath.Join(s.tmp, "chunk-backend.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &chunkBackend{endpoint: "http://" + host, cmd: cmd, dir: dir}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(b.endpoint)
		if err == nil {
			resp.Body.Close()
			return b, nil
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Errorf("versitygw did not answer on %s", host)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (b *chunkBackend) stop() {
	_ = b.cmd.Process.Kill()
	_ = b.cmd.Wait()
}

// newBucket creates a fresh bucket for one s3proxy's chunks.
func (b *chunkBackend) newBucket() (string, error) {
	name := fmt.Sprintf("chunks-%d", b.n.Add(1))
	c := s3ClientAt(b.endpoint, nil, credential{AccessKey: backendAccessKey, SecretKey: backendSecretKey})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	return name, err
}

// backendYAML is the backends section pointing one s3proxy at a bucket of the backend.
func (b *chunkBackend) backendYAML(bucket string) string {
	return fmt.Sprintf("backends:\n  - name: s3\n    type: s3\n    endpoint: %s\n    region: %s\n    bucket: %s\n    prefix: c/\n    access_key: %s\n    secret_key: %s\n    path_style: true\n",
		b.endpoint, region, bucket, backendAccessKey, backendSecretKey)
}

func freePortErr() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
