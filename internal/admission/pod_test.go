package admission

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/google/go-cmp/cmp"
	admissionv1 "k8s.io/api/admission/v1"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// mutationCounter is a Recorder that counts mutations by field and mode.
type mutationCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (r *mutationCounter) Mutated(field string, mode policy.Mode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[field+"/"+string(mode)]++
}

func (r *mutationCounter) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.counts {
		out[k] = v
	}
	return out
}

func fixedMode(m policy.Mode) ModeLookup {
	return func(context.Context, string) (policy.Mode, error) { return m, nil }
}

func newTestHandler(t testing.TB, opts mutate.Options, mode ModeLookup) (*PodHandler, *mutationCounter) {
	t.Helper()
	rec := &mutationCounter{}
	return NewPodHandler(func() mutate.Options { return opts }, mode, rec), rec
}

// podRequest builds the admission request the API server would send, from its JSON form, around raw.
func podRequest(t testing.TB, op admissionv1.Operation, kind, subResource string, raw []byte) cradmission.Request {
	t.Helper()
	object := "null"
	if raw != nil {
		object = string(raw)
	}
	review := fmt.Sprintf(`{
		"uid": "0b6f8f0e-5a3c-4a4e-9d2e-3f1c2a6b7c8d",
		"kind": {"group": "", "version": "v1", "kind": %q},
		"resource": {"group": "", "version": "v1", "resource": "pods"},
		"subResource": %q,
		"requestKind": {"group": "", "version": "v1", "kind": %q},
		"namespace": "shop",
		"operation": %q,
		"userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
		"object": %s,
		"dryRun": false
	}`, kind, subResource, kind, op, object)
	var req cradmission.Request
	if err := json.Unmarshal([]byte(review), &req.AdmissionRequest); err != nil {
		t.Fatalf("building the request: %v", err)
	}
	return req
}

// handle runs h, completes the response and bounds it as the webhook server does, so that resp.Patch holds the JSON
// patch and the warnings are those the API server receives.
func handle(t testing.TB, h *PodHandler, req cradmission.Request) cradmission.Response {
	t.Helper()
	resp := Bound(h.Handle(context.Background(), req))
	if err := resp.Complete(req); err != nil {
		t.Fatalf("completing the response: %v", err)
	}
	return resp
}

// ownedPath matches the paths the webhook may write; the second group says whether a replace is allowed there.
var ownedPaths = []*regexp.Regexp{
	regexp.MustCompile(`^/metadata/annotations$`),
	regexp.MustCompile(`^/metadata/annotations/ha-webhook\.io~1injected$`),
	regexp.MustCompile(`^/spec/containers/\d+/readinessProbe$`),
	regexp.MustCompile(`^/spec/containers/\d+/lifecycle$`),
	regexp.MustCompile(`^/spec/containers/\d+/lifecycle/preStop$`),
	regexp.MustCompile(`^/spec/terminationGracePeriodSeconds$`),
}

// replaceable are the only paths holding a value the webhook may overwrite: the grace period it raises and its own
// record.
var replaceable = regexp.MustCompile(`^(/spec/terminationGracePeriodSeconds|/metadata/annotations/ha-webhook\.io~1injected)$`)

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// checkPatch asserts the patch only adds fields the webhook owns, never removes, and replaces only its own.
func checkPatch(t testing.TB, ops []patchOp) {
	t.Helper()
	for _, op := range ops {
		owned := false
		for _, re := range ownedPaths {
			owned = owned || re.MatchString(op.Path)
		}
		switch {
		case !owned:
			t.Errorf("patch touches %s, a path the webhook does not own: %+v", op.Path, op)
		case op.Op == "add":
		case op.Op == "replace" && replaceable.MatchString(op.Path):
		default:
			t.Errorf("patch op %q on %s not allowed: %+v", op.Op, op.Path, op)
		}
	}
}

func decodeOps(t testing.TB, patch []byte) []patchOp {
	t.Helper()
	if len(patch) == 0 {
		return nil
	}
	var ops []patchOp
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatalf("decoding the patch %s: %v", patch, err)
	}
	// The diff walks maps in random order: sort for a stable golden file. No two ops here touch nested paths.
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	return ops
}

