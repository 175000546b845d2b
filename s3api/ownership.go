package s3api

import (
	"encoding/xml"
	"net/http"

	"s3proxy/s3api/s3err"
)

// Object Ownership (PUT, GET and DELETE /bucket?ownershipControls, and CreateBucket's
// x-amz-object-ownership).
//
// Every s3proxy bucket is what S3 calls BucketOwnerEnforced, S3's default since 2023:
// ACLs are disabled (only the owner's FULL_CONTROL exists) and every object belongs to
// the bucket's owner. That is the only setting s3proxy can honour, so it is the only one
// it accepts:
//
//   - Setting BucketOwnerEnforced succeeds and changes nothing; nothing is stored, since
//     nothing could be read back but what is always true.
//   - BucketOwnerPreferred and ObjectWriter are refused with NotImplemented: both enable
//     ACLs (an uploader's canned ACL deciding who owns and may read an object), which
//     s3proxy does not keep. Accepting them would let a client (or Terraform, which reads
//     the setting back) believe that ACLs now apply. NotImplemented is S3's code for "a
//     request that implies functionality that is not implemented", the one s3proxy
//     answers for server-side encryption and lifecycle transitions; the document is
//     valid, so MalformedXML or InvalidArgument would call it wrong, and SDKs do not
//     retry a 501.
//   - A document S3 would refuse (no rule, two rules, an unknown value) is MalformedXML,
//     as on S3, checked before the refusal.
//   - DeleteBucketOwnershipControls succeeds (204) and changes nothing, and
//     GetBucketOwnershipControls keeps answering BucketOwnerEnforced. On S3 a bucket
//     whose controls were deleted answers OwnershipControlsNotFoundError and behaves as
//     ObjectWriter, with ACLs enabled; answering the error here would say the same about
//     s3proxy, falsely. Refusing the delete instead would break `terraform destroy` of an
//     aws_s3_bucket_ownership_controls resource, for no gain: the bucket's behaviour is
//     the same either way.

type ownershipControls struct {
	XMLName xml.Name      `xml:"OwnershipControls"`
	NS      string        `xml:"xmlns,attr"`
	Rule    ownershipRule `xml:"Rule"`
}

type ownershipRule struct {
	ObjectOwnership string `xml:"ObjectOwnership"`
}

// objectOwnershipHeader is CreateBucket's request header naming the ownership setting.
const objectOwnershipHeader = "x-amz-object-ownership"

// The ObjectOwnership values S3 defines.
const (
	ownershipEnforced  = "BucketOwnerEnforced"
	ownershipPreferred = "BucketOwnerPreferred"
	ownershipWriter    = "ObjectWriter"
)

// ownershipSchema is S3's schema of an OwnershipControls document.
var ownershipSchema = xmlSchema{
	"OwnershipControls": {"Rule": true},
	"Rule":              {"ObjectOwnership": false},
}

type ownershipControlsIn struct {
	Rules []struct {
		ObjectOwnership *string `xml:"ObjectOwnership"`
	} `xml:"Rule"`
}

// parseOwnershipControls checks a PutBucketOwnershipControls document and returns the
// setting it asks for.
func parseOwnershipControls(data []byte) (string, error) {
	if err := checkXMLShape(data, "OwnershipControls", ownershipSchema); err != nil {
		return "", s3err.Wrap(s3err.MalformedXML, err)
	}
	var in ownershipControlsIn
	if err := xml.Unmarshal(data, &in); err != nil {
		return "", s3err.Wrap(s3err.MalformedXML, err)
	}
	if len(in.Rules) != 1 || in.Rules[0].ObjectOwnership == nil {
		// S3's schema: exactly one rule, with its ObjectOwnership.
		return "", s3err.New(s3err.MalformedXML)
	}
	switch v := *in.Rules[0].ObjectOwnership; v {
	case ownershipEnforced, ownershipPreferred, ownershipWriter:
		return v, nil
	}
	return "", s3err.New(s3err.MalformedXML)
}

// refuseOwnership refuses the ObjectOwnership settings that enable ACLs.
func refuseOwnership(v string) error {
	if v == ownershipEnforced {
		return nil
	}
	return s3err.Newf(s3err.NotImplemented, "Object Ownership %s is not supported by s3proxy: ACLs are disabled on every bucket (BucketOwnerEnforced), "+
		"and objects belong to the bucket's owner.", v)
}

// checkObjectOwnershipHeader checks CreateBucket's x-amz-object-ownership: S3's
// InvalidArgument for a value it does not define, the refusal above for the settings
// that enable ACLs.
func checkObjectOwnershipHeader(h http.Header) error {
	v, ok := h[http.CanonicalHeaderKey(objectOwnershipHeader)]
	if !ok {
		return nil
	}
	switch v[0] {
	case ownershipEnforced, ownershipPreferred, ownershipWriter:
		return refuseOwnership(v[0])
	}
	e := s3err.Newf(s3err.InvalidArgument, "Invalid x-amz-object-ownership header: %s", v[0])
	e.Extra = map[string]string{"ArgumentName": objectOwnershipHeader}
	return e
}

func (s *Server) putBucketOwnershipControls(rq *request) error {
	if _, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	data, err := s.readCheckedBody(rq)
	if err != nil {
		return err
	}
	v, err := parseOwnershipControls(data)
	if err != nil {
		return err
	}
	if err := refuseOwnership(v); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketOwnershipControls(rq *request) error {
	if _, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	return s.writeXML(rq, http.StatusOK, ownershipControls{NS: s3NS, Rule: ownershipRule{ObjectOwnership: ownershipEnforced}})
}

func (s *Server) deleteBucketOwnershipControls(rq *request) error {
	if _, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
