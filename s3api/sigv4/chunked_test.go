package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"s3proxy/internal/sha256pair"
	"s3proxy/s3api/s3err"
)

// The example of the S3 API reference, "Signature Calculations for the
// Authorization Header: Transferring Payload in Multiple Chunks": 66560 bytes
// of 'a' in chunks of 65536 and 1024, and the trailing-header signature of
// the same chain (trailers first:1st, second:2nd, third:3rd, as used by the
// AWS CRT test suite).
const (
	docSecret     = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	docAccessKey  = "AKIAIOSFODNN7EXAMPLE"
	docSeed       = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
	docChunk1     = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
	docChunk2     = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
	docFinal      = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
	docTrailerSig = "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c"
	docDate       = "20130524T000000Z"
	docScope      = "20130524/us-east-1/s3/aws4_request"
)

func docTime() time.Time { return time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC) }

func docBody(tamper func(data []byte)) []byte {
	var b bytes.Buffer
	for _, c := range []struct {
		n   int
		sig string
	}{{65536, docChunk1}, {1024, docChunk2}, {0, docFinal}} {
		data := bytes.Repeat([]byte("a"), c.n)
		if tamper != nil && c.n == 1024 {
			tamper(data)
		}
		fmt.Fprintf(&b, "%x;chunk-signature=%s\r\n%s\r\n", c.n, c.sig, data)
	}
	return b.Bytes()
}

func docRequest(t *testing.T, body []byte) *http.Request {
	raw := "PUT /examplebucket/chunkObject.txt HTTP/1.1\r\n" +
		"Host: s3.amazonaws.com\r\n" +
		"x-amz-date: 20130524T000000Z\r\n" +
		"x-amz-storage-class: REDUCED_REDUNDANCY\r\n" +
		"Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature=" + docSeed + "\r\n" +
		"x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\r\n" +
		"Content-Encoding: aws-chunked\r\n" +
		"x-amz-decoded-content-length: 66560\r\n" +
		"Content-Length: 66824\r\n\r\n"
	r, err := http.ReadRequest(bufio.NewReader(io.MultiReader(strings.NewReader(raw), bytes.NewReader(body))))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func docVerifier() *Verifier {
	return &Verifier{Creds: staticCreds{docAccessKey: docSecret}, Region: "us-east-1", Now: docTime}
}

func TestAWSDocChunkedExample(t *testing.T) {
	if len(docBody(nil)) != 66824 {
		t.Fatalf("doc body is %d bytes, the example says 66824", len(docBody(nil)))
	}
	cases := []struct {
		name string
		body []byte
		code s3err.Code
	}{
		{"ok", docBody(nil), ""},
		{"tampered byte", docBody(func(d []byte) { d[10] = 'b' }), s3err.SignatureDoesNotMatch},
		{"tampered chunk signature", bytes.Replace(docBody(nil), []byte(docChunk2), []byte(docChunk1), 1), s3err.SignatureDoesNotMatch},
		{"tampered final signature", bytes.Replace(docBody(nil), []byte(docFinal), []byte(docChunk1), 1), s3err.SignatureDoesNotMatch},
		{"truncated in data", docBody(nil)[:40000], s3err.IncompleteBody},
		{"truncated before final chunk", docBody(nil)[:66824-len("0;chunk-signature=")-66-2], s3err.IncompleteBody},
		{"missing final chunk", docBody(nil)[:66824-len("0;chunk-signature=")-68], s3err.IncompleteBody},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := docVerifier().Verify(docRequest(t, c.body))
			wantCode(t, err, "")
			if !a.Chunked || a.DecodedLength != 66560 || a.ContentSHA256 != StreamingSigned {
				t.Fatalf("auth = %+v", a)
			}
			got, err := io.ReadAll(a.Body)
			wantCode(t, err, c.code)
			if err == nil && !bytes.Equal(got, bytes.Repeat([]byte("a"), 66560)) {
				t.Fatalf("decoded %d bytes", len(got))
			}
		})
	}
}

func docParams(trailer bool, declared ...string) chunkParams {
	return chunkParams{signed: true, trailer: trailer, key: deriveKey(docSecret, "20130524", "us-east-1"),
		amzDate: docDate, scope: docScope, seed: docSeed, decoded: 66560, declared: declared}
}

