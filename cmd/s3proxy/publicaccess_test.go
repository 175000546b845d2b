package main

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func putPAB(ctx context.Context, c *s3.Client, bucket string, cfg types.PublicAccessBlockConfiguration) error {
	_, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(bucket), PublicAccessBlockConfiguration: &cfg})
	return err
}

// TestPublicAccessBlockAPI: Put, Get and Delete of a bucket's Block Public Access
// configuration with aws-sdk-go-v2, S3's answers to bad documents, and ownership.
func TestPublicAccessBlockAPI(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner, other := st.client(t, testAK, testSK), st.client(t, otherAK, otherSK)
	mkBucket(t, ctx, owner, "pab")
	b := aws.String("pab")

	if _, err := owner.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b}); apiCode(err) != "NoSuchPublicAccessBlockConfiguration" {
		t.Errorf("GetPublicAccessBlock without one: %v", err)
	}
	if err := putPAB(ctx, owner, "nosuchbucket", types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)}); apiCode(err) != "NoSuchBucket" {
		t.Errorf("PutPublicAccessBlock on a missing bucket: %v", err)
	}
	if err := putPAB(ctx, owner, "pab", types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	got, err := owner.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatal(err)
	}
	c := got.PublicAccessBlockConfiguration
	if !aws.ToBool(c.BlockPublicAcls) || aws.ToBool(c.IgnorePublicAcls) || aws.ToBool(c.BlockPublicPolicy) || !aws.ToBool(c.RestrictPublicBuckets) ||
		c.IgnorePublicAcls == nil || c.BlockPublicPolicy == nil {
		t.Errorf("GetPublicAccessBlock: %+v", c)
	}
	if _, err := other.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b}); apiCode(err) != "AccessDenied" {
		t.Errorf("another credential's GetPublicAccessBlock: %v", err)
	}
	if err := putPAB(ctx, other, "pab", types.PublicAccessBlockConfiguration{}); apiCode(err) != "AccessDenied" {
		t.Errorf("another credential's PutPublicAccessBlock: %v", err)
	}

	// Documents S3 refuses, and a body without an integrity check.
	put := func(doc string, withMD5 bool) (int, string) {
		t.Helper()
		hdr := map[string]string{}
		if withMD5 {
			sum := md5.Sum([]byte(doc))
			hdr["Content-MD5"] = base64.StdEncoding.EncodeToString(sum[:])
		}
		status, body, _ := st.raw(t, "PUT", "/pab?publicAccessBlock", []byte(doc), hdr)
		return status, body
	}
	for _, tc := range []struct {
		name, doc string
		md5       bool
		status    int
		want      string
	}{
		{"no setting", `<PublicAccessBlockConfiguration/>`, true, 400, "Must specify at least one configuration."},
		{"not a boolean", `<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>`, true, 400, "MalformedXML"},
		{"unknown element", `<PublicAccessBlockConfiguration><BlockAll>true</BlockAll></PublicAccessBlockConfiguration>`, true, 400, "MalformedXML"},
		{"no Content-MD5", `<PublicAccessBlockConfiguration><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlockConfiguration>`, false, 400, "Content-MD5"},
		{"valid", `<PublicAccessBlockConfiguration><BlockPublicPolicy>true</BlockPublicPolicy></PublicAccessBlockConfiguration>`, true, 200, ""},
	} {
		if status, body := put(tc.doc, tc.md5); status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d %q", tc.name, status, body, tc.status, tc.want)
		}
	}
	got, err = owner.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil || !aws.ToBool(got.PublicAccessBlockConfiguration.BlockPublicPolicy) || aws.ToBool(got.PublicAccessBlockConfiguration.BlockPublicAcls) {
		t.Errorf("after the refusals, the last valid document: %v %+v", err, got)
	}

	if _, err := owner.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b}); apiCode(err) != "NoSuchPublicAccessBlockConfiguration" {
		t.Errorf("GetPublicAccessBlock after the delete: %v", err)
	}
	if _, err := owner.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b}); err != nil {
		t.Errorf("deleting none: %v", err)
	}
}

