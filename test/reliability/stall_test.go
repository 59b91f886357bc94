package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// stallFor is how long the API server is stopped (SIGSTOP): longer than a lease renewal and than the webhook's
// lookup timeout, shorter than a watch's timeout.
const stallFor = 20 * time.Second

// TestAPIServerStall: kube-apiserver stopped with SIGSTOP for 20 s while ha-webhook answers (apiServerFault).
func TestAPIServerStall(t *testing.T) {
	pid := apiServerPID(t)
	apiServerFault(t, "stall", "SIGSTOP: kube-apiserver stopped for 20 s", func(t *testing.T) string {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		resumed := false
		t.Cleanup(func() {
			if !resumed {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		})
		time.Sleep(stallFor)
		if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
			t.Fatal(err)
		}
		resumed = true
		return fmt.Sprintf("kube-apiserver SIGSTOP for %s", stallFor)
	})
}

// TestAPIServerRestart: kube-apiserver stopped with SIGTERM and started again (same port, certificates and etcd)
// while ha-webhook answers (apiServerFault). While it is down, a denial's live confirmation fails at once (connection
// refused) instead of timing out, and the cache's verdict is sent.
func TestAPIServerRestart(t *testing.T) {
	apiServerFault(t, "restart", "kube-apiserver restarted (SIGTERM, started again)", func(t *testing.T) string {
		r, err := env.RestartAPIServer(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		how := "exited after SIGTERM"
		if r.Killed {
			how = "had not exited 15 s after SIGTERM (graceful termination), killed"
		}
		// The time the cluster's clients (ha-webhook's informers among them) had no API server.
		return fmt.Sprintf("kube-apiserver restarted (the old process %s): down %s from SIGTERM to /readyz of the new process", how, r.Down.Round(100*time.Millisecond))
	})
}

// apiServerFault runs fault on kube-apiserver while ha-webhook answers 50 pod admissions/s and 4 pairs of Deployment
// reviews/s (one compliant, one violating). ha-webhook must keep answering from its cache (pods mutated, the
// compliant Deployment admitted, the violating one denied), send no false denial, keep /readyz at 200 (the truth: it
// answers), and its watches must resume afterwards without a restart of ha-webhook (a PDB deleted afterwards moves
// the audit's gauge, which is computed from the cache only). The rule for a denial it cannot confirm live while the
// API server is unreachable: after the live read fails or times out (2 s), the cache's verdict is sent.
func apiServerFault(t *testing.T, name, faultPhase string, fault func(t *testing.T) string) {
	p := serve(t, "serve", serveOptions{args: []string{"--audit-debounce", "200ms"}})
	ns := scenarioNamespace(t, name)
	ctx := context.Background()
	budget := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	web := lonelyDeployment(ns, "web")
	web.Spec.Replicas = ptr.To[int32](3)
	for _, o := range []clientObject{budget, web} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("creating %s: %v", o.GetName(), err)
		}
	}
	c := keepAliveClient(tlsConfig(t, p.caPEM), 16)
	allowed, denied := deploymentReview(t, ns, "web", 3), deploymentReview(t, ns, "lonely", 1)
	waitUntil(t, 30*time.Second, "the cache has the PDB", func() error {
		if ok, _, err := review(c, p.webhookURL(names.PathValidateDeployment), allowed); err != nil || !ok {
			return fmt.Errorf("web not admitted yet: %v", err)
		}
		return nil
	})
	metrics := "http://" + p.metricsAddr + "/metrics"
	waitUntil(t, 30*time.Second, "the audit counts web compliant", func() error {
		return wantSeries(metrics, fmt.Sprintf(`ha_webhook_audit_workloads{namespace=%q,state="compliant"} 1`, ns))
	})

	var mu sync.Mutex
	type tally struct{ pods, podsFailed, webAllowed, webDenied, webFailed, lonelyDenied, lonelyOther, notReady int }
	ts := map[string]*tally{}
	phase := "before"
	var slowest time.Duration
	count := func(f func(*tally)) {
		mu.Lock()
		defer mu.Unlock()
		if ts[phase] == nil {
			ts[phase] = &tally{}
		}
		f(ts[phase])
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(every time.Duration, f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(every):
					f()
				}
			}
		}()
	}
	podBody := strings.ReplaceAll(podReview, `"namespace":"load"`, `"namespace":"`+ns+`"`)
	var seq int
	loop(20*time.Millisecond, func() { // 50 pod admissions/s
		mu.Lock()
		seq++
		uid := fmt.Sprintf("stall-%06d", seq)
		mu.Unlock()
		_, err := admitPodBody(c, p.webhookURL(names.PathMutatePod), fmt.Sprintf(podBody, uid), uid)
		count(func(x *tally) {
			x.pods++
			if err != nil {
				x.podsFailed++
			}
		})
	})
	loop(250*time.Millisecond, func() {
		start := time.Now()
		ok, _, err := review(c, p.webhookURL(names.PathValidateDeployment), allowed)
		count(func(x *tally) {
			switch {
			case err != nil:
				x.webFailed++
			case ok:
				x.webAllowed++
			default:
				x.webDenied++
			}
		})
		ok, _, err = review(c, p.webhookURL(names.PathValidateDeployment), denied)
		d := time.Since(start)
		count(func(x *tally) {
			if err == nil && !ok {
				x.lonelyDenied++
			} else {
				x.lonelyOther++
			}
			slowest = max(slowest, d)
		})
	})
	loop(200*time.Millisecond, func() {
		if httpStatus(p.readyzURL()) != http.StatusOK {
			count(func(x *tally) { x.notReady++ })
		}
	})

	time.Sleep(3 * time.Second)
	mu.Lock()
	phase = faultPhase
	mu.Unlock()
	what := fault(t)
	mu.Lock()
	phase = "after"
	mu.Unlock()
	// The watches resume: a PDB deleted now reaches the cache, and the audit (cache only) counts web violating.
	if err := env.Client.Delete(ctx, budget); err != nil {
		t.Fatal(err)
	}
	sigcont := time.Now()
	waitUntil(t, 60*time.Second, "the cache sees the PDB deleted after the fault", func() error {
		return wantSeries(metrics, fmt.Sprintf(`ha_webhook_audit_workloads{namespace=%q,state="violating"} 1`, ns))
	})
	resume := time.Since(sigcont)
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	var b strings.Builder
	b.WriteString("| phase | pod admissions | failed | web (compliant) allowed / denied / failed | lonely (violating) denied / other | /readyz not 200 |\n|---|---:|---:|---|---|---:|\n")
	for _, name := range []string{"before", faultPhase, "after"} {
		x := ts[name]
		if x == nil {
			x = &tally{}
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d / %d / %d | %d / %d | %d |\n", name, x.pods, x.podsFailed, x.webAllowed, x.webDenied, x.webFailed, x.lonelyDenied, x.lonelyOther, x.notReady)
		// After the PDB's deletion web is rightly denied: only the phases before it must admit it.
		if x.podsFailed != 0 {
			t.Errorf("%s: %d of %d pod admissions failed", name, x.podsFailed, x.pods)
		}
		if name != "after" && (x.webDenied != 0 || x.webFailed != 0) {
			t.Errorf("%s: the compliant Deployment was denied %d times, failed %d: a false denial", name, x.webDenied, x.webFailed)
		}
		if x.lonelyOther != 0 {
			t.Errorf("%s: the violating Deployment was not denied %d times", name, x.lonelyOther)
		}
		if x.notReady != 0 {
			t.Errorf("%s: /readyz failed %d times while the server answered", name, x.notReady)
		}
	}
	t.Logf("FIGURES %s, under 50 pod admissions/s and 4 Deployment reviews/s; watch resumed: a PDB deleted after the fault reached the cache in %s; slowest pair of Deployment reviews %s (a denial confirmed live waits for the live read's 2 s timeout)\n%s",
		what, resume.Round(100*time.Millisecond), slowest.Round(10*time.Millisecond), b.String())
	if slowest > 5*time.Second {
		t.Errorf("a Deployment review took %s: beyond the chart's 5 s webhook timeout", slowest)
	}
}

