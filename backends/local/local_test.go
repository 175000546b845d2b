package local

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/backends/blobtest"
)

func open(t *testing.T, root string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Name: "local", Path: root})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) backends.BlobStore { return open(t, t.TempDir()) },
		blobtest.Options{RequireSHA: true})
}

// TestConformanceBuffered runs the suite with page-cache writes, used where the
// filesystem refuses O_DIRECT.
func TestConformanceBuffered(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) backends.BlobStore {
		s := open(t, t.TempDir())
		s.direct = false
		return s
	}, blobtest.Options{RequireSHA: true})
}

// TestDirectProbed checks O_DIRECT is detected where it works (the test's temporary
// directory is on ext4 on the CI machine, where a refusal fails the test; skipped
// elsewhere on filesystems without it).
func TestDirectProbed(t *testing.T) {
	dir := t.TempDir()
	if !probeDirect(dir) {
		if os.Getenv("CI") == "true" {
			t.Fatal("O_DIRECT refused on the CI machine's temporary directory (ext4): the probe is broken")
		}
		t.Skip("the filesystem of the temporary directory refuses O_DIRECT")
	}
	if s := open(t, dir); !s.direct {
		t.Fatal("O_DIRECT works here but the store does not use it")
	}
}

// TestConformanceNamedTemp runs the suite on the fallback write path, a named temporary
// file renamed into place, used where the filesystem has no O_TMPFILE.
func TestConformanceNamedTemp(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) backends.BlobStore {
		s := open(t, t.TempDir())
		s.noTmpfile.Store(true)
		return s
	}, blobtest.Options{RequireSHA: true})
}

