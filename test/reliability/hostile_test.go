package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/test/testenv"
	"github.com/ha-webhook/ha-webhook/test/testenv/hostile"
)

// maxSleep is --max-prestop-sleep's default: no injected sleep may exceed it, whatever a pod asks for.
const maxSleep = 120

// TestHostileInput sends the committed corpus of bad requests to a real `serve` process (--prestop-mode=exec, so
// that any command an annotation could smuggle would show, and --allow-exemptions=false). Each gets a well-formed
// AdmissionReview answer with the expected verdict, or a 4xx; no answer echoes a long input whole; no patch
// touches anything the mutation does not own or runs anything but `sleep N` (N <= the cap). Afterwards the process
// is healthy, answers a valid request, and neither its panic metric nor its log shows a panic.
func TestHostileInput(t *testing.T) {
	corpus := hostile.Load(t, hostile.Dir())
	if len(corpus) < 30 {
		t.Fatalf("the corpus has %d cases, want at least 30", len(corpus))
	}
	p := serve(t, "hardened", serveOptions{args: []string{"--prestop-mode=exec", "--allow-exemptions=false"}})
	client := keepAliveClient(tlsConfig(t, p.caPEM), 4)
	counts := map[string]int{}
	for _, c := range corpus {
		t.Run(strings.TrimSuffix(c.File, ".txt"), func(t *testing.T) {
			counts[c.Expect]++
			req, err := http.NewRequest(http.MethodPost, p.webhookURL(c.Path), bytes.NewReader(c.Body))
			if err != nil {
				t.Fatal(err)
			}
			if c.ContentType != "" {
				req.Header.Set("Content-Type", c.ContentType)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", c.Description, err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			checkHostileAnswer(t, c, resp.StatusCode, raw)
		})
	}

	// The process survived all of it.
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := httpStatus("http://" + p.healthAddr + path); code != http.StatusOK {
			t.Errorf("%s answers %d after the hostile corpus", path, code)
		}
	}
	if _, err := admitPod(client, p.webhookURL(names.PathMutatePod), "after-hostile"); err != nil {
		t.Errorf("a valid admission after the hostile corpus: %v", err)
	}
	if n := metric(t, p.metricsAddr, "controller_runtime_webhook_panics_total"); n != 0 {
		t.Errorf("controller_runtime_webhook_panics_total = %v", n)
	}
	if !p.running() {
		t.Errorf("the process exited: %v", p.exitErr)
	}
	if log := p.log.String(); strings.Contains(strings.ToLower(log), "panic") {
		t.Errorf("the log mentions a panic:\n%s", testenv.Tail(log, 2000))
	}
	var kinds []string
	for k, v := range counts {
		kinds = append(kinds, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(kinds)
	t.Logf("FIGURES hostile input: %d requests (%s); afterwards healthz/readyz 200, a valid admission answered, panics_total 0, no panic in the log",
		len(corpus), strings.Join(kinds, ", "))
}

var (
	ownedPatchPath = regexp.MustCompile(`^(/metadata/annotations(/ha-webhook\.io~1injected)?|/spec/terminationGracePeriodSeconds|/spec/containers/\d+/(readinessProbe|lifecycle|lifecycle/preStop))$`)
	wholeNumber    = regexp.MustCompile(`^[0-9]+$`)
)

func checkHostileAnswer(t *testing.T, c hostile.Case, status int, raw []byte) {
	t.Helper()
	kind, want, _ := strings.Cut(c.Expect, " ")
	if kind == "http" {
		if strconv.Itoa(status) != want {
			t.Fatalf("%s: HTTP %d, want %s: %.300s", c.Description, status, want, raw)
		}
		if len(raw) > 8192+64 {
			t.Errorf("%s: HTTP %d with %d bytes", c.Description, status, len(raw))
		}
		for _, s := range longStrings(c) {
			if strings.Contains(string(raw), s) {
				t.Errorf("%s: the answer echoes a %d-byte input whole", c.Description, len(s))
			}
		}
		return
	}
	if status != http.StatusOK {
		t.Fatalf("%s: HTTP %d, want 200 with an AdmissionReview: %.300s", c.Description, status, raw)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(raw, &review); err != nil || review.Response == nil {
		t.Fatalf("%s: not an AdmissionReview with a response (%v): %.300s", c.Description, err, raw)
	}
	r := review.Response
	var code int32
	var message string
	if r.Result != nil {
		code, message = r.Result.Code, r.Result.Message
	}
	switch kind {
	case "allowed":
		if !r.Allowed {
			t.Errorf("%s: refused (%d %s), want allowed", c.Description, code, message)
		}
	case "denied":
		if r.Allowed || code != http.StatusForbidden {
			t.Errorf("%s: allowed=%v code %d, want a 403 denial: %.300s", c.Description, r.Allowed, code, message)
		}
	case "errored":
		if r.Allowed || strconv.Itoa(int(code)) != want {
			t.Errorf("%s: allowed=%v code %d, want an error %s: %.300s", c.Description, r.Allowed, code, want, message)
		}
	default:
		t.Fatalf("%s: unknown expectation %q", c.File, c.Expect)
	}
	if (kind == "allowed" || kind == "denied") && !strings.Contains(string(c.Body), `"uid":"`+string(r.UID)+`"`) {
		t.Errorf("%s: answer for uid %q, not the request's", c.Description, r.UID)
	}

	// Nothing long from the request comes back whole, and texts are bounded.
	for _, s := range longStrings(c) {
		for what, text := range map[string]string{"the answer": string(raw), "the message": message,
			"a warning": strings.Join(r.Warnings, "\n"), "an audit annotation": fmt.Sprint(r.AuditAnnotations)} {
			if strings.Contains(text, s) {
				t.Errorf("%s: %s echoes a %d-byte input whole", c.Description, what, len(s))
			}
		}
	}
	if len(r.Warnings) > 20 {
		t.Errorf("%s: %d warnings", c.Description, len(r.Warnings))
	}
	for _, w := range r.Warnings {
		if utf8.RuneCountInString(w) > 120 {
			t.Errorf("%s: warning of %d characters: %.200q", c.Description, utf8.RuneCountInString(w), w)
		}
	}
	checkPatch(t, c, r)
}

// checkPatch: only add/replace of fields the mutation owns; every command is `sleep N` with N within the cap; and
// the case's own checks (sleep=N, probe=tcpSocket).
func checkPatch(t *testing.T, c hostile.Case, r *admissionv1.AdmissionResponse) {
	t.Helper()
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if len(r.Patch) > 0 {
		if err := json.Unmarshal(r.Patch, &ops); err != nil {
			t.Fatalf("%s: patch is not a JSON patch: %v", c.Description, err)
		}
	}
	var sleeps []string
	probes := map[string]int{}
	for _, op := range ops {
		if op.Op != "add" && op.Op != "replace" {
			t.Errorf("%s: patch %s %s: only add and replace are allowed", c.Description, op.Op, op.Path)
		}
		if !ownedPatchPath.MatchString(op.Path) {
			t.Errorf("%s: patch touches %s, which the mutation does not own", c.Description, op.Path)
		}
		if strings.HasSuffix(op.Path, "/readinessProbe") {
			var probe map[string]any
			_ = json.Unmarshal(op.Value, &probe)
			for k := range probe {
				if k == "tcpSocket" || k == "httpGet" || k == "exec" || k == "grpc" {
					probes[k]++
				}
			}
		}
		var v any
		if err := json.Unmarshal(op.Value, &v); err != nil {
			t.Fatalf("%s: patch value of %s: %v", c.Description, op.Path, err)
		}
		for _, cmd := range execCommands(v) {
			if len(cmd) != 2 || cmd[0] != "sleep" || !wholeNumber.MatchString(cmd[1]) {
				t.Errorf("%s: patch %s injects the command %q, want [sleep N]", c.Description, op.Path, cmd)
				continue
			}
			if n, err := strconv.Atoi(cmd[1]); err != nil || n < 1 || n > maxSleep {
				t.Errorf("%s: patch %s injects sleep %s, outside 1..%d", c.Description, op.Path, cmd[1], maxSleep)
			}
			sleeps = append(sleeps, cmd[1])
		}
	}
	if c.Check == "" {
		return
	}
	k, v, _ := strings.Cut(c.Check, "=")
	switch k {
	case "sleep":
		if len(sleeps) == 0 || sleeps[0] != v {
			t.Errorf("%s: injected sleeps %v, want %s", c.Description, sleeps, v)
		}
	case "probe":
		if probes[v] == 0 || len(probes) != 1 {
			t.Errorf("%s: injected probes %v, want only %s", c.Description, probes, v)
		}
	default:
		t.Fatalf("%s: unknown check %q", c.File, c.Check)
	}
}

// execCommands finds every exec command in a JSON value.
func execCommands(v any) [][]string {
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
			out = append(out, execCommands(e)...)
		}
	case []any:
		for _, e := range x {
			out = append(out, execCommands(e)...)
		}
	}
	return out
}

// longStrings are the request's strings (JSON keys and values, and the Content-Type) of 1 KB or more, except the
// oversized body itself.
func longStrings(c hostile.Case) []string {
	var out []string
	if len(c.ContentType) >= 1024 {
		out = append(out, c.ContentType)
	}
	if len(c.Body) > 1<<20 {
		return out
	}
	var v any
	if json.Unmarshal(c.Body, &v) != nil {
		return out
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			if len(x) >= 1024 {
				out = append(out, x)
			}
		case map[string]any:
			for k, e := range x {
				walk(k)
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}
