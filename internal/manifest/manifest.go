// Package manifest reads Kubernetes manifests the way `kubectl apply -f` does: files, directories (recursively,
// .yaml .yml .json, in lexical order) and standard input; multi-document YAML, JSON streams and `kind: List`. Each
// object is decoded into its typed Go struct with client-go's scheme and keeps where it came from, so an error or a
// finding can point at the file and document. Kinds the scheme does not know (custom resources, Kustomizations)
// are skipped, not errors.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// Stdin is the path that reads standard input, and StdinName how its source is shown.
const (
	Stdin     = "-"
	StdinName = "<stdin>"
)

// Extensions are the file name extensions read from directories (a file named explicitly is read whatever its name).
var Extensions = []string{".yaml", ".yml", ".json"}

// Source says where an object was read.
type Source struct {
	File string
	// Document is the 1-based index of the document in the file: YAML documents separated by `---` (a leading
	// separator opens the first document), or JSON values in a stream.
	Document int
	// Line is the line of the file the document starts on.
	Line int
	// Items is the 1-based position inside a `kind: List` (nested lists add a level); empty outside lists.
	Items []int
}

func (s Source) String() string {
	out := fmt.Sprintf("%s: document %d", s.File, s.Document)
	if len(s.Items) > 0 {
		parts := make([]string, len(s.Items))
		for i, n := range s.Items {
			parts[i] = strconv.Itoa(n)
		}
		out += ", item " + strings.Join(parts, ".")
	}
	return out
}

// Object is one decoded object of a kind the client-go scheme knows.
type Object struct {
	Source Source
	GVK    schema.GroupVersionKind
	// Object is the typed object, e.g. *appsv1.Deployment.
	Object runtime.Object
}

// Error is a problem with one document; its message names the file and the document index.
type Error struct {
	Source Source
	Err    error
}

