package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// condition is one key of one operator of a statement's Condition block: every
// condition of a statement must hold (operators and keys are ANDed; the values of
// one key are ORed).
type condition struct {
	op       string // the base operator, e.g. "StringEquals"
	set      setOp
	ifExists bool
	key      string // lower case: condition key names are case-insensitive
	values   []string
}

type setOp int

const (
	single setOp = iota
	forAnyValue
	forAllValues
)

// opKind groups the operators by how they compare.
type opKind int

const (
	opString opKind = iota
	opStringFold
	opStringLike
	opNumeric
	opDate
	opBool
	opBinary
	opIP
	opArn
	opArnLike
	opNull
)

type opInfo struct {
	kind    opKind
	negated bool
	cmp     string // numeric and date: "=", "<", "<=", ">", ">="
}

// operators are the condition operators IAM defines.
var operators = map[string]opInfo{
	"StringEquals":              {kind: opString},
	"StringNotEquals":           {kind: opString, negated: true},
	"StringEqualsIgnoreCase":    {kind: opStringFold},
	"StringNotEqualsIgnoreCase": {kind: opStringFold, negated: true},
	"StringLike":                {kind: opStringLike},
	"StringNotLike":             {kind: opStringLike, negated: true},
	"NumericEquals":             {kind: opNumeric, cmp: "="},
	"NumericNotEquals":          {kind: opNumeric, cmp: "=", negated: true},
	"NumericLessThan":           {kind: opNumeric, cmp: "<"},
	"NumericLessThanEquals":     {kind: opNumeric, cmp: "<="},
	"NumericGreaterThan":        {kind: opNumeric, cmp: ">"},
	"NumericGreaterThanEquals":  {kind: opNumeric, cmp: ">="},
	"DateEquals":                {kind: opDate, cmp: "="},
	"DateNotEquals":             {kind: opDate, cmp: "=", negated: true},
	"DateLessThan":              {kind: opDate, cmp: "<"},
	"DateLessThanEquals":        {kind: opDate, cmp: "<="},
	"DateGreaterThan":           {kind: opDate, cmp: ">"},
	"DateGreaterThanEquals":     {kind: opDate, cmp: ">="},
	"Bool":                      {kind: opBool},
	"BinaryEquals":              {kind: opBinary},
	"IpAddress":                 {kind: opIP},
	"NotIpAddress":              {kind: opIP, negated: true},
	"ArnEquals":                 {kind: opArn},
	"ArnNotEquals":              {kind: opArn, negated: true},
	"ArnLike":                   {kind: opArnLike},
	"ArnNotLike":                {kind: opArnLike, negated: true},
	"Null":                      {kind: opNull},
}

// globalKeys are IAM's global condition keys (lower case), which S3 accepts in a bucket
// policy; a key ending in '/' takes a suffix (a tag key). A key s3proxy cannot supply
// evaluates as absent, as in IAM.
var globalKeys = []string{
	"aws:sourceip", "aws:sourcevpc", "aws:sourcevpce", "aws:sourcearn", "aws:sourceaccount",
	"aws:sourceowner", "aws:sourceorgid", "aws:sourceorgpaths", "aws:vpcsourceip", "aws:currenttime",
	"aws:epochtime", "aws:securetransport", "aws:useragent", "aws:referer", "aws:principalarn",
	"aws:principalaccount", "aws:principalorgid", "aws:principalorgpaths", "aws:principaltype",
	"aws:principaltag/", "aws:principalisawsservice", "aws:principalservicename",
	"aws:principalservicenameslist", "aws:userid", "aws:username", "aws:multifactorauthage",
	"aws:multifactorauthpresent", "aws:tokenissuetime", "aws:requesttag/", "aws:tagkeys",
	"aws:resourcetag/", "aws:resourceaccount", "aws:resourceorgid", "aws:resourceorgpaths",
	"aws:calledvia", "aws:calledviafirst", "aws:calledvialast", "aws:viaawsservice",
	"aws:sourceidentity", "aws:requestedregion", "aws:federatedprovider",
	"aws:ec2instancesourcevpc", "aws:ec2instancesourceprivateipv4",
}

