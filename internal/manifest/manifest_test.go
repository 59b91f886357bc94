package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// summary is what the tests compare of a decoded object: where it came from, its kind and its name.
type summary struct {
	Source string
	Kind   string
	Name   string
	Line   int
}

func summarize(t *testing.T, objs []Object) []summary {
	t.Helper()
	var out []summary
	for _, o := range objs {
		m, err := meta.Accessor(o.Object)
		if err != nil {
			t.Fatalf("%s: %T has no metadata: %v", o.Source, o.Object, err)
		}
		out = append(out, summary{Source: o.Source.String(), Kind: o.GVK.GroupVersion().String() + " " + o.GVK.Kind, Name: m.GetName(), Line: o.Source.Line})
	}
	return out
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
`

func TestDecode(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []summary
		wantErr string // substring of the error; "" means no error
	}{
		"single document": {
			in:   deployment,
			want: []summary{{"f.yaml: document 1", "apps/v1 Deployment", "web", 1}},
		},
		"multi-document with header comment, leading separator and empty documents": {
			in: "# header\n---\n" + deployment + "---\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n---\n",
			want: []summary{
				{"f.yaml: document 1", "apps/v1 Deployment", "web", 3},
				{"f.yaml: document 4", "v1 ConfigMap", "cm", 14},
			},
		},
		"separator with trailing comment": {
			in: deployment + "--- # second\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
			want: []summary{
				{"f.yaml: document 1", "apps/v1 Deployment", "web", 1},
				{"f.yaml: document 2", "v1 Pod", "p", 9},
			},
		},
		"kind List is expanded": {
			in: `apiVersion: v1
kind: List
items:
- apiVersion: policy/v1
  kind: PodDisruptionBudget
  metadata: {name: web}
- apiVersion: example.com/v1
  kind: Widget
  metadata: {name: ignored}
- apiVersion: v1
  kind: List
  items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: nested}
