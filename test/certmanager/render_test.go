package certmanager

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// certManagerCRDs is deploy/crds of the cert-manager module this module requires (go.mod pins its version).
func certManagerCRDs() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cert-manager/cert-manager").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/cert-manager/cert-manager: %w", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "deploy", "crds")
	if _, err := os.Stat(filepath.Join(dir, "cert-manager.io_certificates.yaml")); err != nil {
		return "", err
	}
	return dir, nil
}

// rendered is the chart as helm template renders it: each object's kind and JSON, in order.
type rendered struct {
	docs []renderedDoc
}

type renderedDoc struct {
	kind, name string
	json       []byte
}

func renderChart(t *testing.T, helm string) rendered {
	t.Helper()
	dir := t.TempDir()
	valuesFile := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(valuesFile, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helm, "template", release, filepath.Join(testenv.RepoRoot(), "charts", "ha-webhook"),
		"--namespace", releaseNS, "--kube-version", kubeVersion, "--values", valuesFile)
	// Keep helm away from the user's configuration and caches.
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+dir+"/config", "HELM_CACHE_HOME="+dir+"/cache", "HELM_DATA_HOME="+dir+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm template: %v\n%s", err, stderr.String())
	}
	var r rendered
	reader := utilyaml.NewYAMLReader(bufio.NewReader(&stdout))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		js, err := utilyaml.ToJSON(doc)
		if err != nil {
			t.Fatal(err)
		}
		if string(js) == "null" {
			continue
		}
		var meta struct {
			Kind     string
			Metadata struct{ Name string }
		}
		if err := json.Unmarshal(js, &meta); err != nil {
			t.Fatal(err)
		}
		r.docs = append(r.docs, renderedDoc{meta.Kind, meta.Metadata.Name, js})
	}
	return r
}

func decodeInto(t *testing.T, d renderedDoc, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(d.json))
	dec.DisallowUnknownFields() // a field the API type does not know would be dropped silently
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding rendered %s/%s: %v", d.kind, d.name, err)
	}
}

// objects decodes every rendered object of the given kinds (cert-manager's), in render order.
func (r rendered) objects(t *testing.T, kinds ...string) []client.Object {
	t.Helper()
	var out []client.Object
	for _, d := range r.docs {
		switch {
		case d.kind == "Issuer" && containsString(kinds, d.kind):
			v := &cmapi.Issuer{}
			decodeInto(t, d, v)
			out = append(out, v)
		case d.kind == "Certificate" && containsString(kinds, d.kind):
			v := &cmapi.Certificate{}
			decodeInto(t, d, v)
			out = append(out, v)
		}
	}
	return out
}

func (r rendered) find(t *testing.T, kind, name string) renderedDoc {
	t.Helper()
	for _, d := range r.docs {
		if d.kind == kind && (name == "" || d.name == name) {
			return d
		}
	}
	t.Fatalf("the chart rendered no %s %s (tls.mode=certManager is the default)", kind, name)
	return renderedDoc{}
}

func (r rendered) certificate(t *testing.T, name string) *cmapi.Certificate {
	v := &cmapi.Certificate{}
	decodeInto(t, r.find(t, "Certificate", name), v)
	return v
}

func (r rendered) mutating(t *testing.T) *admissionregistrationv1.MutatingWebhookConfiguration {
	v := &admissionregistrationv1.MutatingWebhookConfiguration{}
	decodeInto(t, r.find(t, "MutatingWebhookConfiguration", release), v)
	return v
}

func (r rendered) validating(t *testing.T) *admissionregistrationv1.ValidatingWebhookConfiguration {
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	decodeInto(t, r.find(t, "ValidatingWebhookConfiguration", release), v)
	return v
}

// serveArgs are the rendered Deployment's container args: `serve` runs as the chart configures it, except for what
// only makes sense in a pod (listen addresses, the mounted certificate's path), which startServe sets.
func (r rendered) serveArgs(t *testing.T) []string {
	t.Helper()
	var d appsv1.Deployment
	decodeInto(t, r.find(t, "Deployment", ""), &d)
	args := d.Spec.Template.Spec.Containers[0].Args
	for _, a := range args {
		if strings.Contains(a, "$(") {
			t.Fatalf("rendered arg %q refers to the pod's environment, which this test does not provide", a)
		}
	}
	return args
}

