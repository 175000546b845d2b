package gormstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"s3proxy/meta"
)

// BenchmarkWrites measures the metadata write path of the benchmark's small-object
// profile, in process: a PUT of new content (inline 4 KiB, or a chunk file's row) over
// one of a few hundred keys, most of them replacing an object, and a DELETE. On SQLite
// each write includes its durable WAL sync.
//
//	go test -run - -bench Writes -benchmem ./meta/gormstore
func BenchmarkWrites(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) *Store
	}{
		{"sqlite", func(b *testing.B) *Store { return openT(b, filepath.Join(b.TempDir(), "meta.db")) }},
		{"postgres", func(b *testing.B) *Store {
			requirePG(b)
			return openT(b, pgBase(), WithSchema(pgSchema(b)))
		}},
	}
	const keys = 256
	var seq uint64 // content never stored before
	next := func() uint64 { seq++; return seq }
	ops := []struct {
		name string
		op   func(ctx context.Context, s *Store, i int) error
	}{
		{"put-inline-4k", func(ctx context.Context, s *Store, i int) error {
			_, err := s.PutObject(ctx, benchObject(next(), i, keys, 4096, true), meta.WriteCondition{})
			return err
		}},
		{"put-chunk-1m", func(ctx context.Context, s *Store, i int) error {
			_, err := s.PutObject(ctx, benchObject(next(), i, keys, 1<<20, false), meta.WriteCondition{})
			return err
		}},
		{"put-delete", func(ctx context.Context, s *Store, i int) error {
			o := benchObject(next(), i, keys, 4096, true)
			if _, err := s.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
				return err
			}
			_, err := s.DeleteObject(ctx, o.Bucket, o.Key, meta.WriteCondition{})
			return err
		}},
	}
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			s := e.open(b)
			if err := s.CreateBucket(ctx, meta.Bucket{Name: "bench", Owner: "ak"}); err != nil {
				b.Fatal(err)
			}
			for _, op := range ops {
				b.Run(op.name, func(b *testing.B) {
					b.ReportAllocs()
					for i := 0; b.Loop(); i++ {
						if err := op.op(ctx, s, i); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

// benchObject is an object of the content numbered seq, under one of keys keys.
func benchObject(seq uint64, i, keys int, size int64, inline bool) meta.Object {
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], seq)
	sum := sha256.Sum256(seed[:])
	c := meta.Chunk{UID: fmt.Sprintf("uid-%x", sum[:12]), SHA256: sum, Size: size, Backend: "disk"}
	if inline {
		c.Backend, c.UID, c.Data = meta.InlineBackend, fmt.Sprintf("inline-%x", sum[:12]), make([]byte, size)
		copy(c.Data, seed[:])
	}
	return meta.Object{Bucket: "bench", Key: fmt.Sprintf("k/%05d", i%keys), Size: size, ETag: fmt.Sprintf("%x", sum[:16]),
		ContentType: "application/octet-stream", ModTime: time.Now(), Owner: "ak", Scope: "ak",
		Manifest: []meta.Extent{{Length: size, Chunk: c, NewChunkScope: "ak"}}}
}