// s3Keys are the S3-specific condition keys S3 defines (lower case).
var s3Keys = []string{
	"s3:prefix", "s3:delimiter", "s3:max-keys", "s3:x-amz-acl", "s3:x-amz-content-sha256",
	"s3:x-amz-copy-source", "s3:x-amz-metadata-directive", "s3:x-amz-server-side-encryption",
	"s3:x-amz-server-side-encryption-aws-kms-key-id", "s3:x-amz-server-side-encryption-customer-algorithm",
	"s3:x-amz-storage-class", "s3:x-amz-website-redirect-location", "s3:x-amz-grant-full-control",
	"s3:x-amz-grant-read", "s3:x-amz-grant-read-acp", "s3:x-amz-grant-write", "s3:x-amz-grant-write-acp",
	"s3:versionid", "s3:signatureversion", "s3:signatureage", "s3:authtype", "s3:tlsversion",
	"s3:locationconstraint", "s3:object-lock-mode", "s3:object-lock-retain-until-date",
	"s3:object-lock-remaining-retention-days", "s3:object-lock-legal-hold", "s3:existingobjecttag/",
	"s3:requestobjecttag/", "s3:requestobjecttagkeys", "s3:resourceaccount",
	"s3:accesspointnetworkorigin", "s3:dataaccesspointarn", "s3:dataaccesspointaccount",
	"s3:if-match", "s3:if-none-match", "s3:objectcreationoperation", "s3:x-amz-object-ownership",
	"s3:bucketobjectlockenabled", "s3:x-amz-checksum-algorithm",
}

func knownKey(k string) bool {
	for _, list := range [][]string{globalKeys, s3Keys} {
		for _, s := range list {
			if k == s || strings.HasSuffix(s, "/") && strings.HasPrefix(k, s) && len(k) > len(s) {
				return true
			}
		}
	}
	return false
}

// keyActions limits the S3 keys that only some actions supply: S3 refuses a statement
// pairing one with another action ("Conditions do not apply to combination of actions
// and resources in statement"). Wildcard action patterns are not checked, as on S3.
var keyActions = map[string][]string{
	"s3:prefix":    {"s3:listbucket", "s3:listbucketversions"},
	"s3:delimiter": {"s3:listbucket", "s3:listbucketversions"},
	"s3:max-keys":  {"s3:listbucket", "s3:listbucketversions"},
	"s3:x-amz-acl": {"s3:putobject", "s3:putbucketacl", "s3:putobjectacl"},
	"s3:versionid": {"s3:getobjectversion", "s3:deleteobjectversion", "s3:getobjectversionattributes",
		"s3:getobjectversiontagging", "s3:putobjectversiontagging", "s3:deleteobjectversiontagging",
		"s3:getobjectversionacl", "s3:putobjectversionacl"},
}

func parseConditions(raw json.RawMessage, acts patterns) ([]condition, error) {
	block, err := object(raw)
	if err != nil {
		return nil, &Error{Message: msgInvalidJSON, Err: err}
	}
	var out []condition
	for name, body := range block {
		c := condition{}
		base := name
		switch {
		case strings.HasPrefix(base, "ForAnyValue:"):
			c.set, base = forAnyValue, strings.TrimPrefix(base, "ForAnyValue:")
		case strings.HasPrefix(base, "ForAllValues:"):
			c.set, base = forAllValues, strings.TrimPrefix(base, "ForAllValues:")
		}
		if b, ok := strings.CutSuffix(base, "IfExists"); ok && b != "Null" {
			c.ifExists, base = true, b
		}
		info, ok := operators[base]
		if !ok || (base == "Null" && (c.ifExists || c.set != single)) {
			return nil, malformed(fmt.Sprintf(msgConditionType, name))
		}
		c.op = base
		keys, err := object(body)
		if err != nil {
			return nil, &Error{Message: msgInvalidJSON, Err: err}
		}
		for key, vraw := range keys {
			k := strings.ToLower(key)
			if !knownKey(k) {
				return nil, malformed(msgConditionKey)
			}
			if allowed, ok := keyActions[k]; ok && !acts.Not {
				for _, a := range acts.List {
					if !strings.ContainsAny(a, "*?") && !contains(allowed, strings.ToLower(a)) {
						return nil, malformed(msgConditionMismatch)
					}
				}
			}
			vals, err := conditionValues(vraw)
			if err != nil {
				return nil, err
			}
			for _, v := range vals {
				if err := checkValue(info, k, v); err != nil {
					return nil, err
				}
			}
			cc := c
			cc.key, cc.values = k, vals
			out = append(out, cc)
		}
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// conditionValues reads a key's values: a string, number or boolean, or a list of them.
func conditionValues(raw json.RawMessage) ([]string, error) {
	items, err := oneOrMany(raw)
	if err != nil {
		return nil, &Error{Message: msgInvalidJSON, Err: err}
	}
	if len(items) == 0 {
		return nil, malformed(msgConditionValueType)
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = bytes.TrimSpace(it)
		var v any
		if err := json.Unmarshal(it, &v); err != nil {
			return nil, &Error{Message: msgInvalidJSON, Err: err}
		}
		switch v.(type) {
		case string:
			out = append(out, v.(string))
		case float64, bool:
			out = append(out, string(it))
		default:
			return nil, malformed(msgConditionValueType)
		}
	}
	return out, nil
}

// checkValue refuses a value its operator could never compare.
func checkValue(info opInfo, key, v string) error {
	// An address key's values must be addresses whatever the operator (S3 refuses
	// {"Null": {"aws:SourceIp": "true"}} too).
	if key == "aws:sourceip" {
		if _, ok := parsePrefix(v); !ok {
			return malformed(msgConditionIP)
		}
	}
	switch info.kind {
	case opIP:
		if _, ok := parsePrefix(v); !ok {
			return malformed(msgConditionIP)
		}
	case opNumeric:
		if _, ok := parseNumber(v); !ok {
			return malformed(msgConditionValueType)
		}
	case opDate:
		if _, ok := parseDate(v); !ok {
			return malformed(msgConditionValueType)
		}
	case opBool, opNull:
		if !strings.EqualFold(v, "true") && !strings.EqualFold(v, "false") {
			return malformed(msgConditionValueType)
		}
	}
	return nil
}

// parsePrefix reads an IP address or CIDR range (an address alone is its own /32 or
// /128).
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f)
}

