package sigv4

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"s3proxy/internal/sha256pair"
	"s3proxy/s3api/s3err"
)

// Limits on the framing. Real chunk headers are ~90 bytes and real trailer
// sections one checksum line plus a signature; these bounds keep a hostile
// body from making the decoder buffer anything of its choosing.
const (
	maxLineLen       = 4096
	maxTrailers      = 16
	maxTrailerBytes  = 16 << 10
	minSignedChunk   = 8 << 10 // S3: only the last signed chunk may be smaller
	chunkReaderBufSz = 16 << 10
	sigLen           = 64
)

type chunkState int

const (
	stHeader chunkState = iota
	stData
	stDataEnd
	stTrailer
	stDone
)

type chunkParams struct {
	signed   bool // chunk-signature on every chunk header
	trailer  bool // a trailer section follows the final chunk
	key      []byte
	amzDate  string
	scope    string
	seed     string // the request signature: the chain starts here
	decoded  int64  // x-amz-decoded-content-length
	declared []string
}

// chunkReader decodes an aws-chunked body. Data is handed to the caller as it
// arrives (copied once, from the bufio buffer or straight from the socket for
// large reads) and hashed on the way; a chunk's signature is checked when the
// chunk's closing CRLF is read, so a bad chunk surfaces as a Read error before
// io.EOF. Callers must commit nothing before io.EOF.
type chunkReader struct {
	p   chunkParams
	br  *bufio.Reader
	st  chunkState
	err error // sticky

	remaining int64  // bytes left in the current chunk
	size      int64  // size of the current chunk
	prevSize  int64  // size of the previous data chunk (-1 before the first)
	total     int64  // decoded bytes so far
	chunkSig  string // signature claimed for the current chunk
	prevSig   string
	h         hash.Hash
	// pair replaces h once the consumer shares the content hash (ShareSHA256): one
	// pass then yields each chunk's digest and the whole body's.
	pair     *sha256pair.Pair
	trailers http.Header
	finished bool
}

func newChunkReader(body io.Reader, p chunkParams) *chunkReader {
	c := &chunkReader{p: p, br: bufio.NewReaderSize(body, chunkReaderBufSz), prevSig: p.seed, prevSize: -1}
	if p.signed {
		c.h = sha256.New()
	}
	return c
}

// ShareSHA256 offers the body's SHA-256, computed in the same pass as the chunk
// signatures' digests (sha256pair), to a consumer that would hash the body itself:
// the returned func gives it once Read has returned io.EOF. It returns nil, and the
// consumer hashes on its own, where the pass would not be cheaper (no SHA extensions),
// for a body without chunk signatures, or once reading has begun.
func (c *chunkReader) ShareSHA256() func() [32]byte {
	if !c.p.signed || !sha256pair.Available() || c.total > 0 || c.st != stHeader || c.pair != nil {
		return nil
	}
	c.pair = sha256pair.New()
	return c.pair.SumWhole
}

func (c *chunkReader) trailerHeader() http.Header {
	if !c.finished {
		return nil
	}
	return c.trailers
}

func (c *chunkReader) fail(err error) (int, error) {
	c.err = err
	return 0, err
}

func (c *chunkReader) Read(b []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		switch c.st {
		case stHeader:
			if err := c.readHeader(); err != nil {
				return c.fail(err)
			}
		case stData:
			if len(b) == 0 {
				return 0, nil
			}
			n := len(b)
			if int64(n) > c.remaining {
				n = int(c.remaining)
			}
			n, err := c.br.Read(b[:n])
			if n > 0 {
				if c.pair != nil {
					c.pair.Write(b[:n])
				} else if c.h != nil {
					c.h.Write(b[:n])
				}
				c.remaining -= int64(n)
				c.total += int64(n)
				if c.remaining == 0 {
					c.st = stDataEnd
				}
				return n, nil
			}
			if err != nil {
				return c.fail(readErr(err))
			}
		case stDataEnd:
			if err := c.readCRLF(); err != nil {
				return c.fail(err)
			}
			if err := c.verifyChunk(); err != nil {
				return c.fail(err)
			}
			c.st = stHeader
		case stTrailer:
			if err := c.readTrailer(); err != nil {
				return c.fail(err)
			}
			c.finished = true
			c.st = stDone
		case stDone:
			return 0, io.EOF
		}
	}
}

