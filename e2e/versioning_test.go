package e2e

// Bucket versioning with the clients that manage it: aws cli s3api (put/get-bucket-
// versioning, list-object-versions, get/head/delete/copy by --version-id, suspended
// versioning), mc (version enable, ls --versions, undo, rm --versions, rb --force),
// boto3 (paginated version listings, DeleteObjects by version, multipart and copies
// making versions) and rclone (--s3-versions, backend versioning). The reference
// versitygw serves versioning only when started with a versioning directory, so these
// run against s3proxy alone.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestVersioningAWSCLI: overwrites and deletes keep every version readable by id, a
// delete marker hides the key until it is removed, suspended versioning replaces only
// the null version, and the bucket cannot go while a version is left.
func TestVersioningAWSCLI(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	cli := newAWSCLI(t, s, s.cred)
	dir := t.TempDir()
	const b = "cli-versions"
	cli.run("s3api", "create-bucket", "--bucket", b)
	var st struct{ Status string }
	if out := cli.run("s3api", "get-bucket-versioning", "--bucket", b); strings.TrimSpace(out) != "" {
		mustJSON(t, out, &st)
	}
	if st.Status != "" {
		t.Errorf("get-bucket-versioning of a new bucket: %q", st.Status)
	}
	put := func(key, content string) string {
		t.Helper()
		f := filepath.Join(dir, "body")
		writeFile(t, f, content)
		var res struct{ VersionId string }
		mustJSON(t, cli.run("s3api", "put-object", "--bucket", b, "--key", key, "--body", f), &res)
		return res.VersionId
	}
	get := func(key string, args ...string) (string, error) {
		t.Helper()
		out := filepath.Join(dir, "out")
		if _, stderr, err := cli.try(append([]string{"s3api", "get-object", "--bucket", b, "--key", key}, append(args, out)...)...); err != nil {
			return stderr, err
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b), nil
	}

	if v := put("doc.txt", "before versioning"); v != "" {
		t.Errorf("put-object before versioning answered VersionId %q", v)
	}
	cli.run("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Enabled")
	mustJSON(t, cli.run("s3api", "get-bucket-versioning", "--bucket", b), &st)
	if st.Status != "Enabled" {
		t.Fatalf("get-bucket-versioning after enabling: %q", st.Status)
	}
	v1 := put("doc.txt", "first version")
	v2 := put("doc.txt", "second version")
	if v1 == "" || v2 == "" || v1 == v2 {
		t.Fatalf("versions %q and %q", v1, v2)
	}
	for id, want := range map[string]string{"null": "before versioning", v1: "first version", v2: "second version"} {
		if got, err := get("doc.txt", "--version-id", id); err != nil || got != want {
			t.Errorf("get-object --version-id %s: %q %v", id, got, err)
		}
	}
	type version struct {
		Key, VersionId string
		IsLatest       bool
		Size           int64
	}
	var list struct{ Versions, DeleteMarkers []version }
	mustJSON(t, cli.run("s3api", "list-object-versions", "--bucket", b), &list)
	if got := fmt.Sprint(list.Versions); got != fmt.Sprint([]version{
		{"doc.txt", v2, true, 14}, {"doc.txt", v1, false, 13}, {"doc.txt", "null", false, 17}}) {
		t.Errorf("list-object-versions: %s", got)
	}

	// A delete makes a marker: the key is gone, its versions are not.
	var del struct {
		DeleteMarker bool
		VersionId    string
	}
	mustJSON(t, cli.run("s3api", "delete-object", "--bucket", b, "--key", "doc.txt"), &del)
	if !del.DeleteMarker || del.VersionId == "" {
		t.Fatalf("delete-object in a versioned bucket: %+v", del)
	}
	if _, stderr, err := cli.try("s3api", "head-object", "--bucket", b, "--key", "doc.txt"); err == nil || !strings.Contains(stderr, "404") {
		t.Errorf("head-object behind a delete marker: %v %s", err, stderr)
	}
	if _, stderr, err := cli.try("s3api", "head-object", "--bucket", b, "--key", "doc.txt", "--version-id", del.VersionId); err == nil || !strings.Contains(stderr, "405") {
		t.Errorf("head-object of the delete marker: %v %s", err, stderr)
	}
	if got, err := get("doc.txt", "--version-id", v1); err != nil || got != "first version" {
		t.Errorf("a version behind the delete marker: %q %v", got, err)
	}
	if out := cli.run("s3", "ls", "s3://"+b); strings.Contains(out, "doc.txt") {
		t.Errorf("aws s3 ls lists a deleted key: %s", out)
	}
	// A copy from a version, then removing the marker brings v2 back.
	var cp struct {
		CopySourceVersionId, VersionId string
	}
	mustJSON(t, cli.run("s3api", "copy-object", "--bucket", b, "--key", "restored.txt", "--copy-source", b+"/doc.txt?versionId="+v1), &cp)
	if cp.CopySourceVersionId != v1 || cp.VersionId == "" {
		t.Errorf("copy-object from a version: %+v", cp)
	}
	if got, err := get("restored.txt"); err != nil || got != "first version" {
		t.Errorf("the copy of v1: %q %v", got, err)
	}
	cli.run("s3api", "delete-object", "--bucket", b, "--key", "doc.txt", "--version-id", del.VersionId)
	if got, err := get("doc.txt"); err != nil || got != "second version" {
		t.Errorf("after removing the delete marker: %q %v", got, err)
	}
	// Removing the current version for good uncovers the one before it.
	cli.run("s3api", "delete-object", "--bucket", b, "--key", "doc.txt", "--version-id", v2)
	if got, err := get("doc.txt"); err != nil || got != "first version" {
		t.Errorf("after removing v2: %q %v", got, err)
	}
	if stderr, err := get("doc.txt", "--version-id", v2); err == nil || !strings.Contains(stderr, "NoSuchVersion") {
		t.Errorf("get-object of a removed version: %v %s", err, stderr)
	}
	if stderr, err := get("doc.txt", "--version-id", "not-a-version"); err == nil || !strings.Contains(stderr, "InvalidArgument") {
		t.Errorf("get-object of a malformed version id: %v %s", err, stderr)
	}

	// Suspended: writes make the null version, replacing the one there was.
	cli.run("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration", "Status=Suspended")
	put("doc.txt", "suspended one")
	put("doc.txt", "suspended two")
	list.Versions, list.DeleteMarkers = nil, nil
	mustJSON(t, cli.run("s3api", "list-object-versions", "--bucket", b, "--prefix", "doc"), &list)
	if got := fmt.Sprint(list.Versions); got != fmt.Sprint([]version{{"doc.txt", "null", true, 13}, {"doc.txt", v1, false, 13}}) {
		t.Errorf("list-object-versions while suspended: %s", got)
	}

	if _, stderr, err := cli.try("s3api", "delete-bucket", "--bucket", b); err == nil || !strings.Contains(stderr, "BucketNotEmpty") {
		t.Errorf("delete-bucket with versions left: %v %s", err, stderr)
	}
	list.Versions, list.DeleteMarkers = nil, nil
	mustJSON(t, cli.run("s3api", "list-object-versions", "--bucket", b), &list)
	for _, v := range append(list.Versions, list.DeleteMarkers...) {
		cli.run("s3api", "delete-object", "--bucket", b, "--key", v.Key, "--version-id", v.VersionId)
	}
	cli.run("s3api", "delete-bucket", "--bucket", b)
}

