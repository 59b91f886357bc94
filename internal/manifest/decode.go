package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
)

// Decode decodes the content of one input named name. It returns the objects of every document it could decode,
// and an error per broken document (joined). An input without any document (empty, or only comments and
// separators) is an error.
func Decode(name string, data []byte) ([]Object, error) {
	if len(data) > MaxInputSize {
		return nil, errTooLarge(name)
	}
	// kubectl's FileVisitor reads through this transformer, for standard input too.
	text, _, err := transform.Bytes(unicode.BOMOverride(unicode.UTF8.NewDecoder()), data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d := decoder{budget: MaxObjects}
	found := false
	for doc := range documents(text) {
		src := Source{File: name, Document: doc.index, Line: doc.line}
		d.budget--
		switch {
		case d.budget < 0:
			d.errs = append(d.errs, fmt.Errorf("%s: more than %d documents and list items: stopped reading", name, MaxObjects))
		case doc.err != nil:
			d.errs = append(d.errs, &Error{Source: src, Err: doc.err})
		case empty(doc.json):
			continue // an empty document, skipped as StreamVisitor does
		default:
			d.document(src, doc.json)
		}
		found = true
		if len(d.errs) > MaxErrors {
			d.errs = append(d.errs[:MaxErrors], fmt.Errorf("%s: more than %d errors: stopped reading", name, MaxErrors))
		}
		if d.budget < 0 || len(d.errs) > MaxErrors {
			break
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no objects found: the input is empty or holds only comments and document separators", name)
	}
	return d.objs, errors.Join(d.errs...)
}

// decoder collects the objects and errors of one input.
type decoder struct {
	objs []Object
	errs []error
	// budget is how many more documents and list items the input may hold (MaxObjects): tiny objects take far
	// more memory decoded than as text.
	budget int
}

func (d *decoder) fail(src Source, err error) { d.errs = append(d.errs, &Error{Source: src, Err: err}) }

// document decodes the JSON of one document that is not empty.
func (d *decoder) document(src Source, data []byte) {
	var value any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep large integers exact when items of a List are encoded again
	if err := dec.Decode(&value); err != nil {
		d.fail(src, fmt.Errorf("invalid JSON: %w", err))
		return
	}
	if m, ok := value.(map[string]any); ok {
		d.object(src, m)
		return
	}
	d.fail(src, fmt.Errorf("expected a Kubernetes object (a mapping with apiVersion and kind), got %s", jsonType(value)))
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// object decodes one object, expanding lists. Like kubectl's unstructured decoder, it takes any document with
// an "items" field for a list (`kind: List`, or a typed list such as DeploymentList) and gives the items that
// have neither apiVersion nor kind the list's apiVersion and its kind without "List". A list item that is a list
// itself (items holds a list) is an error, as in kubectl.
func (d *decoder) object(src Source, m map[string]any) {
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if kind == "" {
		d.fail(src, errors.New(`not a Kubernetes object: "kind" is missing`))
		return
	}
	if apiVersion == "" {
		d.fail(src, fmt.Errorf(`%s has no "apiVersion"`, kind))
		return
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		d.fail(src, fmt.Errorf("%s: %w", kind, err))
		return
	}
	if rawItems, isList := m["items"]; isList && len(src.Items) == 0 {
		items, ok := rawItems.([]any)
		if !ok && rawItems != nil {
			d.fail(src, fmt.Errorf("%s: items must be a list, got %s", kind, jsonType(rawItems)))
			return
		}
		d.items(src, items, apiVersion, strings.TrimSuffix(kind, "List"))
		return
	}
	if _, isList := m["items"].([]any); isList {
		// kubectl's FlattenListVisitor fails on it: "*unstructured.Unstructured is not a list".
		d.fail(src, fmt.Errorf("%s: a list inside a list, which kubectl cannot read", kind))
		return
	}
	gvk := gv.WithKind(kind)
	if !scheme.Scheme.Recognizes(gvk) {
		return // a custom resource or another kind these checks never read
	}
	data, err := json.Marshal(m)
	if err != nil {
		d.fail(src, err)
		return
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(data, &gvk, nil)
	if err != nil {
		d.fail(src, fmt.Errorf("%s %s: %w", kind, nameOf(m), err))
		return
	}
	d.objs = append(d.objs, Object{Source: src, GVK: gvk, Object: obj})
}

func (d *decoder) items(src Source, items []any, apiVersion, itemKind string) {
	if d.budget -= len(items); d.budget < 0 {
		d.fail(src, fmt.Errorf("a list of %d items: more than %d documents and list items in one input", len(items), MaxObjects))
		return
	}
	for i, raw := range items {
		itemSrc := src
		itemSrc.Items = append(append([]int(nil), src.Items...), i+1)
		item, ok := raw.(map[string]any)
		if !ok {
			d.fail(itemSrc, fmt.Errorf("list item is %s, not an object", jsonType(raw)))
			continue
		}
		if v, _ := item["apiVersion"].(string); v == "" && itemKind != "" {
			if k, _ := item["kind"].(string); k == "" {
				item = withType(item, apiVersion, itemKind)
			}
		}
		d.object(itemSrc, item)
	}
}

func withType(item map[string]any, apiVersion, kind string) map[string]any {
	out := make(map[string]any, len(item)+2)
	for k, v := range item {
		out[k] = v
	}
	out["apiVersion"] = apiVersion
	out["kind"] = kind
	return out
}

func nameOf(m map[string]any) string {
	if md, ok := m["metadata"].(map[string]any); ok {
		if name, ok := md["name"].(string); ok && name != "" {
			return strconv.Quote(name)
		}
	}
	return "(unnamed)"
}
