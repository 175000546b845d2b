package e2e

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestAdminEndpoints drives some traffic, then checks that /metrics carries non-zero
// request, byte, dedup and backend series, and that /healthz and /readyz answer
// without credentials.
func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	createBucket(t, c, "metrics")
	data := randomBytes(77, 300*KiB)
	for _, k := range []string{"a", "b"} { // the same content twice: dedup ratio 2
		if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("metrics"), Key: aws.String(k), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	getSHA256(t, c, "metrics", "a")

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(s.admin + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	// A request is counted when its handler returns, which can be just after the client
	// has read the whole response: scrape until the last request (the GET) shows.
	var body []byte
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get(s.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(body, []byte(`s3proxy_requests_total{op="GetObject",status="200"}`)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, series := range []string{
		`s3proxy_requests_total{op="PutObject",status="200"}`,
		`s3proxy_requests_total{op="GetObject",status="200"}`,
		`s3proxy_request_duration_seconds_count{op="PutObject"}`,
		`s3proxy_bytes_in_total`,
		`s3proxy_bytes_out_total`,
		`s3proxy_dedup_ratio`,
		`s3proxy_objects`,
		`s3proxy_chunks`,
		`s3proxy_logical_bytes`,
		`s3proxy_stored_bytes`,
		`s3proxy_backend_operations_total{backend="local",op="put"}`,
		`s3proxy_backend_operations_total{backend="local",op="get"}`,
	} {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`).FindSubmatch(body)
		if m == nil {
			t.Errorf("/metrics lacks %s", series)
			continue
		}
		if v, _ := strconv.ParseFloat(string(m[1]), 64); v <= 0 {
			t.Errorf("%s = %s, want > 0", series, m[1])
		}
	}
	if m := regexp.MustCompile(`(?m)^s3proxy_dedup_ratio ([0-9.]+)$`).FindSubmatch(body); m != nil {
		if v, _ := strconv.ParseFloat(string(m[1]), 64); v != 2 {
			t.Errorf("dedup ratio %v, want 2", v)
		}
	}
	// A request id is returned to the client.
	req, _ := http.NewRequest(http.MethodGet, s.endpoint+"/metrics", nil)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.Header.Get("x-amz-request-id") == "" || r2.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous S3 request: %d, request id %q", r2.StatusCode, r2.Header.Get("x-amz-request-id"))
	}
}

// metricValue scrapes s's /metrics for one unlabelled series; a missing series fails t.
func metricValue(t testing.TB, s *server, series string) float64 {
	t.Helper()
	resp, err := http.Get(s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+]+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics of %s lacks %s", s.endpoint, series)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
