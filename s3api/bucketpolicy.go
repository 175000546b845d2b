package s3api

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
	"s3proxy/translate/policy"
)

// Bucket policies: PUT, GET and DELETE /bucket?policy and GET /bucket?policyStatus
// (managed by the bucket's owner only: translate/bucketpolicy.go), and the evaluation
// of a bucket's policy before every operation on the bucket (authorize).
//
// Every operation is evaluated as the IAM action S3 documents for it ("Actions,
// resources, and condition keys for Amazon S3"), on the bucket's ARN or on the
// object's; CopyObject and UploadPartCopy also need s3:GetObject on their source, and
// DeleteObjects needs s3:DeleteObject on each key (a key refused is an error entry,
// the others are deleted).

// opAction is the IAM action an operation is evaluated as, and whether its resource is
// the object (else the bucket).
type opAction struct {
	action string
	object bool
}

// opActions maps s3api's operation names to their IAM actions. An operation missing
// here has none: a Deny of every action refuses it, no Allow lets anyone else in.
var opActions = map[string]opAction{
	"HeadBucket":                         {"s3:ListBucket", false},
	"ListObjects":                        {"s3:ListBucket", false},
	"ListObjectsV2":                      {"s3:ListBucket", false},
	"ListObjectVersions":                 {"s3:ListBucketVersions", false},
	"ListMultipartUploads":               {"s3:ListBucketMultipartUploads", false},
	"DeleteBucket":                       {"s3:DeleteBucket", false},
	"GetBucketLocation":                  {"s3:GetBucketLocation", false},
	"GetBucketVersioning":                {"s3:GetBucketVersioning", false},
	"PutBucketVersioning":                {"s3:PutBucketVersioning", false},
	"GetBucketAcl":                       {"s3:GetBucketAcl", false},
	"PutBucketAcl":                       {"s3:PutBucketAcl", false},
	"GetBucketLifecycleConfiguration":    {"s3:GetLifecycleConfiguration", false},
	"PutBucketLifecycleConfiguration":    {"s3:PutLifecycleConfiguration", false},
	"DeleteBucketLifecycleConfiguration": {"s3:PutLifecycleConfiguration", false},
	"GetBucketTagging":                   {"s3:GetBucketTagging", false},
	"PutBucketTagging":                   {"s3:PutBucketTagging", false},
	"DeleteBucketTagging":                {"s3:PutBucketTagging", false},
	"GetBucketCors":                      {"s3:GetBucketCORS", false},
	"PutBucketCors":                      {"s3:PutBucketCORS", false},
	"DeleteBucketCors":                   {"s3:PutBucketCORS", false},
	"GetBucketOwnershipControls":         {"s3:GetBucketOwnershipControls", false},
	"PutBucketOwnershipControls":         {"s3:PutBucketOwnershipControls", false},
	"DeleteBucketOwnershipControls":      {"s3:PutBucketOwnershipControls", false},
	"GetBucketEncryption":                {"s3:GetEncryptionConfiguration", false},
	"PutBucketEncryption":                {"s3:PutEncryptionConfiguration", false},
	"DeleteBucketEncryption":             {"s3:PutEncryptionConfiguration", false},
	"GetBucketWebsite":                   {"s3:GetBucketWebsite", false},
	"PutBucketWebsite":                   {"s3:PutBucketWebsite", false},
	"DeleteBucketWebsite":                {"s3:DeleteBucketWebsite", false},
	"GetBucketReplication":               {"s3:GetReplicationConfiguration", false},
	"PutBucketReplication":               {"s3:PutReplicationConfiguration", false},
	"DeleteBucketReplication":            {"s3:PutReplicationConfiguration", false},
	"GetPublicAccessBlock":               {"s3:GetBucketPublicAccessBlock", false},
	"PutPublicAccessBlock":               {"s3:PutBucketPublicAccessBlock", false},
	"DeletePublicAccessBlock":            {"s3:PutBucketPublicAccessBlock", false},
	"GetObjectLockConfiguration":         {"s3:GetBucketObjectLockConfiguration", false},
	"PutObjectLockConfiguration":         {"s3:PutBucketObjectLockConfiguration", false},
	"GetBucketLogging":                   {"s3:GetBucketLogging", false},
	"PutBucketLogging":                   {"s3:PutBucketLogging", false},
	"GetBucketNotificationConfiguration": {"s3:GetBucketNotification", false},
	"PutBucketNotificationConfiguration": {"s3:PutBucketNotification", false},
	"GetBucketAccelerateConfiguration":   {"s3:GetAccelerateConfiguration", false},
	"PutBucketAccelerateConfiguration":   {"s3:PutAccelerateConfiguration", false},
	"GetBucketRequestPayment":            {"s3:GetBucketRequestPayment", false},
	"PutBucketRequestPayment":            {"s3:PutBucketRequestPayment", false},

	"GetObject":               {"s3:GetObject", true},
	"HeadObject":              {"s3:GetObject", true},
	"GetObjectAttributes":     {"s3:GetObjectAttributes", true},
	"GetObjectAcl":            {"s3:GetObjectAcl", true},
	"PutObjectAcl":            {"s3:PutObjectAcl", true},
	"GetObjectTagging":        {"s3:GetObjectTagging", true},
	"PutObjectTagging":        {"s3:PutObjectTagging", true},
	"DeleteObjectTagging":     {"s3:DeleteObjectTagging", true},
	"PutObject":               {"s3:PutObject", true},
	"PostObject":              {"s3:PutObject", true},
	"CopyObject":              {"s3:PutObject", true},
	"CreateMultipartUpload":   {"s3:PutObject", true},
	"UploadPart":              {"s3:PutObject", true},
	"UploadPartCopy":          {"s3:PutObject", true},
	"CompleteMultipartUpload": {"s3:PutObject", true},
	"AbortMultipartUpload":    {"s3:AbortMultipartUpload", true},
	"ListParts":               {"s3:ListMultipartUploadParts", true},
	"DeleteObject":            {"s3:DeleteObject", true},
	"GetObjectRetention":      {"s3:GetObjectRetention", true},
	"PutObjectRetention":      {"s3:PutObjectRetention", true},
	"GetObjectLegalHold":      {"s3:GetObjectLegalHold", true},
	"PutObjectLegalHold":      {"s3:PutObjectLegalHold", true},
}

