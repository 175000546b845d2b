// Package mem is an in-memory BlobStore for unit tests of the packages above backends.
// It keeps every chunk as a private copy of its bytes in a map guarded by a mutex; a Put
// becomes visible only once its whole body has been read and checked, so it is atomic in
// the same way the durable stores are. Nothing survives Close.
package mem

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"s3proxy/backends"
)

type blob struct {
	data   []byte
	mod    time.Time
	sha    [32]byte
	hasSHA bool
}

// Store is an in-memory BlobStore. The zero value is not usable; call New.
type Store struct {
	name  string
	mu    sync.RWMutex
	blobs map[string]blob
}

var _ backends.BlobStore = (*Store)(nil)

// New returns an empty store called name.
func New(name string) *Store {
	return &Store{name: name, blobs: make(map[string]blob)}
}

// Name implements backends.BlobStore.
func (s *Store) Name() string { return s.name }

func canceled(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: %w: %w", backends.ErrCanceled, err)
	}
	return nil
}

func checkKey(key string) error {
	if key == "" || len(key) > backends.MaxKeyLen {
		return fmt.Errorf("mem: key %q: %w", key, backends.ErrInvalid)
	}
	return nil
}

// Put implements backends.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if size < -1 {
		return fmt.Errorf("mem: size %d: %w", size, backends.ErrInvalid)
	}
	var buf bytes.Buffer
	if size > 0 {
		buf.Grow(int(min(size, 64<<20)))
	}
	chunk := make([]byte, 32<<10)
	for {
		if err := canceled(ctx); err != nil {
			return err
		}
		n, err := r.Read(chunk)
		buf.Write(chunk[:n])
		if size >= 0 && int64(buf.Len()) > size {
			return fmt.Errorf("mem: put %s: body longer than %d bytes: %w", key, size, backends.ErrInvalid)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A body read that failed because the context ended (a stalled client hitting
			// the deadline) is a cancellation, whatever error the body chose to give.
			if cerr := canceled(ctx); cerr != nil {
				return fmt.Errorf("mem: put %s: reading body: %w (%w)", key, cerr, err)
			}
			return fmt.Errorf("mem: put %s: reading body: %w", key, err)
		}
	}
	if size >= 0 && int64(buf.Len()) != size {
		return fmt.Errorf("mem: put %s: body has %d of %d bytes: %w", key, buf.Len(), size, io.ErrUnexpectedEOF)
	}
	b := blob{data: buf.Bytes(), mod: time.Now()}
	if opts.SHA256 != nil {
		b.sha, b.hasSHA = opts.SHA256(), true
	}
	s.mu.Lock()
	s.blobs[key] = b
	s.mu.Unlock()
	return nil
}

func (s *Store) lookup(key string) (blob, error) {
	s.mu.RLock()
	b, ok := s.blobs[key]
	s.mu.RUnlock()
	if !ok {
		return blob{}, fmt.Errorf("mem: %s: %w", key, backends.ErrNotFound)
	}
	return b, nil
}

// Get implements backends.BlobStore. The reader serves from the stored slice, which
// is never modified after Put, so no copy is needed.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := canceled(ctx); err != nil {
		return nil, err
	}
	b, err := s.lookup(key)
	if err != nil {
		return nil, err
	}
	size := int64(len(b.data))
	if length == -1 && offset >= 0 && offset <= size {
		length = size - offset
	}
	if offset < 0 || length < 0 || offset > size || length > size-offset {
		return nil, fmt.Errorf("mem: get %s: range %d+%d of %d bytes: %w", key, offset, length, size, backends.ErrInvalid)
	}
	return &ctxReader{ctx: ctx, r: bytes.NewReader(b.data[offset : offset+length])}, nil
}

// ctxReader fails its reads once ctx is done, as a network-backed reader would.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := canceled(c.ctx); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (c *ctxReader) Close() error { return nil }

// Stat implements backends.BlobStore.
func (s *Store) Stat(ctx context.Context, key string) (backends.Info, error) {
	if err := canceled(ctx); err != nil {
		return backends.Info{}, err
	}
	b, err := s.lookup(key)
	if err != nil {
		return backends.Info{}, err
	}
	return info(key, b), nil
}

func info(key string, b blob) backends.Info {
	return backends.Info{Key: key, Size: int64(len(b.data)), ModTime: b.mod, SHA256: b.sha, HasSHA: b.hasSHA}
}

// Delete implements backends.BlobStore.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := canceled(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.blobs, key)
	s.mu.Unlock()
	return nil
}

// List implements backends.BlobStore. It snapshots the matching entries first so that
// fn may call back into the store (e.g. Delete) without deadlocking.
func (s *Store) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	s.mu.RLock()
	var infos []backends.Info
	for k, b := range s.blobs {
		if strings.HasPrefix(k, prefix) {
			infos = append(infos, info(k, b))
		}
	}
	s.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	for _, in := range infos {
		if err := canceled(ctx); err != nil {
			return err
		}
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

// Health implements backends.BlobStore.
func (s *Store) Health(ctx context.Context) error { return canceled(ctx) }

// Close implements backends.BlobStore.
func (s *Store) Close() error { return nil }
