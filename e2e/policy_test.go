package e2e

// Bucket policies and anonymous access with the clients that manage them: mc anonymous
// (set/get download, upload, public, none), aws cli s3api (put/get/get-status/delete),
// s3cmd setpolicy/delpolicy, and what a client without credentials then gets (curl,
// boto3 with UNSIGNED). Public policies are blocked by default, so these servers turn
// block_public_policy off.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// curlStatus fetches a URL without credentials and returns the HTTP status.
func curlStatus(t testing.TB, args ...string) string {
	t.Helper()
	out, _, err := tryTool(t, time.Minute, childEnv(), "", "curl", append([]string{"-sS", "-o", os.DevNull, "-w", "%{http_code}"}, args...)...)
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	return strings.TrimSpace(out)
}

// curlBody fetches a URL without credentials and returns status and body.
func curlBody(t testing.TB, args ...string) (string, string) {
	t.Helper()
	out := runTool(t, time.Minute, childEnv(), "", "curl", append([]string{"-sS", "-w", "\n%{http_code}"}, args...)...)
	i := strings.LastIndex(out, "\n")
	return out[i+1:], out[:i]
}

func publicServer(t *testing.T) *server {
	t.Helper()
	onlyS3proxy(t) // the switch is s3proxy's
	return startServer(t, serverOptions{args: []string{"--block-public-policy=false"}})
}

// TestPolicyMC: mc anonymous set download|upload|public|none and mc anonymous get, each
// checked by what curl without credentials may then do.
func TestPolicyMC(t *testing.T) {
	t.Parallel()
	s := publicServer(t)
	mc := newMC(t, s, s.cred)
	dir := t.TempDir()
	src := filepath.Join(dir, "page.html")
	writeFile(t, src, "<h1>hello</h1>")
	mc.run("mb", "s3p/mc-anon")
	mc.run("cp", src, "s3p/mc-anon/site/page.html")
	mc.run("cp", src, "s3p/mc-anon/private/page.html")
	obj := s.endpoint + "/mc-anon/site/page.html"

	if got := mc.run("anonymous", "get", "s3p/mc-anon"); !strings.Contains(got, "private") {
		t.Errorf("mc anonymous get before any policy: %s", got)
	}
	if st := curlStatus(t, obj); st != "403" {
		t.Errorf("anonymous GET before any policy: %s", st)
	}

	mc.run("anonymous", "set", "download", "s3p/mc-anon/site")
	if got := mc.run("anonymous", "get", "s3p/mc-anon/site"); !strings.Contains(got, "download") {
		t.Errorf("mc anonymous get after set download: %s", got)
	}
	if st, body := curlBody(t, obj); st != "200" || body != "<h1>hello</h1>" {
		t.Errorf("anonymous GET of a downloadable object: %s %q", st, body)
	}
	if st := curlStatus(t, "-I", obj); st != "200" {
		t.Errorf("anonymous HEAD: %s", st)
	}
	// mc allows listing with the prefix exactly as given (s3:prefix StringEquals "site").
	if st, body := curlBody(t, s.endpoint+"/mc-anon?list-type=2&prefix=site"); st != "200" || !strings.Contains(body, "<Key>site/page.html</Key>") {
		t.Errorf("anonymous list of the downloadable prefix: %s %s", st, body)
	}
	if st := curlStatus(t, s.endpoint+"/mc-anon?list-type=2"); st != "403" {
		t.Errorf("anonymous list of the whole bucket: %s", st)
	}
	if st := curlStatus(t, s.endpoint+"/mc-anon/private/page.html"); st != "403" {
		t.Errorf("anonymous GET outside the prefix: %s", st)
	}
	if st := curlStatus(t, "-T", src, s.endpoint+"/mc-anon/site/up.html"); st != "403" {
		t.Errorf("anonymous PUT under download: %s", st)
	}

	mc.run("anonymous", "set", "upload", "s3p/mc-anon/drop")
	if st := curlStatus(t, "-T", src, s.endpoint+"/mc-anon/drop/up.html"); st != "200" {
		t.Errorf("anonymous PUT under upload: %s", st)
	}
	if got := mc.run("cat", "s3p/mc-anon/drop/up.html"); got != "<h1>hello</h1>" {
		t.Errorf("the anonymous upload read back: %q", got)
	}

	mc.run("anonymous", "set", "public", "s3p/mc-anon")
	if got := mc.run("anonymous", "get", "s3p/mc-anon"); !strings.Contains(got, "public") {
		t.Errorf("mc anonymous get after set public: %s", got)
	}
	if st := curlStatus(t, s.endpoint+"/mc-anon/private/page.html"); st != "200" {
		t.Errorf("anonymous GET of a public bucket: %s", st)
	}
	if st := curlStatus(t, "-X", "DELETE", s.endpoint+"/mc-anon/drop/up.html"); st != "204" {
		t.Errorf("anonymous DELETE of a public bucket: %s", st)
	}

	// set none removes what was set for that prefix only, as mc does.
	mc.run("anonymous", "set", "none", "s3p/mc-anon")
	if st := curlStatus(t, s.endpoint+"/mc-anon/private/page.html"); st != "403" {
		t.Errorf("anonymous GET after set none on the bucket: %s", st)
	}
	if st := curlStatus(t, obj); st != "200" {
		t.Errorf("anonymous GET of the prefix still downloadable: %s", st)
	}
	mc.run("anonymous", "set", "none", "s3p/mc-anon/site")
	mc.run("anonymous", "set", "none", "s3p/mc-anon/drop")
	if st := curlStatus(t, obj); st != "403" {
		t.Errorf("anonymous GET after set none: %s", st)
	}
	if got := mc.run("anonymous", "get", "s3p/mc-anon/site"); !strings.Contains(got, "private") {
		t.Errorf("mc anonymous get after set none: %s", got)
	}
}

