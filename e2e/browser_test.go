package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// browserPage is what a web application on another origin does with s3proxy: a
// presigned PUT (not a simple request, so the browser sends a CORS preflight first),
// reading the ETag (an exposed header), a presigned GET, and a POST form upload. The
// page reports what it saw to its own origin.
var browserPage = template.Must(template.New("page").Parse(`<!doctype html>
<html><body><script>
const put = {{.PutURL}}, get = {{.GetURL}}, post = {{.PostURL}}, fields = {{.Fields}};
(async () => {
  const out = {};
  try {
    let r = await fetch(put, {method: "PUT", body: "hello from a browser", headers: {"Content-Type": "text/plain"}});
    out.put = r.status; out.putETag = r.headers.get("ETag");
    r = await fetch(get);
    out.get = r.status; out.body = await r.text();
    const f = new FormData();
    for (const [k, v] of Object.entries(fields)) f.append(k, v);
    f.append("file", new Blob(["posted by a form"], {type: "text/plain"}), "form.txt");
    r = await fetch(post, {method: "POST", body: f});
    out.post = r.status; out.postETag = r.headers.get("ETag");
  } catch (e) {
    out.error = String(e);
  }
  await fetch("/result", {method: "POST", body: JSON.stringify(out)});
})();
</script></body></html>`))

// browserResult is what the page reports.
type browserResult struct {
	Put      int    `json:"put"`
	PutETag  string `json:"putETag"`
	Get      int    `json:"get"`
	Body     string `json:"body"`
	Post     int    `json:"post"`
	PostETag string `json:"postETag"`
	Error    string `json:"error"`
}

// TestBrowserCORS drives headless Chromium: a page on an origin s3proxy allows
// (--cors-origins) uploads with a presigned PUT, reads it back and posts a form, and
// sees the ETags; the same page on another origin is stopped by the browser at the
// first request, since s3proxy does not allow that origin.
func TestBrowserCORS(t *testing.T) {
	t.Parallel()
	chromium := needTool(t, "chromium")
	allowed := newPageServer(t)
	other := newPageServer(t)
	s := startServer(t, serverOptions{args: []string{"--cors-origins", allowed.srv.URL}})
	c := s3Client(s, s.cred)
	createBucket(t, c, "browser")
	page := browserPageData(t, s, c, "browser")
	allowed.page, other.page = page, page

	got := allowed.load(t, chromium)
	if got.Error != "" || got.Put != 200 || got.PutETag == "" || got.Get != 200 || got.Body != "hello from a browser" ||
		got.Post != 204 || got.PostETag == "" {
		t.Fatalf("the allowed origin's page saw %+v", got)
	}
	head, err := c.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String("browser"), Key: aws.String("forms/form.txt")})
	if err != nil || aws.ToString(head.ETag) != got.PostETag {
		t.Errorf("the posted object: %v, ETag %s (page saw %s)", err, aws.ToString(head.ETag), got.PostETag)
	}

	got = other.load(t, chromium)
	if !strings.Contains(got.Error, "Failed to fetch") || got.Put != 0 {
		t.Errorf("a page on an origin s3proxy does not allow saw %+v", got)
	}
}

// TestBrowserBucketCORS: the same page, with CORS allowed by the bucket's own
// configuration alone (no --cors-origins): a rule for the page's origin lets it PUT,
// read the ETag, GET and post a form; the page on another origin is stopped by the
// browser, and so is the allowed page against a bucket without a configuration.
func TestBrowserBucketCORS(t *testing.T) {
	t.Parallel()
	chromium := needTool(t, "chromium")
	allowed := newPageServer(t)
	other := newPageServer(t)
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	createBucket(t, c, "browser")
	createBucket(t, c, "no-cors")
	if _, err := c.PutBucketCors(ctxT(t), &s3.PutBucketCorsInput{Bucket: aws.String("browser"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{allowed.srv.URL}, AllowedMethods: []string{"GET", "PUT", "POST"},
			AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: aws.Int32(60)}}}}); err != nil {
		t.Fatal(err)
	}
	allowed.page, other.page = browserPageData(t, s, c, "browser"), browserPageData(t, s, c, "browser")

	got := allowed.load(t, chromium)
	if got.Error != "" || got.Put != 200 || got.PutETag == "" || got.Get != 200 || got.Body != "hello from a browser" ||
		got.Post != 204 || got.PostETag == "" {
		t.Fatalf("the page on the origin the bucket allows saw %+v", got)
	}
	got = other.load(t, chromium)
	if !strings.Contains(got.Error, "Failed to fetch") || got.Put != 0 {
		t.Errorf("a page on an origin the bucket does not allow saw %+v", got)
	}
	allowed.page = browserPageData(t, s, c, "no-cors")
	got = allowed.load(t, chromium)
	if !strings.Contains(got.Error, "Failed to fetch") || got.Put != 0 {
		t.Errorf("the page against a bucket without CORS saw %+v", got)
	}
}

// browserPageData presigns the page's requests (aws-sdk-go-v2 for PUT and GET,
// minio-go for the POST policy).
func browserPageData(t *testing.T, s *server, c *s3.Client, bucket string) map[string]any {
	t.Helper()
	pc := s3.NewPresignClient(c)
	put, err := pc.PresignPutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("put.txt")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	get, err := pc.PresignGetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("put.txt")}, s3.WithPresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := minio.New(s.host, &minio.Options{Creds: credentials.NewStaticV4(s.cred.AccessKey, s.cred.SecretKey, ""), Region: region})
	if err != nil {
		t.Fatal(err)
	}
	p := minio.NewPostPolicy()
	for _, err := range []error{p.SetBucket(bucket), p.SetKeyStartsWith("forms/"), p.SetExpires(time.Now().UTC().Add(10 * time.Minute))} {
		if err != nil {
			t.Fatal(err)
		}
	}
	target, fields, err := mc.PresignedPostPolicy(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	fields["key"] = "forms/${filename}"
	return map[string]any{"PutURL": put.URL, "GetURL": get.URL, "PostURL": target.String(), "Fields": fields}
}

// pageServer serves the page on an origin of its own and takes its report.
type pageServer struct {
	srv    *httptest.Server
	page   map[string]any
	result chan browserResult
}

func newPageServer(t *testing.T) *pageServer {
	t.Helper()
	p := &pageServer{result: make(chan browserResult, 1)}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if err := browserPage.Execute(w, p.page); err != nil {
				t.Error(err)
			}
		case "/result":
			var res browserResult
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &res); err != nil {
				res.Error = fmt.Sprintf("unreadable report %q: %v", b, err)
			}
			select {
			case p.result <- res:
			default:
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// load opens the page in headless Chromium and waits for its report.
func (p *pageServer) load(t *testing.T, chromium string) browserResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The flags keep Chromium from reaching for the network (this machine has none
	// but loopback) and from needing a sandbox or a GPU.
	cmd := exec.CommandContext(ctx, chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), p.srv.URL+"/")
	cmd.Env = childEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	select {
	case res := <-p.result:
		return res
	case <-ctx.Done():
		t.Fatalf("no report from the page %s\nchromium: %s", p.srv.URL, clip(stderr.String()))
	}
	return browserResult{}
}
