// Package buckettags is a bucket's tag set as s3proxy keeps it (PutBucketTagging, or the
// Tags of CreateBucket's configuration): the tags in the order they were set, and their
// JSON form in the metadata store. s3api, which owns the XML, checks them against S3's
// rules before they get here. Cost-allocation tools and Terraform read them back; the
// gateway itself gives them no meaning.
package buckettags

import (
	"encoding/json"
	"fmt"
)

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

// document is the stored form: a version number, so that a later change of the JSON can
// still read what is stored.
type document struct {
	Version int `json:"v"`
	Tags    Set `json:"tags"`
}

const documentVersion = 1

// Encode returns the stored form of s.
func (s Set) Encode() (string, error) {
	b, err := json.Marshal(document{Version: documentVersion, Tags: s})
	if err != nil {
		return "", fmt.Errorf("buckettags: encode: %w", err)
	}
	return string(b), nil
}

// Decode reads a stored tag set.
func Decode(v string) (Set, error) {
	var d document
	if err := json.Unmarshal([]byte(v), &d); err != nil {
		return nil, fmt.Errorf("buckettags: decode: %w", err)
	}
	if d.Version != documentVersion {
		return nil, fmt.Errorf("buckettags: stored tag set has version %d, want %d", d.Version, documentVersion)
	}
	return d.Tags, nil
}
