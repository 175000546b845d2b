package e2e

// Bucket lifecycle configuration with the clients users set it with: the aws cli
// (s3api put/get/delete-bucket-lifecycle-configuration), boto3, mc (ilm rule add, ls,
// rm) and s3cmd (setlifecycle, getlifecycle, expire, dellifecycle). What the rules do
// is checked on the real binary: the background pass of a server, and `s3proxy
// lifecycle` (its dry run with --at shows what the rules make due days ahead, where a
// test cannot wait).

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// todayUTC is the last midnight UTC, a valid expiration Date that is already due.
func todayUTC() string { return time.Now().UTC().Format(time.DateOnly) }

// daysAhead is a date n days from now, for dry runs.
func daysAhead(n int) string { return time.Now().UTC().AddDate(0, 0, n).Format(time.DateOnly) }

// keysOf lists a bucket's keys with the SDK.
func keysOf(t testing.TB, s *server, bucket string) []string {
	t.Helper()
	out, err := s3Client(s, s.cred).ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var ks []string
	for _, o := range out.Contents {
		ks = append(ks, aws.ToString(o.Key))
	}
	return ks
}

func putKeys(t testing.TB, s *server, bucket string, keys ...string) {
	t.Helper()
	c := s3Client(s, s.cred)
	for _, k := range keys {
		if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k),
			Body: strings.NewReader("content of " + k)}); err != nil {
			t.Fatal(err)
		}
	}
}

// dryRun runs `s3proxy lifecycle --dry-run --at date` and returns its report.
func dryRun(t testing.TB, s *server, date string) string {
	t.Helper()
	return string(s.admincmd("lifecycle", "--dry-run", "--at", date))
}

// TestLifecycleAWSCLI: aws cli s3api sets, reads and deletes a configuration; a
// server running its background pass every second expires what a past Date makes due
// and counts it in /metrics; Days and abort rules show in a dry run days ahead; a
// Transition is refused with NotImplemented.
func TestLifecycleAWSCLI(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{args: []string{"--lifecycle-interval", "1s"}})
	cli := newAWSCLI(t, s, s.cred)
	dir := t.TempDir()
	sdk := s3Client(s, s.cred)
	if _, err := sdk.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String("cli-lc")}); err != nil {
		t.Fatal(err)
	}
	putKeys(t, s, "cli-lc", "old/a", "old/b", "logs/2026/x", "keep/y")
	up, err := sdk.CreateMultipartUpload(ctxT(t), &s3.CreateMultipartUploadInput{Bucket: aws.String("cli-lc"), Key: aws.String("parts/abandoned")})
	if err != nil {
		t.Fatal(err)
	}

	cfg := filepath.Join(dir, "lc.json")
	writeFile(t, cfg, `{"Rules": [
		{"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "old/"}, "Expiration": {"Date": "`+todayUTC()+`T00:00:00Z"}},
		{"ID": "logs", "Status": "Enabled", "Filter": {"And": {"Prefix": "logs/", "ObjectSizeGreaterThan": 5}}, "Expiration": {"Days": 2}},
		{"Status": "Enabled", "Filter": {"Prefix": ""}, "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
	]}`)
	cli.run("s3api", "put-bucket-lifecycle-configuration", "--bucket", "cli-lc", "--lifecycle-configuration", "file://"+cfg)
	var got struct {
		Rules []struct {
			ID, Status string
			Filter     map[string]any
			Expiration map[string]any
		}
		TransitionDefaultMinimumObjectSize string
	}
	if err := json.Unmarshal([]byte(cli.run("s3api", "get-bucket-lifecycle-configuration", "--bucket", "cli-lc")), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Rules) != 3 || got.Rules[0].ID != "old" || got.Rules[1].ID != "logs" || len(got.Rules[2].ID) != 48 ||
		got.Rules[0].Filter["Prefix"] != "old/" || got.Rules[1].Expiration["Days"] != float64(2) ||
		got.TransitionDefaultMinimumObjectSize != "all_storage_classes_128K" {
		t.Errorf("get-bucket-lifecycle-configuration: %+v", got)
	}

	// The background pass (every second here) expires old/ at once: its Date is past.
	deadline := time.Now().Add(20 * time.Second)
	for slices.Contains(keysOf(t, s, "cli-lc"), "old/a") && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if ks := keysOf(t, s, "cli-lc"); strings.Join(ks, " ") != "keep/y logs/2026/x" {
		t.Fatalf("keys after the background pass: %q", ks)
	}
	resp, err := http.Get(s.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "s3proxy_lifecycle_expired_objects_total 2") {
		t.Errorf("/metrics after the pass:\n%s", grepLines(string(metrics), "s3proxy_lifecycle"))
	}

	// Days-based rules, as of three days ahead.
	report := dryRun(t, s, daysAhead(3))
	for _, want := range []string{"expire cli-lc/logs/2026/x (", "abort cli-lc/parts/abandoned upload " + aws.ToString(up.UploadId), "would expire 1 objects"} {
		if !strings.Contains(report, want) {
			t.Errorf("dry run lacks %q:\n%s", want, report)
		}
	}

	// The aws cli shows when a rule will delete an object (x-amz-expiration): logs/ objects
	// larger than 5 bytes, two days after they were written; none for keep/y.
	var head struct{ Expiration, LastModified string }
	mustJSON(t, cli.run("s3api", "head-object", "--bucket", "cli-lc", "--key", "logs/2026/x"), &head)
	if mod, err := time.Parse(time.RFC1123, head.LastModified); err != nil ||
		head.Expiration != `expiry-date="`+mod.UTC().Truncate(24*time.Hour).AddDate(0, 0, 3).Format(http.TimeFormat)+`", rule-id="logs"` {
		t.Errorf("head-object logs/2026/x: %+v (%v)", head, err)
	}
	var keep struct{ Expiration *string }
	mustJSON(t, cli.run("s3api", "head-object", "--bucket", "cli-lc", "--key", "keep/y"), &keep)
	if keep.Expiration != nil {
		t.Errorf("head-object keep/y: Expiration %q", *keep.Expiration)
	}

	writeFile(t, cfg, `{"Rules": [{"ID": "t", "Status": "Enabled", "Filter": {"Prefix": ""}, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]}`)
	if _, stderr, err := cli.try("s3api", "put-bucket-lifecycle-configuration", "--bucket", "cli-lc", "--lifecycle-configuration", "file://"+cfg); err == nil ||
		!strings.Contains(stderr, "NotImplemented") {
		t.Errorf("a transition: %v\n%s", err, stderr)
	}
	cli.run("s3api", "delete-bucket-lifecycle", "--bucket", "cli-lc")
	if _, stderr, err := cli.try("s3api", "get-bucket-lifecycle-configuration", "--bucket", "cli-lc"); err == nil || !strings.Contains(stderr, "NoSuchLifecycleConfiguration") {
		t.Errorf("get after delete: %v\n%s", err, stderr)
	}
}

