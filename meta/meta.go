// Package meta defines the MetaStore interface: buckets, objects and their manifests,
// the chunk index with reference counts, multipart uploads, a durable job queue and
// cluster nodes. Implementations live in sub-packages (gormstore: SQLite or PostgreSQL;
// rediscache: a caching decorator). It imports nothing of ours and knows nothing of S3
// wire formats: it stores what translate gives it.
//
// Reference counting is owned here, inside the same transaction as the change that
// causes it, so that a manifest, the object it replaces and the counts change together
// or not at all.
package meta

import (
	"context"
	"errors"
	"time"
)

// Error kinds; implementations wrap native errors so errors.Is works through %w.
var (
	ErrNotFound           = errors.New("not found")
	ErrAlreadyExists      = errors.New("already exists")
	ErrPreconditionFailed = errors.New("precondition failed")
	ErrNotEmpty           = errors.New("not empty")
	ErrInvalid            = errors.New("invalid argument")
	ErrUnavailable        = errors.New("metadata store unavailable")
	ErrConflict           = errors.New("conflicting concurrent change")
	ErrInternal           = errors.New("metadata store internal error")
	// ErrCorruptChunk: PutObject was given a new chunk (meta.Extent.Chunk) whose content
	// is indexed as a copy marked corrupt; the caller restores that copy from its bytes
	// (MoveChunk, MarkChunkCorrupt) and writes again.
	ErrCorruptChunk = errors.New("content indexed as a chunk marked corrupt")
)

// Bucket is a bucket and its owner (the access key that created it).
type Bucket struct {
	Name      string
	Owner     string
	Region    string
	Backend   string // placement: the backend new chunks of this bucket go to ("" = default)
	CreatedAt time.Time
}

// InlineBackend is the Backend of chunks kept in the metadata store (Chunk.Data)
// instead of a blob store. It is not a name a configured backend can take.
const InlineBackend = "@inline"

// Chunk is an entry of the chunk index: content stored once in a backend, or inline in
// the index itself.
type Chunk struct {
	ID      int64  // assigned by the store
	UID     string // the key in the backend
	SHA256  [32]byte
	MD5     [16]byte
	Size    int64
	Backend string // backend name
	Node    string // node id holding it, for node-local backends ("" when shared)
	Refs    int64
	// Checksums holds additional checksums (algorithm -> base64) computed for this
	// content, so an instant upload can prove a declared CRC without the body.
	// InsertChunk merges new algorithms into an existing chunk's set.
	Checksums map[string]string
	// Data is the content of an inline chunk (Backend == InlineBackend): small chunks
	// live in the metadata store itself, in their index row, and are read with the
	// manifest instead of from a backend. Nil for every other chunk. Read-only: caches
	// hand the same bytes to every reader.
	Data []byte
	// Corrupt marks a chunk found damaged by verify with no copy to repair it from:
	// reads of objects using it fail cleanly instead of returning wrong bytes.
	Corrupt   bool
	CreatedAt time.Time
	// ZeroSince is when Refs last dropped to (or started at) zero; GC collects chunks
	// whose ZeroSince is older than its grace period.
	ZeroSince *time.Time
}

// Extent is one piece of an object's manifest: Length bytes of a chunk starting at
// ChunkOffset. Extents are stored in order; an object's bytes are their concatenation.
type Extent struct {
	PartNumber  int // multipart part this extent belongs to (0 for single-part objects)
	ChunkID     int64
	ChunkOffset int64
	Length      int64
	// Filled by reads (joined from the chunk index). Ignored on writes, except in an
	// extent with ChunkID 0 given to PutObject: there it is a new chunk (durably written,
	// or inline with its Data) that PutObject indexes in its own transaction, as
	// InsertChunk would with scope NewChunkScope, or finds already indexed (a copy marked
	// corrupt fails the write with ErrCorruptChunk). On success PutObject writes the
	// chunk the index holds for the content back into the caller's extent (ChunkID and
	// Chunk): a UID other than the one given means the caller's copy is not needed.
	Chunk Chunk
	// NewChunkScope is the dedup scope recorded for Chunk (ChunkID 0 only).
	NewChunkScope string
}

