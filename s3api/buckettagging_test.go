package s3api

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"s3proxy/s3api/s3err"
	"s3proxy/translate/buckettags"
)

// errCode is the S3 code of err ("" for none) and its message.
func errCode(err error) (string, string) {
	if err == nil {
		return "", ""
	}
	e := s3err.As(err)
	if e == nil {
		return "not an S3 error: " + err.Error(), ""
	}
	return string(e.Code), e.Msg()
}

func taggingDoc(tags ...string) string {
	return `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet>` + strings.Join(tags, "") + `</TagSet></Tagging>`
}

func tagXML(k, v string) string { return "<Tag><Key>" + k + "</Key><Value>" + v + "</Value></Tag>" }

// TestParseBucketTagging: S3's documented example, and S3's rules for a bucket's tags
// (50 of them, with the AWS tagging rules) with its codes and messages.
func TestParseBucketTagging(t *testing.T) {
	got, err := parseBucketTagging([]byte(`<Tagging>
  <TagSet>
    <Tag>
      <Key>Key4</Key>
      <Value>Value4</Value>
    </Tag>
  </TagSet>
</Tagging>`))
	if err != nil || !reflect.DeepEqual(got, buckettags.Set{{Key: "Key4", Value: "Value4"}}) {
		t.Errorf("S3's example: %+v %v", got, err)
	}
	fifty := make([]string, 50)
	for i := range fifty {
		fifty[i] = tagXML(fmt.Sprintf("key-%d", i), "v")
	}
	for _, tc := range []struct {
		name, doc, code, msg string
		n                    int
	}{
		{"50 tags", taggingDoc(fifty...), "", "", 50},
		{"51 tags", taggingDoc(append(fifty, tagXML("one-more", "v"))...), "BadRequest", "Bucket tag count cannot be greater than 50", 0},
		{"an empty set", taggingDoc(), "", "", 0},
		{"every allowed character, an empty value", taggingDoc(tagXML("Åb 1+-=._:/@", ""), tagXML("k", "é ü 9+-=._:/@")), "", "", 2},
		{"a key of 128 characters", taggingDoc(tagXML(strings.Repeat("é", 128), "v")), "", "", 1},
		{"a key of 129", taggingDoc(tagXML(strings.Repeat("k", 129), "v")), "InvalidTag", "The TagKey you have provided is invalid", 0},
		{"an empty key", taggingDoc(tagXML("", "v")), "InvalidTag", "The TagKey you have provided is invalid", 0},
		{"a value of 256", taggingDoc(tagXML("k", strings.Repeat("v", 256))), "", "", 1},
		{"a value of 257", taggingDoc(tagXML("k", strings.Repeat("v", 257))), "InvalidTag", "The TagValue you have provided is invalid", 0},
		{"! in a key", taggingDoc(tagXML("user!name", "v")), "InvalidTag", "The TagKey you have provided is invalid", 0},
		{"% in a key", taggingDoc(tagXML("ok", "v"), tagXML("data%20", "v")), "InvalidTag", "The TagKey you have provided is invalid", 0},
		{"? in a value", taggingDoc(tagXML("k", "name?test")), "InvalidTag", "The TagValue you have provided is invalid", 0},
		{", in a value", taggingDoc(tagXML("k", "comma,separated")), "InvalidTag", "The TagValue you have provided is invalid", 0},
		{"aws: prefix", taggingDoc(tagXML("AWS:cloudformation", "v")), "InvalidTag", "Your TagKey cannot be prefixed with aws:", 0},
		{"a key twice", taggingDoc(tagXML("key", "value"), tagXML("key", "value-1")), "InvalidTag", "Cannot provide multiple Tags with the same key", 0},
		{"no TagSet", `<Tagging></Tagging>`, "MalformedXML", "", 0},
		{"a tag without a value", taggingDoc(`<Tag><Key>k</Key></Tag>`), "MalformedXML", "", 0},
		{"a misspelt element", taggingDoc(`<Tag><Key>k</Key><Val>v</Val></Tag>`), "MalformedXML", "", 0},
		{"two keys in a tag", taggingDoc(`<Tag><Key>k</Key><Key>j</Key><Value>v</Value></Tag>`), "MalformedXML", "", 0},
		{"not XML", `tags`, "MalformedXML", "", 0},
	} {
		got, err := parseBucketTagging([]byte(tc.doc))
		code, msg := errCode(err)
		if code != tc.code || (tc.msg != "" && msg != tc.msg) || (tc.code == "" && len(got) != tc.n) {
			t.Errorf("%s: %s %q (%d tags), want %s %q", tc.name, code, msg, len(got), tc.code, tc.msg)
		}
	}
}

// FuzzTagging: a tag set accepted from x-amz-tagging is stored in a form that decodes
// to tags S3's rules accept and encodes back to itself; a PutBucketTagging document
// accepted once is accepted again, as the same tags, from GetBucketTagging's rendering
// and from its stored form.
//
//	go test -run - -fuzz FuzzTagging -fuzztime 60s ./s3api
func FuzzTagging(f *testing.F) {
	f.Add("project=blue&cost%20center=1+2", []byte(`<Tagging><TagSet><Tag><Key>project</Key><Value>blue</Value></Tag><Tag><Key>team</Key><Value></Value></Tag></TagSet></Tagging>`))
	f.Add("a=&b=%C3%A9t%C3%A9", []byte(`<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>k:1/@</Key><Value>v = x</Value></Tag></TagSet></Tagging>`))
	f.Fuzz(func(t *testing.T, header string, doc []byte) {
		if enc, ok, err := taggingHeader(http.Header{"X-Amz-Tagging": {header}}); err == nil && ok {
			tags, err := decodeTags(enc)
			if err != nil {
				t.Fatalf("stored tags %q do not decode: %v", enc, err)
			}
			again, err := encodeTags(tags)
			if err != nil || again != enc {
				t.Fatalf("stored tags %q encode back to %q, %v", enc, again, err)
			}
		}
		set, err := parseBucketTagging(doc)
		if err != nil {
			return
		}
		checkRoundTrip(t, set, buckettags.Set.Encode, buckettags.Decode, func(s buckettags.Set) any { return bucketTaggingXML(s) }, parseBucketTagging)
	})
}
