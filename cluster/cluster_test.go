package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/dedup"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
)

// blobs is a ChunkOpener over an in-memory map; a value may instead be produced by a
// function (to stream slowly or break mid-way).
type blobs struct {
	mu     sync.Mutex
	data   map[string][]byte
	stream map[string]func() io.ReadCloser
	calls  []string // "backend/uid off len" per OpenLocal
}

func (b *blobs) OpenLocal(_ context.Context, backend, uid string, off, length int64) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf("%s/%s %d %d", backend, uid, off, length))
	if f, ok := b.stream[uid]; ok {
		return f(), nil
	}
	d, ok := b.data[uid]
	if !ok || backend != "disk" {
		return nil, fmt.Errorf("open: %w", backends.ErrNotFound)
	}
	if off > int64(len(d)) || length > int64(len(d))-off {
		return nil, fmt.Errorf("range: %w", backends.ErrInvalid)
	}
	if length < 0 {
		length = int64(len(d)) - off
	}
	return io.NopCloser(bytes.NewReader(d[off : off+length])), nil
}

// node is one in-process cluster member with its own HTTP server.
type node struct {
	c     *Cluster
	srv   *httptest.Server
	blobs *blobs
	s3    int // requests that reached the S3 handler
}

const secret = "0123456789abcdef0123456789abcdef"

func newMeta(t *testing.T) meta.MetaStore {
	t.Helper()
	ms, err := gormstore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close() })
	return ms
}

func startNode(t *testing.T, ms meta.MetaStore, id, sec string, now func() time.Time) *node {
	t.Helper()
	n := &node{blobs: &blobs{data: map[string][]byte{}, stream: map[string]func() io.ReadCloser{}}}
	n.srv = httptest.NewUnstartedServer(nil)
	c, err := New(Config{Meta: ms, Chunks: n.blobs, NodeID: id, Advertise: n.srv.Listener.Addr().String(), Secret: []byte(sec), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	n.c = c
	n.srv.Config.Handler = c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.s3++
		http.Error(w, "s3", http.StatusTeapot)
	}))
	n.srv.Start()
	t.Cleanup(n.srv.Close)
	if err := c.Beat(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

func chunkOn(owner, uid string) meta.Chunk {
	return meta.Chunk{ID: 1, UID: uid, Backend: "disk", Node: owner}
}

func readAll(t *testing.T, rc io.ReadCloser, err error) ([]byte, error) {
	t.Helper()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestForwarding(t *testing.T) {
	ms := newMeta(t)
	a := startNode(t, ms, "a", secret, nil)
	b := startNode(t, ms, "b", secret, nil)
	content := bytes.Repeat([]byte("0123456789"), 100_000)
	a.blobs.data["u1"] = content
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		off, n    int64
		want      []byte
		wantCall  string
		wantError error
	}{
		{"whole", 0, -1, content, "disk/u1 0 -1", nil},
		{"explicit whole", 0, int64(len(content)), content, "disk/u1 0 1000000", nil},
		{"range", 123_456, 1000, content[123_456:124_456], "disk/u1 123456 1000", nil},
		{"to end", 999_990, -1, content[999_990:], "disk/u1 999990 -1", nil},
		{"empty", 500, 0, []byte{}, "", nil},
		{"past end", 999_990, 20, nil, "disk/u1 999990 20", dedup.ErrChunkUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.blobs.calls = nil
			rc, err := b.c.OpenRemote(ctx, chunkOn("a", "u1"), tc.off, tc.n)
			got, err := readAll(t, rc, err)
			if !errors.Is(err, tc.wantError) || tc.wantError == nil && err != nil {
				t.Fatalf("OpenRemote = %v, want %v", err, tc.wantError)
			}
			if tc.wantError == nil && !bytes.Equal(got, tc.want) {
				t.Errorf("got %d bytes, want %d", len(got), len(tc.want))
			}
			if calls := strings.Join(a.blobs.calls, ","); calls != tc.wantCall {
				t.Errorf("owner opened %q, want %q (ranges must be forwarded as ranges)", calls, tc.wantCall)
			}
		})
	}
	_, err := readAll(t, nil, func() error { _, err := b.c.OpenRemote(ctx, chunkOn("a", "nope"), 0, 5); return err }())
	if !errors.Is(err, dedup.ErrChunkMissing) {
		t.Errorf("chunk missing on its owner: %v, want ErrChunkMissing", err)
	}
	if a.s3 != 0 {
		t.Errorf("%d internal requests reached the S3 handler", a.s3)
	}
}

