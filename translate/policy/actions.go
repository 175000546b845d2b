package policy

import "strings"

// The S3 actions a bucket policy may name ("Actions, resources, and condition keys
// for Amazon S3"), by the resource they apply to: object actions need an object
// resource ("arn:aws:s3:::bucket/key"), bucket actions the bucket's own ARN. S3 refuses
// a statement none of whose resources suits one of its actions ("Action does not apply
// to any resource(s) in statement"), and an action it does not know ("Policy has
// invalid action"). Account-level actions (ListAllMyBuckets, Get/PutAccountPublicAccessBlock,
// ...) have no resource in a bucket policy: they are known, and never apply.

var objectActions = []string{
	"AbortMultipartUpload", "BypassGovernanceRetention", "DeleteObject", "DeleteObjectTagging",
	"DeleteObjectVersion", "DeleteObjectVersionTagging", "GetObject", "GetObjectAcl",
	"GetObjectAttributes", "GetObjectLegalHold", "GetObjectRetention", "GetObjectTagging",
	"GetObjectTorrent", "GetObjectVersion", "GetObjectVersionAcl", "GetObjectVersionAttributes",
	"GetObjectVersionForReplication", "GetObjectVersionTagging", "GetObjectVersionTorrent",
	"InitiateReplication", "ListMultipartUploadParts", "ObjectOwnerOverrideToBucketOwner",
	"PutObject", "PutObjectAcl", "PutObjectLegalHold", "PutObjectRetention", "PutObjectTagging",
	"PutObjectVersionAcl", "PutObjectVersionTagging", "ReplicateDelete", "ReplicateObject",
	"ReplicateTags", "RestoreObject",
}

var bucketActions = []string{
	"CreateBucket", "DeleteBucket", "DeleteBucketOwnershipControls", "DeleteBucketPolicy",
	"DeleteBucketWebsite", "GetAccelerateConfiguration", "GetAnalyticsConfiguration",
	"GetBucketAcl", "GetBucketCORS", "GetBucketLocation", "GetBucketLogging",
	"GetBucketNotification", "GetBucketObjectLockConfiguration", "GetBucketOwnershipControls",
	"GetBucketPolicy", "GetBucketPolicyStatus", "GetBucketPublicAccessBlock",
	"GetBucketRequestPayment", "GetBucketTagging", "GetBucketVersioning", "GetBucketWebsite",
	"GetEncryptionConfiguration", "GetIntelligentTieringConfiguration",
	"GetInventoryConfiguration", "GetLifecycleConfiguration", "GetMetricsConfiguration",
	"GetReplicationConfiguration", "ListBucket", "ListBucketMultipartUploads",
	"ListBucketVersions", "PutAccelerateConfiguration", "PutAnalyticsConfiguration",
	"PutBucketAcl", "PutBucketCORS", "PutBucketLogging", "PutBucketNotification",
	"PutBucketObjectLockConfiguration", "PutBucketOwnershipControls", "PutBucketPolicy",
	"PutBucketPublicAccessBlock", "PutBucketRequestPayment", "PutBucketTagging",
	"PutBucketVersioning", "PutBucketWebsite", "PutEncryptionConfiguration",
	"PutIntelligentTieringConfiguration", "PutInventoryConfiguration",
	"PutLifecycleConfiguration", "PutMetricsConfiguration", "PutReplicationConfiguration",
}

var accountActions = []string{
	"ListAllMyBuckets", "GetAccountPublicAccessBlock", "PutAccountPublicAccessBlock",
	"ListAccessPoints", "ListJobs", "CreateJob",
}

// actionKind is what an action applies to.
type actionKind int

const (
	kindObject actionKind = 1 << iota
	kindBucket
	kindAccount
)

// knownActions maps each action's lower-case name ("s3:getobject") to its kind.
type knownActions map[string]actionKind

func newKnownActions() knownActions {
	m := knownActions{}
	for _, l := range []struct {
		names []string
		kind  actionKind
	}{{objectActions, kindObject}, {bucketActions, kindBucket}, {accountActions, kindAccount}} {
		for _, n := range l.names {
			m["s3:"+strings.ToLower(n)] = l.kind
		}
	}
	return m
}

// kinds returns the kinds of the actions a pattern names (0: none, an invalid action).
// "*" and "s3:*" name them all.
func (k knownActions) kinds(pattern string) actionKind {
	p := strings.ToLower(pattern)
	if p == "*" {
		return kindObject | kindBucket | kindAccount
	}
	if !strings.HasPrefix(p, "s3:") {
		return 0
	}
	if kind, ok := k[p]; ok {
		return kind
	}
	var out actionKind
	if strings.ContainsAny(p, "*?") {
		for name, kind := range k {
			if match(p, name) {
				out |= kind
			}
		}
	}
	return out
}
