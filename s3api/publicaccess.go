package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strings"

	"s3proxy/s3api/s3err"
	"s3proxy/translate/publicaccess"
)

// Block Public Access per bucket: PUT, GET and DELETE /bucket?publicAccessBlock
// (translate/publicaccess.go keeps the document and applies it).
//
// The document is S3's PublicAccessBlockConfiguration: each of BlockPublicAcls,
// IgnorePublicAcls, BlockPublicPolicy and RestrictPublicBuckets at most once, true or
// false (an element left out is false); any other element, a repeated one or a value
// that is not a boolean is MalformedXML, and a document naming none of the four is
// InvalidRequest "Must specify at least one configuration.", as S3 answers. PUT needs
// Content-MD5 or a checksum (S3 requires one; every SDK sends it) and answers 200 with
// no body; GET of a bucket without one is NoSuchPublicAccessBlockConfiguration (404);
// DELETE answers 204, whether there was one or not.

// publicAccessSchema is S3's schema of a PublicAccessBlockConfiguration document.
var publicAccessSchema = xmlSchema{
	"PublicAccessBlockConfiguration": {"BlockPublicAcls": false, "IgnorePublicAcls": false, "BlockPublicPolicy": false, "RestrictPublicBuckets": false},
}

// publicAccessIn is the request document; nil: the element was left out.
type publicAccessIn struct {
	BlockPublicAcls       *string `xml:"BlockPublicAcls"`
	IgnorePublicAcls      *string `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     *string `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets *string `xml:"RestrictPublicBuckets"`
}

// publicAccessBlock is GetPublicAccessBlock's answer: every setting, as S3 sends it.
type publicAccessBlock struct {
	XMLName               xml.Name `xml:"PublicAccessBlockConfiguration"`
	NS                    string   `xml:"xmlns,attr"`
	BlockPublicAcls       bool     `xml:"BlockPublicAcls"`
	IgnorePublicAcls      bool     `xml:"IgnorePublicAcls"`
	BlockPublicPolicy     bool     `xml:"BlockPublicPolicy"`
	RestrictPublicBuckets bool     `xml:"RestrictPublicBuckets"`
}

// parsePublicAccessBlock checks a PutPublicAccessBlock document as S3 does and returns
// the configuration to store.
func parsePublicAccessBlock(data []byte) (publicaccess.Configuration, error) {
	if err := checkXMLShape(data, "PublicAccessBlockConfiguration", publicAccessSchema); err != nil {
		return publicaccess.Configuration{}, s3err.Wrap(s3err.MalformedXML, err)
	}
	var in publicAccessIn
	if err := xml.Unmarshal(data, &in); err != nil {
		return publicaccess.Configuration{}, s3err.Wrap(s3err.MalformedXML, err)
	}
	if in.BlockPublicAcls == nil && in.IgnorePublicAcls == nil && in.BlockPublicPolicy == nil && in.RestrictPublicBuckets == nil {
		return publicaccess.Configuration{}, s3err.Newf(s3err.InvalidRequest, "Must specify at least one configuration.")
	}
	var cfg publicaccess.Configuration
	for _, f := range []struct {
		v   *string
		dst *bool
	}{
		{in.BlockPublicAcls, &cfg.BlockPublicAcls},
		{in.IgnorePublicAcls, &cfg.IgnorePublicAcls},
		{in.BlockPublicPolicy, &cfg.BlockPublicPolicy},
		{in.RestrictPublicBuckets, &cfg.RestrictPublicBuckets},
	} {
		if f.v == nil {
			continue
		}
		b, ok := xmlBool(*f.v)
		if !ok {
			return publicaccess.Configuration{}, s3err.Wrap(s3err.MalformedXML, errors.New("a Block Public Access setting is true or false"))
		}
		*f.dst = b
	}
	return cfg, nil
}

// xmlBool reads an XML Schema boolean: true, false, 1 or 0 (the words in any case, as
// S3 takes them), white space around it ignored.
func xmlBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

func (s *Server) putPublicAccessBlock(rq *request) error {
	if err := s.configPut(rq); err != nil {
		return err
	}
	data, err := s.readCheckedBody(rq)
	if err != nil {
		return err
	}
	cfg, err := parsePublicAccessBlock(data)
	if err != nil {
		return err
	}
	if err := s.svc.SetPublicAccessBlock(rq.r.Context(), rq.principal, rq.bucket, cfg); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getPublicAccessBlock(rq *request) error {
	cfg, ok, err := s.svc.PublicAccessBlock(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	if !ok {
		e := s3err.New(s3err.NoSuchPublicAccessBlockConfiguration)
		e.Extra = map[string]string{"BucketName": rq.bucket}
		return e
	}
	return s.writeXML(rq, http.StatusOK, publicAccessBlock{NS: s3NS, BlockPublicAcls: cfg.BlockPublicAcls, IgnorePublicAcls: cfg.IgnorePublicAcls,
		BlockPublicPolicy: cfg.BlockPublicPolicy, RestrictPublicBuckets: cfg.RestrictPublicBuckets})
}

func (s *Server) deletePublicAccessBlock(rq *request) error {
	if err := s.svc.DeletePublicAccessBlock(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
