package s3api

import (
	"encoding/xml"
	"net/http"
	"strings"

	"s3proxy/s3api/s3err"
)

// What s3proxy does not do, said the way S3 says it.
//
// A request that asks for something s3proxy does not provide (Object Lock, server-side
// encryption, a public ACL) is refused, never silently accepted: a client that was told
// yes would believe its object is locked, encrypted at rest or public when it is not.
// Reading a bucket configuration s3proxy does not keep (encryption, website, ...)
// answers what S3 answers for a bucket that has none, which is the truth here, so that
// tools that read every configuration of a bucket (s3cmd info, Terraform, backup tools)
// work; setting one is NotImplemented. The lifecycle configuration (lifecycle.go), tags
// (buckettagging.go), CORS configuration (bucketcors.go), policy (bucketpolicy.go) and
// Block Public Access configuration (publicaccess.go) are kept; ownership controls are
// answered by ownership.go.

// bucketConfigs are the bucket subresources s3proxy knows by name: their operation
// names (Get/Put/Delete + name) for logs, metrics and errors, and what a GET answers.
var bucketConfigs = map[string]bucketConfig{
	// Named here for the operation names; answered by lifecycle.go, bucketcors.go,
	// buckettagging.go, ownership.go, bucketpolicy.go and publicaccess.go.
	"policy":            {name: "BucketPolicy"},
	"policyStatus":      {name: "BucketPolicyStatus"},
	"lifecycle":         {name: "BucketLifecycleConfiguration"},
	"cors":              {name: "BucketCors"},
	"tagging":           {name: "BucketTagging"},
	"ownershipControls": {name: "BucketOwnershipControls"},
	"publicAccessBlock": {name: "PublicAccessBlock"},
	"encryption":        {name: "BucketEncryption", missing: s3err.ServerSideEncryptionConfigurationNotFoundError, deletable: true},
	"website":           {name: "BucketWebsite", missing: s3err.NoSuchWebsiteConfiguration, deletable: true},
	"replication":       {name: "BucketReplication", missing: s3err.ReplicationConfigurationNotFoundError, deletable: true},
	"object-lock":       {name: "ObjectLockConfiguration", missing: s3err.ObjectLockConfigurationNotFoundError},
	"logging":           {name: "BucketLogging", body: emptyConfig{XMLName: xml.Name{Local: "BucketLoggingStatus"}, NS: s3NS}},
	"notification":      {name: "BucketNotificationConfiguration", body: emptyConfig{XMLName: xml.Name{Local: "NotificationConfiguration"}, NS: s3NS}},
	"accelerate":        {name: "BucketAccelerateConfiguration", body: emptyConfig{XMLName: xml.Name{Local: "AccelerateConfiguration"}, NS: s3NS}},
	"requestPayment":    {name: "BucketRequestPayment", body: requestPayment{NS: s3NS, Payer: "BucketOwner"}},
}

// bucketConfig is one bucket subresource s3proxy keeps nothing for. A GET answers
// missing (an error S3 returns when the bucket has none) or body; a DELETE of a
// deletable one succeeds, as S3's does when there is nothing to delete.
type bucketConfig struct {
	name      string
	missing   s3err.Code
	body      any
	deletable bool
}

type emptyConfig struct {
	XMLName xml.Name
	NS      string `xml:"xmlns,attr"`
}

type policyStatus struct {
	XMLName  xml.Name `xml:"PolicyStatus"`
	NS       string   `xml:"xmlns,attr"`
	IsPublic bool     `xml:"IsPublic"`
}

type requestPayment struct {
	XMLName xml.Name `xml:"RequestPaymentConfiguration"`
	NS      string   `xml:"xmlns,attr"`
	Payer   string   `xml:"Payer"`
}

// verbs maps the methods a bucket configuration answers to their operation-name prefix.
var verbs = map[string]string{http.MethodGet: "Get", http.MethodPut: "Put", http.MethodDelete: "Delete"}

// bucketConfigIn returns the bucket configuration a request's query names, if any.
func bucketConfigIn(has func(string) bool) (bucketConfig, bool) {
	for sub, c := range bucketConfigs {
		if has(sub) {
			return c, true
		}
	}
	return bucketConfig{}, false
}

// bucketConfigOp names a request on a bucket subresource in bucketConfigs ("" if none).
func bucketConfigOp(method string, has func(string) bool) string {
	c, ok := bucketConfigIn(has)
	if verb := verbs[method]; ok && verb != "" {
		return verb + c.name
	}
	return ""
}

