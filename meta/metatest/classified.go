package metatest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"s3proxy/meta"
)

// CheckEveryMethodClassified is for decorators (caches) that embed the store they wrap:
// it fails when meta.MetaStore has a method the decorator has not decided about, since a
// new write that passed through unseen could leave stale entries. overridden must be
// declared on *recv in the non-test sources of the current directory (the package under
// test); passThrough must not be.
func CheckEveryMethodClassified(t *testing.T, recv string, overridden, passThrough []string) {
	t.Helper()
	declared := declaredMethods(t, recv)
	it := reflect.TypeFor[meta.MetaStore]()
	for i := range it.NumMethod() {
		name := it.Method(i).Name
		switch {
		case slices.Contains(overridden, name):
			if !declared[name] {
				t.Errorf("%s should be overridden by the cache (it is promoted from the inner store)", name)
			}
		case slices.Contains(passThrough, name):
			if declared[name] {
				t.Errorf("%s is overridden but listed as a pass-through", name)
			}
		default:
			t.Errorf("meta.MetaStore.%s is new: decide whether the cache must invalidate or cache it", name)
		}
	}
}

// declaredMethods lists the methods declared on *recv in the current directory's sources
// (as opposed to those promoted from an embedded inner store).
func declaredMethods(t *testing.T, recv string) map[string]bool {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 {
				continue
			}
			if star, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok {
				if id, ok := star.X.(*ast.Ident); ok && id.Name == recv {
					out[fd.Name.Name] = true
				}
			}
		}
	}
	return out
}