func (e *Error) Error() string { return e.Source.String() + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Read reads every path in order: a file, a directory (recursively, files ending in Extensions, in lexical order)
// or Stdin. It reads everything it can and returns the objects with all errors joined, so one run reports every
// broken document.
func Read(paths []string, stdin io.Reader) ([]Object, error) {
	var (
		objs      []Object
		errs      []error
		stdinRead bool
	)
	for _, p := range paths {
		if p == Stdin {
			if stdinRead {
				errs = append(errs, errors.New("standard input (-) given more than once"))
				continue
			}
			stdinRead = true
			data, err := io.ReadAll(stdin)
			if err != nil {
				errs = append(errs, fmt.Errorf("reading standard input: %w", err))
				continue
			}
			o, err := Decode(StdinName, data)
			objs = append(objs, o...)
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		files, err := Files(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				errs = append(errs, pathError(err))
				continue
			}
			o, err := Decode(f, data)
			objs = append(objs, o...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return objs, errors.Join(errs...)
}

// Files lists the manifest files of path: path itself when it is a file, else the files under it with one of
// Extensions, recursively, in lexical order. Symbolic links to directories are not followed. A directory without
// any manifest file is an error: a mistyped path must not pass as clean.
func Files(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, pathError(err)
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !hasManifestExtension(p) {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		return nil, pathError(err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no %s files in this directory", path, strings.Join(Extensions, ", "))
	}
	return files, nil
}

// pathError drops the failed operation from an fs.PathError: "x.yaml: no such file or directory".
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func hasManifestExtension(p string) bool {
	ext := strings.ToLower(filepath.Ext(p))
	for _, e := range Extensions {
		if ext == e {
			return true
		}
	}
	return false
}

// Decode decodes the content of one file named name. It returns the objects of every document it could decode,
// and an error per broken document (joined).
func Decode(name string, data []byte) ([]Object, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	var docs []document
	var errs []error
	if isJSON(data) {
		var err error
		docs, err = splitJSON(data)
		if err != nil {
			errs = append(errs, &Error{Source: Source{File: name, Document: len(docs) + 1}, Err: err})
		}
	} else {
		docs = splitYAML(data)
	}
	var objs []Object
	for _, doc := range docs {
		src := Source{File: name, Document: doc.index, Line: doc.line}
		o, err := decodeDocument(src, doc)
		objs = append(objs, o...)
		errs = append(errs, err...)
	}
	return objs, errors.Join(errs...)
}

// document is one YAML document or JSON value of a file.
type document struct {
	index int
	line  int
	data  []byte
	json  bool
}

func isJSON(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{"))
}

// splitJSON reads a stream of JSON values. A syntax error ends the stream: the decoder cannot find the next value.
func splitJSON(data []byte) ([]document, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var docs []document
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("invalid JSON: %w", err)
		}
		start := max(dec.InputOffset()-int64(len(raw)), 0)
		line := 1 + bytes.Count(data[:start], []byte("\n"))
		docs = append(docs, document{index: len(docs) + 1, line: line, data: raw, json: true})
	}
}

// splitYAML cuts a YAML stream at document separators: lines starting with `---` followed by nothing, whitespace
// or a comment (as kubectl does). The text before the first separator is a document only when it holds more than
// comments and blank lines, so that a leading `---` or a header comment does not shift the document numbers.
func splitYAML(data []byte) []document {
	var docs []document
	var cur bytes.Buffer
	start, lineNo := 1, 0
	flush := func(next int) {
		if len(docs) > 0 || !blank(cur.Bytes()) {
			docs = append(docs, document{index: len(docs) + 1, line: start, data: bytes.Clone(cur.Bytes())})
		}
		cur.Reset()
		start = next
	}
	for len(data) > 0 {
		lineNo++
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if rest, ok := separator(line); ok {
			if rest != nil {
				flush(lineNo) // the document starts on the separator's line
				cur.Write(rest)
			} else {
				flush(lineNo + 1)
			}
			continue
		}
		cur.Write(line)
	}
	if len(docs) == 0 || !blank(cur.Bytes()) {
		flush(0)
	}
	return docs
}

// separator reports whether line is a document separator, and returns what follows `---` on it when that is
// content rather than a comment (`--- {a: 1}` starts a document inline).
func separator(line []byte) ([]byte, bool) {
	if !bytes.HasPrefix(line, []byte("---")) {
		return nil, false
	}
	rest := line[3:]
	if len(bytes.TrimSpace(rest)) == 0 {
		return nil, true
	}
	if rest[0] != ' ' && rest[0] != '\t' {
		return nil, false // e.g. "----" or "---foo": content, not a separator
	}
	if bytes.HasPrefix(bytes.TrimSpace(rest), []byte("#")) {
		return nil, true
	}
	return rest, true
}

// blank reports whether a YAML text holds only whitespace and comment lines.
func blank(data []byte) bool {
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

// yamlLine finds the line numbers in go-yaml's error messages, to make them lines of the file.
var yamlLine = regexp.MustCompile(`\bline (\d+):`)

func decodeDocument(src Source, doc document) ([]Object, []error) {
	fail := func(err error) ([]Object, []error) { return nil, []error{&Error{Source: src, Err: err}} }
	data := doc.data
	if !doc.json {
		if blank(data) {
			return nil, nil
		}
		// Strict: a duplicated key is a mistake that would silently drop one of the values.
		j, err := yaml.YAMLToJSONStrict(data)
		if err != nil {
			return fail(yamlError(err, doc.line))
		}
		data = j
	}
	var value any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // keep large integers exact when items of a List are encoded again
	if err := dec.Decode(&value); err != nil {
		return fail(fmt.Errorf("invalid JSON: %w", err))
	}
	switch v := value.(type) {
	case nil:
		return nil, nil // an empty document
	case map[string]any:
		return decodeObject(src, v)
	default:
		return fail(fmt.Errorf("expected a Kubernetes object (a mapping with apiVersion and kind), got %s", jsonType(value)))
	}
}

// yamlError rewrites go-yaml's document-relative "line N" into lines of the file, on one line.
func yamlError(err error, docLine int) error {
	msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
	msg = strings.Replace(msg, "yaml: unmarshal errors:\n", "yaml: ", 1)
	msg = strings.Join(strings.Fields(msg), " ")
	msg = yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, convErr := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		if convErr != nil || docLine < 1 {
			return m
		}
		return fmt.Sprintf("line %d:", docLine+n-1)
	})
	return errors.New("invalid " + strings.Replace(msg, "yaml: ", "YAML: ", 1))
}

func jsonType(v any) string {
	switch v.(type) {
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

// decodeObject decodes one object, expanding lists: `kind: List` and typed lists such as DeploymentList, whose
// items may leave out apiVersion and kind.
func decodeObject(src Source, m map[string]any) ([]Object, []error) {
	fail := func(err error) ([]Object, []error) { return nil, []error{&Error{Source: src, Err: err}} }
	apiVersion, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	if kind == "" {
		return fail(errors.New(`not a Kubernetes object: "kind" is missing`))
	}
	if apiVersion == "" {
		return fail(fmt.Errorf(`%s has no "apiVersion"`, kind))
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return fail(fmt.Errorf("%s: %w", kind, err))
	}
	if rawItems, isList := m["items"]; isList && strings.HasSuffix(kind, "List") {
		items, ok := rawItems.([]any)
		if !ok && rawItems != nil {
			return fail(fmt.Errorf("%s: items must be a list, got %s", kind, jsonType(rawItems)))
		}
		var objs []Object
		var errs []error
		for i, raw := range items {
			itemSrc := src
			itemSrc.Items = append(append([]int(nil), src.Items...), i+1)
			item, ok := raw.(map[string]any)
			if !ok {
				errs = append(errs, &Error{Source: itemSrc, Err: fmt.Errorf("list item is %s, not an object", jsonType(raw))})
				continue
			}
			if kind != "List" {
				item = withDefaultType(item, apiVersion, strings.TrimSuffix(kind, "List"))
			}
			o, e := decodeObject(itemSrc, item)
			objs = append(objs, o...)
			errs = append(errs, e...)
		}
		return objs, errs
	}

	gvk := gv.WithKind(kind)
	if !scheme.Scheme.Recognizes(gvk) {
		return nil, nil // a custom resource or another kind these checks never read
	}
	data, err := json.Marshal(m)
	if err != nil {
		return fail(err)
	}
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(data, &gvk, nil)
	if err != nil {
		return fail(fmt.Errorf("%s %s: %w", kind, nameOf(m), err))
	}
	return []Object{{Source: src, GVK: gvk, Object: obj}}, nil
}

func withDefaultType(item map[string]any, apiVersion, kind string) map[string]any {
	if _, ok := item["apiVersion"]; ok {
		if _, ok := item["kind"]; ok {
			return item
		}
	}
	out := make(map[string]any, len(item)+2)
	for k, v := range item {
		out[k] = v
	}
	if _, ok := out["apiVersion"]; !ok {
		out["apiVersion"] = apiVersion
	}
	if _, ok := out["kind"]; !ok {
		out["kind"] = kind
	}
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
