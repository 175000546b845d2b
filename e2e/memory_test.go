package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// memLimit is the resident-memory budget of the issue: a 5 GiB PUT and GET
// must not make the server hold the object.
const memLimit = 100 * MiB

// TestMemory5GiB streams a 5 GiB object in and out while sampling the
// server's VmRSS, and checks its VmHWM (the kernel's own peak) stays under
// 100 MiB. The body comes from a PRNG and is hashed on the fly: the test
// process never holds it either. The PUT goes through the TLS front, so it
// is the SDK's default streaming upload (aws-chunked with a CRC32 trailer),
// the path most likely to buffer. Skipped with -short (make test-short);
// make test runs it.
func TestMemory5GiB(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("streams 5 GiB each way; runs in make test, not with -short")
	}
	size := int64(5 * GiB)
	if v := envOr("S3PROXY_E2E_BIG", ""); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("S3PROXY_E2E_BIG=%q: %v", v, err)
		}
		size = n
	}
	s := startServer(t, serverOptions{})
	// Retries would need a rewindable body; a failed transfer should fail the test anyway.
	noRetry := func(o *s3.Options) { o.RetryMaxAttempts = 1 }
	c := s3Client(s, s.cred, noRetry)
	tlsc := s3ClientTLS(t, s, s.cred, noRetry)
	const bucket, key = "memory", "big"
	createBucket(t, c, bucket)

	sampler := startMemSampler(t, s.pid(), 100*time.Millisecond)

	hs := sha256.New()
	body := onlyReader{io.TeeReader(io.LimitReader(prng(5000), size), hs)}
	start := time.Now()
	if _, err := tlsc.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: body, ContentLength: aws.Int64(size)}); err != nil {
		t.Fatalf("PutObject %d bytes: %v", size, err)
	}
	putTime := time.Since(start)
	want := hex.EncodeToString(hs.Sum(nil))
	putPeak := sampler.peak()

	start = time.Now()
	got, n := getSHA256(t, c, bucket, key)
	getTime := time.Since(start)
	if n != size || got != want {
		t.Fatalf("GetObject: %d bytes sha256 %s, want %d bytes %s", n, got, size, want)
	}

	rssPeak := sampler.stop()
	_, hwm, err := procMemory(s.pid())
	if err != nil {
		t.Fatal(err)
	}
	mbps := func(d time.Duration) float64 { return float64(size) / MiB / d.Seconds() }
	report(t, "object %d bytes: PUT %v (%.0f MiB/s, sampled RSS peak %.1f MiB), GET %v (%.0f MiB/s); server RSS peak sampled %.1f MiB, VmHWM %.1f MiB (limit %d MiB)",
		size, putTime.Round(time.Millisecond), mbps(putTime), float64(putPeak)/MiB,
		getTime.Round(time.Millisecond), mbps(getTime), float64(rssPeak)/MiB, float64(hwm)/MiB, memLimit/MiB)
	if hwm >= memLimit {
		t.Errorf("server peak resident memory (VmHWM) %.1f MiB, limit %d MiB", float64(hwm)/MiB, memLimit/MiB)
	}
}

// memSampler polls a process's VmRSS. VmHWM alone gives the peak, but the
// samples show when it happened (PUT or GET) and survive a process that
// resets its high-water mark.
type memSampler struct {
	mu   sync.Mutex
	max  int64
	quit chan struct{}
	done chan struct{}
}

func startMemSampler(t testing.TB, pid int, every time.Duration) *memSampler {
	m := &memSampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(m.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if rss, _, err := procMemory(pid); err == nil {
				m.mu.Lock()
				m.max = max(m.max, rss)
				m.mu.Unlock()
			}
			select {
			case <-m.quit:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { m.stop() })
	return m
}

func (m *memSampler) peak() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.max
}

func (m *memSampler) stop() int64 {
	select {
	case <-m.quit:
	default:
		close(m.quit)
	}
	<-m.done
	return m.peak()
}
