package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/admission"
	"github.com/ha-webhook/ha-webhook/internal/metrics"
	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/text"
	"github.com/ha-webhook/ha-webhook/internal/validate"
	"github.com/ha-webhook/ha-webhook/test/testenv/hostile"
)

var paths = []string{names.PathMutatePod, names.PathValidateDeployment, names.PathValidateScale, names.PathValidateStatefulSet,
	names.PathValidateStatefulSetScale, names.PathValidatePDB, names.PathValidateHPA}

// testHandlers are the registered HTTP handlers over fake dependencies: mode (enforce, audit, or an error as when
// the cache has not synced) and an empty namespace. Panics are not recovered, so that a fuzz input that panics a
// handler fails the test instead of becoming an error response.
func testHandlers(t testing.TB, mode byte, stopping bool) map[string]http.Handler {
	t.Helper()
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Mutate.PreStopMode = mutate.PreStopExec // so that every injected command can be checked
	errUnsynced := errors.New("cache not synced")
	hooks := webhooks(cfg, webhookDeps{
		options: func() mutate.Options { return cfg.Mutate },
		modes: func(context.Context, string) (policy.Mode, error) {
			switch mode % 3 {
			case 0:
				return policy.ModeEnforce, nil
			case 1:
				return policy.ModeAudit, nil
			}
			return "", errUnsynced
		},
		cluster: func(context.Context, string) (validate.Cluster, error) {
			if mode%3 == 2 {
				return validate.Cluster{}, errUnsynced
			}
			return validate.Cluster{}, nil
		},
		workloads: func(_ context.Context, kind, ns, name string) (validate.Workload, error) {
			return validate.Workload{Kind: kind, Namespace: ns, Name: name, Replicas: ptr.To[int32](3),
				TemplateLabels: map[string]string{"app": "web"}}, nil
		},
		metrics: m,
	})
	out := map[string]http.Handler{}
	for path, hook := range hooks {
		out[path] = serveHTTP(func() bool { return stopping }, hook.WithRecoverPanic(false))
	}
	return out
}

