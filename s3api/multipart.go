package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
)

type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

// checksumFields are the Checksum<ALGORITHM> elements of S3's XML, one per algorithm.
type checksumFields struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumMD5       string `xml:"ChecksumMD5,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumSHA512    string `xml:"ChecksumSHA512,omitempty"`
	ChecksumXXHASH64  string `xml:"ChecksumXXHASH64,omitempty"`
	ChecksumXXHASH3   string `xml:"ChecksumXXHASH3,omitempty"`
	ChecksumXXHASH128 string `xml:"ChecksumXXHASH128,omitempty"`
}

// field returns the element of an algorithm, nil for an unknown one.
func (c *checksumFields) field(algo string) *string {
	switch algo {
	case "CRC32":
		return &c.ChecksumCRC32
	case "CRC32C":
		return &c.ChecksumCRC32C
	case "CRC64NVME":
		return &c.ChecksumCRC64NVME
	case "MD5":
		return &c.ChecksumMD5
	case "SHA1":
		return &c.ChecksumSHA1
	case "SHA256":
		return &c.ChecksumSHA256
	case "SHA512":
		return &c.ChecksumSHA512
	case "XXHASH64":
		return &c.ChecksumXXHASH64
	case "XXHASH3":
		return &c.ChecksumXXHASH3
	case "XXHASH128":
		return &c.ChecksumXXHASH128
	}
	return nil
}

func (c *checksumFields) set(m map[string]string) {
	for a, v := range m {
		if f := c.field(a); f != nil {
			*f = v
		}
	}
}

// toMap returns the elements present, by algorithm, in S3's order of algorithms.
func (c *checksumFields) toMap() map[string]string {
	m := map[string]string{}
	for _, a := range translate.ChecksumAlgorithms() {
		if v := *c.field(a); v != "" {
			m[a] = v
		}
	}
	return m
}

// partChecksums returns the checksum a CompleteMultipartUpload lists for a part, or
// S3's InvalidArgument when there are several or one is not a checksum of its
// algorithm (the argument value names them as "ALGO:value;").
func (c *checksumFields) partChecksums() (map[string]string, error) {
	m := c.toMap()
	bad := ""
	for _, a := range translate.ChecksumAlgorithms() {
		if v, ok := m[a]; ok && (len(m) > 1 || !translate.ValidChecksum(a, v)) {
			if len(m) > 1 {
				bad += a + ":" + v + ";"
			} else {
				bad = v
			}
		}
	}
	if bad == "" {
		return m, nil
	}
	e := s3err.Newf(s3err.InvalidArgument, "Invalid Base64 or multiple checksums present in request")
	e.Extra = map[string]string{"ArgumentName": "Checksum", "ArgumentValue": bad}
	return nil, e
}

type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		// Pointers: a Part without one of them does not validate against S3's schema.
		PartNumber *int    `xml:"PartNumber"`
		ETag       *string `xml:"ETag"`
		checksumFields
	} `xml:"Part"`
}

type completeMultipartUploadResult struct {
	XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
	NS       string   `xml:"xmlns,attr"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	checksumFields
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type copyPartResult struct {
	XMLName      xml.Name `xml:"CopyPartResult"`
	NS           string   `xml:"xmlns,attr"`
	LastModified string   `xml:"LastModified"`
	ETag         string   `xml:"ETag"`
	checksumFields
}

type partElem struct {
	PartNumber   int    `xml:"PartNumber"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int64  `xml:"Size"`
	checksumFields
}

type listPartsResult struct {
	XMLName              xml.Name   `xml:"ListPartsResult"`
	NS                   string     `xml:"xmlns,attr"`
	Bucket               string     `xml:"Bucket"`
	Key                  string     `xml:"Key"`
	UploadID             string     `xml:"UploadId"`
	Initiator            owner      `xml:"Initiator"`
	Owner                owner      `xml:"Owner"`
	StorageClass         string     `xml:"StorageClass"`
	PartNumberMarker     int        `xml:"PartNumberMarker"`
	NextPartNumberMarker int        `xml:"NextPartNumberMarker"`
	MaxParts             int        `xml:"MaxParts"`
	IsTruncated          bool       `xml:"IsTruncated"`
	ChecksumAlgorithm    string     `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType         string     `xml:"ChecksumType,omitempty"`
	Parts                []partElem `xml:"Part"`
}