// parseDate reads IAM's date forms: ISO 8601 (with or without time) or epoch seconds.
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

// holds evaluates the condition against the request's keys.
func (c condition) holds(keys func(string) ([]string, bool)) bool {
	info := operators[c.op]
	var got []string
	present := false
	if keys != nil {
		got, present = keys(c.key)
	}
	present = present && len(got) > 0
	if info.kind == opNull {
		// Null: true means "the key is absent".
		return strings.EqualFold(c.values[0], "true") != present
	}
	if !present {
		switch {
		case c.set == forAllValues:
			return true // vacuously: every one of no values matches
		case c.set == forAnyValue:
			return false
		case c.ifExists:
			return true
		}
		// IAM: an absent key matches nothing, so a negated operator holds.
		return info.negated
	}
	switch c.set {
	case forAnyValue:
		for _, g := range got {
			if c.one(info, g) {
				return true
			}
		}
		return false
	case forAllValues:
		for _, g := range got {
			if !c.one(info, g) {
				return false
			}
		}
		return true
	}
	// A single-valued key: a positive operator holds when a request value equals one of
	// the condition's values; a negated one when none does.
	if info.negated {
		for _, g := range got {
			if !c.one(info, g) {
				return false
			}
		}
		return true
	}
	for _, g := range got {
		if c.one(info, g) {
			return true
		}
	}
	return false
}

// one compares one request value with the condition's values, the operator's
// negation applied.
func (c condition) one(info opInfo, got string) bool {
	any := false
	for _, want := range c.values {
		if compare(info, want, got) {
			any = true
			break
		}
	}
	return any != info.negated
}

func compare(info opInfo, want, got string) bool {
	switch info.kind {
	case opString, opBinary, opArn:
		return want == got
	case opStringFold:
		return strings.EqualFold(want, got)
	case opStringLike, opArnLike:
		return match(want, got)
	case opBool:
		return strings.EqualFold(want, got)
	case opIP:
		p, ok := parsePrefix(want)
		a, err := netip.ParseAddr(got)
		return ok && err == nil && p.Contains(a.Unmap())
	case opNumeric:
		w, ok1 := parseNumber(want)
		g, ok2 := parseNumber(got)
		return ok1 && ok2 && cmp(info.cmp, compareFloat(g, w))
	case opDate:
		w, ok1 := parseDate(want)
		g, ok2 := parseDate(got)
		return ok1 && ok2 && cmp(info.cmp, g.Compare(w))
	}
	return false
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmp applies a comparison to the result of comparing the request's value with the
// condition's.
func cmp(op string, c int) bool {
	switch op {
	case "=":
		return c == 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	}
	return false
}