// clientObject is what env.Client.Create takes.
type clientObject = client.Object

// apiServerPID is the test kube-apiserver's process.
func apiServerPID(t *testing.T) int {
	t.Helper()
	pid, err := env.APIServerPID()
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// deploymentReview is an AdmissionReview creating a Deployment of replicas in ns (no PDB but web's).
func deploymentReview(t *testing.T, ns, name string, replicas int32) []byte {
	t.Helper()
	d := lonelyDeployment(ns, name)
	d.Spec.Replicas = ptr.To(replicas)
	d.TypeMeta = metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	r := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("stall-" + name), Kind: metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Resource:  metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"},
			Namespace: ns, Name: name, Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		},
	}
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// review posts body and returns whether it was allowed.
func review(c *http.Client, url string, body []byte) (allowed bool, msg string, err error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return false, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return false, "", fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
	}
	var r admissionv1.AdmissionReview
	if err := json.Unmarshal(raw, &r); err != nil || r.Response == nil {
		return false, "", fmt.Errorf("not an AdmissionReview: %.200s", raw)
	}
	if r.Response.Result != nil {
		msg = r.Response.Result.Message
	}
	return r.Response.Allowed, msg, nil
}

// wantSeries fails unless the metrics page has the line.
func wantSeries(url, line string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if !strings.Contains(string(raw), line) {
		return fmt.Errorf("no %s", line)
	}
	return nil
}