// TestStreams: the owner produces a chunk slowly; the reader gets the first bytes before
// the owner has produced the rest, so neither side holds the chunk in memory.
func TestStreams(t *testing.T) {
	ms := newMeta(t)
	a := startNode(t, ms, "a", secret, nil)
	b := startNode(t, ms, "b", secret, nil)
	pr, pw := io.Pipe()
	t.Cleanup(func() { _ = pw.CloseWithError(errors.New("test over")) })
	a.blobs.stream["slow"] = func() io.ReadCloser { return pr }
	const size = 4 << 20
	rc, err := b.c.OpenRemote(context.Background(), chunkOn("a", "slow"), 0, size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	first := bytes.Repeat([]byte{'x'}, 1<<20)
	go func() { _, _ = pw.Write(first) }()
	buf := make([]byte, len(first))
	done := make(chan error, 1)
	go func() { _, err := io.ReadFull(rc, buf); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("first MiB did not arrive before the rest was produced: the chunk is buffered somewhere")
	}
	// The owner breaks off: the reader sees unavailability, not a clean end.
	_ = pw.CloseWithError(errors.New("disk on fire"))
	_, err = io.Copy(io.Discard, rc)
	if !errors.Is(err, dedup.ErrChunkUnavailable) {
		t.Errorf("read after the owner broke off: %v, want ErrChunkUnavailable", err)
	}
}

func TestOwnerUnavailable(t *testing.T) {
	ms := newMeta(t)
	ctx := context.Background()
	b := startNode(t, ms, "b", secret, nil)
	// gone: registered, heartbeating, but its server is closed.
	gone := startNode(t, ms, "gone", secret, nil)
	gone.srv.Close()
	// silent: its last heartbeat is older than DownAfter.
	if err := ms.Heartbeat(ctx, meta.Node{ID: "silent", Address: "127.0.0.1:1", Heartbeat: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	// other: a node with another secret.
	other := startNode(t, ms, "other", "another secret, 32 bytes long!!", nil)
	other.blobs.data["u"] = []byte("data")
	for _, tc := range []struct{ name, owner, addr string }{
		{"unknown node", "nobody", ""},
		{"down node", "silent", "127.0.0.1:1"},
		{"unreachable node", "gone", gone.srv.Listener.Addr().String()},
		{"wrong secret", "other", other.srv.Listener.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := b.c.OpenRemote(ctx, chunkOn(tc.owner, "u"), 0, 4)
			if !errors.Is(err, dedup.ErrChunkUnavailable) {
				t.Fatalf("OpenRemote = %v, want ErrChunkUnavailable", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v to fail", d)
			}
		})
	}
	// A node coming back is found again without waiting for the next heartbeat.
	if err := ms.Heartbeat(ctx, meta.Node{ID: "silent", Address: other.srv.Listener.Addr().String()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(minRefresh + 100*time.Millisecond) // past the re-read limit
	_, err := b.c.OpenRemote(ctx, chunkOn("silent", "u"), 0, 4)
	if !errors.Is(err, dedup.ErrChunkUnavailable) || !strings.Contains(err.Error(), "403") {
		t.Errorf("after the node came back (with another secret): %v, want a 403 from it", err)
	}
}

// TestNewNodeFoundAtOnce: a node that registered after this one last read the node
// table serves its chunks to it right away.
func TestNewNodeFoundAtOnce(t *testing.T) {
	ms := newMeta(t)
	b := startNode(t, ms, "b", secret, nil)
	c := startNode(t, ms, "c", secret, nil) // registers after b's table was read
	c.blobs.data["u"] = []byte("fresh")
	rc, err := b.c.OpenRemote(context.Background(), chunkOn("c", "u"), 0, -1)
	got, err := readAll(t, rc, err)
	if err != nil || string(got) != "fresh" {
		t.Errorf("read from a node registered just now: %q, %v", got, err)
	}
}

// TestAuthentication sends hand-made requests to the internal endpoint.
func TestAuthentication(t *testing.T) {
	ms := newMeta(t)
	now := time.Now()
	a := startNode(t, ms, "a", secret, func() time.Time { return now })
	a.blobs.data["u1"] = []byte("hello world")
	path := "/_s3proxy/chunk/disk/u1"
	signed := func(method, p, rng string, at time.Time, node, sec string) *http.Request {
		req, _ := http.NewRequest(method, a.srv.URL+p, nil)
		date := strconv.FormatInt(at.Unix(), 10)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		req.Header.Set(HeaderDate, date)
		req.Header.Set(HeaderNode, node)
		req.Header.Set(HeaderSignature, sign([]byte(sec), method, p, rng, date, node))
		return req
	}
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		body   string
	}{
		{"valid", func() *http.Request { return signed("GET", path, "", now, "b", secret) }, 200, "hello world"},
		{"valid range", func() *http.Request { return signed("GET", path, "bytes=6-10", now, "b", secret) }, 206, "world"},
		{"skew 4m", func() *http.Request { return signed("GET", path, "", now.Add(-4*time.Minute), "b", secret) }, 200, "hello world"},
		{"skew 6m past", func() *http.Request { return signed("GET", path, "", now.Add(-6*time.Minute), "b", secret) }, 403, ""},
		{"skew 6m future", func() *http.Request { return signed("GET", path, "", now.Add(6*time.Minute), "b", secret) }, 403, ""},
		{"wrong secret", func() *http.Request { return signed("GET", path, "", now, "b", "not the cluster secret at all!!") }, 403, ""},
		{"range not signed", func() *http.Request {
			r := signed("GET", path, "bytes=0-4", now, "b", secret)
			r.Header.Set("Range", "bytes=0-10")
			return r
		}, 403, ""},
		{"other path", func() *http.Request {
			r := signed("GET", path, "", now, "b", secret)
			r.URL.Path = "/_s3proxy/chunk/disk/u2"
			return r
		}, 403, ""},
		{"node not signed", func() *http.Request {
			r := signed("GET", path, "", now, "b", secret)
			r.Header.Set(HeaderNode, "c")
			return r
		}, 403, ""},
		{"garbage signature", func() *http.Request {
			r := signed("GET", path, "", now, "b", secret)
			r.Header.Set(HeaderSignature, "zz")
			return r
		}, 403, ""},
		{"method", func() *http.Request { return signed("DELETE", path, "", now, "b", secret) }, 405, ""},
		{"bad range", func() *http.Request { return signed("GET", path, "bytes=-5", now, "b", secret) }, 416, ""},
		{"unknown chunk", func() *http.Request { return signed("GET", "/_s3proxy/chunk/disk/zz", "", now, "b", secret) }, 404, ""},
		{"unsigned goes to S3", func() *http.Request { r, _ := http.NewRequest("GET", a.srv.URL+path, nil); return r }, http.StatusTeapot, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || tc.body != "" && string(body) != tc.body {
				t.Errorf("status %d body %q, want %d %q", resp.StatusCode, body, tc.status, tc.body)
			}
			if resp.StatusCode == 403 && strings.Contains(string(body), "signature") {
				t.Errorf("403 explains itself: %q", body)
			}
		})
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in        string
		off, n    int64
		wantError bool
	}{
		{"", 0, -1, false},
		{"bytes=0-0", 0, 1, false},
		{"bytes=5-9", 5, 5, false},
		{"bytes=7-", 7, -1, false},
		{"bytes=-5", 0, 0, true},
		{"bytes=9-5", 0, 0, true},
		{"bytes=0-1,3-4", 0, 0, true},
		{"items=0-1", 0, 0, true},
	} {
		off, n, err := parseRange(tc.in)
		if (err != nil) != tc.wantError || !tc.wantError && (off != tc.off || n != tc.n) {
			t.Errorf("parseRange(%q) = %d, %d, %v", tc.in, off, n, err)
		}
	}
}

func TestSecret(t *testing.T) {
	ms := newMeta(t)
	ctx := context.Background()
	s1, err := Secret(ctx, ms, "")
	if err != nil || len(s1) < 32 {
		t.Fatalf("generated secret %q, %v", s1, err)
	}
	s2, err := Secret(ctx, ms, "")
	if err != nil || !bytes.Equal(s1, s2) {
		t.Errorf("second node got another secret: %q vs %q (%v)", s2, s1, err)
	}
	if s, err := Secret(ctx, ms, "configured-secret-value"); err != nil || string(s) != "configured-secret-value" {
		t.Errorf("configured secret: %q, %v", s, err)
	}
	if _, err := Secret(ctx, ms, "short"); err == nil {
		t.Errorf("a short configured secret was accepted")
	}
}

func TestHeartbeat(t *testing.T) {
	ms := newMeta(t)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a := startNode(t, ms, "a", secret, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.c.cfg.Heartbeat = 20 * time.Millisecond
	go func() { a.c.Run(ctx); close(done) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	<-done
	nodes, err := a.c.Nodes(context.Background())
	if err != nil || len(nodes) != 1 || nodes[0].ID != "a" || !nodes[0].Up || nodes[0].Address != a.srv.Listener.Addr().String() {
		t.Fatalf("Nodes = %+v, %v", nodes, err)
	}
	mu.Lock()
	now = now.Add(DefaultDownAfter + time.Second)
	mu.Unlock()
	if nodes, _ := a.c.Nodes(context.Background()); nodes[0].Up {
		t.Errorf("node still up %v after its last heartbeat", DefaultDownAfter+time.Second)
	}
}
