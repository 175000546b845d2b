package e2e

// Block Public Access per bucket with the clients that set it (aws cli s3api
// put/get/delete-public-access-block, boto3).

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublicAccessBlockAWSCLI: aws s3api put-public-access-block,
// get-public-access-block and delete-public-access-block on a server whose gateway-wide
// switch is off: the bucket's BlockPublicPolicy refuses a public policy, its
// RestrictPublicBuckets keeps curl without credentials out (and
// get-bucket-policy-status says the bucket is not public), and the delete lets it in.
func TestPublicAccessBlockAWSCLI(t *testing.T) {
	t.Parallel()
	s := publicServer(t)
	cli := newAWSCLI(t, s, s.cred)
	dir := t.TempDir()
	cli.run("s3api", "create-bucket", "--bucket", "cli-pab")
	file := filepath.Join(dir, "index.html")
	writeFile(t, file, "index")
	cli.run("s3api", "put-object", "--bucket", "cli-pab", "--key", "index.html", "--body", file)

	if _, stderr, err := cli.try("s3api", "get-public-access-block", "--bucket", "cli-pab"); err == nil || !strings.Contains(stderr, "NoSuchPublicAccessBlockConfiguration") {
		t.Errorf("get-public-access-block without one: %v %s", err, stderr)
	}
	cli.run("s3api", "put-public-access-block", "--bucket", "cli-pab", "--public-access-block-configuration",
		"BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=false")
	var got struct {
		PublicAccessBlockConfiguration struct {
			BlockPublicAcls, IgnorePublicAcls, BlockPublicPolicy, RestrictPublicBuckets bool
		}
	}
	mustJSON(t, cli.run("s3api", "get-public-access-block", "--bucket", "cli-pab"), &got)
	if c := got.PublicAccessBlockConfiguration; !c.BlockPublicAcls || !c.IgnorePublicAcls || !c.BlockPublicPolicy || c.RestrictPublicBuckets {
		t.Errorf("get-public-access-block: %+v", c)
	}
	pf := filepath.Join(dir, "policy.json")
	writeFile(t, pf, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::cli-pab/*"}]}`)
	if _, stderr, err := cli.try("s3api", "put-bucket-policy", "--bucket", "cli-pab", "--policy", "file://"+pf); err == nil ||
		!strings.Contains(stderr, "AccessDenied") || !strings.Contains(stderr, "BlockPublicPolicy") {
		t.Errorf("a public policy under the bucket's BlockPublicPolicy: %v %s", err, stderr)
	}
	if _, stderr, err := cli.try("s3api", "put-object", "--bucket", "cli-pab", "--key", "acl", "--body", file, "--acl", "public-read"); err == nil ||
		!strings.Contains(stderr, "AccessControlListNotSupported") {
		t.Errorf("a public-read upload under BlockPublicAcls: %v %s", err, stderr)
	}

	cli.run("s3api", "put-public-access-block", "--bucket", "cli-pab", "--public-access-block-configuration", "RestrictPublicBuckets=true")
	cli.run("s3api", "put-bucket-policy", "--bucket", "cli-pab", "--policy", "file://"+pf)
	var status struct{ PolicyStatus struct{ IsPublic bool } }
	mustJSON(t, cli.run("s3api", "get-bucket-policy-status", "--bucket", "cli-pab"), &status)
	if status.PolicyStatus.IsPublic {
		t.Error("get-bucket-policy-status under RestrictPublicBuckets: public")
	}
	if st := curlStatus(t, s.endpoint+"/cli-pab/index.html"); st != "403" {
		t.Errorf("anonymous GET under RestrictPublicBuckets: %s", st)
	}

	cli.run("s3api", "delete-public-access-block", "--bucket", "cli-pab")
	if _, stderr, err := cli.try("s3api", "get-public-access-block", "--bucket", "cli-pab"); err == nil || !strings.Contains(stderr, "NoSuchPublicAccessBlockConfiguration") {
		t.Errorf("get-public-access-block after the delete: %v %s", err, stderr)
	}
	mustJSON(t, cli.run("s3api", "get-bucket-policy-status", "--bucket", "cli-pab"), &status)
	if !status.PolicyStatus.IsPublic {
		t.Error("get-bucket-policy-status after delete-public-access-block: not public")
	}
	if st, body := curlBody(t, s.endpoint+"/cli-pab/index.html"); st != "200" || body != "index" {
		t.Errorf("anonymous GET after delete-public-access-block: %s %q", st, body)
	}
}

// TestPublicAccessBlockBoto3: boto3's put/get/delete_public_access_block and what
// they do to a public policy and an unsigned client (testdata/boto3_publicaccess.py).
func TestPublicAccessBlockBoto3(t *testing.T) {
	t.Parallel()
	s := publicServer(t)
	out := runScript(t, "python3", s, s.cred, "boto3_publicaccess.py", nil, "boto-pab")
	var res struct {
		Codes                map[string]string `json:"codes"`
		Blocking             map[string]bool   `json:"blocking"`
		Restricting          map[string]bool   `json:"restricting"`
		RestrictedIsPublic   bool              `json:"restricted_is_public"`
		UnrestrictedIsPublic bool              `json:"unrestricted_is_public"`
	}
	mustJSON(t, lastLine(out), &res)
	wantCodes := map[string]string{
		"get_before":               "NoSuchPublicAccessBlockConfiguration",
		"empty":                    "InvalidRequest",
		"public_policy_blocked":    "AccessDenied",
		"public_acl":               "AccessControlListNotSupported",
		"public_policy_restricted": "OK",
		"anonymous_restricted":     "AccessDenied",
		"get_after_delete":         "NoSuchPublicAccessBlockConfiguration",
		"anonymous_unrestricted":   "OK",
	}
	if fmt.Sprint(res.Codes) != fmt.Sprint(wantCodes) {
		t.Errorf("codes:\n got %v\nwant %v", res.Codes, wantCodes)
	}
	all := func(acls, ignore, block, restrict bool) string {
		b, _ := json.Marshal(map[string]bool{"BlockPublicAcls": acls, "IgnorePublicAcls": ignore, "BlockPublicPolicy": block, "RestrictPublicBuckets": restrict})
		return string(b)
	}
	js := func(m map[string]bool) string { b, _ := json.Marshal(m); return string(b) }
	if got, want := js(res.Blocking), all(true, false, true, false); got != want {
		t.Errorf("blocking configuration read back: %s, want %s", got, want)
	}
	if got, want := js(res.Restricting), all(false, false, false, true); got != want {
		t.Errorf("restricting configuration read back: %s, want %s", got, want)
	}
	if res.RestrictedIsPublic || !res.UnrestrictedIsPublic {
		t.Errorf("policy status: restricted %v, unrestricted %v", res.RestrictedIsPublic, res.UnrestrictedIsPublic)
	}
}
