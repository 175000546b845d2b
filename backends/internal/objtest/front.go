package objtest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Front serves the object requests COS and OSS share (PUT/GET/HEAD/DELETE object and
// the multipart calls) from a Store; the vendor test servers route to it after their own
// signature checks, and keep bucket requests (listing, HEAD bucket) to themselves.
type Front struct {
	Store       *Store
	MetaPrefix  string // the vendor's user-metadata header prefix, "x-cos-meta-"
	CRCHeader   string // the vendor's CRC-64 response header, "x-cos-hash-crc64ecma"
	MinPartSize int    // the vendor's minimum for every part but the last
	// Fail answers with the vendor's error response for code.
	Fail func(w http.ResponseWriter, r *http.Request, code, msg string)
	// Location is a completed multipart upload's Location.
	Location func(r *http.Request, bucket, key string) string
	// StrictRange says whether an unsatisfiable range is refused (416); otherwise the
	// object is served whole (OSS without x-oss-range-behavior: standard). Nil: always.
	StrictRange func(r *http.Request) bool
}

// ServeObject serves a request for key in bucket.
func (f *Front) ServeObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Has("uploadId"):
		f.uploadPart(w, r, bucket, key)
	case r.Method == http.MethodPut:
		f.putObject(w, r, bucket, key)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		f.getObject(w, r, bucket, key)
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		if err := f.Store.Abort(bucket, key, q.Get("uploadId")); err != nil {
			f.FailErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete:
		if err := f.Store.Delete(bucket, key); err != nil {
			f.FailErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && q.Has("uploads"):
		id, err := f.Store.Initiate(bucket, key, f.userMeta(r.Header))
		if err != nil {
			f.FailErr(w, r, err)
			return
		}
		WriteXML(w, http.StatusOK, struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Bucket   string
			Key      string
			UploadID string `xml:"UploadId"`
		}{Bucket: bucket, Key: key, UploadID: id})
	case r.Method == http.MethodPost && q.Has("uploadId"):
		f.complete(w, r, bucket, key)
	default:
		f.Fail(w, r, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

// FailErr answers with the vendor error for one of the Store's errors.
func (f *Front) FailErr(w http.ResponseWriter, r *http.Request, err error) {
	for _, known := range []error{ErrNoSuchBucket, ErrNoSuchKey, ErrNoSuchUpload, ErrInvalidPart,
		ErrInvalidPartOrder, ErrEntityTooSmall, ErrInvalidRange, ErrMalformedPartList} {
		if errors.Is(err, known) {
			f.Fail(w, r, known.Error(), err.Error())
			return
		}
	}
	f.Fail(w, r, "InternalError", err.Error())
}

func (f *Front) userMeta(h http.Header) map[string]string {
	m := map[string]string{}
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, f.MetaPrefix) && len(v) > 0 {
			m[strings.TrimPrefix(lk, f.MetaPrefix)] = v[0]
		}
	}
	return m
}

// readBody reads exactly Content-Length bytes; a body cut short is an error (and
// nothing is stored), as on any real server.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength < 0 {
		return nil, fmt.Errorf("MissingContentLength (transfer-encoding %q, header %q)", r.TransferEncoding, r.Header.Get("Content-Length"))
	}
	data := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, data); err != nil {
		return nil, err
	}
	return data, nil
}

func (f *Front) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	data, err := readBody(r)
	if err != nil {
		f.Fail(w, r, "IncompleteBody", err.Error())
		return
	}
	o, err := f.Store.Put(bucket, key, data, f.userMeta(r.Header))
	if err != nil {
		f.FailErr(w, r, err)
		return
	}
	w.Header().Set("ETag", o.ETag)
	w.Header().Set(f.CRCHeader, strconv.FormatUint(o.CRC64, 10))
	w.WriteHeader(http.StatusOK)
}

func (f *Front) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	q := r.URL.Query()
	num, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil {
		f.Fail(w, r, "InvalidArgument", "partNumber")
		return
	}
	data, err := readBody(r)
	if err != nil {
		f.Fail(w, r, "IncompleteBody", err.Error())
		return
	}
	etag, err := f.Store.UploadPart(bucket, key, q.Get("uploadId"), num, data)
	if err != nil {
		f.FailErr(w, r, err)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set(f.CRCHeader, strconv.FormatUint(CRC64(data), 10))
	w.WriteHeader(http.StatusOK)
}

func (f *Front) complete(w http.ResponseWriter, r *http.Request, bucket, key string) {
	var req struct {
		Parts []struct {
			PartNumber int
			ETag       string
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		f.Fail(w, r, "MalformedXML", err.Error())
		return
	}
	refs := make([]PartRef, len(req.Parts))
	for i, p := range req.Parts {
		refs[i] = PartRef{Number: p.PartNumber, ETag: p.ETag}
	}
	o, err := f.Store.Complete(bucket, key, r.URL.Query().Get("uploadId"), refs, f.MinPartSize)
	if err != nil {
		f.FailErr(w, r, err)
		return
	}
	w.Header().Set(f.CRCHeader, strconv.FormatUint(o.CRC64, 10))
	WriteXML(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Location string
		Bucket   string
		Key      string
		ETag     string
	}{Location: f.Location(r, bucket, key), Bucket: bucket, Key: key, ETag: o.ETag})
}

func (f *Front) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	o, err := f.Store.Get(bucket, key)
	if err != nil {
		f.FailErr(w, r, err)
		return
	}
	size := int64(len(o.Data))
	h := w.Header()
	for k, v := range o.Meta {
		h.Set(f.MetaPrefix+k, v)
	}
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.Modified.Format(http.TimeFormat))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	h.Set(f.CRCHeader, strconv.FormatUint(o.CRC64, 10))
	status, body := http.StatusOK, o.Data
	start, end, ranged, err := ParseRange(r.Header.Get("Range"), size)
	if err != nil && (f.StrictRange == nil || f.StrictRange(r)) {
		h.Del(f.CRCHeader)
		f.Fail(w, r, "InvalidRange", "The requested range is not satisfiable.")
		return
	}
	if err == nil && ranged {
		status, body = http.StatusPartialContent, o.Data[start:end+1]
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// WriteXML answers with v as an XML document.
func WriteXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(b)
}

// RequestID is a fresh request id for the vendors' x-*-request-id headers.
func RequestID() string { return strconv.FormatInt(time.Now().UnixNano(), 36) }

// StatusOf is the HTTP status both vendors answer an error code with.
func StatusOf(code string) int {
	switch code {
	case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "RequestTimeTooSkewed":
		return http.StatusForbidden
	case "NoSuchBucket", "NoSuchKey", "NoSuchUpload":
		return http.StatusNotFound
	case "InvalidRange":
		return http.StatusRequestedRangeNotSatisfiable
	case "MethodNotAllowed":
		return http.StatusMethodNotAllowed
	case "SlowDown":
		return http.StatusServiceUnavailable
	case "InternalError":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// ErrorID prepares an error response: it drains what is left of r's body (so that the
// client reads the answer instead of a reset connection) and returns the request id,
// setting header (the vendor's x-*-request-id) when the server has not yet.
func ErrorID(w http.ResponseWriter, r *http.Request, header string) string {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	}
	id := w.Header().Get(header)
	if id == "" {
		id = RequestID()
		w.Header().Set(header, id)
	}
	return id
}