func TestKeySafety(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	s := open(t, root)
	ctx := context.Background()
	bad := []string{
		"", ".", "..", "../x", "a/../../x", "a/b", "/etc/passwd", "a\\b", "a..b", ".hidden",
		"-dash", "_under", "a b", "a\x00b", "ä", "tmp/put-1", strings.Repeat("a", backends.MaxKeyLen+1),
	}
	for _, key := range bad {
		if err := s.Put(ctx, key, strings.NewReader("x"), 1, backends.PutOptions{}); !errors.Is(err, backends.ErrInvalid) {
			t.Errorf("Put(%q): %v, want ErrInvalid", key, err)
		}
		if _, err := s.Get(ctx, key, 0, -1); !errors.Is(err, backends.ErrInvalid) {
			t.Errorf("Get(%q): %v, want ErrInvalid", key, err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, backends.ErrInvalid) {
			t.Errorf("Stat(%q): %v, want ErrInvalid", key, err)
		}
		if err := s.Delete(ctx, key); !errors.Is(err, backends.ErrInvalid) {
			t.Errorf("Delete(%q): %v, want ErrInvalid", key, err)
		}
	}
	// Nothing may have been written outside root, and nothing but tmp inside it.
	entries, _ := os.ReadDir(filepath.Dir(root))
	if len(entries) != 1 {
		t.Errorf("entries beside root: %v", entries)
	}
	entries, _ = os.ReadDir(root)
	if len(entries) != 1 || entries[0].Name() != tmpDir {
		t.Errorf("root holds %v, want only tmp", entries)
	}
	for _, prefix := range []string{"..", "../", "/", "tm", "tmp"} {
		if err := s.List(ctx, prefix, func(i backends.Info) error {
			t.Errorf("List(%q) yielded %q", prefix, i.Key)
			return nil
		}); err != nil {
			t.Errorf("List(%q): %v", prefix, err)
		}
	}
}

func TestLayoutAndFooter(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	data := []byte("hello, chunk")
	sum := sha256.Sum256(data)
	if err := s.Put(ctx, "abcdef", bytes.NewReader(data), int64(len(data)), backends.PutOptions{SHA256: func() [32]byte { return sum }}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(s.Root(), "a", "bc", "abcdef"))
	if err != nil {
		t.Fatalf("chunk not at root/a/bc/abcdef: %v", err)
	}
	if len(raw) != len(data)+footerSize || !bytes.Equal(raw[:len(data)], data) {
		t.Fatalf("file = %q", raw)
	}
	foot := raw[len(data):]
	if string(foot[:4]) != "S3PX" || foot[4] != 1 || foot[5] != flagSHA || !bytes.Equal(foot[8:], sum[:]) {
		t.Errorf("footer = %x", foot)
	}
	// A short key is padded into its shard.
	if err := s.Put(ctx, "a", strings.NewReader("1"), 1, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Root(), "a", "__", "a")); err != nil {
		t.Errorf("short key: %v", err)
	}
	// A file without a valid footer is corruption, not data.
	if err := os.WriteFile(filepath.Join(s.Root(), "a", "bc", "abcdzz"), []byte("foreign"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, "abcdzz"); !errors.Is(err, backends.ErrInternal) {
		t.Errorf("Stat of a footerless file: %v, want ErrInternal", err)
	}
}

// TestLegacyLayout: a store created with the first layout (<k0k1>/<k2k3>) stays in it, so
// its chunks remain readable, listable and writable after an upgrade.
func TestLegacyLayout(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	old := open(t, root)
	old.layout = layoutV1 // as the previous version wrote it
	if err := old.Put(ctx, "abcdef", strings.NewReader("legacy"), 6, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "ab", "cd", "abcdef")); err != nil {
		t.Fatal(err)
	}
	s := open(t, root)
	if s.layout != layoutV1 {
		t.Fatalf("layout of a store with <k0k1> directories = %v, want layoutV1", s.layout)
	}
	if got := readAll(t, s, "abcdef"); got != "legacy" {
		t.Fatalf("Get = %q", got)
	}
	if err := s.Put(ctx, "abcd99", strings.NewReader("new"), 3, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := s.List(ctx, "", func(i backends.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"abcd99", "abcdef"}) {
		t.Fatalf("List = %v", keys)
	}
	if fresh := open(t, t.TempDir()); fresh.layout != layoutV2 {
		t.Fatalf("layout of a new store = %v, want layoutV2", fresh.layout)
	}
}

func readAll(t *testing.T, s *Store, key string) string {
	t.Helper()
	rc, err := s.Get(context.Background(), key, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCrashLeftovers(t *testing.T) {
	root := t.TempDir()
	s := open(t, root)
	tmp := filepath.Join(root, tmpDir)
	old := filepath.Join(tmp, "put-123")
	fresh := filepath.Join(tmp, "put-456")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("half a chunk"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	past := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	if err := s.List(context.Background(), "", func(i backends.Info) error {
		t.Errorf("List yielded temp file %q", i.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	open(t, root) // a restart
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temp file survived Open: %v", err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temp file (maybe another process's write) was removed: %v", err)
	}
}

// TestTornChunkListed: Put names its file before syncing it, so a crash can leave a
// file without its footer at a chunk's name. Listing goes on past it and yields it
// without a hash (for the orphan sweep); reading it fails as damage, not as a chunk.
func TestTornChunkListed(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := open(t, root)
	good, torn := "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	if err := s.Put(ctx, good, strings.NewReader("whole"), 5, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := s.path(torn)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, 4096), 0o640); err != nil {
		t.Fatal(err)
	}
	got := map[string]backends.Info{}
	if err := s.List(ctx, "", func(i backends.Info) error { got[i.Key] = i; return nil }); err != nil {
		t.Fatalf("List stopped at the torn file: %v", err)
	}
	if i, ok := got[torn]; !ok || i.HasSHA || i.Size != 4096 {
		t.Errorf("torn file listed as %+v (present %v), want size 4096 without hash", i, ok)
	}
	if i, ok := got[good]; !ok || i.Size != 5 {
		t.Errorf("good chunk listed as %+v (present %v)", i, ok)
	}
	if _, err := s.Get(ctx, torn, 0, -1); !errors.Is(err, backends.ErrInternal) {
		t.Errorf("Get of the torn file: %v, want ErrInternal", err)
	}
}

// TestPrecreatedShards: a new store lays out every shard directory of hexadecimal
// keys on Open, so that Put never creates one; an existing store is left as it is.
func TestPrecreatedShards(t *testing.T) {
	root := t.TempDir()
	start := time.Now()
	if _, err := Open(context.Background(), Config{Name: "t", Path: root, PrecreateShards: true}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Open of a new store took %v", time.Since(start))
	leaves, err := filepath.Glob(filepath.Join(root, "?", "??"))
	if err != nil {
		t.Fatal(err)
	}
	if len(leaves) != 16*256 {
		t.Fatalf("%d leaf directories, want 4096", len(leaves))
	}
	// Reopening an existing store creates nothing, even where a directory is missing
	// (Put creates it when it needs it).
	if err := os.Remove(filepath.Join(root, "a", "bc")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Config{Name: "t", Path: root, PrecreateShards: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "bc")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("reopen recreated a removed leaf: %v", err)
	}
	if err := s.Put(context.Background(), "abc0123456789abcdef0123456789abc", strings.NewReader("x"), 1, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
}

// recordingWriter records what io.Copy hands to ReadFrom.
type recordingWriter struct {
	srcs []io.Reader
	buf  bytes.Buffer
}

func (w *recordingWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }
func (w *recordingWriter) ReadFrom(r io.Reader) (int64, error) {
	w.srcs = append(w.srcs, r)
	return w.buf.ReadFrom(r)
}

// TestSendfilePath checks that io.Copy into a ReaderFrom passes an *io.LimitedReader of
// the *os.File, the shape net.TCPConn.ReadFrom serves with sendfile, and that the bytes
// arrive intact through a real TCP connection.
func TestSendfilePath(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := s.Put(ctx, "sendme", bytes.NewReader(data), int64(len(data)), backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Get(ctx, "sendme", 100, 500000)
	if err != nil {
		t.Fatal(err)
	}
	var w recordingWriter
	if _, err := io.Copy(&w, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if len(w.srcs) != 1 {
		t.Fatalf("ReadFrom called %d times", len(w.srcs))
	}
	if lr, ok := w.srcs[0].(*io.LimitedReader); !ok {
		t.Errorf("ReadFrom got %T, want *io.LimitedReader", w.srcs[0])
	} else if _, ok := lr.R.(*os.File); !ok {
		t.Errorf("LimitedReader wraps %T, want *os.File", lr.R)
	}
	if !bytes.Equal(w.buf.Bytes(), data[100:500100]) {
		t.Errorf("wrong bytes through ReadFrom")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		got <- b
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	rc, err = s.Get(ctx, "sendme", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(c, rc); err != nil || n != int64(len(data)) {
		t.Fatalf("copy to TCP: %d, %v", n, err)
	}
	rc.Close()
	c.Close()
	if b := <-got; !bytes.Equal(b, data) {
		t.Errorf("TCP peer got %d bytes, want %d identical", len(b), len(data))
	}
}
