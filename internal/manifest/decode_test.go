package manifest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/text/encoding/unicode"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

func pod(name string) string { return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n" }

func jsonPod(name string) string {
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"}}`
}

func utf16(s string) string {
	out, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().String(s)
	if err != nil {
		panic(err)
	}
	return out
}

// behaviourTests are inputs the first reader (strict YAML, its own splitting) read differently from kubectl,
// each with what kubectl does, and cases of kubectl's rules.
var behaviourTests = map[string]decodeTest{
	// First reader: `key "metadata" already set in map`. kubectl: the last value wins.
	"duplicate key: the last value wins": {
		in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nmetadata: {name: b}\n",
		want: []summary{{"f.yaml: document 1", "v1 Pod", "b", 1}},
	},
	// First reader: "invalid JSON" (a stream starting with "{" was JSON). kubectl: after the JSON decoder fails
	// on the first value, the stream is YAML.
	"YAML flow mapping starting with {": {
		in:   "{apiVersion: v1, kind: Pod, metadata: {name: a}}\n---\n" + pod("b"),
		want: []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}, {"f.yaml: document 2", "v1 Pod", "b", 3}},
	},
	// First reader: "invalid JSON" at the separator. kubectl: YAML after one JSON value, so --- separates.
	"JSON values separated by ---": {
		in:   jsonPod("a") + "\n---\n" + jsonPod("b") + "\n",
		want: []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}, {"f.yaml: document 2", "v1 Pod", "b", 3}},
	},
	"JSON value then YAML": {
		in:   jsonPod("a") + "\n" + pod("b"),
		want: []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}, {"f.yaml: document 2", "v1 Pod", "b", 2}},
	},
	// After two values the stream is JSON for kubectl too, and a broken value ends it.
	"broken JSON stream": {
		in:      jsonPod("a") + "\n" + jsonPod("b") + "\n{\"apiVersion\": }\n" + jsonPod("c"),
		want:    []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}, {"f.yaml: document 2", "v1 Pod", "b", 2}},
		wantErr: "f.yaml: document 3: invalid JSON: line 3: invalid character '}' looking for beginning of value",
	},
	// First reader: an inline document, read. kubectl: "invalid Yaml document separator"; YAMLReader drops the
	// document it was reading, then goes on after the line.
	"inline document after ---": {
		in:      pod("a") + "--- {apiVersion: v1, kind: Pod, metadata: {name: b}}\n---\n" + pod("c"),
		want:    []summary{{"f.yaml: document 3", "v1 Pod", "c", 7}},
		wantErr: `f.yaml: document 1: invalid YAML: line 5: invalid document separator "--- {apiVersion: v1, kind: Pod, metadata: {name: b}}": only a comment may follow ---`,
	},
	// First reader: "----" was a line of the document, which failed as one. kubectl: an invalid separator.
	"---- is not a separator": {
		in:      pod("a") + "----\n" + pod("b"),
		want:    []summary{{"f.yaml: document 2", "v1 Pod", "b", 6}},
		wantErr: `f.yaml: document 1: invalid YAML: line 5: invalid document separator "----"`,
	},
	// First reader: document 1 only: its splitting did not see the UTF-16 separator, and go-yaml (which reads
	// UTF-16 itself) reads the first document of a text. kubectl reads files through a BOM-aware decoder.
	"UTF-16 with a byte order mark": {
		in:   utf16(pod("a") + "---\r\n" + pod("b")),
		want: []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}, {"f.yaml: document 2", "v1 Pod", "b", 6}},
	},
	// First reader: "invalid leading UTF-8 octet". kubectl's decoder makes invalid UTF-8 U+FFFD.
	"invalid UTF-8": {
		in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: a, labels: {x: \"\xff\"}}\n",
		want: []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}},
	},
	// First reader: a ConfigMap (kind does not end in List). kubectl's unstructured decoder takes any object with
	// items for a list and applies the items.
	"object with items is a list": {
		in:   "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nitems:\n- " + jsonPod("a") + "\n",
		want: []summary{{"f.yaml: document 1, item 1", "v1 Pod", "a", 1}},
	},
	// First reader: apiVersion filled in. kubectl fills apiVersion and kind only when both are missing.
	"typed list item with a kind but no apiVersion": {
		in:      "apiVersion: apps/v1\nkind: DeploymentList\nitems:\n- {kind: Deployment, metadata: {name: a}}\n",
		wantErr: `f.yaml: document 1, item 1: Deployment has no "apiVersion"`,
	},
	"repeated separators are empty documents": {
		in:   "---\n---\n" + pod("a") + "---\n---\n" + pod("b"),
		want: []summary{{"f.yaml: document 2", "v1 Pod", "a", 3}, {"f.yaml: document 4", "v1 Pod", "b", 9}},
	},
	"YAML error line in a document opened by ---": {
		in:      "---\n" + pod("a") + "---\nkind: [\n",
		want:    []summary{{"f.yaml: document 1", "v1 Pod", "a", 2}},
		wantErr: "f.yaml: document 2: invalid YAML: line 7: did not find expected node content",
	},
	"a document that is just ---":  {in: "---", wantErr: "f.yaml: no objects found"},
	"only separators and comments": {in: "# c\n---\n---\n# d\n", wantErr: "f.yaml: no objects found"},
	"only white space":             {in: " \n\n  \r\n", wantErr: "f.yaml: no objects found"},
	// A tab cannot start a YAML token: kubectl fails too.
	"a tab":             {in: "\t\n", wantErr: "f.yaml: document 1: invalid YAML: found character that cannot start any token"},
	"null":              {in: "null\n", wantErr: "f.yaml: no objects found"},
	"empty JSON object": {in: "{}", wantErr: `f.yaml: document 1: not a Kubernetes object: "kind" is missing`},
}

