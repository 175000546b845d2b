package e2e

// The bucket configurations users set, with the clients they set them with: tags (aws
// cli s3api, boto3, mc tag), ownership controls (aws cli, boto3) and a bucket's own
// CORS configuration (aws cli, boto3, mc cors, s3cmd setcors/info/delcors), each
// checked by what a browser's preflight then gets. The browser itself is in
// browser_test.go (TestBrowserBucketCORS).

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// preflight sends the OPTIONS request a browser sends before a cross-origin PUT.
func preflight(t testing.TB, s *server, path, origin, method string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodOptions, s.endpoint+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// corsXMLFor is a CORS configuration allowing origin to GET and PUT, in the XML that
// mc and s3cmd take from a file.
func corsXMLFor(origin string) string {
	return `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <CORSRule>
    <ID>app</ID>
    <AllowedOrigin>` + origin + `</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`
}

// checkPreflights asserts that origin may PUT to bucket and another origin may not.
func checkPreflights(t testing.TB, s *server, bucket, origin string) {
	t.Helper()
	if resp := preflight(t, s, "/"+bucket+"/k", origin, "PUT"); resp.StatusCode != 200 ||
		resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Allow-Methods") != "GET, PUT" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "content-type" || resp.Header.Get("Access-Control-Max-Age") != "3000" {
		t.Errorf("preflight from %s: %d %v", origin, resp.StatusCode, resp.Header)
	}
	if resp := preflight(t, s, "/"+bucket+"/k", "https://elsewhere.example", "PUT"); resp.StatusCode != 403 ||
		resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight from another origin: %d %v", resp.StatusCode, resp.Header)
	}
}