// TestPolicyAWSCLI: aws s3api put-bucket-policy, get-bucket-policy,
// get-bucket-policy-status and delete-bucket-policy, and S3's refusals.
func TestPolicyAWSCLI(t *testing.T) {
	t.Parallel()
	s := publicServer(t)
	cli := newAWSCLI(t, s, s.cred)
	dir := t.TempDir()
	cli.run("s3api", "create-bucket", "--bucket", "cli-pol")
	file := filepath.Join(dir, "index.html")
	writeFile(t, file, "index")
	cli.run("s3api", "put-object", "--bucket", "cli-pol", "--key", "index.html", "--body", file)

	if _, stderr, err := cli.try("s3api", "get-bucket-policy", "--bucket", "cli-pol"); err == nil || !strings.Contains(stderr, "NoSuchBucketPolicy") {
		t.Errorf("get-bucket-policy without one: %v %s", err, stderr)
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cli-pol/*"}]}`
	pf := filepath.Join(dir, "policy.json")
	writeFile(t, pf, doc)
	cli.run("s3api", "put-bucket-policy", "--bucket", "cli-pol", "--policy", "file://"+pf)
	var got struct{ Policy string }
	mustJSON(t, cli.run("s3api", "get-bucket-policy", "--bucket", "cli-pol"), &got)
	if got.Policy != doc {
		t.Errorf("get-bucket-policy: %q", got.Policy)
	}
	var status struct{ PolicyStatus struct{ IsPublic bool } }
	mustJSON(t, cli.run("s3api", "get-bucket-policy-status", "--bucket", "cli-pol"), &status)
	if !status.PolicyStatus.IsPublic {
		t.Error("get-bucket-policy-status: not public")
	}
	if st := curlStatus(t, s.endpoint+"/cli-pol/index.html"); st != "200" {
		t.Errorf("anonymous GET: %s", st)
	}
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, strings.ReplaceAll(doc, "arn:aws:s3:::cli-pol/*", "arn:aws:s3:::another/*"))
	if _, stderr, err := cli.try("s3api", "put-bucket-policy", "--bucket", "cli-pol", "--policy", "file://"+bad); err == nil ||
		!strings.Contains(stderr, "MalformedPolicy") || !strings.Contains(stderr, "Policy has invalid resource") {
		t.Errorf("put-bucket-policy naming another bucket: %v %s", err, stderr)
	}
	cli.run("s3api", "delete-bucket-policy", "--bucket", "cli-pol")
	if st := curlStatus(t, s.endpoint+"/cli-pol/index.html"); st != "403" {
		t.Errorf("anonymous GET after delete-bucket-policy: %s", st)
	}
	if _, stderr, err := cli.try("s3api", "get-bucket-policy-status", "--bucket", "cli-pol"); err == nil || !strings.Contains(stderr, "NoSuchBucketPolicy") {
		t.Errorf("get-bucket-policy-status without one: %v %s", err, stderr)
	}
}

// TestPolicyBlockedByDefault: with the default settings a public policy is refused as
// S3 refuses it under Block Public Access; a policy for one address range is not public.
func TestPolicyBlockedByDefault(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	cli := newAWSCLI(t, s, s.cred)
	dir := t.TempDir()
	cli.run("s3api", "create-bucket", "--bucket", "blocked")
	pf := filepath.Join(dir, "policy.json")
	writeFile(t, pf, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::blocked/*"}]}`)
	if _, stderr, err := cli.try("s3api", "put-bucket-policy", "--bucket", "blocked", "--policy", "file://"+pf); err == nil ||
		!strings.Contains(stderr, "AccessDenied") || !strings.Contains(stderr, "BlockPublicPolicy") {
		t.Errorf("a public policy by default: %v %s", err, stderr)
	}
	writeFile(t, pf, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::blocked/*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.1/32"}}}]}`)
	cli.run("s3api", "put-bucket-policy", "--bucket", "blocked", "--policy", "file://"+pf)
	file := filepath.Join(dir, "f")
	writeFile(t, file, "local only")
	cli.run("s3api", "put-object", "--bucket", "blocked", "--key", "f", "--body", file)
	if st, body := curlBody(t, s.endpoint+"/blocked/f"); st != "200" || body != "local only" {
		t.Errorf("anonymous GET from the allowed address: %s %q", st, body)
	}
}

// TestPolicyS3cmd: s3cmd setpolicy, info (which shows the policy) and delpolicy.
func TestPolicyS3cmd(t *testing.T) {
	t.Parallel()
	s := publicServer(t)
	c := newS3cmd(t, s, s.cred)
	dir := t.TempDir()
	c.run("mb", "s3://s3cmd-pol")
	file := filepath.Join(dir, "f.txt")
	writeFile(t, file, "s3cmd content")
	c.run("put", file, "s3://s3cmd-pol/f.txt")
	pf := filepath.Join(dir, "policy.json")
	writeFile(t, pf, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::s3cmd-pol/*"]}]}`)
	c.run("setpolicy", pf, "s3://s3cmd-pol")
	if info := c.run("info", "s3://s3cmd-pol"); !strings.Contains(info, "s3:GetObject") {
		t.Errorf("s3cmd info does not show the policy:\n%s", info)
	}
	if st, body := curlBody(t, s.endpoint+"/s3cmd-pol/f.txt"); st != "200" || body != "s3cmd content" {
		t.Errorf("anonymous GET after setpolicy: %s %q", st, body)
	}
	c.run("delpolicy", "s3://s3cmd-pol")
	if st := curlStatus(t, s.endpoint+"/s3cmd-pol/f.txt"); st != "403" {
		t.Errorf("anonymous GET after delpolicy: %s", st)
	}
}

// TestAnonymousBoto3: boto3 with signature_version=UNSIGNED reads a public object,
// heads and lists it, and is refused an upload, ListBuckets and a missing bucket alike.
func TestAnonymousBoto3(t *testing.T) {
	t.Parallel()
	s := publicServer(t)
	mc := newMC(t, s, s.cred)
	dir := t.TempDir()
	data := strings.Repeat("public bytes ", 100000)
	src := filepath.Join(dir, "big.bin")
	writeFile(t, src, data)
	mc.run("mb", "s3p/boto-anon")
	mc.run("cp", src, "s3p/boto-anon/big.bin")
	mc.run("anonymous", "set", "download", "s3p/boto-anon")

	out := runScript(t, "python3", s, s.cred, "boto3_anonymous.py", nil, "boto-anon", "big.bin")
	var res struct {
		SHA256        string   `json:"sha256"`
		HeadSize      int64    `json:"head_size"`
		Keys          []string `json:"keys"`
		Put           string   `json:"put"`
		ListBuckets   string   `json:"list_buckets"`
		MissingBucket string   `json:"missing_bucket"`
	}
	mustJSON(t, lastLine(out), &res)
	sum := sha256.Sum256([]byte(data))
	want := fmt.Sprintf("%+v", struct {
		SHA256      string
		HeadSize    int64
		Keys        string
		Put, LB, MB string
	}{hex.EncodeToString(sum[:]), int64(len(data)), "big.bin", "AccessDenied", "AccessDenied", "AccessDenied"})
	got := fmt.Sprintf("%+v", struct {
		SHA256      string
		HeadSize    int64
		Keys        string
		Put, LB, MB string
	}{res.SHA256, res.HeadSize, strings.Join(res.Keys, ","), res.Put, res.ListBuckets, res.MissingBucket})
	if got != want {
		t.Errorf("boto3 UNSIGNED:\n got %s\nwant %s", got, want)
	}
}
