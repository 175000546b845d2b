package translate

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"s3proxy/meta"
	"s3proxy/translate/policy"
)

// keyFunc supplies condition keys from a function.
type keyFunc func(string) ([]string, bool)

func (f keyFunc) ConditionKey(name string) ([]string, bool) { return f(name) }

func mustPolicy(t *testing.T, bucket, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc), policy.Options{Bucket: bucket})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const publicRead = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}`

// TestAuthorizeCache: a bucket without a policy, a missing bucket and a bucket with one
// cost one metadata read a second however many requests ask; this node's changes
// apply at once; an anonymous caller gets the same refusal for a missing bucket, a
// bucket without a policy and one whose policy does not name it.
func TestAuthorizeCache(t *testing.T) {
	f := newCfgFixture(t)
	anon := Principal{Anonymous: true}
	get := Access{Bucket: "pub", Action: "s3:GetObject", Object: true, Key: "a"}
	if err := f.svc.CreateBucket(f.ctx, f.p, "pub", "", nil); err != nil {
		t.Fatal(err)
	}
	reads := func() int64 { return f.store.reads.Swap(0) }
	reads()
	for range 100 {
		if _, err := f.svc.Authorize(f.ctx, f.p, get); err != nil {
			t.Fatalf("owner without a policy: %v", err)
		}
		if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
			t.Fatalf("anonymous without a policy: %v", err)
		}
		missing := get
		missing.Bucket = "no-such-bucket"
		if _, err := f.svc.Authorize(f.ctx, anon, missing); code(err) != CodeAccessDenied {
			t.Fatalf("anonymous, missing bucket: %v", err)
		}
	}
	if n := reads(); n != 2 {
		t.Errorf("300 authorizations of two names read the store %d times, want 2", n)
	}

	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead)); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authorize(f.ctx, anon, get)
	if err != nil || !p.grants("pub") {
		t.Fatalf("anonymous read after PutBucketPolicy: %v %+v", err, p)
	}
	if _, err := f.svc.Authorize(f.ctx, anon, Access{Bucket: "pub", Action: "s3:PutObject", Object: true, Key: "a"}); code(err) != CodeAccessDenied {
		t.Errorf("anonymous write under a read policy: %v", err)
	}
	// Another node's delete (straight to the store) shows within the second.
	if err := f.store.MetaStore.DeleteBucketConfig(f.ctx, "pub", policy.Kind); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authorize(f.ctx, anon, get); err != nil {
		t.Errorf("the cached policy went before its second: %v", err)
	}
	f.clk.set(t0.Add(1100 * time.Millisecond))
	if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
		t.Errorf("another node's DeleteBucketPolicy not seen after a second: %v", err)
	}
	// This node's DeleteBucketPolicy and DeleteBucket apply at once.
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead)); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteBucketPolicy(f.ctx, f.p, "pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
		t.Errorf("anonymous read after DeleteBucketPolicy: %v", err)
	}
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead)); err != nil {
		t.Fatal(err)
	}
	f.svc.Authorize(f.ctx, anon, get)
	if err := f.svc.DeleteBucket(f.ctx, f.p, "pub"); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CreateBucket(f.ctx, f.p, "pub", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
		t.Errorf("a new bucket of the name has the old one's policy: %v", err)
	}
	if _, ok, err := f.svc.BucketPolicy(f.ctx, f.p, "pub"); ok || err != nil {
		t.Errorf("GetBucketPolicy of the new bucket: %v %v", ok, err)
	}
}

// TestAuthorizeGrants: an Allow lets another credential use the bucket for the request
// it was evaluated for; a Deny stops the owner and admins too; managing the policy is
// the owner's, whatever the policy says.
func TestAuthorizeGrants(t *testing.T) {
	f := newCfgFixture(t)
	other, admin := Principal{AccessKey: "other"}, Principal{AccessKey: "root", Admin: true}
	if err := f.svc.CreateBucket(f.ctx, f.p, "shared", "", nil); err != nil {
		t.Fatal(err)
	}
	f.putObject(t, f.p, "shared", "in/a", []byte("data"))
	doc := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"other"},"Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]},
	  {"Effect":"Deny","Principal":"*","Action":["s3:DeleteObject","s3:PutBucketPolicy","s3:GetBucketPolicy"],"Resource":["arn:aws:s3:::shared/in/*","arn:aws:s3:::shared"]}]}`
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "shared", mustPolicy(t, "shared", doc)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GetObject(f.ctx, &GetObjectInput{Principal: other, Bucket: "shared", Key: "in/a"}); code(err) != CodeAccessDenied {
		t.Errorf("another credential without Authorize: %v", err)
	}
	p, err := f.svc.Authorize(f.ctx, other, Access{Bucket: "shared", Action: "s3:GetObject", Object: true, Key: "in/a"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.svc.GetObject(f.ctx, &GetObjectInput{Principal: p, Bucket: "shared", Key: "in/a"})
	if err != nil {
		t.Fatalf("another credential allowed by the policy: %v", err)
	}
	out.Body.Close()
	for _, who := range []Principal{f.p, other, admin} {
		if _, err := f.svc.Authorize(f.ctx, who, Access{Bucket: "shared", Action: "s3:DeleteObject", Object: true, Key: "in/a"}); code(err) != CodeAccessDenied {
			t.Errorf("%+v: a Deny did not refuse the delete: %v", who, err)
		}
	}
	// The policy denies its own management to everyone, and grants other s3:*: neither
	// counts. The owner and an admin manage it; the other credential does not.
	if _, _, err := f.svc.BucketPolicy(f.ctx, f.p, "shared"); err != nil {
		t.Errorf("the owner locked out of GetBucketPolicy: %v", err)
	}
	if _, _, err := f.svc.BucketPolicy(f.ctx, admin, "shared"); err != nil {
		t.Errorf("an admin locked out of GetBucketPolicy: %v", err)
	}
	if _, _, err := f.svc.BucketPolicy(f.ctx, p, "shared"); code(err) != CodeAccessDenied {
		t.Errorf("another credential read the policy: %v", err)
	}
	if err := f.svc.DeleteBucketPolicy(f.ctx, p, "shared"); code(err) != CodeAccessDenied {
		t.Errorf("another credential deleted the policy: %v", err)
	}
	if err := f.svc.DeleteBucketPolicy(f.ctx, f.p, "shared"); err != nil {
		t.Errorf("the owner could not delete the policy: %v", err)
	}
}

// TestBlockPublicPolicy: with the switch on, a public policy is refused and one stored
// before lets no anonymous request in; a policy narrowed to an address range is not
// public and still does.
func TestBlockPublicPolicy(t *testing.T) {
	f := newCfgFixture(t)
	f.svc.cfg.BlockPublicPolicy = true
	anon := Principal{Anonymous: true}
	if err := f.svc.CreateBucket(f.ctx, f.p, "pub", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", publicRead)); code(err) != CodeAccessDenied {
		t.Fatalf("a public policy was accepted: %v", err)
	}
	stored, _ := policy.Encode(publicRead)
	if err := f.store.MetaStore.PutBucketConfig(f.ctx, meta.BucketConfig{Bucket: "pub", Kind: policy.Kind, Value: stored}); err != nil {
		t.Fatal(err)
	}
	get := Access{Bucket: "pub", Action: "s3:GetObject", Object: true, Key: "a"}
	if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
		t.Errorf("a stored public policy let an anonymous request in: %v", err)
	}
	narrow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}`
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "pub", mustPolicy(t, "pub", narrow)); err != nil {
		t.Fatalf("a policy narrowed to an address range was refused: %v", err)
	}
	get.Keys = keyFunc(func(k string) ([]string, bool) { return []string{"10.1.2.3"}, k == "aws:sourceip" })
	if _, err := f.svc.Authorize(f.ctx, anon, get); err != nil {
		t.Errorf("anonymous request from the range: %v", err)
	}
	get.Keys = keyFunc(func(k string) ([]string, bool) { return []string{"192.0.2.1"}, k == "aws:sourceip" })
	if _, err := f.svc.Authorize(f.ctx, anon, get); code(err) != CodeAccessDenied {
		t.Errorf("anonymous request from elsewhere: %v", err)
	}
}

func (f *cfgFixture) putObject(t *testing.T, p Principal, bucket, key string, data []byte) *PutObjectOutput {
	t.Helper()
	sum := sha256.Sum256(data)
	out, err := f.svc.PutObject(f.ctx, &PutObjectInput{Principal: p, Bucket: bucket, Key: key,
		Body: Body{Reader: bytes.NewReader(data), Size: int64(len(data)), ContentSHA256: sum[:], Unread: true}})
	if err != nil {
		t.Fatalf("put %s/%s: %v", bucket, key, err)
	}
	return out
}

// TestAnonymousWriteNoInstantUpload: an anonymous upload allowed by a policy is the
// bucket owner's object, and never answered without its body, even for content the
// owner's scope holds: that answer would tell anyone what the owner has stored.
func TestAnonymousWriteNoInstantUpload(t *testing.T) {
	f := newCfgFixture(t)
	if err := f.svc.CreateBucket(f.ctx, f.p, "drop", "", nil); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("secret payroll "), 8<<10) // past the inline limit
	f.putObject(t, f.p, "drop", "payroll", data)
	if out := f.putObject(t, f.p, "drop", "again", data); !out.Instant {
		t.Fatal("control: the owner's second upload of its content was not instant")
	}
	upload := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::drop/incoming/*"}]}`
	if err := f.svc.SetBucketPolicy(f.ctx, f.p, "drop", mustPolicy(t, "drop", upload)); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authorize(f.ctx, Principal{Anonymous: true}, Access{Bucket: "drop", Action: "s3:PutObject", Object: true, Key: "incoming/x"})
	if err != nil {
		t.Fatal(err)
	}
	if out := f.putObject(t, p, "drop", "incoming/x", data); out.Instant {
		t.Error("an anonymous upload was answered without its body")
	}
	o, err := f.store.GetObject(f.ctx, "drop", "incoming/x")
	if err != nil {
		t.Fatal(err)
	}
	if o.Owner != f.p.AccessKey || o.Scope != f.p.AccessKey {
		t.Errorf("anonymous object owned by %q in scope %q, want the bucket owner's", o.Owner, o.Scope)
	}
}

// nokeys is a ConditionKeys that supplies nothing (a pointer, as s3api's request is).
type nokeys struct{}

func (*nokeys) ConditionKey(string) ([]string, bool) { return nil, false }

// BenchmarkAuthorizeNoPolicy: what every request to a bucket without a policy now pays
// (a cache hit): no allocation, no metadata read.
func BenchmarkAuthorizeNoPolicy(b *testing.B) {
	f := newCfgFixture(b)
	if err := f.svc.CreateBucket(f.ctx, f.p, "plain", "", nil); err != nil {
		b.Fatal(err)
	}
	a := Access{Bucket: "plain", Action: "s3:GetObject", Object: true, Key: "k", Keys: &nokeys{}}
	if _, err := f.svc.Authorize(f.ctx, f.p, a); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Authorize(f.ctx, f.p, a); err != nil {
			b.Fatal(err)
		}
	}
}
