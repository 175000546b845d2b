package rediscache

import (
	"crypto/sha256"
	"reflect"
	"strings"
	"testing"
	"time"

	"s3proxy/meta"
)

func TestCodecRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 123456789).UTC()
	objects := []meta.Object{
		{Bucket: "b", Key: "empty"},
		{Bucket: "b", Key: "dir/ключ", Size: 9, ETag: "abc-2", SHA256: make([]byte, 32), ContentType: "text/plain",
			Headers: map[string]string{"Cache-Control": "no-cache"}, UserMeta: map[string]string{"ü": "x", "a": ""},
			Checksums: map[string]string{"CRC32": "AAAAAA=="}, ChecksumType: "COMPOSITE",
			Parts: []meta.Part{{Number: 1, Size: 4, ETag: "p1", Checksums: map[string]string{"CRC32": "AQID"}, LastModified: now}, {Number: 2, Size: 5}},
			Owner: "ak", Scope: "ak", ModTime: now,
			Manifest: []meta.Extent{{PartNumber: 1, ChunkID: 900, ChunkOffset: 2, Length: 4}, {PartNumber: 2, ChunkID: 7, Length: 5}}},
	}
	for _, o := range objects {
		got, err := decodeObject(o.Bucket, o.Key, encodeObject(o))
		if err != nil || !reflect.DeepEqual(got, o) {
			t.Errorf("object round trip:\n got %+v, %v\nwant %+v", got, err, o)
		}
	}
	zs := now
	chunks := []meta.Chunk{
		{ID: 1},
		{ID: 1 << 40, UID: "u", SHA256: sha256.Sum256([]byte("x")), MD5: [16]byte{1, 2}, Size: 5 << 30, Backend: "disk", Node: "n1",
			Checksums: map[string]string{"CRC64NVME": "x"}, Corrupt: true, CreatedAt: now},
		{ID: 3, UID: "i", Size: 5, Backend: meta.InlineBackend, Data: []byte("hello")},
		{ID: 4, UID: "e", Backend: meta.InlineBackend, Data: []byte{}},
	}
	for _, c := range chunks {
		got, err := decodeChunk(encodeChunk(c))
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("chunk round trip:\n got %+v, %v\nwant %+v", got, err, c)
		}
	}
	// Refs and ZeroSince are not kept.
	if got, _ := decodeChunk(encodeChunk(meta.Chunk{ID: 2, Refs: 3, ZeroSince: &zs})); got.Refs != 0 || got.ZeroSince != nil {
		t.Errorf("chunk kept refs: %+v", got)
	}
	b := meta.Bucket{Name: "b", Owner: "o", Region: "r", Backend: "x", CreatedAt: now}
	if got, err := decodeBucket("b", encodeBucket(b)); err != nil || got != b {
		t.Errorf("bucket round trip = %+v, %v", got, err)
	}
}

func TestCodecRejectsMalformed(t *testing.T) {
	full := encodeObject(meta.Object{Bucket: "b", Key: "k", ETag: "e", Size: 1, UserMeta: map[string]string{"a": "b"},
		Manifest: []meta.Extent{{ChunkID: 1, Length: 1}}})
	for _, tc := range []struct {
		name string
		v    []byte
	}{
		{"empty", nil},
		{"wrong tag", append([]byte{tagChunk}, full[1:]...)},
		{"truncated", full[:len(full)-1]},
		{"trailing bytes", append(append([]byte{}, full...), 0)},
		{"huge count", []byte{tagObject, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}},
	} {
		if _, err := decodeObject("b", "k", tc.v); err == nil {
			t.Errorf("%s: decodeObject accepted %x", tc.name, tc.v)
		}
		if _, err := decodeChunk(tc.v); err == nil {
			t.Errorf("%s: decodeChunk accepted %x", tc.name, tc.v)
		}
	}
}

// An object value carries its distinct chunk ids for the read script, and still decodes.
func TestCachedObjectIDs(t *testing.T) {
	o := meta.Object{Bucket: "b", Key: "k", Size: 9, ETag: "e", Manifest: []meta.Extent{
		{ChunkID: 12, Length: 3}, {ChunkID: 7, Length: 3}, {ChunkID: 12, Length: 3}}}
	v := encodeCachedObject(o)
	if want := "C12,7;"; !strings.HasPrefix(string(v), want) {
		t.Fatalf("value starts %q, want %q", v[:min(len(v), 8)], want)
	}
	got, err := decodeObject("b", "k", v)
	if err != nil || got.ETag != "e" || len(got.Manifest) != 3 || got.Manifest[1].ChunkID != 7 {
		t.Fatalf("decode = %+v, %v", got, err)
	}
	// Too many chunks to follow: the plain value.
	for i := range maxFollowedChunks + 1 {
		o.Manifest = append(o.Manifest, meta.Extent{ChunkID: int64(100 + i), Length: 1})
		o.Size++
	}
	if v := encodeCachedObject(o); v[0] != tagObject {
		t.Fatalf("%d chunks: value tag %#x", maxFollowedChunks+2, v[0])
	}
}
