package manifest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// kubectlDocuments is what kubectl reads from a file: FileVisitor's transformer, then StreamVisitor.Visit's loop
// (k8s.io/cli-runtime/pkg/resource/visitor.go), up to its first error. It returns the documents as JSON.
func kubectlDocuments(data []byte) ([]string, error) {
	r := transform.NewReader(bytes.NewReader(data), unicode.BOMOverride(unicode.UTF8.NewDecoder()))
	d := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var docs []string
	for {
		ext := runtime.RawExtension{}
		if err := d.Decode(&ext); err != nil {
			if err == io.EOF {
				return docs, nil
			}
			return docs, err
		}
		ext.Raw = bytes.TrimSpace(ext.Raw)
		if len(ext.Raw) == 0 || bytes.Equal(ext.Raw, []byte("null")) {
			continue
		}
		docs = append(docs, string(ext.Raw))
	}
}

// ourDocuments is what Decode reads before decoding objects: the JSON of the documents that are not empty, up to
// the first error, and whether there is one.
func ourDocuments(t *testing.T, data []byte) ([]string, bool) {
	t.Helper()
	text, _, err := transform.Bytes(unicode.BOMOverride(unicode.UTF8.NewDecoder()), data)
	if err != nil {
		return nil, true
	}
	var docs []string
	prev := 0
	for doc := range documents(text) {
		if doc.line < 1 || doc.index <= prev && !empty(doc.json) {
			t.Fatalf("document %d after %d at line %d: lost track of positions in %q", doc.index, prev, doc.line, data)
		}
		if doc.err != nil {
			return docs, true
		}
		if !empty(doc.json) {
			docs = append(docs, string(doc.json))
			prev = doc.index
		}
	}
	return docs, false
}

// checkLikeKubectl checks that the documents read are kubectl's, and that there is an error where kubectl fails.
func checkLikeKubectl(t *testing.T, data []byte) {
	t.Helper()
	got, failed := ourDocuments(t, data)
	want, kubectlErr := kubectlDocuments(data)
	// Keys that differ in YAML but not as JSON strings (0 and 0.0) make yaml.YAMLToJSON's result depend on map
	// order: one of the values wins, in kubectl as here. Such a result must come out of kubectl's reader too.
	for range 50 {
		if kubectlErr != nil || cmp.Equal(want, got) {
			break
		}
		want, kubectlErr = kubectlDocuments(data)
	}
	if kubectlErr == nil && (failed || !cmp.Equal(want, got)) {
		t.Fatalf("kubectl reads %q from %q; we read %q (error: %v)", want, data, got, failed)
	}
	if kubectlErr != nil && (!failed || len(got) < len(want) || !cmp.Equal(want, got[:len(want)])) {
		t.Fatalf("kubectl reads %q then fails (%v) on %q; we read %q (error: %v)", want, kubectlErr, data, got, failed)
	}
}