func TestAWSTrailerVector(t *testing.T) {
	body := docBody(nil)
	body = body[:len(body)-2] // the trailer section replaces the closing CRLF
	body = append(body, "first:1st\r\nsecond:2nd\r\nthird:3rd\r\nx-amz-trailer-signature:"+docTrailerSig+"\r\n\r\n"...)
	cr := newChunkReader(bytes.NewReader(body), docParams(true, "first", "second", "third"))
	if cr.trailerHeader() != nil {
		t.Fatal("trailer visible before EOF")
	}
	n, err := io.Copy(io.Discard, cr)
	if err != nil || n != 66560 {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if got := cr.trailerHeader().Get("Second"); got != "2nd" {
		t.Fatalf("trailer = %v", cr.trailerHeader())
	}
	bad := bytes.Replace(body, []byte("2nd"), []byte("2ND"), 1)
	_, err = io.Copy(io.Discard, newChunkReader(bytes.NewReader(bad), docParams(true, "first", "second", "third")))
	wantCode(t, err, s3err.SignatureDoesNotMatch)
}

// encodeChunked is a test encoder for the three aws-chunked modes. sizes are
// the data chunk sizes (the rest of data goes in one more chunk).
type encodeOpts struct {
	mode      string
	key       []byte
	amzDate   string
	scope     string
	seed      string
	chunkSize int
	trailers  [][2]string // name, value in the order sent
	lf        bool        // bare LF line ends
	noEndCRLF bool
}

func encodeChunked(data []byte, o encodeOpts) []byte {
	var b bytes.Buffer
	nl := "\r\n"
	if o.lf {
		nl = "\n"
	}
	signed := o.mode != StreamingUnsignedTrailer
	prev := o.seed
	sign := func(chunk []byte) string {
		s := sha256.Sum256(chunk)
		prev = hmacHex(o.key, "AWS4-HMAC-SHA256-PAYLOAD\n"+o.amzDate+"\n"+o.scope+"\n"+prev+"\n"+emptySHA256+"\n"+hex.EncodeToString(s[:]))
		return prev
	}
	emit := func(chunk []byte) {
		if signed {
			fmt.Fprintf(&b, "%x;chunk-signature=%s%s", len(chunk), sign(chunk), nl)
		} else {
			fmt.Fprintf(&b, "%x%s", len(chunk), nl)
		}
		if len(chunk) > 0 {
			b.Write(chunk)
			b.WriteString(nl)
		}
	}
	cs := o.chunkSize
	if cs == 0 {
		cs = 64 << 10
	}
	for off := 0; off < len(data); off += cs {
		emit(data[off:min(off+cs, len(data))])
	}
	emit(nil)
	if o.mode == StreamingSigned {
		if !o.noEndCRLF {
			b.WriteString(nl)
		}
		return b.Bytes()
	}
	var canon strings.Builder
	sorted := append([][2]string(nil), o.trailers...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i][0] < sorted[j][0] })
	for _, t := range sorted {
		canon.WriteString(t[0] + ":" + t[1] + "\n")
	}
	for _, t := range o.trailers {
		b.WriteString(t[0] + ":" + t[1] + nl)
	}
	if signed {
		s := sha256.Sum256([]byte(canon.String()))
		sig := hmacHex(o.key, "AWS4-HMAC-SHA256-TRAILER\n"+o.amzDate+"\n"+o.scope+"\n"+prev+"\n"+hex.EncodeToString(s[:]))
		b.WriteString("x-amz-trailer-signature:" + sig + nl)
	}
	if !o.noEndCRLF {
		b.WriteString(nl)
	}
	return b.Bytes()
}