// TestBucketConfigAWSCLI: aws cli s3api sets, reads and deletes tags (on CreateBucket
// too), ownership controls and a CORS configuration; a preflight follows the CORS rules.
func TestBucketConfigAWSCLI(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t) // the ownership refusal is s3proxy's
	const origin = "https://app.example.com"
	s := startServer(t, serverOptions{})
	cli := newAWSCLI(t, s, s.cred)
	dir := t.TempDir()
	cli.run("s3api", "create-bucket", "--bucket", "cli-cfg", "--create-bucket-configuration", "Tags=[{Key=created-by,Value=aws-cli}]")

	var tagging struct{ TagSet []struct{ Key, Value string } }
	mustJSON(t, cli.run("s3api", "get-bucket-tagging", "--bucket", "cli-cfg"), &tagging)
	if len(tagging.TagSet) != 1 || tagging.TagSet[0].Key != "created-by" || tagging.TagSet[0].Value != "aws-cli" {
		t.Errorf("tags given to create-bucket: %+v", tagging)
	}
	cli.run("s3api", "put-bucket-tagging", "--bucket", "cli-cfg", "--tagging", "TagSet=[{Key=project,Value=blue},{Key=cost-center,Value=42}]")
	mustJSON(t, cli.run("s3api", "get-bucket-tagging", "--bucket", "cli-cfg"), &tagging)
	if len(tagging.TagSet) != 2 || tagging.TagSet[0].Key != "project" || tagging.TagSet[1].Value != "42" {
		t.Errorf("get-bucket-tagging: %+v", tagging)
	}
	if _, stderr, err := cli.try("s3api", "put-bucket-tagging", "--bucket", "cli-cfg", "--tagging", "TagSet=[{Key=aws:stack,Value=x}]"); err == nil ||
		!strings.Contains(stderr, "InvalidTag") {
		t.Errorf("an aws: tag: %v\n%s", err, stderr)
	}
	cli.run("s3api", "delete-bucket-tagging", "--bucket", "cli-cfg")
	if _, stderr, err := cli.try("s3api", "get-bucket-tagging", "--bucket", "cli-cfg"); err == nil || !strings.Contains(stderr, "NoSuchTagSet") {
		t.Errorf("get-bucket-tagging after the delete: %v\n%s", err, stderr)
	}

	cli.run("s3api", "put-bucket-ownership-controls", "--bucket", "cli-cfg", "--ownership-controls", "Rules=[{ObjectOwnership=BucketOwnerEnforced}]")
	if _, stderr, err := cli.try("s3api", "put-bucket-ownership-controls", "--bucket", "cli-cfg",
		"--ownership-controls", "Rules=[{ObjectOwnership=ObjectWriter}]"); err == nil || !strings.Contains(stderr, "NotImplemented") {
		t.Errorf("ObjectWriter: %v\n%s", err, stderr)
	}
	if out := cli.run("s3api", "get-bucket-ownership-controls", "--bucket", "cli-cfg"); !strings.Contains(out, `"ObjectOwnership": "BucketOwnerEnforced"`) {
		t.Errorf("get-bucket-ownership-controls:\n%s", out)
	}

	if _, stderr, err := cli.try("s3api", "get-bucket-cors", "--bucket", "cli-cfg"); err == nil || !strings.Contains(stderr, "NoSuchCORSConfiguration") {
		t.Errorf("get-bucket-cors before any: %v\n%s", err, stderr)
	}
	cfg := filepath.Join(dir, "cors.json")
	writeFile(t, cfg, `{"CORSRules": [{"ID": "app", "AllowedOrigins": ["`+origin+`"], "AllowedMethods": ["GET", "PUT"],
		"AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"], "MaxAgeSeconds": 3000}]}`)
	cli.run("s3api", "put-bucket-cors", "--bucket", "cli-cfg", "--cors-configuration", "file://"+cfg)
	var got struct {
		CORSRules []struct {
			ID             string
			AllowedOrigins []string
			AllowedMethods []string
			ExposeHeaders  []string
			MaxAgeSeconds  int
		}
	}
	mustJSON(t, cli.run("s3api", "get-bucket-cors", "--bucket", "cli-cfg"), &got)
	if len(got.CORSRules) != 1 || got.CORSRules[0].ID != "app" || got.CORSRules[0].AllowedOrigins[0] != origin ||
		strings.Join(got.CORSRules[0].AllowedMethods, ",") != "GET,PUT" || got.CORSRules[0].MaxAgeSeconds != 3000 {
		t.Errorf("get-bucket-cors: %+v", got)
	}
	checkPreflights(t, s, "cli-cfg", origin)
	writeFile(t, cfg, `{"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]}`)
	if _, stderr, err := cli.try("s3api", "put-bucket-cors", "--bucket", "cli-cfg", "--cors-configuration", "file://"+cfg); err == nil ||
		!strings.Contains(stderr, "InvalidRequest") || !strings.Contains(stderr, "Unsupported method is PATCH") {
		t.Errorf("a PATCH rule: %v\n%s", err, stderr)
	}
	cli.run("s3api", "delete-bucket-cors", "--bucket", "cli-cfg")
	if resp := preflight(t, s, "/cli-cfg/k", origin, "PUT"); resp.StatusCode != 403 {
		t.Errorf("preflight after delete-bucket-cors: %d", resp.StatusCode)
	}
}

// TestBucketConfigBoto3: boto3's tagging (CreateBucket's Tags included), ownership
// controls and CORS calls, and S3's codes for what is refused.
func TestBucketConfigBoto3(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t) // the ownership refusal is s3proxy's
	const origin = "https://boto.example"
	s := startServer(t, serverOptions{})
	out := runScript(t, "python3", s, s.cred, "boto3_bucketcfg.py", nil, "boto-cfg", origin)
	var res struct {
		CreatedTags            []map[string]string `json:"created_tags"`
		Tags                   []map[string]string
		TagsAfterRefusals      int `json:"tags_after_refusals"`
		Ownership              []map[string]string
		CORS                   []map[string]any
		CORSRulesAfterRefusals int `json:"cors_rules_after_refusals"`
		Codes                  map[string]string
	}
	mustJSON(t, lastLine(out), &res)
	want := map[string]string{"too_many_tags": "BadRequest", "aws_prefix": "InvalidTag", "tags_after_delete": "NoSuchTagSet",
		"object_writer": "NotImplemented", "cors_before": "NoSuchCORSConfiguration", "cors_bad_method": "InvalidRequest",
		"cors_two_wildcards": "InvalidRequest"}
	for k, v := range want {
		if res.Codes[k] != v {
			t.Errorf("%s: %s, want %s", k, res.Codes[k], v)
		}
	}
	if len(res.CreatedTags) != 1 || res.CreatedTags[0]["Value"] != "boto3" || len(res.Tags) != 2 || res.Tags[0]["Key"] != "Project" ||
		res.TagsAfterRefusals != 2 {
		t.Errorf("tags: %s", out)
	}
	if len(res.Ownership) != 1 || res.Ownership[0]["ObjectOwnership"] != "BucketOwnerEnforced" {
		t.Errorf("ownership controls after the delete: %s", out)
	}
	if len(res.CORS) != 2 || res.CORS[0]["ID"] != "app" || res.CORS[0]["MaxAgeSeconds"] != float64(3000) || res.CORSRulesAfterRefusals != 2 {
		t.Errorf("CORS: %s", out)
	}
	checkPreflights(t, s, "boto-cfg", origin)
}

