package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"s3proxy/internal/testcert"
)

// served is a serve process run in this test process: the real listener set-up
// (TLS, protocols, banner, admin listener), as the binary runs it.
type served struct {
	endpoint string // from the banner: scheme://host:port
	host     string
	admin    string // host:port of the admin listener
	banner   string
}

// startServe runs serve with args (plus a fresh data directory, free ports and one
// credential) until the test ends, and returns what its banner announced.
func startServe(t *testing.T, args ...string) *served {
	t.Helper()
	dir := t.TempDir()
	args = append([]string{"--listen", "127.0.0.1:0", "--admin-listen", "localhost:0", "--data", filepath.Join(dir, "data"), "--log-level", "error"}, args...)
	env := map[string]string{"S3PROXY_ACCESS_KEY": testAK, "S3PROXY_SECRET_KEY": testSK}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		err := serve(ctx, args, func(k string) string { return env[k] }, pw, &stderr)
		pw.CloseWithError(fmt.Errorf("serve returned: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
		if t.Failed() {
			t.Logf("serve's log:\n%s", stderr.String())
		}
	})
	s := &served{}
	var banner strings.Builder
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		banner.WriteString(line + "\n")
		if v, ok := strings.CutPrefix(line, "  endpoint:    "); ok {
			s.endpoint = v
		}
		if v, ok := strings.CutPrefix(line, "  admin:       "); ok {
			s.admin, _, _ = strings.Cut(v, " ")
		}
		if strings.Contains(line, "aws --endpoint-url") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	s.banner = banner.String()
	if s.endpoint == "" || s.admin == "" {
		t.Fatalf("no endpoint or admin address in the banner (%v):\n%s\n%s", sc.Err(), s.banner, stderr.String())
	}
	_, s.host, _ = strings.Cut(s.endpoint, "://")
	return s
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// recorder is an aws.HTTPClient (and an http.RoundTripper for minio-go) that keeps how
// each request declared its payload, so a test can assert the mode a client chose.
type recorder struct {
	rt   http.RoundTripper
	mu   sync.Mutex
	seen []string // "METHOD path x-amz-content-sha256 content-encoding"
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.seen = append(r.seen, fmt.Sprintf("%s %s %s %s", req.Method, req.URL.Path, req.Header.Get("X-Amz-Content-Sha256"), req.Header.Get("Content-Encoding")))
	r.mu.Unlock()
	return r.rt.RoundTrip(req)
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	return (&http.Client{Transport: r}).Do(req)
}

func (r *recorder) last(method, path string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.seen) - 1; i >= 0; i-- {
		if strings.HasPrefix(r.seen[i], method+" "+path+" ") {
			return r.seen[i]
		}
	}
	return ""
}

func trustingTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ExpectContinueTimeout: 5 * time.Second}
}

