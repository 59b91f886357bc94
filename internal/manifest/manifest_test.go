package manifest

import (
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

type decodeTest struct {
	in      string
	want    []summary
	wantErr string // substring of the error; "" means no error
}

// decodeTests are the cases of the first reader; where that reader disagreed with kubectl, the case says so.
// behaviourTests (decode_test.go) add the inputs the first reader got wrong and hostile inputs.
var decodeTests = map[string]decodeTest{
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
		// Changed: the first reader expanded the nested List (Pod "nested", item 3.1). kubectl fails on a list
		// inside a list ("*unstructured.Unstructured is not a list: no Items field in this object").
		want:    []summary{{"f.yaml: document 1, item 1", "policy/v1 PodDisruptionBudget", "web", 1}},
		wantErr: "f.yaml: document 1, item 3: List: a list inside a list, which kubectl cannot read",
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
	// Changed: the first reader returned nothing and no error. kubectl fails ("no objects passed to apply"), and
	// an input that holds nothing is most likely a mistake (a wrong path, a template that rendered nothing).
	"empty input": {
		in:      "",
		wantErr: "f.yaml: no objects found",
	},
	"YAML syntax error names the document and the file's line": {
		in:      deployment + "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n labels: x\n",
		want:    []summary{{"f.yaml: document 1", "apps/v1 Deployment", "web", 1}},
		wantErr: "f.yaml: document 2: invalid YAML: line 12: did not find expected key",
	},
	// Changed: the first reader converted YAML strictly and rejected the duplicated key. kubectl converts with
	// sigs.k8s.io/yaml.YAMLToJSON, not strictly: the last value wins (see "duplicate key: the last value wins").
	"duplicate key": {
		in:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {}\nspec: {replicas: 1}\n",
		want: []summary{{"f.yaml: document 1", "apps/v1 Deployment", "a", 1}},
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
	// Changed: the first reader failed with "invalid JSON" here. After a single JSON value kubectl's decoder
	// falls back to YAML, where `{"apiVersion": }` is a flow mapping without a kind ("Object 'Kind' is missing"
	// in kubectl). A JSON stream ends at a broken value after two values: see "broken JSON stream".
	"broken JSON stream stops at the broken value": {
		in:      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"a\"}}\n{\"apiVersion\": }",
		want:    []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}},
		wantErr: `f.yaml: document 2: not a Kubernetes object: "kind" is missing`,
	},
}

func runDecodeTests(t *testing.T, tests map[string]decodeTest) {
	t.Helper()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs, err := Decode("f.yaml", []byte(tc.in))
			checkDecode(t, tc, objs, err)
		})
	}
}

func checkDecode(t *testing.T, tc decodeTest, objs []Object, err error) {
	t.Helper()
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
	checkErrors(t, "f.yaml", err)
}

func TestDecode(t *testing.T) { runDecodeTests(t, decodeTests) }

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
