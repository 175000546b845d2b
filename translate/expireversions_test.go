package translate

import (
	"io"
	"slices"
	"testing"
	"time"

	"s3proxy/translate/lifecycle"
)

// versionsOf lists the bucket's versions as "key:body" (the version's content, read by
// id) or "key:marker", newest first per key.
func (f *lcFixture) versionsOf(bucket string) []string {
	f.t.Helper()
	out, err := f.svc.ListObjectVersions(f.ctx, &ListVersionsInput{Principal: f.p, Bucket: bucket, MaxKeys: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	var vs []string
	for _, v := range out.Versions {
		if v.DeleteMarker {
			vs = append(vs, v.Key+":marker")
			continue
		}
		o, err := f.svc.GetObject(f.ctx, &GetObjectInput{Principal: f.p, Bucket: bucket, Key: v.Key, VersionID: v.VersionID})
		if err != nil {
			f.t.Fatal(err)
		}
		b, err := io.ReadAll(o.Body)
		o.Body.Close()
		if err != nil {
			f.t.Fatal(err)
		}
		vs = append(vs, v.Key+":"+string(b))
	}
	return vs
}

// TestLifecycleNoncurrentVersions: NoncurrentVersionExpiration removes a version once
// it has been noncurrent for its days (counted from when the next version was
// written), keeping the newest noncurrent versions a rule asks for; an Expiration on a
// versioned bucket leaves a delete marker; ExpiredObjectDeleteMarker removes a marker
// once it is its key's only version; a dry run changes nothing.
func TestLifecycleNoncurrentVersions(t *testing.T) {
	f := newLCFixture(t)
	if err := f.svc.SetBucketVersioning(f.ctx, f.p, "bkt", VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	at := func(d int, h int) time.Time { return time.Date(2026, 1, d, h, 0, 0, 0, time.UTC) }
	write := func(when time.Time, key, body string) {
		f.clk.set(when)
		f.put("bkt", key, body, "")
	}
	// docs/a: v1 on the 15th, v2 on the 16th, v3 on the 18th (v1 noncurrent since the
	// 16th, v2 since the 18th). keep/b: three versions, a rule keeping one noncurrent.
	// gone/c: one version, deleted on the 16th (a marker in front).
	write(at(15, 10), "docs/a", "a1")
	write(at(15, 10), "keep/b", "b1")
	write(at(15, 10), "gone/c", "c1")
	write(at(15, 11), "keep/b", "b2")
	write(at(16, 10), "docs/a", "a2")
	write(at(16, 10), "keep/b", "b3")
	f.clk.set(at(16, 12))
	if _, err := f.svc.DeleteObject(f.ctx, f.p, "bkt", "gone/c", "", "", false); err != nil {
		t.Fatal(err)
	}
	write(at(18, 10), "docs/a", "a3")
	marker := true
	f.setRules("bkt",
		lifecycle.Rule{ID: "docs", Status: lifecycle.Enabled, Filter: lifecycle.Filter{Prefix: "docs/"},
			NoncurrentVersionExpiration: &lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 2}},
		lifecycle.Rule{ID: "keep", Status: lifecycle.Enabled, Filter: lifecycle.Filter{Prefix: "keep/"},
			NoncurrentVersionExpiration: &lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 1, NewerNoncurrentVersions: 1}},
		lifecycle.Rule{ID: "gone", Status: lifecycle.Enabled, Filter: lifecycle.Filter{Prefix: "gone/"},
			NoncurrentVersionExpiration: &lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 3},
			Expiration:                  &lifecycle.Expiration{ExpiredObjectDeleteMarker: &marker}},
	)
	before := []string{"docs/a:a3", "docs/a:a2", "docs/a:a1", "gone/c:marker", "gone/c:c1", "keep/b:b3", "keep/b:b2", "keep/b:b1"}
	if got := f.versionsOf("bkt"); !slices.Equal(got, before) {
		t.Fatalf("versions: %q", got)
	}
	// A dry run on the 30th reports what is due and removes nothing.
	res, acts := f.pass(at(30, 0), LifecycleOptions{DryRun: true})
	if res.NoncurrentExpired != 4 || len(acts) != 4 {
		t.Errorf("dry run: %+v %q", res, acts)
	}
	if got := f.versionsOf("bkt"); !slices.Equal(got, before) {
		t.Fatalf("after a dry run: %q", got)
	}
	for _, tc := range []struct {
		at   time.Time
		want []string
	}{
		// keep/b's b1 (noncurrent since the 15th, one newer noncurrent) is due on the 17th.
		{at(16, 23), before},
		{at(17, 0), []string{"docs/a:a3", "docs/a:a2", "docs/a:a1", "gone/c:marker", "gone/c:c1", "keep/b:b3", "keep/b:b2"}},
		// docs/a's a1, noncurrent since the 16th, is due on the 19th; a2 (since the 18th) on the 21st.
		{at(19, 0), []string{"docs/a:a3", "docs/a:a2", "gone/c:marker", "gone/c:c1", "keep/b:b3", "keep/b:b2"}},
		// gone/c's c1 is due on the 20th; its marker, then alone, goes in the next pass.
		{at(20, 0), []string{"docs/a:a3", "docs/a:a2", "gone/c:marker", "keep/b:b3", "keep/b:b2"}},
		{at(20, 1), []string{"docs/a:a3", "docs/a:a2", "keep/b:b3", "keep/b:b2"}},
		{at(21, 0), []string{"docs/a:a3", "keep/b:b3", "keep/b:b2"}},
		{at(31, 0), []string{"docs/a:a3", "keep/b:b3", "keep/b:b2"}},
	} {
		res, _ := f.pass(tc.at, LifecycleOptions{page: 2})
		if res.Errors != 0 || res.Changed != 0 {
			t.Errorf("pass at %v: %+v", tc.at, res)
		}
		if got := f.versionsOf("bkt"); !slices.Equal(got, tc.want) {
			t.Errorf("after the pass at %v: %q, want %q", tc.at, got, tc.want)
		}
	}

	// An Expiration in a versioned bucket leaves a marker, and the versions.
	f.setRules("bkt", rule("all", lifecycle.Filter{Prefix: "docs/"}, 1))
	if res, _ := f.pass(at(31, 0), LifecycleOptions{}); res.Expired != 1 {
		t.Errorf("expiration in a versioned bucket: %+v", res)
	}
	if got := f.versionsOf("bkt"); !slices.Equal(got, []string{"docs/a:marker", "docs/a:a3", "keep/b:b3", "keep/b:b2"}) {
		t.Errorf("after an expiration in a versioned bucket: %q", got)
	}
	if got := f.keys("bkt"); !slices.Equal(got, []string{"keep/b"}) {
		t.Errorf("keys after an expiration in a versioned bucket: %q", got)
	}
}

