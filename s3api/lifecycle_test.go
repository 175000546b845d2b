package s3api

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"s3proxy/s3api/s3err"
	"s3proxy/s3api/sigv4"
	"s3proxy/translate"
	"s3proxy/translate/lifecycle"
)

func lcDoc(rules ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
		strings.Join(rules, "") + `</LifecycleConfiguration>`
}

func i64p(v int64) *int64 { return &v }

// TestParseLifecycleExamples: the configurations of S3's documentation ("Examples of S3
// Lifecycle configurations", the API reference) parse into the rules they describe.
func TestParseLifecycleExamples(t *testing.T) {
	on, off := true, false
	for _, tc := range []struct {
		name string
		doc  string
		want []lifecycle.Rule
	}{
		{"prefix filter, expiration in days",
			lcDoc(`<Rule><ID>id1</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>365</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "id1", Status: "Enabled", Filter: lifecycle.Filter{Prefix: "logs/"}, Form: lifecycle.Form{Prefix: true},
				Expiration: &lifecycle.Expiration{Days: 365}}}},
		{"empty filter: every object",
			lcDoc(`<Rule><ID>all</ID><Filter></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "all", Status: "Enabled", Expiration: &lifecycle.Expiration{Days: 1}}}},
		{"neither filter nor prefix: every object",
			lcDoc(`<Rule><ID>all</ID><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "all", Status: "Disabled", Expiration: &lifecycle.Expiration{Days: 1}}}},
		{"legacy rule-level prefix (s3cmd expire before 2.4, the deprecated API)",
			lcDoc(`<Rule><ID>old</ID><Prefix>tmp/</Prefix><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "old", Status: "Enabled", Filter: lifecycle.Filter{Prefix: "tmp/"}, Form: lifecycle.Form{LegacyPrefix: true},
				Expiration: &lifecycle.Expiration{Date: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}}}},
		{"one tag",
			lcDoc(`<Rule><ID>t</ID><Filter><Tag><Key>key1</Key><Value>value1</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "t", Status: "Enabled", Filter: lifecycle.Filter{Tags: []lifecycle.Tag{{Key: "key1", Value: "value1"}}},
				Expiration: &lifecycle.Expiration{Days: 30}}}},
		{"a tag without a value",
			lcDoc(`<Rule><ID>t</ID><Filter><Tag><Key>key1</Key></Tag></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "t", Status: "Enabled", Filter: lifecycle.Filter{Tags: []lifecycle.Tag{{Key: "key1"}}},
				Expiration: &lifecycle.Expiration{Days: 30}}}},
		{"And: prefix and tags",
			lcDoc(`<Rule><ID>a</ID><Filter><And><Prefix>key-prefix</Prefix><Tag><Key>key1</Key><Value>value1</Value></Tag>` +
				`<Tag><Key>key2</Key><Value>value2</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "a", Status: "Enabled", Form: lifecycle.Form{And: true, Prefix: true},
				Filter:     lifecycle.Filter{Prefix: "key-prefix", Tags: []lifecycle.Tag{{Key: "key1", Value: "value1"}, {Key: "key2", Value: "value2"}}},
				Expiration: &lifecycle.Expiration{Days: 1}}}},
		{"size filter",
			lcDoc(`<Rule><ID>s</ID><Filter><ObjectSizeGreaterThan>500</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "s", Status: "Enabled", Filter: lifecycle.Filter{SizeGreaterThan: i64p(500)}, Expiration: &lifecycle.Expiration{Days: 1}}}},
		{"And: prefix and a size range",
			lcDoc(`<Rule><ID>r</ID><Filter><And><Prefix>tax/</Prefix><ObjectSizeGreaterThan>500</ObjectSizeGreaterThan>` +
				`<ObjectSizeLessThan>64000</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`),
			[]lifecycle.Rule{{ID: "r", Status: "Enabled", Form: lifecycle.Form{And: true, Prefix: true},
				Filter: lifecycle.Filter{Prefix: "tax/", SizeGreaterThan: i64p(500), SizeLessThan: i64p(64000)}, Expiration: &lifecycle.Expiration{Days: 1}}}},
		{"abort incomplete multipart uploads",
			lcDoc(`<Rule><ID>sample-rule</ID><Filter><Prefix>SomeKeyPrefix/</Prefix></Filter><Status>Enabled</Status>` +
				`<AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`),
			[]lifecycle.Rule{{ID: "sample-rule", Status: "Enabled", Filter: lifecycle.Filter{Prefix: "SomeKeyPrefix/"}, Form: lifecycle.Form{Prefix: true},
				AbortIncompleteMultipartUpload: &lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: 7}}}},
		{"noncurrent versions and delete markers: kept (an unversioned bucket never has them)",
			lcDoc(`<Rule><ID>v</ID><Filter><Prefix></Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`+
				`<NoncurrentVersionExpiration><NoncurrentDays>30</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>`+
				`<NoncurrentVersionTransition><NoncurrentDays>0</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition>`+
				`<NoncurrentVersionTransition><NoncurrentDays>90</NoncurrentDays><StorageClass>DEEP_ARCHIVE</StorageClass></NoncurrentVersionTransition></Rule>`,
				`<Rule><ID>w</ID><Filter><Prefix>x/</Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>false</ExpiredObjectDeleteMarker></Expiration></Rule>`),
			[]lifecycle.Rule{
				{ID: "v", Status: "Enabled", Form: lifecycle.Form{Prefix: true}, Expiration: &lifecycle.Expiration{ExpiredObjectDeleteMarker: &on},
					NoncurrentVersionExpiration: &lifecycle.NoncurrentVersionExpiration{NoncurrentDays: 30, NewerNoncurrentVersions: 2},
					NoncurrentVersionTransitions: []lifecycle.NoncurrentVersionTransition{
						{NoncurrentDays: 0, StorageClass: "GLACIER"}, {NoncurrentDays: 90, StorageClass: "DEEP_ARCHIVE"}}},
				{ID: "w", Status: "Enabled", Filter: lifecycle.Filter{Prefix: "x/"}, Form: lifecycle.Form{Prefix: true},
					Expiration: &lifecycle.Expiration{ExpiredObjectDeleteMarker: &off}}}},
		{"what s3cmd expire sends (whitespace, no ID, no namespace)",
			"<LifecycleConfiguration>  <Rule>    <Filter>      <Prefix>logs/</Prefix>    </Filter>    <Status>Enabled</Status>" +
				"    <Expiration>      <Days>7</Days>    </Expiration>  </Rule></LifecycleConfiguration>",
			[]lifecycle.Rule{{Status: "Enabled", Filter: lifecycle.Filter{Prefix: "logs/"}, Form: lifecycle.Form{Prefix: true}, Expiration: &lifecycle.Expiration{Days: 7}}}},
		{"what mc ilm rule add sends",
			`<LifecycleConfiguration><Rule><Expiration><Days>3</Days></Expiration><ID>d2ul7fci4cq1hpajkel0</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status></Rule></LifecycleConfiguration>`,
			[]lifecycle.Rule{{ID: "d2ul7fci4cq1hpajkel0", Status: "Enabled", Filter: lifecycle.Filter{Prefix: "tmp/"}, Form: lifecycle.Form{Prefix: true},
				Expiration: &lifecycle.Expiration{Days: 3}}}},
		{"date only, and with an offset that is midnight UTC",
			lcDoc(`<Rule><ID>d1</ID><Filter/><Status>Enabled</Status><Expiration><Date>2031-02-03</Date></Expiration></Rule>`,
				`<Rule><ID>d2</ID><Filter/><Status>Enabled</Status><Expiration><Date>2031-02-03T02:00:00+02:00</Date></Expiration></Rule>`),
			[]lifecycle.Rule{
				{ID: "d1", Status: "Enabled", Expiration: &lifecycle.Expiration{Date: time.Date(2031, 2, 3, 0, 0, 0, 0, time.UTC)}},
				{ID: "d2", Status: "Enabled", Expiration: &lifecycle.Expiration{Date: time.Date(2031, 2, 3, 0, 0, 0, 0, time.UTC)}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parseLifecycle([]byte(tc.doc))
			if err != nil {
				t.Fatalf("parseLifecycle: %v", err)
			}
			for i := range cfg.Rules {
				if tc.want[i].ID == "" {
					if len(cfg.Rules[i].ID) != 48 {
						t.Errorf("generated ID %q", cfg.Rules[i].ID)
					}
					cfg.Rules[i].ID = ""
				}
			}
			if !reflect.DeepEqual(cfg.Rules, tc.want) {
				t.Errorf("rules:\n got %+v\nwant %+v", cfg.Rules, tc.want)
			}
		})
	}
}

