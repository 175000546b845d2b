package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"s3proxy/s3api/s3err"
	"s3proxy/translate/cors"
)

// A bucket's own CORS configuration: PUT, GET and DELETE /bucket?cors (the document and
// its checks), and how a browser's request is answered from it (evaluateCORS, used by
// cors.go for preflights and actual requests).
//
// The checks are S3's, with its codes and messages: at least one and at most 100
// CORSRules; each with at least one AllowedMethod and one AllowedOrigin (MalformedXML);
// methods GET, PUT, HEAD, POST or DELETE, as spelt (InvalidRequest "Found unsupported
// HTTP method in CORS config"); at most one "*" in an AllowedOrigin or AllowedHeader
// (InvalidRequest); header names of token characters only (InvalidRequest); an ID of at
// most 255 characters; MaxAgeSeconds a 32-bit integer (S3 accepts negative ones). The
// document is at most 64 KB (S3's limit) and needs Content-MD5 or a checksum, as every
// SDK sends. The rules read back as they were set, in order.

// Limits of S3's CORS configurations.
const (
	maxCORSRules    = 100
	maxCORSBody     = 64 << 10
	maxCORSRuleID   = 255
	corsVaryHeaders = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
)

// corsSchema is S3's schema of a CORSConfiguration document.
var corsSchema = xmlSchema{
	"CORSConfiguration": {"CORSRule": true},
	"CORSRule": {"AllowedHeader": true, "AllowedMethod": true, "AllowedOrigin": true, "ExposeHeader": true,
		"ID": false, "MaxAgeSeconds": false},
}

// corsConfigIn is the request document.
type corsConfigIn struct {
	Rules []struct {
		AllowedHeaders []string `xml:"AllowedHeader"`
		AllowedMethods []string `xml:"AllowedMethod"`
		AllowedOrigins []string `xml:"AllowedOrigin"`
		ExposeHeaders  []string `xml:"ExposeHeader"`
		ID             *string  `xml:"ID"`
		MaxAgeSeconds  *string  `xml:"MaxAgeSeconds"`
	} `xml:"CORSRule"`
}

// corsConfiguration is GetBucketCors' answer.
type corsConfiguration struct {
	XMLName xml.Name   `xml:"CORSConfiguration"`
	NS      string     `xml:"xmlns,attr"`
	Rules   []corsRule `xml:"CORSRule"`
}

type corsRule struct {
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	ID             string   `xml:"ID,omitempty"`
	MaxAgeSeconds  *int32   `xml:"MaxAgeSeconds"`
}

// corsXML renders a stored configuration as GetBucketCors does.
func corsXML(cfg cors.Configuration) corsConfiguration {
	out := corsConfiguration{NS: s3NS}
	for _, r := range cfg.Rules {
		out.Rules = append(out.Rules, corsRule{AllowedHeaders: r.AllowedHeaders, AllowedMethods: r.AllowedMethods,
			AllowedOrigins: r.AllowedOrigins, ExposeHeaders: r.ExposeHeaders, ID: r.ID, MaxAgeSeconds: r.MaxAgeSeconds})
	}
	return out
}

// headerToken reports whether s is an HTTP header name (RFC 9110 token characters),
// as AllowedHeader, ExposeHeader and Access-Control-Request-Headers must hold.
func headerToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// parseCORS checks a PutBucketCors document as S3 does and returns the configuration to
// store.
func parseCORS(data []byte) (cors.Configuration, error) {
	if err := checkXMLShape(data, "CORSConfiguration", corsSchema); err != nil {
		return cors.Configuration{}, s3err.Wrap(s3err.MalformedXML, err)
	}
	var in corsConfigIn
	if err := xml.Unmarshal(data, &in); err != nil {
		return cors.Configuration{}, s3err.Wrap(s3err.MalformedXML, err)
	}
	if len(in.Rules) == 0 || len(in.Rules) > maxCORSRules {
		return cors.Configuration{}, s3err.Wrap(s3err.MalformedXML, errors.New("a CORS configuration has 1 to 100 rules"))
	}
	var cfg cors.Configuration
	for _, ri := range in.Rules {
		if len(ri.AllowedMethods) == 0 || len(ri.AllowedOrigins) == 0 {
			return cors.Configuration{}, s3err.Wrap(s3err.MalformedXML, errors.New("a CORSRule needs an AllowedMethod and an AllowedOrigin"))
		}
		for _, m := range ri.AllowedMethods {
			if !cors.ValidMethod(m) {
				return cors.Configuration{}, s3err.Newf(s3err.InvalidRequest, "Found unsupported HTTP method in CORS config. Unsupported method is %s", m)
			}
		}
		for _, o := range ri.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return cors.Configuration{}, s3err.Newf(s3err.InvalidRequest, "AllowedOrigin \"%s\" can not have more than one wildcard.", o)
			}
		}
		for _, h := range ri.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return cors.Configuration{}, s3err.Newf(s3err.InvalidRequest, "AllowedHeader \"%s\" can not have more than one wildcard.", h)
			}
		}
		// S3 words the refusal of an ExposeHeader like that of an AllowedHeader.
		for _, h := range append(append([]string(nil), ri.AllowedHeaders...), ri.ExposeHeaders...) {
			if !headerToken(h) {
				return cors.Configuration{}, s3err.Newf(s3err.InvalidRequest, "AllowedHeader \"%s\" contains invalid character.", h)
			}
		}
		r := cors.Rule{AllowedOrigins: ri.AllowedOrigins, AllowedMethods: ri.AllowedMethods, AllowedHeaders: ri.AllowedHeaders, ExposeHeaders: ri.ExposeHeaders}
		if ri.ID != nil {
			if utf8.RuneCountInString(*ri.ID) > maxCORSRuleID {
				return cors.Configuration{}, s3err.Newf(s3err.InvalidArgument, "ID length should not exceed allowed limit of %d", maxCORSRuleID)
			}
			r.ID = *ri.ID
		}
		if ri.MaxAgeSeconds != nil {
			n, err := strconv.ParseInt(strings.TrimSpace(*ri.MaxAgeSeconds), 10, 32)
			if err != nil {
				return cors.Configuration{}, s3err.Wrap(s3err.MalformedXML, err)
			}
			age := int32(n)
			r.MaxAgeSeconds = &age
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg, nil
}