// chunkedRequest signs a streaming upload with the SDK signer (whose
// Authorization signature is the chain's seed) and encodes body to match.
func chunkedRequest(t *testing.T, data []byte, o encodeOpts, decoded int64, mutate func([]byte) []byte) *http.Request {
	t.Helper()
	o.key = deriveKey(testSK, testNow().Format(dateFormat), testRegion)
	o.amzDate = testNow().Format(timeFormat)
	o.scope = testNow().Format(dateFormat) + "/" + testRegion + "/s3/aws4_request"
	o.seed = strings.Repeat("0", 64)
	size := len(encodeChunked(data, o)) // independent of the seed
	hdr := map[string]string{
		"Content-Encoding":             "aws-chunked",
		"X-Amz-Decoded-Content-Length": strconv.FormatInt(decoded, 10),
	}
	var names []string
	for _, tr := range o.trailers {
		names = append(names, tr[0])
	}
	if len(names) > 0 {
		hdr["X-Amz-Trailer"] = strings.Join(names, ",")
	}
	cr := clientRequest(t, signOpts{method: "PUT", path: "/bucket/chunked", payload: o.mode, headers: hdr, body: make([]byte, size)})
	authz := cr.Header.Get("Authorization")
	o.seed = authz[strings.LastIndex(authz, "=")+1:]
	body := encodeChunked(data, o)
	cr.Body = io.NopCloser(bytes.NewReader(body))
	cr.ContentLength = int64(size)
	sr := toServer(t, cr)
	if mutate != nil {
		// Swap the body after the wire round trip: the signed Content-Length
		// header stays as signed while the body may change size.
		body = mutate(body)
		sr.Body = io.NopCloser(bytes.NewReader(body))
		sr.ContentLength = int64(len(body))
	}
	return sr
}