// TestParseLifecycleRefusals: what S3 refuses, with its code.
func TestParseLifecycleRefusals(t *testing.T) {
	rule := func(inner string) string { return lcDoc(`<Rule>` + inner + `</Rule>`) }
	exp := `<Expiration><Days>1</Days></Expiration>`
	ok := `<Status>Enabled</Status>` + exp
	many := make([]string, maxLifecycleRules+1)
	for i := range many {
		many[i] = fmt.Sprintf(`<Rule><ID>r%d</ID><Filter/>%s</Rule>`, i, ok)
	}
	for _, tc := range []struct {
		name, doc string
		code      s3err.Code
	}{
		{"not XML", "<LifecycleConfiguration><Rule>", s3err.MalformedXML},
		{"another document", `<Tagging><TagSet/></Tagging>`, s3err.MalformedXML},
		{"no rules", lcDoc(), s3err.MalformedXML},
		{"too many rules", lcDoc(many...), s3err.MalformedXML},
		{"status missing", rule(`<ID>a</ID><Filter/>` + exp), s3err.MalformedXML},
		{"status invalid (s3-tests: invalid)", rule(`<ID>a</ID><Filter/><Status>invalid</Status>` + exp), s3err.MalformedXML},
		{"status in lower case", rule(`<ID>a</ID><Filter/><Status>enabled</Status>` + exp), s3err.MalformedXML},
		{"ID of 256 characters", rule(`<ID>` + strings.Repeat("a", 256) + `</ID><Filter/>` + ok), s3err.InvalidArgument},
		{"the same ID twice", lcDoc(`<Rule><ID>r</ID><Filter/>`+ok+`</Rule>`, `<Rule><ID>r</ID><Filter><Prefix>x</Prefix></Filter>`+ok+`</Rule>`), s3err.InvalidArgument},
		{"a misspelt element", rule(`<ID>a</ID><Filter><Prefx>logs/</Prefx></Filter>` + ok), s3err.MalformedXML},
		{"an unknown action", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><DelMarkerExpiration><Days>1</Days></DelMarkerExpiration>`), s3err.MalformedXML},
		{"two prefixes in a filter", rule(`<ID>a</ID><Filter><Prefix>a</Prefix><Prefix>b</Prefix></Filter>` + ok), s3err.MalformedXML},
		{"two expirations", rule(`<ID>a</ID><Filter/>` + ok + exp), s3err.MalformedXML},
		{"filter and rule-level prefix", rule(`<ID>a</ID><Prefix>x/</Prefix><Filter><Prefix>y/</Prefix></Filter>` + ok), s3err.MalformedXML},
		{"two predicates without And", rule(`<ID>a</ID><Filter><Prefix>x/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>` + ok), s3err.MalformedXML},
		{"an empty And", rule(`<ID>a</ID><Filter><And></And></Filter>` + ok), s3err.MalformedXML},
		{"a tag without a key", rule(`<ID>a</ID><Filter><Tag><Value>v</Value></Tag></Filter>` + ok), s3err.MalformedXML},
		{"an empty tag key", rule(`<ID>a</ID><Filter><Tag><Key></Key><Value>v</Value></Tag></Filter>` + ok), s3err.InvalidTag},
		{"a tag key too long", rule(`<ID>a</ID><Filter><Tag><Key>` + strings.Repeat("k", 129) + `</Key></Tag></Filter>` + ok), s3err.InvalidTag},
		{"duplicate tag keys", rule(`<ID>a</ID><Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter>` + ok), s3err.InvalidRequest},
		{"a negative size", rule(`<ID>a</ID><Filter><ObjectSizeGreaterThan>-1</ObjectSizeGreaterThan></Filter>` + ok), s3err.InvalidArgument},
		{"an empty size range", rule(`<ID>a</ID><Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>` + ok), s3err.InvalidArgument},
		{"a size that is not a number", rule(`<ID>a</ID><Filter><ObjectSizeLessThan>big</ObjectSizeLessThan></Filter>` + ok), s3err.MalformedXML},
		{"no action", rule(`<ID>a</ID><Filter/><Status>Enabled</Status>`), s3err.InvalidRequest},
		{"an empty expiration", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration></Expiration>`), s3err.MalformedXML},
		{"days and date", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>`), s3err.MalformedXML},
		{"days and delete markers", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`), s3err.MalformedXML},
		{"days 0 (s3-tests: expiration days 0)", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>`), s3err.InvalidArgument},
		{"negative days", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>-3</Days></Expiration>`), s3err.InvalidArgument},
		{"days not a number", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>ten</Days></Expiration>`), s3err.MalformedXML},
		{"days beyond 32 bits", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Days>4294967296</Days></Expiration>`), s3err.MalformedXML},
		{"a date not at midnight (s3-tests: invalid date)", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Date>2099-11-10T12:00:00Z</Date></Expiration>`), s3err.InvalidArgument},
		{"a date not at midnight UTC", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Date>2099-11-10T00:00:00+01:00</Date></Expiration>`), s3err.InvalidArgument},
		{"a date that is no date", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><Date>next year</Date></Expiration>`), s3err.MalformedXML},
		{"a delete-marker flag that is no boolean", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>yes</ExpiredObjectDeleteMarker></Expiration>`), s3err.MalformedXML},
		{"delete markers with a tag filter", rule(`<ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`), s3err.InvalidRequest},
		{"abort without days", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload></AbortIncompleteMultipartUpload>`), s3err.MalformedXML},
		{"abort after 0 days", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), s3err.InvalidArgument},
		{"abort with a tag filter", rule(`<ID>a</ID><Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), s3err.InvalidRequest},
		{"abort with a size filter", rule(`<ID>a</ID><Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>`), s3err.InvalidRequest},
		{"noncurrent expiration after 0 days", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>`), s3err.InvalidArgument},
		{"noncurrent expiration without days", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration>`), s3err.MalformedXML},
		{"too many newer versions", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>`), s3err.InvalidArgument},
		{"a storage class in a noncurrent expiration", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionExpiration>`), s3err.MalformedXML},
		{"a noncurrent transition to an unknown class", rule(`<ID>a</ID><Filter/><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>1</NoncurrentDays><StorageClass>TAPE</StorageClass></NoncurrentVersionTransition>`), s3err.MalformedXML},
		// S3's first documented example: valid, and refused here (one storage tier).
		{"a transition", lcDoc(`<Rule><ID>Transition and Expiration Rule</ID><Filter><Prefix>tax/</Prefix></Filter><Status>Enabled</Status>` +
			`<Transition><Days>365</Days><StorageClass>GLACIER</StorageClass></Transition><Expiration><Days>3650</Days></Expiration></Rule>`), s3err.NotImplemented},
		{"a transition in a disabled rule", rule(`<ID>a</ID><Filter/><Status>Disabled</Status><Transition><Days>30</Days><StorageClass>STANDARD_IA</StorageClass></Transition>`), s3err.NotImplemented},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseLifecycle([]byte(tc.doc))
			e := s3err.As(err)
			if e == nil || e.Code != tc.code {
				t.Fatalf("parseLifecycle: %v, want %s", err, tc.code)
			}
			if e.Status() != http.StatusBadRequest && tc.code != s3err.NotImplemented {
				t.Errorf("status %d", e.Status())
			}
		})
	}
}