type uploadElem struct {
	Key               string `xml:"Key"`
	UploadID          string `xml:"UploadId"`
	Initiator         owner  `xml:"Initiator"`
	Owner             owner  `xml:"Owner"`
	StorageClass      string `xml:"StorageClass"`
	Initiated         string `xml:"Initiated"`
	ChecksumAlgorithm string `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

type listMultipartUploadsResult struct {
	XMLName            xml.Name     `xml:"ListMultipartUploadsResult"`
	NS                 string       `xml:"xmlns,attr"`
	Bucket             string       `xml:"Bucket"`
	KeyMarker          string       `xml:"KeyMarker"`
	UploadIDMarker     string       `xml:"UploadIdMarker"`
	NextKeyMarker      string       `xml:"NextKeyMarker"`
	NextUploadIDMarker string       `xml:"NextUploadIdMarker"`
	Prefix             string       `xml:"Prefix"`
	Delimiter          string       `xml:"Delimiter,omitempty"`
	MaxUploads         int          `xml:"MaxUploads"`
	IsTruncated        bool         `xml:"IsTruncated"`
	EncodingType       string       `xml:"EncodingType,omitempty"`
	Uploads            []uploadElem `xml:"Upload"`
	CommonPrefixes     []prefixElem `xml:"CommonPrefixes"`
}

func (s *Server) createMultipartUpload(rq *request) error {
	if err := checkObjectWrite(rq.r.Header); err != nil {
		return err
	}
	lock, err := parseLock(rq.r.Header)
	if err != nil {
		return err
	}
	if err := s.checkSSEBucket(rq, rq.r.Header); err != nil {
		return err
	}
	ct, headers, um, err := parseObjectAttrs(rq.r.Header)
	if err != nil {
		return err
	}
	if err := withTaggingHeader(rq.r.Header, headers); err != nil {
		return err
	}
	out, err := s.svc.CreateMultipartUpload(rq.r.Context(), &translate.CreateUploadInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key,
		ContentType: ct, Headers: headers, UserMeta: um, ChecksumAlgorithm: rq.r.Header.Get("x-amz-checksum-algorithm"),
		ChecksumType: rq.r.Header.Get("x-amz-checksum-type"), Lock: lock})
	if err != nil {
		return err
	}
	if out.ChecksumAlgorithm != "" {
		rq.w.Header().Set("x-amz-checksum-algorithm", out.ChecksumAlgorithm)
		rq.w.Header().Set("x-amz-checksum-type", out.ChecksumType)
	}
	setSSE(rq.w.Header(), out.Encrypted)
	return s.writeXML(rq, http.StatusOK, initiateMultipartUploadResult{NS: s3NS, Bucket: rq.bucket, Key: rq.key, UploadID: out.UploadID})
}

func partNumber(rq *request) (int, error) {
	v := rq.r.URL.Query().Get("partNumber")
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > translate.MaxParts {
		return 0, badPartNumber(v)
	}
	return n, nil
}

// badPartNumber is S3's answer to a partNumber out of range, naming the argument.
func badPartNumber(v string) *s3err.Error {
	e := s3err.Newf(s3err.InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive.")
	e.Extra = map[string]string{"ArgumentName": "partNumber", "ArgumentValue": v}
	return e
}

func (s *Server) uploadPart(rq *request) error {
	n, err := partNumber(rq)
	if err != nil {
		return err
	}
	if err := refuseSSEC(rq.r.Header); err != nil {
		return err
	}
	body, err := s.objectBody(rq)
	if err != nil {
		return err
	}
	out, err := s.svc.UploadPart(rq.r.Context(), &translate.UploadPartInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key,
		UploadID: rq.r.URL.Query().Get("uploadId"), PartNumber: n, Body: body})
	if err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("ETag", `"`+out.ETag+`"`)
	setChecksumHeaders(h, out.Checksums, "")
	setSSE(h, out.Encrypted)
	if out.Instant {
		s.answerEarly(rq)
		return nil
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) uploadPartCopy(rq *request) error {
	n, err := partNumber(rq)
	if err != nil {
		return err
	}
	if err := refuseSSEC(rq.r.Header); err != nil {
		return err
	}
	sb, sk, sv, err := parseCopySource(rq.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return s.bucketFirst(rq, err)
	}
	in := &translate.UploadPartCopyInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key, UploadID: rq.r.URL.Query().Get("uploadId"),
		PartNumber: n, SrcBucket: sb, SrcKey: sk, SrcVersionID: sv, SrcCond: parseConditions(rq.r.Header, "x-amz-copy-source-")}
	if v := rq.r.Header.Get("x-amz-copy-source-range"); v != "" {
		in.Range = parseRange(v)
		if in.Range == nil || in.Range.IsSuffix || in.Range.End < 0 {
			return s3err.Newf(s3err.InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
	}
	out, err := s.svc.UploadPartCopy(rq.r.Context(), in)
	if err != nil {
		return err
	}
	res := copyPartResult{NS: s3NS, LastModified: iso8601(out.LastModified), ETag: `"` + out.ETag + `"`}
	res.set(out.Checksums)
	setSSE(rq.w.Header(), out.Encrypted)
	if out.SourceVersionID != "" {
		rq.w.Header().Set("x-amz-copy-source-version-id", out.SourceVersionID)
	}
	return s.writeXML(rq, http.StatusOK, res)
}

func (s *Server) completeMultipartUpload(rq *request) error {
	var req completeMultipartUpload
	if err := s.readXML(rq, maxCompleteBody, &req); err != nil {
		return err
	}
	cond, err := writeCondition(rq.r.Header)
	if err != nil {
		return err
	}
	in := &translate.CompleteUploadInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key, UploadID: rq.r.URL.Query().Get("uploadId"), Cond: cond,
		ObjectSize: -1}
	if v := rq.r.Header.Get("x-amz-mp-object-size"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil:
			return s3err.Newf(s3err.InvalidRequest, "Value for x-amz-mp-object-size header is invalid: '%s'", v)
		case n < 0:
			return s3err.Newf(s3err.InvalidRequest, "Value for x-amz-mp-object-size header is less than zero: '%s'", v)
		}
		in.ObjectSize = n
	}
	full, ok, err := checksumHeaders(rq.r.Header)
	if err != nil {
		return err
	}
	if ok {
		if !translate.ValidObjectChecksum(full.algo, full.value) {
			return invalidChecksumHeader(checksumHeaderName(full.algo))
		}
		in.FullChecksum = map[string]string{full.algo: full.value}
	}
	if v := rq.r.Header.Get("x-amz-checksum-type"); v != "" {
		in.ChecksumType = strings.ToUpper(v)
		if in.ChecksumType != translate.ChecksumFullObject && in.ChecksumType != translate.ChecksumComposite {
			return invalidChecksumHeader("x-amz-checksum-type")
		}
	}
	for _, p := range req.Parts {
		if p.PartNumber == nil || p.ETag == nil {
			return s3err.New(s3err.MalformedXML)
		}
		if *p.PartNumber < 1 {
			e := s3err.Newf(s3err.InvalidArgument, "PartNumber must be >= 1")
			e.Extra = map[string]string{"ArgumentName": "PartNumber", "ArgumentValue": strconv.Itoa(*p.PartNumber)}
			return e
		}
		ck, err := p.partChecksums()
		if err != nil {
			return err
		}
		in.Parts = append(in.Parts, translate.CompletePart{PartNumber: *p.PartNumber, ETag: *p.ETag, Checksums: ck})
	}
	// One metadata transaction, well under a second even for 10,000 parts: no need for
	// S3's keep-alive trick of sending the status line before the XML.
	out, err := s.svc.CompleteMultipartUpload(rq.r.Context(), in)
	if err != nil {
		return err
	}
	setExpiration(rq.w.Header(), out.Expiration)
	setSSE(rq.w.Header(), out.Encrypted)
	setVersionID(rq.w.Header(), out.VersionID)
	res := completeMultipartUploadResult{NS: s3NS, Location: s.completeLocation(rq), Bucket: rq.bucket, Key: rq.key, ETag: `"` + out.ETag + `"`, ChecksumType: out.ChecksumType}
	res.set(out.Checksums)
	return s.writeXML(rq, http.StatusOK, res)
}

func (s *Server) listParts(rq *request) error {
	q := rq.r.URL.Query()
	in := &translate.ListPartsInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key, UploadID: q.Get("uploadId"), MaxParts: 1000}
	if v := q.Get("max-parts"); v != "" {
		n, err := listLimit(v, "max-parts", "max-parts")
		if err != nil {
			return err
		}
		in.MaxParts = min(n, 1000)
	}
	if v := q.Get("part-number-marker"); v != "" {
		n, err := listLimit(v, "part-number-marker", "part-number-marker")
		if err != nil {
			return err
		}
		in.Marker = n
	}
	out, err := s.svc.ListParts(rq.r.Context(), in)
	if err != nil {
		return err
	}
	o := owner{ID: out.Upload.Owner, DisplayName: out.Upload.Owner}
	res := listPartsResult{NS: s3NS, Bucket: rq.bucket, Key: rq.key, UploadID: out.Upload.ID, Initiator: o, Owner: o, StorageClass: "STANDARD",
		PartNumberMarker: in.Marker, NextPartNumberMarker: out.NextMarker, MaxParts: in.MaxParts, IsTruncated: out.Truncated,
		ChecksumAlgorithm: out.Upload.ChecksumAlgo, ChecksumType: out.Upload.ChecksumType}
	for _, p := range out.Parts {
		pe := partElem{PartNumber: p.Number, LastModified: iso8601(p.LastModified), ETag: `"` + p.ETag + `"`, Size: p.Size}
		pe.set(p.Checksums)
		res.Parts = append(res.Parts, pe)
	}
	return s.writeXML(rq, http.StatusOK, res)
}

func (s *Server) listMultipartUploads(rq *request) error {
	q := rq.r.URL.Query()
	prefix, delim, _, urlEnc, err := listParams(q)
	if err != nil {
		return err
	}
	maxUploads := 1000
	if v := q.Get("max-uploads"); v != "" {
		n, err := listLimit(v, "max-uploads", "max-uploads")
		if err != nil {
			return err
		}
		maxUploads = min(n, 1000)
	}
	in := &translate.ListUploadsInput{Principal: rq.principal, Bucket: rq.bucket, Prefix: prefix, Delimiter: delim,
		KeyMarker: q.Get("key-marker"), UploadIDMarker: q.Get("upload-id-marker"), MaxUploads: maxUploads}
	out, err := s.svc.ListMultipartUploads(rq.r.Context(), in)
	if err != nil {
		return err
	}
	res := listMultipartUploadsResult{NS: s3NS, Bucket: rq.bucket, KeyMarker: encIf(urlEnc, in.KeyMarker), UploadIDMarker: in.UploadIDMarker,
		NextKeyMarker: encIf(urlEnc, out.NextKeyMarker), NextUploadIDMarker: out.NextUploadIDMarker, Prefix: encIf(urlEnc, prefix),
		Delimiter: encIf(urlEnc, delim), MaxUploads: maxUploads, IsTruncated: out.Truncated, CommonPrefixes: prefixes(out.CommonPrefixes, urlEnc)}
	if urlEnc {
		res.EncodingType = "url"
	}
	for _, u := range out.Uploads {
		o := owner{ID: u.Owner, DisplayName: u.Owner}
		res.Uploads = append(res.Uploads, uploadElem{Key: encIf(urlEnc, u.Key), UploadID: u.ID, Initiator: o, Owner: o, StorageClass: "STANDARD",
			Initiated: iso8601(u.Initiated), ChecksumAlgorithm: u.ChecksumAlgo, ChecksumType: u.ChecksumType})
	}
	return s.writeXML(rq, http.StatusOK, res)
}

// completeLocation is the Location of a completed upload's object.
func (s *Server) completeLocation(rq *request) string {
	_, virtual := hostBucket(rq.r.Host, s.domains)
	return locationURL(rq.r, rq.bucket, rq.key, virtual)
}
