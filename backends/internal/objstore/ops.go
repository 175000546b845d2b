package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"s3proxy/backends"
)

// ---- configuration ----

// Prefix turns a configured key prefix into a directory: "chunks" is "chunks/".
func Prefix(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// NewTransport is the HTTP transport of a store whose SDK takes a plain http.Client:
// timeout bounds connecting, the TLS handshake and waiting for response headers (a body
// in flight is bounded by the caller's context instead).
func NewTransport(timeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		// One gateway talks to one endpoint: keep enough idle connections for the parts
		// and reads in flight instead of Go's default of 2 per host.
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 128,
		ForceAttemptHTTP2:   true,
	}
}

// ---- errors ----

// Classify wraps a request's failure err in its backends error kind: "label: op key:
// kind: err" (no key for bucket-wide operations).
func Classify(label, op, key string, kind, err error) error {
	if key != "" {
		op += " " + key
	}
	return fmt.Errorf("%s: %s: %w: %w", label, op, kind, err)
}

// Canceled reports whether err is (or ctx makes it) a cancellation.
func Canceled(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil
}

// Codes are a vendor's error codes that need more than their HTTP status to classify.
type Codes struct {
	Throttled func(code string) bool // the store asks us to slow down
	Unusable  func(code string) bool // the store is unusable as configured
}

// Kind maps an error response of an S3-like API (COS, OSS) to a backends error kind.
func (c Codes) Kind(code string, status int) error {
	switch {
	case code == "NoSuchKey":
		return backends.ErrNotFound
	case code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable:
		return backends.ErrInvalid
	case c.Throttled(code) || status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		return backends.ErrExhausted
	case c.Unusable(code):
		// The store is unusable as configured: report it, but as the backend's fault.
		return backends.ErrUnavailable
	case status == http.StatusNotFound: // a HEAD's error has no body, so no code
		return backends.ErrNotFound
	case status >= 500 || status == http.StatusForbidden || status == http.StatusUnauthorized:
		return backends.ErrUnavailable
	}
	return backends.ErrInternal
}

// Retryable says whether another attempt at a request answered with this error may
// succeed: throttling, 5xx, a request timeout.
func (c Codes) Retryable(code string, status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || c.Throttled(code) || code == "RequestTimeout"
}

// TransportKind classifies an error that is not an error response: a failed or dropped
// connection is the store's unavailability, anything else an internal error.
func TransportKind(err error) error {
	var netErr net.Error
	var urlErr *url.Error
	if errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return backends.ErrUnavailable
	}
	return backends.ErrInternal
}

// ---- Get ----

