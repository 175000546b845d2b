package s3err

import (
	"net/http"
	"strings"
	"testing"
)

// TestWording pins S3's wording of the messages clients and users see most, as S3
// sends them on the wire (which is not always as its documentation prints them).
func TestWording(t *testing.T) {
	tests := []struct {
		code   Code
		status int
		msg    string
	}{
		{PreconditionFailed, http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold"},
		{BucketNotEmpty, http.StatusConflict, "The bucket you tried to delete is not empty"},
		{EntityTooSmall, http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed size"},
		{EntityTooLarge, http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed size"},
		{InvalidAccessKeyID, http.StatusForbidden, "The AWS Access Key Id you provided does not exist in our records."},
		{InvalidPart, http.StatusBadRequest, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."},
		{InvalidPartNumber, http.StatusRequestedRangeNotSatisfiable, "The requested partnumber is not satisfiable"},
		{InvalidRedirectLocation, http.StatusBadRequest, "The website redirect location must have a prefix of 'http://' or 'https://' or '/'."},
		{InvalidToken, http.StatusBadRequest, "The provided token is malformed or otherwise invalid."},
		{BadRequest, http.StatusBadRequest, "Bad Request"},
		{RequestHeaderSectionTooLarge, http.StatusBadRequest, "Your request header section exceeds the maximum allowed size."},
	}
	for _, tc := range tests {
		e := New(tc.code)
		if e.Status() != tc.status || e.Msg() != tc.msg {
			t.Errorf("%s: %d %q, want %d %q", tc.code, e.Status(), e.Msg(), tc.status, tc.msg)
		}
	}
}

func TestExtraElementsInOrder(t *testing.T) {
	e := New(InvalidArgument)
	e.Extra = map[string]string{"ArgumentValue": "-3", "ArgumentName": "partNumber"}
	for range 10 {
		x := string(e.XML("ID"))
		if i, j := strings.Index(x, "<ArgumentName>"), strings.Index(x, "<ArgumentValue>"); i < 0 || j < i {
			t.Fatalf("extra elements out of order: %s", x)
		}
	}
}