// TestVersioningMC: mc's versioning commands, and the undo of a delete.
func TestVersioningMC(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	mc := newMC(t, s, s.cred)
	dir := t.TempDir()
	src := filepath.Join(dir, "f.txt")
	mc.run("mb", "s3p/mc-versions")
	mc.run("version", "enable", "s3p/mc-versions")
	if out := mc.run("version", "info", "s3p/mc-versions"); !strings.Contains(out, "enabled") {
		t.Errorf("mc version info: %s", out)
	}
	for _, content := range []string{"one", "two", "three"} {
		writeFile(t, src, content)
		mc.run("cp", src, "s3p/mc-versions/f.txt")
	}
	mc.run("rm", "s3p/mc-versions/f.txt")
	out := mc.run("ls", "--versions", "s3p/mc-versions")
	for _, want := range []string{"v4 DEL f.txt", "v3 PUT f.txt", "v2 PUT f.txt", "v1 PUT f.txt"} {
		if !strings.Contains(out, want) {
			t.Errorf("mc ls --versions lacks %q:\n%s", want, out)
		}
	}
	mc.run("undo", "s3p/mc-versions/f.txt")
	if got := mc.run("cat", "s3p/mc-versions/f.txt"); got != "three" {
		t.Errorf("mc cat after mc undo: %q", got)
	}
	mc.run("rm", "--versions", "--force", "--recursive", "s3p/mc-versions")
	if out := mc.run("ls", "--versions", "s3p/mc-versions"); strings.TrimSpace(out) != "" {
		t.Errorf("versions left after mc rm --versions: %s", out)
	}
	mc.run("rb", "s3p/mc-versions")
}