// TestLifecycleSparesLockedVersions: a noncurrent version under a legal hold or a
// retention in force is due by its rule and kept, as S3's lifecycle keeps it.
func TestLifecycleSparesLockedVersions(t *testing.T) {
	f := newLCFixture(t)
	if err := f.svc.EnableObjectLock(f.ctx, f.p, "bkt"); err != nil {
		t.Fatal(err)
	}
	at := func(d int) time.Time { return time.Date(2026, 1, d, 10, 0, 0, 0, time.UTC) }
	f.clk.set(at(15))
	f.put("bkt", "held", "h1", "")
	f.put("bkt", "free", "f1", "")
	out, err := f.svc.ListObjectVersions(f.ctx, &ListVersionsInput{Principal: f.p, Bucket: "bkt", MaxKeys: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range out.Versions {
		if v.Key == "held" {
			if _, err := f.svc.SetObjectLegalHold(f.ctx, f.p, "bkt", "held", v.VersionID, "ON"); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.clk.set(at(16))
	f.put("bkt", "held", "h2", "")
	f.put("bkt", "free", "f2", "")
	f.setRules("bkt", lifecycle.Rule{ID: "nc", Status: lifecycle.Enabled,
		NoncurrentVersionExpiration: &lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 1}})
	// A dry run reports what the pass then does: the held version kept, not expired.
	dry, _ := f.pass(at(25), LifecycleOptions{DryRun: true})
	if dry.NoncurrentExpired != 1 || dry.Locked != 1 {
		t.Errorf("dry run: %+v", dry)
	}
	if got := f.versionsOf("bkt"); len(got) != 4 {
		t.Errorf("versions after the dry run: %q", got)
	}
	res, _ := f.pass(at(25), LifecycleOptions{})
	if res.NoncurrentExpired != 1 || res.Locked != 1 {
		t.Errorf("pass: %+v", res)
	}
	if got := f.versionsOf("bkt"); !slices.Equal(got, []string{"free:f2", "held:h2", "held:h1"}) {
		t.Errorf("versions: %q", got)
	}
}