// TestLifecycleBoto3: every filter form and action boto3 sends reads back as set;
// boto3 sees S3's codes for a Transition, Days 0 and a duplicate ID.
func TestLifecycleBoto3(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t) // generated IDs and the refused Transition are s3proxy's
	s := startServer(t, serverOptions{})
	if _, err := s3Client(s, s.cred).CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String("boto-lc")}); err != nil {
		t.Fatal(err)
	}
	out := runScript(t, "python3", s, s.cred, "boto3_lifecycle.py", nil, "boto-lc", "2030-01-01")
	var res struct {
		Rules []struct {
			ID                             string
			Status                         string
			Prefix                         *string
			Filter                         map[string]any
			Expiration                     map[string]any
			AbortIncompleteMultipartUpload map[string]any
			NoncurrentVersionExpiration    map[string]any
		}
		Minimum       string
		Codes         map[string]string
		AfterRefusals int `json:"after_refusals"`
	}
	mustJSON(t, lastLine(out), &res)
	if len(res.Rules) != 5 {
		t.Fatalf("rules read back: %s", out)
	}
	r := res.Rules
	and, _ := r[2].Filter["And"].(map[string]any)
	tag, _ := r[1].Filter["Tag"].(map[string]any)
	for _, check := range []struct {
		what string
		ok   bool
	}{
		{"prefix rule", r[0].ID == "prefix" && r[0].Filter["Prefix"] == "logs/" && r[0].Expiration["Days"] == float64(30)},
		{"tag rule", r[1].ID == "tag" && tag["Key"] == "scratch" && tag["Value"] == "yes"},
		{"And rule", r[2].Status == "Disabled" && and["Prefix"] == "big/" && and["ObjectSizeGreaterThan"] == float64(1048576) &&
			and["ObjectSizeLessThan"] == float64(1073741824) && len(and["Tags"].([]any)) == 2 &&
			strings.HasPrefix(r[2].Expiration["Date"].(string), "2030-01-01 00:00:00")},
		{"legacy prefix", r[3].ID == "legacy" && r[3].Prefix != nil && *r[3].Prefix == "old/" && r[3].Filter == nil},
		{"generated ID, abort, noncurrent", len(r[4].ID) == 48 && r[4].AbortIncompleteMultipartUpload["DaysAfterInitiation"] == float64(2) &&
			r[4].NoncurrentVersionExpiration["NoncurrentDays"] == float64(5)},
		{"transition minimum", res.Minimum == "all_storage_classes_128K"},
		{"refusals", res.Codes["transition"] == "NotImplemented" && res.Codes["days0"] == "InvalidArgument" && res.Codes["duplicate"] == "InvalidArgument"},
		{"refusals stored nothing", res.AfterRefusals == 5},
		{"delete", res.Codes["get_after_delete"] == "NoSuchLifecycleConfiguration"},
	} {
		if !check.ok {
			t.Errorf("%s: %s", check.what, out)
		}
	}
}