// Part describes one part of a completed multipart object (for partNumber reads and
// composite checksums) or of an upload in progress.
type Part struct {
	Number    int
	Size      int64
	ETag      string // hex MD5 of the part, no quotes
	Checksums map[string]string
	// Extents are the part's bytes (one extent for an uploaded part; several for
	// UploadPartCopy). Only used for uploads in progress.
	Extents      []Extent
	LastModified time.Time
}

// Object is a version of a key: the current one, unless read by version.
type Object struct {
	Bucket string
	Key    string
	// VersionID names the version in a bucket that has had versioning enabled ("" is
	// the null version: every object of a bucket never versioned, and those written
	// while versioning is suspended). The writer chooses it.
	VersionID string
	// DeleteMarker is set on the versions GetObjectVersion and ListObjectVersions return
	// for a delete marker (a version without content, made by a DELETE).
	DeleteMarker bool
	// IsLatest is set by ListObjectVersions on each key's newest version.
	IsLatest bool
	Size     int64
	ETag     string // without quotes: hex MD5, or md5-of-md5s "-N" for multipart
	SHA256   []byte // whole-content SHA-256 when known (nil until the hash job ran)
	// MD5 is the whole-content MD5 of a multipart object once the hash job computed it
	// (single-part objects have it as their ETag); an instant single PutObject of the
	// same content needs it for its ETag.
	MD5          []byte
	ContentType  string
	Headers      map[string]string // Content-Encoding, Content-Disposition, Cache-Control, Expires, Content-Language
	UserMeta     map[string]string // x-amz-meta-* without the prefix, keys lower-case
	Checksums    map[string]string // algorithm (CRC32, CRC32C, CRC64NVME, SHA1, SHA256) -> base64
	ChecksumType string            // "", FULL_OBJECT or COMPOSITE
	Parts        []Part            // for multipart objects: number, size, etag, checksums (no extents)
	Owner        string            // access key that wrote it
	Scope        string            // dedup scope of the writer (for instant upload lookups)
	ModTime      time.Time
	Manifest     []Extent // filled by GetObject; not by listings
}

// InlineBytes sums the inline chunk bytes (Chunk.Data) of o's manifest: o.Size when all
// of its content lives in the metadata store.
func (o Object) InlineBytes() int64 {
	var n int64
	for _, e := range o.Manifest {
		n += int64(len(e.Chunk.Data))
	}
	return n
}

// NewChunksOnly reports whether every extent of o carries a chunk for PutObject to index
// (ChunkID 0): after the write, the manifest's chunk rows are then the ones the store
// returned, as current as the write. True for an empty manifest.
func (o Object) NewChunksOnly() bool {
	for _, e := range o.Manifest {
		if e.ChunkID != 0 {
			return false
		}
	}
	return true
}

// WriteCondition makes PutObject/DeleteObject conditional, checked atomically with
// the write against the current version.
type WriteCondition struct {
	IfNoneMatchStar bool   // fail with ErrPreconditionFailed if the key exists
	IfMatch         string // fail with ErrPreconditionFailed unless the current ETag equals this (no quotes); ErrNotFound if missing
	// IfModTime, when set, fails with ErrPreconditionFailed unless the current version
	// was last modified at exactly this instant (as stored: to the nanosecond), and with
	// ErrNotFound if the key is missing. With IfMatch it pins the version a reader saw,
	// which the ETag alone does not: an overwrite with the same content keeps the ETag.
	// (Lifecycle expiration deletes only the version it judged expired.)
	IfModTime time.Time
	// IfHeaders, when not nil, fails with ErrPreconditionFailed unless each named stored
	// header (Object.Headers) has exactly this value, "" meaning absent; ErrNotFound if the
	// key is missing. It pins what a reader judged among the headers that change without
	// a new ModTime (an object's tags).
	IfHeaders map[string]string
	// Versioning is how the write treats the version it replaces (the bucket's
	// versioning state, as the caller knows it).
	Versioning Versioning
}

