package translate

import (
	"strings"
	"testing"
	"time"

	"s3proxy/meta"
	"s3proxy/translate/policy"
	"s3proxy/translate/publicaccess"
)

// TestPublicAccessBlock: a bucket's own settings read back as set; BlockPublicPolicy
// refuses a public policy and RestrictPublicBuckets keeps a stored one from anonymous
// callers (not from other credentials), at once on this node; GetBucketPolicyStatus
// says what the bucket allows; the document is the owner's and goes with the bucket.
func TestPublicAccessBlock(t *testing.T) {
	f := newCfgFixture(t) // block_public_policy off: the bucket decides
	anon, other := Principal{Anonymous: true}, Principal{AccessKey: "other"}
	get := Access{Bucket: "pub", Action: "s3:GetObject", Object: true, Key: "a"}
	if err := f.svc.CreateBucket(f.ctx, f.p, "pub", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.svc.PublicAccessBlock(f.ctx, f.p, "pub"); ok || err != nil {
		t.Fatalf("a new bucket's configuration: %v %v", ok, err)
	}
	set := func(cfg publicaccess.Configuration) {
		t.Helper()
		if err := f.svc.SetPublicAccessBlock(f.ctx, f.p, "pub", cfg); err != nil {
			t.Fatal(err)
		}
		got, ok, err := f.svc.PublicAccessBlock(f.ctx, f.p, "pub")
		if !ok || err != nil || got != cfg {
			t.Fatalf("read back %+v %v %v, want %+v", got, ok, err, cfg)
		}
	}
	status := func() bool {
		t.Helper()
		public, ok, err := f.svc.BucketPolicyStatus(f.ctx, f.p, "pub")
		if !ok || err != nil {
			t.Fatalf("BucketPolicyStatus: %v %v", ok, err)
		}
		return public
	}

	set(publicaccess.Configuration{BlockPublicPolicy: true})
	err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead))
	if code(err) != CodeAccessDenied || !strings.Contains(err.Error(), "BlockPublicPolicy") {
		t.Fatalf("a public policy under the bucket's BlockPublicPolicy: %v", err)
	}
	narrow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", narrow)); err != nil {
		t.Fatalf("a policy narrowed to a range under BlockPublicPolicy: %v", err)
	}

	set(publicaccess.Configuration{BlockPublicAcls: true, IgnorePublicAcls: true})
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead)); err != nil {
		t.Fatalf("a public policy once BlockPublicPolicy is off: %v", err)
	}
	if _, err := f.svc.Authorize(f.ctx, anon, get); err != nil {
		t.Errorf("anonymous read under a public policy, unrestricted: %v", err)
	}
	if !status() {
		t.Error("policy status of an unrestricted public policy: not public")
	}

	set(publicaccess.Configuration{RestrictPublicBuckets: true})
	if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
		t.Errorf("anonymous read under RestrictPublicBuckets: %v", err)
	}
	if _, err := f.svc.Authorize(f.ctx, other, get); err != nil {
		t.Errorf("another credential under RestrictPublicBuckets (the gateway's one account): %v", err)
	}
	if status() {
		t.Error("policy status of a restricted public policy: public")
	}

	// Another node's change (straight to the store) shows within the second; this
	// node's DeletePublicAccessBlock at once.
	doc, _ := publicaccess.Configuration{}.Encode()
	if err := f.store.MetaStore.PutBucketConfig(f.ctx, meta.BucketConfig{Bucket: "pub", Kind: publicaccess.Kind, Value: doc}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
		t.Errorf("the cached restriction went before its second: %v", err)
	}
	f.clk.set(t0.Add(1100 * time.Millisecond))
	if _, err := f.svc.Authorize(f.ctx, anon, get); err != nil {
		t.Errorf("another node's change not seen after a second: %v", err)
	}
	set(publicaccess.Configuration{RestrictPublicBuckets: true})
	if err := f.svc.DeletePublicAccessBlock(f.ctx, f.p, "pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authorize(f.ctx, anon, get); err != nil {
		t.Errorf("anonymous read after DeletePublicAccessBlock: %v", err)
	}
	if err := f.svc.DeletePublicAccessBlock(f.ctx, f.p, "pub"); err != nil {
		t.Errorf("deleting none: %v", err)
	}

	// The owner's document: another credential neither reads nor sets it.
	if _, _, err := f.svc.PublicAccessBlock(f.ctx, other, "pub"); code(err) != CodeAccessDenied {
		t.Errorf("another credential's GetPublicAccessBlock: %v", err)
	}
	if err := f.svc.SetPublicAccessBlock(f.ctx, other, "pub", publicaccess.Configuration{}); code(err) != CodeAccessDenied {
		t.Errorf("another credential's PutPublicAccessBlock: %v", err)
	}
	if err := f.svc.SetPublicAccessBlock(f.ctx, f.p, "nosuchbucket", publicaccess.Configuration{}); code(err) != CodeNoSuchBucket {
		t.Errorf("PutPublicAccessBlock on a missing bucket: %v", err)
	}

	// It goes with the bucket: a new bucket of the name has none.
	set(publicaccess.Configuration{RestrictPublicBuckets: true})
	if err := f.svc.DeleteBucketPolicy(f.ctx, f.p, "pub"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteBucket(f.ctx, f.p, "pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.MetaStore.GetBucketConfig(f.ctx, "pub", publicaccess.Kind); err == nil {
		t.Error("the configuration outlived its bucket")
	}
	if err := f.svc.CreateBucket(f.ctx, f.p, "pub", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := f.svc.PublicAccessBlock(f.ctx, f.p, "pub"); ok || err != nil {
		t.Errorf("a new bucket of the name has the old one's configuration: %v %v", ok, err)
	}
}

// TestPublicAccessBlockUnderGateway: with block_public_policy on, a bucket's own
// settings cannot relax it; a public policy stored before is reported not public.
func TestPublicAccessBlockUnderGateway(t *testing.T) {
	f := newCfgFixture(t)
	f.svc.cfg.BlockPublicPolicy = true
	if err := f.svc.CreateBucket(f.ctx, f.p, "pub", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetPublicAccessBlock(f.ctx, f.p, "pub", publicaccess.Configuration{}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead)); code(err) != CodeAccessDenied {
		t.Errorf("a public policy with the gateway blocking and the bucket not: %v", err)
	}
	stored, _ := policy.Encode(publicRead)
	if err := f.store.MetaStore.PutBucketConfig(f.ctx, meta.BucketConfig{Bucket: "pub", Kind: policy.Kind, Value: stored}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authorize(f.ctx, Principal{Anonymous: true}, Access{Bucket: "pub", Action: "s3:GetObject", Object: true, Key: "a"}); code(err) != CodeAccessDenied {
		t.Errorf("anonymous read under a stored public policy: %v", err)
	}
	if public, ok, err := f.svc.BucketPolicyStatus(f.ctx, f.p, "pub"); public || !ok || err != nil {
		t.Errorf("policy status of a public policy the gateway restricts: %v %v %v", public, ok, err)
	}
}

// TestPublicAccessBlockCache: anonymous requests under a public policy read the
// bucket's settings at most once a second; requests that cannot be affected (signed,
// or no public policy) never read them.
func TestPublicAccessBlockCache(t *testing.T) {
	f := newCfgFixture(t)
	if err := f.svc.CreateBucket(f.ctx, f.p, "pub", "", nil); err != nil {
		t.Fatal(err)
	}
	get := Access{Bucket: "pub", Action: "s3:GetObject", Object: true, Key: "a"}
	reads := func() int64 { return f.store.reads.Swap(0) }
	for range 10 {
		f.svc.Authorize(f.ctx, Principal{Anonymous: true}, get)
		f.svc.Authorize(f.ctx, f.p, get)
	}
	if n := reads(); n != 1 {
		t.Errorf("without a policy: %d reads, want 1 (the policy's)", n)
	}
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead)); err != nil {
		t.Fatal(err)
	}
	reads()
	for range 100 {
		if _, err := f.svc.Authorize(f.ctx, Principal{Anonymous: true}, get); err != nil {
			t.Fatal(err)
		}
	}
	if n := reads(); n != 2 {
		t.Errorf("100 anonymous reads under a public policy: %d store reads, want 2 (policy, settings)", n)
	}
}
