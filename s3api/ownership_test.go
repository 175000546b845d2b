package s3api

import (
	"net/http"
	"testing"

	"s3proxy/s3api/s3err"
)

// TestOwnershipControls: the documents S3 accepts and refuses, and what s3proxy can
// honour of them.
func TestOwnershipControls(t *testing.T) {
	doc := func(rules ...string) string {
		out := `<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
		for _, r := range rules {
			out += "<Rule><ObjectOwnership>" + r + "</ObjectOwnership></Rule>"
		}
		return out + "</OwnershipControls>"
	}
	for _, tc := range []struct {
		name, doc, code string
	}{
		{"BucketOwnerEnforced", doc("BucketOwnerEnforced"), ""},
		{"BucketOwnerPreferred enables ACLs", doc("BucketOwnerPreferred"), "NotImplemented"},
		{"ObjectWriter enables ACLs", doc("ObjectWriter"), "NotImplemented"},
		{"no rule", doc(), "MalformedXML"},
		{"two rules", doc("BucketOwnerEnforced", "BucketOwnerEnforced"), "MalformedXML"},
		{"an unknown value", doc("invalid_ownership"), "MalformedXML"},
		{"a rule without ObjectOwnership", `<OwnershipControls><Rule></Rule></OwnershipControls>`, "MalformedXML"},
		{"a misspelt element", `<OwnershipControls><Rule><Ownership>BucketOwnerEnforced</Ownership></Rule></OwnershipControls>`, "MalformedXML"},
	} {
		v, err := parseOwnershipControls([]byte(tc.doc))
		if err == nil {
			err = refuseOwnership(v)
		}
		if code, _ := errCode(err); code != tc.code {
			t.Errorf("%s: %s, want %s", tc.name, code, tc.code)
		}
	}
}

// TestCheckCreateBucket: CreateBucket's ownership and ACL headers.
func TestCheckCreateBucket(t *testing.T) {
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		code string
	}{
		{"nothing", nil, ""},
		{"BucketOwnerEnforced", map[string]string{"x-amz-object-ownership": "BucketOwnerEnforced"}, ""},
		{"BucketOwnerEnforced and private", map[string]string{"x-amz-object-ownership": "BucketOwnerEnforced", "x-amz-acl": "private"}, ""},
		{"ObjectWriter", map[string]string{"x-amz-object-ownership": "ObjectWriter"}, "NotImplemented"},
		{"BucketOwnerPreferred", map[string]string{"x-amz-object-ownership": "BucketOwnerPreferred"}, "NotImplemented"},
		{"an unknown ownership", map[string]string{"x-amz-object-ownership": "invalid_ownership"}, "InvalidArgument"},
		{"an empty ownership", map[string]string{"x-amz-object-ownership": ""}, "InvalidArgument"},
		{"an unknown canned ACL", map[string]string{"x-amz-acl": "invalid_acl"}, "InvalidArgument"},
		{"a public ACL", map[string]string{"x-amz-object-ownership": "BucketOwnerEnforced", "x-amz-acl": "public-read"}, "InvalidBucketAclWithObjectOwnership"},
	} {
		h := http.Header{}
		for k, v := range tc.hdr {
			h.Set(k, v)
		}
		if code, msg := errCode(checkCreateBucket(h)); code != tc.code {
			t.Errorf("%s: %s %q, want %s", tc.name, code, msg, tc.code)
		}
	}
	e := s3err.As(checkCreateBucket(http.Header{"X-Amz-Object-Ownership": {"invalid_ownership"}}))
	if e.Msg() != "Invalid x-amz-object-ownership header: invalid_ownership" || e.Extra["ArgumentName"] != "x-amz-object-ownership" {
		t.Errorf("an unknown ownership: %q %v", e.Msg(), e.Extra)
	}
}
