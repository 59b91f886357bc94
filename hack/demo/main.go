// Command demo is `make demo`: it starts etcd and kube-apiserver on loopback (built from the Go module proxy and
// cached), runs `ha-webhook serve` with development certificates, registers the webhooks as the Helm chart does,
// opts two namespaces in (one enforcing, one in audit mode), applies examples/ and prints what happened. Every
// process it started is stopped on exit or Ctrl-C.
//
//	go run ./hack/demo          # the whole story, then clean up
//	go run ./hack/demo -keep    # leave everything running (for curl and kubectl) until Ctrl-C
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/ha-webhook/ha-webhook/internal/devcert"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

type demo struct {
	env      *testenv.Env
	dir      string
	port     int
	keep     bool
	certsDir string
	// metricsURL is where the webhook's Prometheus metrics are served.
	metricsURL string
}

func main() {
	keep := flag.Bool("keep", false, "keep the control plane and the webhook running until Ctrl-C")
	port := flag.Int("port", 9443, "port of the webhook server")
	flag.Parse()
	// envtest logs through controller-runtime; the demo prints its own story instead.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{port: *port, keep: *keep}
	err := d.run(ctx)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func (d *demo) run(ctx context.Context) (err error) {
	root := testenv.RepoRoot()
	if d.dir, err = os.MkdirTemp("", "ha-webhook-demo-"); err != nil {
		return err
	}
	defer os.RemoveAll(d.dir)

	title("1. A control plane on loopback: etcd + kube-apiserver v1.37.2 (built once from the Go module proxy, then cached)")
	if d.env, err = testenv.Start(); err != nil {
		return err
	}
	defer func() {
		fmt.Println("\nstopping kube-apiserver and etcd")
		err = errors.Join(err, d.env.Stop())
	}()
	fmt.Println("kube-apiserver is up; kubeconfig:", d.env.Kubeconfig)
	crd, err := testenv.PolicyReportCRD()
	if err != nil {
		return err
	}
	if err := d.env.InstallCRDs(crd); err != nil {
		return err
	}
	fmt.Printf("PolicyReport CRD (wgpolicyk8s.io/v1alpha2) installed from %s\n", testenv.PolicyReportModule)

	title("2. ha-webhook serve, with a development CA and serving certificate for 127.0.0.1")
	bin, err := testenv.BuildWebhook(ctx, d.dir, testenv.BuildDev)
	if err != nil {
		return err
	}
	d.certsDir = filepath.Join(root, "certs")
	caPEM, err := devcert.Write(d.certsDir, []string{"127.0.0.1", "localhost"}, 7*24*time.Hour)
	if err != nil {
		return err
	}
	fmt.Println("certificates in", d.certsDir)
	serve, err := d.startServe(ctx, bin)
	if err != nil {
		return err
	}
	defer serve()

	title("3. Webhook configurations (the chart's rules, selector and matchConditions) and two opted-in namespaces")
	o := d.env.WebhookOptions()
	o.ClientConfig = func(path string) admissionregistrationv1.WebhookClientConfig {
		url := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) + path
		return admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caPEM}
	}
	if err := d.env.Register(ctx, o); err != nil {
		return err
	}
	d.kubectl(ctx, "", "create", "namespace", "shop")
	d.kubectl(ctx, "", "label", "namespace", "shop", names.LabelEnabled+"=true")
	d.kubectl(ctx, "", "create", "namespace", "shop-audit")
	d.kubectl(ctx, "", "label", "namespace", "shop-audit", names.LabelEnabled+"=true", names.LabelMode+"=audit")

	title("4. A compliant Deployment (examples/compliant/web.yaml) is admitted")
	d.kubectl(ctx, "", "apply", "-f", filepath.Join(root, "examples/compliant/web.yaml"))

	title("5. Its pod, as the ReplicaSet controller would create it, is stored mutated")
	if err := d.createPodFromDeployment(ctx, "shop", "web"); err != nil {
		return err
	}
	d.kubectl(ctx, "", "get", "pod", "web-demo", "-n", "shop", "-o", "jsonpath="+
		`readinessProbe: {.spec.containers[0].readinessProbe}{"\n"}`+
		`preStop:        {.spec.containers[0].lifecycle.preStop}{"\n"}`+
		`grace period:   {.spec.terminationGracePeriodSeconds}{"\n"}`+
		`injected:       {.metadata.annotations.ha-webhook\.io/injected}{"\n"}`)

	title("6. Non-compliant Deployments (examples/noncompliant/) are denied in the enforcing namespace")
	files, _ := filepath.Glob(filepath.Join(root, "examples/noncompliant/*.yaml"))
	for _, f := range files {
		fmt.Printf("\n$ kubectl apply -f examples/noncompliant/%s\n", filepath.Base(f))
		d.kubectl(ctx, "", "apply", "-f", f)
	}

	title("7. The same manifests in the audit-mode namespace: admitted, with warnings")
	for _, f := range files {
		manifest, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		audit := regexp.MustCompile(`(?m)^(\s*namespace:\s*)shop\s*$`).ReplaceAllString(string(manifest), "${1}shop-audit")
		fmt.Printf("\n$ kubectl apply -f examples/noncompliant/%s   (namespace shop-audit)\n", filepath.Base(f))
		d.kubectl(ctx, audit, "apply", "-f", "-")
	}

	title("8. The audit inside serve: what the next node upgrade would do, as gauges and PolicyReports")
	d.waitForAudit(ctx)
	d.metrics("ha_webhook_audit_")
	fmt.Println("\n$ kubectl get policyreports -A")
	d.kubectl(ctx, "", "get", "policyreports", "-A")

	title("9. kubectl delete pdb web -n shop: the PDB delete is never denied; the audit sees it")
	fmt.Println("before:")
	d.metrics(`ha_webhook_audit_workload`, `namespace="shop"`)
	fmt.Println("\n$ kubectl delete pdb web -n shop")
	d.kubectl(ctx, "", "delete", "pdb", "web", "-n", "shop")
	d.waitForAudit(ctx)
	fmt.Println("\nafter:")
	d.metrics(`ha_webhook_audit_workload`, `namespace="shop"`)
	fmt.Println("\n$ kubectl get events -n shop --field-selector reason=NonCompliant")
	d.kubectl(ctx, "", "get", "events", "-n", "shop", "--field-selector", "reason=NonCompliant", "-o",
		"custom-columns=OBJECT:.involvedObject.name,TYPE:.type,REASON:.reason,MESSAGE:.message")
	fmt.Println("\n$ kubectl get policyreport ha-webhook -n shop")
	d.kubectl(ctx, "", "get", "policyreport", "ha-webhook", "-n", "shop")

	title("10. Admission metrics of the webhook")
	for _, name := range []string{"ha_webhook_mutations_total", "ha_webhook_violations_total", "ha_webhook_exemptions_total", "ha_webhook_serving_certificate_expiry_timestamp_seconds"} {
		d.metrics(name)
	}

	if d.keep {
		title("Still running; press Ctrl-C to stop everything")
		fmt.Printf("export KUBECONFIG=%s\n", d.env.Kubeconfig)
		fmt.Printf("curl --cacert certs/ca.crt -H 'Content-Type: application/json' --data @examples/admission-review/pod.json https://127.0.0.1:%d%s\n", d.port, names.PathMutatePod)
		fmt.Printf("curl --cacert certs/ca.crt -H 'Content-Type: application/json' --data @examples/admission-review/deployment.json https://127.0.0.1:%d%s\n", d.port, names.PathValidateDeployment)
		<-ctx.Done()
	}
	return nil
}

