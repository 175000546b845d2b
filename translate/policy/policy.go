// Package policy is the S3 bucket policy language as s3proxy keeps and evaluates it:
// parsing and validating a PutBucketPolicy document the way S3 does (its
// MalformedPolicy messages), evaluating a request against it (an explicit Deny wins,
// then an Allow, else no decision), and telling whether it is public (S3's Block Public
// Access definition). It knows nothing of HTTP or storage: the caller names the
// principal, the action, the resource and supplies the condition keys.
package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// MaxSize is S3's limit on a bucket policy document (20 KB).
const MaxSize = 20 << 10

// Versions of the policy language S3 accepts.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// ARNPrefix starts every S3 resource ARN.
const ARNPrefix = "arn:aws:s3:::"

// Error is a document S3 would refuse with MalformedPolicy; Message is S3's text.
type Error struct {
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func malformed(msg string) *Error { return &Error{Message: msg} }

// S3's messages for malformed policies.
const (
	msgInvalidJSON        = "This policy contains invalid Json"
	msgFirstByte          = "Policies must be valid JSON and the first byte must be '{'"
	msgMissingStatement   = "Missing required field Statement"
	msgEmptyStatement     = "Could not parse the policy: Statement is empty!"
	msgInvalidVersion     = "The policy must contain a valid version string"
	msgInvalidResource    = "Policy has invalid resource"
	msgInvalidPrincipal   = "Invalid principal in policy"
	msgInvalidAction      = "Policy has invalid action"
	msgInvalidEffect      = "Invalid effect: %s"
	msgMissingEffect      = "Missing required field Effect"
	msgMissingPrincipal   = "Missing required field Principal"
	msgMissingAction      = "Missing required field Action"
	msgMissingResource    = "Missing required field Resource"
	msgResourceMismatch   = "Action does not apply to any resource(s) in statement"
	msgConditionType      = "Invalid Condition type : %s"
	msgConditionKey       = "Policy has an invalid condition key"
	msgConditionMismatch  = "Conditions do not apply to combination of actions and resources in statement"
	msgConditionIP        = "Invalid IP address in Conditions"
	msgUnknownField       = "Unknown field %s"
	msgDuplicateSid       = "Statement IDs (SID) in a single policy must be unique"
	msgTooLarge           = "Policy exceeds the maximum allowed document size."
	msgConflictPrincipal  = "Statement can not contain both Principal and NotPrincipal"
	msgConflictAction     = "Statement can not contain both Action and NotAction"
	msgConflictResource   = "Statement can not contain both Resource and NotResource"
	msgConditionValueType = "Invalid Condition value"
)

// Policy is a validated bucket policy.
type Policy struct {
	// Document is the policy as sent.
	Document   string
	Version    string
	ID         string
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid    string
	Deny   bool // Effect: Deny, else Allow
	Who    principals
	Action patterns // case-insensitive action patterns
	Res    patterns // resource ARN patterns
	Conds  []condition
}

// principals is a statement's Principal (or NotPrincipal, Not set).
type principals struct {
	Not      bool
	Everyone bool
	Keys     []string // access keys
}

// patterns is a list of IAM patterns, or the complement of one (NotAction, NotResource).
type patterns struct {
	Not  bool
	List []string
}

// Options tune Parse.
type Options struct {
	// Bucket is the bucket the policy is for: every resource must be in it.
	Bucket string
	// KnownPrincipal reports whether an access key names a credential; nil accepts
	// any (a stored policy is read back without the check).
	KnownPrincipal func(accessKey string) bool
}

// Parse validates a PutBucketPolicy document as S3 does.
func Parse(doc []byte, opt Options) (*Policy, error) {
	if len(doc) > MaxSize {
		return nil, malformed(msgTooLarge)
	}
	trimmed := bytes.TrimLeft(doc, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, malformed(msgFirstByte)
	}
	// JSON is UTF-8. Invalid bytes inside a string would decode as U+FFFD, and the
	// stored document (which GetBucketPolicy returns) would differ from the one sent.
	if !utf8.Valid(doc) {
		return nil, &Error{Message: msgInvalidJSON, Err: errors.New("not valid UTF-8")}
	}
	top, err := object(doc)
	if err != nil {
		return nil, &Error{Message: msgInvalidJSON, Err: err}
	}
	p := &Policy{Document: string(doc), Version: Version2008}
	var stmts []json.RawMessage
	sawStatement := false
	for name, raw := range top {
		switch name {
		case "Version":
			if err := json.Unmarshal(raw, &p.Version); err != nil || (p.Version != Version2012 && p.Version != Version2008) {
				return nil, malformed(msgInvalidVersion)
			}
		case "Id":
			if err := json.Unmarshal(raw, &p.ID); err != nil {
				return nil, &Error{Message: msgInvalidJSON, Err: err}
			}
		case "Statement":
			sawStatement = true
			if stmts, err = oneOrMany(raw); err != nil {
				return nil, &Error{Message: msgInvalidJSON, Err: err}
			}
		default:
			return nil, malformed(fmt.Sprintf(msgUnknownField, name))
		}
	}
	if !sawStatement {
		return nil, malformed(msgMissingStatement)
	}
	if len(stmts) == 0 {
		return nil, malformed(msgEmptyStatement)
	}
	actions := newKnownActions()
	sids := map[string]bool{}
	for _, raw := range stmts {
		st, err := parseStatement(raw, opt, actions)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" {
			if sids[st.Sid] {
				return nil, malformed(msgDuplicateSid)
			}
			sids[st.Sid] = true
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

// object decodes a JSON object, keeping its members raw; a member named twice is an
// error (which of the two would S3 take?).
func object(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s is given twice", name)
		}
		out[name] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	// Only white space may follow: any other byte, even one that starts no JSON token
	// (Token's error then), is data after the object.
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return out, nil
}

// oneOrMany decodes a member that may be one value or an array of them.
func oneOrMany(raw json.RawMessage) ([]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		var list []json.RawMessage
		err := json.Unmarshal(raw, &list)
		return list, err
	}
	return []json.RawMessage{raw}, nil
}

// stringList decodes a string or an array of strings.
func stringList(raw json.RawMessage) ([]string, error) {
	items, err := oneOrMany(raw)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func parseStatement(raw json.RawMessage, opt Options, actions knownActions) (Statement, error) {
	var st Statement
	m, err := object(raw)
	if err != nil {
		return st, &Error{Message: msgInvalidJSON, Err: err}
	}
	for name := range m {
		switch name {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
		default:
			return st, malformed(fmt.Sprintf(msgUnknownField, name))
		}
	}
	if raw, ok := m["Sid"]; ok {
		if err := json.Unmarshal(raw, &st.Sid); err != nil {
			return st, &Error{Message: msgInvalidJSON, Err: err}
		}
	}
	rawEffect, ok := m["Effect"]
	if !ok {
		return st, malformed(msgMissingEffect)
	}
	var effect string
	if err := json.Unmarshal(rawEffect, &effect); err != nil {
		return st, &Error{Message: msgInvalidJSON, Err: err}
	}
	switch effect {
	case "Allow":
	case "Deny":
		st.Deny = true
	default:
		return st, malformed(fmt.Sprintf(msgInvalidEffect, effect))
	}

	if st.Who, err = parsePrincipals(m, opt); err != nil {
		return st, err
	}
	acts, err := either(m, "Action", "NotAction", msgMissingAction, msgConflictAction)
	if err != nil {
		return st, err
	}
	st.Action = acts
	for _, a := range acts.List {
		if actions.kinds(a) == 0 {
			return st, malformed(msgInvalidAction)
		}
	}
	res, err := either(m, "Resource", "NotResource", msgMissingResource, msgConflictResource)
	if err != nil {
		return st, err
	}
	st.Res = res
	var resKinds actionKind
	for _, r := range res.List {
		k, err := resourceKind(r, opt.Bucket)
		if err != nil {
			return st, err
		}
		resKinds |= k
	}
	if raw, ok := m["Condition"]; ok {
		if st.Conds, err = parseConditions(raw, acts); err != nil {
			return st, err
		}
	}
	// Every action named must have a resource of its kind in the statement (S3's
	// check; with NotAction or NotResource the statement covers whatever is left).
	if !acts.Not && !res.Not {
		for _, a := range acts.List {
			if k := actions.kinds(a); k&resKinds == 0 {
				return st, malformed(msgResourceMismatch)
			}
		}
	}
	return st, nil
}

// either reads a statement's element or its Not form (exactly one of them).
func either(m map[string]json.RawMessage, name, notName, missing, conflict string) (patterns, error) {
	raw, has := m[name]
	notRaw, hasNot := m[notName]
	switch {
	case has && hasNot:
		return patterns{}, malformed(conflict)
	case !has && !hasNot:
		return patterns{}, malformed(missing)
	case hasNot:
		raw = notRaw
	}
	list, err := stringList(raw)
	if err != nil {
		return patterns{}, &Error{Message: msgInvalidJSON, Err: err}
	}
	if len(list) == 0 {
		if name == "Resource" {
			return patterns{}, malformed(msgInvalidResource)
		}
		return patterns{}, malformed(missing)
	}
	return patterns{Not: hasNot, List: list}, nil
}

// resourceKind checks a resource ARN against the bucket and returns what it can name:
// the bucket, objects, or (with a wildcard that may cross the '/') both.
func resourceKind(r, bucket string) (actionKind, error) {
	rest, ok := strings.CutPrefix(r, ARNPrefix)
	if !ok || rest == "" {
		return 0, malformed(msgInvalidResource)
	}
	b, _, isObject := strings.Cut(rest, "/")
	// The bucket part must name this bucket (S3: a policy covers one bucket).
	if b == "" || !match(b, bucket) {
		return 0, malformed(msgInvalidResource)
	}
	if isObject {
		return kindObject, nil
	}
	if strings.ContainsAny(b, "*?") && strings.HasSuffix(b, "*") {
		// "arn:aws:s3:::bucket*" names the bucket and, '*' crossing '/', its objects.
		return kindBucket | kindObject, nil
	}
	return kindBucket, nil
}

// parsePrincipals reads Principal or NotPrincipal.
func parsePrincipals(m map[string]json.RawMessage, opt Options) (principals, error) {
	raw, has := m["Principal"]
	notRaw, hasNot := m["NotPrincipal"]
	var who principals
	switch {
	case has && hasNot:
		return who, malformed(msgConflictPrincipal)
	case !has && !hasNot:
		return who, malformed(msgMissingPrincipal)
	case hasNot:
		raw, who.Not = notRaw, true
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && (raw[0] == '"' || raw[0] == '[') {
		// "*" is everyone, anonymous callers included. S3 also takes AWS principals
		// written alone (a string or a list), as if they were {"AWS": ...}.
		return who, who.add(raw, opt)
	}
	typed, err := object(raw)
	if err != nil {
		return who, malformed(msgInvalidPrincipal)
	}
	if len(typed) == 0 {
		return who, malformed(msgInvalidPrincipal)
	}
	for typ, v := range typed {
		// s3proxy's principals are its credentials, named as AWS principals; it has
		// no canonical users, services or federated identities to name.
		if typ != "AWS" {
			return who, malformed(msgInvalidPrincipal)
		}
		if err := who.add(v, opt); err != nil {
			return who, err
		}
	}
	return who, nil
}

// add reads a string or a list of AWS principals: "*", access keys or user ARNs.
func (who *principals) add(raw json.RawMessage, opt Options) error {
	list, err := stringList(raw)
	if err != nil || len(list) == 0 {
		return malformed(msgInvalidPrincipal)
	}
	for _, s := range list {
		if s == "*" {
			who.Everyone = true
			continue
		}
		ak, ok := accessKeyOf(s)
		if !ok || (opt.KnownPrincipal != nil && !opt.KnownPrincipal(ak)) {
			return malformed(msgInvalidPrincipal)
		}
		who.Keys = append(who.Keys, ak)
	}
	return nil
}

// accessKeyOf returns the credential a principal names: its access key as is, or the
// ARN of an IAM user named by it ("arn:aws:iam::<account>:user/<access key>"; the
// account is not checked: s3proxy has one). Wildcards name no one.
func accessKeyOf(s string) (string, bool) {
	if s == "" || strings.ContainsAny(s, "*?") {
		return "", false
	}
	if rest, ok := strings.CutPrefix(s, "arn:aws:iam::"); ok {
		_, user, ok := strings.Cut(rest, ":user/")
		if !ok || user == "" || strings.Contains(user, "/") {
			return "", false
		}
		return user, true
	}
	if strings.ContainsAny(s, ":/ ") {
		return "", false
	}
	return s, true
}
