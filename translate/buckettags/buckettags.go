// Package buckettags is a bucket's tag set as s3proxy keeps it (PutBucketTagging, or the
// Tags of CreateBucket's configuration): the tags in the order they were set, and their
// JSON form in the metadata store. s3api, which owns the XML, checks them against S3's
// rules before they get here. Cost-allocation tools and Terraform read them back; the
// gateway itself gives them no meaning.
package buckettags

import "s3proxy/translate/bucketdoc"

// Kind is the kind of the bucket configuration document (meta.BucketConfig) that holds
// a bucket's tags.
const Kind = "tagging"

// Tag is one key and its value.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Set is a bucket's tags.
type Set []Tag

// document is the stored form's body.
type document struct {
	Tags Set `json:"tags"`
}

// Encode returns the stored form of s.
func (s Set) Encode() (string, error) { return bucketdoc.Encode("buckettags", document{Tags: s}) }

// Decode reads a stored tag set.
func Decode(v string) (Set, error) {
	var d document
	if err := bucketdoc.Decode("buckettags", v, &d); err != nil {
		return nil, err
	}
	return d.Tags, nil
}
