package policy

import "strings"

// Decision is the outcome of evaluating a request against a policy.
type Decision int

const (
	// NoDecision: no statement applies; what the caller may do without the policy
	// decides (the bucket's owner may, anyone else may not).
	NoDecision Decision = iota
	// Allowed: an Allow statement applies and no Deny does.
	Allowed
	// Denied: a Deny statement applies; it wins over every Allow, for everyone.
	Denied
)

// Request is what a policy is evaluated against.
type Request struct {
	// AccessKey is the signed request's credential; "" for an anonymous request,
	// which only statements for everyone ("*") name.
	AccessKey string
	// Action is the IAM action ("s3:GetObject").
	Action string
	// Resource is the ARN ("arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key").
	Resource string
	// Keys returns the values of a condition key (its lower-case name), false when
	// the request has none. Called only for policies with conditions, so it may
	// compute values lazily.
	Keys func(key string) ([]string, bool)
}

// BucketARN and ObjectARN are the resources a request names.
func BucketARN(bucket string) string      { return ARNPrefix + bucket }
func ObjectARN(bucket, key string) string { return ARNPrefix + bucket + "/" + key }

// Evaluate decides a request: Denied if any Deny statement applies, else Allowed if
// any Allow statement does, else NoDecision.
func (p *Policy) Evaluate(r Request) Decision {
	d := NoDecision
	for i := range p.Statements {
		st := &p.Statements[i]
		if !st.applies(r) {
			continue
		}
		if st.Deny {
			return Denied
		}
		d = Allowed
	}
	return d
}

func (st *Statement) applies(r Request) bool {
	if !st.Who.matches(r.AccessKey) {
		return false
	}
	if st.Action.any(func(p string) bool { return p == "*" || matchFold(p, r.Action) }) == st.Action.Not {
		return false
	}
	if st.Res.any(func(p string) bool { return match(p, r.Resource) }) == st.Res.Not {
		return false
	}
	for _, c := range st.Conds {
		if !c.holds(r.Keys) {
			return false
		}
	}
	return true
}

func (ps patterns) any(f func(string) bool) bool {
	for _, p := range ps.List {
		if f(p) {
			return true
		}
	}
	return false
}

func (w principals) matches(accessKey string) bool {
	in := w.Everyone
	if !in && accessKey != "" {
		for _, k := range w.Keys {
			if k == accessKey {
				in = true
				break
			}
		}
	}
	return in != w.Not
}

// IsPublic reports whether the policy is public in S3's sense (Block Public Access,
// GetBucketPolicyStatus): some Allow statement applies to everyone (Principal "*", or
// a NotPrincipal) without a condition that narrows it to fixed values: aws:SourceIp
// within given CIDR ranges, or one of aws:SourceArn, aws:SourceVpc, aws:SourceVpce,
// aws:SourceOwner, aws:SourceAccount, aws:PrincipalArn, aws:PrincipalAccount,
// aws:PrincipalOrgID, aws:userid, aws:username or
// s3:x-amz-server-side-encryption-aws-kms-key-id equal to values without wildcards.
func (p *Policy) IsPublic() bool {
	for i := range p.Statements {
		st := &p.Statements[i]
		if st.Deny || !(st.Who.Everyone || st.Who.Not) {
			continue
		}
		narrowed := false
		for _, c := range st.Conds {
			if c.narrows() {
				narrowed = true
				break
			}
		}
		if !narrowed {
			return true
		}
	}
	return false
}

// fixedKeys are the keys whose fixed value makes a statement non-public.
var fixedKeys = []string{
	"aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner", "aws:sourceaccount",
	"aws:principalarn", "aws:principalaccount", "aws:principalorgid", "aws:userid", "aws:username",
	"s3:x-amz-server-side-encryption-aws-kms-key-id",
}

func (c condition) narrows() bool {
	if c.set != single || c.ifExists {
		// IfExists lets a request without the key through; set operators test a
		// multi-valued key, and ForAllValues holds for a request without it.
		return false
	}
	if c.key == "aws:sourceip" {
		if c.op != "IpAddress" {
			return false
		}
		for _, v := range c.values {
			if p, ok := parsePrefix(v); !ok || p.Bits() == 0 {
				return false // 0.0.0.0/0 is everyone
			}
		}
		return true
	}
	if !contains(fixedKeys, c.key) {
		return false
	}
	switch c.op {
	case "StringEquals", "StringEqualsIgnoreCase", "ArnEquals", "StringLike", "ArnLike":
	default:
		return false
	}
	for _, v := range c.values {
		if strings.ContainsAny(v, "*?") {
			return false
		}
	}
	return true
}
