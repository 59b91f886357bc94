// Package manifest reads Kubernetes manifests the way `kubectl apply -R -f` reads them, so that what is checked is
// what kubectl would apply.
//
// Inputs are files, directories and standard input ("-"). A directory is walked recursively in lexical order and
// its files ending in one of Extensions are read (compared case-sensitively, as kubectl does: x.YAML is skipped); a
// file named explicitly is read whatever its name. Only regular files are read: a named pipe, socket or device is
// never opened for reading (in a directory it is reported and skipped, named explicitly it is an error, so that
// neither a FIFO nor /dev/zero can make a run hang). A symbolic link to a regular file is read, as kubectl does; a
// symbolic link to a directory is not followed inside a directory, but is when named explicitly. Inputs are
// bounded (MaxInputSize and the other limits below), and a file or standard input that holds no object at all
// (only white space, comments and document separators) is an error.
//
// Each input goes through the steps of kubectl's resource builder (k8s.io/cli-runtime/pkg/resource, FileVisitor
// and StreamVisitor):
//
//   - a UTF-8 or UTF-16 byte order mark selects the encoding and is dropped, and invalid UTF-8 becomes U+FFFD
//     (golang.org/x/text's BOMOverride, as in FileVisitor);
//   - the stream is cut into documents as k8s.io/apimachinery/pkg/util/yaml's YAMLOrJSONDecoder cuts it: a stream
//     whose first 4096 bytes start with "{" is read as JSON values, unless a value fails to decode before the
//     third, in which case the rest, from the end of the last good value, is read as YAML; YAML is split by
//     util/yaml's YAMLReader at lines starting with "---", which may be followed by white space and a comment only
//     (kubectl rejects "--- {a: 1}" and "----");
//   - a YAML document is converted to JSON by sigs.k8s.io/yaml.YAMLToJSON, not strictly: of duplicated keys the
//     last one wins, as in kubectl; empty documents and null are skipped;
//   - as in kubectl's unstructured decoder, an object with an "items" field is a list (kind List, or a typed list
//     such as DeploymentList), whose items are read in its place, items without apiVersion and kind taking the
//     list's apiVersion and its kind without "List";
//   - an object is decoded into its typed Go struct with client-go's scheme; kinds the scheme does not know
//     (custom resources, Kustomizations) are skipped, not errors.
//
// Unlike kubectl, which stops at the first broken document, every broken document is reported (up to MaxErrors
// per input) and the good ones are still returned. Each object and error keeps its Source, so an error or a
// finding can point at the file, the document and the line it starts on.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Stdin is the path that reads standard input, and StdinName how its source is shown.
const (
	Stdin     = "-"
	StdinName = "<stdin>"
)

// Limits on one input. kubectl has none, but a CI job must not read unbounded input (a FIFO, /dev/zero, a
// runaway generator) nor let a small input take gigabytes: go-yaml takes about 100 times the size of a document
// to decode it, and a decoded object 30 times the size of the smallest text that declares it. The API server
// stores objects of at most about 3 MiB, so none of these limits rejects an object it would store; a YAML `kind:
// List` of more than MaxDocumentSize (a big `kubectl get -o yaml`) can be split or given as JSON (`-o json`),
// whose values have neither a document nor a line limit.
const (
	// MaxInputSize is the size of a file or standard input.
	MaxInputSize = 32 << 20
	// MaxDocumentSize is the size of a YAML document.
	MaxDocumentSize = 8 << 20
	// MaxLineSize is the length of a line of YAML.
	MaxLineSize = 4 << 20
	// MaxObjects is how many documents (empty ones too) and list items an input may hold.
	MaxObjects = 100_000
	// MaxErrors is how many errors of one input are reported before reading it stops.
	MaxErrors = 100
)

// Extensions are the file name extensions read from directories (a file named explicitly is read whatever its
// name). They are compared case-sensitively, as kubectl does.
var Extensions = []string{".yaml", ".yml", ".json"}

// Source says where an object was read.
type Source struct {
	File string
	// Document is the 1-based index of the document in the file: YAML documents separated by `---` (a separator
	// at the start, or after only comments, opens the first document), or JSON values in a stream.
	Document int
	// Line is the line of the file the document starts on (0 if unknown).
	Line int
	// Items is the 1-based position inside a list (`kind: List` or a typed list); empty outside lists. kubectl
	// reads no list inside a list, so it holds one position.
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

// Read reads every path in order: a file, a directory (recursively, regular files ending in Extensions, in
// lexical order) or Stdin. It reads everything it can and returns the objects with all errors joined, so one run
// reports every broken document and every unreadable or empty input.
func Read(paths []string, stdin io.Reader) ([]Object, error) {
	var (
		objs      []Object
		errs      []error
		stdinRead bool
	)
	decode := func(name string, data []byte, err error) {
		if err == nil {
			var o []Object
			o, err = Decode(name, data)
			objs = append(objs, o...)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range paths {
		if p == Stdin {
			if stdinRead {
				errs = append(errs, errors.New("standard input (-) given more than once"))
				continue
			}
			stdinRead = true
			data, err := readStdin(stdin)
			decode(StdinName, data, err)
			continue
		}
		files, err := Files(p)
		if err != nil {
			errs = append(errs, err)
		}
		for _, f := range files {
			data, err := readFile(f)
			decode(f, data, err)
		}
	}
	return objs, errors.Join(errs...)
}
