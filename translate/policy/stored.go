package policy

import "s3proxy/translate/bucketdoc"

// Kind is the kind of the bucket configuration document (meta.BucketConfig) that holds
// a bucket's policy.
const Kind = "policy"

// document is the stored form's body: the policy exactly as PutBucketPolicy sent it,
// which GetBucketPolicy returns (as S3 does); it is parsed again when read.
type document struct {
	Policy string `json:"policy"`
}

// Encode returns the stored form of a validated policy document.
func Encode(doc string) (string, error) {
	return bucketdoc.Encode("policy", document{Policy: doc})
}

// Decode reads a stored policy document (the JSON as sent).
func Decode(v string) (string, error) {
	var d document
	if err := bucketdoc.Decode("policy", v, &d); err != nil {
		return "", err
	}
	return d.Policy, nil
}
