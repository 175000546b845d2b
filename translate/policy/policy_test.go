package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"*", "", true},
		{"*", "a/b/c", true},
		{"a*", "a/b", true}, // '*' crosses '/', unlike path.Match
		{"a/*/c", "a/x/y/c", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a?c", "a/c", true},
		{"a?c", "aéc", true}, // one character, two bytes
		{"[ab]", "a", false},
		{"[ab]", "[ab]", true}, // no classes: keys may contain '['
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"*.jpg", "x.jpg.png", false},
		{"**", "anything", true},
		{"abc", "ABC", false},
	} {
		if got := match(c.pattern, c.s); got != c.want {
			t.Errorf("match(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
	if !matchFold("s3:get*", "s3:GetObject") {
		t.Error("action patterns are case-insensitive")
	}
}

const bucket = "photos"

func known(ak string) bool { return ak == "AKOTHER" || ak == "AKOWNER" }

func TestParseRefuses(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	for _, c := range []struct {
		name, doc, msg string
	}{
		{"not json", `{"Version":`, msgInvalidJSON},
		// Found by FuzzPolicy: a byte that starts no JSON token after the object was
		// taken for its end.
		{"garbage after the object", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:s3:::*"}]}` + "\xea", msgInvalidJSON},
		{"a token after the object", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`) + ` {}`, msgInvalidJSON},
		{"invalid UTF-8 in a string", stmt(`{"Sid":"caf` + "\xe9" + `","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidJSON},
		{"white space after the object is fine, bad version after it is not", `{"Version":"2020-01-01","Statement":[]}` + " \n", msgInvalidVersion},
		{"first byte", `["x"]`, msgFirstByte},
		{"empty", ``, msgFirstByte},
		{"no statement", `{"Version":"2012-10-17"}`, msgMissingStatement},
		{"empty statement", `{"Version":"2012-10-17","Statement":[]}`, msgEmptyStatement},
		{"bad version", `{"Version":"2020-01-01","Statement":[]}`, msgInvalidVersion},
		{"unknown top field", `{"Version":"2012-10-17","Statements":[]}`, "Unknown field Statements"},
		{"bad effect", stmt(`{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), "Invalid effect: Maybe"},
		{"no effect", stmt(`{"Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgMissingEffect},
		{"no principal", stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgMissingPrincipal},
		{"principal string", stmt(`{"Effect":"Allow","Principal":"AKNOBODY","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidPrincipal},
		{"principal unknown key", stmt(`{"Effect":"Allow","Principal":{"AWS":"AKNOBODY"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidPrincipal},
		{"principal empty", stmt(`{"Effect":"Allow","Principal":{"AWS":""},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidPrincipal},
		{"principal empty list", stmt(`{"Effect":"Allow","Principal":{"AWS":[]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidPrincipal},
		{"principal wildcard", stmt(`{"Effect":"Allow","Principal":{"AWS":"AK*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidPrincipal},
		{"principal service", stmt(`{"Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidPrincipal},
		{"unknown action", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidAction},
		{"other service", stmt(`{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidAction},
		{"wildcard naming nothing", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:Fly*","Resource":"arn:aws:s3:::photos/*"}`), msgInvalidAction},
		{"other bucket", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::videos/*"}`), msgInvalidResource},
		{"not an s3 arn", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"photos/*"}`), msgInvalidResource},
		{"leading slash", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::/photos/*"}`), msgInvalidResource},
		{"empty resource", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":""}`), msgInvalidResource},
		{"empty resources", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":[]}`), msgInvalidResource},
		{"object action on bucket", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos"}`), msgResourceMismatch},
		{"bucket action on objects", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos/*"}`), msgResourceMismatch},
		{"unknown operator", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringSortOf":{"aws:UserAgent":"x"}}}`), "Invalid Condition type : StringSortOf"},
		{"unknown key", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringEquals":{"s3:colour":"x"}}}`), msgConditionKey},
		{"unknown global key", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:NotARealIpKey":"10.0.0.0/8"}}}`), msgConditionKey},
		{"ip key under Null", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"Null":{"aws:SourceIp":"true"}}}`), msgConditionIP},
		{"condition before resource kind", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:ListBucketMultipartUploads","Resource":"arn:aws:s3:::photos/*","Condition":{"StringEquals":{"s3:prefix":"foo"}}}`), msgConditionMismatch},
		{"version id on GetObject", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringEquals":{"s3:VersionId":"abc"}}}`), msgConditionMismatch},
		{"bad ip", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.300/8"}}}`), msgConditionIP},
		{"prefix on GetObject", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringLike":{"s3:prefix":"a/*"}}}`), msgConditionMismatch},
		{"both principals", stmt(`{"Effect":"Deny","Principal":"*","NotPrincipal":{"AWS":"AKOTHER"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgConflictPrincipal},
		{"duplicate sid", stmt(`{"Sid":"a","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"},{"Sid":"a","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), msgDuplicateSid},
		{"too large", `{"Id":"` + strings.Repeat("x", MaxSize) + `"}`, msgTooLarge},
	} {
		_, err := Parse([]byte(c.doc), Options{Bucket: bucket, KnownPrincipal: known})
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: err = %v, want MalformedPolicy %q", c.name, err, c.msg)
			continue
		}
		if pe.Message != c.msg {
			t.Errorf("%s: message %q, want %q", c.name, pe.Message, c.msg)
		}
	}
}

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), Options{Bucket: bucket, KnownPrincipal: known})
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, doc)
	}
	return p
}

// acceptedPolicies are documents PutBucketPolicy accepts for bucket photos (with the
// credentials AKOWNER and AKOTHER): TestParseAccepts checks them, FuzzPolicy starts from them.
var acceptedPolicies = []string{
	// Statement as one object, no Version (2008-10-17), principal forms.
	`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}}`,
	`{"Version":"2008-10-17","Id":"x","Statement":[{"Sid":"1","Effect":"Allow","Principal":{"AWS":["AKOTHER","arn:aws:iam::123456789012:user/AKOWNER"]},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}]}`,
	// Case-insensitive actions, NotAction and NotResource, every operator family.
	`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"AKOWNER"},"NotAction":"S3:getobject","NotResource":"arn:aws:s3:::photos/public/*",
	  "Condition":{"StringNotEqualsIfExists":{"aws:UserAgent":"x"},"NumericLessThan":{"s3:max-keys":10},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
	  "Bool":{"aws:SecureTransport":false},"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","::1"]},"Null":{"aws:Referer":"true"},
	  "ForAnyValue:StringLike":{"aws:TagKeys":"a*"},"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos","Condition":{"StringLike":{"s3:prefix":["home/","home/*"]}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photo?/*"}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"AKOTHER","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/x"}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":["*","AKOTHER"],"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/x"}]}`,
}

func TestParseAccepts(t *testing.T) {
	for _, doc := range acceptedPolicies {
		mustParse(t, doc)
	}
}

// keys is a request's condition keys.
type keys map[string][]string

func (k keys) get(name string) ([]string, bool) { v, ok := k[name]; return v, ok }

func TestEvaluate(t *testing.T) {
	p := mustParse(t, `{"Version":"2012-10-17","Statement":[
	  {"Sid":"public-read","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/public/*"},
	  {"Sid":"other-list","Effect":"Allow","Principal":{"AWS":"AKOTHER"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos","Condition":{"StringLike":{"s3:prefix":"shared/*"}}},
	  {"Sid":"office","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/AKOTHER"},"Action":"s3:Put*","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}},
	  {"Sid":"no-secret","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::photos/public/secret*"}
	]}`)
	for _, c := range []struct {
		name string
		r    Request
		k    keys
		want Decision
	}{
		{"anonymous read", Request{Action: "s3:GetObject", Resource: ObjectARN(bucket, "public/a.jpg")}, nil, Allowed},
		{"anonymous read elsewhere", Request{Action: "s3:GetObject", Resource: ObjectARN(bucket, "private/a.jpg")}, nil, NoDecision},
		{"anonymous write", Request{Action: "s3:PutObject", Resource: ObjectARN(bucket, "public/a.jpg")}, nil, NoDecision},
		{"deny beats allow", Request{Action: "s3:GetObject", Resource: ObjectARN(bucket, "public/secret.txt")}, nil, Denied},
		{"deny applies to the owner", Request{AccessKey: "AKOWNER", Action: "s3:DeleteObject", Resource: ObjectARN(bucket, "public/secret.txt")}, nil, Denied},
		{"list with prefix", Request{AccessKey: "AKOTHER", Action: "s3:ListBucket", Resource: BucketARN(bucket)}, keys{"s3:prefix": {"shared/x"}}, Allowed},
		{"list other prefix", Request{AccessKey: "AKOTHER", Action: "s3:ListBucket", Resource: BucketARN(bucket)}, keys{"s3:prefix": {"home/"}}, NoDecision},
		{"list without prefix", Request{AccessKey: "AKOTHER", Action: "s3:ListBucket", Resource: BucketARN(bucket)}, nil, NoDecision},
		{"list by someone else", Request{AccessKey: "AKTHIRD", Action: "s3:ListBucket", Resource: BucketARN(bucket)}, keys{"s3:prefix": {"shared/x"}}, NoDecision},
		{"put from the office", Request{AccessKey: "AKOTHER", Action: "s3:PutObject", Resource: ObjectARN(bucket, "x")}, keys{"aws:sourceip": {"192.0.2.7"}}, Allowed},
		{"put from elsewhere", Request{AccessKey: "AKOTHER", Action: "s3:PutObject", Resource: ObjectARN(bucket, "x")}, keys{"aws:sourceip": {"198.51.100.7"}}, NoDecision},
		{"action case", Request{AccessKey: "AKOTHER", Action: "s3:PutObjectTagging", Resource: ObjectARN(bucket, "x")}, keys{"aws:sourceip": {"192.0.2.7"}}, Allowed},
	} {
		c.r.Keys = c.k.get
		if got := p.Evaluate(c.r); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestConditions(t *testing.T) {
	doc := func(cond string) *Policy {
		return mustParse(t, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos","Condition":`+cond+`}]}`)
	}
	for _, c := range []struct {
		cond string
		k    keys
		want bool
	}{
		{`{"StringEquals":{"s3:prefix":"a"}}`, keys{"s3:prefix": {"a"}}, true},
		{`{"StringEquals":{"s3:prefix":"a"}}`, keys{"s3:prefix": {"A"}}, false},
		{`{"StringEquals":{"s3:prefix":["x","a"]}}`, keys{"s3:prefix": {"a"}}, true},
		{`{"StringEquals":{"s3:prefix":"a"}}`, nil, false},
		{`{"StringNotEquals":{"s3:prefix":"a"}}`, keys{"s3:prefix": {"b"}}, true},
		{`{"StringNotEquals":{"s3:prefix":"a"}}`, keys{"s3:prefix": {"a"}}, false},
		{`{"StringNotEquals":{"s3:prefix":"a"}}`, nil, true}, // absent key: a negated operator holds
		{`{"StringEqualsIgnoreCase":{"s3:prefix":"a"}}`, keys{"s3:prefix": {"A"}}, true},
		{`{"StringNotEqualsIgnoreCase":{"s3:prefix":"a"}}`, keys{"s3:prefix": {"A"}}, false},
		{`{"StringLike":{"s3:prefix":"a/*"}}`, keys{"s3:prefix": {"a/b/c"}}, true},
		{`{"StringNotLike":{"s3:prefix":"a/*"}}`, keys{"s3:prefix": {"a/b/c"}}, false},
		{`{"StringEqualsIfExists":{"s3:prefix":"a"}}`, nil, true},
		{`{"StringEqualsIfExists":{"s3:prefix":"a"}}`, keys{"s3:prefix": {"b"}}, false},
		{`{"NumericLessThanEquals":{"s3:max-keys":"10"}}`, keys{"s3:max-keys": {"10"}}, true},
		{`{"NumericLessThan":{"s3:max-keys":10}}`, keys{"s3:max-keys": {"10"}}, false},
		{`{"NumericGreaterThan":{"s3:max-keys":10}}`, keys{"s3:max-keys": {"11"}}, true},
		{`{"NumericGreaterThanEquals":{"s3:max-keys":10}}`, keys{"s3:max-keys": {"9"}}, false},
		{`{"NumericEquals":{"s3:max-keys":10}}`, keys{"s3:max-keys": {"10.0"}}, true},
		{`{"NumericNotEquals":{"s3:max-keys":10}}`, keys{"s3:max-keys": {"10"}}, false},
		{`{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`, keys{"aws:currenttime": {"2026-11-30T02:00:00Z"}}, true},
		{`{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01"}}`, keys{"aws:currenttime": {"2026-11-30T02:00:00Z"}}, false},
		{`{"DateGreaterThanEquals":{"aws:EpochTime":"1700000000"}}`, keys{"aws:epochtime": {"1800000000"}}, true},
		{`{"DateEquals":{"aws:CurrentTime":"2026-11-30T02:00:00Z"}}`, keys{"aws:currenttime": {"2026-11-30T03:00:00+01:00"}}, true},
		{`{"DateNotEquals":{"aws:CurrentTime":"2026-11-30T02:00:00Z"}}`, keys{"aws:currenttime": {"2026-11-30T02:00:00Z"}}, false},
		{`{"DateLessThanEquals":{"aws:CurrentTime":"2026-11-30T02:00:00Z"}}`, keys{"aws:currenttime": {"2026-11-30T02:00:00Z"}}, true},
		{`{"Bool":{"aws:SecureTransport":"true"}}`, keys{"aws:securetransport": {"false"}}, false},
		{`{"Bool":{"aws:SecureTransport":true}}`, keys{"aws:securetransport": {"true"}}, true},
		{`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, keys{"aws:sourceip": {"10.1.2.3"}}, true},
		{`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, keys{"aws:sourceip": {"11.1.2.3"}}, false},
		{`{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, keys{"aws:sourceip": {"2001:db8::1"}}, true},
		{`{"IpAddress":{"aws:SourceIp":"127.0.0.1"}}`, keys{"aws:sourceip": {"::ffff:127.0.0.1"}}, true},
		{`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, keys{"aws:sourceip": {"10.1.2.3"}}, false},
		{`{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, keys{"aws:sourceip": {"192.0.2.1"}}, true},
		{`{"Null":{"aws:Referer":"true"}}`, nil, true},
		{`{"Null":{"aws:Referer":"true"}}`, keys{"aws:referer": {"x"}}, false},
		{`{"Null":{"aws:Referer":"false"}}`, keys{"aws:referer": {"x"}}, true},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, keys{"aws:tagkeys": {"c", "b"}}, true},
		{`{"ForAnyValue:StringEquals":{"aws:TagKeys":["a","b"]}}`, nil, false},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, keys{"aws:tagkeys": {"a", "c"}}, false},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, keys{"aws:tagkeys": {"a", "b"}}, true},
		{`{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]}}`, nil, true},
		{`{"StringEquals":{"aws:SourceVpc":"vpc-1"}}`, keys{}, false}, // keys s3proxy cannot supply are absent
		// Operators and keys are ANDed.
		{`{"StringEquals":{"s3:prefix":"a","s3:delimiter":"/"}}`, keys{"s3:prefix": {"a"}}, false},
		{`{"StringEquals":{"s3:prefix":"a"},"StringLike":{"s3:delimiter":"*"}}`, keys{"s3:prefix": {"a"}, "s3:delimiter": {"/"}}, true},
	} {
		p := doc(c.cond)
		got := p.Evaluate(Request{Action: "s3:ListBucket", Resource: BucketARN(bucket), Keys: c.k.get}) == Allowed
		if got != c.want {
			t.Errorf("%s with %v: %v, want %v", c.cond, c.k, got, c.want)
		}
	}
}

func TestIsPublic(t *testing.T) {
	doc := func(stmt string) string { return `{"Version":"2012-10-17","Statement":[` + stmt + `]}` }
	for _, c := range []struct {
		doc  string
		want bool
	}{
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), true},
		{doc(`{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), true},
		{doc(`{"Effect":"Allow","Principal":{"AWS":"AKOTHER"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), false},
		{doc(`{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), false},
		{doc(`{"Effect":"Allow","NotPrincipal":{"AWS":"AKOTHER"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}`), true},
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`), false},
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}`), true},
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}`), true},
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringEquals":{"aws:SourceVpc":"vpc-1"}}}`), false},
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringLike":{"aws:SourceVpc":"vpc-*"}}}`), true},
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringEqualsIfExists":{"aws:SourceVpc":"vpc-1"}}}`), true},
		{doc(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*","Condition":{"StringEquals":{"aws:UserAgent":"curl"}}}`), true},
	} {
		if got := mustParse(t, c.doc).IsPublic(); got != c.want {
			t.Errorf("IsPublic(%s) = %v, want %v", c.doc, got, c.want)
		}
	}
}

// FuzzPolicy: whatever PutBucketPolicy accepts survives its stored form, parses again
// from it, and evaluates (requests with and without condition keys, anonymous or not)
// without panicking.
//
//	go test -run - -fuzz FuzzPolicy -fuzztime 60s ./translate/policy
func FuzzPolicy(f *testing.F) {
	for _, doc := range acceptedPolicies {
		f.Add([]byte(doc), "s3:GetObject", "public/a.jpg", "10.1.2.3")
	}
	known := func(ak string) bool { return ak == "AKOWNER" || ak == "AKOTHER" }
	f.Fuzz(func(t *testing.T, doc []byte, action, key, value string) {
		p, err := Parse(doc, Options{Bucket: "photos", KnownPrincipal: known})
		if err != nil {
			return
		}
		stored, err := Encode(string(doc))
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		back, err := Decode(stored)
		if err != nil || back != string(doc) {
			t.Fatalf("stored form decodes to %q, %v", back, err)
		}
		if _, err := Parse([]byte(back), Options{Bucket: "photos"}); err != nil {
			t.Fatalf("a stored policy does not parse again: %v", err)
		}
		p.IsPublic()
		all := func(string) ([]string, bool) { return []string{value}, true }
		none := func(string) ([]string, bool) { return nil, false }
		for _, ak := range []string{"", "AKOWNER", "AKOTHER"} {
			for _, res := range []string{BucketARN("photos"), ObjectARN("photos", key)} {
				p.Evaluate(Request{AccessKey: ak, Action: action, Resource: res, Keys: all})
				p.Evaluate(Request{AccessKey: ak, Action: action, Resource: res, Keys: none})
			}
		}
	})
}