func errIncomplete() error {
	return s3err.Newf(s3err.IncompleteBody, "The request body terminated unexpectedly")
}

// readErr types an error of the underlying body. A body that ends early
// (EOF, or net/http's ErrUnexpectedEOF when short of Content-Length) is
// IncompleteBody; anything else (client gone, timeout) keeps its cause.
func readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errIncomplete()
	}
	return s3err.Wrap(s3err.IncompleteBody, err)
}

func errFraming(format string, args ...any) error {
	return s3err.Newf(s3err.InvalidRequest, "Malformed aws-chunked body: "+format, args...)
}

// readLine returns one line without its terminator. CRLF is the format;
// a bare LF is accepted since some encoders emit it. io.EOF is returned only
// when no byte at all was left.
func (c *chunkReader) readLine() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > maxLineLen {
		return nil, errFraming("line longer than %d bytes", maxLineLen)
	}
	if err != nil {
		if err == io.EOF && len(line) == 0 {
			return nil, io.EOF
		}
		return nil, readErr(err)
	}
	line = line[:len(line)-1]
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, nil
}

func (c *chunkReader) readHeader() error {
	line, err := c.readLine()
	if err == io.EOF {
		return errIncomplete()
	}
	if err != nil {
		return err
	}
	sizeHex, ext, hasExt := bytes.Cut(line, []byte{';'})
	if len(sizeHex) == 0 || len(sizeHex) > 16 {
		return errFraming("bad chunk size")
	}
	size, err := strconv.ParseInt(string(sizeHex), 16, 64)
	if err != nil || size < 0 {
		return errFraming("bad chunk size")
	}
	if c.p.signed {
		if !hasExt {
			return s3err.Newf(s3err.SignatureDoesNotMatch, "Missing chunk-signature")
		}
		sig, ok := bytes.CutPrefix(ext, []byte("chunk-signature="))
		if !ok || len(sig) != sigLen {
			return s3err.Newf(s3err.SignatureDoesNotMatch, "Malformed chunk-signature")
		}
		c.chunkSig = string(sig)
	}
	// A chunk running past the declared length can never end well; refusing
	// it here also bounds what a client can make us read.
	if size > c.p.decoded-c.total {
		return s3err.Newf(s3err.IncompleteBody, "Chunk data exceeds x-amz-decoded-content-length")
	}
	if c.p.signed && size > 0 && c.prevSize >= 0 && c.prevSize < minSignedChunk {
		return s3err.New(s3err.InvalidChunkSizeError)
	}
	c.size, c.remaining = size, size
	if size > 0 {
		c.prevSize = size
		c.st = stData
		return nil
	}
	// Final chunk: its signature covers the empty string.
	if err := c.verifyChunk(); err != nil {
		return err
	}
	if c.total != c.p.decoded {
		return s3err.Newf(s3err.IncompleteBody, "Decoded %d bytes, x-amz-decoded-content-length is %d", c.total, c.p.decoded)
	}
	c.st = stTrailer
	return nil
}

// readCRLF consumes the CRLF (or lone LF) that closes a chunk's data.
func (c *chunkReader) readCRLF() error {
	b, err := c.br.ReadByte()
	if err != nil {
		return readErr(err)
	}
	if b == '\r' {
		if b, err = c.br.ReadByte(); err != nil {
			return readErr(err)
		}
	}
	if b != '\n' {
		return errFraming("chunk data not followed by CRLF")
	}
	return nil
}

func (c *chunkReader) verifyChunk() error {
	if !c.p.signed {
		return nil
	}
	var sum []byte
	if c.size == 0 {
		sum, _ = hex.DecodeString(emptySHA256)
	} else if c.pair != nil {
		part := c.pair.SumPart()
		sum = part[:]
		c.pair.ResetPart()
	} else {
		sum = c.h.Sum(nil)
		c.h.Reset()
	}
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + c.p.amzDate + "\n" + c.p.scope + "\n" + c.prevSig + "\n" + emptySHA256 + "\n" + hex.EncodeToString(sum)
	want := hmacHex(c.p.key, sts)
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.chunkSig)) != 1 {
		return s3err.Newf(s3err.SignatureDoesNotMatch, "The chunk signature we calculated does not match the signature you provided.")
	}
	c.prevSig = want
	return nil
}