// startServe runs the real binary as a separate process and returns a function that stops it with SIGTERM.
func (d *demo) startServe(ctx context.Context, bin string) (func(), error) {
	health, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	metricsPort, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	d.metricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	logPath := filepath.Join(d.dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--kubeconfig", d.env.Kubeconfig,
		"--webhook-host", "127.0.0.1", "--webhook-port", strconv.Itoa(d.port), "--webhook-cert-path", d.certsDir,
		"--health-probe-bind-address", "127.0.0.1:" + strconv.Itoa(health), "--metrics-bind-address", "127.0.0.1:" + strconv.Itoa(metricsPort),
		"--shutdown-delay", "1s", "--client-idle-timeout", "0s", "--audit-debounce", "500ms", "--policy-reports"}
	fmt.Printf("$ ha-webhook %s\n", strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		fmt.Println("\nstopping ha-webhook (SIGTERM: readiness drops, requests drain)")
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
		}
		logFile.Close()
	}
	if err := testenv.WaitReady(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", health), exited); err != nil {
		stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w; its log:\n%s", err, log)
	}
	fmt.Println("ready: /readyz answers 200 (webhook server serving, caches synced)")
	return stop, nil
}

// createPodFromDeployment creates the pod the Deployment's ReplicaSet would create (no controller-manager runs).
func (d *demo) createPodFromDeployment(ctx context.Context, ns, name string) error {
	dep := &appsv1.Deployment{}
	if err := d.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, dep); err != nil {
		return err
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-demo", Namespace: ns, Labels: dep.Spec.Template.Labels,
			Annotations: dep.Spec.Template.Annotations},
		Spec: dep.Spec.Template.Spec,
	}
	return d.env.Client.Create(ctx, pod)
}

// kubectl runs kubectl and prints its output as a user would see it; a failure (e.g. a denial) is shown, not fatal.
func (d *demo) kubectl(ctx context.Context, stdin string, args ...string) {
	cmd := exec.CommandContext(ctx, d.env.Kubectl(), append([]string{"--kubeconfig", d.env.Kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	fmt.Print(out.String())
	if err != nil {
		fmt.Printf("(kubectl exited: %v)\n", err)
	}
}

// metrics prints the series of ha-webhook whose line starts with the first pattern and contains the others.
func (d *demo) metrics(prefix string, contains ...string) {
	body, err := d.scrape()
	if err != nil {
		fmt.Println("metrics:", err)
		return
	}
lines:
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, c := range contains {
			if !strings.Contains(line, c) {
				continue lines
			}
		}
		fmt.Println(line)
	}
}

func (d *demo) scrape() (string, error) {
	resp, err := http.Get(d.metricsURL)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// waitForAudit waits until an audit completes after now (the server audits within --audit-debounce of a change).
func (d *demo) waitForAudit(ctx context.Context) {
	since := float64(time.Now().UnixNano()) / 1e9
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		body, _ := d.scrape()
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, "ha_webhook_audit_last_completed_timestamp_seconds "); ok {
				if t, err := strconv.ParseFloat(v, 64); err == nil && t > since {
					return
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Println("(no audit completed within 20 s)")
}

func title(s string) { fmt.Printf("\n\033[1m== %s\033[0m\n", s) }
