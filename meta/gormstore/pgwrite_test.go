package gormstore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"s3proxy/meta"
)

// TestPutObjectPGOne: the one-statement write applies in the common cases and declines
// (errPGFallback, nothing committed) in every other, leaving it to the transactional
// path; the conformance suite checks what PutObject does as a whole.
func TestPutObjectPGOne(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	s := openT(t, pgBase(), WithSchema(pgSchema(t)))
	if err := s.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o"}); err != nil {
		t.Fatal(err)
	}
	n := 0
	newContent := func() meta.Extent {
		n++
		data := []byte(fmt.Sprintf("content %d", n))
		return meta.Extent{PartNumber: 1, Length: int64(len(data)), NewChunkScope: "s",
			Chunk: meta.Chunk{UID: fmt.Sprintf("uid-%d", n), SHA256: sha256.Sum256(data), Size: int64(len(data)),
				Backend: meta.InlineBackend, Data: data}}
	}
	object := func(key, etag string, m ...meta.Extent) meta.Object {
		o := meta.Object{Bucket: "b", Key: key, ETag: etag, Owner: "o", Scope: "s", Manifest: m}
		for _, e := range m {
			o.Size += e.Length
		}
		return o
	}
	first := newContent()
	tests := []struct {
		name    string
		o       meta.Object
		cond    meta.WriteCondition
		applied bool
		etag    string // current ETag of the key afterwards ("" for absent)
	}{
		{"new key, new content", object("k", "e1", first), meta.WriteCondition{IfNoneMatchStar: true}, true, "e1"},
		{"overwrite, new content", object("k", "e2", newContent()), meta.WriteCondition{IfMatch: `"e1"`}, true, "e2"},
		{"empty object", object("empty", "e0"), meta.WriteCondition{}, true, "e0"},
		{"known content", object("k", "e3", first), meta.WriteCondition{}, false, "e2"},
		{"If-None-Match on a key that exists", object("k", "e4", newContent()), meta.WriteCondition{IfNoneMatchStar: true}, false, "e2"},
		{"If-Match that differs", object("k", "e5", newContent()), meta.WriteCondition{IfMatch: "e1"}, false, "e2"},
		{"If-Match on a missing key", object("nokey", "e6", newContent()), meta.WriteCondition{IfMatch: "*"}, false, ""},
		{"missing bucket", func() meta.Object { o := object("k", "e7", newContent()); o.Bucket = "nob"; return o }(), meta.WriteCondition{}, false, ""},
	}
	for _, tt := range tests {
		before, _ := s.Stats(ctx)
		_, c, err := s.putObjectPGOne(ctx, tt.o, tt.cond)
		switch {
		case tt.applied && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.applied && !errors.Is(err, errPGFallback):
			t.Errorf("%s: %v, want errPGFallback", tt.name, err)
		case tt.applied && len(tt.o.Manifest) > 0 && (c.ID == 0 || c.Refs != 1):
			t.Errorf("%s: new chunk %+v", tt.name, c)
		}
		got, err := s.GetObject(ctx, tt.o.Bucket, tt.o.Key)
		if tt.etag == "" && !errors.Is(err, meta.ErrNotFound) || tt.etag != "" && (err != nil || got.ETag != tt.etag) {
			t.Errorf("%s: afterwards %q, %v; want %q", tt.name, got.ETag, err, tt.etag)
		}
		if !tt.applied {
			// Nothing of a declined statement stays: no chunk row.
			if after, _ := s.Stats(ctx); after.Chunks != before.Chunks {
				t.Errorf("%s: chunks %d → %d", tt.name, before.Chunks, after.Chunks)
			}
		}
	}
	// The replaced content's chunk is released, the new one held once.
	m, err := s.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []struct {
		sha  [32]byte
		refs int64
	}{{first.Chunk.SHA256, 0}, {m.Manifest[0].Chunk.SHA256, 1}} {
		c, err := s.FindChunk(ctx, want.sha, "s")
		if err != nil || c.Refs != want.refs {
			t.Errorf("chunk %x: refs %d, %v; want %d", want.sha[:4], c.Refs, err, want.refs)
		}
	}
}

// TestDeleteObjectPGOne: the one-statement delete applies to an existing key whose
// condition holds, reports a missing key, and declines everything else.
func TestDeleteObjectPGOne(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	s := openT(t, pgBase(), WithSchema(pgSchema(t)))
	if err := s.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o"}); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.InsertChunk(ctx, meta.Chunk{UID: "u", SHA256: sha256.Sum256([]byte("x")), Size: 1, Backend: "local"}, "s")
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, etag string) {
		t.Helper()
		o := meta.Object{Bucket: "b", Key: key, ETag: etag, Size: 2, Owner: "o", Scope: "s",
			Manifest: []meta.Extent{{PartNumber: 1, ChunkID: c.ID, Length: 1}, {PartNumber: 1, ChunkID: c.ID, Length: 1}}}
		if _, err := s.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
			t.Fatal(err)
		}
	}
	put("k", "e1")
	put("k2", "e2")
	tests := []struct {
		name    string
		key     string
		cond    meta.WriteCondition
		applied bool
	}{
		{"If-Match that differs", "k", meta.WriteCondition{IfMatch: "nope"}, false},
		{"missing key", "nokey", meta.WriteCondition{}, false},
		{"missing key, If-Match", "nokey", meta.WriteCondition{IfMatch: "*"}, false},
		{"If-Match that holds", "k", meta.WriteCondition{IfMatch: `"e1"`}, true},
		{"unconditional", "k2", meta.WriteCondition{}, true},
	}
	for _, tt := range tests {
		o, err := s.deleteObjectPGOne(ctx, "b", tt.key, tt.cond)
		switch {
		case tt.applied && (err != nil || o.Key != tt.key):
			t.Errorf("%s: %+v, %v", tt.name, o, err)
		case tt.key == "nokey" && !errors.Is(err, meta.ErrNotFound):
			t.Errorf("%s: %v, want not found", tt.name, err)
		case !tt.applied && tt.key != "nokey" && !errors.Is(err, errPGFallback):
			t.Errorf("%s: %v, want errPGFallback", tt.name, err)
		}
		_, err = s.GetObject(ctx, "b", tt.key)
		if gone := errors.Is(err, meta.ErrNotFound); gone != (tt.applied || tt.key == "nokey") {
			t.Errorf("%s: afterwards GetObject: %v", tt.name, err)
		}
	}
	// Both objects held the chunk twice; both are gone.
	if got, err := s.GetChunk(ctx, c.ID); err != nil || got.Refs != 0 {
		t.Errorf("chunk refs %d, %v; want 0", got.Refs, err)
	}
}
