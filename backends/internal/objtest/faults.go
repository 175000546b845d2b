package objtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"s3proxy/backends"
)

// Harness is one object store's side of RunFaults: how to build the store on its
// fault-injecting test server and what that server can report.
type Harness struct {
	// New returns a store on the server whose object names start with prefix + "/".
	New func(t *testing.T, prefix string) backends.BlobStore
	// Faults is the server's injector; its Release must close when the server stops.
	Faults *Faults
	// Error is a fault answering with the store's error response for status and code.
	Error func(status int, code string) Fault
	// PartSize is the store's configured part size: multipart Puts here take 3 parts.
	PartSize int64
	// Unreachable returns a store on endpoint, where nothing listens.
	Unreachable func(t *testing.T, endpoint string) backends.BlobStore
	// Uploads counts the multipart uploads in progress on the server; nil: not checked.
	Uploads func() int
	// Keys lists the server's object names; nil skips the sidecar test.
	Keys func() []string
	// CRCHeader is the response header carrying the object's CRC-64, which a whole-chunk
	// Get must check; empty skips the corrupt-read test.
	CRCHeader string
}

// RunFaults runs the fault-injection tests every object store must pass: retries and
// error kinds, connections dropped and stalled mid-stream, corrupt reads, an unreachable
// endpoint and the SHA-256 sidecar. They are one table so that the stores are held to
// the same behaviour, whatever their SDK.
func RunFaults(t *testing.T, h Harness) {
	t.Run("RetriesAndErrorKinds", func(t *testing.T) { retriesAndErrorKinds(t, h) })
	t.Run("BackendFailsMidStream", func(t *testing.T) { failsMidStream(t, h) })
	t.Run("BackendStallsMidStream", func(t *testing.T) { stallsMidStream(t, h) })
	if h.CRCHeader != "" {
		t.Run("CorruptRead", func(t *testing.T) { corruptRead(t, h) })
	}
	t.Run("Unreachable", func(t *testing.T) { unreachable(t, h) })
	if h.Keys != nil {
		t.Run("Sidecar", func(t *testing.T) { sidecar(t, h) })
	}
}

// Zeros is an endless reader of zero bytes.
type Zeros struct{}

func (Zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func (h Harness) checkUploads(t *testing.T) {
	t.Helper()
	if h.Uploads == nil {
		return
	}
	if n := h.Uploads(); n != 0 {
		t.Errorf("%d multipart uploads left behind", n)
	}
}

func retriesAndErrorKinds(t *testing.T, h Harness) {
	s := h.New(t, "faults")
	defer s.Close()
	ctx := context.Background()
	mp := int(3 * h.PartSize)
	cases := []struct {
		name     string
		fault    Fault
		size     int
		wantErr  error // nil: the Put succeeds
		attempts int64 // requests the server sees; 0: not checked
	}{
		{"throttled-then-ok", Times(2, h.Error(503, "SlowDown")), 1000, nil, 3},
		{"5xx-then-ok", Times(1, h.Error(500, "InternalError")), 1000, nil, 2},
		{"throttled-always", h.Error(503, "SlowDown"), 1000, backends.ErrExhausted, 3},
		{"429-always", h.Error(429, "TooManyRequests"), 1000, backends.ErrExhausted, 3},
		{"5xx-always", h.Error(500, "InternalError"), 1000, backends.ErrUnavailable, 3},
		{"access-denied", h.Error(403, "AccessDenied"), 1000, backends.ErrUnavailable, 1},
		{"no-such-bucket", h.Error(404, "NoSuchBucket"), 1000, backends.ErrUnavailable, 1},
		// initiate, 3 parts (one throttled once), complete, sidecar
		{"multipart-part-retried", Only(http.MethodPut, Times(1, h.Error(503, "SlowDown"))), mp, nil, 7},
		// initiate, 3 parts refused three times each at most, then abort
		{"multipart-fails", Only(http.MethodPut, h.Error(500, "InternalError")), mp, backends.ErrUnavailable, 0},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.Faults.Set(c.fault)
			defer h.Faults.Set(nil)
			before := h.Faults.Requests()
			key := fmt.Sprintf("retry%d", i)
			data := bytes.Repeat([]byte{'x'}, c.size)
			sum := sha256.Sum256(data)
			err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), backends.PutOptions{SHA256: func() [32]byte { return sum }})
			if got := h.Faults.Requests() - before; c.attempts > 0 && got != c.attempts {
				t.Errorf("server saw %d requests, want %d", got, c.attempts)
			}
			h.Faults.Set(nil)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				if info, err := s.Stat(ctx, key); err != nil || info.SHA256 != sum {
					t.Errorf("Stat after a retried Put: %+v, %v", info, err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("Put: %v, want %v", err, c.wantErr)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Stat after a failed Put: %v, want ErrNotFound", err)
			}
			h.checkUploads(t)
		})
	}
	t.Run("get-retried", func(t *testing.T) {
		if err := s.Put(ctx, "getretry", strings.NewReader("hello"), 5, backends.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		h.Faults.Set(Only(http.MethodGet, Times(2, h.Error(503, "SlowDown"))))
		defer h.Faults.Set(nil)
		rc, err := s.Get(ctx, "getretry", 1, 3)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		defer rc.Close()
		if b, err := io.ReadAll(rc); err != nil || string(b) != "ell" {
			t.Errorf("Get = %q, %v", b, err)
		}
	})
}