// TestServeTLS: with tls_cert and tls_key the S3 listener serves HTTPS only (TLS 1.2 and
// later, HTTP/1.1), aws-sdk-go-v2 and minio-go work over it in the modes they choose for
// HTTPS, the instant-upload answer to Expect: 100-continue still saves the body, and
// the admin listener stays plain HTTP with the certificate's expiry in /metrics.
func TestServeTLS(t *testing.T) {
	ca := testcert.NewCA(t, "s3proxy test CA")
	pair := ca.Issue(t, 4242, time.Now().Add(48*time.Hour).Truncate(time.Second), "127.0.0.1", "localhost")
	certFile, keyFile := pair.Write(t, t.TempDir())
	s := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile)
	roots := testcert.Pool(ca.Cert)
	ctx := context.Background()

	if !strings.HasPrefix(s.endpoint, "https://127.0.0.1:") {
		t.Errorf("banner endpoint %q, want https://", s.endpoint)
	}
	if want := "aws --endpoint-url " + s.endpoint + " s3 ls"; !strings.Contains(s.banner, want) || strings.Contains(s.banner, "--ca-bundle") {
		t.Errorf("banner lacks %q (and names no CA bundle for a CA-issued certificate):\n%s", want, s.banner)
	}

	t.Run("handshakes", func(t *testing.T) {
		for _, tc := range []struct {
			name      string
			cfg       *tls.Config
			wantErr   string
			wantProto string
		}{
			{"TLS 1.2", &tls.Config{RootCAs: roots, MaxVersion: tls.VersionTLS12}, "", "http/1.1"},
			{"TLS 1.3", &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}, "", "http/1.1"},
			{"TLS 1.1 refused", &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}, "protocol version", ""},
			{"h2 not offered", &tls.Config{RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}}, "", "http/1.1"},
			{"h2 only refused", &tls.Config{RootCAs: roots, NextProtos: []string{"h2"}}, "no application protocol", ""},
			{"untrusted", &tls.Config{}, "certificate signed by unknown authority", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tc.cfg.ServerName = "127.0.0.1"
				if tc.cfg.NextProtos == nil {
					tc.cfg.NextProtos = []string{"http/1.1"}
				}
				conn, err := tls.Dial("tcp", s.host, tc.cfg)
				if tc.wantErr != "" {
					if err == nil {
						conn.Close()
					}
					if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
						t.Fatalf("handshake: %v, want %q", err, tc.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				cs := conn.ConnectionState()
				if cs.NegotiatedProtocol != tc.wantProto || cs.PeerCertificates[0].SerialNumber.Int64() != 4242 {
					t.Errorf("negotiated %q with serial %v, want %q and 4242", cs.NegotiatedProtocol, cs.PeerCertificates[0].SerialNumber, tc.wantProto)
				}
			})
		}
		// A client that uses HTTP/2 whenever it is offered (aws-sdk-go-v2's default
		// transport sets ForceAttemptHTTP2) gets HTTP/1.1.
		tr := trustingTransport(roots)
		tr.ForceAttemptHTTP2 = true
		resp, err := (&http.Client{Transport: tr}).Get(s.endpoint + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Proto != "HTTP/1.1" || resp.StatusCode != http.StatusForbidden {
			t.Errorf("anonymous GET /: %s %s, want HTTP/1.1 403", resp.Proto, resp.Status)
		}
		// Plain HTTP to the TLS port is answered with a 400, never served.
		resp, err = http.Get("http://" + s.host + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Errorf("plain HTTP to the TLS port: %s %q", resp.Status, body)
		}
	})

	t.Run("aws-sdk-go-v2", func(t *testing.T) {
		rec := &recorder{rt: trustingTransport(roots)}
		c := s3.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(testAK, testSK, ""), HTTPClient: rec,
			// What config.LoadDefaultConfig sets (it cannot be used here: it refuses a
			// custom HTTP client while AWS_CA_BUNDLE is set, as it is in CI).
			RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported, ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported},
			func(o *s3.Options) { o.BaseEndpoint = aws.String(s.endpoint); o.UsePathStyle = true })
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tls")}); err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("over TLS "), 400_000) // 3.6 MB: Expect: 100-continue too
		for _, tc := range []struct {
			key  string
			body io.Reader
			mode string // x-amz-content-sha256 and Content-Encoding the SDK sends
		}{
			{"seekable", bytes.NewReader(data), "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked"},
			{"stream", onlyReader{bytes.NewReader(data)}, "STREAMING-UNSIGNED-PAYLOAD-TRAILER aws-chunked"},
		} {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String(tc.key), Body: tc.body, ContentLength: aws.Int64(int64(len(data)))}); err != nil {
				t.Fatalf("put %s: %v", tc.key, err)
			}
			if got := rec.last("PUT", "/tls/"+tc.key); !strings.HasSuffix(got, tc.mode) {
				t.Errorf("put %s was sent as %q, want %q", tc.key, got, tc.mode)
			}
			if got := mustGet(t, c, "tls", tc.key, ""); !bytes.Equal(got, data) {
				t.Errorf("%s reads back %d bytes, want %d identical", tc.key, len(got), len(data))
			}
		}
		if got := mustGet(t, c, "tls", "stream", "bytes=1000000-1000099"); !bytes.Equal(got, data[1_000_000:1_000_100]) {
			t.Errorf("range read differs: %q", got)
		}
		ps := s3.NewPresignClient(c)
		get, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("stream")})
		if err != nil {
			t.Fatal(err)
		}
		put, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String("presigned")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(get.URL, "https://") || !strings.HasPrefix(put.URL, "https://") {
			t.Fatalf("presigned URLs %s, %s", get.URL, put.URL)
		}
		hc := &http.Client{Transport: trustingTransport(roots)}
		req, _ := http.NewRequest(http.MethodPut, put.URL, strings.NewReader("presigned over TLS"))
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(mustGet(t, c, "tls", "presigned", "")) != "presigned over TLS" {
			t.Errorf("presigned PUT: %s", resp.Status)
		}
		resp, err = hc.Get(get.URL)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
			t.Errorf("presigned GET: %s, %d bytes", resp.Status, len(got))
		}

		// Instant upload over TLS: content stored by a PUT with a signed payload hash,
		// declared again by its hash with Expect: 100-continue, is answered before the
		// client sends the body.
		known := bytes.Repeat([]byte("instant over TLS "), 200_000)
		for _, tc := range []struct {
			key    string
			expect bool
			read   int64 // body bytes the client's transport sent
		}{
			{"signed-payload", false, int64(len(known))},
			{"instant", true, 0},
		} {
			sum := sha256.Sum256(known)
			body := &countingReader{r: bytes.NewReader(known)}
			req, _ := http.NewRequest(http.MethodPut, s.endpoint+"/tls/"+tc.key, body)
			req.ContentLength = int64(len(known))
			if tc.expect {
				req.Header.Set("Expect", "100-continue")
			}
			req.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
			if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK}, req, hex.EncodeToString(sum[:]), "s3", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || body.n.Load() != tc.read {
				t.Errorf("%s: %s with %d body bytes sent, want 200 with %d", tc.key, resp.Status, body.n.Load(), tc.read)
			}
			if got := mustGet(t, c, "tls", tc.key, ""); !bytes.Equal(got, known) {
				t.Errorf("%s reads back %d bytes", tc.key, len(got))
			}
		}
	})

	t.Run("minio-go", func(t *testing.T) {
		rec := &recorder{rt: trustingTransport(roots)}
		mc, err := minio.New(s.host, &minio.Options{Creds: miniocreds.NewStaticV4(testAK, testSK, ""), Secure: true, Region: "us-east-1",
			BucketLookup: minio.BucketLookupPath, Transport: rec})
		if err != nil {
			t.Fatal(err)
		}
		if err := mc.MakeBucket(ctx, "minio-tls", minio.MakeBucketOptions{}); err != nil {
			t.Fatal(err)
		}
		data := bytes.Repeat([]byte("minio over TLS "), 500_000) // 7.5 MB
		for _, tc := range []struct {
			key  string
			size int64
			opts minio.PutObjectOptions
		}{
			{"known-size", int64(len(data)), minio.PutObjectOptions{}},
			// Unknown size: minio-go streams a multipart upload.
			{"unknown-size", -1, minio.PutObjectOptions{PartSize: 5 << 20}},
		} {
			if _, err := mc.PutObject(ctx, "minio-tls", tc.key, bytes.NewReader(data), tc.size, tc.opts); err != nil {
				t.Fatalf("put %s: %v", tc.key, err)
			}
			obj, err := mc.GetObject(ctx, "minio-tls", tc.key, minio.GetObjectOptions{})
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(obj)
			obj.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s reads back %d bytes, %v", tc.key, len(got), err)
			}
		}
		// Over HTTPS minio-go leaves the payload unsigned (over HTTP it signs chunks).
		if got := rec.last("PUT", "/minio-tls/known-size"); !strings.Contains(got, " UNSIGNED-PAYLOAD") {
			t.Errorf("minio-go put sent as %q, want UNSIGNED-PAYLOAD", got)
		}
		u, err := mc.PresignedGetObject(ctx, "minio-tls", "known-size", time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: trustingTransport(roots)}).Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if u.Scheme != "https" || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
			t.Errorf("presigned GET %s: %s, %d bytes", u.Scheme, resp.Status, len(got))
		}
	})

	t.Run("admin stays plain HTTP", func(t *testing.T) {
		metrics := getMetrics(t, "http://"+s.admin+"/metrics")
		if got := metrics["s3proxy_tls_certificate_expiry_timestamp_seconds"]; got != float64(pair.Cert.NotAfter.Unix()) {
			t.Errorf("expiry metric %v, want %d", got, pair.Cert.NotAfter.Unix())
		}
		// The TLS 1.1 and untrusted handshakes above failed on the server too.
		if got := metrics["s3proxy_tls_handshake_errors_total"]; got < 2 {
			t.Errorf("s3proxy_tls_handshake_errors_total %v, want at least 2", got)
		}
		for _, name := range []string{`s3proxy_tls_reloads_total{file="certificate",result="ok"}`, `s3proxy_tls_reloads_total{file="certificate",result="error"}`} {
			if v, ok := metrics[name]; !ok || v != 0 {
				t.Errorf("%s = %v (present %v), want 0", name, v, ok)
			}
		}
	})
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// getMetrics reads a Prometheus text page into name{labels} → value.
func getMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

