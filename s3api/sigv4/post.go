package sigv4

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"s3proxy/s3api/s3err"
)

// Browser-based uploads (S3's POST Object): the form carries its own authentication.
// The string to sign is the base64 policy document exactly as sent, signed with the
// same derived key as every SigV4 request; the policy then restricts what the form
// may contain. See "Authenticating Requests: Browser-Based Uploads Using POST (AWS
// Signature Version 4)" and "POST Policy" in the S3 API reference.

// PostAuth is the result of a successful VerifyPost.
type PostAuth struct {
	AccessKey string
	Policy    *PostPolicy
	// Anonymous: the form carries neither a policy nor any signature field. S3 takes
	// such a form as an anonymous request, served only where the bucket's policy lets
	// anyone write (the caller authorizes it); Policy is then nil.
	Anonymous bool
}

// PostPolicy is a decoded, signature-verified POST policy document.
type PostPolicy struct {
	Expiration time.Time
	conditions []postCondition
	// minLength and maxLength are the content-length-range (the narrowest, when
	// there are several); hasRange reports whether the policy set one.
	minLength, maxLength int64
	hasRange             bool
	// sigV2 marks a policy signed by a SigV2 form, whose signature fields
	// (AWSAccessKeyId, signature) need no condition.
	sigV2 bool
}

// postCondition is one entry of the policy's conditions: an exact match ("eq", from
// either the object or the array form), a prefix ("starts-with"), or a length range
// (kept on the policy instead).
type postCondition struct {
	op    string // "eq" or "starts-with"
	field string // lower-cased, without the '$'
	value string
	text  string // as S3 quotes it in "Policy Condition failed: ..."
}

// The form fields the signature needs (lower case, as fields are case-insensitive).
const (
	FieldPolicy     = "policy"
	FieldAlgorithm  = "x-amz-algorithm"
	FieldCredential = "x-amz-credential"
	FieldDate       = "x-amz-date"
	FieldSignature  = "x-amz-signature"
	// SigV2 forms: signature = base64(HMAC-SHA1(secret, policy)).
	FieldAccessKeyV2 = "awsaccesskeyid"
	FieldSignatureV2 = "signature"
)

