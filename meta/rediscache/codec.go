package rediscache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"time"

	"s3proxy/meta"
)

// Cached values are a small hand-rolled binary format rather than JSON or gob: a
// manifest of ten thousand extents is a few tens of kilobytes of varints instead of
// half a megabyte of field names, and decoding it allocates little. The first byte says
// what the value is; an unknown tag (a value written by a newer release) is a miss.
const (
	tagNotFound byte = 0x01 // a cached "does not exist" answer
	tagBucket   byte = 0x11
	tagObject   byte = 0x12
	// tagObjectV is tagObject followed by a version id (an object of a versioned bucket):
	// the null version keeps tagObject, which a release before versioning reads alike.
	tagObjectV byte = 0x15
	// tagObjectIDs prefixes an object value with the ids of its manifest's distinct
	// chunks in ASCII ("C12,15;" then the tagObject value): the read script follows them
	// and returns the chunk rows in the same round trip.
	tagObjectIDs byte = 'C'
	// tagChunk was 0x13 before chunks could be inline (Data): a value without the
	// inline bytes must read as a miss, not as an inline chunk without content.
	tagChunk byte = 0x14
)

var errCodec = errors.New("rediscache: malformed cached value")

type encoder struct{ b []byte }

func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) bytes(p []byte)   { e.uvarint(uint64(len(p))); e.b = append(e.b, p...) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// time keeps nanoseconds since the epoch; the zero time is 0, as gormstore stores it.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.varint(0)
		return
	}
	e.varint(t.UnixNano())
}

// strMap writes keys sorted so equal maps encode to equal bytes.
func (e *encoder) strMap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCodec
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	if n == 0 {
		return nil
	}
	out := slices.Clone(d.b[:n])
	d.b = d.b[n:]
	return out
}

func (d *decoder) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) bool() bool {
	if len(d.b) == 0 {
		d.fail()
		return false
	}
	v := d.b[0] != 0
	d.b = d.b[1:]
	return v
}

func (d *decoder) time() time.Time {
	ns := d.varint()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// count reads a length and rejects one that cannot fit in what is left (each element
// takes at least one byte), so a corrupt value cannot make us allocate gigabytes.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) strMap() map[string]string {
	n := d.count()
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	for range n {
		k := d.str()
		m[k] = d.str()
	}
	return m
}

func (d *decoder) fixed(dst []byte) {
	if len(d.b) < len(dst) {
		d.fail()
		return
	}
	copy(dst, d.b)
	d.b = d.b[len(dst):]
}

func encodeBucket(b meta.Bucket) []byte {
	e := encoder{b: []byte{tagBucket}}
	e.str(b.Owner)
	e.str(b.Region)
	e.str(b.Backend)
	e.time(b.CreatedAt)
	return e.b
}

func decodeBucket(name string, v []byte) (meta.Bucket, error) {
	if len(v) == 0 || v[0] != tagBucket {
		return meta.Bucket{}, errCodec
	}
	d := decoder{b: v[1:]}
	b := meta.Bucket{Name: name, Owner: d.str(), Region: d.str(), Backend: d.str(), CreatedAt: d.time()}
	return b, d.err
}

// encodeObject stores the object and its manifest's extents, but not the extents' chunk
// rows: those are cached under their own keys so that a chunk's move or corruption mark
// invalidates one key instead of every manifest that uses it.
func encodeObject(o meta.Object) []byte {
	e := encoder{b: make([]byte, 0, 128+len(o.VersionID)+12*len(o.Manifest))}
	if o.VersionID != "" {
		e.b = append(e.b, tagObjectV)
		e.str(o.VersionID)
	} else {
		e.b = append(e.b, tagObject)
	}
	e.varint(o.Size)
	e.str(o.ETag)
	e.bytes(o.SHA256)
	e.str(o.ContentType)
	e.strMap(o.Headers)
	e.strMap(o.UserMeta)
	e.strMap(o.Checksums)
	e.str(o.ChecksumType)
	e.uvarint(uint64(len(o.Parts)))
	for _, p := range o.Parts {
		e.varint(int64(p.Number))
		e.varint(p.Size)
		e.str(p.ETag)
		e.strMap(p.Checksums)
		e.time(p.LastModified)
	}
	e.str(o.Owner)
	e.str(o.Scope)
	e.time(o.ModTime)
	e.uvarint(uint64(len(o.Manifest)))
	var prev int64
	for _, x := range o.Manifest {
		e.varint(int64(x.PartNumber))
		// Consecutive extents usually name neighbouring chunk ids: store the difference.
		e.varint(x.ChunkID - prev)
		prev = x.ChunkID
		e.varint(x.ChunkOffset)
		e.varint(x.Length)
	}
	return e.b
}