func (s *Server) putBucketCors(rq *request) error {
	if err := s.configPut(rq); err != nil {
		return err
	}
	data, err := s.readBody(rq, maxCORSBody)
	if err != nil {
		return err
	}
	if err := verifyBodyChecksum(rq, data); err != nil {
		return err
	}
	cfg, err := parseCORS(data)
	if err != nil {
		return err
	}
	if err := s.svc.SetBucketCORS(rq.r.Context(), rq.principal, rq.bucket, cfg); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// getBucketCors answers the bucket's own configuration or, for a bucket without one,
// the gateway-wide rule when cors_origins is set (what the bucket then follows).
func (s *Server) getBucketCors(rq *request) error {
	cfg, ok, err := s.svc.BucketCORS(rq.r.Context(), rq.principal, rq.bucket)
	switch {
	case err != nil:
		return err
	case ok:
		return s.writeXML(rq, http.StatusOK, corsXML(cfg))
	case s.cors.enabled():
		return s.writeXML(rq, http.StatusOK, s.cors.configuration())
	}
	// The message S3 sends, which differs from its documentation's.
	e := s3err.Newf(s3err.NoSuchCORSConfiguration, "The CORS configuration does not exist")
	e.Extra = map[string]string{"BucketName": rq.bucket}
	return e
}

func (s *Server) deleteBucketCors(rq *request) error {
	if err := s.svc.DeleteBucketCORS(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

// corsRequest is what a browser's request says about itself.
type corsRequest struct {
	origin string
	// method is Access-Control-Request-Method when sent (always for a preflight), else
	// the request's own method: S3 evaluates an actual request that carries the header
	// by the header.
	method    string
	hasMethod bool
	// headers are the names in Access-Control-Request-Headers, lower case.
	headers []string
}

// readCORSRequest reads a request's CORS headers, refusing what S3 refuses in a
// preflight: an unknown method (they are case-sensitive) or a header name that is not
// a token.
func readCORSRequest(r *http.Request) (corsRequest, error) {
	cr := corsRequest{origin: r.Header.Get("Origin"), method: r.Method}
	if m, ok := r.Header["Access-Control-Request-Method"]; ok {
		cr.method, cr.hasMethod = m[0], true
		if !cors.ValidMethod(cr.method) {
			return cr, s3err.Newf(s3err.BadRequest, "Invalid Access-Control-Request-Method: %s", cr.method)
		}
	}
	for _, v := range r.Header.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(v, ",") {
			// Browsers join the names with "," alone; S3 takes ", " as well.
			name = strings.Trim(name, " \t")
			if name == "" {
				continue
			}
			if !headerToken(name) {
				return cr, s3err.Newf(s3err.BadRequest, "Access-Control-Request-Headers \"%s\" contains invalid character.", name)
			}
			cr.headers = append(cr.headers, strings.ToLower(name))
		}
	}
	return cr, nil
}

// setCORSHeaders writes the answer of a rule that allows a request: the origin (or
// "*", without credentials, when the rule allows any origin), the rule's methods, the
// requested headers it allows, its exposed headers and max age, and Vary.
func setCORSHeaders(h http.Header, cr corsRequest, m cors.Match) {
	if m.AnyOrigin {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", cr.origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(m.Rule.AllowedMethods, ", "))
	if len(cr.headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(cr.headers, ", "))
	}
	if len(m.Rule.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(m.Rule.ExposeHeaders, ", "))
	}
	if m.Rule.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(*m.Rule.MaxAgeSeconds)))
	}
	h.Set("Vary", corsVaryHeaders)
}

// corsForbidden is S3's refusal of a preflight, naming the method asked for (OPTIONS
// when none was) and whether rules of an object's bucket were evaluated.
func corsForbidden(message string, cr corsRequest, resourceType string) *s3err.Error {
	method := cr.method
	if !cr.hasMethod {
		method = http.MethodOptions
	}
	e := s3err.Newf(s3err.AccessForbidden, "%s", message)
	e.Extra = map[string]string{"Method": method, "ResourceType": resourceType}
	return e
}

// S3's messages for a refused preflight ("evalution" is spelt as S3 spells it).
const (
	corsNotEnabled = "CORSResponse: CORS is not enabled for this bucket."
	corsNotAllowed = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, " +
		"request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)