// TestLifecycleMC: mc ilm rule add (prefix, tags), ls and rm; the rules mc writes make
// the objects they select due; mc's transition is refused.
func TestLifecycleMC(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	mc := newMC(t, s, s.cred)
	mc.run("mb", "s3p/mc-lc")
	putKeys(t, s, "mc-lc", "tmp/a", "keep/b")
	empty := filepath.Join(t.TempDir(), "empty")
	writeFile(t, empty, "")
	mc.run("cp", "--tags", "scratch=yes", empty, "s3p/mc-lc/keep/tagged")

	idOf := func(out string) string {
		t.Helper()
		var m struct{ ID string }
		mustJSON(t, lastLine(out), &m)
		if m.ID == "" {
			t.Fatalf("no rule ID in %s", out)
		}
		return m.ID
	}
	tmpID := idOf(mc.run("--json", "ilm", "rule", "add", "--prefix", "tmp/", "--expire-days", "2", "s3p/mc-lc"))
	tagID := idOf(mc.run("--json", "ilm", "rule", "add", "--tags", "scratch=yes", "--expire-days", "5", "s3p/mc-lc"))
	ls := mc.run("--json", "ilm", "rule", "ls", "s3p/mc-lc")
	for _, want := range []string{tmpID, tagID, `"Prefix":"tmp/"`, `"Days":2`, `"Days":5`, `"scratch"`} {
		if !strings.Contains(ls, want) {
			t.Errorf("mc ilm rule ls lacks %s:\n%s", want, ls)
		}
	}
	if out := mc.run("ilm", "rule", "ls", "s3p/mc-lc"); !strings.Contains(out, "tmp/") {
		t.Errorf("mc ilm rule ls (table):\n%s", out)
	}
	if report := dryRun(t, s, daysAhead(3)); !strings.Contains(report, "expire mc-lc/tmp/a (") || strings.Contains(report, "keep/") {
		t.Errorf("dry run 3 days ahead:\n%s", report)
	}
	if report := dryRun(t, s, daysAhead(6)); !strings.Contains(report, "expire mc-lc/keep/tagged (0 B, rule "+tagID+")") || strings.Contains(report, "keep/b") {
		t.Errorf("dry run 6 days ahead:\n%s", report)
	}
	if out, stderr, err := tryTool(t, time.Minute, mc.env, "", "mc", "--config-dir", mc.dir, "--no-color", "--disable-pager",
		"ilm", "rule", "add", "--transition-days", "30", "--transition-tier", "GLACIER", "s3p/mc-lc"); err == nil ||
		!strings.Contains(out+stderr, "not supported") {
		t.Errorf("mc ilm rule add with a transition: %v\n%s%s", err, out, stderr)
	}
	mc.run("ilm", "rule", "rm", "--id", tmpID, "s3p/mc-lc")
	if ls := mc.run("--json", "ilm", "rule", "ls", "s3p/mc-lc"); strings.Contains(ls, tmpID) || !strings.Contains(ls, tagID) {
		t.Errorf("after rm --id:\n%s", ls)
	}
	mc.run("ilm", "rule", "rm", "--all", "--force", "s3p/mc-lc")
	_, err := s3Client(s, s.cred).GetBucketLifecycleConfiguration(ctxT(t), &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("mc-lc")})
	if err == nil || !strings.Contains(err.Error(), "NoSuchLifecycleConfiguration") {
		t.Errorf("after rm --all: %v", err)
	}
}