// startServe runs `ha-webhook serve` with the chart's args, pointed at the local ports and the volume, and waits
// until /readyz passes. The process is killed (by its pid) when the test ends.
func startServe(t *testing.T, bin string, chartArgs []string, kubeconfig string, port int, certDir string) *testenv.SyncBuffer {
	t.Helper()
	health, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	healthAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(health))
	override := map[string]string{
		"--webhook-port":              strconv.Itoa(port),
		"--webhook-cert-path":         certDir,
		"--health-probe-bind-address": healthAddr,
		"--metrics-bind-address":      "0",
		"--client-idle-timeout":       "0s", // the test kills it: no drain to wait for
	}
	var args []string
	for _, a := range chartArgs {
		if _, ok := override[strings.SplitN(a, "=", 2)[0]]; !ok {
			args = append(args, a)
		}
	}
	for k, v := range override {
		args = append(args, k+"="+v)
	}
	args = append(args, "--kubeconfig="+kubeconfig, "--webhook-host=127.0.0.1")
	log := &testenv.SyncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("ha-webhook serve log (last 8 KB):\n%s", testenv.Tail(log.String(), 8<<10))
		}
	})
	if err := testenv.WaitReady(context.Background(), "http://"+healthAddr+"/readyz", exited); err != nil {
		t.Fatalf("ha-webhook serve %s: %v\n%s", strings.Join(args, " "), err, testenv.Tail(log.String(), 4096))
	}
	return log
}

func durationOf(d *metav1.Duration) string {
	if d == nil {
		return "unset"
	}
	return d.Duration.String()
}

func rotationPolicy(crt *cmapi.Certificate) string {
	if crt.Spec.PrivateKey == nil {
		return ""
	}
	return string(crt.Spec.PrivateKey.RotationPolicy)
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *cmapi.Issuer:
		return "Issuer"
	case *cmapi.Certificate:
		return "Certificate"
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		return "MutatingWebhookConfiguration"
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		return "ValidatingWebhookConfiguration"
	}
	return fmt.Sprintf("%T", obj)
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsIP(c *x509.Certificate, ip string) bool {
	for _, a := range c.IPAddresses {
		if a.String() == ip {
			return true
		}
	}
	return false
}

// excerpt keeps the controller log lines about issuance, renewal and injection; the same line repeated within one
// second is printed once with its count (the cainjector re-applies caBundle on every event of the Certificate or
// its Secret and logs "Updated object" each time, changed or not: the timeline says when caBundle really changed).
func excerpt(log string) string {
	keep := []string{"Certificate must be re-issued", `condition="Ready"`, "garbage collecting old certificate request",
		`"msg":"Updated object"`, "could not find any ca data", "featureGates="}
	header := regexp.MustCompile(`^[IWE]\d{4} (\d\d:\d\d:\d\d)\.\d+\s+\d+ \S+\] `)
	zapTime := regexp.MustCompile(`"ts":"[^"]*T([^"]*)Z",`)
	var out []string
	var counts []int
	index := map[string]int{}
	for _, line := range strings.Split(log, "\n") {
		if !containsAny(line, keep) {
			continue
		}
		at, body := "", line
		if m := header.FindStringSubmatch(line); m != nil {
			at, body = m[1], line[len(m[0]):]
		} else if m := zapTime.FindStringSubmatch(line); m != nil {
			at, body = m[1], strings.Replace(line, m[0], "", 1)
		}
		body = transitionTime.ReplaceAllString(body, "")
		key := at + body
		if i, ok := index[key]; ok {
			counts[i]++
			continue
		}
		index[key] = len(out)
		out = append(out, "    "+at+" "+body)
		counts = append(counts, 1)
	}
	for i, n := range counts {
		if n > 1 {
			out[i] += fmt.Sprintf("   (×%d)", n)
		}
	}
	return strings.Join(out, "\n")
}

// excerptServe keeps the certificate watcher's lines of the webhook's log and counts the handshakes the API server
// aborted because it did not trust the served certificate.
func excerptServe(log string) string {
	var out []string
	rejected := 0
	first, lastAt := "", ""
	for _, line := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(line, "certwatcher"):
			out = append(out, "    "+line)
		case strings.Contains(line, "TLS handshake error") && strings.Contains(line, "bad certificate"):
			rejected++
			at := strings.Join(strings.Fields(line)[:2], " ")
			if first == "" {
				first = at
			}
			lastAt = at
		}
	}
	if rejected > 0 {
		out = append(out, fmt.Sprintf("    %d× \"http: TLS handshake error from 127.0.0.1:…: remote error: tls: bad certificate\" "+
			"(the API server rejecting the served certificate), from %s to %s", rejected, first, lastAt))
	}
	return strings.Join(out, "\n")
}

var transitionTime = regexp.MustCompile(`lastTransitionTime="[^"]*" ?`)

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