// versionActions are the IAM actions of requests that name a version (versionId).
var versionActions = map[string]string{
	"s3:GetObject":           "s3:GetObjectVersion",
	"s3:DeleteObject":        "s3:DeleteObjectVersion",
	"s3:GetObjectAcl":        "s3:GetObjectVersionAcl",
	"s3:PutObjectAcl":        "s3:PutObjectVersionAcl",
	"s3:GetObjectTagging":    "s3:GetObjectVersionTagging",
	"s3:PutObjectTagging":    "s3:PutObjectVersionTagging",
	"s3:DeleteObjectTagging": "s3:DeleteObjectVersionTagging",
	"s3:GetObjectAttributes": "s3:GetObjectVersionAttributes",
}

// policyManagement are the operations on the policy itself: for the bucket's owner
// alone, whatever the policy says (translate.Service.policyManager).
func policyManagement(op string) bool {
	switch op {
	case "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy", "GetBucketPolicyStatus":
		return true
	}
	return false
}

// authorize evaluates the bucket's policy for the request before it is dispatched; the
// principal it leaves in rq carries whatever the policy granted.
func (s *Server) authorize(rq *request) error {
	switch {
	case rq.bucket == "", rq.op == "CreateBucket", rq.op == "DeleteObjects", policyManagement(rq.op):
		// No bucket to have a policy yet; each key of a DeleteObjects is evaluated
		// on its own (deleteObjects); the policy's management is the owner's.
		return nil
	}
	a := opActions[rq.op]
	if _, ok := rq.r.URL.Query()["versionId"]; ok && versionActions[a.action] != "" {
		a.action = versionActions[a.action] // a request naming a version is its own action
	}
	if err := s.authorizeAccess(rq, rq.bucket, a.action, a.object, rq.key); err != nil {
		return err
	}
	if rq.op == "CopyObject" || rq.op == "UploadPartCopy" {
		if sb, sk, sv, err := parseCopySource(rq.r.Header.Get("x-amz-copy-source")); err == nil {
			action := "s3:GetObject"
			if sv != "" {
				action = "s3:GetObjectVersion"
			}
			return s.authorizeVersion(rq, sb, action, true, sk, sv)
		}
	}
	return nil
}