func TestChunkedModes(t *testing.T) {
	data := make([]byte, 200_000)
	for i := range data {
		data[i] = byte(i * 7)
	}
	crc := [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}
	full := int64(len(data))
	cases := []struct {
		name    string
		o       encodeOpts
		decoded int64
		mutate  func([]byte) []byte
		readers []func(io.Reader) io.Reader
		code    s3err.Code
	}{
		{name: "signed", o: encodeOpts{mode: StreamingSigned}},
		{name: "signed 8k chunks", o: encodeOpts{mode: StreamingSigned, chunkSize: 8192}},
		{name: "signed big chunks", o: encodeOpts{mode: StreamingSigned, chunkSize: 1 << 20}},
		// Chunks off 64-byte boundaries: the shared digest's blocks no longer line up
		// with the chunks' (sha256pair hashes them apart).
		{name: "signed odd-sized chunks", o: encodeOpts{mode: StreamingSigned, chunkSize: 10_000}},
		{name: "signed trailer", o: encodeOpts{mode: StreamingSignedTrailer, trailers: crc}},
		{name: "signed two trailers", o: encodeOpts{mode: StreamingSignedTrailer, trailers: [][2]string{{"x-amz-checksum-sha256", "abc="}, {"x-amz-checksum-crc32", "AAAAAA=="}}}},
		{name: "unsigned trailer", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc}},
		{name: "unsigned trailer small chunks", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc, chunkSize: 1000}},
		{name: "unsigned trailer no final CRLF", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc, noEndCRLF: true}},
		// S3 takes an unsigned-trailer body that declares no trailer at all; a trailer
		// it then sends is undeclared.
		{name: "unsigned trailer declaring none", o: encodeOpts{mode: StreamingUnsignedTrailer}},
		{name: "unsigned trailer sent undeclared", o: encodeOpts{mode: StreamingUnsignedTrailer}, mutate: func(b []byte) []byte {
			return append(bytes.TrimSuffix(b, []byte("\r\n")), "x-amz-checksum-crc32:AAAAAA==\r\n\r\n"...)
		}, code: s3err.MalformedTrailerError},
		{name: "signed trailer no final CRLF", o: encodeOpts{mode: StreamingSignedTrailer, trailers: crc, noEndCRLF: true}},
		{name: "bare LF", o: encodeOpts{mode: StreamingSignedTrailer, trailers: crc, lf: true}},
		{name: "small signed chunks", o: encodeOpts{mode: StreamingSigned, chunkSize: 1000}, code: s3err.InvalidChunkSizeError},
		{name: "decoded length too small", o: encodeOpts{mode: StreamingSigned}, decoded: full - 1, code: s3err.IncompleteBody},
		{name: "decoded length too large", o: encodeOpts{mode: StreamingSigned}, decoded: full + 1, code: s3err.IncompleteBody},
		{name: "tampered byte", o: encodeOpts{mode: StreamingSigned}, mutate: func(b []byte) []byte { b[100_000] ^= 1; return b }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered byte unsigned passes framing", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc}, mutate: func(b []byte) []byte { b[100_000] ^= 1; return b }},
		{name: "bad trailer signature", o: encodeOpts{mode: StreamingSignedTrailer, trailers: crc}, mutate: func(b []byte) []byte {
			return bytes.Replace(b, []byte("AAAAAA=="), []byte("AAAAAB=="), 1)
		}, code: s3err.SignatureDoesNotMatch},
		{name: "missing trailer signature", o: encodeOpts{mode: StreamingSignedTrailer, trailers: crc}, mutate: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature"))
			return append(b[:i:i], "\r\n"...)
		}, code: s3err.SignatureDoesNotMatch},
		{name: "missing declared trailer", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc}, mutate: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:AAAAAA==\r\n"), nil, 1)
		}, code: s3err.MalformedTrailerError},
		{name: "undeclared trailer", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc}, mutate: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:AAAAAA==\r\n"), []byte("x-amz-checksum-crc32:AAAAAA==\r\nx-evil:1\r\n"), 1)
		}, code: s3err.MalformedTrailerError},
		{name: "malformed trailer line", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc}, mutate: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:AAAAAA=="), []byte("garbage"), 1)
		}, code: s3err.MalformedTrailerError},
		{name: "truncated", o: encodeOpts{mode: StreamingSigned}, mutate: func(b []byte) []byte { return b[:len(b)/2] }, code: s3err.IncompleteBody},
		{name: "truncated unsigned", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc}, mutate: func(b []byte) []byte { return b[:len(b)/2] }, code: s3err.IncompleteBody},
		{name: "oversized chunk header", o: encodeOpts{mode: StreamingSigned}, mutate: func(b []byte) []byte {
			return append([]byte("10000;"+strings.Repeat("x", 10000)+"\r\n"), b...)
		}, code: s3err.InvalidRequest},
		{name: "bad chunk size", o: encodeOpts{mode: StreamingUnsignedTrailer, trailers: crc}, mutate: func(b []byte) []byte { b[0] = 'z'; return b }, code: s3err.InvalidRequest},
		{name: "one byte reads", o: encodeOpts{mode: StreamingSignedTrailer, trailers: crc}, readers: []func(io.Reader) io.Reader{iotest.OneByteReader, iotest.HalfReader, iotest.DataErrReader}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			decoded := c.decoded
			if decoded == 0 {
				decoded = full
			}
			readers := c.readers
			if readers == nil {
				readers = []func(io.Reader) io.Reader{func(r io.Reader) io.Reader { return r }}
			}
			// Each case also runs with the body's SHA-256 shared (ShareSHA256), as
			// dedup/digest asks for it: chunk signatures must verify the same, and the
			// shared digest must be the decoded body's.
			for i, wrap := range append(readers, readers...) {
				share := i >= len(readers)
				r := chunkedRequest(t, data, c.o, decoded, c.mutate)
				a, err := newVerifier().Verify(r)
				wantCode(t, err, "")
				var sum func() [32]byte
				if share {
					sum = a.Body.(interface{ ShareSHA256() func() [32]byte }).ShareSHA256()
					if want := c.o.mode != StreamingUnsignedTrailer && sha256pair.Available(); (sum != nil) != want {
						t.Fatalf("ShareSHA256 offered %v, want %v", sum != nil, want)
					}
				}
				if !a.Chunked || a.DecodedLength != decoded || a.ContentSHA256 != c.o.mode {
					t.Fatalf("auth = %+v", a)
				}
				if a.Trailer() != nil && len(c.o.trailers) > 0 {
					t.Fatal("trailer visible before EOF")
				}
				got, err := io.ReadAll(wrap(a.Body))
				wantCode(t, err, c.code)
				if err != nil {
					// Sticky: the error repeats, it never turns into io.EOF.
					if _, err2 := a.Body.Read(make([]byte, 1)); err2 != err {
						t.Fatalf("second Read = %v", err2)
					}
					return
				}
				if c.mutate == nil && !bytes.Equal(got, data) {
					t.Fatalf("decoded %d bytes differ", len(got))
				}
				if sum != nil && sum() != sha256.Sum256(got) {
					t.Fatalf("shared SHA-256 %x, want %x", sum(), sha256.Sum256(got))
				}
				for _, tr := range c.o.trailers {
					if a.Trailer().Get(tr[0]) != tr[1] {
						t.Fatalf("trailer %s = %q", tr[0], a.Trailer().Get(tr[0]))
					}
				}
			}
		})
	}
}