func TestDecodeLikeKubectl(t *testing.T) { runDecodeTests(t, behaviourTests) }

// The first reader rejected this file (duplicated spec); kubectl applies the last spec.
func TestDuplicateKeyLastWins(t *testing.T) {
	objs, err := Decode("f.yaml", []byte(decodeTests["duplicate key"].in))
	if err != nil || len(objs) != 1 {
		t.Fatalf("got %d objects, error %v; want 1", len(objs), err)
	}
	if d := objs[0].Object.(*appsv1.Deployment); d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1 (the last spec)", d.Spec.Replicas)
	}
}

// quickly runs f, failing the test if it takes longer than a generous bound (the race detector is slow).
func quickly(t *testing.T, f func()) {
	t.Helper()
	const bound = 30 * time.Second
	done := make(chan struct{})
	start := time.Now()
	go func() { defer close(done); f() }()
	select {
	case <-done:
		t.Logf("took %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(bound):
		t.Fatalf("still running after %v", bound)
	}
}

func billionLaughs(levels, width int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\nbomb:\n  l0: &l0 lol\n")
	for i := 1; i <= levels; i++ {
		b.WriteString("  l" + string(rune('0'+i)) + ": &l" + string(rune('0'+i)) + " [")
		for j := range width {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*l" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// hostileTests must all fail (or, for a bounded alias expansion, succeed) quickly, without a panic. A function:
// its large inputs are only made for the tests that use them.
func hostileTests() map[string]decodeTest {
	return map[string]decodeTest{
		"long JSON line is no YAML line": {
			in:   `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","annotations":{"x":"` + strings.Repeat("x", MaxLineSize+1) + `"}}}`,
			want: []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}},
		},
		"input over the limit": {in: strings.Repeat("#", MaxInputSize+1), wantErr: "f.yaml: larger than 32 MiB, the limit for one input"},
		"huge single line":     {in: "a: " + strings.Repeat("x", 40<<20), wantErr: "f.yaml: larger than 32 MiB"},
		"long YAML line": {
			in:      pod("a") + "---\n" + pod("b") + "  labels: {x: " + strings.Repeat("x", MaxLineSize) + "}\n",
			want:    []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}},
			wantErr: "f.yaml: document 2: line 10: longer than 4 MiB, the limit for one line of YAML",
		},
		"deep YAML nesting":  {in: strings.Repeat("[", 100000), wantErr: "f.yaml: document 1: invalid YAML: exceeded max depth of 10000"},
		"deep block nesting": {in: strings.Repeat("- ", 20000) + "x\n", wantErr: "f.yaml: document 1: invalid YAML: exceeded max depth of 10000"},
		"deep JSON nesting":  {in: strings.Repeat(`{"a":`, 100000), wantErr: "f.yaml: document 1: invalid JSON: line 1: invalid character '{' exceeded max depth"},
		"billion laughs":     {in: billionLaughs(9, 9), wantErr: "f.yaml: document 1: invalid YAML: document contains excessive aliasing"},
		"bounded alias bomb": {in: billionLaughs(3, 10), want: []summary{{"f.yaml: document 1", "v1 ConfigMap", "lol", 1}}},
		"alias to itself":    {in: "a: &a [*a]\n", wantErr: "f.yaml: document 1: invalid YAML: anchor 'a' value contains itself"},
		"binary":             {in: "\x00\x01\x02\x03\xfe\xff", wantErr: "f.yaml: document 1: invalid YAML"},
		"many separators":    {in: strings.Repeat("---\n", 1<<20), wantErr: "f.yaml: more than 100000 documents and list items: stopped reading"},
		"many list items": {
			in:      `{"apiVersion":"v1","kind":"List","items":[` + strings.Repeat(`{},`, MaxObjects) + `{}]}`,
			wantErr: "f.yaml: document 1: a list of 100001 items: more than 100000 documents and list items in one input",
		},
		"large YAML document": {
			in:      pod("a") + "---\n" + pod("b") + "  labels:\n" + strings.Repeat("    k: "+strings.Repeat("v", 1<<20)+"\n", 9),
			want:    []summary{{"f.yaml: document 1", "v1 Pod", "a", 1}},
			wantErr: "f.yaml: document 2: larger than 8 MiB, the limit for one YAML document (split it, or give it as JSON)",
		},
		"many broken documents": {in: strings.Repeat("kind: [\n---\n", 1000), wantErr: "f.yaml: more than 100 errors: stopped reading"},
	}
}