// missingKey answers a read of a missing object as S3 does: NoSuchKey only to a caller
// who may list the bucket (s3:ListBucket), AccessDenied to anyone else, so that a
// caller allowed only to read objects cannot learn which keys exist. The owner without
// a policy denying the listing keeps NoSuchKey, as ever.
func (s *Server) missingKey(rq *request, err error) error {
	switch rq.op {
	case "GetObject", "HeadObject", "GetObjectAttributes", "GetObjectTagging":
	default:
		return err
	}
	var te *translate.Error
	if !errors.As(err, &te) || te.Code != translate.CodeNoSuchKey {
		return err
	}
	if _, aerr := s.svc.Authorize(rq.r.Context(), rq.principal, translate.Access{Bucket: rq.bucket, Action: "s3:ListBucket", Keys: rq}); aerr != nil {
		return aerr
	}
	return err
}

// authorizeAccess evaluates one permission and keeps the principal it returns. An
// object's version is the request's versionId, read only if a condition asks for the
// object's stored tags.
func (s *Server) authorizeAccess(rq *request, bucket, action string, object bool, key string) error {
	return s.authorizeObject(rq, bucket, action, object, key, storedTags{versionFromQuery: true})
}

// authorizeVersion is authorizeAccess for an object's given version ("" the current
// one): a copy's source.
func (s *Server) authorizeVersion(rq *request, bucket, action string, object bool, key, versionID string) error {
	return s.authorizeObject(rq, bucket, action, object, key, storedTags{versionID: versionID})
}

func (s *Server) authorizeObject(rq *request, bucket, action string, object bool, key string, st storedTags) error {
	if object && existingTagActions[action] {
		st.svc, st.bucket, st.key, st.active = s.svc, bucket, key, true
		rq.stored = st
		defer func() { rq.stored = storedTags{} }()
	}
	p, err := s.svc.Authorize(rq.r.Context(), rq.principal, translate.Access{Bucket: bucket, Action: action, Object: object, Key: key,
		Keys: rq})
	// A failed read of the stored tags fails the authorization, whatever was decided
	// without them: taken for absent tags, it would let a Deny on a tag's value pass.
	if rq.stored.err != nil {
		err = s3err.Wrap(s3err.InternalError, fmt.Errorf("stored tags of %s/%s for the bucket policy: %w", bucket, key, rq.stored.err))
	}
	if err != nil {
		return err
	}
	rq.principal = p
	return nil
}

// storedTags is the object an authorization is about, whose stored tags
// s3:ExistingObjectTag reads: looked up once, and only if a condition asks.
type storedTags struct {
	active           bool // an authorization that may read them is under way
	svc              Service
	bucket, key      string
	versionID        string
	versionFromQuery bool // versionID is the request's versionId
	looked           bool
	tags             []tag
	ok               bool // the object exists and tags holds its set
	err              error
}

// existingTags returns the stored tags of the object the authorization under way is
// about; false when there is none (or no such object).
func (rq *request) existingTags() ([]tag, bool) {
	st := &rq.stored
	if !st.active {
		return nil, false
	}
	if !st.looked {
		st.looked = true
		if st.versionFromQuery {
			st.versionID = rq.r.URL.Query().Get("versionId")
		}
		enc, found, err := st.svc.StoredTags(rq.r.Context(), st.bucket, st.key, st.versionID)
		if err == nil && found {
			st.tags, err = decodeTags(enc)
			st.ok = err == nil
		}
		st.err = err
	}
	return st.tags, st.ok
}

