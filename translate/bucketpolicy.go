package translate

import (
	"context"
	"errors"
	"fmt"

	"s3proxy/meta"
	"s3proxy/translate/policy"
)

// Bucket policies: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy and
// GetBucketPolicyStatus manage a bucket's policy, kept as a bucket configuration
// document (kind "policy", dropped with the bucket); Authorize evaluates it for every
// request to the bucket, from a cache (configcache.go), so that neither a bucket with
// a policy nor one without costs a metadata read per request.
//
// Managing the policy is for the bucket's owner (or an admin) alone, and the policy
// itself has no say in it: as on S3, where the account that owns a bucket can always
// put, get and delete its policy, a Deny in the policy cannot lock the owner out of
// repairing it, and no Allow can hand the policy to another credential.

// BucketPolicy returns the bucket's policy document as it was set (GetBucketPolicy);
// ok is false when it has none.
func (s *Service) BucketPolicy(ctx context.Context, p Principal, bucket string) (doc string, ok bool, err error) {
	if err := s.policyManager(ctx, p, bucket); err != nil {
		return "", false, err
	}
	pol, err := s.loadPolicy(ctx, bucket)
	if err != nil || pol == nil {
		return "", false, err
	}
	return pol.Document, true, nil
}

// BucketPolicyStatus reports whether the bucket's policy is public (GetBucketPolicyStatus);
// ok is false when it has none.
func (s *Service) BucketPolicyStatus(ctx context.Context, p Principal, bucket string) (public, ok bool, err error) {
	if err := s.policyManager(ctx, p, bucket); err != nil {
		return false, false, err
	}
	pol, err := s.loadPolicy(ctx, bucket)
	if err != nil || pol == nil {
		return false, false, err
	}
	if !pol.IsPublic() {
		return false, true, nil
	}
	// A public policy that RestrictPublicBuckets keeps from anyone anonymous does not
	// make the bucket public: the status says what the bucket allows.
	eff, err := s.effectivePublicAccess(ctx, bucket)
	if err != nil {
		return false, false, err
	}
	return !eff.RestrictPublicBuckets, true, nil
}

// SetBucketPolicy replaces the bucket's policy (PutBucketPolicy) with pol, which s3api
// has parsed and validated. Under BlockPublicPolicy (the gateway's or the bucket's) a
// public policy is refused as S3 refuses it. This node applies it at once, other nodes
// within configCacheTTL.
func (s *Service) SetBucketPolicy(ctx context.Context, p Principal, bucket string, pol *policy.Policy) error {
	if err := s.policyManager(ctx, p, bucket); err != nil {
		return err
	}
	if err := s.checkPublicPolicy(ctx, p, bucket, pol); err != nil {
		return err
	}
	doc, err := policy.Encode(pol.Document)
	if err != nil {
		return wrapErr(CodeInternalError, err)
	}
	err = s.meta.PutBucketConfig(ctx, meta.BucketConfig{Bucket: bucket, Kind: policy.Kind, Value: doc})
	s.policies.forget(bucket)
	return metaErr(err, CodeNoSuchBucket)
}

// checkPublicPolicy refuses a public policy while BlockPublicPolicy is in force for the
// bucket, with S3's message.
func (s *Service) checkPublicPolicy(ctx context.Context, p Principal, bucket string, pol *policy.Policy) error {
	if !pol.IsPublic() {
		return nil
	}
	eff, err := s.effectivePublicAccess(ctx, bucket)
	if err != nil {
		return err
	}
	if eff.BlockPublicPolicy {
		return errorf(CodeAccessDenied, "User: %s is not authorized to perform: s3:PutBucketPolicy on resource: %q because public policies are blocked by the BlockPublicPolicy block public access setting.",
			principalARN(p), policy.BucketARN(bucket))
	}
	return nil
}

// DeleteBucketPolicy removes the bucket's policy; removing none succeeds, as on S3.
func (s *Service) DeleteBucketPolicy(ctx context.Context, p Principal, bucket string) error {
	if err := s.policyManager(ctx, p, bucket); err != nil {
		return err
	}
	err := s.meta.DeleteBucketConfig(ctx, bucket, policy.Kind)
	s.policies.forget(bucket)
	return metaErr(err, "")
}

// policyManager lets only the bucket's owner or an admin manage its policy, whatever
// the policy says.
func (s *Service) policyManager(ctx context.Context, p Principal, bucket string) error {
	if p.Anonymous {
		return errorf(CodeAccessDenied, "Access Denied")
	}
	p.granted = nil
	_, err := s.bucketFor(ctx, p, bucket)
	return err
}

// principalARN names a principal in S3's messages, as a policy would name it.
func principalARN(p Principal) string {
	if p.Anonymous {
		return "anonymous"
	}
	return "arn:aws:iam::000000000000:user/" + p.AccessKey
}