// likeKubectl are inputs where the old reader and kubectl disagreed, and edge cases of kubectl's decoder.
var likeKubectl = map[string]string{
	"duplicate keys, the last wins":     "apiVersion: v1\nkind: Pod\nkind: ConfigMap\nmetadata: {name: a, name: b}\n",
	"YAML flow mapping starting with {": "{apiVersion: v1, kind: Pod, metadata: {name: a}}\n---\nkind: Pod\n",
	"JSON values separated by ---":      "{\"kind\":\"Pod\"}\n---\n{\"kind\":\"Pod\"}\n",
	"JSON then YAML":                    "{\"kind\":\"Pod\"}\nkind: Service\n---\nkind: Secret\n",
	"one JSON value then a broken one":  "{\"kind\":\"Pod\"}\n{\"apiVersion\": }",
	"two JSON values then a broken one": "{\"kind\":\"Pod\"}\n{\"kind\":\"Pod\"}\n{\"apiVersion\": }",
	"JSON then under 4 bytes":           "{\"kind\":\"Pod\"} x",
	"JSON then U+FFFD":                  "{\"kind\":\"Pod\"}\xff\xff\xff\nkind: Pod\n",
	"inline document after ---":         "kind: Pod\n--- {kind: Service}\n",
	"---- is not a separator":           "kind: Pod\n----\nkind: Service\n",
	"---x is not a separator":           "---x\nkind: Pod\n",
	"separator with comment and CRLF":   "kind: Pod\r\n--- # next\r\nkind: Service\r\n",
	"leading and repeated separators":   "---\n---\n# c\n---\nkind: Pod\n---\n---\n",
	"document end marker":               "kind: Pod\n...\nkind: Service\n",
	"indented separator":                "kind: Pod\n ---\nname: x\n",
	"UTF-8 byte order mark":             "\xef\xbb\xbfkind: Pod\n",
	"UTF-16 byte order mark":            "\xff\xfek\x00i\x00n\x00d\x00:\x00 \x00P\x00o\x00d\x00\n\x00",
	"invalid UTF-8 in a value":          "kind: Pod\nmetadata: {name: \"a\xffb\"}\n",
	"whitespace before JSON":            "\n\n   \t{\"kind\":\"Pod\"}\n\n",
	"JSON null and scalars":             "null\n{\"kind\":\"Pod\"}",
	"JSON stream of scalars":            "{\"kind\":\"Pod\"} 3 \"x\" [1]",
	"no newline at the end":             "kind: Pod\n---\nkind: Service",
	"only a separator":                  "---",
	"comment-only documents":            "# a\n---\n# b\n",
	"broken YAML in the middle":         "kind: Pod\n---\nkind: [\n---\nkind: Service\n",
	"tab indentation":                   "kind: Pod\nmetadata:\n\tname: x\n",
	"yes is a boolean (YAML 1.1)":       "kind: Pod\nflag: yes\nport: 0x1F\n",
}

func TestLikeKubectl(t *testing.T) {
	for name, in := range likeKubectl {
		t.Run(name, func(t *testing.T) { checkLikeKubectl(t, []byte(in)) })
	}
}

// checkErrors checks that every error names the file (and, but for input-wide errors, the document).
func checkErrors(t *testing.T, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	errs := []error{err}
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		errs = joined.Unwrap()
	}
	for _, e := range errs {
		var docErr *Error
		if !strings.HasPrefix(e.Error(), name+": ") || strings.Contains(e.Error(), "\n") {
			t.Fatalf("error not on one line naming %s: %q", name, e)
		}
		if errors.As(e, &docErr) && docErr.Source.Document < 1 {
			t.Fatalf("error without a document: %v", e)
		}
	}
}

// FuzzDecode checks that no input makes the reader panic, that it reads the documents kubectl reads (and fails
// where kubectl fails), and that every object it returns is a typed object with a source inside the input.
func FuzzDecode(f *testing.F) {
	seeds := []string{
		deployment,
		"# c\n---\n" + deployment + "---\n---\n",
		"apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p}\n- 3\n",
		"apiVersion: apps/v1\nkind: DeploymentList\nitems: [{metadata: {name: a}}]\n",
		`{"apiVersion":"v1","kind":"Pod"}{"apiVersion":"v1","kind":"List","items":null}`,
		"--- {apiVersion: v1, kind: Pod}\n",
		"a: &a [*a]\n",
		"kind: [\n",
		"apiVersion: apps/v1\nkind: Deployment\nspec: {replicas: 99999999999}\n",
		"apiVersion: a/b/c\nkind: X\n",
		"",
		"---",
		strings.Repeat("[", 20000),
		"a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n",
	}
	for _, s := range likeKubectl {
		seeds = append(seeds, s)
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLikeKubectl(t, data)
		objs, err := Decode("fuzz.yaml", data)
		checkErrors(t, "fuzz.yaml", err)
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, o := range objs {
			if o.Object == nil || o.GVK.Kind == "" {
				t.Fatalf("%s: object without type: %#v", o.Source, o)
			}
			if o.Source.Document < 1 || o.Source.Line < 1 || o.Source.Line > lines {
				t.Fatalf("%s: document %d at line %d, outside the input", o.Source, o.Source.Document, o.Source.Line)
			}
		}
	})
}
