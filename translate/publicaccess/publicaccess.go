// Package publicaccess is a bucket's Block Public Access configuration as s3proxy keeps
// it (PutPublicAccessBlock; s3api owns the XML): S3's four settings and their JSON form
// in the metadata store, and how they combine with the gateway-wide setting.
//
// S3 applies the most restrictive combination of a bucket's settings and its account's;
// s3proxy's gateway-wide block_public_policy plays the account's part, so each setting
// in force is the gateway's OR the bucket's (Effective).
package publicaccess

import "s3proxy/translate/bucketdoc"

// Kind is the kind of the bucket configuration document (meta.BucketConfig) that holds
// a bucket's Block Public Access configuration.
const Kind = "publicAccessBlock"

// Configuration is a bucket's PublicAccessBlockConfiguration. A setting the document
// leaves out is false, as on S3.
type Configuration struct {
	// BlockPublicAcls refuses requests that set a public ACL. s3proxy accepts no ACL
	// beyond the owner's (every bucket is BucketOwnerEnforced), so it adds nothing to
	// what is refused already; it is kept and reported as set.
	BlockPublicAcls bool `json:"block_public_acls,omitempty"`
	// IgnorePublicAcls ignores public ACLs; there are none to ignore (see above).
	IgnorePublicAcls bool `json:"ignore_public_acls,omitempty"`
	// BlockPublicPolicy refuses a PutBucketPolicy of a public policy.
	BlockPublicPolicy bool `json:"block_public_policy,omitempty"`
	// RestrictPublicBuckets keeps a stored public policy from letting anonymous
	// callers in.
	RestrictPublicBuckets bool `json:"restrict_public_buckets,omitempty"`
}

// Encode returns the stored form of c.
func (c Configuration) Encode() (string, error) { return bucketdoc.Encode("publicaccess", c) }

// Decode reads a stored configuration.
func Decode(s string) (Configuration, error) {
	var c Configuration
	err := bucketdoc.Decode("publicaccess", s, &c)
	return c, err
}

// Effective is what applies to a bucket: the gateway-wide block_public_policy (which
// stands for both policy settings, as it always has) OR the bucket's own configuration
// (nil when it has none).
func Effective(gatewayBlock bool, bucket *Configuration) Configuration {
	eff := Configuration{BlockPublicPolicy: gatewayBlock, RestrictPublicBuckets: gatewayBlock}
	if bucket != nil {
		eff.BlockPublicAcls = bucket.BlockPublicAcls
		eff.IgnorePublicAcls = bucket.IgnorePublicAcls
		eff.BlockPublicPolicy = eff.BlockPublicPolicy || bucket.BlockPublicPolicy
		eff.RestrictPublicBuckets = eff.RestrictPublicBuckets || bucket.RestrictPublicBuckets
	}
	return eff
}