// TestPublicAccessBlockPolicy: with the gateway-wide switch off, a bucket's own
// BlockPublicPolicy refuses a public policy and its RestrictPublicBuckets keeps a
// stored one from anonymous callers, which GetBucketPolicyStatus reflects; a public
// ACL is refused as on a BucketOwnerEnforced S3 bucket, BlockPublicAcls or not.
func TestPublicAccessBlockPolicy(t *testing.T) {
	st := newStack(t, "--block-public-policy=false")
	ctx := context.Background()
	owner := st.client(t, testAK, testSK)
	mkBucket(t, ctx, owner, "site", "index.html")
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}`
	status := func() bool {
		t.Helper()
		out, err := owner.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("site")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.PolicyStatus.IsPublic)
	}

	if err := putPAB(ctx, owner, "site", types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if err := putPolicy(ctx, owner, "site", public); apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "BlockPublicPolicy") {
		t.Errorf("a public policy under the bucket's BlockPublicPolicy: %v", err)
	}
	if err := putPAB(ctx, owner, "site", types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	if err := putPolicy(ctx, owner, "site", public); err != nil {
		t.Fatalf("a public policy once the bucket allows it: %v", err)
	}
	if code, body := st.anon(t, "GET", "/site/index.html", nil, nil); code != http.StatusOK || !status() {
		t.Errorf("anonymous GET under a public policy: %d %s, status public %v", code, body, status())
	}
	if err := putPAB(ctx, owner, "site", types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if code, body := st.anon(t, "GET", "/site/index.html", nil, nil); code != http.StatusForbidden || status() {
		t.Errorf("anonymous GET under RestrictPublicBuckets: %d %s, status public %v", code, body, status())
	}
	if _, err := st.client(t, otherAK, otherSK).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("site"), Key: aws.String("index.html")}); err != nil {
		t.Errorf("another credential under RestrictPublicBuckets: %v", err)
	}

	// Public ACLs: AccessControlListNotSupported before and after BlockPublicAcls, as on
	// S3 (ownership is checked before Block Public Access); private ones still pass.
	if err := putPAB(ctx, owner, "site", types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"PutObject public-read", func() error {
			_, err := owner.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("site"), Key: aws.String("x"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
			return err
		}(), "AccessControlListNotSupported"},
		{"PutObjectAcl authenticated-read", func() error {
			_, err := owner.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("site"), Key: aws.String("index.html"), ACL: types.ObjectCannedACLAuthenticatedRead})
			return err
		}(), "AccessControlListNotSupported"},
		{"PutBucketAcl public-read-write", func() error {
			_, err := owner.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("site"), ACL: types.BucketCannedACLPublicReadWrite})
			return err
		}(), "AccessControlListNotSupported"},
		{"CreateMultipartUpload grant", func() error {
			_, err := owner.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("site"), Key: aws.String("m"),
				GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
			return err
		}(), "AccessControlListNotSupported"},
		{"CopyObject public-read", func() error {
			_, err := owner.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("site"), Key: aws.String("c"), CopySource: aws.String("site/index.html"), ACL: types.ObjectCannedACLPublicRead})
			return err
		}(), "AccessControlListNotSupported"},
		{"PutObject private", func() error {
			_, err := owner.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("site"), Key: aws.String("p"), Body: strings.NewReader("p"), ACL: types.ObjectCannedACLPrivate})
			return err
		}(), ""},
	} {
		if got := apiCode(tc.err); got != tc.want {
			t.Errorf("%s under BlockPublicAcls: %q, want %q", tc.name, got, tc.want)
		}
	}

	// The configuration goes with the bucket.
	for _, k := range []string{"index.html", "p"} {
		if _, err := owner.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("site"), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	mkBucket(t, ctx, owner, "site")
	if _, err := owner.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("site")}); apiCode(err) != "NoSuchPublicAccessBlockConfiguration" {
		t.Errorf("a recreated bucket has its predecessor's configuration: %v", err)
	}
}
