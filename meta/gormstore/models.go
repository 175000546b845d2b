package gormstore

import (
	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Times are stored as int64 Unix nanoseconds rather than timestamp columns: comparisons
// (GC cutoffs, lock expiry, job leases) then mean the same thing on both engines, with no
// time-zone or text-format parsing in SQLite.

// ckey is a text column that must sort in byte order, as S3 lists keys: collated "C" on
// PostgreSQL (whose database default collation may be locale-aware), plain TEXT on SQLite
// (whose default BINARY collation already compares bytes).
type ckey string

// GormDBDataType picks the column type per dialect.
func (ckey) GormDBDataType(db *gorm.DB, _ *schema.Field) string {
	if db.Dialector.Name() == "postgres" {
		return `text COLLATE "C"`
	}
	return "text"
}

type bucketRow struct {
	Name      ckey   `gorm:"column:name;primaryKey"`
	Owner     string `gorm:"column:owner;not null"`
	Region    string `gorm:"column:region;not null"`
	Backend   string `gorm:"column:backend;not null"`
	CreatedNS int64  `gorm:"column:created_ns;not null"`
}

func (bucketRow) TableName() string { return "buckets" }

// objectRow is the current version of a key. Every write inserts a new row (new ID) and
// deletes the old one, so a reader that fetched a row and then its extents by object ID can
// never mix the header of one version with the manifest of another.
type objectRow struct {
	ID           int64  `gorm:"column:id;primaryKey;autoIncrement"`
	Bucket       ckey   `gorm:"column:bucket;not null;uniqueIndex:ux_objects_bucket_key,priority:1"`
	ObjectKey    ckey   `gorm:"column:object_key;not null;uniqueIndex:ux_objects_bucket_key,priority:2"`
	Size         int64  `gorm:"column:size;not null"`
	ETag         string `gorm:"column:etag;not null"`
	SHA256       []byte `gorm:"column:sha256;index:ix_objects_sha256"`
	ContentMD5   []byte `gorm:"column:content_md5"`
	ContentType  string `gorm:"column:content_type;not null"`
	Headers      string `gorm:"column:headers;not null"`   // JSON object
	UserMeta     string `gorm:"column:user_meta;not null"` // JSON object
	Checksums    string `gorm:"column:checksums;not null"` // JSON object
	ChecksumType string `gorm:"column:checksum_type;not null"`
	Parts        string `gorm:"column:parts;not null"` // JSON array of partJSON
	Owner        string `gorm:"column:owner;not null"`
	Scope        string `gorm:"column:scope;not null"`
	ModNS        int64  `gorm:"column:mod_ns;not null"`
	ExtentCount  int    `gorm:"column:extent_count;not null"`
	// VersionID is "" for the null version (every object of a bucket never versioned).
	VersionID string `gorm:"column:version_id;not null;default:''"`
}

func (objectRow) TableName() string { return "objects" }

// versionRow is a noncurrent version of a key, or a delete marker (the newest version
// of a key that then has no current row). Versions live apart from objects so that a
// bucket's current keys stay one index seek away from every GET and listing, versioned
// or not. A version keeps the id it had as the current object (ObjectID, 0 for a delete
// marker): its extents stay as they were, keyed by that id, and so do the references
// they hold. (Ids are never reused: PostgreSQL's sequence, SQLite's AUTOINCREMENT.) Seq
// orders a key's versions: a version is archived when a newer one replaces it, so a
// higher Seq is a newer version.
type versionRow struct {
	Seq          int64  `gorm:"column:seq;primaryKey;autoIncrement;index:ix_versions_key,priority:3,sort:desc"`
	ObjectID     int64  `gorm:"column:object_id;not null;index:ix_versions_object"`
	Bucket       ckey   `gorm:"column:bucket;not null;uniqueIndex:ux_versions_id,priority:1;index:ix_versions_key,priority:1"`
	ObjectKey    ckey   `gorm:"column:object_key;not null;uniqueIndex:ux_versions_id,priority:2;index:ix_versions_key,priority:2"`
	VersionID    string `gorm:"column:version_id;not null;uniqueIndex:ux_versions_id,priority:3"`
	DeleteMarker bool   `gorm:"column:delete_marker;not null"`
	Size         int64  `gorm:"column:size;not null"`
	ETag         string `gorm:"column:etag;not null"`
	SHA256       []byte `gorm:"column:sha256"`
	ContentMD5   []byte `gorm:"column:content_md5"`
	ContentType  string `gorm:"column:content_type;not null"`
	Headers      string `gorm:"column:headers;not null"`
	UserMeta     string `gorm:"column:user_meta;not null"`
	Checksums    string `gorm:"column:checksums;not null"`
	ChecksumType string `gorm:"column:checksum_type;not null"`
	Parts        string `gorm:"column:parts;not null"`
	Owner        string `gorm:"column:owner;not null"`
	Scope        string `gorm:"column:scope;not null"`
	ModNS        int64  `gorm:"column:mod_ns;not null"`
	ExtentCount  int    `gorm:"column:extent_count;not null"`
}

func (versionRow) TableName() string { return "object_versions" }

// archived is the current row r as a noncurrent version.
func archived(r objectRow) versionRow {
	return versionRow{ObjectID: r.ID, Bucket: r.Bucket, ObjectKey: r.ObjectKey, VersionID: r.VersionID,
		Size: r.Size, ETag: r.ETag, SHA256: r.SHA256, ContentMD5: r.ContentMD5, ContentType: r.ContentType,
		Headers: r.Headers, UserMeta: r.UserMeta, Checksums: r.Checksums, ChecksumType: r.ChecksumType,
		Parts: r.Parts, Owner: r.Owner, Scope: r.Scope, ModNS: r.ModNS, ExtentCount: r.ExtentCount}
}

// current is the version row v (not a delete marker) as the key's current row again,
// under the id its extents are keyed by.
func current(v versionRow) objectRow {
	return objectRow{ID: v.ObjectID, Bucket: v.Bucket, ObjectKey: v.ObjectKey, VersionID: v.VersionID,
		Size: v.Size, ETag: v.ETag, SHA256: v.SHA256, ContentMD5: v.ContentMD5, ContentType: v.ContentType,
		Headers: v.Headers, UserMeta: v.UserMeta, Checksums: v.Checksums, ChecksumType: v.ChecksumType,
		Parts: v.Parts, Owner: v.Owner, Scope: v.Scope, ModNS: v.ModNS, ExtentCount: v.ExtentCount}
}

// extentRow is one manifest entry; (object_id, seq) orders an object's manifest and the
// chunk_id index serves ObjectsUsingChunk and the bucket filter of ListChunks.
type extentRow struct {
	ObjectID    int64 `gorm:"column:object_id;primaryKey;autoIncrement:false"`
	Seq         int   `gorm:"column:seq;primaryKey;autoIncrement:false"`
	PartNumber  int   `gorm:"column:part_number;not null"`
	ChunkID     int64 `gorm:"column:chunk_id;not null;index:ix_extents_chunk"`
	ChunkOffset int64 `gorm:"column:chunk_offset;not null"`
	Length      int64 `gorm:"column:length;not null"`
}

func (extentRow) TableName() string { return "extents" }

type chunkRow struct {
	ID      int64  `gorm:"column:id;primaryKey;autoIncrement"`
	UID     string `gorm:"column:uid;not null;uniqueIndex:ux_chunks_uid"`
	SHA256  []byte `gorm:"column:sha256;not null;uniqueIndex:ux_chunks_sha256"`
	MD5     []byte `gorm:"column:md5"`
	Size    int64  `gorm:"column:size;not null"`
	Backend string `gorm:"column:backend;not null"`
	Node    string `gorm:"column:node;not null"`
	Refs    int64  `gorm:"column:refs;not null"`
	Corrupt bool   `gorm:"column:corrupt;not null"`
	// Data holds an inline chunk's bytes (backend meta.InlineBackend); NULL otherwise.
	Data []byte `gorm:"column:data"`
	// Checksums is a JSON object of additional checksums known for the content.
	Checksums string `gorm:"column:checksums;not null;default:''"`
	CreatedNS int64  `gorm:"column:created_ns;not null"`
	// ZeroSinceNS is non-null only while refs is 0, so its index holds just GC candidates.
	ZeroSinceNS *int64 `gorm:"column:zero_since_ns;index:ix_chunks_zero_since"`
}

func (chunkRow) TableName() string { return "chunks" }

// chunkScopeRow records that a dedup scope (credential) has uploaded a chunk's content, so
// instant upload never hands one credential content it cannot prove it had.
type chunkScopeRow struct {
	ChunkID int64  `gorm:"column:chunk_id;primaryKey;autoIncrement:false"`
	Scope   string `gorm:"column:scope;primaryKey"`
}

func (chunkScopeRow) TableName() string { return "chunk_scopes" }

type uploadRow struct {
	ID           ckey   `gorm:"column:id;primaryKey;index:ix_uploads_list,priority:3"`
	Bucket       ckey   `gorm:"column:bucket;not null;index:ix_uploads_list,priority:1"`
	ObjectKey    ckey   `gorm:"column:object_key;not null;index:ix_uploads_list,priority:2"`
	Owner        string `gorm:"column:owner;not null"`
	Scope        string `gorm:"column:scope;not null"`
	ContentType  string `gorm:"column:content_type;not null"`
	Headers      string `gorm:"column:headers;not null"`
	UserMeta     string `gorm:"column:user_meta;not null"`
	ChecksumAlgo string `gorm:"column:checksum_algo;not null"`
	ChecksumType string `gorm:"column:checksum_type;not null"`
	InitiatedNS  int64  `gorm:"column:initiated_ns;not null;index:ix_uploads_initiated"`
}

func (uploadRow) TableName() string { return "uploads" }

// partRow is a part of an upload in progress. Its extents (one, or a few for UploadPartCopy)
// are a compact JSON column: they are only ever read with the part.
type partRow struct {
	UploadID  ckey   `gorm:"column:upload_id;primaryKey"`
	Number    int    `gorm:"column:number;primaryKey;autoIncrement:false"`
	Size      int64  `gorm:"column:size;not null"`
	ETag      string `gorm:"column:etag;not null"`
	Checksums string `gorm:"column:checksums;not null"`
	Extents   string `gorm:"column:extents;not null"` // JSON [[part, chunk, offset, length], ...]
	ModNS     int64  `gorm:"column:mod_ns;not null"`
}

func (partRow) TableName() string { return "parts" }

type jobRow struct {
	ID           int64  `gorm:"column:id;primaryKey;autoIncrement"`
	Kind         string `gorm:"column:kind;not null"`
	Payload      string `gorm:"column:payload;not null"`
	State        string `gorm:"column:state;not null;index:ix_jobs_runnable,priority:1"`
	Attempts     int    `gorm:"column:attempts;not null"`
	LastError    string `gorm:"column:last_error;not null"`
	RunAfterNS   int64  `gorm:"column:run_after_ns;not null;index:ix_jobs_runnable,priority:2"`
	LeaseUntilNS *int64 `gorm:"column:lease_until_ns"`
	UpdatedNS    int64  `gorm:"column:updated_ns;not null"`
}

func (jobRow) TableName() string { return "jobs" }

type nodeRow struct {
	ID          string `gorm:"column:id;primaryKey"`
	Address     string `gorm:"column:address;not null"`
	HeartbeatNS int64  `gorm:"column:heartbeat_ns;not null"`
}

func (nodeRow) TableName() string { return "nodes" }

type settingRow struct {
	Name  string `gorm:"column:name;primaryKey"`
	Value string `gorm:"column:value;not null"`
}

func (settingRow) TableName() string { return "settings" }

// bucketConfigRow is one configuration document of a bucket (kind "lifecycle", ...).
// The primary key serves reads by bucket and DeleteBucket; ix_bucket_configs_kind serves
// the listing of one kind by bucket name (the lifecycle worker's).
type bucketConfigRow struct {
	Bucket    ckey   `gorm:"column:bucket;primaryKey;index:ix_bucket_configs_kind,priority:2"`
	Kind      string `gorm:"column:kind;primaryKey;index:ix_bucket_configs_kind,priority:1"`
	Value     string `gorm:"column:value;not null"`
	UpdatedNS int64  `gorm:"column:updated_ns;not null"`
}

func (bucketConfigRow) TableName() string { return "bucket_configs" }

type lockRow struct {
	Name      string `gorm:"column:name;primaryKey"`
	Owner     string `gorm:"column:owner;not null"`
	ExpiresNS int64  `gorm:"column:expires_ns;not null"`
}

func (lockRow) TableName() string { return "locks" }

func allModels() []any {
	return []any{
		&bucketRow{}, &objectRow{}, &versionRow{}, &extentRow{}, &chunkRow{}, &chunkScopeRow{},
		&uploadRow{}, &partRow{}, &jobRow{}, &nodeRow{}, &settingRow{}, &lockRow{},
		&bucketConfigRow{},
	}
}
