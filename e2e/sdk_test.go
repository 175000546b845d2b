package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	awscreds "github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// s3Client is aws-sdk-go-v2 with its default settings. The config comes
// from config.LoadDefaultConfig, because that is where the SDK's defaults
// live: a hand-built aws.Config leaves RequestChecksumCalculation and
// ResponseChecksumValidation unset, and the S3 client then sends no
// checksum at all, unlike every real user's client. Only what would reach
// outside the test is pinned: region, static credentials, no shared
// config files, no IMDS. (TestMain unsets AWS_CA_BUNDLE, which
// LoadDefaultConfig refuses to combine with a custom HTTP client.)
func s3Client(s *server, c credential, optFns ...func(*s3.Options)) *s3.Client {
	return s3ClientAt(s.endpoint, nil, c, optFns...)
}

// s3ClientTLS talks to the server through a TLS front (see tlsFront).
// Over plain HTTP the SDK never sends aws-chunked bodies: it signs the
// payload hash instead and refuses unseekable bodies. Over HTTPS it streams
// STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer — the mode real
// deployments (TLS at a load balancer) see most.
func s3ClientTLS(t testing.TB, s *server, c credential, optFns ...func(*s3.Options)) *s3.Client {
	front := tlsFront(t, s)
	return s3ClientAt(front.URL, front.Certificate(), c, optFns...)
}

func s3ClientAt(endpoint string, ca *x509.Certificate, c credential, optFns ...func(*s3.Options)) *s3.Client {
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithCredentialsProvider(awscreds.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
		config.WithEC2IMDSClientEnableState(imds.ClientDisabled),
	}
	if ca != nil {
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		opts = append(opts, config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		})))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		// Nothing here reads the environment or files that could be wrong.
		panic(fmt.Sprintf("aws-sdk-go-v2 LoadDefaultConfig: %v", err))
	}
	return s3.NewFromConfig(cfg, append([]func(*s3.Options){func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	}}, optFns...)...)
}

// tlsFront starts an HTTPS reverse proxy in the test process in front of
// the server. It keeps the Host header the client signed, streams bodies in
// both directions without buffering, and stops with the test.
func tlsFront(t testing.TB, s *server) *httptest.Server {
	t.Helper()
	backend := s.host
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = backend
			r.Out.Host = r.In.Host // the signature covers the Host the client used
		},
		FlushInterval: -1,
		Transport: &http.Transport{
			DisableCompression:  true,
			MaxIdleConnsPerHost: 16,
		},
		ErrorLog: nil,
	}
	front := httptest.NewUnstartedServer(proxy)
	front.StartTLS()
	t.Cleanup(front.Close)
	return front
}

// writeCAFile writes a TLS front's certificate as PEM for clients in other
// processes (boto3's verify=, NODE_EXTRA_CA_CERTS).
func writeCAFile(t testing.TB, front *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// minioClient is minio-go v7 with path-style lookup (the endpoint is an IP).
func minioClient(t testing.TB, s *server, c credential) *minio.Client {
	t.Helper()
	mc, err := minio.New(s.host, &minio.Options{
		Creds:        miniocreds.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       false,
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// wantAPIError checks an SDK error's S3 code and HTTP status. An empty code
// checks the status only (HEAD and 304 responses have no body to carry one).
func wantAPIError(t testing.TB, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s (%d), got success", code, status)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("want %s (%d), got a non-HTTP error: %v", code, status, err)
	}
	if re.HTTPStatusCode() != status {
		t.Errorf("want HTTP %d (%s), got %d: %v", status, code, re.HTTPStatusCode(), err)
	}
	if code == "" {
		return
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("want error code %s, got %v", code, err)
	}
	if re.ServiceRequestID() == "" {
		t.Errorf("error response without a request id: %v", err)
	}
}

// s3Error is the XML body of an S3 error, for raw HTTP checks.
type s3Error struct {
	Code      string `xml:"Code"`
	Message   string `xml:"Message"`
	RequestID string `xml:"RequestId"`
}

// wantHTTPError checks a raw response for an S3 error code and status.
func wantHTTPError(t testing.TB, resp *http.Response, code string, status int) {
	t.Helper()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != status {
		t.Errorf("want HTTP %d %s, got %s: %s", status, code, resp.Status, body)
	}
	var e s3Error
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Errorf("want an S3 XML error %s, got %q: %v", code, body, err)
		return
	}
	if e.Code != code {
		t.Errorf("want error code %s, got %s (%s)", code, e.Code, strings.TrimSpace(e.Message))
	}
	if e.RequestID == "" && resp.Header.Get("x-amz-request-id") == "" {
		t.Errorf("S3 error %s without a request id", e.Code)
	}
}

// getSHA256 reads an object with the SDK and returns its SHA-256 and size,
// streaming (never holding the body).
func getSHA256(t testing.TB, c *s3.Client, bucket, key string) (string, int64) {
	t.Helper()
	out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	sum, n, err := readerSHA256(out.Body)
	if err != nil {
		t.Fatalf("GetObject %s/%s body: %v", bucket, key, err)
	}
	return sum, n
}

func createBucket(t testing.TB, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("CreateBucket %s: %v", bucket, err)
	}
}

// wantNoObject checks that a failed upload left nothing behind under key.
func wantNoObject(t testing.TB, c *s3.Client, bucket, key string) {
	t.Helper()
	_, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: &bucket, Key: &key})
	wantAPIError(t, err, "", http.StatusNotFound)
}
