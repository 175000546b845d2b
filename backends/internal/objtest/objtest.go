// Package objtest is the storage core of the vendor test servers (backends/cos/costest,
// backends/oss/osstest): in-memory buckets, objects and multipart uploads, byte ranges,
// listings, a fault injector, and Front, the object requests' HTTP handling both vendors
// share. The vendor packages put each one's request signatures, listings and error XML
// in front of it. RunFaults (faults.go) is the fault-injection
// test table that the s3, cos and oss tests all run. Test code only.
package objtest

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors the core reports; each vendor front end turns them into its own codes.
var (
	ErrNoSuchBucket      = errors.New("NoSuchBucket")
	ErrNoSuchKey         = errors.New("NoSuchKey")
	ErrNoSuchUpload      = errors.New("NoSuchUpload")
	ErrInvalidPart       = errors.New("InvalidPart")
	ErrInvalidPartOrder  = errors.New("InvalidPartOrder")
	ErrEntityTooSmall    = errors.New("EntityTooSmall")
	ErrInvalidRange      = errors.New("InvalidRange")
	ErrMalformedPartList = errors.New("MalformedXML")
)

// CRC64 is the CRC-64/ECMA-182 both vendors report for objects and parts.
func CRC64(b []byte) uint64 { return crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)) }

// Object is a stored object. Objects are immutable once stored (a Put replaces the
// pointer), so a reader holding one never sees it change.
type Object struct {
	Key      string
	Data     []byte
	Meta     map[string]string // user metadata, lower-case names without the vendor prefix
	ETag     string            // with quotes
	Modified time.Time
	CRC64    uint64
}

type part struct {
	data []byte
	etag string
}

type upload struct {
	key   string
	meta  map[string]string
	parts map[int]part
}

type bucket struct {
	objects map[string]*Object
	uploads map[string]*upload
}

// Store holds buckets in memory.
type Store struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

// NewStore returns a store with the named buckets.
func NewStore(buckets ...string) *Store {
	s := &Store{buckets: map[string]*bucket{}}
	for _, b := range buckets {
		s.buckets[b] = &bucket{objects: map[string]*Object{}, uploads: map[string]*upload{}}
	}
	return s
}

func (s *Store) bucket(name string) (*bucket, error) {
	b, ok := s.buckets[name]
	if !ok {
		return nil, ErrNoSuchBucket
	}
	return b, nil
}

// HasBucket reports whether the bucket exists.
func (s *Store) HasBucket(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.buckets[name]
	return ok
}

func etagOf(data []byte) string {
	sum := md5.Sum(data)
	return `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
}

// Put stores an object.
func (s *Store) Put(bucketName, key string, data []byte, meta map[string]string) (*Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return nil, err
	}
	o := &Object{Key: key, Data: data, Meta: meta, ETag: etagOf(data), Modified: time.Now().UTC(), CRC64: CRC64(data)}
	b.objects[key] = o
	return o, nil
}

// Get returns an object.
func (s *Store) Get(bucketName, key string) (*Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return nil, err
	}
	o, ok := b.objects[key]
	if !ok {
		return nil, ErrNoSuchKey
	}
	return o, nil
}

// Delete removes an object; a missing one is not an error (as on both vendors).
func (s *Store) Delete(bucketName, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return err
	}
	delete(b.objects, key)
	return nil
}

// Keys lists every object key of a bucket (for tests' assertions).
func (s *Store) Keys(bucketName string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	if b, ok := s.buckets[bucketName]; ok {
		for k := range b.objects {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Uploads counts the multipart uploads in progress in a bucket.
func (s *Store) Uploads(bucketName string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b, ok := s.buckets[bucketName]; ok {
		return len(b.uploads)
	}
	return 0
}

// Listing is one page of a bucket listing.
type Listing struct {
	Objects        []*Object
	CommonPrefixes []string
	Truncated      bool
	NextMarker     string
}

// List serves one page of keys > marker with the prefix, grouping by delimiter.
func (s *Store) List(bucketName, prefix, delimiter, marker string, maxKeys int) (Listing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return Listing{}, err
	}
	if maxKeys <= 0 || maxKeys > 1000 {
		maxKeys = 1000
	}
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) && k > marker {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var l Listing
	seen := map[string]bool{}
	for _, k := range keys {
		entry := k
		isPrefix := false
		if delimiter != "" {
			if i := strings.Index(k[len(prefix):], delimiter); i >= 0 {
				entry, isPrefix = k[:len(prefix)+i+len(delimiter)], true
				if seen[entry] || entry <= marker {
					continue
				}
			}
		}
		if len(l.Objects)+len(l.CommonPrefixes) == maxKeys {
			l.Truncated = true
			break
		}
		if isPrefix {
			seen[entry] = true
			l.CommonPrefixes = append(l.CommonPrefixes, entry)
		} else {
			l.Objects = append(l.Objects, b.objects[k])
		}
		l.NextMarker = entry
	}
	if !l.Truncated {
		l.NextMarker = ""
	}
	return l, nil
}

// Initiate starts a multipart upload.
func (s *Store) Initiate(bucketName, key string, meta map[string]string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return "", err
	}
	var id [12]byte
	_, _ = rand.Read(id[:])
	uid := hex.EncodeToString(id[:])
	b.uploads[uid] = &upload{key: key, meta: meta, parts: map[int]part{}}
	return uid, nil
}

// UploadPart stores a part and returns its ETag (with quotes).
func (s *Store) UploadPart(bucketName, key, id string, num int, data []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return "", err
	}
	u, ok := b.uploads[id]
	if !ok || u.key != key {
		return "", ErrNoSuchUpload
	}
	if num < 1 || num > 10000 {
		return "", fmt.Errorf("part number %d: %w", num, ErrInvalidPart)
	}
	p := part{data: data, etag: etagOf(data)}
	u.parts[num] = p
	return p.etag, nil
}

// PartRef names a part in a complete request.
type PartRef struct {
	Number int
	ETag   string
}

// Complete assembles the listed parts into the object. Every part but the last must be
// at least minPart bytes.
func (s *Store) Complete(bucketName, key, id string, refs []PartRef, minPart int) (*Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return nil, err
	}
	u, ok := b.uploads[id]
	if !ok || u.key != key {
		return nil, ErrNoSuchUpload
	}
	if len(refs) == 0 {
		return nil, ErrMalformedPartList
	}
	var data []byte
	for i, r := range refs {
		if i > 0 && r.Number <= refs[i-1].Number {
			return nil, ErrInvalidPartOrder
		}
		p, ok := u.parts[r.Number]
		if !ok || strings.Trim(r.ETag, `"`) != strings.Trim(p.etag, `"`) {
			return nil, fmt.Errorf("part %d: %w", r.Number, ErrInvalidPart)
		}
		if i < len(refs)-1 && len(p.data) < minPart {
			return nil, fmt.Errorf("part %d has %d bytes: %w", r.Number, len(p.data), ErrEntityTooSmall)
		}
		data = append(data, p.data...)
	}
	o := &Object{Key: key, Data: data, Meta: u.meta, ETag: fmt.Sprintf(`"%s-%d"`, strings.Trim(etagOf(data), `"`), len(refs)),
		Modified: time.Now().UTC(), CRC64: CRC64(data)}
	b.objects[key] = o
	delete(b.uploads, id)
	return o, nil
}