// VerifyPost authenticates a POST Object form by its fields (names lower-cased): the
// x-amz-signature must be the HMAC of the base64 policy under the credential's
// signing key. It then decodes the policy and checks its expiration; the caller
// checks the form against it with Check once the key's ${filename} is expanded.
func (v *Verifier) VerifyPost(fields map[string]string) (*PostAuth, error) {
	_, hasV2Key := fields[FieldAccessKeyV2]
	_, hasV2Sig := fields[FieldSignatureV2]
	_, hasV4Sig := fields[FieldSignature]
	if (hasV2Key || hasV2Sig) && !hasV4Sig {
		if !v.SigV2 {
			return nil, s3err.Newf(s3err.UnsupportedSignature, "Signature Version 2 POST forms (AWSAccessKeyId, signature) are not supported; sign the policy with AWS4-HMAC-SHA256")
		}
		return v.verifyPostV2(fields)
	}
	v4 := []string{FieldSignature, FieldAlgorithm, FieldCredential, FieldDate}
	signed := false
	for _, f := range v4 {
		if _, ok := fields[f]; ok {
			signed = true
		}
	}
	policy, hasPolicy := fields[FieldPolicy]
	if !signed && !hasPolicy {
		return &PostAuth{Anonymous: true}, nil
	}
	if !hasPolicy {
		return nil, MissingField("Policy")
	}
	for _, f := range v4 {
		if _, ok := fields[f]; !ok {
			return nil, MissingField(canonicalFieldName(f))
		}
	}
	if alg := fields[FieldAlgorithm]; alg != algorithm {
		return nil, s3err.Newf(s3err.UnsupportedSignature, "Unsupported x-amz-algorithm %q; only %s is supported", alg, algorithm)
	}
	p := &request{signature: fields[FieldSignature], amzDate: fields[FieldDate]}
	if err := v.parseCredential(p, fields[FieldCredential], s3err.AuthorizationQueryParametersError); err != nil {
		return nil, err
	}
	t, err := time.Parse(timeFormat, p.amzDate)
	if err != nil {
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	p.t = t
	if p.date != p.amzDate[:8] {
		return nil, s3err.Newf(s3err.AuthorizationQueryParametersError, "Invalid credential date \"%s\". This date is not the same as X-Amz-Date: \"%s\".", p.date, p.amzDate[:8])
	}
	key, err := v.signingKey(p)
	if err != nil {
		return nil, err
	}
	// The signature is hex: decode it and compare the MACs in constant time, so that
	// it cannot be guessed byte by byte from response timing.
	got, err := hex.DecodeString(p.signature)
	if err != nil || !hmac.Equal(hmacSum(key, policy), got) {
		e := s3err.New(s3err.SignatureDoesNotMatch)
		e.Extra = map[string]string{"AWSAccessKeyId": p.accessKey, "StringToSign": policy, "SignatureProvided": p.signature,
			"StringToSignBytes": spacedHex(policy)}
		return nil, e
	}
	pol, err := ParsePostPolicy(policy)
	if err != nil {
		return nil, err
	}
	// Unlike a signed request, a form is not bound to its x-amz-date (a page may
	// serve it for hours): the policy's expiration is its lifetime.
	if !v.now().Before(pol.Expiration) {
		return nil, s3err.Newf(s3err.AccessDenied, "Invalid according to Policy: Policy expired.")
	}
	// A signed form lives no longer than a presigned URL: at most the presign limit
	// (7 days) from its signing date, and that date no later than the clock allows.
	// The allowed skew is slack for clients that read their clock twice (mc signs at
	// the whole second and expires 168 h after its finer reading).
	if pol.Expiration.Sub(p.t) > v.maxExpiry()+v.maxSkew() || p.t.Sub(v.now()) > v.maxSkew() {
		return nil, s3err.Newf(s3err.AccessDenied, "Invalid according to Policy: Policy expiration must be at most %s after x-amz-date.", v.maxExpiry())
	}
	return &PostAuth{AccessKey: p.accessKey, Policy: pol}, nil
}

// verifyPostV2 authenticates a SigV2 form ("Browser-Based Uploads Using POST (AWS
// Signature Version 2)"): the signature is base64(HMAC-SHA1(secret, policy)), the
// policy exactly as sent. The policy is then checked as for SigV4.
func (v *Verifier) verifyPostV2(fields map[string]string) (*PostAuth, error) {
	for _, f := range []struct{ field, name string }{{FieldPolicy, "Policy"}, {FieldAccessKeyV2, "AWSAccessKeyId"}, {FieldSignatureV2, "Signature"}} {
		if _, ok := fields[f.field]; !ok {
			return nil, MissingField(f.name)
		}
	}
	ak, policy := fields[FieldAccessKeyV2], fields[FieldPolicy]
	secret, err := v.secret(ak)
	if err != nil {
		return nil, err
	}
	got, err := base64.StdEncoding.DecodeString(fields[FieldSignatureV2])
	if err != nil || !hmac.Equal(signV2(secret, policy), got) {
		e := s3err.New(s3err.SignatureDoesNotMatch)
		e.Extra = map[string]string{"AWSAccessKeyId": ak, "StringToSign": policy, "SignatureProvided": fields[FieldSignatureV2],
			"StringToSignBytes": spacedHex(policy)}
		return nil, e
	}
	pol, err := ParsePostPolicy(policy)
	if err != nil {
		return nil, err
	}
	pol.sigV2 = true
	now := v.now()
	if !now.Before(pol.Expiration) {
		return nil, s3err.Newf(s3err.AccessDenied, "Invalid according to Policy: Policy expired.")
	}
	// A SigV2 form has no signing date: bound its lifetime from now, as for a
	// SigV2 presigned URL (the presign limit, the skew as slack).
	if pol.Expiration.Sub(now) > v.maxExpiry()+v.maxSkew() {
		return nil, s3err.Newf(s3err.AccessDenied, "Invalid according to Policy: Policy expiration must be at most %s from now.", v.maxExpiry())
	}
	return &PostAuth{AccessKey: ak, Policy: pol}, nil
}

// MissingField is S3's answer to a form without a field it requires (key, or one
// the signature needs); S3 adds the hint because fields after the file are ignored.
func MissingField(name string) error {
	e := s3err.Newf(s3err.InvalidArgument, "Bucket POST must contain a field named '%s'.  If it is specified, please check the order of the fields.", name)
	e.Extra = map[string]string{"ArgumentName": name, "ArgumentValue": ""}
	return e
}

// canonicalFieldName spells a field as S3 names it in errors (X-Amz-Credential).
func canonicalFieldName(f string) string {
	parts := strings.Split(f, "-")
	for i, s := range parts {
		if s != "" {
			parts[i] = strings.ToUpper(s[:1]) + s[1:]
		}
	}
	return strings.Join(parts, "-")
}

func badPolicy(format string, args ...any) error {
	return s3err.Newf(s3err.InvalidPolicyDocument, "Invalid Policy: "+format, args...)
}

// policyTimeFormats are the ISO 8601 forms clients write expirations in: SDKs send
// milliseconds (2007-12-01T12:00:00.000Z), some tools whole seconds.
var policyTimeFormats = []string{"2006-01-02T15:04:05.000Z", time.RFC3339Nano}

// ParsePostPolicy decodes a base64 POST policy document and validates its shape:
// an expiration, and conditions each of which is a one-field object, an
// ["eq"|"starts-with", "$field", "value"] triple, or ["content-length-range", min, max].
func ParsePostPolicy(b64 string) (*PostPolicy, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, badPolicy("Invalid Base64 Encoding.")
	}
	var doc map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, badPolicy("Invalid JSON.")
	}
	for k := range doc {
		if k != "expiration" && k != "conditions" {
			return nil, badPolicy("Unexpected field %q.", k)
		}
	}
	p := &PostPolicy{minLength: 0, maxLength: math.MaxInt64}
	rawExp, ok := doc["expiration"]
	if !ok {
		return nil, badPolicy("Policy missing expiration.")
	}
	var exp string
	if err := json.Unmarshal(rawExp, &exp); err != nil {
		return nil, badPolicy("Invalid 'expiration' value: %s", rawExp)
	}
	parsed := false
	for _, f := range policyTimeFormats {
		if t, err := time.Parse(f, exp); err == nil {
			p.Expiration, parsed = t, true
			break
		}
	}
	if !parsed {
		return nil, badPolicy("Invalid 'expiration' value: '%s'", exp)
	}
	rawConds, ok := doc["conditions"]
	if !ok {
		return nil, badPolicy("Policy missing conditions.")
	}
	var conds []json.RawMessage
	if err := json.Unmarshal(rawConds, &conds); err != nil {
		return nil, badPolicy("Invalid 'conditions' value: it must be a list.")
	}
	for _, c := range conds {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *PostPolicy) addCondition(c json.RawMessage) error {
	c = bytes.TrimSpace(c)
	if len(c) > 0 && c[0] == '{' {
		var obj map[string]any
		if err := unmarshalNumber(c, &obj); err != nil {
			return badPolicy("Invalid Simple-Condition: %s", c)
		}
		if len(obj) != 1 {
			return badPolicy("Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.")
		}
		for k, v := range obj {
			s, ok := scalar(v)
			if !ok {
				return badPolicy("Invalid Simple-Condition: value of %q must be a string.", k)
			}
			p.conditions = append(p.conditions, postCondition{op: "eq", field: strings.ToLower(k), value: s,
				text: "{" + quote(k) + ": " + quote(s) + "}"})
		}
		return nil
	}
	var arr []any
	if err := unmarshalNumber(c, &arr); err != nil || len(arr) == 0 {
		return badPolicy("Invalid Condition: %s", c)
	}
	op, _ := arr[0].(string)
	switch strings.ToLower(op) {
	case "eq", "starts-with":
		if len(arr) != 3 {
			return badPolicy("Invalid Condition: %s", c)
		}
		field, ok1 := arr[1].(string)
		value, ok2 := scalar(arr[2])
		if !ok1 || !ok2 || !strings.HasPrefix(field, "$") || len(field) < 2 {
			return badPolicy("Invalid Condition: %s", c)
		}
		p.conditions = append(p.conditions, postCondition{op: strings.ToLower(op), field: strings.ToLower(field[1:]), value: value,
			text: "[" + quote(op) + ", " + quote(field) + ", " + quote(value) + "]"})
	case "content-length-range":
		if len(arr) != 3 {
			return badPolicy("Invalid Condition: %s", c)
		}
		lo, ok1 := integer(arr[1])
		hi, ok2 := integer(arr[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return badPolicy("Invalid content-length-range: %s", c)
		}
		p.minLength, p.maxLength, p.hasRange = max(p.minLength, lo), min(p.maxLength, hi), true
	default:
		return badPolicy("Invalid Condition Type: %s", c)
	}
	return nil
}

func unmarshalNumber(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// scalar accepts the values a condition may compare with: strings, and numbers
// (some clients write success_action_status as 201).
func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// integer reads a content-length-range bound: a JSON integer or a decimal string.
func integer(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	return n, err == nil
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// LengthRange returns the content-length-range the file must satisfy; ok is false
// when the policy sets none.
func (p *PostPolicy) LengthRange() (minLen, maxLen int64, ok bool) {
	if p == nil { // an anonymous form: no range
		return 0, 0, false
	}
	return p.minLength, p.maxLength, p.hasRange
}

// ExpandKey substitutes the file's name for ${filename} in a form's key, as S3 does
// before it checks the policy (so that conditions see the final key).
func ExpandKey(key, filename string) string {
	return strings.ReplaceAll(key, "${filename}", filename)
}

// exempt reports the fields that need no condition: the signature and policy
// themselves (the SigV2 form's access key too), the file, and (by prefix)
// x-ignore- fields, which S3 leaves for the page's own use.
func (p *PostPolicy) exempt(f string) bool {
	switch f {
	case FieldPolicy, "file":
		return true
	case FieldSignature:
		return !p.sigV2
	case FieldAccessKeyV2, FieldSignatureV2:
		return p.sigV2
	}
	return strings.HasPrefix(f, "x-ignore-")
}

// Check verifies a form (field names lower-cased, the key's ${filename} already
// expanded, as S3 expands variables before validating) against the policy posted
// to bucket: every condition must hold, and every field must be named by one.
func (p *PostPolicy) Check(fields map[string]string, bucket string) error {
	if p == nil {
		return nil // an anonymous form has no policy to meet
	}
	named := map[string]bool{}
	for _, c := range p.conditions {
		named[c.field] = true
		got := fields[c.field]
		if c.field == "bucket" {
			got = bucket // the bucket is the one posted to, whatever a field says
		}
		if !c.holds(got) {
			return s3err.Newf(s3err.AccessDenied, "Invalid according to Policy: Policy Condition failed: %s", c.text)
		}
	}
	var extra []string
	for f := range fields {
		if named[f] || p.exempt(f) {
			continue
		}
		extra = append(extra, f)
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return s3err.Newf(s3err.AccessDenied, "Invalid according to Policy: Extra input fields: %s", strings.Join(extra, ", "))
	}
	return nil
}

func (c postCondition) holds(v string) bool {
	if c.op == "eq" {
		return v == c.value
	}
	if c.field == "content-type" {
		// S3: each value of a comma-separated Content-Type must start with the prefix.
		for _, part := range strings.Split(v, ",") {
			if !strings.HasPrefix(strings.TrimSpace(part), c.value) {
				return false
			}
		}
		return true
	}
	return strings.HasPrefix(v, c.value)
}