// applyPatch applies the response's patch to the raw request object, as the API server does.
func applyPatch(t testing.TB, raw, patch []byte) []byte {
	t.Helper()
	if len(patch) == 0 {
		return raw
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("decoding the patch: %v", err)
	}
	out, err := p.Apply(raw)
	if err != nil {
		t.Fatalf("applying the patch %s to the raw object: %v", patch, err)
	}
	return out
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

var handlerCases = map[string]struct {
	opts func(*mutate.Options)
	// wantNoPatch: the pod is skipped or needs nothing.
	wantNoPatch bool
	// wantCounts is what the Recorder sees, by "field/mode".
	wantCounts map[string]int
}{
	"basic": {
		wantCounts: map[string]int{"readinessProbe/enforce": 1, "preStop/enforce": 1, "terminationGracePeriodSeconds/enforce": 1},
	},
	"unknown-fields": {
		wantCounts: map[string]int{"readinessProbe/enforce": 1, "preStop/enforce": 1, "terminationGracePeriodSeconds/enforce": 1},
	},
	"overrides-exec": {
		opts:       func(o *mutate.Options) { o.PreStopMode = mutate.PreStopExec },
		wantCounts: map[string]int{"readinessProbe/enforce": 1, "preStop/enforce": 2, "terminationGracePeriodSeconds/enforce": 1},
	},
	"reinvocation": {
		wantCounts: map[string]int{"readinessProbe/enforce": 1, "preStop/enforce": 1},
	},
	"invalid-overrides": {
		wantCounts: map[string]int{"readinessProbe/enforce": 1, "preStop/enforce": 1, "terminationGracePeriodSeconds/enforce": 1},
	},
	"job": {wantNoPatch: true, wantCounts: map[string]int{}},
}

// TestHandlerGolden sends hand-written pods through the admission adapter and compares the JSON patch and warnings
// with testdata/handler/NAME.golden.json. It then applies the patch to the raw pod as the API server would, checks
// that nothing but owned fields changed, and that a second pass yields no patch.
func TestHandlerGolden(t *testing.T) {
	for name, tc := range handlerCases {
		t.Run(name, func(t *testing.T) {
			opts := testOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			h, rec := newTestHandler(t, opts, fixedMode(policy.ModeEnforce))
			raw := readFile(t, filepath.Join("testdata", "pod", name+".pod.json"))

			resp := handle(t, h, podRequest(t, admissionv1.Create, "Pod", "", raw))
			if !resp.Allowed {
				t.Fatalf("not allowed: %+v", resp.Result)
			}
			ops := decodeOps(t, resp.Patch)
			var out bytes.Buffer
			enc := json.NewEncoder(&out)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(struct {
				Patch    []patchOp `json:"patch"`
				Warnings []string  `json:"warnings"`
			}{ops, resp.Warnings}); err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata", "pod", name+".golden.json"), out.Bytes())

			if tc.wantNoPatch != (len(ops) == 0) {
				t.Errorf("patch has %d ops, want no patch: %v", len(ops), tc.wantNoPatch)
			}
			if (resp.PatchType != nil) != (len(ops) > 0) {
				t.Errorf("PatchType = %v with %d ops", resp.PatchType, len(ops))
			}
			checkPatch(t, ops)
			for _, w := range resp.Warnings {
				if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
					t.Errorf("warning of %d characters: %q", n, w)
				}
			}
			if diff := cmp.Diff(tc.wantCounts, rec.snapshot()); diff != "" {
				t.Errorf("recorded mutations mismatch (-want +got):\n%s", diff)
			}

			patched := applyPatch(t, raw, resp.Patch)
			checkOnlyOwnedChanged(t, raw, patched)

			// Idempotence over HTTP: the patched pod gets no further patch.
			again := handle(t, h, podRequest(t, admissionv1.Create, "Pod", "", patched))
			if !again.Allowed || len(again.Patches) > 0 || len(again.Patch) > 0 {
				t.Errorf("second pass: allowed=%v patch=%s, want allowed without patch", again.Allowed, again.Patch)
			}
		})
	}
}