func post(h http.Handler, path, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

var (
	allowedPatchPath = regexp.MustCompile(`^(/metadata/annotations(/ha-webhook\.io~1injected)?|/spec/terminationGracePeriodSeconds|/spec/containers/\d+/(readinessProbe|lifecycle|lifecycle/preStop))$`)
	digits           = regexp.MustCompile(`^[0-9]+$`)
)

// checkAnswer asserts what every answer of the webhooks must satisfy, whatever the request: an AdmissionReview
// with a response, a denial or error with a code, bounded texts, and a patch that only adds what the mutation owns,
// whose exec commands are never anything but `sleep N` within the cap. A server error is an HTTP 5xx with a
// bounded text instead; checkAnswer then returns nil.
func checkAnswer(t testing.TB, w *httptest.ResponseRecorder, maxSleep int64) *admissionv1.AdmissionResponse {
	t.Helper()
	if w.Code >= 500 && w.Code <= 599 {
		body := w.Body.String()
		if !strings.HasPrefix(body, "ha-webhook: ") || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
			t.Fatalf("HTTP %d without the server's text: %q %.300q", w.Code, w.Header().Get("Content-Type"), body)
		}
		if utf8.RuneCountInString(body) > admission.MaxMessage+len("ha-webhook: \n") {
			t.Errorf("HTTP %d with a text of %d runes", w.Code, utf8.RuneCountInString(body))
		}
		return nil
	}
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP status %d, want 200 with an AdmissionReview: %.300s", w.Code, w.Body.String())
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &review); err != nil || review.Response == nil {
		t.Fatalf("answer is not an AdmissionReview with a response (%v): %.300s", err, w.Body.String())
	}
	resp := review.Response
	if !resp.Allowed && (resp.Result == nil || resp.Result.Code < 400) {
		t.Fatalf("refused without a 4xx/5xx code: %+v", resp.Result)
	}
	if len(resp.UID) > maxUID {
		t.Errorf("uid of %d bytes echoed", len(resp.UID))
	}
	if resp.Result != nil {
		lines := strings.Split(resp.Result.Message, "\n")
		if len(lines) > admission.MaxMessageLines || utf8.RuneCountInString(resp.Result.Message) > admission.MaxMessage {
			t.Errorf("message of %d lines, %d runes", len(lines), utf8.RuneCountInString(resp.Result.Message))
		}
		for _, l := range lines {
			if utf8.RuneCountInString(l) > admission.MaxMessageLine {
				t.Errorf("message line of %d runes", utf8.RuneCountInString(l))
			}
		}
	}
	if len(resp.Warnings) > admission.MaxWarnings {
		t.Errorf("%d warnings", len(resp.Warnings))
	}
	for _, s := range resp.Warnings {
		if utf8.RuneCountInString(s) > text.MaxWarningLength {
			t.Errorf("warning of %d runes: %.200q", utf8.RuneCountInString(s), s)
		}
	}
	for k, v := range resp.AuditAnnotations {
		if utf8.RuneCountInString(v) > admission.MaxAuditAnnotation {
			t.Errorf("audit annotation %s of %d runes", k, utf8.RuneCountInString(v))
		}
	}
	if len(resp.Patch) == 0 {
		return resp
	}
	if !resp.Allowed {
		t.Errorf("a patch on a refusal")
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatalf("patch is not a JSON patch: %v", err)
	}
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" {
			t.Errorf("patch op %s %s: only add and replace are allowed", op.Op, op.Path)
		}
		if !allowedPatchPath.MatchString(op.Path) {
			t.Errorf("patch touches %s, which the mutation does not own", op.Path)
		}
		var v any
		if err := json.Unmarshal(op.Value, &v); err != nil {
			t.Fatalf("patch value of %s: %v", op.Path, err)
		}
		for _, cmd := range commands(v) {
			if len(cmd) != 2 || cmd[0] != "sleep" || !digits.MatchString(cmd[1]) {
				t.Errorf("patch %s injects command %q, want [sleep N]", op.Path, cmd)
				continue
			}
			if n, err := strconv.ParseInt(cmd[1], 10, 64); err != nil || n < 1 || n > maxSleep {
				t.Errorf("patch %s injects sleep %s, outside 1..%d", op.Path, cmd[1], maxSleep)
			}
		}
	}
	return resp
}

// commands finds every "command" array in a JSON value.
func commands(v any) [][]string {
	var out [][]string
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if arr, ok := e.([]any); ok && k == "command" {
				cmd := make([]string, len(arr))
				for i, a := range arr {
					cmd[i] = fmt.Sprint(a)
				}
				out = append(out, cmd)
				continue
			}
			out = append(out, commands(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, commands(e)...)
		}
	}
	return out
}

// hostileSeeds reads test/reliability's committed corpus of bad requests. Template bodies are used unexpanded: as
// seeds they are as good as any.
func hostileSeeds(t testing.TB) []hostile.Case {
	t.Helper()
	cases, err := hostile.Read(hostile.Dir())
	if err != nil || len(cases) == 0 {
		t.Fatalf("no hostile corpus found (%v)", err)
	}
	return cases
}

// FuzzWebhookHTTP sends arbitrary bodies to the registered HTTP handlers: whatever comes in, the answer is a
// well-formed, bounded AdmissionReview and nothing panics.
func FuzzWebhookHTTP(f *testing.F) {
	for _, s := range hostileSeeds(f) {
		for i, p := range paths {
			if p == s.Path {
				f.Add(uint8(i), s.ContentType, uint8(0), s.Body)
			}
		}
	}
	for i, ex := range []string{"pod.json", "deployment.json"} {
		body, err := os.ReadFile(filepath.Join("..", "..", "examples", "admission-review", ex))
		if err != nil {
			f.Fatal(err)
		}
		for mode := range uint8(3) {
			f.Add(uint8(i), "application/json", mode, body)
		}
	}
	handlers := map[byte]map[string]http.Handler{}
	for mode := range byte(3) {
		handlers[mode] = testHandlers(f, mode, false)
	}
	maxSleep := DefaultConfig().Mutate.MaxPreStopSleepSeconds
	f.Fuzz(func(t *testing.T, path uint8, contentType string, mode uint8, body []byte) {
		p := paths[int(path)%len(paths)]
		checkAnswer(t, post(handlers[mode%3][p], p, contentType, body), maxSleep)
	})
}

