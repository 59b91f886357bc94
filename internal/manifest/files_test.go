package manifest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type readTest struct {
	paths   []string
	stdin   io.Reader // nil: an empty reader
	want    []string  // Source.File + name
	wantErr []string  // substrings of the error
}

// runRead reads tc.paths (within a time bound: reading must never wait on a pipe or a device) and checks.
func runRead(t *testing.T, tc readTest) {
	t.Helper()
	if tc.stdin == nil {
		tc.stdin = strings.NewReader("")
	}
	var objs []Object
	var err error
	quickly(t, func() { objs, err = Read(tc.paths, tc.stdin) })
	var got []string
	for _, o := range objs {
		m, _ := meta.Accessor(o.Object)
		got = append(got, o.Source.File+" "+m.GetName())
	}
	if diff := cmp.Diff(tc.want, got); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	if len(tc.wantErr) == 0 && err != nil {
		t.Errorf("unexpected error: %v", err)
	}
	if len(tc.wantErr) > 0 && err == nil {
		t.Fatalf("no error, want %q", tc.wantErr)
	}
	for _, want := range tc.wantErr {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// readFiles is the tree TestRead reads.
var readFiles = map[string]string{
	"b.yaml":            pod("b"),
	"a.yml":             pod("a"),
	"sub/c.json":        `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c"}}`,
	"sub/deeper/d.YAML": pod("d"),
	"sub/deeper/e.yaml": pod("e"),
	"README.md":         "not a manifest",
	"values.txt":        "kind: [",
	"empty/.keep":       "",
	"bad/broken.yaml":   pod("ok") + "---\nkind: [\n",
	"bad/nokind.yaml":   "apiVersion: v1\n",
	"blank/a.yaml":      pod("a"),
	"blank/b.yaml":      "# nothing rendered\n---\n",
}

func TestRead(t *testing.T) {
	dir := writeFiles(t, readFiles)
	rel := func(p string) string { return filepath.Join(dir, p) }
	tests := map[string]readTest{
		// Changed: the first reader compared extensions case-insensitively and read d.YAML; kubectl compares
		// them case-sensitively (resource.ignoreFile) and skips it.
		"directory: recursive, manifest extensions only, lexical order": {
			paths: []string{rel("sub"), rel("a.yml"), rel("b.yaml")},
			want:  []string{rel("sub/c.json") + " c", rel("sub/deeper/e.yaml") + " e", rel("a.yml") + " a", rel("b.yaml") + " b"},
		},
		"a file named explicitly is read whatever its extension": {
			paths:   []string{rel("values.txt")},
			wantErr: []string{rel("values.txt") + ": document 1: invalid YAML"},
		},
		"stdin": {
			paths: []string{"-", rel("a.yml")},
			stdin: strings.NewReader(pod("from-stdin") + "---\n" + pod("second")),
			want:  []string{"<stdin> from-stdin", "<stdin> second", rel("a.yml") + " a"},
		},
		"stdin twice": {
			paths:   []string{"-", "-"},
			stdin:   strings.NewReader(pod("x")),
			want:    []string{"<stdin> x"},
			wantErr: []string{"standard input (-) given more than once"},
		},
		"every broken document is reported, the good ones are still read": {
			paths: []string{rel("bad")},
			want:  []string{rel("bad/broken.yaml") + " ok"},
			wantErr: []string{
				rel("bad/broken.yaml") + ": document 2: invalid YAML: line 6:",
				rel("bad/nokind.yaml") + `: document 1: not a Kubernetes object: "kind" is missing`,
			},
		},
		"missing path": {
			paths:   []string{rel("nope.yaml")},
			wantErr: []string{rel("nope.yaml") + ": no such file or directory"},
		},
		"directory without manifests": {
			paths:   []string{rel("empty")},
			wantErr: []string{rel("empty") + ": no .yaml, .yml, .json files in this directory"},
		},
		"a file without objects in a directory": {
			paths:   []string{rel("blank")},
			want:    []string{rel("blank/a.yaml") + " a"},
			wantErr: []string{rel("blank/b.yaml") + ": no objects found"},
		},
		"empty stdin":   {paths: []string{"-"}, wantErr: []string{"<stdin>: no objects found"}},
		"stdin too big": {paths: []string{"-"}, stdin: io.LimitReader(zeros{}, MaxInputSize+1), wantErr: []string{"<stdin>: larger than 32 MiB"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) { runRead(t, tc) })
	}
}

// zeros is an endless input, like /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestReadNilStdin(t *testing.T) {
	if _, err := Read([]string{"-"}, nil); err == nil || err.Error() != "<stdin>: no objects found: the input is empty or holds only comments and document separators" {
		t.Errorf("got %v, want no objects found", err)
	}
}

func TestReadEndlessStdin(t *testing.T) {
	runRead(t, readTest{paths: []string{"-"}, stdin: zeros{}, wantErr: []string{"<stdin>: larger than 32 MiB, the limit for one input"}})
}

func TestReadFileOverTheLimit(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"big.yaml":   pod("big") + "# " + strings.Repeat("x", MaxInputSize) + "\n",
		"small.yaml": pod("small"),
	})
	runRead(t, readTest{
		paths:   []string{dir},
		want:    []string{filepath.Join(dir, "small.yaml") + " small"},
		wantErr: []string{filepath.Join(dir, "big.yaml") + ": larger than 32 MiB, the limit for one input"},
	})
}