// TestLifecycleXMLRoundTrip: what GET renders parses back into the same rules, each
// filter in the form it was set in.
func TestLifecycleXMLRoundTrip(t *testing.T) {
	doc := lcDoc(
		`<Rule><ID>legacy</ID><Prefix>tmp/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`,
		`<Rule><ID>none</ID><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>`,
		`<Rule><ID>empty-prefix</ID><Filter><Prefix></Prefix></Filter><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`,
		`<Rule><ID>tag</ID><Filter><Tag><Key>k</Key><Value></Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>`,
		`<Rule><ID>size</ID><Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>`,
		`<Rule><ID>and</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><ObjectSizeGreaterThan>0</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status>`+
			`<Expiration><Days>9</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>4</NoncurrentDays></NoncurrentVersionExpiration>`+
			`<NoncurrentVersionTransition><NoncurrentDays>5</NoncurrentDays><StorageClass>GLACIER_IR</StorageClass></NoncurrentVersionTransition></Rule>`,
		`<Rule><Filter><Prefix>gen/</Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>`,
	)
	cfg, err := parseLifecycle([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	out, err := xml.Marshal(lifecycleXML(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{
		`<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`,
		`<Rule><ID>legacy</ID><Prefix>tmp/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>`,
		`<Rule><ID>none</ID><Filter></Filter><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>`,
		`<Filter><Prefix></Prefix></Filter><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload>`,
		`<Filter><Tag><Key>k</Key><Value></Value></Tag></Filter>`,
		`<Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter>`,
		`<Filter><And><Prefix>p/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><ObjectSizeGreaterThan>0</ObjectSizeGreaterThan></And></Filter>`,
		`<NoncurrentVersionExpiration><NoncurrentDays>4</NoncurrentDays></NoncurrentVersionExpiration><NoncurrentVersionTransition><NoncurrentDays>5</NoncurrentDays><StorageClass>GLACIER_IR</StorageClass></NoncurrentVersionTransition>`,
		`<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>`,
	} {
		if !strings.Contains(string(out), frag) {
			t.Errorf("GET document lacks %s:\n%s", frag, out)
		}
	}
	again, err := parseLifecycle(out)
	if err != nil {
		t.Fatalf("the GET document does not parse back: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(again, cfg) {
		t.Errorf("round trip:\n got %+v\nwant %+v", again.Rules, cfg.Rules)
	}
}

func TestTransitionMinimum(t *testing.T) {
	for _, tc := range []struct {
		v, want string
		ok      bool
	}{
		{"", "all_storage_classes_128K", true},
		{"varies_by_storage_class", "varies_by_storage_class", true},
		{"all_storage_classes_128K", "all_storage_classes_128K", true},
		{"128K", "", false},
	} {
		h := http.Header{}
		if tc.v != "" {
			h.Set(transitionMinimumHeader, tc.v)
		}
		got, err := transitionMinimum(h)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("transitionMinimum(%q) = %q, %v", tc.v, got, err)
		}
		if !tc.ok && s3err.As(err).Code != s3err.InvalidArgument {
			t.Errorf("transitionMinimum(%q): %v", tc.v, err)
		}
	}
}

// TestBodyIntegrity: PutBucketLifecycleConfiguration and DeleteObjects need a digest of
// their body, in a header or a declared trailer, and the one sent must match.
func TestBodyIntegrity(t *testing.T) {
	body := []byte("<Delete/>")
	crc, err := translate.ChecksumOf("CRC32", body)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := translate.ChecksumOf("CRC32", []byte("other"))
	sha, _ := translate.ChecksumOf("SHA256", body)
	for _, tc := range []struct {
		name          string
		header        map[string]string
		trailerNames  []string
		trailer       map[string]string
		missing, code s3err.Code // requireIntegrity's, verifyBodyChecksum's ("" ok)
	}{
		{"nothing", nil, nil, nil, s3err.InvalidRequest, ""},
		{"only the algorithm", map[string]string{"x-amz-sdk-checksum-algorithm": "CRC32"}, nil, nil, s3err.InvalidRequest, ""},
		{"Content-MD5", map[string]string{"Content-MD5": "whatever: readBody checks it"}, nil, nil, "", ""},
		{"CRC32 header", map[string]string{"x-amz-checksum-crc32": crc}, nil, nil, "", ""},
		{"SHA256 header", map[string]string{"x-amz-checksum-sha256": sha}, nil, nil, "", ""},
		{"wrong CRC32 header", map[string]string{"x-amz-checksum-crc32": other}, nil, nil, "", s3err.BadDigest},
		{"malformed header", map[string]string{"x-amz-checksum-crc32": "abc"}, nil, nil, "", s3err.InvalidRequest},
		{"CRC32 trailer", nil, []string{"x-amz-checksum-crc32"}, map[string]string{"X-Amz-Checksum-Crc32": crc}, "", ""},
		{"wrong CRC32 trailer", nil, []string{"x-amz-checksum-crc32"}, map[string]string{"X-Amz-Checksum-Crc32": other}, "", s3err.BadDigest},
		{"a trailer that is no checksum", nil, []string{"x-amz-meta-x"}, nil, s3err.InvalidRequest, ""},
	} {
		r := httptest.NewRequest(http.MethodPut, "/b?lifecycle", nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		trailer := http.Header{}
		for k, v := range tc.trailer {
			trailer.Set(k, v)
		}
		rq := &request{r: r, auth: &sigv4.Auth{TrailerNames: tc.trailerNames, Trailer: func() http.Header { return trailer }}}
		if err := requireIntegrity(rq); codeOf(err) != tc.missing {
			t.Errorf("%s: requireIntegrity = %v, want %q", tc.name, err, tc.missing)
		}
		if err := verifyBodyChecksum(rq, body); codeOf(err) != tc.code {
			t.Errorf("%s: verifyBodyChecksum = %v, want %q", tc.name, err, tc.code)
		}
	}
}

func codeOf(err error) s3err.Code {
	if e := s3err.As(err); e != nil {
		return e.Code
	}
	if err != nil {
		return "?"
	}
	return ""
}

// FuzzLifecycle: whatever PutBucketLifecycleConfiguration accepts, its stored form
// decodes to the same rules, GetBucketLifecycleConfiguration's rendering of them is
// accepted again as the same rules, and the background expiration's questions about
// them (due dates, filters, scan prefixes) never panic.
//
//	go test -run - -fuzz FuzzLifecycle -fuzztime 60s ./s3api
func FuzzLifecycle(f *testing.F) {
	for _, doc := range []string{
		lcDoc(`<Rule><ID>id1</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>365</Days></Expiration></Rule>`),
		lcDoc(`<Rule><Filter></Filter><Status>Enabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>`),
		lcDoc(`<Rule><ID>a</ID><Prefix>old/</Prefix><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>`),
		lcDoc(`<Rule><Filter><And><Prefix>p/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k2</Key><Value></Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>1000</ObjectSizeLessThan></And></Filter><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>`),
		lcDoc(`<Rule><Filter><Tag><Key>t</Key><Value>x</Value></Tag></Filter><Status>Enabled</Status><NoncurrentVersionTransition><NoncurrentDays>30</NoncurrentDays><StorageClass>GLACIER</StorageClass></NoncurrentVersionTransition><Expiration><Days>1</Days></Expiration></Rule>`),
	} {
		f.Add([]byte(doc))
	}
	now := time.Date(2026, 11, 30, 13, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, doc []byte) {
		cfg, err := parseLifecycle(doc)
		if err != nil {
			return
		}
		checkRoundTrip(t, cfg, lifecycle.Configuration.Encode, lifecycle.Decode, func(c lifecycle.Configuration) any { return lifecycleXML(c) }, parseLifecycle)
		for _, r := range cfg.Rules {
			r.ExpiresAt(now)
			r.NoncurrentExpiresAt(now, 3)
			r.AbortsAt(now)
			r.RemovesExpiredMarkers()
			r.Filter.SelectsKeySize("logs/a", 100)
			r.Filter.SelectsTags(map[string]string{"k": "v"})
			r.Filter.SelectsUpload("logs/a")
		}
		lifecycle.ScanPrefixes(cfg.Rules)
	})
}

// checkRoundTrip checks a bucket configuration that its PUT accepted: its stored form
// (encode) decodes to the same value, and its GET rendering (render, marshalled as XML)
// is accepted again (parse) as the same value.
func checkRoundTrip[C any](t *testing.T, cfg C, encode func(C) (string, error), decode func(string) (C, error), render func(C) any, parse func([]byte) (C, error)) {
	t.Helper()
	stored, err := encode(cfg)
	if err != nil {
		t.Fatalf("encoding the stored form: %v", err)
	}
	if back, err := decode(stored); err != nil || !reflect.DeepEqual(back, cfg) {
		t.Fatalf("the stored form decodes to %+v, %v; want %+v", back, err, cfg)
	}
	rendered, err := xml.Marshal(render(cfg))
	if err != nil {
		t.Fatalf("rendering: %v", err)
	}
	if again, err := parse(rendered); err != nil || !reflect.DeepEqual(again, cfg) {
		t.Fatalf("the rendered configuration parses to %+v, %v; want %+v\n%s", again, err, cfg, rendered)
	}
}
