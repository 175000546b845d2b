package s3api

import (
	"net/http"
	"slices"
	"strings"

	"s3proxy/s3api/s3err"
	"s3proxy/translate/cors"
)

// CORS for browsers calling the S3 API directly (a web page uploading with a presigned
// URL, say). Two sources of rules, one per bucket:
//
//   - A bucket's own CORS configuration (PutBucketCors, bucketcors.go), evaluated
//     exactly as S3 evaluates it: the first matching rule answers, with the headers S3
//     sends.
//   - For a bucket without one (and for requests that name no bucket), the gateway-wide
//     rule of the cors_origins setting: the listed origins (or "*") may use every
//     method the gateway serves, with any request header, and read the headers S3
//     clients look at. With it unset (the default) such a bucket has no CORS at all,
//     as an S3 bucket without a configuration, the safe default.
//
// A bucket's own configuration replaces the gateway-wide rule for that bucket rather
// than adding to it, so that its owner can narrow what the operator allowed as well as
// widen it, and so that a configuration read back with GetBucketCors is the whole truth.
// Authentication is unchanged either way: CORS only lets the browser read the answer to
// a request that must still be signed.

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
	"x-amz-mp-parts-count", "x-amz-tagging-count", "x-amz-expiration",
	"Location", // POST Object: where the form's upload landed
}, ", ")

// corsMaxAge lets a browser cache a preflight answer for an hour.
const (
	corsMaxAgeSeconds = 3600
	corsMaxAge        = "3600"
)

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

// decorateCORS adds the CORS headers to the answer of an actual (not preflight) request
// from a browser, errors included (a page must be able to read why its upload failed).
// It runs before the request is authenticated, so its bucket's configuration comes from
// the CORS cache, which answers a missing bucket as one without a configuration.
func (s *Server) decorateCORS(rq *request) {
	origin := rq.r.Header.Get("Origin")
	if origin == "" {
		// Not a cross-origin request: nothing to allow (the gateway-wide rule still
		// adds Vary: Origin, for caches).
		s.cors.decorate(rq.w.Header(), origin)
		return
	}
	if rq.bucket != "" {
		cfg, ok, err := s.svc.BucketCORSRules(rq.r.Context(), rq.bucket)
		if err != nil {
			// Without knowing the bucket's own rules, the gateway-wide ones cannot stand
			// in for them: they might allow what the bucket does not.
			s.log.Debug("CORS configuration unavailable", "request_id", rq.id, "bucket", rq.bucket, "err", err)
			return
		}
		if ok {
			// S3 answers an actual request that no rule allows without any CORS header
			// (not even Vary), and so does a request whose CORS headers it would refuse
			// in a preflight: the request itself is served as usual.
			cr, err := readCORSRequest(rq.r)
			if err != nil {
				return
			}
			if m, ok := cfg.Evaluate(cors.Request{Origin: cr.origin, Method: cr.method, Headers: cr.headers}); ok {
				setCORSHeaders(rq.w.Header(), cr, m)
			}
			return
		}
	}
	s.cors.decorate(rq.w.Header(), origin)
}

// preflight answers an OPTIONS request, which browsers send unsigned, as S3 does: 400
// without an Origin, or with a method or header name S3 would never allow; then the
// bucket's own rules decide (200 with the matching rule's headers, else 403); for a
// bucket without rules, the gateway-wide rule (every requested header is allowed: signed
// requests carry many, and the signature is what guards them) or, with cors_origins
// unset, S3's 403 for a bucket without CORS. A missing bucket is answered as a bucket
// without rules: an anonymous caller cannot learn from a preflight which buckets exist.
func (s *Server) preflight(rq *request) error {
	r := rq.r
	h := rq.w.Header()
	h.Set("Vary", corsVaryHeaders)
	if r.Header.Get("Origin") == "" {
		return s3err.Newf(s3err.BadRequest, "Insufficient information. Origin request header needed.")
	}
	cr, err := readCORSRequest(r)
	if err != nil {
		return err
	}
	if rq.bucket != "" {
		cfg, ok, err := s.svc.BucketCORSRules(r.Context(), rq.bucket)
		if err != nil {
			return err
		}
		if ok {
			resource := "BUCKET"
			if rq.key != "" {
				resource = "OBJECT"
			}
			m, ok := cfg.Evaluate(cors.Request{Origin: cr.origin, Method: cr.method, Headers: cr.headers})
			if !cr.hasMethod || !ok {
				return corsForbidden(corsNotAllowed, cr, resource)
			}
			setCORSHeaders(h, cr, m)
			rq.w.WriteHeader(http.StatusOK)
			return nil
		}
	}
	if !s.cors.enabled() {
		return corsForbidden(corsNotEnabled, cr, "BUCKET")
	}
	if !s.cors.allows(cr.origin) || !cr.hasMethod || !slices.Contains(corsMethods, cr.method) {
		return corsForbidden(corsNotAllowed, cr, "BUCKET")
	}
	h.Set("Access-Control-Allow-Origin", cr.origin)
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

// configuration is GetBucketCors' answer for a bucket without its own configuration when
// cors_origins is set: the one rule such buckets follow.
func (p corsPolicy) configuration() corsConfiguration {
	origins := p.origins
	if p.any {
		origins = []string{"*"}
	}
	age := int32(corsMaxAgeSeconds)
	return corsConfiguration{NS: s3NS, Rules: []corsRule{{
		AllowedHeaders: []string{"*"}, AllowedMethods: corsMethods, AllowedOrigins: origins,
		ExposeHeaders: strings.Split(corsExpose, ", "), MaxAgeSeconds: &age,
	}}}
}