// maxFollowedChunks bounds the chunk ids an object value carries for the read script;
// an object with more distinct chunks is completed in a second round trip.
const maxFollowedChunks = 64

// encodeCachedObject is encodeObject, prefixed with the chunk ids the read script follows
// when there are few enough of them.
func encodeCachedObject(o meta.Object) []byte {
	ids, ok := followedChunkIDs(o.Manifest)
	if !ok || len(ids) == 0 {
		return encodeObject(o)
	}
	b := make([]byte, 0, 2+8*len(ids))
	b = append(b, tagObjectIDs)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, ';')
	return append(b, encodeObject(o)...)
}

// followedChunkIDs lists the manifest's chunk ids, each once, in order of first use, or
// reports false when there are more than maxFollowedChunks.
func followedChunkIDs(m []meta.Extent) ([]int64, bool) {
	var ids []int64
	for _, x := range m {
		if !slices.Contains(ids, x.ChunkID) {
			if len(ids) == maxFollowedChunks {
				return nil, false
			}
			ids = append(ids, x.ChunkID)
		}
	}
	return ids, true
}

func decodeObject(bucket, key string, v []byte) (meta.Object, error) {
	if len(v) > 0 && v[0] == tagObjectIDs {
		i := bytes.IndexByte(v, ';')
		if i < 0 {
			return meta.Object{}, errCodec
		}
		v = v[i+1:]
	}
	if len(v) == 0 || v[0] != tagObject && v[0] != tagObjectV {
		return meta.Object{}, errCodec
	}
	d := decoder{b: v[1:]}
	o := meta.Object{Bucket: bucket, Key: key}
	if v[0] == tagObjectV {
		o.VersionID = d.str()
	}
	o.Size = d.varint()
	o.ETag = d.str()
	o.SHA256 = d.bytes()
	o.ContentType = d.str()
	o.Headers = d.strMap()
	o.UserMeta = d.strMap()
	o.Checksums = d.strMap()
	o.ChecksumType = d.str()
	if n := d.count(); n > 0 {
		o.Parts = make([]meta.Part, n)
		for i := range o.Parts {
			p := &o.Parts[i]
			p.Number = int(d.varint())
			p.Size = d.varint()
			p.ETag = d.str()
			p.Checksums = d.strMap()
			p.LastModified = d.time()
		}
	}
	o.Owner = d.str()
	o.Scope = d.str()
	o.ModTime = d.time()
	if n := d.count(); n > 0 {
		o.Manifest = make([]meta.Extent, n)
		var prev int64
		for i := range o.Manifest {
			x := &o.Manifest[i]
			x.PartNumber = int(d.varint())
			x.ChunkID = prev + d.varint()
			prev = x.ChunkID
			x.ChunkOffset = d.varint()
			x.Length = d.varint()
		}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCodec
	}
	return o, d.err
}

// encodeChunk keeps what locates and identifies the bytes. Refs and ZeroSince are left
// out on purpose: every object write changes them, and tracking that here would mean
// invalidating chunk keys on writes whose replaced manifests the cache never sees.
func encodeChunk(c meta.Chunk) []byte {
	e := encoder{b: make([]byte, 0, 128+len(c.Data))}
	e.b = append(e.b, tagChunk)
	e.varint(c.ID)
	e.str(c.UID)
	e.b = append(e.b, c.SHA256[:]...)
	e.b = append(e.b, c.MD5[:]...)
	e.varint(c.Size)
	e.str(c.Backend)
	e.str(c.Node)
	e.strMap(c.Checksums)
	e.bool(c.Corrupt)
	e.time(c.CreatedAt)
	e.bytes(c.Data)
	return e.b
}

func decodeChunk(v []byte) (meta.Chunk, error) {
	if len(v) == 0 || v[0] != tagChunk {
		return meta.Chunk{}, errCodec
	}
	d := decoder{b: v[1:]}
	var c meta.Chunk
	c.ID = d.varint()
	c.UID = d.str()
	d.fixed(c.SHA256[:])
	d.fixed(c.MD5[:])
	c.Size = d.varint()
	c.Backend = d.str()
	c.Node = d.str()
	c.Checksums = d.strMap()
	c.Corrupt = d.bool()
	c.CreatedAt = d.time()
	c.Data = d.bytes()
	if c.Backend != meta.InlineBackend {
		c.Data = nil
	} else if c.Data == nil {
		c.Data = []byte{}
	}
	if d.err == nil && len(d.b) != 0 {
		d.err = errCodec
	}
	return c, d.err
}