// TestVersioningBoto3: a paginated version listing, DeleteObjects by version, and the
// versions a multipart upload and a copy make (testdata/boto3_versioning.py).
func TestVersioningBoto3(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	out := runScript(t, "python3", s, s.cred, "boto3_versioning.py", nil, "boto-versions")
	var res struct {
		Pages      int      `json:"pages"`
		Listed     []string `json:"listed"`
		Multipart  bool     `json:"multipart_version"`
		Copy       bool     `json:"copy_version"`
		Deleted    []string `json:"deleted"`
		Remaining  []string `json:"remaining"`
		Markers    []string `json:"markers"`
		GotVersion string   `json:"got_version"`
	}
	mustJSON(t, lastLine(out), &res)
	if res.Pages < 5 || len(res.Listed) != 9 {
		t.Errorf("paginated list_object_versions: %d pages, %v", res.Pages, res.Listed)
	}
	if !res.Multipart || !res.Copy {
		t.Errorf("multipart upload / copy without a VersionId: %+v", res)
	}
	if res.GotVersion != "v0 of a" {
		t.Errorf("get_object by VersionId: %q", res.GotVersion)
	}
	b, _ := json.Marshal(res)
	if strings.Join(res.Remaining, ",") != "a:copy,a:mp" || len(res.Deleted) != 9 || len(res.Markers) != 0 {
		t.Errorf("after delete_objects: %s", b)
	}
}

// TestVersioningRclone: rclone turns versioning on with its backend command and lists
// old versions with --s3-versions.
func TestVersioningRclone(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	rc := newRclone(t, s, s.cred)
	dir := t.TempDir()
	src := filepath.Join(dir, "r.txt")
	rc.run("mkdir", "s3p:rc-versions")
	rc.run("backend", "versioning", "s3p:rc-versions", "Enabled")
	if out := rc.run("backend", "versioning", "s3p:rc-versions"); strings.TrimSpace(out) != "Enabled" {
		t.Errorf("rclone backend versioning: %q", out)
	}
	for _, content := range []string{"old", "newer"} {
		writeFile(t, src, content)
		rc.run("copyto", src, "s3p:rc-versions/r.txt")
	}
	out := rc.run("lsf", "--s3-versions", "s3p:rc-versions")
	lines := strings.Fields(out)
	if len(lines) != 2 || lines[0] != "r.txt" && lines[1] != "r.txt" {
		t.Fatalf("rclone lsf --s3-versions: %q", out)
	}
	var old string
	for _, l := range lines {
		if l != "r.txt" {
			old = l // r-v2026-11-30-051525-000.txt: the old version, named by its time
		}
	}
	if got := rc.run("cat", "--s3-versions", "s3p:rc-versions/"+old); got != "old" {
		t.Errorf("rclone cat of the old version %s: %q", old, got)
	}
	if got := rc.run("cat", "s3p:rc-versions/r.txt"); got != "newer" {
		t.Errorf("rclone cat of the current version: %q", got)
	}
}

