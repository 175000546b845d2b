package s3api

import (
	"bytes"
	"io"
	"mime/multipart"
	"strings"
	"testing"

	"s3proxy/s3api/s3err"
)

// FuzzPostForm: whatever a form's bytes are, reading the fields before the file
// stays within its caps (the raw bytes before the file, the fields' names and
// values) and fails, if it fails, with an S3 error; nothing panics.
func FuzzPostForm(f *testing.F) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary("XyZ")
	_ = mw.WriteField("key", "a/${filename}")
	_ = mw.WriteField("Policy", "e30=")
	fw, _ := mw.CreateFormFile("file", "f.txt")
	_, _ = fw.Write([]byte("content"))
	_ = mw.Close()
	f.Add(b.Bytes())
	f.Add([]byte("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + strings.Repeat("v", 30000) + "\r\n--XyZ--\r\n"))
	f.Add([]byte("--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ\r\nContent-Disposition: form-data; name=\"KEY\"\r\n\r\nk2\r\n--XyZ--\r\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		pre := &preambleReader{r: bytes.NewReader(body), limit: maxPostPreamble}
		fields, file, err := readPostForm(multipart.NewReader(pre, "XyZ"))
		if pre.n > maxPostPreamble {
			t.Fatalf("read %d bytes before the file, cap %d", pre.n, maxPostPreamble)
		}
		if err != nil {
			if s3err.As(err) == nil {
				t.Fatalf("not an S3 error: %v", err)
			}
			return
		}
		total := 0
		for k, v := range fields {
			if k != strings.ToLower(k) {
				t.Fatalf("field name %q not lower-cased", k)
			}
			total += len(k) + len(v)
		}
		if total > maxPostFields {
			t.Fatalf("fields hold %d bytes, cap %d", total, maxPostFields)
		}
		if file != nil {
			pre.off = true
			_, _ = io.Copy(io.Discard, file)
		}
	})
}
