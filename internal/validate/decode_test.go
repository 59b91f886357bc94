package validate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// TestDecodeDeploymentMatchesAdmissionDecoder: decodeDeployment accepts and rejects what controller-runtime's
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
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	old := admission.NewDecoder(s)
	for _, in := range inputs {
		want, got := &appsv1.Deployment{}, &appsv1.Deployment{}
		wantErr := old.DecodeRaw(runtime.RawExtension{Raw: []byte(in)}, want)
		gotErr := decodeDeployment([]byte(in), got)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%.80s: error %v, admission decoder's %v", in, gotErr, wantErr)
			continue
		}
		if wantErr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%.80s: decoded Deployments differ (-admission decoder +decodeDeployment):\n%s", in, diff)
			}
		}
	}
	if err := decodeDeployment(nil, &appsv1.Deployment{}); err == nil {
		t.Error("no content decoded without error")
	}
}
