package admission

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// TestDecodePodMatchesAdmissionDecoder: decode accepts and rejects what controller-runtime's admission decoder
// (the scheme's universal deserializer) does, and decodes the same pod.
func TestDecodePodMatchesAdmissionDecoder(t *testing.T) {
	inputs := []string{
		`null`, `{}`, `[]`, `"x"`, `{"kind":"Pod"}`, `{"apiVersion":"v1"}`, `{"apiVersion":"v1","kind":"Pod"}`,
		`{"apiVersion":"v2","kind":"Pod"}`, `{"apiVersion":"apps/v1","kind":"Deployment"}`, `{"kind":"Deployment"}`,
		`{"apiVersion":"v1","kind":""}`, `{"apiVersion":"v1","kind":"Pod"} x`,
		`{"apiVersion":"v1","kind":"Pod","spec":{"containers":[{"name":"a","ports":[{"containerPort":"80"}]}]}}`,
		`{"apiVersion":"v1","kind":"Pod","spec":{"Containers":[{"name":"a"}]}}`,
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "pod", "*.pod.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(b))
	}
	old := cradmission.NewDecoder(testScheme(t))
	for _, in := range inputs {
		want, got := &corev1.Pod{}, &corev1.Pod{}
		wantErr := old.DecodeRaw(runtime.RawExtension{Raw: []byte(in)}, want)
		gotErr := decode([]byte(in), got, podKind)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%.80s: error %v, admission decoder's %v", in, gotErr, wantErr)
			continue
		}
		if wantErr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%.80s: decoded pods differ (-admission decoder +decode):\n%s", in, diff)
			}
		}
	}
	if err := decode(nil, &corev1.Pod{}, podKind); err == nil {
		t.Error("no content decoded without error")
	}
}

// TestDecodeDeploymentMatchesAdmissionDecoder: decode accepts and rejects what controller-runtime's
// admission decoder (the scheme's universal deserializer) does, and decodes the same Deployment.
func TestDecodeDeploymentMatchesAdmissionDecoder(t *testing.T) {
	inputs := []string{
		`null`, `{}`, `[]`, `"x"`, `{"kind":"Deployment"}`, `{"apiVersion":"apps/v1"}`, `{"apiVersion":"apps/v1","kind":"Deployment"}`,
		`{"apiVersion":"apps/v1beta2","kind":"Deployment"}`, `{"apiVersion":"extensions/v1beta1","kind":"Deployment"}`,
		`{"apiVersion":"apps/v1","kind":"StatefulSet"}`, `{"apiVersion":"v1","kind":"Pod"}`, `{"kind":"Pod"}`, `{"apiVersion":"v1"}`,
		`{"apiVersion":"apps/v1","kind":""}`, `{"apiVersion":"apps/v1","kind":"Deployment"} x`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":"3"}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},"spec":{"replicas":3,"Paused":true}}`,
	}
	old := cradmission.NewDecoder(testScheme(t))
	for _, in := range inputs {
		want, got := &appsv1.Deployment{}, &appsv1.Deployment{}
		wantErr := old.DecodeRaw(runtime.RawExtension{Raw: []byte(in)}, want)
		gotErr := decode([]byte(in), got, deploymentKind)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%.80s: error %v, admission decoder's %v", in, gotErr, wantErr)
			continue
		}
		if wantErr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%.80s: decoded Deployments differ (-admission decoder +decode):\n%s", in, diff)
			}
		}
	}
	if err := decode(nil, &appsv1.Deployment{}, deploymentKind); err == nil {
		t.Error("no content decoded without error")
	}
}

// testScheme is the scheme controller-runtime's admission decoder would decode the built-in types with.
func testScheme(t testing.TB) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
