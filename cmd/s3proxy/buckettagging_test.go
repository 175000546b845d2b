package main

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func md5Header(b []byte) map[string]string {
	s := md5.Sum(b)
	return map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(s[:])}
}

// TestBucketTaggingAPI drives Put/Get/DeleteBucketTagging and CreateBucket's Tags with
// aws-sdk-go-v2 and raw requests: tags read back in order, S3's statuses (204 for PUT
// and DELETE), S3's refusals store nothing, and the tags go with the bucket.
func TestBucketTaggingAPI(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("tagged")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b}); apiCode(err) != "NoSuchTagSet" {
		t.Fatalf("GET before any tags: %v", err)
	}
	if status, body, _ := st.raw(t, http.MethodGet, "/tagged?tagging", nil, nil); status != 404 || !strings.Contains(body, "<BucketName>tagged</BucketName>") {
		t.Errorf("raw GET before any tags: %d %s", status, body)
	}
	tags := []types.Tag{{Key: aws.String("Project"), Value: aws.String("Blue")}, {Key: aws.String("cost-center"), Value: aws.String("")},
		{Key: aws.String("Team Ä"), Value: aws.String("a+b=c.d_e:f/g@h")}}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: tags}}); err != nil {
		t.Fatalf("PutBucketTagging: %v", err)
	}
	got := func() string {
		t.Helper()
		out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
		if err != nil {
			return apiCode(err)
		}
		var kv []string
		for _, tg := range out.TagSet {
			kv = append(kv, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
		return strings.Join(kv, ",")
	}
	if g := got(); g != "Project=Blue,cost-center=,Team Ä=a+b=c.d_e:f/g@h" {
		t.Fatalf("GetBucketTagging: %s", g)
	}

	// Refusals, raw: none may change what is stored.
	doc := func(n int, extra string) []byte {
		var b strings.Builder
		b.WriteString(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>`)
		for i := range n {
			fmt.Fprintf(&b, "<Tag><Key>key-%d</Key><Value>v</Value></Tag>", i)
		}
		b.WriteString(extra + "</TagSet></Tagging>")
		return []byte(b.String())
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   []byte
		hdr    map[string]string
		status int
		code   string
	}{
		{"no Content-MD5 nor checksum", "/tagged?tagging", doc(1, ""), nil, 400, "InvalidRequest"},
		{"wrong Content-MD5", "/tagged?tagging", doc(1, ""), md5Header([]byte("other")), 400, "BadDigest"},
		{"51 tags", "/tagged?tagging", doc(51, ""), md5Header(doc(51, "")), 400, "BadRequest"},
		{"a bad key", "/tagged?tagging", doc(1, "<Tag><Key>user!name</Key><Value>v</Value></Tag>"),
			md5Header(doc(1, "<Tag><Key>user!name</Key><Value>v</Value></Tag>")), 400, "InvalidTag"},
		{"aws: prefix", "/tagged?tagging", doc(0, "<Tag><Key>aws:x</Key><Value>v</Value></Tag>"),
			md5Header(doc(0, "<Tag><Key>aws:x</Key><Value>v</Value></Tag>")), 400, "InvalidTag"},
		{"a key twice", "/tagged?tagging", doc(1, "<Tag><Key>key-0</Key><Value>w</Value></Tag>"),
			md5Header(doc(1, "<Tag><Key>key-0</Key><Value>w</Value></Tag>")), 400, "InvalidTag"},
		{"not a tagging document", "/tagged?tagging", []byte("<Tags/>"), md5Header([]byte("<Tags/>")), 400, "MalformedXML"},
		{"missing bucket", "/nosuchbucket?tagging", doc(1, ""), md5Header(doc(1, "")), 404, "NoSuchBucket"},
	} {
		status, body, _ := st.raw(t, http.MethodPut, tc.path, tc.body, tc.hdr)
		if status != tc.status || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
			t.Errorf("%s: %d %s", tc.name, status, body)
		}
	}
	if g := got(); g != "Project=Blue,cost-center=,Team Ä=a+b=c.d_e:f/g@h" {
		t.Errorf("a refusal changed the tags: %s", g)
	}
	if _, err := st.client(t, otherAK, otherSK).PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b,
		Tagging: &types.Tagging{TagSet: tags[:1]}}); apiCode(err) != "AccessDenied" {
		t.Errorf("another credential's PutBucketTagging: %v", err)
	}
	// 50 tags, raw: S3 answers 204.
	if status, body, _ := st.raw(t, http.MethodPut, "/tagged?tagging", doc(50, ""), md5Header(doc(50, ""))); status != 204 {
		t.Errorf("PUT of 50 tags: %d %s", status, body)
	}
	if g := got(); !strings.HasPrefix(g, "key-0=v,key-1=v,") || strings.Count(g, "=") != 50 {
		t.Errorf("50 tags read back as %s", g)
	}
	if status, _, _ := st.raw(t, http.MethodDelete, "/tagged?tagging", nil, nil); status != 204 {
		t.Errorf("DeleteBucketTagging: %d", status)
	}
	if g := got(); g != "NoSuchTagSet" {
		t.Errorf("after DeleteBucketTagging: %s", g)
	}
	if _, err := c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: b}); err != nil {
		t.Errorf("deleting no tags: %v", err)
	}

	// CreateBucket's Tags (S3 since 2025).
	nb := aws.String("born-tagged")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: nb, CreateBucketConfiguration: &types.CreateBucketConfiguration{Tags: tags[:2]}}); err != nil {
		t.Fatalf("CreateBucket with tags: %v", err)
	}
	if out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: nb}); err != nil || len(out.TagSet) != 2 ||
		aws.ToString(out.TagSet[0].Key) != "Project" {
		t.Errorf("tags given to CreateBucket: %+v %v", out, err)
	}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bad-tags"), CreateBucketConfiguration: &types.CreateBucketConfiguration{
		Tags: []types.Tag{{Key: aws.String("foo#bar"), Value: aws.String("v")}}}})
	if apiCode(err) != "InvalidTag" {
		t.Errorf("CreateBucket with a bad tag: %v", err)
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("bad-tags")}); err == nil {
		t.Error("a bucket refused for its tags exists")
	}
	// Tags go with the bucket.
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: nb}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: nb}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: nb}); apiCode(err) != "NoSuchTagSet" {
		t.Errorf("a new bucket of a deleted one's name has tags: %v", err)
	}
}

// TestOwnershipControlsAPI: every bucket is BucketOwnerEnforced, the only setting that
// can be set; the settings that enable ACLs are refused, on CreateBucket too; a delete
// succeeds and changes nothing.
func TestOwnershipControlsAPI(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	b := aws.String("owned")
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}); err != nil {
		t.Fatal(err)
	}
	ownership := func() string {
		t.Helper()
		out, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
		if err != nil {
			return apiCode(err)
		}
		if len(out.OwnershipControls.Rules) != 1 {
			return fmt.Sprintf("%d rules", len(out.OwnershipControls.Rules))
		}
		return string(out.OwnershipControls.Rules[0].ObjectOwnership)
	}
	if o := ownership(); o != "BucketOwnerEnforced" {
		t.Fatalf("GetBucketOwnershipControls: %s", o)
	}
	put := func(o types.ObjectOwnership) error {
		_, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b,
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: o}}}})
		return err
	}
	if err := put(types.ObjectOwnershipBucketOwnerEnforced); err != nil {
		t.Errorf("PutBucketOwnershipControls BucketOwnerEnforced: %v", err)
	}
	for _, o := range []types.ObjectOwnership{types.ObjectOwnershipObjectWriter, types.ObjectOwnershipBucketOwnerPreferred} {
		if err := put(o); apiCode(err) != "NotImplemented" || !strings.Contains(err.Error(), "ACLs are disabled") {
			t.Errorf("PutBucketOwnershipControls %s: %v", o, err)
		}
	}
	if err := put("invalid_ownership"); apiCode(err) != "MalformedXML" {
		t.Errorf("PutBucketOwnershipControls of an unknown value: %v", err)
	}
	empty := []byte(`<OwnershipControls xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></OwnershipControls>`)
	if status, body, _ := st.raw(t, http.MethodPut, "/owned?ownershipControls", empty, nil); status != 400 || !strings.Contains(body, "MalformedXML") {
		t.Errorf("no rule: %d %s", status, body)
	}
	if status, _, _ := st.raw(t, http.MethodDelete, "/owned?ownershipControls", nil, nil); status != 204 {
		t.Errorf("DeleteBucketOwnershipControls: %d", status)
	}
	if o := ownership(); o != "BucketOwnerEnforced" {
		t.Errorf("after the delete: %s", o)
	}
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		if status, body, _ := st.raw(t, method, "/nosuchbucket?ownershipControls", nil, nil); status != 404 || !strings.Contains(body, "NoSuchBucket") {
			t.Errorf("%s on a missing bucket: %d %s", method, status, body)
		}
	}
	if _, err := st.client(t, otherAK, otherSK).GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b}); apiCode(err) != "AccessDenied" {
		t.Errorf("another credential's GetBucketOwnershipControls: %v", err)
	}

	// CreateBucket's x-amz-object-ownership.
	for _, tc := range []struct {
		o    types.ObjectOwnership
		code string
	}{
		{types.ObjectOwnershipObjectWriter, "NotImplemented"},
		{types.ObjectOwnershipBucketOwnerPreferred, "NotImplemented"},
		{"invalid_ownership", "InvalidArgument"},
	} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("acl-bucket"), ObjectOwnership: tc.o})
		if apiCode(err) != tc.code {
			t.Errorf("CreateBucket with %s: %v", tc.o, err)
		}
	}
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("acl-bucket")}); err == nil {
		t.Error("a refused bucket exists")
	}
}