// readTrailer reads the section after the final chunk: "name:value" lines,
// for the signed mode an x-amz-trailer-signature line, then an empty line.
// A missing final empty line (EOF instead) is tolerated, as some SDKs omit it.
func (c *chunkReader) readTrailer() error {
	c.trailers = http.Header{}
	var sig string
	var haveSig bool
	type kv struct{ k, v string }
	var lines []kv
	size := 0
	for {
		line, err := c.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			if se := s3err.As(err); se != nil && se.Code == s3err.InvalidRequest {
				return malformedTrailer("Trailer line too long")
			}
			return err
		}
		if len(line) == 0 {
			// minio-go ends its trailer lines with "\n" and then sends "\r\n" before
			// the signature line: in the signed mode a blank line before the signature
			// separates, it does not end the section.
			if c.p.signed && c.p.trailer && !haveSig && len(lines) > 0 {
				continue
			}
			break
		}
		if !c.p.trailer {
			return malformedTrailer("Trailing headers sent without x-amz-trailer")
		}
		size += len(line)
		if size > maxTrailerBytes || len(lines) >= maxTrailers {
			return malformedTrailer("Too many trailing headers")
		}
		if haveSig {
			return malformedTrailer("x-amz-trailer-signature must be the last trailer")
		}
		name, val, ok := bytes.Cut(line, []byte{':'})
		if !ok || len(bytes.TrimSpace(name)) == 0 {
			return malformedTrailer("Trailer line without a name")
		}
		k := strings.ToLower(string(bytes.TrimSpace(name)))
		v := string(bytes.TrimSpace(val))
		if k == "x-amz-trailer-signature" {
			sig, haveSig = v, true
			continue
		}
		if !contains(c.p.declared, k) {
			return malformedTrailer("Trailer %q was not declared in x-amz-trailer", k)
		}
		lines = append(lines, kv{k, v})
		c.trailers.Add(k, v)
	}
	for _, d := range c.p.declared {
		if _, ok := c.trailers[http.CanonicalHeaderKey(d)]; !ok {
			return malformedTrailer("Declared trailer %q is missing", d)
		}
	}
	if !c.p.signed || !c.p.trailer {
		if haveSig && !c.p.signed {
			// Unsigned trailers carry no signature; an unexpected one is
			// ignored rather than trusted.
			return nil
		}
		return nil
	}
	if !haveSig {
		return s3err.Newf(s3err.SignatureDoesNotMatch, "Missing x-amz-trailer-signature")
	}
	// The signed form is each trailer as "name:value\n", sorted by name.
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].k < lines[j].k })
	th := sha256.New()
	for _, l := range lines {
		io.WriteString(th, l.k+":"+l.v+"\n")
	}
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + c.p.amzDate + "\n" + c.p.scope + "\n" + c.prevSig + "\n" + hex.EncodeToString(th.Sum(nil))
	want := hmacHex(c.p.key, sts)
	if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) != 1 {
		return s3err.Newf(s3err.SignatureDoesNotMatch, "The trailer signature we calculated does not match the signature you provided.")
	}
	return nil
}

// VerifyPayload wraps body so that, at EOF, its SHA-256 must equal sum; if it
// does not, Read returns XAmzContentSHA256Mismatch instead of io.EOF. Used for
// small signed bodies (DeleteObjects, CompleteMultipartUpload XML) where the
// handler does not hash the body itself.
func VerifyPayload(body io.Reader, sum []byte) io.Reader {
	return &payloadVerifier{r: body, want: sum, h: sha256.New()}
}

type payloadVerifier struct {
	r    io.Reader
	want []byte
	h    hash.Hash
	err  error
}

func (p *payloadVerifier) Read(b []byte) (int, error) {
	if p.err != nil {
		return 0, p.err
	}
	n, err := p.r.Read(b)
	p.h.Write(b[:n])
	if errors.Is(err, io.EOF) {
		if subtle.ConstantTimeCompare(p.h.Sum(nil), p.want) != 1 {
			p.err = s3err.New(s3err.XAmzContentSHA256Mismatch)
			return n, p.err
		}
		p.err = io.EOF
	}
	return n, err
}

// malformedTrailer is S3's MalformedTrailerError, whose message S3 keeps general; the
// detail is logged.
func malformedTrailer(format string, args ...any) *s3err.Error {
	return s3err.Wrap(s3err.MalformedTrailerError, fmt.Errorf(format, args...))
}