// TestServeTLSStartErrors: a server asked for HTTPS does not start without a usable
// certificate and key, and says which setting and file is at fault.
func TestServeTLSStartErrors(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	good, other := ca.Issue(t, 1, time.Time{}, "127.0.0.1"), ca.Issue(t, 2, time.Time{}, "127.0.0.1")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		testcert.WriteFile(t, p, data)
		return p
	}
	cert, key, otherKey := write("cert.pem", good.CertPEM), write("key.pem", good.KeyPEM), write("other-key.pem", other.KeyPEM)
	garbage, missing := write("garbage.pem", []byte("not PEM at all\n")), filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"key missing", []string{"--tls-cert", cert}, []string{"config: tls_key (flag --tls-cert): tls_cert is set but tls_key is not; set both or neither"}},
		{"cert missing", []string{"--tls-key", key}, []string{"config: tls_cert (flag --tls-key)"}},
		{"no such key file", []string{"--tls-cert", cert, "--tls-key", missing}, []string{"tls_cert " + cert + ", tls_key " + missing + ": key: stat " + missing + ": no such file"}},
		{"no such cert file", []string{"--tls-cert", missing, "--tls-key", key}, []string{"tls_cert " + missing, "certificate: stat "}},
		{"garbage certificate", []string{"--tls-cert", garbage, "--tls-key", key}, []string{"tls_cert " + garbage, "failed to find any PEM data in certificate input"}},
		{"key of another certificate", []string{"--tls-cert", cert, "--tls-key", otherKey}, []string{"tls_key " + otherKey, "private key does not match public key"}},
		{"garbage cluster_ca", []string{"--cluster-ca", garbage}, []string{"cluster_ca " + garbage + ": CA bundle: ", "holds no PEM certificate"}},
		{"no such cluster_ca", []string{"--tls-cert", cert, "--tls-key", key, "--cluster-ca", missing}, []string{"cluster_ca " + missing}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			data := t.TempDir()
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "off", "--data", data}, tc.args...)
			code := run(context.Background(), args, func(string) string { return "" }, &stdout, &stderr)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stdout %q", code, stdout.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if strings.Contains(stdout.String(), "endpoint") {
				t.Errorf("printed a banner: %q", stdout.String())
			}
			if entries, _ := os.ReadDir(data); len(entries) != 0 {
				t.Errorf("wrote into the data directory before refusing to start: %v", entries)
			}
		})
	}
}