// existingTagActions are the actions whose authorization knows the object's stored
// tags (s3:ExistingObjectTag/<key>), as S3's does: reads and the changes of an
// object's tags and ACL, not the writes that replace or remove the object (S3 does not
// let a policy decide those by the tags of what is there). Named as opActions and
// versionActions name them.
var existingTagActions = map[string]bool{
	"s3:GetObject": true, "s3:GetObjectVersion": true,
	"s3:GetObjectAcl": true, "s3:GetObjectVersionAcl": true,
	"s3:PutObjectAcl": true, "s3:PutObjectVersionAcl": true,
	"s3:GetObjectTagging": true, "s3:GetObjectVersionTagging": true,
	"s3:PutObjectTagging": true, "s3:PutObjectVersionTagging": true,
	"s3:DeleteObjectTagging": true, "s3:DeleteObjectVersionTagging": true,
}

// ConditionKey supplies the condition keys s3proxy knows of a request (lower-case
// names); a key it cannot supply is absent, as IAM treats keys a request lacks.
// Evaluated only when a policy has a condition (translate.ConditionKeys).
func (rq *request) ConditionKey(key string) ([]string, bool) {
	one := func(v string) ([]string, bool) {
		if v == "" {
			return nil, false
		}
		return []string{v}, true
	}
	r := rq.r
	switch key {
	case "aws:sourceip":
		// The socket's peer, or behind a trusted proxy the client it names
		// (trusted_proxies); a forwarding header from anyone else is the client's
		// to forge and is ignored.
		c := rq.clientAddr()
		if !c.ok {
			return nil, false
		}
		return one(c.addr.String())
	case "aws:securetransport":
		return one(strconv.FormatBool(r.TLS != nil))
	case "aws:currenttime":
		return one(rq.now().UTC().Format(time.RFC3339))
	case "aws:epochtime":
		return one(strconv.FormatInt(rq.now().Unix(), 10))
	case "aws:useragent":
		return one(r.Header.Get("User-Agent"))
	case "aws:referer":
		return one(r.Header.Get("Referer"))
	case "aws:principaltype":
		if rq.principal.Anonymous {
			return one("Anonymous")
		}
		return one("User")
	case "aws:username", "aws:userid":
		return one(rq.principal.AccessKey)
	case "s3:prefix", "s3:delimiter", "s3:max-keys":
		switch rq.op {
		case "ListObjects", "ListObjectsV2", "ListObjectVersions":
			q := r.URL.Query()
			name := strings.TrimPrefix(key, "s3:")
			if v, ok := q[name]; ok && len(v) > 0 {
				return v[:1], true
			}
		}
		return nil, false
	case "s3:versionid":
		return one(r.URL.Query().Get("versionId"))
	case "s3:authtype":
		switch {
		case rq.principal.Anonymous:
			return nil, false
		case rq.op == "PostObject":
			return one("POST")
		case rq.auth != nil && rq.auth.Presigned:
			return one("REST-QUERY-STRING")
		}
		return one("REST-HEADER")
	case "s3:signatureversion":
		switch {
		case rq.principal.Anonymous:
			return nil, false
		case rq.auth != nil && rq.auth.SigV2:
			return one("AWS")
		}
		return one("AWS4-HMAC-SHA256")
	}
	if k, ok := strings.CutPrefix(key, "s3:existingobjecttag/"); ok {
		tags, ok := rq.existingTags()
		if !ok {
			return nil, false
		}
		return tagValue(tags, k)
	}
	if k, ok := strings.CutPrefix(key, "s3:requestobjecttag/"); ok {
		tags, ok := rq.requestTags()
		if !ok {
			return nil, false
		}
		return tagValue(tags, k)
	}
	if key == "s3:requestobjecttagkeys" {
		tags, ok := rq.requestTags()
		if !ok || len(tags) == 0 {
			return nil, false
		}
		keys := make([]string, len(tags))
		for i, t := range tags {
			keys[i] = t.Key
		}
		return keys, true
	}
	if h, ok := strings.CutPrefix(key, "s3:x-amz-"); ok {
		// The request's x-amz-* headers (x-amz-acl, x-amz-copy-source,
		// x-amz-metadata-directive, x-amz-storage-class, ...), a POST form's fields
		// (where x-amz-acl is "acl").
		if rq.form != nil {
			if h == "acl" {
				return one(rq.form["acl"])
			}
			return one(rq.form["x-amz-"+h])
		}
		return one(r.Header.Get("x-amz-" + h))
	}
	return nil, false
}

