package s3api

import (
	"encoding/xml"
	"net/http"
	"strconv"
	"strings"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
)

// GetObjectAttributes: what S3 keeps about an object, without its body.

type objectAttributes struct {
	XMLName      xml.Name          `xml:"GetObjectAttributesResponse"`
	NS           string            `xml:"xmlns,attr"`
	ETag         string            `xml:"ETag,omitempty"`
	Checksum     *objectChecksum   `xml:"Checksum,omitempty"`
	ObjectParts  *objectAttrsParts `xml:"ObjectParts,omitempty"`
	StorageClass string            `xml:"StorageClass,omitempty"`
	ObjectSize   *int64            `xml:"ObjectSize,omitempty"`
}

type objectChecksum struct {
	checksumFields
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

type objectAttrsParts struct {
	PartsCount           int              `xml:"PartsCount"`
	PartNumberMarker     int              `xml:"PartNumberMarker"`
	NextPartNumberMarker int              `xml:"NextPartNumberMarker"`
	MaxParts             int              `xml:"MaxParts"`
	IsTruncated          bool             `xml:"IsTruncated"`
	Parts                []objectAttrPart `xml:"Part"`
}

type objectAttrPart struct {
	PartNumber int   `xml:"PartNumber"`
	Size       int64 `xml:"Size"`
	checksumFields
}

// objectAttributeNames are the values x-amz-object-attributes may list.
var objectAttributeNames = map[string]bool{"ETag": true, "Checksum": true, "ObjectParts": true, "StorageClass": true, "ObjectSize": true}

func (s *Server) getObjectAttributes(rq *request) error {
	h := rq.r.Header
	want := map[string]bool{}
	var bad error
	for _, v := range h.Values("x-amz-object-attributes") {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				if !objectAttributeNames[a] && bad == nil {
					e := s3err.Newf(s3err.InvalidArgument, "Invalid attribute name specified.")
					e.Extra = map[string]string{"ArgumentName": "x-amz-object-attributes", "ArgumentValue": a}
					bad = e
				}
				want[a] = true
			}
		}
	}
	if len(want) == 0 {
		bad = s3err.Newf(s3err.InvalidRequest, "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty")
	}
	if bad != nil {
		return s.bucketFirst(rq, bad)
	}
	maxParts, marker := 1000, 0
	if v := h.Get("x-amz-max-parts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3err.Newf(s3err.InvalidArgument, "Argument max-parts must be an integer between 0 and 2147483647")
		}
		maxParts = min(n, 1000)
	}
	if v := h.Get("x-amz-part-number-marker"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return s3err.Newf(s3err.InvalidArgument, "Argument part-number-marker must be an integer between 0 and 2147483647")
		}
		marker = n
	}
	info, parts, err := s.svc.ObjectAttributes(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"))
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), info.VersionID)
	out := objectAttributes{NS: s3NS}
	if want["ETag"] {
		out.ETag = info.ETag // without quotes, as S3 returns it here
	}
	if want["Checksum"] && len(info.Checksums) > 0 {
		out.Checksum = &objectChecksum{ChecksumType: info.ChecksumType}
		out.Checksum.set(info.Checksums)
		if info.ChecksumType == translate.ChecksumComposite {
			// Here S3 gives a composite checksum without its "-N" part count.
			sums := map[string]string{}
			for a, v := range info.Checksums {
				sums[a], _, _ = strings.Cut(v, "-")
			}
			out.Checksum.set(sums)
		}
	}
	if want["ObjectParts"] && len(parts) > 0 {
		op := &objectAttrsParts{PartsCount: len(parts), PartNumberMarker: marker, MaxParts: maxParts}
		// Like S3, the parts themselves are listed only when they carry checksums.
		if len(parts[0].Checksums) > 0 {
			for _, p := range parts {
				if p.Number <= marker {
					continue
				}
				if len(op.Parts) == maxParts {
					op.IsTruncated = true
					break
				}
				ap := objectAttrPart{PartNumber: p.Number, Size: p.Size}
				ap.set(p.Checksums)
				op.Parts = append(op.Parts, ap)
				op.NextPartNumberMarker = p.Number
			}
		}
		out.ObjectParts = op
	}
	if want["StorageClass"] {
		out.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		size := info.Size
		out.ObjectSize = &size
	}
	rq.w.Header().Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	return s.writeXML(rq, http.StatusOK, out)
}