// checkOnlyOwnedChanged compares the raw pod before and after the patch with the owned fields the webhook added
// taken out of the result (and the two it may replace taken out of both): what remains must be identical, which
// covers unknown fields and non-canonical quantities.
func checkOnlyOwnedChanged(t testing.TB, before, after []byte) {
	t.Helper()
	var b, a map[string]any
	if err := json.Unmarshal(before, &b); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(after, &a); err != nil {
		t.Fatal(err)
	}
	for _, doc := range []map[string]any{b, a} {
		if spec, ok := doc["spec"].(map[string]any); ok {
			delete(spec, "terminationGracePeriodSeconds")
		}
		if meta, ok := doc["metadata"].(map[string]any); ok {
			if ann, ok := meta["annotations"].(map[string]any); ok {
				delete(ann, names.AnnotationInjected)
				if len(ann) == 0 {
					delete(meta, "annotations")
				}
			}
		}
	}
	bContainers, _ := b["spec"].(map[string]any)["containers"].([]any)
	aContainers, _ := a["spec"].(map[string]any)["containers"].([]any)
	if len(aContainers) != len(bContainers) {
		t.Fatalf("containers: %d before, %d after", len(bContainers), len(aContainers))
	}
	for i := range aContainers {
		bc, ac := bContainers[i].(map[string]any), aContainers[i].(map[string]any)
		if _, ok := bc["readinessProbe"]; !ok {
			delete(ac, "readinessProbe")
		}
		bl, _ := bc["lifecycle"].(map[string]any)
		if _, ok := bl["preStop"]; !ok {
			if al, ok := ac["lifecycle"].(map[string]any); ok {
				delete(al, "preStop")
				if len(al) == 0 && bl == nil {
					delete(ac, "lifecycle")
				}
			}
		}
	}
	if diff := cmp.Diff(b, a); diff != "" {
		t.Errorf("the patch changed fields the webhook does not own (-before +after):\n%s", diff)
	}
}

// TestHandlerKeepsUnknownFields spells out what checkOnlyOwnedChanged covers for the pod written with fields
// newer than k8s.io/api v0.37 and quantities in non-canonical form.
func TestHandlerKeepsUnknownFields(t *testing.T) {
	h, _ := newTestHandler(t, testOptions(), fixedMode(policy.ModeEnforce))
	raw := readFile(t, filepath.Join("testdata", "pod", "unknown-fields.pod.json"))
	resp := handle(t, h, podRequest(t, admissionv1.Create, "Pod", "", raw))
	if len(resp.Patch) == 0 {
		t.Fatal("no patch: the case must mutate the pod")
	}
	patched := applyPatch(t, raw, resp.Patch)
	for _, want := range []string{
		`"futureField":{"list":[1,2,3],"mode":"fast"}`,
		`"futureContainerField":"keep-me"`,
		`"futurePortField":true`,
		`"futureMetadataField":{"keep":"me"}`,
		`"futureHook":{"sleep":{"seconds":3}}`,
		`"futureStatusField":1`,
		`"cpu":"1000m"`,
		`"memory":"1024Mi"`,
		`"ephemeral-storage":"1e9"`,
		`"cpu":"2.0"`,
		`"cpu":"0.1"`,
		`"example.com/a~b":"tilde and slash in the key"`,
		`"postStart":{"exec":{"command":["/bin/warm-up"]}}`,
		`"preStop":{"sleep":{"seconds":15}}`,
		`"terminationGracePeriodSeconds":75`,
	} {
		if !bytes.Contains(compact(t, patched), []byte(want)) {
			t.Errorf("patched pod lacks %s:\n%s", want, compact(t, patched))
		}
	}
	if bytes.Contains(resp.Patch, []byte("future")) || bytes.Contains(resp.Patch, []byte("resources")) {
		t.Errorf("the patch mentions fields it does not own: %s", resp.Patch)
	}
}