// TestBucketConfigMC: mc tag set/list/remove on a bucket; mc cors set/get/remove.
func TestBucketConfigMC(t *testing.T) {
	t.Parallel()
	const origin = "https://mc.example"
	s := startServer(t, serverOptions{})
	mc := newMC(t, s, s.cred)
	mc.run("mb", "s3p/mc-cfg")
	mc.run("tag", "set", "s3p/mc-cfg", "project=blue&team=storage")
	var list struct {
		Status string
		Tagset map[string]string
	}
	mustJSON(t, lastLine(mc.run("--json", "tag", "list", "s3p/mc-cfg")), &list)
	if list.Tagset["project"] != "blue" || list.Tagset["team"] != "storage" || len(list.Tagset) != 2 {
		t.Errorf("mc tag list: %+v", list)
	}
	mc.run("tag", "remove", "s3p/mc-cfg")
	if out, stderr, err := tryTool(t, time.Minute, mc.env, "", "mc", "--config-dir", mc.dir, "--no-color", "--json", "tag", "list", "s3p/mc-cfg"); strings.Contains(out, "blue") {
		t.Errorf("mc tag list after remove: %v\n%s%s", err, out, stderr)
	}

	file := filepath.Join(t.TempDir(), "cors.xml")
	writeFile(t, file, corsXMLFor(origin))
	mc.run("cors", "set", "s3p/mc-cfg", file)
	if out := mc.run("cors", "get", "s3p/mc-cfg"); !strings.Contains(out, origin) || !strings.Contains(out, "PUT") {
		t.Errorf("mc cors get:\n%s", out)
	}
	checkPreflights(t, s, "mc-cfg", origin)
	mc.run("cors", "remove", "s3p/mc-cfg")
	if resp := preflight(t, s, "/mc-cfg/k", origin, "PUT"); resp.StatusCode != 403 {
		t.Errorf("preflight after mc cors remove: %d", resp.StatusCode)
	}
}

// TestBucketConfigS3cmd: s3cmd setcors, info (which reads every configuration of a
// bucket) and delcors.
func TestBucketConfigS3cmd(t *testing.T) {
	t.Parallel()
	const origin = "https://s3cmd.example"
	s := startServer(t, serverOptions{})
	c := newS3cmd(t, s, s.cred)
	c.run("mb", "s3://s3cmd-cfg")
	if out := c.run("info", "s3://s3cmd-cfg"); !strings.Contains(out, "CORS:") || strings.Contains(out, origin) {
		t.Errorf("s3cmd info before setcors:\n%s", out)
	}
	file := filepath.Join(t.TempDir(), "cors.xml")
	writeFile(t, file, corsXMLFor(origin))
	c.run("setcors", file, "s3://s3cmd-cfg")
	if out := c.run("info", "s3://s3cmd-cfg"); !strings.Contains(out, "<AllowedOrigin>"+origin+"</AllowedOrigin>") {
		t.Errorf("s3cmd info after setcors:\n%s", out)
	}
	checkPreflights(t, s, "s3cmd-cfg", origin)
	c.run("delcors", "s3://s3cmd-cfg")
	if out := c.run("info", "s3://s3cmd-cfg"); strings.Contains(out, origin) {
		t.Errorf("s3cmd info after delcors:\n%s", out)
	}
}
