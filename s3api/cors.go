package s3api

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"

	"s3proxy/s3api/s3err"
)

// CORS for browsers calling the S3 API directly (a web page uploading with a presigned
// URL, say). The allowed origins are one setting for the whole gateway (cors_origins),
// since s3proxy keeps no per-bucket configuration: with none, no CORS header is ever
// sent and every preflight is refused, so a browser cannot make cross-origin calls at
// all, the safe default. Authentication is unchanged: CORS only lets the browser read
// the answer to a request that must still be signed.

// corsMethods are what the gateway serves; a preflight for any other is refused.
var corsMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodHead}

// corsExpose are the response headers a page may read: those S3 clients look at.
// (A wildcard would not cover them for credentialed requests, and x-amz-meta-* cannot
// be listed: user metadata stays readable through HeadObject from the server side.)
var corsExpose = strings.Join([]string{
	"ETag", "Content-Length", "Content-Range", "Content-Type", "Last-Modified", "Accept-Ranges",
	"x-amz-request-id", "x-amz-id-2", "x-amz-version-id", "x-amz-delete-marker",
	"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme",
	"x-amz-checksum-md5", "x-amz-checksum-sha1", "x-amz-checksum-sha256", "x-amz-checksum-sha512",
	"x-amz-checksum-xxhash64", "x-amz-checksum-xxhash3", "x-amz-checksum-xxhash128",
	"x-amz-checksum-type", "x-amz-checksum-algorithm",
	"x-amz-mp-parts-count", "x-amz-tagging-count",
	"Location", // POST Object: where the form's upload landed
}, ", ")

// corsMaxAge lets a browser cache a preflight answer for an hour.
const corsMaxAge = "3600"

// corsPolicy is the configured set of origins.
type corsPolicy struct {
	any     bool
	origins []string
}

func newCORSPolicy(origins []string) corsPolicy {
	p := corsPolicy{}
	for _, o := range origins {
		if o == "*" {
			p.any = true
		} else {
			p.origins = append(p.origins, strings.ToLower(o))
		}
	}
	return p
}

func (p corsPolicy) enabled() bool { return p.any || len(p.origins) > 0 }

func (p corsPolicy) allows(origin string) bool {
	return origin != "" && (p.any || slices.Contains(p.origins, strings.ToLower(origin)))
}

// decorate adds the CORS headers to the answer of a request from an allowed origin,
// errors included (a page must be able to read why its upload failed).
func (p corsPolicy) decorate(h http.Header, origin string) {
	if !p.enabled() {
		return
	}
	h.Add("Vary", "Origin")
	if !p.allows(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Expose-Headers", corsExpose)
}

// preflight answers an OPTIONS request, which browsers send unsigned: allowed when the
// origin is configured and the method is one the gateway serves; every requested header
// is allowed (signed requests carry many, and the signature is what guards them).
func (s *Server) preflight(rq *request) error {
	r := rq.r
	origin, method := r.Header.Get("Origin"), r.Header.Get("Access-Control-Request-Method")
	if origin == "" || method == "" {
		return s3err.Newf(s3err.InvalidRequest, "Insufficient information. Origin request header needed.")
	}
	h := rq.w.Header()
	h.Add("Vary", "Origin, Access-Control-Request-Headers, Access-Control-Request-Method")
	if !s.cors.allows(origin) || !slices.Contains(corsMethods, method) {
		return s3err.New(s3err.AccessForbidden)
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Set("Access-Control-Allow-Methods", strings.Join(corsMethods, ", "))
	if hdrs := r.Header.Get("Access-Control-Request-Headers"); hdrs != "" {
		h.Set("Access-Control-Allow-Headers", hdrs)
	}
	h.Set("Access-Control-Max-Age", corsMaxAge)
	h.Set("Access-Control-Expose-Headers", corsExpose)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// corsConfiguration is GetBucketCors' answer when origins are configured: the one rule
// every bucket follows.
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
	MaxAgeSeconds  string   `xml:"MaxAgeSeconds"`
}

func (p corsPolicy) configuration() corsConfiguration {
	origins := p.origins
	if p.any {
		origins = []string{"*"}
	}
	return corsConfiguration{NS: s3NS, Rules: []corsRule{{
		AllowedHeaders: []string{"*"}, AllowedMethods: corsMethods, AllowedOrigins: origins,
		ExposeHeaders: strings.Split(corsExpose, ", "), MaxAgeSeconds: corsMaxAge,
	}}}
}