// Versioning is a bucket's versioning state as a write applies it.
type Versioning int

const (
	// Unversioned: the replaced version is dropped (a bucket never versioned). A write
	// in this mode also serves an in-place rewrite of the current version (new tags):
	// the object keeps its VersionID.
	Unversioned Versioning = iota
	// VersionsEnabled: the replaced version is kept as a noncurrent version.
	VersionsEnabled
	// VersionsSuspended: a write makes the null version; the null version it replaces
	// (current or not) is dropped, any other current version kept as noncurrent.
	VersionsSuspended
)

// PinsVersion reports whether c names the version beyond its ETag (IfModTime,
// IfHeaders): stores check such a condition on the locked row, never in a shortcut.
func (c WriteCondition) PinsVersion() bool { return !c.IfModTime.IsZero() || c.IfHeaders != nil }

// ListQuery is one page of a bucket listing in key order (byte order, as S3).
type ListQuery struct {
	Prefix    string
	Delimiter string
	After     string // exclusive start: keys (and common prefixes) > After
	Limit     int    // max keys + common prefixes returned (1..1000)
}

// ListResult is one page. Truncated is true when more entries follow; NextAfter is the
// last key or common prefix returned (the next page's After).
type ListResult struct {
	Objects        []Object // key, size, ETag, content type, checksums, owner, ModTime only: no manifests, headers, user metadata or SHA-256
	CommonPrefixes []string
	Truncated      bool
	NextAfter      string
}

// VersionCondition makes a removal by version id conditional.
type VersionCondition struct {
	// OnlyNoncurrent spares the current version: lifecycle removes a version it judged
	// noncurrent, which may have become current meanwhile.
	OnlyNoncurrent bool
	// IfHeaders, when not nil, requires each named stored header to have exactly this
	// value ("" absent): the Object Lock state a caller judged the version deletable by.
	IfHeaders map[string]string
}

// VersionListQuery pages ListObjectVersions: keys in byte order, each key's versions
// newest first. KeyMarker and VersionIDMarker are exclusive: the page starts after that
// version (after every version of KeyMarker when VersionIDMarker is nil; "" is the
// null version). A VersionIDMarker that names no version of KeyMarker is ErrInvalid.
type VersionListQuery struct {
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker *string
	Limit           int // max versions + common prefixes returned (1..1000)
}

// VersionListResult is one page of versions (delete markers included, with
// DeleteMarker set; IsLatest on each key's newest). Versions carry what listings carry
// (no manifests, headers or user metadata).
type VersionListResult struct {
	Versions       []Object
	CommonPrefixes []string
	Truncated      bool
	NextKeyMarker  string
	// NextVersionIDMarker is the next page's VersionIDMarker: nil when the page ended
	// on a common prefix (or is the last).
	NextVersionIDMarker *string
}

// Upload is a multipart upload in progress.
type Upload struct {
	ID           string
	Bucket       string
	Key          string
	Owner        string
	Scope        string
	ContentType  string
	Headers      map[string]string
	UserMeta     map[string]string
	ChecksumAlgo string // requested checksum algorithm, "" if none
	ChecksumType string // COMPOSITE or FULL_OBJECT when an algorithm is set
	Initiated    time.Time
}

// UploadListQuery pages ListMultipartUploads (ordered by key, then initiation time/id).
type UploadListQuery struct {
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	Limit          int
}

