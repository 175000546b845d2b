// Package cors is a bucket's own CORS configuration as s3proxy keeps it: the rules
// PutBucketCors set (parsed and validated by s3api, which owns the XML), their JSON form
// in the metadata store, and S3's evaluation of a browser's request against them.
//
// S3's evaluation: the first rule that matches wins. A rule matches when the request's
// Origin matches one of its AllowedOrigin patterns, the method (the
// Access-Control-Request-Method of a preflight, or of an actual request that carries
// one, else the request's own method) is one of its AllowedMethods, and every header
// named in Access-Control-Request-Headers matches one of its AllowedHeader patterns. A
// pattern holds at most one "*", which matches any run of characters, the empty one
// included ("*" alone matches every origin).
package cors

import (
	"slices"
	"strings"

	"s3proxy/translate/bucketdoc"
)

// Kind is the kind of the bucket configuration document (meta.BucketConfig) that holds
// a CORS configuration.
const Kind = "cors"

// Methods are the methods a rule may allow, as S3 spells them (case matters).
var Methods = []string{"GET", "PUT", "HEAD", "POST", "DELETE"}

// ValidMethod reports whether m is one of Methods.
func ValidMethod(m string) bool { return slices.Contains(Methods, m) }

// Configuration is a bucket's CORS configuration: its rules in the order they were set.
type Configuration struct {
	Rules []Rule `json:"rules"`
}

// Rule is one CORSRule.
type Rule struct {
	ID             string   `json:"id,omitempty"`
	AllowedOrigins []string `json:"allowed_origins"`
	AllowedMethods []string `json:"allowed_methods"`
	AllowedHeaders []string `json:"allowed_headers,omitempty"`
	ExposeHeaders  []string `json:"expose_headers,omitempty"`
	// MaxAgeSeconds is nil when the rule sets none (the browser's default then applies).
	// S3 accepts any 32-bit integer, negative ones too, and reports it back as set.
	MaxAgeSeconds *int32 `json:"max_age_seconds,omitempty"`
}

// Encode returns the stored form of c.
func (c Configuration) Encode() (string, error) { return bucketdoc.Encode("cors", c) }

// Decode reads a stored configuration.
func Decode(s string) (Configuration, error) {
	var c Configuration
	err := bucketdoc.Decode("cors", s, &c)
	return c, err
}

// Request is what the evaluation looks at: the Origin, the method, and the header names
// a preflight announced (lower case, as Access-Control-Request-Headers lists them).
type Request struct {
	Origin  string
	Method  string
	Headers []string
}

// Match is the rule that allows a request, and how it allows the origin.
type Match struct {
	Rule *Rule
	// AnyOrigin is set when the origin matched only the rule's "*": S3 then answers
	// Access-Control-Allow-Origin: * and no Access-Control-Allow-Credentials.
	AnyOrigin bool
}

// Evaluate returns the first rule that allows req, as S3 chooses it.
func (c Configuration) Evaluate(req Request) (Match, bool) {
	for i := range c.Rules {
		r := &c.Rules[i]
		anyOrigin, ok := r.allowsOrigin(req.Origin)
		if !ok || !slices.Contains(r.AllowedMethods, req.Method) || !r.allowsHeaders(req.Headers) {
			continue
		}
		return Match{Rule: r, AnyOrigin: anyOrigin}, true
	}
	return Match{}, false
}

// allowsOrigin reports whether origin matches one of the rule's patterns, and whether
// only "*" matched it. A pattern naming the origin (exactly or with a wildcard) is
// preferred, so that the answer echoes the origin with credentials allowed.
func (r *Rule) allowsOrigin(origin string) (anyOrigin, ok bool) {
	for _, p := range r.AllowedOrigins {
		if p != "*" && Wildcard(p, origin) {
			return false, true
		}
	}
	return true, slices.Contains(r.AllowedOrigins, "*")
}

// allowsHeaders reports whether every requested header matches an AllowedHeader.
func (r *Rule) allowsHeaders(headers []string) bool {
	for _, h := range headers {
		if !slices.ContainsFunc(r.AllowedHeaders, func(p string) bool { return Wildcard(p, h) }) {
			return false
		}
	}
	return true
}

// Wildcard reports whether s matches pattern, ignoring case (host names and header
// names are case-insensitive): a "*" in pattern matches any run of characters, the
// empty one included. Patterns hold at most one "*" (s3api refuses more); should one
// hold several, the first splits it and the rest are literal.
func Wildcard(pattern, s string) bool {
	prefix, suffix, ok := strings.Cut(pattern, "*")
	if !ok {
		return strings.EqualFold(pattern, s)
	}
	return len(s) >= len(prefix)+len(suffix) &&
		strings.EqualFold(s[:len(prefix)], prefix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