// CheckGet enforces a Get's key, range and context before any request.
func CheckGet(ctx context.Context, label, key string, offset, length int64) error {
	if err := CheckKey(label, key); err != nil {
		return err
	}
	if offset < 0 || length < -1 {
		return fmt.Errorf("%s: get %s: range %d+%d: %w", label, key, offset, length, backends.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return Classify(label, "get", key, backends.ErrCanceled, err)
	}
	return nil
}

// Range is the HTTP Range header for length bytes (-1: to the end) at offset; "" for
// the whole object. length must not be 0 (an empty range has no header).
func Range(offset, length int64) string {
	switch {
	case offset == 0 && length == -1:
		return ""
	case length == -1:
		return fmt.Sprintf("bytes=%d-", offset)
	default:
		return fmt.Sprintf("bytes=%d-%d", offset, offset+length-1)
	}
}

// CheckServed checks a Get's response before its body is handed on: a ranged request
// must have been answered with a range, and with all of it (stores truncate a range
// that runs past the end; the contract does not). got is the response's length.
func CheckServed(label, key string, offset, length, got int64, ranged, contentRange bool) error {
	if ranged && !contentRange {
		return fmt.Errorf("%s: get %s: the server ignored the Range header: %w", label, key, backends.ErrInternal)
	}
	if length != -1 && got != length {
		return fmt.Errorf("%s: get %s: range %d+%d runs past the end (%d bytes served): %w", label, key, offset, length, got, backends.ErrInvalid)
	}
	return nil
}

// EmptyAt is a Get's empty reader at offset, if offset is within the object (info, or
// err from looking it up).
func EmptyAt(label, key string, offset int64, info backends.Info, err error) (io.ReadCloser, error) {
	if err != nil {
		return nil, err
	}
	if offset > info.Size {
		return nil, fmt.Errorf("%s: get %s: offset %d beyond %d bytes: %w", label, key, offset, info.Size, backends.ErrInvalid)
	}
	return io.NopCloser(bytes.NewReader(nil)), nil
}

// ---- the recorded SHA-256 ----

// SidecarDir holds the sidecars with multipart chunks' SHA-256: <prefix>_sha256/K.
const SidecarDir = "_sha256/"

// SidecarMax bounds a sidecar's read: the hex hash and a newline.
const SidecarMax = 2*sha256.Size + 1

// HexSHA decodes a SHA-256 recorded in hex (metadata, a sidecar's content).
func HexSHA(v string) ([32]byte, bool) {
	b, err := hex.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != sha256.Size {
		return [32]byte{}, false
	}
	return [32]byte(b), true
}

// ParseSidecar decodes a sidecar's content.
func ParseSidecar(label, key string, v []byte) ([32]byte, bool, error) {
	sum, ok := HexSHA(string(v))
	if !ok {
		return [32]byte{}, false, fmt.Errorf("%s: stat %s: malformed sha256 sidecar: %w", label, key, backends.ErrInternal)
	}
	return sum, true, nil
}

// ---- List ----

// Page is one page of a listing: full object names, and where the next page starts.
type Page struct {
	Objects    []backends.Info // Key: the object name, store prefix included
	Truncated  bool
	NextMarker string
}

// List lists the chunks under storePrefix+prefix page by page, with "/" as the
// delimiter: the sidecar directory comes back as a common prefix and never as chunks.
// page fetches the page after marker ("" first); its errors are already classified.
func List(label, storePrefix, prefix string, page func(marker string) (Page, error), fn func(backends.Info) error) error {
	if strings.Contains(prefix, "/") {
		return nil // no key has one
	}
	marker := ""
	for {
		p, err := page(marker)
		if err != nil {
			return err
		}
		for _, o := range p.Objects {
			o.Key = strings.TrimPrefix(o.Key, storePrefix)
			if o.Key == "" || strings.Contains(o.Key, "/") {
				continue
			}
			if err := fn(o); err != nil {
				return err
			}
		}
		if !p.Truncated {
			return nil
		}
		if p.NextMarker == "" || p.NextMarker == marker {
			return fmt.Errorf("%s: list: truncated page without a next marker: %w", label, backends.ErrInternal)
		}
		marker = p.NextMarker
	}
}

// ---- configuration defaults ----

// Defaults for the zero values of Tuning's fields.
const (
	DefaultPartSize    = 8 << 20
	DefaultConcurrency = 3
	DefaultMaxAttempts = 5
	DefaultTimeout     = 30 * time.Second
	DefaultRetryBase   = 100 * time.Millisecond
)

// Tuning is the tuning part of a vendor store's Config (see cos.Config, oss.Config).
type Tuning struct {
	PartSize    int64
	Concurrency int
	MaxAttempts int
	Timeout     time.Duration
	RetryBase   time.Duration
}

// WithDefaults fills t's zero values and checks the part size against the store's
// minimum (minName says it for the error: "COS's minimum of 1 MiB").
func (t Tuning) WithDefaults(label string, minPartSize int64, minName string) (Tuning, error) {
	if t.PartSize == 0 {
		t.PartSize = DefaultPartSize
	}
	if t.PartSize < minPartSize {
		return t, fmt.Errorf("%s: part size %d is below %s: %w", label, t.PartSize, minName, backends.ErrInvalid)
	}
	if t.Concurrency <= 0 {
		t.Concurrency = DefaultConcurrency
	}
	if t.MaxAttempts <= 0 {
		t.MaxAttempts = DefaultMaxAttempts
	}
	if t.Timeout <= 0 {
		t.Timeout = DefaultTimeout
	}
	if t.RetryBase <= 0 {
		t.RetryBase = DefaultRetryBase
	}
	return t, nil
}

// ---- Stat and Delete with a sidecar ----

// WithSHA completes info with the recorded SHA-256: meta (the hex metadata a single PUT
// carries) when there is one, else what sidecar finds (a multipart chunk's hash, if it
// was recorded).
func WithSHA(info backends.Info, meta string, sidecar func() ([32]byte, bool, error)) (backends.Info, error) {
	if sum, ok := HexSHA(meta); ok {
		info.SHA256, info.HasSHA = sum, true
		return info, nil
	}
	var err error
	if info.SHA256, info.HasSHA, err = sidecar(); err != nil {
		return backends.Info{}, err
	}
	return info, nil
}

// ReadSidecar reads key's sidecar with get, which returns at most SidecarMax bytes; a
// missing sidecar (kind says ErrNotFound) means no hash was recorded. classify wraps
// get's other errors.
func ReadSidecar(label, key string, get func() ([]byte, error), kind, classify func(error) error) ([32]byte, bool, error) {
	v, err := get()
	if err != nil {
		if errors.Is(kind(err), backends.ErrNotFound) {
			return [32]byte{}, false, nil
		}
		return [32]byte{}, false, classify(err)
	}
	return ParseSidecar(label, key, v)
}

// Delete removes a chunk's object, then its sidecar, with del, so that a failure in
// between leaves at most a sidecar without its chunk (harmless and invisible). Missing
// objects (kind says ErrNotFound) are no error; classify wraps the others.
func Delete(object, sidecar string, del func(name string) error, kind, classify func(error) error) error {
	for _, name := range []string{object, sidecar} {
		if err := del(name); err != nil && !errors.Is(kind(err), backends.ErrNotFound) {
			return classify(err)
		}
	}
	return nil
}
