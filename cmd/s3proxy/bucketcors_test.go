package main

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// preflightReq sends an unsigned OPTIONS request as a browser does.
func preflightReq(t *testing.T, url, origin, method, headers string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, url, nil)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if method != "" {
		req.Header.Set("Access-Control-Request-Method", method)
	}
	if headers != "" {
		req.Header.Set("Access-Control-Request-Headers", headers)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// corsHeaders are the CORS headers of an answer, for comparing.
func corsHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Headers", "Access-Control-Expose-Headers", "Access-Control-Max-Age", "Vary"} {
		if v := h.Get(k); v != "" {
			out[strings.TrimPrefix(k, "Access-Control-")] = v
		}
	}
	return out
}

const corsVary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

// TestBucketCORSAPI: a bucket's own CORS configuration, set with aws-sdk-go-v2, read
// back as set, and applied as S3 applies it to preflights and to actual requests; a
// bucket without one (or a missing bucket: a preflight cannot tell them apart) has no
// CORS when cors_origins is unset.
func TestBucketCORSAPI(t *testing.T) {
	const app, other = "https://app.example.com", "https://other.example"
	st := newStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, name := range []string{"web", "plain"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	b := aws.String("web")
	if _, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b}); apiCode(err) != "NoSuchCORSConfiguration" {
		t.Fatalf("GetBucketCors before any: %v", err)
	}
	resp, body := preflightReq(t, st.url+"/web/f.txt", app, "PUT", "")
	if resp.StatusCode != 403 || !strings.Contains(body, "<Message>CORSResponse: CORS is not enabled for this bucket.</Message>") ||
		!strings.Contains(body, "<Method>PUT</Method>") || !strings.Contains(body, "<ResourceType>BUCKET</ResourceType>") {
		t.Errorf("preflight before any configuration: %d %s", resp.StatusCode, body)
	}

	rules := []types.CORSRule{
		{ID: aws.String("app"), AllowedOrigins: []string{app}, AllowedMethods: []string{"PUT", "GET", "POST"},
			AllowedHeaders: []string{"Content-Type", "x-amz-*"}, ExposeHeaders: []string{"ETag", "x-amz-request-id"}, MaxAgeSeconds: aws.Int32(600)},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET", "HEAD"}},
	}
	if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: rules}}); err != nil {
		t.Fatalf("PutBucketCors: %v", err)
	}
	out, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
	if err != nil || len(out.CORSRules) != 2 {
		t.Fatalf("GetBucketCors: %+v %v", out, err)
	}
	if r := out.CORSRules[0]; aws.ToString(r.ID) != "app" || !reflect.DeepEqual(r.AllowedMethods, rules[0].AllowedMethods) ||
		!reflect.DeepEqual(r.AllowedHeaders, rules[0].AllowedHeaders) || !reflect.DeepEqual(r.ExposeHeaders, rules[0].ExposeHeaders) ||
		aws.ToInt32(r.MaxAgeSeconds) != 600 || !reflect.DeepEqual(r.AllowedOrigins, []string{app}) {
		t.Errorf("rule 0 read back as %+v", r)
	}
	if r := out.CORSRules[1]; r.ID != nil || r.MaxAgeSeconds != nil || !reflect.DeepEqual(r.AllowedOrigins, []string{"*"}) {
		t.Errorf("rule 1 read back as %+v", r)
	}

	allowedPut := map[string]string{"Allow-Origin": app, "Allow-Credentials": "true", "Allow-Methods": "PUT, GET, POST",
		"Allow-Headers": "content-type, x-amz-date", "Expose-Headers": "ETag, x-amz-request-id", "Max-Age": "600", "Vary": corsVary}
	for _, tc := range []struct {
		name, path, origin, method, headers string
		status                              int
		want                                map[string]string // CORS headers, or the refusal's message
		message                             string
	}{
		{"the app's PUT", "/web/f.txt", app, "PUT", "Content-Type,X-Amz-Date", 200, allowedPut, ""},
		{"the app's PUT to the bucket", "/web", app, "PUT", "content-type, x-amz-date", 200, allowedPut, ""},
		{"anyone's GET: the second rule", "/web/f.txt", other, "GET", "", 200,
			map[string]string{"Allow-Origin": "*", "Allow-Methods": "GET, HEAD", "Vary": corsVary}, ""},
		{"the app's HEAD: the second rule", "/web/f.txt", app, "HEAD", "", 200,
			map[string]string{"Allow-Origin": "*", "Allow-Methods": "GET, HEAD", "Vary": corsVary}, ""},
		{"a header the app's rule does not allow", "/web/f.txt", app, "PUT", "authorization", 403, nil, "This CORS request is not allowed"},
		{"another origin's PUT", "/web/f.txt", other, "PUT", "", 403, nil, "This CORS request is not allowed"},
		{"a header with GET from anyone", "/web/f.txt", other, "GET", "range", 403, nil, "This CORS request is not allowed"},
		{"no method", "/web/f.txt", app, "", "", 403, nil, "This CORS request is not allowed"},
		{"no origin", "/web/f.txt", "", "PUT", "", 400, nil, "Insufficient information. Origin request header needed."},
		{"a lower-case method", "/web/f.txt", app, "put", "", 400, nil, "Invalid Access-Control-Request-Method: put"},
		{"a header that is no header", "/web/f.txt", app, "PUT", "x-a,bad@char", 400, nil, `Access-Control-Request-Headers &#34;bad@char&#34; contains invalid character.`},
		{"a bucket without a configuration", "/plain/f.txt", app, "PUT", "", 403, nil, "CORSResponse: CORS is not enabled for this bucket."},
		{"a missing bucket answers the same", "/nosuchbucket/f.txt", app, "PUT", "", 403, nil, "CORSResponse: CORS is not enabled for this bucket."},
		{"and an impossible bucket name", "/No_Bucket/f.txt", app, "PUT", "", 403, nil, "CORSResponse: CORS is not enabled for this bucket."},
	} {
		resp, body := preflightReq(t, st.url+tc.path, tc.origin, tc.method, tc.headers)
		if resp.StatusCode != tc.status {
			t.Errorf("preflight %s: %d %s", tc.name, resp.StatusCode, body)
			continue
		}
		got := corsHeaders(resp.Header)
		if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
			t.Errorf("preflight %s:\n got %v\nwant %v", tc.name, got, tc.want)
		}
		if tc.message != "" && (!strings.Contains(body, tc.message) || got["Allow-Origin"] != "") {
			t.Errorf("preflight %s: %v %s", tc.name, got, body)
		}
	}
	// The refusal names the object's rules, the method asked for.
	if _, body := preflightReq(t, st.url+"/web/f.txt", other, "DELETE", ""); !strings.Contains(body, "<Method>DELETE</Method>") ||
		!strings.Contains(body, "<ResourceType>OBJECT</ResourceType>") || !strings.Contains(body, "<Code>AccessForbidden</Code>") {
		t.Errorf("refused preflight: %s", body)
	}

	// Actual requests: a presigned PUT and a GET from the app, a GET from anyone; a PUT
	// from another origin is served without any CORS header, as S3 serves it.
	ps := s3.NewPresignClient(c)
	pput, err := ps.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: b, Key: aws.String("f.txt")})
	if err != nil {
		t.Fatal(err)
	}
	send := func(method, url, origin, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	r := send(http.MethodPut, pput.URL, app, "from the app")
	if want := map[string]string{"Allow-Origin": app, "Allow-Credentials": "true", "Allow-Methods": "PUT, GET, POST",
		"Expose-Headers": "ETag, x-amz-request-id", "Max-Age": "600", "Vary": corsVary}; r.StatusCode != 200 || !reflect.DeepEqual(corsHeaders(r.Header), want) {
		t.Errorf("presigned PUT from the app: %d %v", r.StatusCode, corsHeaders(r.Header))
	}
	pget, err := ps.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("f.txt")})
	if err != nil {
		t.Fatal(err)
	}
	if r := send(http.MethodGet, pget.URL, other, ""); r.StatusCode != 200 || corsHeaders(r.Header)["Allow-Origin"] != "*" {
		t.Errorf("presigned GET from anyone: %d %v", r.StatusCode, corsHeaders(r.Header))
	}
	if r := send(http.MethodPut, pput.URL, other, "from elsewhere"); r.StatusCode != 200 || len(corsHeaders(r.Header)) != 0 {
		t.Errorf("presigned PUT from another origin: %d %v", r.StatusCode, corsHeaders(r.Header))
	}
	// An error's answer is readable by the app; an unsigned request is still refused.
	if status, _, h := st.raw(t, http.MethodGet, "/web/missing", nil, map[string]string{"Origin": app}); status != 404 || h.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("404 from the app: %d %v", status, corsHeaders(h))
	}
	if r := send(http.MethodGet, st.url+"/web/f.txt", app, ""); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("anonymous GET from the app: %d %v", r.StatusCode, corsHeaders(r.Header))
	}

	// Refusals store nothing.
	_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{
		{AllowedOrigins: []string{app}, AllowedMethods: []string{"PATCH"}}}}})
	if apiCode(err) != "InvalidRequest" {
		t.Errorf("PutBucketCors with PATCH: %v", err)
	}
	_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{}}})
	if apiCode(err) != "MalformedXML" {
		t.Errorf("PutBucketCors without rules: %v", err)
	}
	doc := []byte(`<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`)
	if status, body, _ := st.raw(t, http.MethodPut, "/web?cors", doc, nil); status != 400 || !strings.Contains(body, "Missing required header for this request: Content-MD5") {
		t.Errorf("PutBucketCors without Content-MD5: %d %s", status, body)
	}
	big := []byte(`<CORSConfiguration>` + strings.Repeat(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`, 700) + `</CORSConfiguration>`)
	if status, body, _ := st.raw(t, http.MethodPut, "/web?cors", big, md5Header(big)); status != 400 {
		t.Errorf("PutBucketCors of %d bytes: %d %s", len(big), status, body)
	}
	if _, err := st.client(t, otherAK, otherSK).PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b,
		CORSConfiguration: &types.CORSConfiguration{CORSRules: rules[1:]}}); apiCode(err) != "AccessDenied" {
		t.Errorf("another credential's PutBucketCors: %v", err)
	}
	if out, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b}); err != nil || len(out.CORSRules) != 2 {
		t.Errorf("a refusal changed the configuration: %+v %v", out, err)
	}

	if status, _, _ := st.raw(t, http.MethodDelete, "/web?cors", nil, nil); status != 204 {
		t.Errorf("DeleteBucketCors: %d", status)
	}
	if _, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b}); apiCode(err) != "NoSuchCORSConfiguration" {
		t.Errorf("GetBucketCors after the delete: %v", err)
	}
	if resp, body := preflightReq(t, st.url+"/web/f.txt", app, "PUT", ""); resp.StatusCode != 403 || !strings.Contains(body, "not enabled") {
		t.Errorf("preflight after the delete: %d %s", resp.StatusCode, body)
	}
}

// TestBucketCORSWithGatewayRule: with cors_origins set, a bucket without its own
// configuration follows the gateway-wide rule; a bucket with one follows it alone; and
// deleting it brings the gateway-wide rule back.
func TestBucketCORSWithGatewayRule(t *testing.T) {
	const app, partner = "https://app.example.com", "https://partner.example"
	st := newStack(t, "--cors-origins", app)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, name := range []string{"shared", "own"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String("own"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{partner}, AllowedMethods: []string{"GET"}}}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, origin string
		status             int
	}{
		{"gateway rule: the app", "/shared/k", app, 200},
		{"gateway rule: the partner", "/shared/k", partner, 403},
		{"gateway rule: a missing bucket", "/nosuchbucket/k", app, 200},
		{"own rule: the partner", "/own/k", partner, 200},
		{"own rule replaces the gateway's: the app", "/own/k", app, 403},
	} {
		resp, body := preflightReq(t, st.url+tc.path, tc.origin, "GET", "")
		if resp.StatusCode != tc.status || (tc.status == 200) != (resp.Header.Get("Access-Control-Allow-Origin") == tc.origin) {
			t.Errorf("%s: %d %v %s", tc.name, resp.StatusCode, corsHeaders(resp.Header), body)
		}
	}
	// Actual requests: the app's answer from the bucket with its own rules carries no
	// CORS header; from the other bucket, the gateway's.
	if _, _, h := st.raw(t, http.MethodGet, "/own", nil, map[string]string{"Origin": app}); h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("the app's request to the bucket with its own rules: %v", corsHeaders(h))
	}
	if _, _, h := st.raw(t, http.MethodGet, "/own", nil, map[string]string{"Origin": partner}); h.Get("Access-Control-Allow-Origin") != partner {
		t.Errorf("the partner's request to the bucket with its own rules: %v", corsHeaders(h))
	}
	if _, _, h := st.raw(t, http.MethodGet, "/shared", nil, map[string]string{"Origin": app}); h.Get("Access-Control-Allow-Origin") != app ||
		!strings.Contains(h.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("the app's request to the bucket following the gateway's rule: %v", corsHeaders(h))
	}
	// GetBucketCors tells each bucket's truth.
	if out, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("own")}); err != nil || len(out.CORSRules) != 1 ||
		out.CORSRules[0].AllowedOrigins[0] != partner {
		t.Errorf("GetBucketCors of the bucket with its own rules: %+v %v", out, err)
	}
	if out, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("shared")}); err != nil || len(out.CORSRules) != 1 ||
		out.CORSRules[0].AllowedOrigins[0] != app || aws.ToInt32(out.CORSRules[0].MaxAgeSeconds) != 3600 {
		t.Errorf("GetBucketCors of the bucket following the gateway: %+v %v", out, err)
	}
	if _, err := c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("own")}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := preflightReq(t, st.url+"/own/k", app, "GET", ""); resp.StatusCode != 200 {
		t.Errorf("the app after the bucket's own rules were deleted: %d", resp.StatusCode)
	}
}
