package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"
	mcreds "github.com/minio/minio-go/v7/pkg/credentials"
)

// clients are the SDK clients of one server. They share one transport so that
// connections are reused across profiles, as a long-running application would.
type clients struct {
	endpoint string
	s3       *s3.Client   // aws-sdk-go-v2, default request checksums
	core     minio.Core   // minio-go: signed aws-chunked uploads
	http     *http.Client // hand-signed requests with Expect: 100-continue
	signer   *v4.Signer
	creds    aws.Credentials
}

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// Wait for the server's interim 100 (or its final answer) before sending a
		// body announced with Expect: 100-continue, as the aws cli does.
		ExpectContinueTimeout: 5 * time.Second,
		WriteBufferSize:       256 << 10,
		ReadBufferSize:        256 << 10,
	}
}

func newClients(host string, t *benchTLS) (*clients, error) {
	tr := newTransport()
	hc := &http.Client{Transport: tr}
	endpoint := "http://" + host
	if t != nil {
		tr.TLSClientConfig = t.client
		endpoint = "https://" + host
	}
	// Built by hand: config.LoadDefaultConfig refuses AWS_CA_BUNDLE with a custom
	// client, and the profile must not depend on the user's ~/.aws.
	cfg := aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
		HTTPClient:  hc,
		// The SDK's default: a CRC32 checksum on every upload that supports one.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		// Response validation is client-side CPU only (it changes nothing the server
		// does) and the client shares the machine's two cores with the server: keep
		// it off so that it does not skew GET between servers that do and do not
		// return checksums.
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		Retryer:                    func() aws.Retryer { return aws.NopRetryer{} },
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	mc, err := minio.NewCore(host, &minio.Options{
		Creds:        mcreds.NewStaticV4(accessKey, secretKey, ""),
		Secure:       t != nil,
		Region:       region,
		Transport:    tr,
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("minio client for %s: %w", host, err)
	}
	mc.SetAppInfo("s3proxy-bench", "1")
	return &clients{endpoint: endpoint, s3: s3c, core: *mc, http: hc, signer: v4.NewSigner(),
		creds: aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey}}, nil
}

// signedPut sends a PUT whose signed x-amz-content-sha256 is the body's hex SHA-256
// and which asks for 100-continue, the way the aws cli uploads: a server that
// already holds the content may answer before the body is sent. query is the raw
// query string ("partNumber=1&uploadId=..."), or "".
func (c *clients) signedPut(ctx context.Context, bucket, key, query string, body []byte, sum [32]byte) (etag string, err error) {
	u := c.endpoint + "/" + bucket + "/" + (&url.URL{Path: key}).EscapedPath()
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hexSum := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hexSum)
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := c.signer.SignHTTP(ctx, c.creds, req, hexSum, "s3", region, time.Now()); err != nil {
		return "", err
	}
	req.Header.Set("Expect", "100-continue")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("PUT %s: %s: %s", u, resp.Status, b)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("ETag"), nil
}

// completeXML renders a CompleteMultipartUpload body.
func completeXML(etags []string) []byte {
	type part struct {
		PartNumber int
		ETag       string
	}
	type complete struct {
		XMLName xml.Name `xml:"CompleteMultipartUpload"`
		Parts   []part   `xml:"Part"`
	}
	var c complete
	for i, e := range etags {
		c.Parts = append(c.Parts, part{PartNumber: i + 1, ETag: e})
	}
	b, _ := xml.Marshal(c) // plain structs always marshal
	return b
}

// signedPost sends a signed POST with a body (CompleteMultipartUpload) and returns
// the response body.
func (c *clients) signedPost(ctx context.Context, bucket, key, query string, body []byte) ([]byte, error) {
	u := c.endpoint + "/" + bucket + "/" + (&url.URL{Path: key}).EscapedPath() + "?" + query
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	hexSum := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hexSum)
	req.Header.Set("Content-Type", "application/xml")
	if err := c.signer.SignHTTP(ctx, c.creds, req, hexSum, "s3", region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	// CompleteMultipartUpload may fail with a 200 whose body is an <Error>.
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte("<Error>")) {
		return nil, fmt.Errorf("POST %s: %s: %s", u, resp.Status, b)
	}
	return b, nil
}

// payload makes object bodies: slices of one random buffer, each stamped with a
// unique header so that no two uploads carry the same content (s3proxy would
// otherwise deduplicate the benchmark's own data).
type payload struct {
	buf   []byte
	nonce uint64
	seq   atomic.Uint64
}

const payloadBuf = 72 << 20

func newPayload() *payload {
	p := &payload{buf: make([]byte, payloadBuf), nonce: rand.Uint64()}
	r := rand.NewChaCha8([32]byte{byte(p.nonce), byte(p.nonce >> 8), byte(p.nonce >> 16), byte(p.nonce >> 24)})
	_, _ = r.Read(p.buf)
	return p
}

// fresh fills dst with content that no earlier call produced.
func (p *payload) fresh(dst []byte) {
	n := p.seq.Add(1)
	off := int(n*4099) % (len(p.buf) - len(dst))
	copy(dst, p.buf[off:off+len(dst)])
	if len(dst) >= 16 {
		binary.LittleEndian.PutUint64(dst[0:], p.nonce)
		binary.LittleEndian.PutUint64(dst[8:], n)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
