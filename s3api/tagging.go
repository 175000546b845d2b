package s3api

import (
	"encoding/xml"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
)

// S3's limits on an object's tag set.
const (
	maxTags        = 10
	maxTagKeyLen   = 128 // Unicode characters
	maxTagValueLen = 256
)

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	TagSet  []tag    `xml:"TagSet>Tag"`
}

type tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// validTagText reports whether s uses only what S3 allows in tags: letters, digits,
// white space and + - = . _ : / @.
func validTagText(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) && !strings.ContainsRune("+-=._:/@", r) {
			return false
		}
	}
	return true
}

// encodeTags checks a tag set and returns it in the stored x-amz-tagging form, keys in
// order ("" for an empty set).
func encodeTags(tags []tag) (string, error) {
	if len(tags) > maxTags {
		// S3's code for this one is BadRequest, not InvalidTag.
		return "", s3err.Newf(s3err.BadRequest, "Object tags cannot be greater than %d", maxTags)
	}
	v := url.Values{}
	for _, t := range tags {
		if err := checkTag(t.Key, t.Value, v.Has(t.Key)); err != nil {
			return "", err
		}
		v.Set(t.Key, t.Value)
	}
	return v.Encode(), nil
}

// checkTag checks one tag of an object's or a bucket's set against S3's rules; dup
// tells whether its key came earlier in the set.
func checkTag(k, v string, dup bool) error {
	switch {
	case k == "" || utf8.RuneCountInString(k) > maxTagKeyLen || !validTagText(k):
		return s3err.Newf(s3err.InvalidTag, "The TagKey you have provided is invalid")
	case utf8.RuneCountInString(v) > maxTagValueLen || !validTagText(v):
		return s3err.Newf(s3err.InvalidTag, "The TagValue you have provided is invalid")
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return s3err.Newf(s3err.InvalidTag, "Your TagKey cannot be prefixed with aws:")
	case dup:
		return s3err.Newf(s3err.InvalidTag, "Cannot provide multiple Tags with the same key")
	}
	return nil
}

// decodeTags parses a stored (or x-amz-tagging) tag set, keys in order.
func decodeTags(s string) ([]tag, error) {
	q, err := url.ParseQuery(s)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	tags := make([]tag, 0, len(keys))
	for _, k := range keys {
		for _, v := range q[k] {
			tags = append(tags, tag{Key: k, Value: v})
		}
	}
	return tags, nil
}

// taggingHeader reads a write's x-amz-tagging header: ok is false when there is none.
func taggingHeader(h http.Header) (enc string, ok bool, err error) {
	vs, ok := h[http.CanonicalHeaderKey(translate.TaggingKey)]
	if !ok {
		return "", false, nil
	}
	raw := strings.Join(vs, "&")
	tags, err := decodeTags(raw)
	malformed := err != nil
	for i, t := range tags {
		// An empty name or a name given twice is a malformed header, not a bad tag.
		malformed = malformed || t.Key == "" || i > 0 && tags[i-1].Key == t.Key
	}
	if malformed {
		e := s3err.Newf(s3err.InvalidArgument, "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		e.Extra = map[string]string{"ArgumentName": "x-amz-tagging", "ArgumentValue": raw}
		return "", false, e
	}
	enc, err = encodeTags(tags)
	return enc, true, err
}

// withTaggingHeader adds a write's x-amz-tagging to the headers it stores.
func withTaggingHeader(h http.Header, headers map[string]string) error {
	enc, ok, err := taggingHeader(h)
	if err != nil || !ok || enc == "" {
		return err
	}
	headers[translate.TaggingKey] = enc
	return nil
}

// tagCount is the x-amz-tagging-count GET and HEAD return (0: the header is left out).
func tagCount(headers map[string]string) int {
	s := headers[translate.TaggingKey]
	if s == "" {
		return 0
	}
	return strings.Count(s, "&") + 1
}

func (s *Server) getObjectTagging(rq *request) error {
	enc, version, err := s.svc.ObjectTagging(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"))
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), version)
	tags, err := decodeTags(enc)
	if err != nil {
		return s3err.Wrap(s3err.InternalError, err)
	}
	return s.writeXML(rq, http.StatusOK, tagging{NS: s3NS, TagSet: tags})
}

func (s *Server) putObjectTagging(rq *request) error {
	var in tagging
	if err := s.readXML(rq, maxXMLBody, &in); err != nil {
		return err
	}
	enc, err := encodeTags(in.TagSet)
	if err != nil {
		return err
	}
	version, err := s.svc.SetObjectTagging(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"), enc)
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), version)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteObjectTagging(rq *request) error {
	version, err := s.svc.SetObjectTagging(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"), "")
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), version)
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// setTagCount sets x-amz-tagging-count on a GET or HEAD answer.
func setTagCount(h http.Header, headers map[string]string) {
	if n := tagCount(headers); n > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(n))
	}
}