// Abort drops an upload.
func (s *Store) Abort(bucketName, key, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(bucketName)
	if err != nil {
		return err
	}
	u, ok := b.uploads[id]
	if !ok || u.key != key {
		return ErrNoSuchUpload
	}
	delete(b.uploads, id)
	return nil
}

// ParseRange parses a single "bytes=a-b", "bytes=a-" or "bytes=-n" range against size.
// ok is false when the header is absent or not a single byte range (served whole, as
// both vendors do); ErrInvalidRange when it cannot be satisfied. The end is clamped to
// the object, as S3, COS and OSS do.
func ParseRange(h string, size int64) (start, end int64, ok bool, err error) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	a, b, found := strings.Cut(spec, "-")
	if !found {
		return 0, 0, false, nil
	}
	if a == "" { // suffix
		n, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || n <= 0 {
			return 0, 0, false, nil
		}
		if size == 0 {
			return 0, 0, false, ErrInvalidRange
		}
		return max(size-n, 0), size - 1, true, nil
	}
	start, perr := strconv.ParseInt(a, 10, 64)
	if perr != nil || start < 0 {
		return 0, 0, false, nil
	}
	end = size - 1
	if b != "" {
		if end, perr = strconv.ParseInt(b, 10, 64); perr != nil || end < start {
			return 0, 0, false, nil
		}
	}
	if start >= size {
		return 0, 0, false, ErrInvalidRange
	}
	return start, min(end, size-1), true, nil
}

// ---- fault injection ----

// Fault decides what the server does with one request: true means it answered.
type Fault func(w http.ResponseWriter, r *http.Request) bool

// Faults is a switchable fault injector and request counter for a test server.
type Faults struct {
	fault    atomic.Pointer[Fault]
	requests atomic.Int64
	// Release is closed when the server shuts down, to free stalled handlers.
	Release chan struct{}
}

// NewFaults returns an injector with nothing injected.
func NewFaults() *Faults { return &Faults{Release: make(chan struct{})} }

// Set injects fn (nil clears).
func (f *Faults) Set(fn Fault) {
	if fn == nil {
		f.fault.Store(nil)
		return
	}
	f.fault.Store(&fn)
}

// Requests counts the requests served so far.
func (f *Faults) Requests() int64 { return f.requests.Load() }

// Intercept counts r and applies the injected fault; true means the request was answered.
func (f *Faults) Intercept(w http.ResponseWriter, r *http.Request) bool {
	f.requests.Add(1)
	if fp := f.fault.Load(); fp != nil {
		return (*fp)(w, r)
	}
	return false
}

// Times applies fn to the first n requests only.
func Times(n int64, fn Fault) Fault {
	var seen atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) bool {
		if seen.Add(1) > n {
			return false
		}
		return fn(w, r)
	}
}

// Only applies fn to requests with the given method.
func Only(method string, fn Fault) Fault {
	return func(w http.ResponseWriter, r *http.Request) bool {
		return r.Method == method && fn(w, r)
	}
}
