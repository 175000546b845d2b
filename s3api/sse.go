package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
)

// Server-side encryption, SSE-S3 only.
//
// s3proxy encrypts at rest the chunks of buckets placed on an encrypting backend
// (backends/encrypt, docs/configuration.md "Encryption at rest"). There, and only there,
// x-amz-server-side-encryption: AES256 is accepted on PutObject, CopyObject,
// CreateMultipartUpload and POST Object, and every write and read of such an object
// answers with it, as S3 does. On a bucket whose chunks are stored in clear the header
// is refused: accepting it would tell the client its data is encrypted when it is not.
// SSE-KMS (aws:kms, aws:kms:dsse) and SSE-C (customer-provided keys) are refused
// everywhere: s3proxy has no KMS and keeps no customer keys.

const (
	sseHeader = "X-Amz-Server-Side-Encryption"
	sseAES256 = "AES256"
)

// checkSSEHeader judges one x-amz-server-side-encryption* or
// x-amz-copy-source-server-side-encryption* header k of an object write, before the
// bucket is consulted (checkSSEBucket does that).
func checkSSEHeader(h http.Header, k string) error {
	switch http.CanonicalHeaderKey(k) {
	case sseHeader:
		switch v := h.Get(k); v {
		case sseAES256:
			return nil
		case "aws:kms", "aws:kms:dsse":
			return s3err.Newf(s3err.NotImplemented, "Server-side encryption with %s is not supported by s3proxy (it has no KMS); use AES256 (SSE-S3) on a bucket placed on an encrypting backend.", v)
		default:
			// S3's answer to an algorithm it does not know.
			e := s3err.Newf(s3err.InvalidArgument, "The encryption method specified is not supported")
			e.Extra = map[string]string{"ArgumentName": "x-amz-server-side-encryption", "ArgumentValue": v}
			return e
		}
	case "X-Amz-Server-Side-Encryption-Bucket-Key-Enabled":
		// S3 Bucket Keys reduce KMS calls; with SSE-S3 there are none to reduce.
		return nil
	}
	return s3err.Newf(s3err.NotImplemented, "Server-side encryption (%s) is not supported by s3proxy: only SSE-S3 (x-amz-server-side-encryption: AES256) is, on buckets placed on an encrypting backend.", k)
}

// checkSSEBucket refuses x-amz-server-side-encryption: AES256 on a bucket whose chunks
// are not encrypted at rest (checkObjectWrite has refused every other value).
func (s *Server) checkSSEBucket(rq *request, h http.Header) error {
	if h.Get(sseHeader) == "" {
		return nil
	}
	b, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	if !b.Encrypted {
		return s3err.Newf(s3err.NotImplemented, "Server-side encryption (x-amz-server-side-encryption: AES256) is not available for bucket %s: s3proxy stores its chunks on a backend that does not encrypt them. An administrator can place the bucket on an encrypting backend (encrypt_key_file) and migrate it.", rq.bucket)
	}
	return nil
}

// setSSE answers x-amz-server-side-encryption: AES256 for an object stored encrypted.
func setSSE(h http.Header, encrypted bool) {
	if encrypted {
		h.Set(sseHeader, sseAES256)
	}
}

// sseConfiguration is S3's ServerSideEncryptionConfiguration document.
type sseConfiguration struct {
	XMLName xml.Name  `xml:"ServerSideEncryptionConfiguration"`
	NS      string    `xml:"xmlns,attr,omitempty"`
	Rules   []sseRule `xml:"Rule"`
}

type sseRule struct {
	Default struct {
		SSEAlgorithm   string `xml:"SSEAlgorithm"`
		KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
	} `xml:"ApplyServerSideEncryptionByDefault"`
	BucketKeyEnabled *bool `xml:"BucketKeyEnabled"`
}

// bucketEncryption answers GetBucketEncryption, PutBucketEncryption and
// DeleteBucketEncryption. The configuration is not stored: whether a bucket's objects
// are encrypted is decided by its placement, so GET reports it, PUT of the one
// configuration that is true (AES256) succeeds and changes nothing, and DELETE (which on
// S3 falls back to SSE-S3) changes nothing either.
func (s *Server) bucketEncryption(rq *request, b translate.BucketInfo, verb string) error {
	switch verb {
	case "Get":
		if !b.Encrypted {
			return s3err.New(s3err.ServerSideEncryptionConfigurationNotFoundError)
		}
		var r sseRule
		r.Default.SSEAlgorithm = sseAES256
		off := false
		r.BucketKeyEnabled = &off
		return s.writeXML(rq, http.StatusOK, sseConfiguration{NS: s3NS, Rules: []sseRule{r}})
	case "Put":
		var cfg sseConfiguration
		if err := s.readXML(rq, maxXMLBody, &cfg); err != nil {
			return err
		}
		if len(cfg.Rules) == 0 {
			return s3err.New(s3err.MalformedXML)
		}
		for _, r := range cfg.Rules {
			switch r.Default.SSEAlgorithm {
			case sseAES256:
			case "aws:kms", "aws:kms:dsse":
				return s3err.Newf(s3err.NotImplemented, "Default encryption with %s is not supported by s3proxy (it has no KMS); use AES256.", r.Default.SSEAlgorithm)
			default:
				return s3err.New(s3err.MalformedXML)
			}
			if r.Default.KMSMasterKeyID != "" {
				return s3err.Newf(s3err.InvalidArgument, "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse")
			}
		}
		if !b.Encrypted {
			return s3err.Newf(s3err.NotImplemented, "Default encryption is not available for bucket %s: s3proxy stores its chunks on a backend that does not encrypt them. An administrator can place the bucket on an encrypting backend (encrypt_key_file) and migrate it.", rq.bucket)
		}
		rq.w.WriteHeader(http.StatusOK)
		return nil
	case "Delete":
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s3err.Newf(s3err.NotImplemented, "%s is not implemented by s3proxy.", rq.op)
}

// isSSEHeader reports whether a lower-case header name is about server-side encryption.
func isSSEHeader(lk string) bool {
	return strings.HasPrefix(lk, "x-amz-server-side-encryption") || strings.HasPrefix(lk, "x-amz-copy-source-server-side-encryption")
}

// isSSECHeader reports whether lk (lower case) carries a customer-provided key (SSE-C),
// for the object itself or for a copy's source.
func isSSECHeader(lk string) bool {
	return strings.HasPrefix(lk, "x-amz-server-side-encryption-customer-") ||
		strings.HasPrefix(lk, "x-amz-copy-source-server-side-encryption-customer-")
}

// refuseSSEC refuses a part upload that carries SSE-C headers, as PutObject is refused
// (checkSSEHeader): s3proxy keeps no customer keys, so no upload was created with one,
// and ignoring the key would store the part as if the client had not asked.
func refuseSSEC(h http.Header) error {
	for k := range h {
		if isSSECHeader(strings.ToLower(k)) {
			return checkSSEHeader(h, k)
		}
	}
	return nil
}

// sseCNotApplicable is S3's answer to a read that sends a customer key for an object
// not encrypted with one, which every s3proxy object is.
func sseCNotApplicable(h http.Header) error {
	if h.Get("x-amz-server-side-encryption-customer-algorithm") != "" || h.Get("x-amz-server-side-encryption-customer-key") != "" {
		return s3err.Newf(s3err.InvalidRequest, "The encryption parameters are not applicable to this object.")
	}
	return nil
}
