package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"s3proxy/internal/testcert"
)

// Native TLS: the server's own HTTPS listener (--tls-cert/--tls-key), driven by the
// real clients, each told to trust the test CA the way its users do, and checked to
// verify the certificate (none is told to skip verification).

// tlsFiles is a test CA and a server certificate it issued for 127.0.0.1, on disk.
type tlsFiles struct {
	ca                *testcert.CA
	caFile            string // the CA certificate, PEM: what clients are given
	certFile, keyFile string
}

func newTLSFiles(t testing.TB, serial int64) tlsFiles {
	t.Helper()
	dir := t.TempDir()
	f := tlsFiles{ca: testcert.NewCA(t, "s3proxy e2e CA"), caFile: filepath.Join(dir, "ca.pem")}
	testcert.WriteFile(t, f.caFile, f.ca.PEM)
	f.certFile, f.keyFile = f.ca.Issue(t, serial, time.Time{}, "127.0.0.1", "localhost").Write(t, dir)
	return f
}

func startTLSServer(t *testing.T, f tlsFiles, opts serverOptions) *server {
	t.Helper()
	onlyS3proxy(t)
	opts.tlsCert, opts.tlsKey = f.certFile, f.keyFile
	s := startServer(t, opts)
	if !strings.HasPrefix(s.endpoint, "https://") {
		t.Fatalf("endpoint %s", s.endpoint)
	}
	return s
}

