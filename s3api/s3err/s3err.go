// Package s3err is the table of S3 error codes: each code's HTTP status and default
// message, and the Error type handlers return. Only s3api renders errors as HTTP.
package s3err

import (
	"encoding/xml"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
)

// Code is an S3 error code such as "NoSuchKey".
type Code string

// The codes s3proxy returns.
const (
	AccessDenied                                   Code = "AccessDenied"
	AuthorizationHeaderMalformed                   Code = "AuthorizationHeaderMalformed"
	AuthorizationQueryParametersError              Code = "AuthorizationQueryParametersError"
	BadDigest                                      Code = "BadDigest"
	BadRequest                                     Code = "BadRequest"
	BucketAlreadyExists                            Code = "BucketAlreadyExists"
	BucketAlreadyOwnedByYou                        Code = "BucketAlreadyOwnedByYou"
	BucketNotEmpty                                 Code = "BucketNotEmpty"
	EntityTooLarge                                 Code = "EntityTooLarge"
	EntityTooSmall                                 Code = "EntityTooSmall"
	ExpiredToken                                   Code = "ExpiredToken"
	IncompleteBody                                 Code = "IncompleteBody"
	InternalError                                  Code = "InternalError"
	InvalidAccessKeyID                             Code = "InvalidAccessKeyId"
	InvalidArgument                                Code = "InvalidArgument"
	InvalidBucketName                              Code = "InvalidBucketName"
	InvalidDigest                                  Code = "InvalidDigest"
	InvalidLocationConstraint                      Code = "InvalidLocationConstraint"
	InvalidPart                                    Code = "InvalidPart"
	InvalidPartOrder                               Code = "InvalidPartOrder"
	InvalidPartNumber                              Code = "InvalidPartNumber"
	InvalidRange                                   Code = "InvalidRange"
	InvalidRedirectLocation                        Code = "InvalidRedirectLocation"
	InvalidRequest                                 Code = "InvalidRequest"
	InvalidStorageClass                            Code = "InvalidStorageClass"
	KeyTooLongError                                Code = "KeyTooLongError"
	MalformedXML                                   Code = "MalformedXML"
	MetadataTooLarge                               Code = "MetadataTooLarge"
	MethodNotAllowed                               Code = "MethodNotAllowed"
	MissingContentLength                           Code = "MissingContentLength"
	MissingSecurityHeader                          Code = "MissingSecurityHeader"
	NoSuchBucket                                   Code = "NoSuchBucket"
	NoSuchKey                                      Code = "NoSuchKey"
	NoSuchUpload                                   Code = "NoSuchUpload"
	NoSuchVersion                                  Code = "NoSuchVersion"
	NotImplemented                                 Code = "NotImplemented"
	NotModified                                    Code = "NotModified"
	PreconditionFailed                             Code = "PreconditionFailed"
	RequestHeaderSectionTooLarge                   Code = "RequestHeaderSectionTooLarge"
	RequestTimeTooSkewed                           Code = "RequestTimeTooSkewed"
	ServiceUnavailable                             Code = "ServiceUnavailable"
	SignatureDoesNotMatch                          Code = "SignatureDoesNotMatch"
	SlowDown                                       Code = "SlowDown"
	XAmzContentSHA256Mismatch                      Code = "XAmzContentSHA256Mismatch"
	InvalidChunkSizeError                          Code = "InvalidChunkSizeError"
	MalformedTrailerError                          Code = "MalformedTrailerError"
	ConditionalRequestConflict                     Code = "ConditionalRequestConflict"
	UnexpectedContent                              Code = "UnexpectedContent"
	MissingRequestBodyError                        Code = "MissingRequestBodyError"
	RequestTimeout                                 Code = "RequestTimeout"
	InvalidObjectState                             Code = "InvalidObjectState"
	MaxMessageLengthExceeded                       Code = "MaxMessageLengthExceeded"
	UnsupportedSignature                           Code = "UnsupportedSignature"
	InvalidEncryptionAlgorithmError                Code = "InvalidEncryptionAlgorithmError"
	NoSuchBucketPolicy                             Code = "NoSuchBucketPolicy"
	MalformedPolicy                                Code = "MalformedPolicy"
	NoSuchLifecycleConfiguration                   Code = "NoSuchLifecycleConfiguration"
	NoSuchCORSConfiguration                        Code = "NoSuchCORSConfiguration"
	NoSuchTagSet                                   Code = "NoSuchTagSet"
	ServerSideEncryptionConfigurationNotFoundError Code = "ServerSideEncryptionConfigurationNotFoundError"
	NoSuchWebsiteConfiguration                     Code = "NoSuchWebsiteConfiguration"
	ReplicationConfigurationNotFoundError          Code = "ReplicationConfigurationNotFoundError"
	NoSuchPublicAccessBlockConfiguration           Code = "NoSuchPublicAccessBlockConfiguration"
	ObjectLockConfigurationNotFoundError           Code = "ObjectLockConfigurationNotFoundError"
	NoSuchObjectLockConfiguration                  Code = "NoSuchObjectLockConfiguration"
	InvalidBucketState                             Code = "InvalidBucketState"
	AccessControlListNotSupported                  Code = "AccessControlListNotSupported"
	InvalidBucketAclWithObjectOwnership            Code = "InvalidBucketAclWithObjectOwnership"
	InvalidTag                                     Code = "InvalidTag"
	InvalidToken                                   Code = "InvalidToken"
	AccessForbidden                                Code = "AccessForbidden"
	// POST Object (browser form uploads).
	InvalidPolicyDocument               Code = "InvalidPolicyDocument"
	MalformedPOSTRequest                Code = "MalformedPOSTRequest"
	MaxPostPreDataLengthExceededError   Code = "MaxPostPreDataLengthExceededError"
	IncorrectNumberOfFilesInPostRequest Code = "IncorrectNumberOfFilesInPostRequest"
	RequestIsNotMultiPartContent        Code = "RequestIsNotMultiPartContent"
)