// UploadListResult is one page of uploads.
type UploadListResult struct {
	Uploads            []Upload
	CommonPrefixes     []string
	Truncated          bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// Stats are the figures `s3proxy stats` prints.
type Stats struct {
	Objects      int64
	LogicalBytes int64 // sum of object sizes (current versions)
	// Versions counts noncurrent versions (delete markers apart), VersionBytes their
	// sizes: stored like objects, deduplicated like them.
	Versions      int64
	VersionBytes  int64
	DeleteMarkers int64
	Chunks        int64
	StoredBytes   int64            // sum of chunk sizes
	InlineChunks  int64            // chunks kept in the metadata store (InlineBackend)
	InlineBytes   int64            // their sizes: part of StoredBytes
	Uploads       int64            // multipart uploads in progress
	Jobs          map[string]int64 // job state -> count (pending, running, failed, done)
}

// Job is a durable background job (hashing a multipart object, aborting stale uploads…).
type Job struct {
	ID         int64
	Kind       string
	Payload    string
	State      string // pending, running, done, failed
	Attempts   int
	LastError  string
	RunAfter   time.Time
	LeaseUntil *time.Time
	UpdatedAt  time.Time
}

// BucketConfig is one configuration document of a bucket (its lifecycle rules, ...):
// text the caller encodes and decodes, at most one per bucket and kind, dropped with
// the bucket.
type BucketConfig struct {
	Bucket    string
	Kind      string
	Value     string
	UpdatedAt time.Time // set by the store
}

// Node is a registered cluster node.
type Node struct {
	ID        string
	Address   string // advertise address: host:port of its S3 listener, or https://host:port when it serves TLS
	Heartbeat time.Time
}

// MetaStore is the metadata store.
type MetaStore interface {
	// Buckets.
	CreateBucket(ctx context.Context, b Bucket) error // ErrAlreadyExists
	GetBucket(ctx context.Context, name string) (Bucket, error)
	ListBuckets(ctx context.Context) ([]Bucket, error)
	// DeleteBucket removes a bucket and its configurations: ErrNotEmpty if it holds
	// objects or versions (delete markers included). Its multipart uploads in progress are aborted in the same transaction
	// (AbortUpload's reference release), so a concurrent PutPart or CompleteUpload on one
	// of them either commits first (a part: released with the upload; an object:
	// ErrNotEmpty) or finds it gone (ErrNotFound).
	DeleteBucket(ctx context.Context, name string) error

	// Bucket configurations. GetBucketConfig returns ErrNotFound when the bucket has no
	// document of that kind (or does not exist). PutBucketConfig creates or replaces one
	// (ErrNotFound if the bucket does not exist, checked in the same transaction so that a
	// concurrent DeleteBucket never leaves one behind). DeleteBucketConfig removes one;
	// removing none is not an error. ListBucketConfigs pages the documents of one kind by
	// bucket name (> after), at most limit.
	GetBucketConfig(ctx context.Context, bucket, kind string) (BucketConfig, error)
	PutBucketConfig(ctx context.Context, c BucketConfig) error
	DeleteBucketConfig(ctx context.Context, bucket, kind string) error
	ListBucketConfigs(ctx context.Context, kind, after string, limit int) ([]BucketConfig, error)

	// Objects. GetObject returns the manifest with each extent's Chunk filled with what
	// locates and identifies its bytes (UID, Backend, Node, digests, Size, Corrupt). The
	// chunk's Refs and ZeroSince are not part of that contract (a cache in front serves
	// manifests without them): GetChunk is the authority on reference counts.
	GetObject(ctx context.Context, bucket, key string) (Object, error)
	// PutObject creates or replaces bucket/key with o in one transaction: it checks cond
	// against the current version, indexes the new inline chunks of extents with ChunkID 0
	// (see Extent.Chunk: one transaction for a small PUT), increments Refs of every chunk in o.Manifest (failing
	// with ErrConflict if one no longer exists: collected meanwhile), and releases the replaced object's
	// references. It returns the replaced object (without manifest) if there was one.
	PutObject(ctx context.Context, o Object, cond WriteCondition) (*Object, error)
	// DeleteObject removes bucket/key and releases its references; ErrNotFound if absent.
	DeleteObject(ctx context.Context, bucket, key string, cond WriteCondition) (Object, error)
	// Versions. A write with cond.Versioning other than Unversioned keeps the version it
	// replaces as a noncurrent version (see Versioning); GetObject and ListObjects see
	// current versions only, and a key whose newest version is a delete marker has none.
	//
	// GetObjectVersion returns one version by id ("" = the null version), current or not,
	// with its manifest; a delete marker comes back with DeleteMarker set. ErrNotFound if
	// the key has no such version.
	GetObjectVersion(ctx context.Context, bucket, key, versionID string) (Object, error)
	// DeleteObjectVersion removes one version for good and releases its references; when
	// it was the current version, the newest remaining one becomes current (unless it is
	// a delete marker). It returns the version removed; ErrNotFound if there is none.
	// opts make it conditional, checked on the locked version (ErrPreconditionFailed).
	DeleteObjectVersion(ctx context.Context, bucket, key, versionID string, opts VersionCondition) (Object, error)
	// PutDeleteMarker makes a delete marker (m: Bucket, Key, VersionID, Owner, ModTime)
	// the newest version of its key, keeping or dropping the current version as
	// cond.Versioning says (which must not be Unversioned); cond is checked against the
	// current version. It returns the version it replaced, if any.
	PutDeleteMarker(ctx context.Context, m Object, cond WriteCondition) (*Object, error)
	// SetVersionHeaders replaces the stored headers (Object.Headers: its tags among
	// them) of a noncurrent version, as a tagging request does. ErrNotFound if the key
	// has no such noncurrent version (a current one is rewritten with PutObject);
	// ErrPreconditionFailed unless each of ifHeaders (nil: no condition) has exactly
	// that value ("" absent).
	SetVersionHeaders(ctx context.Context, bucket, key, versionID string, headers, ifHeaders map[string]string) error
	// ListObjectVersions pages every version of every key, delete markers included.
	ListObjectVersions(ctx context.Context, bucket string, q VersionListQuery) (VersionListResult, error)
	// ListObjects serves one page from the (bucket, key) index without scanning the bucket:
	// with a delimiter, each common prefix is skipped by seeking past it.
	ListObjects(ctx context.Context, bucket string, q ListQuery) (ListResult, error)
	// SetObjectDigests records the whole-content SHA-256 (computed by a background job) and
	// MD5 (nil: keep the one recorded, if any), only if the object still has the given ETag
	// (which identifies the content it hashed): ErrPreconditionFailed if it changed,
	// ErrNotFound if it is gone.
	SetObjectDigests(ctx context.Context, bucket, key, etag string, sha256, md5 []byte) error
	// FindObjectBySHA256 finds any object whose whole content has this SHA-256 and whose
	// Scope equals scope ("" = any scope), with its manifest, for instant upload.
	FindObjectBySHA256(ctx context.Context, sum [32]byte, scope string) (Object, error)

	// Chunk index.
	// InsertChunk adds c to the index with Refs 0 and ZeroSince now, unless a chunk with the
	// same SHA-256 exists, in which case it returns that one and created=false (the caller
	// then deletes its own copy). In both cases scope is recorded as having uploaded the
	// content (for credential-scoped instant upload). An existing chunk with Refs 0 gets
	// ZeroSince reset to now, so a GC pass that listed it before this call cannot delete it
	// before the caller references it.
	InsertChunk(ctx context.Context, c Chunk, scope string) (got Chunk, created bool, err error)
	// FindChunk returns the chunk with this SHA-256 that scope has uploaded ("" = any scope).
	FindChunk(ctx context.Context, sum [32]byte, scope string) (Chunk, error)
	GetChunk(ctx context.Context, id int64) (Chunk, error)
	// ChunkByUID looks a chunk up by its backend key (for orphan sweeps).
	ChunkByUID(ctx context.Context, uid string) (Chunk, error)
	// ListChunks pages the chunk index by id (> afterID), optionally only chunks of one backend
	// or only those referenced by objects in one bucket.
	ListChunks(ctx context.Context, q ChunkQuery) ([]Chunk, error)
	// GCCandidates returns chunks with Refs 0 whose ZeroSince is before cutoff.
	GCCandidates(ctx context.Context, cutoff time.Time, limit int) ([]Chunk, error)
	// DeleteChunkIfUnreferenced removes the index entry only if Refs is still 0 and ZeroSince
	// still before cutoff (re-checked in the deleting statement, so a racing reference wins).
	DeleteChunkIfUnreferenced(ctx context.Context, id int64, cutoff time.Time) (bool, error)
	// MoveChunk switches a chunk's location (migration, repair) in one update.
	MoveChunk(ctx context.Context, id int64, backend, node, uid string) error
	// MarkChunkCorrupt flags (or clears) a chunk as damaged.
	MarkChunkCorrupt(ctx context.Context, id int64, corrupt bool) error
	// ObjectsUsingChunk lists bucket/key of objects whose manifests reference the chunk.
	ObjectsUsingChunk(ctx context.Context, id int64, limit int) ([]Object, error)

	// Multipart uploads.
	CreateUpload(ctx context.Context, u Upload) error
	GetUpload(ctx context.Context, bucket, key, id string) (Upload, error) // ErrNotFound
	// PutPart records (or replaces) a part, incrementing its chunks' Refs and releasing the
	// replaced part's, in one transaction. ErrNotFound if the upload is gone; ErrConflict
	// if a chunk no longer exists.
	PutPart(ctx context.Context, uploadID string, p Part) error
	// ListParts returns parts with number > afterPart, ascending, at most limit (with extents).
	ListParts(ctx context.Context, uploadID string, afterPart, limit int) (parts []Part, truncated bool, err error)
	ListUploads(ctx context.Context, bucket string, q UploadListQuery) (UploadListResult, error)
	// CompleteUpload writes o (whose Manifest is built from the chosen parts) as the current
	// version and removes the upload with all its parts in one transaction: references move
	// from the parts to the object; parts not used are released. ErrNotFound if the upload
	// is gone (completed or aborted concurrently).
	CompleteUpload(ctx context.Context, uploadID string, o Object, cond WriteCondition) (*Object, error)
	// AbortUpload removes the upload and releases its parts' references.
	AbortUpload(ctx context.Context, uploadID string) error
	// StaleUploads lists uploads initiated before cutoff.
	StaleUploads(ctx context.Context, cutoff time.Time, limit int) ([]Upload, error)

	// Jobs: a durable queue. Enqueue inserts a pending job. Claim leases the oldest runnable
	// job of the given kinds (pending with RunAfter <= now, or running with an expired lease)
	// for lease, atomically across processes; ErrNotFound when none.
	Enqueue(ctx context.Context, kind, payload string, runAfter time.Time) error
	Claim(ctx context.Context, kinds []string, lease time.Duration) (Job, error)
	// Finish marks a claimed job done, or on failure records the error and either schedules a
	// retry at retryAt or, if retryAt is zero, marks it failed.
	Finish(ctx context.Context, id int64, errText string, retryAt time.Time) error

	// Cluster nodes and settings.
	Heartbeat(ctx context.Context, n Node) error
	ListNodes(ctx context.Context) ([]Node, error)
	// GetOrCreateSetting returns the stored value for name, storing value first if absent
	// (used for the generated cluster secret).
	GetOrCreateSetting(ctx context.Context, name, value string) (string, error)
	// TryLock takes a named lock with expiry (across processes); Unlock releases it.
	TryLock(ctx context.Context, name, owner string, ttl time.Duration) (bool, error)
	Unlock(ctx context.Context, name, owner string) error

	Stats(ctx context.Context) (Stats, error)
	Ping(ctx context.Context) error
	Close() error
}

// ChunkQuery pages the chunk index.
type ChunkQuery struct {
	AfterID int64
	Limit   int
	Backend string // only chunks in this backend ("" = all)
	Bucket  string // only chunks referenced by objects in this bucket ("" = all)
}