`,
			want: []summary{
				{"f.yaml: document 1, item 1", "policy/v1 PodDisruptionBudget", "web", 1},
				{"f.yaml: document 1, item 3.1", "v1 Pod", "nested", 1},
			},
		},
		"typed list items take the list's kind": {
			in:   "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- metadata: {name: a}\n- metadata: {name: b}\n",
			want: []summary{{"f.yaml: document 1, item 1", "apps/v1 Deployment", "a", 1}, {"f.yaml: document 1, item 2", "apps/v1 Deployment", "b", 1}},
		},
		"empty list": {
			in: "apiVersion: v1\nkind: List\nitems: []\n",
		},
		"unknown kinds are ignored": {
			in: "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata: {name: c}\n---\n" +
				"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n---\n" + deployment,
			want: []summary{{"f.yaml: document 3", "apps/v1 Deployment", "web", 8}},
		},
		"JSON object": {
			in:   `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}}`,
			want: []summary{{"f.yaml: document 1", "apps/v1 Deployment", "web", 1}},
		},
		"JSON stream": {
			in: "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}\n\n" +
				"{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"b\"}}]}",
			want: []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}, {"f.yaml: document 2, item 1", "v1 Pod", "b", 3}},
		},
		"byte order mark and CRLF": {
			in:   "\xef\xbb\xbf" + strings.ReplaceAll(deployment, "\n", "\r\n") + "---\r\napiVersion: v1\r\nkind: Pod\r\nmetadata: {name: p}\r\n",
			want: []summary{{"f.yaml: document 1", "apps/v1 Deployment", "web", 1}, {"f.yaml: document 2", "v1 Pod", "p", 9}},
		},
		"empty input": {
			in: "",
		},
		"YAML syntax error names the document and the file's line": {
			in:      deployment + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n labels: x\n",
			want:    []summary{{"f.yaml: document 1", "apps/v1 Deployment", "web", 1}},
			wantErr: "f.yaml: document 2: invalid YAML: line 12: did not find expected key",
		},
		"duplicate key": {
			in:      "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {}\nspec: {replicas: 1}\n",
			wantErr: `f.yaml: document 1: invalid YAML: line 5: key "spec" already set in map`,
		},
		"wrong field type": {
			in:      "---\n" + deployment + "---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec: {replicas: three}\n",
			want:    []summary{{"f.yaml: document 1", "apps/v1 Deployment", "web", 2}},
			wantErr: `f.yaml: document 2: Deployment "b": json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`,
		},
		"missing kind": {
			in:      "apiVersion: v1\nmetadata: {name: x}\n",
			wantErr: `f.yaml: document 1: not a Kubernetes object: "kind" is missing`,
		},
		"missing apiVersion": {
			in:      "kind: Pod\n",
			wantErr: `f.yaml: document 1: Pod has no "apiVersion"`,
		},
		"top-level scalar": {
			in:      "just a string\n",
			wantErr: "f.yaml: document 1: expected a Kubernetes object (a mapping with apiVersion and kind), got a string",
		},
		"list item that is not an object": {
			in:      "apiVersion: v1\nkind: List\nitems: [3]\n",
			wantErr: "f.yaml: document 1, item 1: list item is a number, not an object",
		},
		"broken JSON stream stops at the broken value": {
			in:      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}\n{\"apiVersion\": }",
			want:    []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}},
			wantErr: "f.yaml: document 2: invalid JSON",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs, err := Decode("f.yaml", []byte(tc.in))
			if diff := cmp.Diff(tc.want, summarize(t, objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("no error, want %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestDecodeTyped(t *testing.T) {
	objs, err := Decode("f.yaml", []byte(deployment))
	if err != nil {
		t.Fatal(err)
	}
	d, ok := objs[0].Object.(*appsv1.Deployment)
	if !ok {
		t.Fatalf("got %T, want *appsv1.Deployment", objs[0].Object)
	}
	if d.Namespace != "shop" || d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("decoded %s/%s replicas %v, want shop/web replicas 3", d.Namespace, d.Name, d.Spec.Replicas)
	}
}

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

func pod(name string) string { return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n" }

func TestRead(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"b.yaml":            pod("b"),
		"a.yml":             pod("a"),
		"sub/c.json":        `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"c"}}`,
		"sub/deeper/d.YAML": pod("d"),
		"README.md":         "not a manifest",
		"values.txt":        "kind: [",
		"empty/.keep":       "",
		"bad/broken.yaml":   pod("ok") + "---\nkind: [\n",
		"bad/nokind.yaml":   "apiVersion: v1\n",
	})
	rel := func(p string) string { return filepath.Join(dir, p) }
	tests := map[string]struct {
		paths   []string
		stdin   string
		want    []string // Source.File + name
		wantErr []string // substrings of the error
	}{
		"directory: recursive, manifest extensions only, lexical order": {
			paths: []string{rel("sub"), rel("a.yml"), rel("b.yaml")},
			want:  []string{rel("sub/c.json") + " c", rel("sub/deeper/d.YAML") + " d", rel("a.yml") + " a", rel("b.yaml") + " b"},
		},
		"a file named explicitly is read whatever its extension": {
			paths:   []string{rel("values.txt")},
			wantErr: []string{rel("values.txt") + ": document 1: invalid YAML"},
		},
		"stdin": {
			paths: []string{"-", rel("a.yml")},
			stdin: pod("from-stdin") + "---\n" + pod("second"),
			want:  []string{"<stdin> from-stdin", "<stdin> second", rel("a.yml") + " a"},
		},
		"stdin twice": {
			paths:   []string{"-", "-"},
			stdin:   pod("x"),
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
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs, err := Read(tc.paths, strings.NewReader(tc.stdin))
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
		})
	}
}

func TestSourceString(t *testing.T) {
	tests := map[string]struct {
		src  Source
		want string
	}{
		"document": {Source{File: "a.yaml", Document: 2, Line: 7}, "a.yaml: document 2"},
		"item":     {Source{File: "a.yaml", Document: 1, Items: []int{3}}, "a.yaml: document 1, item 3"},
		"nested":   {Source{File: "-", Document: 1, Items: []int{3, 1}}, "-: document 1, item 3.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.src.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzDecode checks that no input makes the reader panic, and that every object it returns is a typed object
// with a source inside the input.
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
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode("fuzz.yaml", data)
		for _, o := range objs {
			if o.Object == nil || o.GVK.Kind == "" {
				t.Fatalf("%s: object without type: %#v", o.Source, o)
			}
			if o.Source.Document < 1 {
				t.Fatalf("%s: document index %d < 1", o.Source, o.Source.Document)
			}
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml: document ") {
			t.Fatalf("error does not name the file and document: %v", err)
		}
	})
}