func TestChunkedDetectedWithoutContentEncoding(t *testing.T) {
	// Some clients omit Content-Encoding: aws-chunked; the payload mode alone
	// must switch the decoder on.
	data := bytes.Repeat([]byte("xyz"), 10000)
	r := chunkedRequest(t, data, encodeOpts{mode: StreamingUnsignedTrailer, trailers: [][2]string{{"x-amz-checksum-crc32", "AAAAAA=="}}}, int64(len(data)), nil)
	r.Header.Del("Content-Encoding") // unsigned trailer: content-encoding is signed, so re-check only the decoder
	cr := newChunkReader(r.Body, chunkParams{trailer: true, decoded: int64(len(data)), declared: []string{"x-amz-checksum-crc32"}})
	got, err := io.ReadAll(cr)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("err=%v len=%d", err, len(got))
	}
}

func TestChunkedMissingDecodedLength(t *testing.T) {
	r := signRequest(t, signOpts{method: "PUT", payload: StreamingSigned})
	_, err := newVerifier().Verify(r)
	wantCode(t, err, s3err.MissingContentLength)
	// The signed-trailer mode needs the x-amz-trailer its trailer signature covers;
	// the unsigned one may declare none (S3 takes it, see the table above).
	r = signRequest(t, signOpts{method: "PUT", payload: StreamingSignedTrailer, headers: map[string]string{"X-Amz-Decoded-Content-Length": "5"}})
	_, err = newVerifier().Verify(r)
	wantCode(t, err, s3err.InvalidRequest)
}

// FuzzChunkReader feeds arbitrary bodies to the decoder in every mode: it
// must never panic, never return more than the declared length, and only
// report success when exactly the declared length was decoded.
func FuzzChunkReader(f *testing.F) {
	f.Add(docBody(nil), int64(66560), uint8(0))
	f.Add([]byte("5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"), int64(5), uint8(2))
	f.Add([]byte("0\r\nx-amz-checksum-crc32:AAAAAA==\r\n"), int64(0), uint8(2))
	f.Add([]byte("0;chunk-signature="+docFinal+"\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:"+docTrailerSig+"\r\n\r\n"), int64(0), uint8(1))
	f.Add([]byte("ffffffffffffffff\r\n"), int64(1<<62), uint8(2))
	f.Add([]byte("-1\r\n"), int64(1), uint8(2))
	f.Add([]byte("3;chunk-signature=\r\nabc\r\n"), int64(3), uint8(0))
	f.Add([]byte("\n\n\n"), int64(0), uint8(2))
	f.Fuzz(func(t *testing.T, body []byte, decoded int64, mode uint8) {
		if decoded < 0 {
			decoded = -decoded
			if decoded < 0 {
				decoded = 0
			}
		}
		p := docParams(mode%3 != 0, "x-amz-checksum-crc32")
		p.signed = mode%3 != 2
		p.decoded = decoded
		cr := newChunkReader(bytes.NewReader(body), p)
		n, err := io.Copy(io.Discard, cr)
		if n > decoded {
			t.Fatalf("decoded %d > declared %d", n, decoded)
		}
		if err == nil && n != decoded {
			t.Fatalf("success with %d of %d bytes", n, decoded)
		}
		if err != nil && s3err.As(err) == nil {
			t.Fatalf("untyped error %T %v", err, err)
		}
	})
}

// TestChunkedBoundedMemory decodes 4 MiB chunks through a 32 KiB copy buffer:
// the decoder must stream them, not buffer a chunk.
func TestChunkedBoundedMemory(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<19) // 8 MiB
	p := docParams(false)
	p.decoded = int64(len(data))
	body := encodeChunked(data, encodeOpts{mode: StreamingSigned, key: p.key, amzDate: p.amzDate, scope: p.scope, seed: p.seed, chunkSize: 4 << 20})
	buf := make([]byte, 32<<10)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{newChunkReader(bytes.NewReader(body), p)}, buf)
	runtime.ReadMemStats(&after)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<10 {
		t.Fatalf("decoding allocated %d bytes", alloc)
	}
}