// bucketConfigRequest answers a request on a configuration s3proxy does not keep, once
// the bucket is known to exist and be the caller's.
func (s *Server) bucketConfigRequest(rq *request, c bucketConfig, verb string) error {
	b, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	if c.name == "BucketEncryption" {
		return s.bucketEncryption(rq, b, verb) // sse.go
	}
	switch {
	case verb == "Get" && c.body != nil:
		return s.writeXML(rq, http.StatusOK, c.body)
	case verb == "Get":
		return s3err.New(c.missing)
	case verb == "Delete" && c.deletable:
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return s3err.Newf(s3err.NotImplemented, "%s is not implemented by s3proxy.", rq.op)
}

// checkObjectWrite refuses the headers of a PutObject, CopyObject or
// CreateMultipartUpload that ask for what s3proxy does not provide, before any body is
// read.
func checkObjectWrite(h http.Header) error {
	for k := range h {
		lk := strings.ToLower(k)
		if isSSEHeader(lk) {
			// SSE-S3 passes here; the bucket decides (checkSSEBucket, sse.go).
			if err := checkSSEHeader(h, k); err != nil {
				return err
			}
		}
		if strings.HasPrefix(lk, "x-amz-grant-") {
			return s3err.New(s3err.AccessControlListNotSupported)
		}
	}
	if err := checkCannedACL(h.Get("x-amz-acl")); err != nil {
		return err
	}
	if sc := h.Get("x-amz-storage-class"); sc != "" && !storageClasses[sc] {
		return s3err.New(s3err.InvalidStorageClass)
	}
	return nil
}

// checkCannedACL accepts the canned ACLs that grant nothing beyond the owner's (rclone
// sends private on every upload); any other is refused as S3 refuses ACLs on a bucket
// whose objects belong to its owner (BucketOwnerEnforced, S3's default since 2023).
func checkCannedACL(v string) error {
	switch v {
	case "", "private", "bucket-owner-full-control":
		return nil
	}
	return s3err.New(s3err.AccessControlListNotSupported)
}

// storageClasses are S3's storage classes. Any of them is accepted and the object is
// stored like every other (listings say STANDARD): the class is a cost hint about
// where S3 keeps data, and s3proxy has one place.
var storageClasses = map[string]bool{
	"STANDARD": true, "REDUCED_REDUNDANCY": true, "STANDARD_IA": true, "ONEZONE_IA": true,
	"INTELLIGENT_TIERING": true, "GLACIER": true, "DEEP_ARCHIVE": true, "OUTPOSTS": true,
	"GLACIER_IR": true, "SNOW": true, "EXPRESS_ONEZONE": true,
}

// cannedACLs are the canned ACLs S3 defines. A CreateBucket naming another is
// InvalidArgument, as on S3, before whether it grants more than the owner's is asked.
var cannedACLs = map[string]bool{
	"private": true, "public-read": true, "public-read-write": true, "authenticated-read": true,
	"aws-exec-read": true, "bucket-owner-read": true, "bucket-owner-full-control": true, "log-delivery-write": true,
}

// checkCreateBucket refuses CreateBucket headers asking for what s3proxy does not do.
func checkCreateBucket(h http.Header) error {
	if acl := h.Get("x-amz-acl"); acl != "" && !cannedACLs[acl] {
		e := s3err.Newf(s3err.InvalidArgument, "Invalid canned ACL: %s", acl)
		e.Extra = map[string]string{"ArgumentName": "x-amz-acl", "ArgumentValue": acl}
		return e
	}
	if err := checkObjectOwnershipHeader(h); err != nil {
		return err
	}
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
			return s3err.New(s3err.InvalidBucketAclWithObjectOwnership)
		}
	}
	if checkCannedACL(h.Get("x-amz-acl")) != nil {
		return s3err.New(s3err.InvalidBucketAclWithObjectOwnership)
	}
	return nil
}

// aclRequest is what PutBucketAcl and PutObjectAcl may send as a body.
type aclRequest struct {
	Grants []struct {
		Grantee struct {
			ID    string `xml:"ID"`
			URI   string `xml:"URI"`
			Email string `xml:"EmailAddress"`
		} `xml:"Grantee"`
		Permission string `xml:"Permission"`
	} `xml:"AccessControlList>Grant"`
}

// putACL answers PutBucketAcl and PutObjectAcl as S3 does on a BucketOwnerEnforced
// bucket: setting the ACL every s3proxy resource already has (the owner's FULL_CONTROL,
// as a canned private or bucket-owner-full-control, or the same in XML) succeeds and
// changes nothing (s3cmd setacl --acl-private, backup tools that reset ACLs after
// uploading); any other grant is AccessControlListNotSupported.
func (s *Server) putACL(rq *request) error {
	owner, err := s.resourceOwner(rq)
	if err != nil {
		return err
	}
	h := rq.r.Header
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-amz-grant-") {
			return s3err.New(s3err.AccessControlListNotSupported)
		}
	}
	if err := checkCannedACL(h.Get("x-amz-acl")); err != nil {
		return err
	}
	if h.Get("x-amz-acl") == "" {
		var acl aclRequest
		if err := s.readXML(rq, maxXMLBody, &acl); err != nil {
			return err
		}
		for _, g := range acl.Grants {
			if g.Grantee.URI != "" || g.Grantee.Email != "" || g.Grantee.ID != owner || g.Permission != "FULL_CONTROL" {
				return s3err.New(s3err.AccessControlListNotSupported)
			}
		}
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// checkExpectedOwner honours x-amz-expected-bucket-owner (and, for a copy's source,
// x-amz-source-expected-bucket-owner): a request naming an owner other than the
// bucket's is AccessDenied, so a script cannot write into, or read from, a bucket it
// did not mean (an admin credential reaches every bucket). An owner here is the access
// key that created the bucket, the ID that ListBuckets and the ACLs show.
func (s *Server) checkExpectedOwner(rq *request, bucket, header string) error {
	want := rq.r.Header.Get(header)
	if want == "" || bucket == "" {
		return nil
	}
	b, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, bucket)
	if err != nil {
		return err
	}
	if b.Owner != want {
		return s3err.New(s3err.AccessDenied)
	}
	return nil
}