// TestLifecycleS3cmd: s3cmd setlifecycle, getlifecycle, info, expire (days, then a
// date) and dellifecycle; `s3proxy lifecycle` expires what the date made due.
func TestLifecycleS3cmd(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	c := newS3cmd(t, s, s.cred)
	dir := t.TempDir()
	c.run("mb", "s3://s3cmd-lc")
	putKeys(t, s, "s3cmd-lc", "logs/a", "old/b", "old/c", "keep/d")

	policy := filepath.Join(dir, "lifecycle.xml")
	writeFile(t, policy, `<?xml version="1.0" encoding="UTF-8"?>
<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Rule>
    <ID>logs-rule</ID>
    <Filter><Prefix>logs/</Prefix></Filter>
    <Status>Enabled</Status>
    <Expiration><Days>1</Days></Expiration>
    <AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload>
  </Rule>
</LifecycleConfiguration>`)
	c.run("setlifecycle", policy, "s3://s3cmd-lc")
	if out := c.run("getlifecycle", "s3://s3cmd-lc"); !strings.Contains(out, "<ID>logs-rule</ID>") || !strings.Contains(out, "<Days>1</Days>") ||
		!strings.Contains(out, "<DaysAfterInitiation>3</DaysAfterInitiation>") {
		t.Errorf("s3cmd getlifecycle:\n%s", out)
	}
	if report := dryRun(t, s, daysAhead(2)); !strings.Contains(report, "expire s3cmd-lc/logs/a (") || strings.Contains(report, "old/") {
		t.Errorf("dry run:\n%s", report)
	}

	// expire replaces the configuration with one rule without ID (S3 generates one).
	c.run("expire", "s3://s3cmd-lc", "--expiry-days=2", "--expiry-prefix=old/")
	out := c.run("getlifecycle", "s3://s3cmd-lc")
	if !regexp.MustCompile(`<ID>[A-Za-z0-9+/=]{48}</ID>`).MatchString(out) || strings.Contains(out, "logs-rule") || !strings.Contains(out, "<Prefix>old/</Prefix>") {
		t.Errorf("s3cmd getlifecycle after expire:\n%s", out)
	}
	if out := c.run("info", "s3://s3cmd-lc"); !strings.Contains(out, "Expiration Rule") || !strings.Contains(out, "old/") {
		t.Errorf("s3cmd info:\n%s", out)
	}

	// A date that has come: `s3proxy lifecycle` expires old/ now.
	c.run("expire", "s3://s3cmd-lc", "--expiry-date="+todayUTC()+"T00:00:00.000Z", "--expiry-prefix=old/")
	if out := string(s.admincmd("lifecycle")); !strings.Contains(out, "expired 2 objects") {
		t.Errorf("s3proxy lifecycle:\n%s", out)
	}
	if ks := keysOf(t, s, "s3cmd-lc"); strings.Join(ks, " ") != "keep/d logs/a" {
		t.Errorf("keys after the pass: %q", ks)
	}

	writeFile(t, policy, `<LifecycleConfiguration><Rule><ID>t</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>`+
		`<Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition></Rule></LifecycleConfiguration>`)
	if _, stderr, err := c.try("setlifecycle", policy, "s3://s3cmd-lc"); err == nil || !strings.Contains(stderr, "NotImplemented") {
		t.Errorf("s3cmd setlifecycle with a transition: %v\n%s", err, stderr)
	}
	c.run("dellifecycle", "s3://s3cmd-lc")
	if _, stderr, err := c.try("getlifecycle", "s3://s3cmd-lc"); err == nil || !strings.Contains(stderr, "NoSuchLifecycleConfiguration") {
		t.Errorf("s3cmd getlifecycle after dellifecycle: %v\n%s", err, stderr)
	}
	// expire without days or date deletes the configuration too.
	c.run("expire", "s3://s3cmd-lc", "--expiry-days=1")
	if out := c.run("expire", "s3://s3cmd-lc"); !strings.Contains(out, "deleted") {
		t.Errorf("s3cmd expire without a date:\n%s", out)
	}
	if _, _, err := c.try("getlifecycle", "s3://s3cmd-lc"); err == nil {
		t.Errorf("a configuration is left after s3cmd expire without a date")
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