// Access is one permission a request needs: an action on the bucket or on one of its
// objects.
type Access struct {
	Bucket string
	// Action is the IAM action ("s3:GetObject"); "" for an operation without one,
	// which only a Deny of every action ("*", "s3:*") concerns.
	Action string
	// Object names an object resource (Key); otherwise the resource is the bucket.
	Object bool
	Key    string
	// Keys supplies the request's condition keys; nil: none.
	Keys ConditionKeys
}

// ConditionKeys supplies a request's condition keys: the values of a key (its
// lower-case name), false when the request has none. An interface rather than a func
// so that a request without a policy to evaluate allocates nothing for it.
type ConditionKeys interface {
	ConditionKey(name string) ([]string, bool)
}

// Authorize decides a request under its bucket's policy, before the operation runs:
//
//   - a bucket without a policy: an anonymous request is refused; a signed one goes on
//     unchanged, and the operation checks ownership as ever;
//   - an explicit Deny refuses the request, whoever makes it, the owner included;
//   - an Allow lets the principal use the bucket for this request (the returned
//     principal carries the grant, which bucketFor honours);
//   - otherwise the owner and admins go on as ever, anyone else is refused.
//
// An anonymous request gets the same AccessDenied whether the bucket exists or not,
// has a policy or not: no bucket name can be probed. A public policy (policy.IsPublic)
// lets no anonymous request in while RestrictPublicBuckets is in force for the bucket
// (the gateway's block_public_policy, or the bucket's own setting).
func (s *Service) Authorize(ctx context.Context, p Principal, a Access) (Principal, error) {
	if !ValidBucketName(a.Bucket) {
		if p.Anonymous {
			return p, accessDenied()
		}
		return p, nil // the operation answers NoSuchBucket
	}
	pol, err := s.policies.get(ctx, a.Bucket)
	if err != nil {
		return p, err
	}
	if pol == nil {
		if p.Anonymous {
			return p, accessDenied()
		}
		return p, nil
	}
	if p.Anonymous && pol.IsPublic() {
		restricted, err := s.restrictsPublic(ctx, a.Bucket)
		if err != nil {
			return p, err
		}
		if restricted {
			return p, accessDenied()
		}
	}
	req := policy.Request{AccessKey: p.AccessKey, Action: a.Action, Resource: policy.BucketARN(a.Bucket)}
	if a.Keys != nil {
		req.Keys = a.Keys.ConditionKey
	}
	if a.Object {
		req.Resource = policy.ObjectARN(a.Bucket, a.Key)
	}
	if a.Action == "" {
		// No IAM action: only a statement covering every action can concern it.
		req.Action = "s3:"
	}
	switch pol.Evaluate(req) {
	case policy.Denied:
		return p, accessDenied()
	case policy.Allowed:
		if a.Action == "" {
			break // an Allow of "s3:*" does not reach operations it cannot name
		}
		if !p.grants(a.Bucket) {
			p.granted = append(append([]string(nil), p.granted...), a.Bucket)
		}
		return p, nil
	}
	if p.Anonymous {
		return p, accessDenied()
	}
	// No statement applies: the owner and admins go on. Anyone else is refused here
	// rather than by the operation's ownership check, which a grant for another
	// permission of the same request (a copy's source in the same bucket) would pass.
	if !p.Admin {
		b, ok := s.buckets.get(a.Bucket)
		if !ok {
			if b, err = s.meta.GetBucket(ctx, a.Bucket); err != nil {
				return p, nil // gone since its policy was read: the operation says so
			}
			s.buckets.put(b)
		}
		if b.Owner != p.AccessKey {
			return p, accessDenied()
		}
	}
	return p, nil
}

// accessDenied is the refusal of a request the policy does not let in; built only when
// needed, since Authorize runs on every request.
func accessDenied() *Error { return &Error{Code: CodeAccessDenied, Message: "Access Denied"} }

// loadPolicy reads a bucket's policy from the metadata store: nil when the bucket has
// none or does not exist.
func (s *Service) loadPolicy(ctx context.Context, bucket string) (*policy.Policy, error) {
	c, err := s.meta.GetBucketConfig(ctx, bucket, policy.Kind)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, metaErr(err, "")
	}
	doc, err := policy.Decode(c.Value)
	if err != nil {
		return nil, wrapErr(CodeInternalError, err)
	}
	// A stored policy was validated when it was set; its principals are not checked
	// again (a credential removed since then simply matches no request).
	pol, err := policy.Parse([]byte(doc), policy.Options{Bucket: bucket})
	if err != nil {
		return nil, wrapErr(CodeInternalError, fmt.Errorf("stored policy of bucket %s: %w", bucket, err))
	}
	return pol, nil
}