// compact re-encodes JSON with sorted keys and no spaces.
func compact(t testing.TB, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestHandlerAudit(t *testing.T) {
	tests := map[string]struct {
		file         string
		opts         func(*mutate.Options)
		wantWarnings []string
		wantCounts   map[string]int
	}{
		"basic": {
			file: "basic",
			wantWarnings: []string{
				`ha-webhook audit: would inject readinessProbe into container "app"`,
				`ha-webhook audit: would inject preStop into container "app"`,
				`ha-webhook audit: would set terminationGracePeriodSeconds to 45`,
			},
			wantCounts: map[string]int{"readinessProbe/audit": 1, "preStop/audit": 1, "terminationGracePeriodSeconds/audit": 1},
		},
		"pod warnings come first": {
			file: "invalid-overrides",
			wantWarnings: []string{
				`ha-webhook.io/prestop-sleep-seconds: using 15, not a whole number of seconds >= 0: "1e3"`,
				`ha-webhook.io/readiness-path: ignored (must start with /), probing tcpSocket: "healthz now"`,
				`ha-webhook.io/readiness-port: ignored (port number must be 1-65535): "99999"`,
				`ha-webhook audit: would inject readinessProbe into container "app"`,
				`ha-webhook audit: would inject preStop into container "app"`,
				`ha-webhook audit: would set terminationGracePeriodSeconds to 45`,
			},
			wantCounts: map[string]int{"readinessProbe/audit": 1, "preStop/audit": 1, "terminationGracePeriodSeconds/audit": 1},
		},
		"auto without native sleep": {
			file: "basic",
			opts: func(o *mutate.Options) { o.PreStopMode, o.NativeSleepSupported = mutate.PreStopAuto, false },
			wantWarnings: []string{
				mutate.UnsupportedSleepWarning,
				`ha-webhook audit: would inject readinessProbe into container "app"`,
			},
			wantCounts: map[string]int{"readinessProbe/audit": 1},
		},
		"skipped pod": {file: "job", wantCounts: map[string]int{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := testOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			h, rec := newTestHandler(t, opts, fixedMode(policy.ModeAudit))
			raw := readFile(t, filepath.Join("testdata", "pod", tc.file+".pod.json"))
			resp := handle(t, h, podRequest(t, admissionv1.Create, "Pod", "", raw))
			if !resp.Allowed || resp.Result.Code != http.StatusOK {
				t.Errorf("allowed=%v code=%d, want allowed with 200", resp.Allowed, resp.Result.Code)
			}
			if len(resp.Patches) > 0 || len(resp.Patch) > 0 || resp.PatchType != nil {
				t.Errorf("audit mode patched: %s", resp.Patch)
			}
			if diff := cmp.Diff(tc.wantWarnings, resp.Warnings); diff != "" {
				t.Errorf("warnings mismatch (-want +got):\n%s", diff)
			}
			for _, w := range resp.Warnings {
				if n := utf8.RuneCountInString(w); n > 120 {
					t.Errorf("warning of %d characters: %q", n, w)
				}
			}
			if diff := cmp.Diff(tc.wantCounts, rec.snapshot()); diff != "" {
				t.Errorf("recorded mutations mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandlerAuditWarningsBounded: one warning per would-be injection, each at most 120 characters even for absurd
// container names (a mutating webhook sees the pod before the API server validates names), and at most 20 per
// response.
func TestHandlerAuditWarningsBounded(t *testing.T) {
	tests := map[string]struct {
		containers   int
		name         func(i int) string
		wantWarnings int
	}{
		"one container with a 63-character name": {
			containers: 1, name: func(int) string { return strings.Repeat("a", 63) }, wantWarnings: 3,
		},
		"control characters in a long name": {
			containers: 1, name: func(int) string { return strings.Repeat("\x00\u2028", 60) }, wantWarnings: 3,
		},
		"six containers: 13 warnings": {
			containers: 6, name: func(i int) string { return fmt.Sprintf("c%d", i) }, wantWarnings: 13,
		},
		"thirty containers: capped at 20": {
			containers: 30, name: func(i int) string { return fmt.Sprintf("c%d", i) }, wantWarnings: 20,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			pod := fixture.NewPod()
			for i := range tc.containers {
				pod.Spec.Containers = append(pod.Spec.Containers, fixture.Container(tc.name(i), fixture.TCPPort("", int32(8000+i))))
			}
			raw, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := newTestHandler(t, testOptions(), fixedMode(policy.ModeAudit))
			resp := handle(t, h, podRequest(t, admissionv1.Create, "Pod", "", raw))
			if got := len(resp.Warnings); got != tc.wantWarnings {
				t.Errorf("got %d warnings, want %d: %q", got, tc.wantWarnings, resp.Warnings)
			}
			for _, w := range resp.Warnings {
				if n := utf8.RuneCountInString(w); n > 120 {
					t.Errorf("warning of %d characters: %q", n, w)
				}
				if !utf8.ValidString(w) || strings.ContainsAny(w, "\x00\u2028") {
					t.Errorf("warning carries raw control characters: %q", w)
				}
			}
			if tc.containers == 30 {
				if got, want := resp.Warnings[19], "… and 42 more"; got != want {
					t.Errorf("last warning = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestHandlerRequests(t *testing.T) {
	basic := readFile(t, filepath.Join("testdata", "pod", "basic.pod.json"))
	lookupErr := errors.New("namespace cache not synced")
	tests := map[string]struct {
		op          admissionv1.Operation
		kind        string
		subResource string
		raw         []byte
		mode        ModeLookup
		wantAllowed bool
		wantCode    int32
		wantMessage string
		// skipped: the pod is skipped before the mode is looked up.
		skipped bool
	}{
		"update passes untouched": {op: admissionv1.Update, kind: "Pod", raw: basic, wantAllowed: true, wantCode: 200},
		"delete passes":           {op: admissionv1.Delete, kind: "Pod", wantAllowed: true, wantCode: 200},
		"connect passes":          {op: admissionv1.Connect, kind: "PodExecOptions", raw: []byte(`{}`), wantAllowed: true, wantCode: 200},
		"wrong kind": {
			op: admissionv1.Create, kind: "Deployment", raw: basic, wantCode: 400, wantMessage: "expected a Pod",
		},
		"pod subresource": {
			op: admissionv1.Create, kind: "Pod", subResource: "ephemeralcontainers", raw: basic, wantCode: 400, wantMessage: "expected a Pod",
		},
		"no object": {op: admissionv1.Create, kind: "Pod", wantCode: 400},
		"not JSON":  {op: admissionv1.Create, kind: "Pod", raw: []byte(`"x"`), wantCode: 400},
		"mode lookup error fails the request": {
			op: admissionv1.Create, kind: "Pod", raw: basic,
			mode:     func(context.Context, string) (policy.Mode, error) { return "", lookupErr },
			wantCode: http.StatusServiceUnavailable, wantMessage: lookupErr.Error(),
		},
		"skipped pod": {
			op: admissionv1.Create, kind: "Pod", raw: readFile(t, filepath.Join("testdata", "pod", "job.pod.json")),
			wantAllowed: true, wantCode: 200, wantMessage: "skipped: restartPolicy OnFailure", skipped: true,
		},
		// The mode is looked up only for pods the webhook acts on: a skipped pod never fails on a cold cache.
		"skipped pod with a failing mode lookup is allowed": {
			op: admissionv1.Create, kind: "Pod", raw: readFile(t, filepath.Join("testdata", "pod", "job.pod.json")),
			mode:        func(context.Context, string) (policy.Mode, error) { return "", lookupErr },
			wantAllowed: true, wantCode: 200, wantMessage: "skipped: restartPolicy OnFailure", skipped: true,
		},
		"skip-mutation annotation with a failing mode lookup is allowed": {
			op: admissionv1.Create, kind: "Pod", raw: mustJSON(t, fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, "true")),
			mode:        func(context.Context, string) (policy.Mode, error) { return "", lookupErr },
			wantAllowed: true, wantCode: 200, wantMessage: "skipped: " + names.AnnotationSkipMutation, skipped: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			calls := 0
			mode := tc.mode
			if mode == nil {
				mode = fixedMode(policy.ModeEnforce)
			}
			h, rec := newTestHandler(t, testOptions(), func(ctx context.Context, ns string) (policy.Mode, error) {
				calls++
				return mode(ctx, ns)
			})
			resp := handle(t, h, podRequest(t, tc.op, tc.kind, tc.subResource, tc.raw))
			if resp.Allowed != tc.wantAllowed || resp.Result == nil || resp.Result.Code != tc.wantCode {
				t.Fatalf("allowed=%v result=%+v, want allowed=%v code=%d", resp.Allowed, resp.Result, tc.wantAllowed, tc.wantCode)
			}
			if !strings.Contains(resp.Result.Message, tc.wantMessage) {
				t.Errorf("message %q, want it to contain %q", resp.Result.Message, tc.wantMessage)
			}
			if len(resp.Patch) > 0 || resp.PatchType != nil {
				t.Errorf("unexpected patch %s", resp.Patch)
			}
			if got := rec.snapshot(); len(got) > 0 {
				t.Errorf("recorded mutations %v, want none", got)
			}
			if tc.op != admissionv1.Create && calls > 0 {
				t.Errorf("mode looked up %d times for a %s", calls, tc.op)
			}
			if tc.skipped && calls > 0 {
				t.Errorf("mode looked up %d times for a skipped pod", calls)
			}
		})
	}
}

// TestHandlerNamespace: pods made by controllers arrive without a namespace; the request's is used.
func TestHandlerNamespace(t *testing.T) {
	tests := map[string]struct {
		requestNamespace, podNamespace, want string
	}{
		"request namespace":           {requestNamespace: "shop", want: "shop"},
		"request namespace wins":      {requestNamespace: "shop", podNamespace: "other", want: "shop"},
		"pod namespace as a fallback": {podNamespace: "pay", want: "pay"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var got []string
			h, _ := newTestHandler(t, testOptions(), func(_ context.Context, ns string) (policy.Mode, error) {
				got = append(got, ns)
				return policy.ModeEnforce, nil
			})
			pod := fixture.WebPod()
			pod.Namespace = tc.podNamespace
			raw, err := json.Marshal(pod)
			if err != nil {
				t.Fatal(err)
			}
			req := podRequest(t, admissionv1.Create, "Pod", "", raw)
			req.Namespace = tc.requestNamespace
			handle(t, h, req)
			if diff := cmp.Diff([]string{tc.want}, got); diff != "" {
				t.Errorf("mode looked up for (-want +got):\n%s", diff)
			}
		})
	}
}

// TestHandlerOptionsPerRequest: the options func is read per request, so that auto detection can change.
func TestHandlerOptionsPerRequest(t *testing.T) {
	opts := mutate.DefaultOptions()
	h := NewPodHandler(func() mutate.Options { return opts }, fixedMode(policy.ModeEnforce), &mutationCounter{})
	raw := readFile(t, filepath.Join("testdata", "pod", "basic.pod.json"))

	opts.NativeSleepSupported = false
	first := handle(t, h, podRequest(t, admissionv1.Create, "Pod", "", raw))
	opts.NativeSleepSupported = true
	second := handle(t, h, podRequest(t, admissionv1.Create, "Pod", "", raw))

	if bytes.Contains(first.Patch, []byte("preStop")) || len(first.Warnings) != 1 {
		t.Errorf("without native sleep: patch %s, warnings %q; want no preStop and one warning", first.Patch, first.Warnings)
	}
	if !bytes.Contains(second.Patch, []byte(`"preStop":{"sleep":{"seconds":15}}`)) || len(second.Warnings) != 0 {
		t.Errorf("with native sleep: patch %s, warnings %q; want a sleep preStop and no warning", second.Patch, second.Warnings)
	}
}

func TestAuditWarning(t *testing.T) {
	tests := map[string]struct {
		in   mutate.Injection
		want string
	}{
		"container field": {
			in:   mutate.Injection{Container: "app", Field: mutate.FieldReadinessProbe},
			want: `ha-webhook audit: would inject readinessProbe into container "app"`,
		},
		"grace period": {
			in:   mutate.Injection{Field: mutate.FieldGracePeriod, Value: int64(45)},
			want: "ha-webhook audit: would set terminationGracePeriodSeconds to 45",
		},
		"container without a name never prints the value": {
			in:   mutate.Injection{Field: mutate.FieldReadinessProbe, Value: fixture.TCPProbe(port8080)},
			want: `ha-webhook audit: would inject readinessProbe into container ""`,
		},
		"long name quoted and cut": {
			in:   mutate.Injection{Container: strings.Repeat("x", 63), Field: mutate.FieldPreStop},
			want: `ha-webhook audit: would inject preStop into container "` + strings.Repeat("x", 40) + `"…`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := AuditWarning(tc.in); got != tc.want {
				t.Errorf("AuditWarning() = %q, want %q", got, tc.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