type entry struct {
	status  int
	message string
}

var table = map[Code]entry{
	AccessDenied:                      {http.StatusForbidden, "Access Denied"},
	AuthorizationHeaderMalformed:      {http.StatusBadRequest, "The authorization header is malformed."},
	AuthorizationQueryParametersError: {http.StatusBadRequest, "Error parsing the X-Amz-Credential parameter."},
	BadRequest:                        {http.StatusBadRequest, "Bad Request"},
	BadDigest:                         {http.StatusBadRequest, "The Content-MD5 or checksum you specified did not match what was received."},
	BucketAlreadyExists:               {http.StatusConflict, "The requested bucket name is not available."},
	BucketAlreadyOwnedByYou:           {http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it."},
	BucketNotEmpty:                    {http.StatusConflict, "The bucket you tried to delete is not empty"},
	EntityTooLarge:                    {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed size"},
	EntityTooSmall:                    {http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed size"},
	ExpiredToken:                      {http.StatusBadRequest, "The provided token has expired."},
	IncompleteBody:                    {http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header."},
	InternalError:                     {http.StatusInternalServerError, "We encountered an internal error. Please try again."},
	InvalidAccessKeyID:                {http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."},
	InvalidArgument:                   {http.StatusBadRequest, "Invalid Argument"},
	InvalidBucketName:                 {http.StatusBadRequest, "The specified bucket is not valid."},
	InvalidDigest:                     {http.StatusBadRequest, "The Content-MD5 or checksum you specified is not valid."},
	InvalidLocationConstraint:         {http.StatusBadRequest, "The specified location constraint is not valid."},
	InvalidPart:                       {http.StatusBadRequest, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."},
	InvalidPartNumber:                 {http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable"},
	InvalidPartOrder:                  {http.StatusBadRequest, "The list of parts was not in ascending order. Parts must be ordered by part number."},
	InvalidRange:                      {http.StatusRequestedRangeNotSatisfiable, "The requested range is not satisfiable"},
	InvalidRedirectLocation:           {http.StatusBadRequest, "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."},
	InvalidRequest:                    {http.StatusBadRequest, "Invalid Request"},
	InvalidStorageClass:               {http.StatusBadRequest, "The storage class you specified is not valid."},
	KeyTooLongError:                   {http.StatusBadRequest, "Your key is too long."},
	MalformedXML:                      {http.StatusBadRequest, "The XML you provided was not well-formed or did not validate against our published schema."},
	MetadataTooLarge:                  {http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size."},
	MethodNotAllowed:                  {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource."},
	MissingContentLength:              {http.StatusLengthRequired, "You must provide the Content-Length HTTP header."},
	MissingSecurityHeader:             {http.StatusBadRequest, "Your request is missing a required header."},
	NoSuchBucket:                      {http.StatusNotFound, "The specified bucket does not exist."},
	NoSuchKey:                         {http.StatusNotFound, "The specified key does not exist."},
	NoSuchUpload:                      {http.StatusNotFound, "The specified multipart upload does not exist. The upload ID might not be valid, or the multipart upload might have been aborted or completed."},
	NoSuchVersion:                     {http.StatusNotFound, "The specified version does not exist."},
	NotImplemented:                    {http.StatusNotImplemented, "A header you provided implies functionality that is not implemented."},
	NotModified:                       {http.StatusNotModified, "Not Modified"},
	PreconditionFailed:                {http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold"},
	RequestHeaderSectionTooLarge:      {http.StatusBadRequest, "Your request header section exceeds the maximum allowed size."},
	RequestTimeTooSkewed:              {http.StatusForbidden, "The difference between the request time and the server's time is too large."},
	ServiceUnavailable:                {http.StatusServiceUnavailable, "Service is unable to handle request."},
	SignatureDoesNotMatch:             {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method."},
	SlowDown:                          {http.StatusServiceUnavailable, "Please reduce your request rate."},
	XAmzContentSHA256Mismatch:         {http.StatusBadRequest, "The provided 'x-amz-content-sha256' header does not match what was computed."},
	InvalidChunkSizeError:             {http.StatusForbidden, "Only the last chunk is allowed to have a size less than 8192 bytes"},
	MalformedTrailerError:             {http.StatusBadRequest, "The request contained trailing data that was not well-formed or did not conform to our published schema."},
	ConditionalRequestConflict:        {http.StatusConflict, "A conflicting conditional action is currently in progress against this resource. Try again."},
	UnexpectedContent:                 {http.StatusBadRequest, "This request does not support content."},
	MissingRequestBodyError:           {http.StatusBadRequest, "Request Body is empty"},
	RequestTimeout:                    {http.StatusBadRequest, "Your socket connection to the server was not read from or written to within the timeout period."},
	InvalidObjectState:                {http.StatusForbidden, "The operation is not valid for the current state of the object."},
	MaxMessageLengthExceeded:          {http.StatusBadRequest, "Your request was too big."},
	UnsupportedSignature:              {http.StatusBadRequest, "The provided request is signed with an unsupported signature version or algorithm."},
	InvalidEncryptionAlgorithmError:   {http.StatusBadRequest, "The encryption request you specified is not valid."},
	NoSuchBucketPolicy:                {http.StatusNotFound, "The bucket policy does not exist."},
	MalformedPolicy:                   {http.StatusBadRequest, "Policy has invalid resource"},
	NoSuchLifecycleConfiguration:      {http.StatusNotFound, "The lifecycle configuration does not exist."},
	NoSuchCORSConfiguration:           {http.StatusNotFound, "The CORS configuration does not exist."},
	NoSuchTagSet:                      {http.StatusNotFound, "The TagSet does not exist."},
	ServerSideEncryptionConfigurationNotFoundError: {http.StatusNotFound, "The server side encryption configuration was not found."},
	NoSuchWebsiteConfiguration:                     {http.StatusNotFound, "The specified bucket does not have a website configuration."},
	ReplicationConfigurationNotFoundError:          {http.StatusNotFound, "The replication configuration was not found."},
	NoSuchPublicAccessBlockConfiguration:           {http.StatusNotFound, "The public access block configuration was not found."},
	ObjectLockConfigurationNotFoundError:           {http.StatusNotFound, "Object Lock configuration does not exist for this bucket."},
	NoSuchObjectLockConfiguration:                  {http.StatusBadRequest, "The specified object does not have a ObjectLock configuration."},
	InvalidBucketState:                             {http.StatusConflict, "The request is not valid with the current state of the bucket."},
	AccessControlListNotSupported:                  {http.StatusBadRequest, "The bucket does not allow ACLs."},
	InvalidBucketAclWithObjectOwnership:            {http.StatusBadRequest, "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting."},
	InvalidTag:                                     {http.StatusBadRequest, "The tag provided was not a valid tag."},
	InvalidToken:                                   {http.StatusBadRequest, "The provided token is malformed or otherwise invalid."},
	InvalidPolicyDocument:                          {http.StatusBadRequest, "The content of the form does not meet the conditions specified in the policy document."},
	MalformedPOSTRequest:                           {http.StatusBadRequest, "The body of your POST request is not well-formed multipart/form-data."},
	MaxPostPreDataLengthExceededError:              {http.StatusBadRequest, "Your POST request fields preceding the upload file were too large."},
	IncorrectNumberOfFilesInPostRequest:            {http.StatusBadRequest, "POST requires exactly one file upload per request."},
	RequestIsNotMultiPartContent:                   {http.StatusBadRequest, "Bucket POST must be of the enclosure-type multipart/form-data."},
	AccessForbidden:                                {http.StatusForbidden, "CORSResponse: This CORS request is not allowed. This is usually because the evaluation of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."},
}

// Error is an S3 error to be rendered to the client.
type Error struct {
	Code    Code
	Message string
	// Resource, BucketName, Key are optional details rendered in the XML.
	Resource string
	Extra    map[string]string // additional XML elements (e.g. ArgumentName)
	// Err is an underlying cause, logged but never shown to the client.
	Err error
	// Bare errors are answered with their status alone and no document: what S3's
	// front end answers for a request it refuses before S3 proper sees it.
	Bare bool
}

// New returns an Error with the code's default message.
func New(c Code) *Error { return &Error{Code: c} }

// Newf returns an Error with a custom message.
func Newf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error with the code's default message and a logged cause.
func Wrap(c Code, cause error) *Error { return &Error{Code: c, Err: cause} }

func (e *Error) Error() string {
	if e.Err != nil {
		return string(e.Code) + ": " + e.Msg() + ": " + e.Err.Error()
	}
	return string(e.Code) + ": " + e.Msg()
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, s3err.New(s3err.NoSuchKey)) works.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Msg is the client-facing message.
func (e *Error) Msg() string {
	if e.Message != "" {
		return e.Message
	}
	return table[e.Code].message
}

// Status is the HTTP status of the code (500 for unknown codes).
func (e *Error) Status() int { return Status(e.Code) }

// Status returns the HTTP status for a code.
func Status(c Code) int {
	if t, ok := table[c]; ok {
		return t.status
	}
	return http.StatusInternalServerError
}

// As extracts an *Error from err, or nil.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// Body is the XML document of an error response.
type Body struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
	HostID    string   `xml:"HostId,omitempty"`
	Extra     []extraElem
}

type extraElem struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

// XML renders e with the request id.
func (e *Error) XML(requestID string) []byte {
	b := Body{Code: string(e.Code), Message: e.Msg(), Resource: e.Resource, RequestID: requestID}
	for _, k := range slices.Sorted(maps.Keys(e.Extra)) {
		b.Extra = append(b.Extra, extraElem{XMLName: xml.Name{Local: k}, Value: e.Extra[k]})
	}
	out, _ := xml.Marshal(b)
	return append([]byte(xml.Header), out...)
}
