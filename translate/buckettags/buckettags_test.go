package buckettags

import (
	"reflect"
	"strings"
	"testing"
)

// TestEncodeDecode: tags read back in the order set, empty values kept, and a document
// of an unknown version is refused rather than misread.
func TestEncodeDecode(t *testing.T) {
	set := Set{{Key: "Project", Value: "Blue"}, {Key: "cost-center", Value: ""}, {Key: "Ünïcode key", Value: "a+b=c:d/e@f"}}
	doc, err := set.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(doc)
	if err != nil || !reflect.DeepEqual(got, set) {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, set)
	}
	if _, err := Decode(strings.Replace(doc, `"v":1`, `"v":9`, 1)); err == nil {
		t.Error("a document of version 9 was read")
	}
	if _, err := Decode("{"); err == nil {
		t.Error("garbage was read")
	}
}
