package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"

	"s3proxy/s3api/s3err"
	"s3proxy/translate/buckettags"
)

// Bucket tagging: PUT, GET and DELETE /bucket?tagging, and the Tags of CreateBucket's
// configuration (S3 since 2025; Terraform's AWS provider now sends a bucket's tags
// there, and falls back to PutBucketTagging).
//
// S3's rules for a bucket's tags (the AWS tagging rules, with a limit of 50 rather than
// an object's 10): keys of 1 to 128 and values of at most 256 Unicode characters, from
// letters, digits, white space and + - = . _ : / @; no key twice; no key starting with
// "aws:" (AWS reserves it). An empty set leaves the bucket without tags.

// maxBucketTags is S3's limit on a bucket's tags.
const maxBucketTags = 50

// taggingSchema is S3's schema of a Tagging document (PutBucketTagging).
var taggingSchema = xmlSchema{
	"Tagging": {"TagSet": false},
	"TagSet":  {"Tag": true},
	"Tag":     {"Key": false, "Value": false},
}

// tagIn is a Tag as sent: absent elements are nil.
type tagIn struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

type taggingIn struct {
	TagSet *struct {
		Tags []tagIn `xml:"Tag"`
	} `xml:"TagSet"`
}

// checkBucketTags checks a bucket's tag set against S3's rules and returns it to store.
func checkBucketTags(in []tagIn) (buckettags.Set, error) {
	if len(in) > maxBucketTags {
		// S3's code for this one is BadRequest, not InvalidTag.
		return nil, s3err.Newf(s3err.BadRequest, "Bucket tag count cannot be greater than %d", maxBucketTags)
	}
	out := make(buckettags.Set, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, t := range in {
		if t.Key == nil || t.Value == nil {
			return nil, s3err.Wrap(s3err.MalformedXML, errors.New("a Tag needs a Key and a Value"))
		}
		k, v := *t.Key, *t.Value
		if err := checkTag(k, v, seen[k]); err != nil {
			return nil, err
		}
		seen[k] = true
		out = append(out, buckettags.Tag{Key: k, Value: v})
	}
	return out, nil
}

// parseBucketTagging checks a PutBucketTagging document.
func parseBucketTagging(data []byte) (buckettags.Set, error) {
	if err := checkXMLShape(data, "Tagging", taggingSchema); err != nil {
		return nil, s3err.Wrap(s3err.MalformedXML, err)
	}
	var in taggingIn
	if err := xml.Unmarshal(data, &in); err != nil {
		return nil, s3err.Wrap(s3err.MalformedXML, err)
	}
	if in.TagSet == nil {
		return nil, s3err.Wrap(s3err.MalformedXML, errors.New("a Tagging document needs a TagSet"))
	}
	return checkBucketTags(in.TagSet.Tags)
}

func (s *Server) putBucketTagging(rq *request) error {
	if err := s.configPut(rq); err != nil {
		return err
	}
	data, err := s.readCheckedBody(rq)
	if err != nil {
		return err
	}
	tags, err := parseBucketTagging(data)
	if err != nil {
		return err
	}
	if err := s.svc.SetBucketTagging(rq.r.Context(), rq.principal, rq.bucket, tags); err != nil {
		return err
	}
	// S3 answers PutBucketTagging with 204, unlike most PUTs of a configuration.
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketTagging(rq *request) error {
	tags, ok, err := s.svc.BucketTagging(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	if !ok {
		e := s3err.New(s3err.NoSuchTagSet)
		e.Extra = map[string]string{"BucketName": rq.bucket}
		return e
	}
	return s.writeXML(rq, http.StatusOK, bucketTaggingXML(tags))
}

// bucketTaggingXML renders a bucket's tags as GetBucketTagging answers them.
func bucketTaggingXML(tags buckettags.Set) tagging {
	out := tagging{NS: s3NS, TagSet: make([]tag, 0, len(tags))}
	for _, t := range tags {
		out.TagSet = append(out.TagSet, tag{Key: t.Key, Value: t.Value})
	}
	return out
}

func (s *Server) deleteBucketTagging(rq *request) error {
	if err := s.svc.DeleteBucketTagging(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