func (s *Server) putBucketPolicy(rq *request) error {
	// The bucket and its owner first, as S3 answers: a missing bucket before a bad
	// document. The request carries no grant (authorize leaves policy management
	// alone), so this is the plain ownership check.
	if _, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	// Read up to the XML limit, so that a document over S3's 20 KB gets S3's
	// MalformedPolicy rather than a transport error.
	data, err := s.readCheckedBody(rq)
	if err != nil {
		return err
	}
	pol, err := policy.Parse(data, policy.Options{Bucket: rq.bucket, KnownPrincipal: func(ak string) bool { return s.credential(ak).AccessKey != "" }})
	if err != nil {
		var pe *policy.Error
		if errors.As(err, &pe) {
			return &s3err.Error{Code: s3err.MalformedPolicy, Message: pe.Message, Err: err}
		}
		return err
	}
	if err := s.svc.SetBucketPolicy(rq.r.Context(), rq.principal, rq.bucket, pol); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketPolicy(rq *request) error {
	doc, ok, err := s.svc.BucketPolicy(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	if !ok {
		return noSuchBucketPolicy(rq.bucket)
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", itoa(int64(len(doc))))
	rq.w.WriteHeader(http.StatusOK)
	_, _ = rq.w.Write([]byte(doc))
	return nil
}

func (s *Server) deleteBucketPolicy(rq *request) error {
	if err := s.svc.DeleteBucketPolicy(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketPolicyStatus(rq *request) error {
	public, ok, err := s.svc.BucketPolicyStatus(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	if !ok {
		return noSuchBucketPolicy(rq.bucket)
	}
	return s.writeXML(rq, http.StatusOK, policyStatus{NS: s3NS, IsPublic: public})
}

// noSuchBucketPolicy is S3's answer for a bucket without a policy, naming the bucket.
func noSuchBucketPolicy(bucket string) error {
	e := s3err.New(s3err.NoSuchBucketPolicy)
	e.Extra = map[string]string{"BucketName": bucket}
	return e
}

// requestTags are the tags a request sets on an object, for s3:RequestObjectTag and
// s3:RequestObjectTagKeys: a PutObject's, CreateMultipartUpload's or (replacing the
// source's) CopyObject's x-amz-tagging, or the Tagging document of a PutObjectTagging
// or a POST form's tagging field. ok is false when it sets none, or when they cannot be
// read: the handler then answers why.
func (rq *request) requestTags() ([]tag, bool) {
	switch rq.op {
	case "CopyObject":
		if !strings.EqualFold(rq.r.Header.Get("x-amz-tagging-directive"), "REPLACE") {
			return nil, false
		}
		fallthrough
	case "PutObject", "CreateMultipartUpload":
		enc, ok, err := taggingHeader(rq.r.Header)
		if err != nil || !ok {
			return nil, false
		}
		tags, err := decodeTags(enc)
		return tags, err == nil
	case "PutObjectTagging":
		data, err := rq.smallBody(maxXMLBody)
		if err != nil {
			return nil, false
		}
		return tagDocument(data)
	case "PostObject":
		if v := rq.form["tagging"]; v != "" {
			return tagDocument([]byte(v)) // a Tagging document, as in PutObjectTagging
		}
	}
	return nil, false
}

func tagDocument(data []byte) ([]tag, bool) {
	var in tagging
	if err := xml.Unmarshal(data, &in); err != nil {
		return nil, false
	}
	return in.TagSet, true
}

// tagValue is the value of the tag named k in a condition key (lower case there, so
// matched without regard to case).
func tagValue(tags []tag, k string) ([]string, bool) {
	for _, t := range tags {
		if strings.EqualFold(t.Key, k) {
			return []string{t.Value}, true
		}
	}
	return nil, false
}