// TestVersioningLifecycle: mc ilm sets NoncurrentVersionExpiration and
// ExpiredObjectDeleteMarker on a versioned bucket; `s3proxy lifecycle --dry-run --at`
// reports the noncurrent versions due, keeping the newer one the rule retains.
func TestVersioningLifecycle(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	mc := newMC(t, s, s.cred)
	dir := t.TempDir()
	src := filepath.Join(dir, "f.txt")
	mc.run("mb", "s3p/mc-ilm")
	mc.run("version", "enable", "s3p/mc-ilm")
	for _, content := range []string{"one", "two", "three"} {
		writeFile(t, src, content)
		mc.run("cp", src, "s3p/mc-ilm/docs/f.txt")
	}
	mc.run("ilm", "rule", "add", "--noncurrent-expire-days", "1", "--noncurrent-expire-newer", "1", "--prefix", "docs/", "s3p/mc-ilm")
	mc.run("ilm", "rule", "add", "--expire-delete-marker", "s3p/mc-ilm")
	if out := mc.run("ilm", "rule", "ls", "s3p/mc-ilm"); !strings.Contains(out, "docs/") {
		t.Errorf("mc ilm rule ls: %s", out)
	}
	var oldest string
	for _, l := range strings.Split(mc.run("ls", "--versions", "s3p/mc-ilm/docs/f.txt"), "\n") {
		if strings.Contains(l, " v1 PUT ") {
			for _, f := range strings.Fields(l) {
				if len(f) == 26 {
					oldest = f // the ULID
				}
			}
		}
	}
	if oldest == "" {
		t.Fatal("no v1 in mc ls --versions")
	}
	report := dryRun(t, s, daysAhead(3))
	if !strings.Contains(report, "expire mc-ilm/docs/f.txt version "+oldest) ||
		strings.Count(report, "expire mc-ilm/docs/f.txt version ") != 1 ||
		!strings.Contains(report, "would remove 1 noncurrent versions") {
		t.Errorf("dry run three days ahead:\n%s", report)
	}
}

// TestObjectLockClients: Object Lock with mc (mb --with-lock, retention set --default,
// legalhold, retention info) and the aws cli (object-lock headers on put-object, a
// version removal refused and then allowed with --bypass-governance-retention).
func TestObjectLockClients(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	mc := newMC(t, s, s.cred)
	cli := newAWSCLI(t, s, s.cred)
	dir := t.TempDir()
	src := filepath.Join(dir, "f.txt")
	writeFile(t, src, "worm")
	mc.run("mb", "--with-lock", "s3p/mc-lock")
	mc.run("retention", "set", "--default", "GOVERNANCE", "1d", "s3p/mc-lock")
	if out := mc.run("retention", "info", "--default", "s3p/mc-lock"); !strings.Contains(out, "GOVERNANCE") {
		t.Errorf("mc retention info --default: %s", out)
	}
	mc.run("cp", src, "s3p/mc-lock/f.txt")
	if out := mc.run("retention", "info", "s3p/mc-lock/f.txt"); !strings.Contains(out, "GOVERNANCE") {
		t.Errorf("mc retention info of an object under the default: %s", out)
	}
	mc.run("legalhold", "set", "s3p/mc-lock/f.txt")
	if out := mc.run("legalhold", "info", "s3p/mc-lock/f.txt"); !strings.Contains(out, "ON") {
		t.Errorf("mc legalhold info: %s", out)
	}

	var put struct{ VersionId string }
	until := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	mustJSON(t, cli.run("s3api", "put-object", "--bucket", "mc-lock", "--key", "g.txt", "--body", src,
		"--object-lock-mode", "GOVERNANCE", "--object-lock-retain-until-date", until), &put)
	var head struct{ ObjectLockMode, ObjectLockRetainUntilDate string }
	mustJSON(t, cli.run("s3api", "head-object", "--bucket", "mc-lock", "--key", "g.txt"), &head)
	if head.ObjectLockMode != "GOVERNANCE" || head.ObjectLockRetainUntilDate == "" {
		t.Errorf("head-object under retention: %+v", head)
	}
	if _, stderr, err := cli.try("s3api", "delete-object", "--bucket", "mc-lock", "--key", "g.txt", "--version-id", put.VersionId); err == nil || !strings.Contains(stderr, "AccessDenied") {
		t.Errorf("delete-object of a retained version: %v %s", err, stderr)
	}
	cli.run("s3api", "delete-object", "--bucket", "mc-lock", "--key", "g.txt", "--version-id", put.VersionId, "--bypass-governance-retention")
}