func TestHostileSeedsAnswered(t *testing.T) {
	maxSleep := DefaultConfig().Mutate.MaxPreStopSleepSeconds
	for mode := range byte(3) {
		h := testHandlers(t, mode, false)
		for _, s := range hostileSeeds(t) {
			if hh, ok := h[s.Path]; ok {
				checkAnswer(t, post(hh, s.Path, s.ContentType, s.Body), maxSleep)
			}
		}
	}
}

func TestEnvelope(t *testing.T) {
	h := testHandlers(t, 0, false)[names.PathMutatePod]
	pod, err := os.ReadFile(filepath.Join("..", "..", "examples", "admission-review", "pod.json"))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 10240)
	withReview := func(apiVersion, kind, request string) []byte {
		return []byte(fmt.Sprintf(`{"apiVersion":%q,"kind":%q%s}`, apiVersion, kind, request))
	}
	tests := map[string]struct {
		body        []byte
		contentType string
		code        int32
		uid         string
	}{
		"valid":             {body: pod, code: 0, uid: "3d2f0c7e-0000-4000-8000-000000000001"},
		"v1beta1 accepted":  {body: bytes.Replace(pod, []byte(`admission.k8s.io/v1"`), []byte(`admission.k8s.io/v1beta1"`), 1), uid: "3d2f0c7e-0000-4000-8000-000000000001"},
		"empty":             {body: nil, code: 400},
		"not JSON":          {body: []byte("{"), code: 400},
		"YAML":              {body: []byte("apiVersion: admission.k8s.io/v1\nkind: AdmissionReview\n"), code: 400},
		"no request":        {body: withReview("admission.k8s.io/v1", "AdmissionReview", ""), code: 400},
		"no uid":            {body: withReview("admission.k8s.io/v1", "AdmissionReview", `,"request":{"operation":"CREATE"}`), code: 400},
		"long uid":          {body: withReview("admission.k8s.io/v1", "AdmissionReview", `,"request":{"uid":"`+long+`"}`), code: 400},
		"wrong apiVersion":  {body: withReview(long, "AdmissionReview", `,"request":{"uid":"u"}`), code: 400, uid: "u"},
		"wrong kind":        {body: withReview("admission.k8s.io/v1", long, `,"request":{"uid":"u"}`), code: 400, uid: "u"},
		"case-folded kind":  {body: []byte(`{"apiVersion":"admission.k8s.io/v1","KIND":"AdmissionReview","request":{"uid":"u"}}`), code: 400, uid: "u"},
		"over the limit":    {body: append(append([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","x":"`), bytes.Repeat([]byte("f"), maxRequestBody)...), `"}`...), code: 413},
		"long content type": {body: pod, contentType: long, code: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			w := post(h, names.PathMutatePod, ct, tc.body)
			resp := checkAnswer(t, w, 120)
			if resp == nil {
				t.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
			}
			if strings.Contains(w.Body.String(), long) {
				t.Errorf("the answer echoes a 10 KB value: %.200s", w.Body.String())
			}
			var code int32
			if resp.Result != nil {
				code = resp.Result.Code
			}
			if tc.code == 0 && !resp.Allowed || tc.code != 0 && code != tc.code {
				t.Errorf("allowed=%v code=%d, want code %d: %+v", resp.Allowed, code, tc.code, resp.Result)
			}
			if string(resp.UID) != tc.uid {
				t.Errorf("uid %q, want %q", resp.UID, tc.uid)
			}
		})
	}
}

func TestCloseWhenStopping(t *testing.T) {
	pod, err := os.ReadFile(filepath.Join("..", "..", "examples", "admission-review", "pod.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, stopping := range []bool{false, true} {
		w := post(testHandlers(t, 0, stopping)[names.PathMutatePod], names.PathMutatePod, "application/json", pod)
		checkAnswer(t, w, 120)
		if got := w.Header().Get("Connection") == "close"; got != stopping {
			t.Errorf("stopping=%v: Connection: close sent = %v", stopping, got)
		}
	}
}

func TestServerErrorsAsHTTP(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "admission-review", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The caches have not synced (mode 2): HTTP 500 with the cause, so that the API server applies failurePolicy.
	for path, body := range map[string][]byte{names.PathMutatePod: read("pod.json"), names.PathValidateDeployment: read("deployment.json")} {
		w := post(testHandlers(t, 2, false)[path], path, "application/json", body)
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "cache not synced") {
			t.Errorf("%s with unsynced caches: HTTP %d %q, want 500 with the cause", path, w.Code, w.Body.String())
		}
		checkAnswer(t, w, 120)
	}
	// A policy denial stays an AdmissionReview: the API server shows it whatever the failurePolicy.
	w := post(testHandlers(t, 0, false)[names.PathValidateDeployment], names.PathValidateDeployment, "application/json", read("deployment.json"))
	if resp := checkAnswer(t, w, 120); resp == nil || resp.Allowed || resp.Result.Code != http.StatusForbidden {
		t.Errorf("a denial: HTTP %d %s", w.Code, w.Body.String())
	}
	// So does a malformed request (4xx).
	w = post(testHandlers(t, 0, false)[names.PathMutatePod], names.PathMutatePod, "text/plain", read("pod.json"))
	if resp := checkAnswer(t, w, 120); resp == nil || resp.Result.Code != http.StatusBadRequest {
		t.Errorf("a wrong content type: HTTP %d %s", w.Code, w.Body.String())
	}
}

// TestConcurrentRequests runs every path and mode from many goroutines while shutdown begins, for the race
// detector (go test -race): handlers, bounds, envelope check and the shutdown hand-over share no unguarded state.
func TestConcurrentRequests(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", "admission-review", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bodies := map[string][]byte{names.PathMutatePod: read("pod.json"), names.PathValidateDeployment: read("deployment.json")}
	var stopping atomic.Bool
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	hooks := webhooks(cfg, webhookDeps{
		options: func() mutate.Options { return cfg.Mutate },
		modes:   func(context.Context, string) (policy.Mode, error) { return policy.ModeEnforce, nil },
		cluster: func(context.Context, string) (validate.Cluster, error) { return validate.Cluster{}, nil },
		workloads: func(context.Context, string, string, string) (validate.Workload, error) {
			return validate.Workload{}, nil
		},
		metrics: m,
	})
	handlers := map[string]http.Handler{}
	for path, hook := range hooks {
		handlers[path] = serveHTTP(stopping.Load, hook)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		answers []*httptest.ResponseRecorder
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				if g == 0 && i == 50 {
					stopping.Store(true)
				}
				for path, body := range bodies {
					w := post(handlers[path], path, "application/json", body)
					mu.Lock()
					answers = append(answers, w)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, w := range answers {
		checkAnswer(t, w, cfg.Mutate.MaxPreStopSleepSeconds)
	}
}

func TestDetachFromDrain(t *testing.T) {
	for query, want := range map[string]time.Duration{"?timeout=5s": 5 * time.Second, "?timeout=30s": 30 * time.Second,
		"": maxRequestTimeout, "?timeout=1h": maxRequestTimeout, "?timeout=-1s": maxRequestTimeout, "?timeout=x": maxRequestTimeout} {
		drain, cancelDrain := context.WithCancel(context.Background())
		cancelDrain() // the webhook server's context: cancelled when the drain begins
		r := httptest.NewRequest(http.MethodPost, names.PathValidateScale+query, nil).WithContext(drain)
		var err error
		var left time.Duration
		detachFromDrain(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			err = r.Context().Err()
			deadline, _ := r.Context().Deadline()
			left = time.Until(deadline)
		})).ServeHTTP(httptest.NewRecorder(), r)
		if err != nil {
			t.Errorf("%q: the handler's context is done (%v) although only the drain began", query, err)
		}
		if left > want || left < want-time.Second {
			t.Errorf("%q: deadline in %s, want %s", query, left, want)
		}
	}
}