func TestHostile(t *testing.T) {
	for name, tc := range hostileTests() {
		t.Run(name, func(t *testing.T) {
			var objs []Object
			var err error
			quickly(t, func() { objs, err = Decode("f.yaml", []byte(tc.in)) })
			checkDecode(t, tc, objs, err)
		})
	}
}

func TestTooManyErrors(t *testing.T) {
	_, err := Decode("f.yaml", []byte(strings.Repeat("kind: [\n---\n", 1000)))
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != MaxErrors+1 {
		t.Fatalf("got %v, want %d errors and a last one", err, MaxErrors)
	}
}

// util/yaml (so kubectl) drops a last line without a newline whose length is a multiple of 4096 bytes (bufio's
// buffer): the Pod is read without its labels, as kubectl would apply it, and the line count stays right.
func TestLastLineKubectlDrops(t *testing.T) {
	line := "  labels: {x: " + strings.Repeat("y", 4096-len("  labels: {x: ")-1) + "}"
	in := pod("a") + "---\n" + pod("b") + line
	checkLikeKubectl(t, []byte(in))
	objs, err := Decode("f.yaml", []byte(in))
	if diff := cmp.Diff([]summary{{"f.yaml: document 1", "v1 Pod", "a", 1}, {"f.yaml: document 2", "v1 Pod", "b", 6}}, summarize(t, objs)); diff != "" || err != nil {
		t.Fatalf("error %v, objects (-want +got):\n%s", err, diff)
	}
	if labels := objs[1].Object.(*corev1.Pod).Labels; len(labels) != 0 {
		t.Errorf("labels %v, want none (kubectl drops the line)", labels)
	}
}
