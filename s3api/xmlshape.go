package s3api

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
)

// xmlSchema is S3's schema of a configuration document, as far as its shape goes: for
// each element that has children, which children it may have and whether each may
// repeat. An element not listed has text only.
type xmlSchema map[string]map[string]bool

// shapeError says how a document departs from its schema. Callers render it as S3's
// MalformedXML.
type shapeError struct{ msg string }

func (e *shapeError) Error() string { return e.msg }

func shapeErrorf(format string, args ...any) error {
	return &shapeError{msg: fmt.Sprintf(format, args...)}
}

// checkXMLShape walks a configuration document's elements against schema, with root as
// its one top-level element. Go's decoder silently drops what a struct does not name: a
// misspelt element, or a second one where S3 allows one, would otherwise change the
// meaning of a configuration without an error (a lifecycle rule losing its filter, a
// CORS rule its second MaxAgeSeconds). S3 refuses such documents as MalformedXML.
// Namespaces are ignored, as S3 ignores them.
func checkXMLShape(data []byte, root string, schema xmlSchema) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	type frame struct {
		name string
		seen map[string]bool
	}
	var stack []frame
	seenRoot := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if len(stack) == 0 {
				if seenRoot || name != root {
					return shapeErrorf("the document must be one <%s>, not <%s>", root, name)
				}
				seenRoot = true
			} else {
				parent := &stack[len(stack)-1]
				children, ok := schema[parent.name]
				if !ok {
					return shapeErrorf("<%s> cannot contain <%s>", parent.name, name)
				}
				repeat, ok := children[name]
				if !ok {
					return shapeErrorf("unknown element <%s> in <%s>", name, parent.name)
				}
				if parent.seen[name] && !repeat {
					return shapeErrorf("<%s> may appear once in <%s>", name, parent.name)
				}
				parent.seen[name] = true
			}
			stack = append(stack, frame{name: name, seen: map[string]bool{}})
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 && len(bytes.TrimSpace(t)) > 0 {
				return shapeErrorf("text outside <%s>", root)
			}
		}
	}
	if !seenRoot {
		return shapeErrorf("no <%s>", root)
	}
	return nil
}