// TestSelfSignedBanner: a self-signed certificate is its own CA, so the suggested aws
// command names it; a certificate from a CA is not named.
func TestSelfSignedBanner(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	for _, tc := range []struct {
		name string
		leaf *x509.Certificate
		want bool
	}{
		{"self-signed", testcert.SelfSigned(t, 1, "127.0.0.1").Cert, true},
		{"issued by a CA", ca.Issue(t, 2, time.Time{}, "127.0.0.1").Cert, false},
		{"the CA itself", ca.Cert, true},
	} {
		if got := selfSigned(tc.leaf); got != tc.want {
			t.Errorf("%s: selfSigned = %v, want %v", tc.name, got, tc.want)
		}
	}
	pair := testcert.SelfSigned(t, 3, "127.0.0.1")
	certFile, keyFile := pair.Write(t, t.TempDir())
	s := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile)
	if want := "aws --endpoint-url " + s.endpoint + " --ca-bundle " + certFile + " s3 ls"; !strings.Contains(s.banner, want) {
		t.Errorf("banner lacks %q:\n%s", want, s.banner)
	}
	// The command it suggests works: the certificate file is a CA bundle for it.
	conn, err := tls.Dial("tcp", s.host, &tls.Config{RootCAs: testcert.Pool(pair.Cert), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}
