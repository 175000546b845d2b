// Package backends defines BlobStore, the one interface every chunk store implements
// (local disk, S3/MinIO, Tencent COS, Aliyun OSS, in-memory), and the typed errors
// they classify their failures into. It imports nothing of ours.
//
// A chunk is an immutable run of bytes stored under a key chosen by the caller before
// the body arrives (a fresh uid, never derived from a bucket or object name).
//
// Keys are 1 to MaxKeyLen bytes of [A-Za-z0-9._-], start with a letter or digit and
// never contain "..". Every store accepts such keys; a store may reject any other key
// with ErrInvalid (local disk does, because a key becomes a file name).
package backends

import (
	"context"
	"errors"
	"io"
	"time"
)

// Error kinds. Implementations wrap their native errors so that errors.Is(err, ErrNotFound)
// etc. holds; callers never type-assert.
var (
	ErrNotFound      = errors.New("blob not found")
	ErrAlreadyExists = errors.New("blob already exists")
	ErrInvalid       = errors.New("invalid argument")
	ErrUnavailable   = errors.New("backend unavailable")
	ErrExhausted     = errors.New("backend exhausted (throttled or out of space)")
	ErrCanceled      = errors.New("operation canceled")
	ErrInternal      = errors.New("backend internal error")
	// ErrCorrupt: the stored bytes fail the store's own integrity check (an
	// authentication tag, a blob no configured key opens). Retrying will not help.
	ErrCorrupt = errors.New("blob failed its integrity check")
)

// PutOptions carries what a store records beside the bytes.
type PutOptions struct {
	// SHA256, when set, returns the content's SHA-256 once the body has reached EOF.
	// Stores record it with the chunk (a trailer, sidecar, object metadata or a trailing
	// checksum) so that the chunk index can be rebuilt and every chunk scrubbed from the
	// store alone. It must not be called before the body returned io.EOF.
	SHA256 func() [32]byte
}

// MaxKeyLen bounds a key's length (a file name must fit in 255 bytes on every
// filesystem we support, with room for a store's own suffixes).
const MaxKeyLen = 200

// Info describes a stored chunk.
type Info struct {
	Key     string
	Size    int64
	ModTime time.Time
	// SHA256 is the recorded content hash when the store keeps one (zero otherwise).
	SHA256 [32]byte
	HasSHA bool
}

// BlobStore stores chunks.
type BlobStore interface {
	// Name is the configured name of this store (used in logs, metrics, chunk locations).
	Name() string
	// Put stores exactly size bytes read from r under key. size is -1 when unknown, in
	// which case the store reads to EOF. A Put is atomic: on any error (including a body
	// read error, a short body or a cancelled context) nothing becomes visible under key.
	// If r also implements io.Seeker the store may rewind it to retry.
	// With a known size the store still reads r until io.EOF, so that a body longer than
	// size is an error too (ErrInvalid), and so that opts.SHA256 may be called.
	// An error from r is returned wrapped (errors.Is finds it), so that a caller can tell
	// its body's failure (e.g. a digest mismatch) from the store's.
	// Cancellation is checked between reads: a Read that blocks forever is the caller's
	// to bound (e.g. by the HTTP server's read deadline on a request body).
	Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error
	// Get reads length bytes of key starting at offset; length -1 means to the end.
	// offset == size with length 0 (or -1) yields an empty reader. The range is strict:
	// offset < 0, length < -1, offset > size or offset+length > size is ErrInvalid (never
	// silently truncated: a chunk shorter than its manifest says is corruption the caller
	// must see). A missing key is ErrNotFound (possibly only on the first Read for stores
	// that cannot tell before the body starts; local disk tells at once). The reader
	// yields exactly the requested bytes or a Read error; cancelling ctx fails the reads.
	Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat describes key, or returns ErrNotFound.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// List calls fn for every key with the given prefix, in the caller's goroutine, in no
	// particular order. An error from fn stops the listing and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Health reports whether the store is reachable and usable.
	Health(ctx context.Context) error
	// Close releases resources. It is called once, after every other call returned.
	Close() error
}
