package s3api

import (
	"encoding/xml"
	"testing"

	"s3proxy/translate/publicaccess"
)

// TestParsePublicAccessBlock: the documents S3 accepts (an element left out is false)
// and its answers to the others.
func TestParsePublicAccessBlock(t *testing.T) {
	doc := func(body string) string {
		return `<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + body + `</PublicAccessBlockConfiguration>`
	}
	all := publicaccess.Configuration{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}
	for _, tc := range []struct {
		name, doc string
		want      publicaccess.Configuration
		code, msg string
	}{
		{"all four", doc(`<BlockPublicAcls>true</BlockPublicAcls><IgnorePublicAcls>true</IgnorePublicAcls><BlockPublicPolicy>true</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets>`), all, "", ""},
		{"all false", doc(`<BlockPublicAcls>false</BlockPublicAcls><IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>false</RestrictPublicBuckets>`), publicaccess.Configuration{}, "", ""},
		{"one, others left out", doc(`<RestrictPublicBuckets>true</RestrictPublicBuckets>`), publicaccess.Configuration{RestrictPublicBuckets: true}, "", ""},
		{"any order", doc(`<BlockPublicPolicy>true</BlockPublicPolicy><BlockPublicAcls>true</BlockPublicAcls>`), publicaccess.Configuration{BlockPublicAcls: true, BlockPublicPolicy: true}, "", ""},
		{"no namespace, upper case, spaces", `<PublicAccessBlockConfiguration><BlockPublicAcls> TRUE </BlockPublicAcls><IgnorePublicAcls>1</IgnorePublicAcls></PublicAccessBlockConfiguration>`,
			publicaccess.Configuration{BlockPublicAcls: true, IgnorePublicAcls: true}, "", ""},
		{"none", doc(``), publicaccess.Configuration{}, "InvalidRequest", "Must specify at least one configuration."},
		{"not a boolean", doc(`<BlockPublicAcls>yes</BlockPublicAcls>`), publicaccess.Configuration{}, "MalformedXML", ""},
		{"empty value", doc(`<BlockPublicAcls></BlockPublicAcls>`), publicaccess.Configuration{}, "MalformedXML", ""},
		{"repeated", doc(`<BlockPublicAcls>true</BlockPublicAcls><BlockPublicAcls>false</BlockPublicAcls>`), publicaccess.Configuration{}, "MalformedXML", ""},
		{"misspelt", doc(`<BlockPublicACLs>true</BlockPublicACLs>`), publicaccess.Configuration{}, "MalformedXML", ""},
		{"nested", doc(`<BlockPublicAcls><Value>true</Value></BlockPublicAcls>`), publicaccess.Configuration{}, "MalformedXML", ""},
		{"other root", `<PublicAccessBlock><BlockPublicAcls>true</BlockPublicAcls></PublicAccessBlock>`, publicaccess.Configuration{}, "MalformedXML", ""},
		{"not XML", `BlockPublicAcls=true`, publicaccess.Configuration{}, "MalformedXML", ""},
		{"truncated", doc(`<BlockPublicAcls>true</BlockPublicAcls>`)[:40], publicaccess.Configuration{}, "MalformedXML", ""},
	} {
		got, err := parsePublicAccessBlock([]byte(tc.doc))
		code, msg := errCode(err)
		if code != tc.code || (tc.msg != "" && msg != tc.msg) || (err == nil && got != tc.want) {
			t.Errorf("%s: %+v %s %q, want %+v %s %q", tc.name, got, code, msg, tc.want, tc.code, tc.msg)
		}
	}
}

// TestPublicAccessBlockXML: GetPublicAccessBlock's answer names all four settings, in
// S3's order and namespace.
func TestPublicAccessBlockXML(t *testing.T) {
	out, err := xml.Marshal(publicAccessBlock{NS: s3NS, BlockPublicAcls: true, RestrictPublicBuckets: true})
	if err != nil {
		t.Fatal(err)
	}
	want := `<PublicAccessBlockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><BlockPublicAcls>true</BlockPublicAcls>` +
		`<IgnorePublicAcls>false</IgnorePublicAcls><BlockPublicPolicy>false</BlockPublicPolicy><RestrictPublicBuckets>true</RestrictPublicBuckets></PublicAccessBlockConfiguration>`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	// What is sent reads back as it was set.
	back, err := parsePublicAccessBlock(out)
	if err != nil || back != (publicaccess.Configuration{BlockPublicAcls: true, RestrictPublicBuckets: true}) {
		t.Errorf("round trip: %+v %v", back, err)
	}
}
