package mutate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// TestDecodePodMatchesAdmissionDecoder: decodePod accepts and rejects what controller-runtime's admission decoder
// (the scheme's universal deserializer) does, and decodes the same pod.
func TestDecodePodMatchesAdmissionDecoder(t *testing.T) {
	inputs := []string{
		`null`, `{}`, `[]`, `"x"`, `{"kind":"Pod"}`, `{"apiVersion":"v1"}`, `{"apiVersion":"v1","kind":"Pod"}`,
		`{"apiVersion":"v2","kind":"Pod"}`, `{"apiVersion":"apps/v1","kind":"Deployment"}`, `{"kind":"Deployment"}`,
		`{"apiVersion":"v1","kind":""}`, `{"apiVersion":"v1","kind":"Pod"} x`,
		`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","ports":[{"containerPort":"80"}]}]}}`,
		`{"apiVersion":"v1","kind":"Pod","spec":{"Containers":[{"name":"a"}]}}`,
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "handler", "*.pod.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	old := admission.NewDecoder(testScheme(t))
	for _, in := range inputs {
		want, got := &corev1.Pod{}, &corev1.Pod{}
		wantErr := old.DecodeRaw(runtime.RawExtension{Raw: []byte(in)}, want)
		gotErr := decodePod([]byte(in), got)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%.80s: error %v, admission decoder's %v", in, gotErr, wantErr)
			continue
		}
		if wantErr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%.80s: decoded pods differ (-admission decoder +decodePod):\n%s", in, diff)
			}
		}
	}
	if err := decodePod(nil, &corev1.Pod{}); err == nil {
		t.Error("no content decoded without error")
	}
}
