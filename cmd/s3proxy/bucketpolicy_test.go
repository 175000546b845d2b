package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
)

// anon sends an unsigned request, as curl or a browser would.
func (st *testStack) anon(t *testing.T, method, path string, body []byte, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, st.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func putPolicy(ctx context.Context, c *s3.Client, bucket, doc string) error {
	_, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(doc)})
	return err
}

func mkBucket(t *testing.T, ctx context.Context, c *s3.Client, bucket string, objects ...string) {
	t.Helper()
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for _, k := range objects {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("content of " + k)}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBucketPolicyManagement: the four operations with S3's answers, S3's refusals of
// malformed documents, and management reserved to the owner whatever the policy says.
func TestBucketPolicyManagement(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner, other, admin := st.client(t, testAK, testSK), st.client(t, otherAK, otherSK), st.client(t, adminAK, adminSK)
	mkBucket(t, ctx, owner, "pol")

	if _, err := owner.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")}); apiCode(err) != "NoSuchBucketPolicy" {
		t.Errorf("GetBucketPolicy without one: %v", err)
	}
	if _, err := owner.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("pol")}); apiCode(err) != "NoSuchBucketPolicy" {
		t.Errorf("GetBucketPolicyStatus without one: %v", err)
	}
	if _, err := owner.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("pol")}); err != nil {
		t.Errorf("DeleteBucketPolicy without one: %v", err)
	}
	if err := putPolicy(ctx, owner, "nosuchbucket", `{"Statement":[]}`); apiCode(err) != "NoSuchBucket" {
		t.Errorf("PutBucketPolicy on a missing bucket: %v", err)
	}

	for _, tc := range []struct{ name, doc, msg string }{
		{"invalid json", `{"Version": "2012-10-17", "Statement": [`, "This policy contains invalid Json"},
		{"other bucket", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}`, "Policy has invalid resource"},
		{"unknown action", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:GetObjects","Resource":"arn:aws:s3:::pol/*"}]}`, "Policy has invalid action"},
		{"unknown principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"AKIANOBODY"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}]}`, "Invalid principal in policy"},
		{"unknown operator", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*","Condition":{"StringIs":{"aws:UserAgent":"x"}}}]}`, "Invalid Condition type : StringIs"},
		{"too large", `{"Id":"` + strings.Repeat("x", 21<<10) + `","Statement":[]}`, "Policy exceeds the maximum allowed document size."},
	} {
		err := putPolicy(ctx, owner, "pol", tc.doc)
		if apiCode(err) != "MalformedPolicy" || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want MalformedPolicy %q", tc.name, err, tc.msg)
		}
	}

	// A public policy is refused by default (block_public_policy).
	public := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pol/*"}]}`
	if err := putPolicy(ctx, owner, "pol", public); apiCode(err) != "AccessDenied" || !strings.Contains(err.Error(), "BlockPublicPolicy") {
		t.Errorf("a public policy with public policies blocked: %v", err)
	}

	// A policy granting the other credential everything and denying policy management
	// to everyone: the owner still manages it, the other credential never does.
	doc := `{"Version":"2012-10-17","Id":"mine","Statement":[
  {"Sid":"all","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/` + otherAK + `"]},"Action":"s3:*","Resource":["arn:aws:s3:::pol","arn:aws:s3:::pol/*"]},
  {"Sid":"lock","Effect":"Deny","Principal":"*","Action":["s3:PutBucketPolicy","s3:DeleteBucketPolicy","s3:GetBucketPolicy"],"Resource":"arn:aws:s3:::pol"}]}`
	if err := putPolicy(ctx, owner, "pol", doc); err != nil {
		t.Fatal(err)
	}
	got, err := owner.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")})
	if err != nil || aws.ToString(got.Policy) != doc {
		t.Errorf("GetBucketPolicy: %v\n%q\nwant the document as set", err, aws.ToString(got.Policy))
	}
	if st, err := owner.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("pol")}); err != nil || aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Errorf("GetBucketPolicyStatus of a policy naming a credential: %v %+v", err, st)
	}
	if _, err := admin.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")}); err != nil {
		t.Errorf("admin GetBucketPolicy: %v", err)
	}
	if _, err := other.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("pol")}); apiCode(err) != "AccessDenied" {
		t.Errorf("other credential's GetBucketPolicy (granted s3:*): %v", err)
	}
	if _, err := other.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("pol")}); apiCode(err) != "AccessDenied" {
		t.Errorf("other credential's DeleteBucketPolicy (granted s3:*): %v", err)
	}
	if _, err := other.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("pol")}); err != nil {
		t.Errorf("other credential's list, granted: %v", err)
	}
	if _, err := owner.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("pol")}); err != nil {
		t.Errorf("owner's DeleteBucketPolicy under a Deny: %v", err)
	}
	if _, err := other.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("pol")}); apiCode(err) != "AccessDenied" {
		t.Errorf("other credential's list once the policy is gone: %v", err)
	}
}

// TestBucketPolicyEvaluation: other credentials by Allow, Deny beating Allow for the
// owner too, conditions (prefix), copy sources and DeleteObjects key by key.
func TestBucketPolicyEvaluation(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner, other := st.client(t, testAK, testSK), st.client(t, otherAK, otherSK)
	mkBucket(t, ctx, owner, "team", "shared/a", "shared/b", "private/c", "locked/d")
	mkBucket(t, ctx, other, "mine")
	doc := `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":["s3:GetObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::team/shared/*"},
  {"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::team","Condition":{"StringLike":{"s3:prefix":"shared/*"}}},
  {"Effect":"Deny","Principal":"*","Action":["s3:GetObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::team/locked/*"},
  {"Effect":"Deny","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::team/shared/b"}]}`
	if err := putPolicy(ctx, owner, "team", doc); err != nil {
		t.Fatal(err)
	}
	get := func(c *s3.Client, key string) error {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("team"), Key: aws.String(key)})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	for _, tc := range []struct {
		who  string
		c    *s3.Client
		key  string
		want string
	}{
		{"other", other, "shared/a", ""},
		{"other", other, "shared/b", "AccessDenied"}, // Deny beats the Allow
		{"other", other, "private/c", "AccessDenied"},
		{"owner", owner, "private/c", ""},
		{"owner", owner, "locked/d", "AccessDenied"}, // a Deny stops the owner too
		// A missing key: NoSuchKey only for who may list the bucket.
		{"other", other, "shared/missing", "AccessDenied"},
		{"owner", owner, "shared/missing", "NoSuchKey"},
	} {
		if err := get(tc.c, tc.key); apiCode(err) != tc.want && !(tc.want == "" && err == nil) {
			t.Errorf("%s GET %s: %v, want %q", tc.who, tc.key, err, tc.want)
		}
	}
	if _, err := other.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("team"), Key: aws.String("shared/a")}); err != nil {
		t.Errorf("other HEAD (s3:GetObject): %v", err)
	}
	if _, err := other.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("team"), Prefix: aws.String("shared/")}); err != nil {
		t.Errorf("other list of shared/: %v", err)
	}
	if _, err := other.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("team")}); apiCode(err) != "AccessDenied" {
		t.Errorf("other list without the prefix: %v", err)
	}
	if _, err := other.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("team"), Key: aws.String("shared/new"), Body: strings.NewReader("x")}); apiCode(err) != "AccessDenied" {
		t.Errorf("other PUT without s3:PutObject: %v", err)
	}
	// A copy needs s3:GetObject on its source and s3:PutObject on its destination.
	if _, err := other.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mine"), Key: aws.String("a"), CopySource: aws.String("team/shared/a")}); err != nil {
		t.Errorf("other copies a shared object into its bucket: %v", err)
	}
	if _, err := other.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mine"), Key: aws.String("c"), CopySource: aws.String("team/private/c")}); apiCode(err) != "AccessDenied" {
		t.Errorf("other copies a private object: %v", err)
	}
	if _, err := other.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("team"), Key: aws.String("shared/z"), CopySource: aws.String("team/shared/a")}); apiCode(err) != "AccessDenied" {
		t.Errorf("other copies into the team bucket without s3:PutObject: %v", err)
	}
	// DeleteObjects: each key on its own.
	out, err := other.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("team"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("shared/a")}, {Key: aws.String("private/c")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Deleted) != 1 || aws.ToString(out.Deleted[0].Key) != "shared/a" || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Code) != "AccessDenied" {
		t.Errorf("DeleteObjects by other: deleted %+v errors %+v", out.Deleted, out.Errors)
	}
	out, err = owner.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("team"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("locked/d")}, {Key: aws.String("private/c")}}}})
	if err != nil || len(out.Deleted) != 1 || len(out.Errors) != 1 || aws.ToString(out.Errors[0].Key) != "locked/d" {
		t.Errorf("DeleteObjects by the owner under a Deny: %v %+v %+v", err, out.Deleted, out.Errors)
	}
}

// TestAnonymousAccess: unsigned requests (and POST forms without policy or signature),
// with public policies allowed: served as a policy allows, refused alike whether the bucket exists or not, never for ListBuckets
// or CreateBucket; a bad signature is never taken for anonymous.
func TestAnonymousAccess(t *testing.T) {
	st := newStack(t, "--block-public-policy=false")
	ctx := context.Background()
	owner := st.client(t, testAK, testSK)
	mkBucket(t, ctx, owner, "site", "index.html", "private/x")
	mkBucket(t, ctx, owner, "closed", "index.html")

	// Before any policy, and for a bucket that does not exist: the same answer.
	refusal := func(path string) string {
		status, body := st.anon(t, "GET", path, nil, nil)
		if status != http.StatusForbidden || !strings.Contains(body, "<Code>AccessDenied</Code>") {
			t.Errorf("anonymous GET %s: %d %s", path, status, body)
		}
		// All but the resource (the path asked for) and the request id.
		body = strings.Split(body, "<RequestId>")[0]
		return strings.Split(body, "<Resource>")[0]
	}
	base := refusal("/nosuchbucket/index.html")
	for _, p := range []string{"/site/index.html", "/closed/index.html", "/closed?list-type=2", "/nosuchbucket?list-type=2", "/Not_A_Bucket/x"} {
		if got := refusal(p); got != base {
			t.Errorf("anonymous refusal for %s differs from a missing bucket's:\n%s\n%s", p, got, base)
		}
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/"}, {"PUT", "/newbucket"}} {
		if status, body := st.anon(t, tc.method, tc.path, nil, nil); status != http.StatusForbidden || !strings.Contains(body, "AccessDenied") {
			t.Errorf("anonymous %s %s: %d %s", tc.method, tc.path, status, body)
		}
	}

	doc := `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"},
  {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::site"},
  {"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::site/uploads/*"},
  {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/private/*"}]}`
	if err := putPolicy(ctx, owner, "site", doc); err != nil {
		t.Fatal(err)
	}
	if st, err := owner.GetBucketPolicyStatus(ctx, &s3.GetBucketPolicyStatusInput{Bucket: aws.String("site")}); err != nil || !aws.ToBool(st.PolicyStatus.IsPublic) {
		t.Errorf("GetBucketPolicyStatus of a public policy: %v %+v", err, st)
	}
	// The policy applies at once (this node's cache forgets it).
	if status, body := st.anon(t, "GET", "/site/index.html", nil, nil); status != http.StatusOK || body != "content of index.html" {
		t.Errorf("anonymous GET allowed: %d %s", status, body)
	}
	if status, _ := st.anon(t, "HEAD", "/site/index.html", nil, nil); status != http.StatusOK {
		t.Errorf("anonymous HEAD allowed: %d", status)
	}
	if status, body := st.anon(t, "GET", "/site?list-type=2", nil, nil); status != http.StatusOK || !strings.Contains(body, "<Key>index.html</Key>") {
		t.Errorf("anonymous list allowed: %d %s", status, body)
	}
	if status, body := st.anon(t, "GET", "/site/missing", nil, nil); status != http.StatusNotFound || !strings.Contains(body, "NoSuchKey") {
		t.Errorf("anonymous GET of a missing key, listing allowed: %d %s", status, body)
	}
	if status, body := st.anon(t, "GET", "/site/private/x", nil, nil); status != http.StatusForbidden {
		t.Errorf("anonymous GET denied: %d %s", status, body)
	}
	if status, body := st.anon(t, "DELETE", "/site/index.html", nil, nil); status != http.StatusForbidden {
		t.Errorf("anonymous DELETE without a grant: %d %s", status, body)
	}
	if status, body := st.anon(t, "GET", "/site?policy", nil, nil); status != http.StatusForbidden {
		t.Errorf("anonymous GetBucketPolicy: %d %s", status, body)
	}
	// An anonymous upload where the policy allows it: the owner's object.
	if status, body := st.anon(t, "PUT", "/site/uploads/u1", []byte("dropped"), nil); status != http.StatusOK {
		t.Errorf("anonymous PUT allowed: %d %s", status, body)
	}
	if status, body := st.anon(t, "PUT", "/site/elsewhere", []byte("dropped"), nil); status != http.StatusForbidden {
		t.Errorf("anonymous PUT outside uploads/: %d %s", status, body)
	}
	// A browser form without a policy or signature is anonymous too (S3: allowed on a
	// bucket anyone may write to), under the same policy.
	if resp, body := postForm(t, st.url+"/site", []formField{{"key", "uploads/${filename}"}}, "form.txt", strings.NewReader("posted")); resp.StatusCode != http.StatusNoContent {
		t.Errorf("anonymous POST form allowed: %d %s", resp.StatusCode, body)
	}
	if resp, body := postForm(t, st.url+"/site", []formField{{"key", "elsewhere.txt"}}, "form.txt", strings.NewReader("posted")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous POST form outside uploads/: %d %s", resp.StatusCode, body)
	}
	if got := mustGet(t, owner, "site", "uploads/form.txt", ""); string(got) != "posted" {
		t.Errorf("the anonymous form's object: %q", got)
	}
	l, err := owner.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("site"), Prefix: aws.String("uploads/"), FetchOwner: aws.Bool(true)})
	if err != nil || len(l.Contents) != 2 || aws.ToString(l.Contents[0].Owner.ID) != testAK || aws.ToString(l.Contents[1].Owner.ID) != testAK {
		t.Errorf("the anonymous uploads as the owner lists them: %v %+v", err, l)
	}
	// A signature that does not verify is refused, not served as anonymous.
	if status, body := st.anon(t, "GET", "/site/index.html", nil, map[string]string{
		"Authorization": "AWS4-HMAC-SHA256 Credential=" + testAK + "/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00"}); status != http.StatusForbidden && status != http.StatusBadRequest {
		t.Errorf("a bad signature on a public object: %d %s", status, body)
	}
	if status, body := st.anon(t, "GET", "/site/index.html?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, nil); status == http.StatusOK {
		t.Errorf("a broken presigned URL on a public object: %d %s", status, body)
	}
	// DeleteBucketPolicy applies at once; so does DeleteBucket (the policy goes with it).
	if _, err := owner.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("site")}); err != nil {
		t.Fatal(err)
	}
	refusal("/site/index.html")
	if err := putPolicy(ctx, owner, "closed", strings.ReplaceAll(doc, "arn:aws:s3:::site", "arn:aws:s3:::closed")); err != nil {
		t.Fatal(err)
	}
	if status, _ := st.anon(t, "GET", "/closed/index.html", nil, nil); status != http.StatusOK {
		t.Errorf("anonymous GET once allowed: %d", status)
	}
	if _, err := owner.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("closed"), Key: aws.String("index.html")}); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("closed")}); err != nil {
		t.Fatal(err)
	}
	mkBucket(t, ctx, owner, "closed", "index.html")
	refusal("/closed/index.html")
	if _, err := owner.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("closed")}); apiCode(err) != "NoSuchBucketPolicy" {
		t.Errorf("a recreated bucket has its predecessor's policy: %v", err)
	}
}

// TestAnonymousSourceIP: a policy that lets in only addresses of a range is not public,
// so it works with public policies blocked (the default); without trusted proxies (the
// default) the address is the peer's, whatever X-Forwarded-For says
// (trustedproxies_test.go has the other case).
func TestAnonymousSourceIP(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner := st.client(t, testAK, testSK)
	mkBucket(t, ctx, owner, "lan", "a", "b")
	doc := `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::lan/*","Condition":{"IpAddress":{"aws:SourceIp":["127.0.0.0/8","::1/128"]}}},
  {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::lan/b","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`
	if err := putPolicy(ctx, owner, "lan", doc); err != nil {
		t.Fatalf("a policy narrowed to addresses with public policies blocked: %v", err)
	}
	if status, body := st.anon(t, "GET", "/lan/a", nil, map[string]string{"X-Forwarded-For": "192.0.2.1"}); status != http.StatusOK {
		t.Errorf("anonymous GET from loopback: %d %s", status, body)
	}
	if status, body := st.anon(t, "GET", "/lan/b", nil, map[string]string{"X-Forwarded-For": "10.0.0.1"}); status != http.StatusForbidden {
		t.Errorf("anonymous GET denied by NotIpAddress: %d %s", status, body)
	}
	if _, err := owner.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lan"), Key: aws.String("b")}); apiCode(err) != "AccessDenied" {
		t.Errorf("the owner under the Deny: %v", err)
	}
}

// TestBucketPolicyPostForms: a signed POST form writes under the bucket's policy like a
// PutObject: another credential's form gets in where an Allow names it, and a Deny
// stops even the owner's.
func TestBucketPolicyPostForms(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner := st.client(t, testAK, testSK)
	mkBucket(t, ctx, owner, "forms")
	doc := `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/inbox/*"},
  {"Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/frozen/*"}]}`
	if err := putPolicy(ctx, owner, "forms", doc); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		who, ak, sk, key string
		want             int
	}{
		{"other", otherAK, otherSK, "inbox/a", http.StatusNoContent},
		{"other", otherAK, otherSK, "elsewhere/a", http.StatusForbidden},
		{"owner", testAK, testSK, "frozen/a", http.StatusForbidden},
		{"owner", testAK, testSK, "inbox/b", http.StatusNoContent},
	} {
		target, fields := presignPost(t, st, tc.ak, tc.sk, "forms", tc.key, nil)
		resp, body := postForm(t, target, ordered(fields), "f.txt", strings.NewReader("form data"))
		if resp.StatusCode != tc.want {
			t.Errorf("%s POST %s: %d %s, want %d", tc.who, tc.key, resp.StatusCode, body, tc.want)
		}
	}

	// A form's tagging field is its request's tags (s3:RequestObjectTag), its fields its
	// headers (s3:x-amz-*).
	doc = `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/tagged/*",
   "Condition":{"StringEquals":{"s3:RequestObjectTag/origin":"form"}}},
  {"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::forms/meta/*",
   "Condition":{"StringEquals":{"s3:x-amz-storage-class":"STANDARD"}}}]}`
	if err := putPolicy(ctx, owner, "forms", doc); err != nil {
		t.Fatal(err)
	}
	tags := func(v string) string {
		return `<Tagging><TagSet><Tag><Key>origin</Key><Value>` + v + `</Value></Tag></TagSet></Tagging>`
	}
	for _, tc := range []struct {
		name, key string
		set       func(p *minio.PostPolicy)
		want      int
	}{
		{"tagged as the policy asks", "tagged/a", func(p *minio.PostPolicy) { must(t, p.SetTagging(tags("form"))) }, http.StatusNoContent},
		{"tagged otherwise", "tagged/b", func(p *minio.PostPolicy) { must(t, p.SetTagging(tags("api"))) }, http.StatusForbidden},
		{"untagged", "tagged/c", nil, http.StatusForbidden},
		{"x-amz-storage-class field as the policy asks", "meta/a", func(p *minio.PostPolicy) { must(t, p.SetUserData("storage-class", "STANDARD")) }, http.StatusNoContent},
		{"x-amz-storage-class field otherwise", "meta/b", func(p *minio.PostPolicy) { must(t, p.SetUserData("storage-class", "STANDARD_IA")) }, http.StatusForbidden},
		{"no x-amz-storage-class field", "meta/c", nil, http.StatusForbidden},
	} {
		target, fields := presignPost(t, st, otherAK, otherSK, "forms", tc.key, tc.set)
		resp, body := postForm(t, target, ordered(fields), "f.txt", strings.NewReader("form data"))
		if resp.StatusCode != tc.want {
			t.Errorf("POST %s: %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
		}
	}
}

// TestBucketPolicyObjectTags: the tag condition keys (S3's tag-based access control).
// s3:ExistingObjectTag reads the stored tags of the object (or the version) a read or
// a tag change is about, and of a copy's source; s3:RequestObjectTag and
// s3:RequestObjectTagKeys the tags a PutObject, CreateMultipartUpload or
// PutObjectTagging sets. Neither decides an overwrite or a delete, as on S3.
func TestBucketPolicyObjectTags(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	owner, other := st.client(t, testAK, testSK), st.client(t, otherAK, otherSK)
	mkBucket(t, ctx, owner, "tagged")
	mkBucket(t, ctx, other, "mine")
	put := func(c *s3.Client, key, tagging string) error {
		in := &s3.PutObjectInput{Bucket: aws.String("tagged"), Key: aws.String(key), Body: strings.NewReader(key)}
		if tagging != "" {
			in.Tagging = aws.String(tagging)
		}
		_, err := c.PutObject(ctx, in)
		return err
	}
	for key, tagging := range map[string]string{"pub": "class=public&team=a", "priv": "class=secret", "bare": ""} {
		if err := put(owner, key, tagging); err != nil {
			t.Fatal(err)
		}
	}
	doc := `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":["s3:GetObject","s3:GetObjectVersion","s3:GetObjectTagging","s3:DeleteObject"],"Resource":"arn:aws:s3:::tagged/*",
   "Condition":{"StringEquals":{"s3:ExistingObjectTag/class":"public"}}},
  {"Effect":"Allow","Principal":{"AWS":"` + otherAK + `"},"Action":["s3:PutObject","s3:PutObjectTagging"],"Resource":"arn:aws:s3:::tagged/*",
   "Condition":{"StringEquals":{"s3:RequestObjectTag/class":"public"},"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["class","team"]}}}]}`
	if err := putPolicy(ctx, owner, "tagged", doc); err != nil {
		t.Fatal(err)
	}
	get := func(key string) error {
		out, err := other.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tagged"), Key: aws.String(key)})
		if err == nil {
			out.Body.Close()
		}
		return err
	}
	putTags := func(key string, tags ...types.Tag) error {
		_, err := other.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tagged"), Key: aws.String(key), Tagging: &types.Tagging{TagSet: tags}})
		return err
	}
	tag := func(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"GET of a public-tagged object", get("pub"), ""},
		{"GET of a secret-tagged object", get("priv"), "AccessDenied"},
		{"GET of an untagged object", get("bare"), "AccessDenied"},
		{"GetObjectTagging of the public one", func() error {
			_, err := other.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tagged"), Key: aws.String("pub")})
			return err
		}(), ""},
		{"copy from the public one", func() error {
			_, err := other.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mine"), Key: aws.String("c"), CopySource: aws.String("tagged/pub")})
			return err
		}(), ""},
		{"copy from the secret one", func() error {
			_, err := other.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mine"), Key: aws.String("c"), CopySource: aws.String("tagged/priv")})
			return err
		}(), "AccessDenied"},
		// The request's tags.
		{"PUT tagged public", put(other, "new1", "class=public"), ""},
		{"PUT tagged public and team", put(other, "new2", "class=public&team=b"), ""},
		{"PUT with another tag key", put(other, "new3", "class=public&owner=x"), "AccessDenied"},
		{"PUT tagged secret", put(other, "new4", "class=secret"), "AccessDenied"},
		{"PUT untagged", put(other, "new5", ""), "AccessDenied"},
		{"PutObjectTagging to public", putTags("new1", tag("class", "public"), tag("team", "c")), ""},
		{"PutObjectTagging to secret", putTags("new1", tag("class", "secret")), "AccessDenied"},
		// Not a condition S3 evaluates for a delete: the key is absent, the Allow does
		// not apply, whatever the object's tags.
		{"DELETE of the public one", func() error {
			_, err := other.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("tagged"), Key: aws.String("pub")})
			return err
		}(), "AccessDenied"},
	} {
		if apiCode(tc.err) != tc.want && !(tc.want == "" && tc.err == nil) {
			t.Errorf("%s: %v, want %q", tc.name, tc.err, tc.want)
		}
	}
	// The refused PutObjectTagging changed nothing; the allowed one did.
	out, err := owner.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tagged"), Key: aws.String("new1")})
	if err != nil || len(out.TagSet) != 2 || aws.ToString(out.TagSet[1].Value) != "c" {
		t.Errorf("tags of new1: %+v %v", out, err)
	}
	// A version's own tags decide a read of that version.
	if _, err := owner.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("tagged"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	v1, err := owner.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tagged"), Key: aws.String("doc"), Body: strings.NewReader("1"), Tagging: aws.String("class=public")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tagged"), Key: aws.String("doc"), Body: strings.NewReader("2"), Tagging: aws.String("class=secret")}); err != nil {
		t.Fatal(err)
	}
	if err := get("doc"); apiCode(err) != "AccessDenied" {
		t.Errorf("GET of the secret current version: %v", err)
	}
	o, err := other.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("tagged"), Key: aws.String("doc"), VersionId: v1.VersionId})
	if err != nil {
		t.Errorf("GET of the public noncurrent version: %v", err)
	} else {
		o.Body.Close()
	}
}
