package admission

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// FuzzHandle sends arbitrary bytes as the pod of a CREATE: the handler must never panic, and must answer either an
// error (4xx/5xx, not allowed) or an allowed response whose patch only touches what the webhook owns and applies to
// the raw object.
func FuzzHandle(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "pod", "*.pod.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"pod"`, `{"kind":"Pod"}`, `{"apiVersion":"v1","kind":"Pod"}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{"containers":[{"name":"a","ports":[{"containerPort":80}]}]}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":null},"spec":{"containers":[{"name":"a","ports":[{"containerPort":80}],"lifecycle":null}],"terminationGracePeriodSeconds":null}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{"containers":[{"name":"a","ports":[{"containerPort":"80"}]}]}}`,
		`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{},"spec":{}}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{},"spec":{"containers":[{"name":"a","ports":[{"containerPort":80}]}]`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw []byte, mode uint8) {
		m := policy.ModeEnforce
		if mode&1 != 0 {
			m = policy.ModeAudit
		}
		h := NewPodHandler(func() mutate.Options { return fuzzOptions(mode>>1, mode&8 != 0) }, fixedMode(m), &mutationCounter{})
		req := podRequest(t, admissionv1.Create, "Pod", "", []byte("{}"))
		req.Object.Raw = raw
		resp := Bound(h.Handle(context.Background(), req))
		if err := resp.Complete(req); err != nil {
			t.Fatalf("Complete: %v", err)
		}
		if resp.Result == nil {
			t.Fatalf("no result: %+v", resp)
		}
		if !resp.Allowed {
			if c := resp.Result.Code; c != http.StatusBadRequest && c != http.StatusInternalServerError {
				t.Fatalf("denied with code %d: %s", c, resp.Result.Message)
			}
			if len(resp.Patch) > 0 {
				t.Fatalf("denied response with a patch")
			}
			return
		}
		if m == policy.ModeAudit && len(resp.Patch) > 0 {
			t.Fatalf("audit mode patched: %s", resp.Patch)
		}
		if len(resp.Warnings) > MaxWarnings {
			t.Errorf("%d warnings", len(resp.Warnings))
		}
		for _, w := range resp.Warnings {
			if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
				t.Errorf("warning of %d characters: %q", n, w)
			}
		}
		checkPatch(t, decodeOps(t, resp.Patch))
		// An object the API server sends always has metadata and spec objects; on such an object the patch applies.
		var doc map[string]json.RawMessage
		if len(resp.Patch) > 0 && json.Unmarshal(raw, &doc) == nil && isObject(doc["metadata"]) && isObject(doc["spec"]) {
			applyPatch(t, raw, resp.Patch)
		}
	})
}

func isObject(b json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}