// failsMidStream: the server drops the connection halfway through every upload; the Put
// fails (after retries) and nothing becomes visible.
func failsMidStream(t *testing.T, h Harness) {
	s := h.New(t, "drop")
	defer s.Close()
	ctx := context.Background()
	for _, size := range []int64{h.PartSize / 2, 3 * h.PartSize} { // one request; multipart
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := fmt.Sprintf("drop%d", size)
			h.Faults.Set(Only(http.MethodPut, func(w http.ResponseWriter, r *http.Request) bool {
				_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
				if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
					conn.Close()
				}
				return true
			}))
			err := s.Put(ctx, key, io.LimitReader(Zeros{}, size), size, backends.PutOptions{})
			h.Faults.Set(nil)
			if !errors.Is(err, backends.ErrUnavailable) {
				t.Fatalf("Put: %v, want ErrUnavailable", err)
			}
			if _, err := s.Stat(ctx, key); !errors.Is(err, backends.ErrNotFound) {
				t.Errorf("Stat after a dropped Put: %v, want ErrNotFound", err)
			}
		})
	}
}

// stallsMidStream: the server sends half a GET body and stalls; the reader fails when
// the caller's deadline passes, not never.
func stallsMidStream(t *testing.T, h Harness) {
	s := h.New(t, "stall")
	defer s.Close()
	ctx := context.Background()
	const size = 1 << 20
	if err := s.Put(ctx, "stall", io.LimitReader(Zeros{}, size), size, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Faults.Set(Only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(make([]byte, size/2))
		_ = http.NewResponseController(w).Flush()
		select { // until the client gives up or the test ends
		case <-r.Context().Done():
		case <-h.Faults.Release:
		}
		return true
	}))
	defer h.Faults.Set(nil)
	gctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	rc, err := s.Get(gctx, "stall", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	if !errors.Is(err, backends.ErrCanceled) {
		t.Errorf("reading a stalled body: %d bytes, %v; want ErrCanceled", n, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the stalled read took %v", d)
	}
}

// corruptRead: a whole-chunk read whose bytes do not match the recorded CRC fails.
func corruptRead(t *testing.T, h Harness) {
	s := h.New(t, "crc")
	defer s.Close()
	ctx := context.Background()
	if err := s.Put(ctx, "crc", strings.NewReader("hello world"), 11, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	h.Faults.Set(Only(http.MethodGet, func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set(h.CRCHeader, "12345")
		w.Header().Set("Content-Length", "11")
		_, _ = io.WriteString(w, "hello world")
		return true
	}))
	defer h.Faults.Set(nil)
	rc, err := s.Get(ctx, "crc", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, backends.ErrInternal) {
		t.Errorf("reading a corrupt chunk: %v, want ErrInternal", err)
	}
}

func unreachable(t *testing.T, h Harness) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := h.Unreachable(t, "http://"+addr)
	defer s.Close()
	if err := s.Health(context.Background()); !errors.Is(err, backends.ErrUnavailable) {
		t.Errorf("Health of a closed port: %v, want ErrUnavailable", err)
	}
}

// sidecar: a multipart chunk's hash lives in the sidecar, which List hides and Delete
// removes.
func sidecar(t *testing.T, h Harness) {
	s := h.New(t, "side")
	defer s.Close()
	ctx := context.Background()
	keys := func() string {
		var ks []string
		for _, k := range h.Keys() {
			if strings.HasPrefix(k, "side/") {
				ks = append(ks, k)
			}
		}
		return strings.Join(ks, ",")
	}
	data := bytes.Repeat([]byte("ab"), int(h.PartSize))
	sum := sha256.Sum256(data)
	if err := s.Put(ctx, "mp", bytes.NewReader(data), -1, backends.PutOptions{SHA256: func() [32]byte { return sum }}); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "side/_sha256/mp,side/mp" {
		t.Errorf("objects = %q", got)
	}
	if info, err := s.Stat(ctx, "mp"); err != nil || !info.HasSHA || info.SHA256 != sum {
		t.Errorf("Stat = %+v, %v", info, err)
	}
	var listed []string
	if err := s.List(ctx, "", func(i backends.Info) error { listed = append(listed, i.Key); return nil }); err != nil || strings.Join(listed, ",") != "mp" {
		t.Errorf("List = %q, %v; want only the chunk", listed, err)
	}
	if err := s.Delete(ctx, "mp"); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "" {
		t.Errorf("objects after Delete = %q", got)
	}
}