// TestTLSClients: every CLI and script client over HTTPS, each given the test CA its own
// way, uploads (multipart where the client splits), lists, downloads and deletes; bytes
// are compared by SHA-256. Over HTTPS botocore and the JavaScript SDK send aws-chunked
// bodies with trailing checksums, minio-go (mc) unsigned payloads.
func TestTLSClients(t *testing.T) {
	t.Parallel()
	f := newTLSFiles(t, 100)
	s := startTLSServer(t, f, serverOptions{})
	dir := t.TempDir()
	small, smallSum := writeRandomFile(t, dir, "small.bin", 900, 300*KiB+7)
	big, bigSum := writeRandomFile(t, dir, "big.bin", 901, 11*MiB)

	t.Run("aws cli", func(t *testing.T) {
		cli := newAWSCLI(t, s, s.cred)
		// Without the CA the cli refuses the server: the certificate is really checked.
		// (One attempt: botocore retries a failed handshake otherwise.)
		once := &awsCLI{t: t, env: append(slices.Clone(cli.env), "AWS_MAX_ATTEMPTS=1"), endpoint: cli.endpoint}
		if _, stderr, err := once.try("s3", "ls"); err == nil || !strings.Contains(stderr, "CERTIFICATE_VERIFY_FAILED") {
			t.Errorf("aws s3 ls without --ca-bundle: %v\n%s", err, stderr)
		}
		ca := []string{"--ca-bundle", f.caFile}
		cli.run(append([]string{"s3", "mb", "s3://cli-tls"}, ca...)...)
		cli.run(append([]string{"s3", "cp", big, "s3://cli-tls/big.bin"}, ca...)...) // 2 parts of 8 MiB
		if out := cli.run(append([]string{"s3", "ls", "s3://cli-tls"}, ca...)...); !strings.Contains(out, "big.bin") {
			t.Errorf("aws s3 ls:\n%s", out)
		}
		down := filepath.Join(t.TempDir(), "big.bin")
		cli.run(append([]string{"s3", "cp", "s3://cli-tls/big.bin", down}, ca...)...)
		if fileSHA256(t, down) != bigSum {
			t.Error("aws s3 cp down: content differs")
		}
		u := strings.TrimSpace(cli.run(append([]string{"s3", "presign", "s3://cli-tls/big.bin"}, ca...)...))
		if !strings.HasPrefix(u, "https://") {
			t.Fatalf("presigned URL %q", u)
		}
		if got := fetchTLS(t, f, u); sha256Hex(got) != bigSum {
			t.Errorf("presigned GET: %d bytes, content differs", len(got))
		}
		cli.run(append([]string{"s3", "rb", "--force", "s3://cli-tls"}, ca...)...)
	})

	t.Run("boto3", func(t *testing.T) {
		down := filepath.Join(t.TempDir(), "down.bin")
		out := runScript(t, "python3", s, s.cred, "boto3_transfer.py", []string{"E2E_CA_BUNDLE=" + f.caFile}, "boto3-tls", big, down)
		var res struct {
			MultipartETag string `json:"multipart_etag"`
			MultipartSize int64  `json:"multipart_size"`
			PutCRC32      string `json:"put_crc32"`
			GetCRC32      string `json:"get_crc32"`
			SingleOK      bool   `json:"single_ok"`
		}
		if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
			t.Fatalf("boto3 script output %q: %v", out, err)
		}
		if fileSHA256(t, down) != bigSum {
			t.Error("boto3 download_fileobj: content differs")
		}
		multipartETag(t, res.MultipartETag, 3)
		if res.MultipartSize != 11*MiB || !res.SingleOK || res.GetCRC32 == "" || res.GetCRC32 != res.PutCRC32 {
			t.Errorf("boto3 result %+v", res)
		}
	})

	t.Run("mc", func(t *testing.T) {
		// mc trusts the CAs in <config dir>/certs/CAs.
		cfgDir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(cfgDir, "certs", "CAs"), 0o700); err != nil {
			t.Fatal(err)
		}
		testcert.WriteFile(t, filepath.Join(cfgDir, "certs", "CAs", "ca.crt"), f.ca.PEM)
		mc := &mcCLI{t: t, dir: cfgDir, env: childEnv(fmt.Sprintf("MC_HOST_s3p=https://%s:%s@%s", s.cred.AccessKey, s.cred.SecretKey, s.host), "MC_REGION="+region)}
		mc.run("mb", "s3p/mc-tls")
		mc.run("cp", big, "s3p/mc-tls/big.bin")
		mc.run("cp", small, "s3p/mc-tls/small.bin")
		if out := mc.run("ls", "s3p/mc-tls"); !strings.Contains(out, "big.bin") || !strings.Contains(out, "small.bin") {
			t.Errorf("mc ls:\n%s", out)
		}
		if got := mc.run("cat", "s3p/mc-tls/small.bin"); sha256Hex([]byte(got)) != smallSum {
			t.Error("mc cat: content differs")
		}
		down := filepath.Join(t.TempDir(), "big.bin")
		mc.run("cp", "s3p/mc-tls/big.bin", down)
		if fileSHA256(t, down) != bigSum {
			t.Error("mc cp down: content differs")
		}
		mc.run("rb", "--force", "s3p/mc-tls")
	})

	t.Run("rclone", func(t *testing.T) {
		rc := newRclone(t, s, s.cred)
		ca := []string{"--ca-cert", f.caFile}
		src := filepath.Join(t.TempDir(), "tree")
		for _, p := range []string{small, big} {
			if err := os.MkdirAll(src, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(p, filepath.Join(src, filepath.Base(p))); err != nil {
				t.Fatal(err)
			}
		}
		rc.run(append([]string{"mkdir", "s3p:rclone-tls"}, ca...)...)
		// 5 MiB parts above 5 MiB: big.bin is a 3-part upload.
		rc.run(append([]string{"copy", src, "s3p:rclone-tls", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"}, ca...)...)
		rc.run(append([]string{"check", src, "s3p:rclone-tls"}, ca...)...)
		dst := t.TempDir()
		rc.run(append([]string{"copy", "s3p:rclone-tls", dst}, ca...)...)
		if fileSHA256(t, filepath.Join(dst, "big.bin")) != bigSum || fileSHA256(t, filepath.Join(dst, "small.bin")) != smallSum {
			t.Error("rclone copy down: content differs")
		}
		rc.run(append([]string{"purge", "s3p:rclone-tls"}, ca...)...)
	})

	t.Run("s3cmd", func(t *testing.T) {
		conf := filepath.Join(t.TempDir(), "s3cfg")
		writeFile(t, conf, fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
bucket_location = %s
signature_v2 = False
check_ssl_certificate = True
check_ssl_hostname = True
guess_mime_type = False
`, s.cred.AccessKey, s.cred.SecretKey, s.host, s.host, region))
		c := &s3cmdCLI{t: t, env: childEnv("HOME=" + t.TempDir()), conf: conf}
		tlsArgs := func(args ...string) []string { return append([]string{"--ssl", "--ca-certs=" + f.caFile}, args...) }
		c.run(tlsArgs("mb", "s3://s3cmd-tls")...)
		c.run(tlsArgs("put", "--multipart-chunk-size-mb=5", big, "s3://s3cmd-tls/big.bin")...)
		c.run(tlsArgs("put", small, "s3://s3cmd-tls/small.bin")...)
		if out := c.run(tlsArgs("ls", "s3://s3cmd-tls")...); !strings.Contains(out, "s3://s3cmd-tls/big.bin") {
			t.Errorf("s3cmd ls:\n%s", out)
		}
		down := filepath.Join(t.TempDir(), "got")
		c.run(tlsArgs("get", "s3://s3cmd-tls/big.bin", down)...)
		if fileSHA256(t, down) != bigSum {
			t.Error("s3cmd get: content differs")
		}
		c.run(tlsArgs("del", "s3://s3cmd-tls/big.bin", "s3://s3cmd-tls/small.bin")...)
		c.run(tlsArgs("rb", "s3://s3cmd-tls")...)
	})

	t.Run("JavaScript SDK", func(t *testing.T) {
		out := runScript(t, "node", s, s.cred, "js_transfer.cjs", []string{"NODE_EXTRA_CA_CERTS=" + f.caFile}, "js-tls", small, big)
		var res struct {
			SHA256        map[string]string `json:"sha256"`
			MultipartETag string            `json:"multipart_etag"`
		}
		if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
			t.Fatalf("node script output %q: %v", out, err)
		}
		for key, want := range map[string]string{"buffer.bin": smallSum, "stream.bin": smallSum, "multipart.bin": bigSum} {
			if res.SHA256[key] != want {
				t.Errorf("%s reads back sha256 %s, want %s", key, res.SHA256[key], want)
			}
		}
		multipartETag(t, res.MultipartETag, 3)
	})
}

// fetchTLS GETs a URL trusting the test CA only.
func fetchTLS(t testing.TB, f tlsFiles, url string) []byte {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testcert.Pool(f.ca.Cert)}}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v\n%s", url, resp.Status, err, b)
	}
	return b
}

// servedSerial is the serial of the certificate a new connection to s is shown.
func servedSerial(t testing.TB, s *server, f tlsFiles) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", s.host, &tls.Config{RootCAs: testcert.Pool(f.ca.Cert), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLSReload: the certificate is replaced while the server runs, as a renewal does;
// files that do not load leave the last good certificate in place; SIGHUP reloads at
// once. The server is never restarted.
func TestTLSReload(t *testing.T) {
	t.Parallel()
	f := newTLSFiles(t, 1)
	s := startTLSServer(t, f, serverOptions{})
	c := s3ClientAt(s.endpoint, f.ca.Cert, s.cred)
	createBucket(t, c, "reload")
	if got := servedSerial(t, s, f); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	waitFor := func(what string, timeout time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, timeout)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	reloadErrors := func() float64 {
		return metricValue(t, s, `s3proxy_tls_reloads_total{file="certificate",result="error"}`)
	}

	// Renewal: new files renamed into place. The files are checked every 5 s.
	renewed := f.ca.Issue(t, 2, time.Now().Add(72*time.Hour).Truncate(time.Second), "127.0.0.1", "localhost")
	renewed.Write(t, filepath.Dir(f.certFile))
	start := time.Now()
	waitFor("the renewed certificate served", 15*time.Second, func() bool { return servedSerial(t, s, f) == 2 })
	t.Logf("renewed certificate served after %v", time.Since(start).Round(100*time.Millisecond))
	if got := metricValue(t, s, "s3proxy_tls_certificate_expiry_timestamp_seconds"); got != float64(renewed.Cert.NotAfter.Unix()) {
		t.Errorf("expiry metric %v, want %d", got, renewed.Cert.NotAfter.Unix())
	}

	// Garbage written over the certificate: the renewed one stays, and the failure is
	// counted (a scrape checks the files too).
	if err := os.WriteFile(f.certFile, []byte("-----BEGIN CERTIFICATE-----\ngarbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("a failed reload counted", 15*time.Second, func() bool { return reloadErrors() >= 1 })
	for range 3 {
		if got := servedSerial(t, s, f); got != 2 {
			t.Fatalf("serial %d after garbage was written, want 2 (the last good one)", got)
		}
	}
	if _, err := c.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String("reload")}); err != nil {
		t.Errorf("S3 over TLS with broken files on disk: %v", err)
	}

	// SIGHUP reloads at once.
	third := f.ca.Issue(t, 3, time.Time{}, "127.0.0.1")
	third.Write(t, filepath.Dir(f.certFile))
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor("SIGHUP reload", 2*time.Second, func() bool { return servedSerial(t, s, f) == 3 })
	if ok := metricValue(t, s, `s3proxy_tls_reloads_total{file="certificate",result="ok"}`); ok < 2 {
		t.Errorf("%v successful reloads counted, want at least 2", ok)
	}
}

// TestTLSCluster: nodes serving HTTPS forward chunk reads to each other over TLS,
// checking each other's certificates against cluster_ca; a node without TLS still
// serves and reads in the same cluster (TLS being rolled out); a node that does not
// trust the CA cannot read the TLS nodes' chunks (a clean 503), so the check is real.
func TestTLSCluster(t *testing.T) {
	t.Parallel()
	env := newClusterEnv(t)
	f := newTLSFiles(t, 1)
	node := func(name string, tlsSerial int64, extra ...string) *server {
		opts := serverOptions{meta: env.meta, args: append([]string{"--redis", env.redis, "--node-id", name, "--log-level", "warn"}, extra...)}
		if tlsSerial != 0 {
			opts.tlsCert, opts.tlsKey = f.ca.Issue(t, tlsSerial, time.Time{}, "127.0.0.1").Write(t, t.TempDir())
		}
		return startServer(t, opts)
	}
	n1 := node("n1", 11, "--cluster-ca", f.caFile)
	n2 := node("n2", 12, "--cluster-ca", f.caFile)
	n3 := node("n3", 0) // plain HTTP, system roots only
	cred := defaultCredential()
	c1, c2, c3 := s3ClientAt(n1.endpoint, f.ca.Cert, cred), s3ClientAt(n2.endpoint, f.ca.Cert, cred), s3Client(n3, cred)
	const bucket = "tls-cluster"
	createBucket(t, c1, bucket)

	big := randomBytes(41, 6<<20+321) // a blob on node 1's disk
	if err := putBytes(t, c1, bucket, "on-n1", big); err != nil {
		t.Fatal(err)
	}
	onN1 := stored{key: "on-n1", sum: sha256Hex(big), n: int64(len(big))}
	plain := randomBytes(42, 100_000) // a blob on node 3's disk
	if err := putBytes(t, c3, bucket, "on-n3", plain); err != nil {
		t.Fatal(err)
	}
	onN3 := stored{key: "on-n3", sum: sha256Hex(plain), n: int64(len(plain))}

	checkRead(t, "node 2 (TLS) from node 1 (TLS)", c2, bucket, onN1)
	checkRange(t, "node 2 (TLS) from node 1 (TLS)", c2, bucket, "on-n1", big, 5<<20, 1<<20)
	checkRead(t, "node 1 (TLS) from node 3 (plain)", c1, bucket, onN3)
	// Node 3 does not know the CA: node 1's chunks are unavailable through it.
	wantUnavailable(t, n3, bucket, "on-n1", n1.host)

	// verify beside node 2 reads node 1's chunks over TLS and node 3's over HTTP.
	out, err := n2.admincmdErr("verify", "--node-id", "n2", "--redis", env.redis, "--cluster-ca", f.caFile)
	if err != nil || !strings.Contains(string(out), "0 missing, 0 corrupt, 0 already marked corrupt, 0 unavailable") {
		t.Errorf("verify with cluster_ca: %v\n%s", err, out)
	}
}
