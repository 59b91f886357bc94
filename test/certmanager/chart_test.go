package certmanager

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/test/certmanager/controllers"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

const (
	// release and releaseNS make the chart's objects ha-webhook-ca, ha-webhook-serving, ha-webhook-tls…
	release   = "ha-webhook"
	releaseNS = "ha-webhook"
	// appNS is the opted-in namespace the pods are created in.
	appNS = "shop"
	// kubeVersion is the API server testenv builds; helm template assumes it.
	kubeVersion = "v1.37.2"
	// loadRate is pod creations per second during the renewals.
	loadRate = 60
	// kubeletDelay is how long after cert-manager writes the Secret the "kubelet" updates the volume (see kubelet).
	kubeletDelay = 2 * time.Second
	// settle is how long the load keeps running after the new certificate is served, so that a late failure counts.
	settle = 2 * time.Second
)

// values are the chart values the test installs with: tls.mode stays the default (certManager); the pods webhook
// fails closed so that a failed webhook call is a failed pod creation instead of a pod silently left unmutated.
const values = `
webhooks:
  pods:
    failurePolicy: Fail
`

// TestChartTLSWithCertManager runs the chart's certificate chain with cert-manager's own controllers and cainjector
// and, under 60 pod creations per second, renews the serving certificate, then the CA, and measures what each
// rotation costs: as the chart configures it with a healthy cert-manager v1.21 (must be nothing), with a cainjector
// that replaces caBundle instead of merging into it and with a cainjector that is down during the rotation (the
// costs the chart's CA Certificate leaves open), and with the CA's private key kept across renewals (the fix).
func TestChartTLSWithCertManager(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tl := newTimeline(t)
	certs := newCertNames()

	// 1. Control plane, cert-manager's CRDs from its module, its controller and cainjector in this process.
	tl.logf("step 1: kube-apiserver + etcd, cert-manager CRDs, cert-manager controller and cainjector")
	built := make(chan error, 1)
	binDir := t.TempDir()
	var webhookBin string
	go func() {
		var err error
		webhookBin, err = testenv.BuildWebhook(ctx, binDir, testenv.BuildDev)
		built <- err
	}()
	env, err := testenv.Start("helm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Logf("stopping the control plane: %v", err)
		}
	})
	crdDir, err := certManagerCRDs()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{crdDir}, ErrorIfPathMissing: true})
	if err != nil {
		t.Fatalf("installing cert-manager CRDs from %s: %v", crdDir, err)
	}
	tl.logf("installed %d cert-manager CRDs from %s", len(crds), crdDir)

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(cmapi.AddToScheme(scheme))
	c, err := client.NewWithWatch(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cmOpts := controllers.Options{Kubeconfig: env.Kubeconfig}
	cm, err := controllers.StartController(ctx, cmOpts)
	if err != nil {
		t.Fatal(err)
	}
	inj, err := controllers.StartCAInjector(ctx, cmOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := errors.Join(inj.Stop(), cm.Stop()); err != nil {
			t.Errorf("cert-manager: %v", err)
		}
		if err := controllers.SetCAInjectorMerging(true); err != nil { // the default, for whatever runs next
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("cert-manager controller log (last 12 KB):\n%s", testenv.Tail(controllerLog.String(), 12<<10))
		}
	})
	tl.logf("cert-manager started: controller (%s) and cainjector (Mutating/ValidatingWebhookConfiguration)",
		strings.Join(controllers.Names, ", "))

	bg := &background{}
	t.Cleanup(bg.stop) // before cert-manager and the control plane stop (cleanups run last first)
	obs := &observer{c: c, ns: releaseNS, hooks: release, tl: tl, names: certs}
	bg.go_(ctx, obs.run)

	// 2. The chart, rendered with helm template and applied: Issuers, Certificates, both webhook configurations.
	tl.logf("step 2: helm template (tls.mode=certManager, pods webhook failurePolicy Fail) and apply")
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := renderChart(t, filepath.Join(env.Assets, "helm"))
	caCert, servingCert := r.certificate(t, release+"-ca"), r.certificate(t, release+"-serving")
	if servingCert.Spec.IsCA || !caCert.Spec.IsCA {
		t.Fatalf("rendered Certificates: want %s a CA and %s not", caCert.Name, servingCert.Name)
	}
	// The API server calls https://127.0.0.1:PORT here, not the Service, so the certificate needs that IP SAN. The
	// chart has no value for extra SANs (its dnsNames are the Service's four names only, templates/_helpers.tpl
	// ha-webhook.dnsNames), so it is added to the rendered Certificate; nothing else about the chain changes.
	if !containsString(servingCert.Spec.IPAddresses, "127.0.0.1") {
		servingCert.Spec.IPAddresses = append(servingCert.Spec.IPAddresses, "127.0.0.1")
		tl.logf("patched the rendered Certificate %s: ipAddresses += 127.0.0.1 (the chart has no value for extra SANs)", servingCert.Name)
	}
	base := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	mwc, vwc := r.mutating(t), r.validating(t)
	injectFrom := releaseNS + "/" + servingCert.Name
	for _, obj := range []metav1.Object{mwc, vwc} {
		if got := obj.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != injectFrom {
			t.Fatalf("%s: cert-manager.io/inject-ca-from = %q, want %q", obj.GetName(), got, injectFrom)
		}
	}
	// No kubelet runs the Deployment: the webhook is a local process, so clientConfig points at it, same paths.
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig = localClientConfig(t, base, mwc.Webhooks[i].ClientConfig)
	}
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig = localClientConfig(t, base, vwc.Webhooks[i].ClientConfig)
	}
	for _, ns := range []*corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: releaseNS}},
		{ObjectMeta: metav1.ObjectMeta{Name: appNS, Labels: map[string]string{names.LabelEnabled: "true"}}},
	} {
		if err := c.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	// In the chart's order: the self-signed Issuer, the CA Certificate, the CA Issuer, the serving Certificate.
	for _, obj := range append(r.objects(t, "Issuer", "Certificate"), mwc, vwc) {
		if crt, ok := obj.(*cmapi.Certificate); ok && crt.Name == servingCert.Name {
			obj = servingCert
		}
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("applying %T %s: %v", obj, obj.GetName(), err)
		}
		tl.logf("applied %s/%s", kindOf(obj), obj.GetName())
	}

	// 3. Issuance and injection.
	tl.logf("step 3: waiting for issuance (CA, then serving certificate) and caBundle injection")
	caKey := types.NamespacedName{Namespace: releaseNS, Name: caCert.Spec.SecretName}
	servingKey := types.NamespacedName{Namespace: releaseNS, Name: servingCert.Spec.SecretName}
	waitFor(t, ctx, 60*time.Second, "the serving Certificate Ready", func() (bool, error) {
		return certificateReady(ctx, c, releaseNS, servingCert.Name)
	})
	ca1 := secretData(t, ctx, c, caKey)
	serving1 := secretData(t, ctx, c, servingKey)
	if !sameCerts(serving1["ca.crt"], ca1[corev1.TLSCertKey]) {
		t.Fatalf("serving Secret ca.crt %s is not the CA %s", certs.describeBundle(serving1["ca.crt"]), certs.describeBundle(ca1[corev1.TLSCertKey]))
	}
	leaf1 := mustCert(t, serving1)
	if !containsIP(leaf1, "127.0.0.1") {
		t.Fatalf("issued certificate %s has IP SANs %v, want 127.0.0.1", certs.describe(leaf1), leaf1.IPAddresses)
	}
	waitFor(t, ctx, 60*time.Second, "caBundle = the CA on both webhook configurations", func() (bool, error) {
		got, err := caBundles(ctx, c)
		return err == nil && sameCerts(got, ca1[corev1.TLSCertKey]), err
	})
	tl.logf("issued: CA %s, serving %s; caBundle of both webhook configurations is the CA",
		certs.describeBundle(ca1[corev1.TLSCertKey]), certs.describe(leaf1))

	vol := &secretVolume{dir: filepath.Join(t.TempDir(), "serving-cert")}
	kub := &kubelet{c: c, secret: servingKey, vol: vol, delay: kubeletDelay, tl: tl, names: certs}
	if err := kub.mount(ctx); err != nil {
		t.Fatal(err)
	}
	bg.go_(ctx, func(ctx context.Context) {
		if err := kub.run(ctx); err != nil {
			t.Errorf("kubelet: %v", err)
		}
	})
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	serveLog := startServe(t, webhookBin, r.serveArgs(t), env.Kubeconfig, port, vol.dir)
	tl.logf("ha-webhook serve (the chart's args) is ready on 127.0.0.1:%d, certificate from %s", port, vol.dir)
	prb := &prober{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), trust: obs.podsCABundle, tl: tl, names: certs}
	bg.go_(ctx, prb.run)

	// 4. Pods through the API server, mutated: the API server called the webhook and trusted it through the chain.
	tl.logf("step 4: pods in the opted-in namespace %s", appNS)
	waitFor(t, ctx, 30*time.Second, "the API server calling the webhook", func() (bool, error) {
		p := testPod("probe-")
		if err := c.Create(ctx, p, client.DryRunAll); err != nil {
			return false, nil // the API server's webhook client has not caught up with the caBundle yet
		}
		return p.Annotations[names.AnnotationInjected] != "", nil
	})
	for i := range 3 {
		p := testPod(fmt.Sprintf("pod-%d-", i))
		if err := c.Create(ctx, p); err != nil {
			t.Fatalf("creating a pod in %s: %v", appNS, err)
		}
		ctr := p.Spec.Containers[0]
		if p.Annotations[names.AnnotationInjected] == "" || ctr.ReadinessProbe == nil || ctr.Lifecycle == nil || ctr.Lifecycle.PreStop == nil {
			t.Fatalf("pod %s was not mutated: annotations %v, container %+v", p.Name, p.Annotations, ctr)
		}
		tl.logf("pod %s/%s created, mutated: %s=%q", appNS, p.Name, names.AnnotationInjected, p.Annotations[names.AnnotationInjected])
	}

	// 5. Renewal of the serving certificate under load, as `cmctl renew` triggers it.
	loadCfg := rest.CopyConfig(env.Config)
	loadCfg.QPS, loadCfg.Burst = -1, 0 // no client-side throttling: the rate is the generator's
	loadClient, err := client.New(loadCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	load := (&loadGen{c: loadClient, ns: appNS, rate: loadRate, workers: 32}).start()
	tl.logf("step 5: load started, %d pod creations/s", loadRate)
	ph := &phases{tl: tl}
	ph.begin("baseline (first serving certificate)", false)
	time.Sleep(3 * time.Second)

	rot := &rotator{t: t, ctx: ctx, c: c, tl: tl, certs: certs, prober: prb, ca: caCert.Name, serving: servingCert.Name,
		caSecret: caKey, servingSecret: servingKey, caData: ca1, leaf: leaf1}
	ph.begin("serving renewal, same CA (cmctl renew)", false)
	leaf2 := rot.renewServing()
	if leaf2.SerialNumber.Cmp(leaf1.SerialNumber) == 0 {
		t.Fatalf("the served serial did not change: %s", shortSerial(leaf2))
	}
	tl.logf("served serial changed: %s -> %s", certs.describe(leaf1), certs.describe(leaf2))
	checkCABundle(t, ctx, c, certs, ca1[corev1.TLSCertKey], "unchanged: the same CA signed the new certificate")
	time.Sleep(settle)

	// 6. The CA's renewal, as the chart renders its Certificate: no privateKey.rotationPolicy, so cert-manager's
	// default (Always) gives the renewed CA a new key. The chart injects from the serving Certificate, whose Secret
	// keeps the old ca.crt until the serving certificate is renewed: caBundle must not move at the CA's renewal.
	tl.logf("step 6: CA rotation. As rendered: CA Certificate duration %s, renewBefore %s, privateKey.rotationPolicy %q "+
		"(unset renewBefore: cert-manager renews at 2/3 of the duration; unset rotationPolicy: Always); serving "+
		"Certificate duration %s, renewBefore %s", durationOf(caCert.Spec.Duration), durationOf(caCert.Spec.RenewBefore),
		rotationPolicy(caCert), durationOf(servingCert.Spec.Duration), durationOf(servingCert.Spec.RenewBefore))
	ph.begin("CA renewal as rendered (new CA key)", false)
	ca2 := rot.renewCA()
	time.Sleep(3 * time.Second)
	checkCABundle(t, ctx, c, certs, ca1[corev1.TLSCertKey], "the serving Secret's ca.crt is still the old CA")

	ph.begin("serving renewal after it, cainjector merging (v1.21 default)", false)
	rot.renewServing()
	time.Sleep(settle)
	checkCABundle(t, ctx, c, certs, concatPEM(ca1[corev1.TLSCertKey], ca2[corev1.TLSCertKey]),
		"the new CA appended, the old one kept until it expires (CAInjectorMerging)")

	// 6, what the chart's default leaves to chance. (a) A cainjector that replaces caBundle instead of merging:
	// --feature-gates=CAInjectorMerging=false, and what cainjector did before the gate. (b) The cainjector down while
	// the serving certificate is renewed after a CA renewal (its pod evicted by the very node drain ha-webhook is
	// for): the webhook moves to the certificate of the new CA while caBundle still holds only the old ones. Both
	// must lose admissions with a new CA key: these phases are the evidence, and show that this harness sees a
	// broken chain.
	tl.logf("step 6, counterfactual a: a replacing cainjector (CAInjectorMerging=false)")
	if err := controllers.SetCAInjectorMerging(false); err != nil {
		t.Fatal(err)
	}
	ph.begin("replacing cainjector: CA renewal (new key), then serving renewal", true)
	ca3 := rot.renewCA()
	time.Sleep(time.Second)
	rot.renewServing()
	time.Sleep(settle)
	checkCABundle(t, ctx, c, certs, ca3[corev1.TLSCertKey], "replaced by the new CA alone")
	if err := controllers.SetCAInjectorMerging(true); err != nil {
		t.Fatal(err)
	}

	// rotateWithoutInjector renews the CA, then the serving certificate, while the cainjector is down for
	// cainjectorOutage (its pod evicted by the very drain ha-webhook is for), and waits until, back, it has merged the
	// new CA after prev into caBundle. It returns the new CA's Secret data.
	rotateWithoutInjector := func(prev map[string][]byte, what string) map[string][]byte {
		t.Helper()
		downSince := time.Now()
		if err := inj.Stop(); err != nil {
			t.Fatal(err)
		}
		tl.logf("cainjector stopped")
		ca := rot.renewCA()
		time.Sleep(time.Second)
		rot.renewServing()
		// Back after the outage, and never before the webhook served the new certificate for a second.
		time.Sleep(max(cainjectorOutage-time.Since(downSince), time.Second))
		if inj, err = controllers.StartCAInjector(ctx, cmOpts); err != nil {
			t.Fatal(err)
		}
		tl.logf("cainjector restarted after %s", time.Since(downSince).Round(time.Millisecond))
		waitFor(t, ctx, 30*time.Second, what, func() (bool, error) {
			got, err := caBundles(ctx, c)
			return err == nil && sameCerts(got, concatPEM(prev[corev1.TLSCertKey], ca[corev1.TLSCertKey])), err
		})
		time.Sleep(settle)
		return ca
	}

	tl.logf("step 6, counterfactual b: the cainjector down during the rotation (merging on)")
	ph.begin("cainjector down: CA renewal (new key), then serving renewal", true)
	ca4 := rotateWithoutInjector(ca3, "caBundle with the new CA")

	// 6, the fix: the CA Certificate with privateKey.rotationPolicy: Never. A renewed CA keeps its key and subject,
	// so a certificate signed before the renewal verifies against the new CA certificate and the reverse: the order
	// in which caBundle and the pods' volumes change no longer matters.
	tl.logf("step 6, fix: privateKey.rotationPolicy: Never on the CA Certificate")
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var crt cmapi.Certificate
		if err := c.Get(ctx, types.NamespacedName{Namespace: releaseNS, Name: caCert.Name}, &crt); err != nil {
			return err
		}
		if crt.Spec.PrivateKey == nil {
			crt.Spec.PrivateKey = &cmapi.CertificatePrivateKey{}
		}
		crt.Spec.PrivateKey.RotationPolicy = cmapi.RotationPolicyNever
		return c.Update(ctx, &crt)
	}); err != nil {
		t.Fatal(err)
	}
	if err := controllers.SetCAInjectorMerging(false); err != nil {
		t.Fatal(err)
	}
	ph.begin("fix, replacing cainjector: CA renewal (same key), then serving renewal", false)
	ca5 := rot.renewCA()
	if keyID(mustCert(t, ca5)) != keyID(mustCert(t, ca4)) {
		t.Errorf("with rotationPolicy Never the renewed CA %s has a new key", certs.describeBundle(ca5[corev1.TLSCertKey]))
	}
	time.Sleep(time.Second)
	rot.renewServing()
	time.Sleep(settle)
	checkCABundle(t, ctx, c, certs, ca5[corev1.TLSCertKey], "replaced by the renewed CA alone")
	if err := controllers.SetCAInjectorMerging(true); err != nil {
		t.Fatal(err)
	}

	ph.begin("fix, cainjector down: CA renewal (same key), then serving renewal", false)
	rotateWithoutInjector(ca5, "caBundle with the renewed CA")

	outcomes, backlog := load.finish()
	bg.stop()

	// Figures.
	ts := tallyPhases(outcomes, ph.list)
	trust := prb.tally(ph.list)
	var sent, answered, failed, unmutated, probes, untrusted int
	var perPhase []string
	for i, x := range ts {
		sent, answered, failed, unmutated = sent+x.sent, answered+x.answered, failed+x.failed, unmutated+x.unmutated
		probes, untrusted = probes+trust[i].probes, untrusted+trust[i].failed
		perPhase = append(perPhase, fmt.Sprintf("%d=%d", i, x.failed))
	}
	t.Logf("figures: sent %d, answered %d, failed %d (by phase: %s), answered unmutated %d, generator backlog %d; "+
		"new-connection checks %d, would have failed %d (and %d probe handshakes timed out or were refused); "+
		"%d pod creations/s, kubelet delay %s, cainjector outages %s",
		sent, answered, failed, strings.Join(perPhase, " "), unmutated, backlog, probes, untrusted, prb.handshakeErrors(),
		loadRate, kubeletDelay, cainjectorOutage)
	for i, x := range ts {
		t.Logf("  %d %s", i, x.format(tl))
		tt := trust[i]
		line := fmt.Sprintf("      new connections: %d checks, %d would have failed", tt.probes, tt.failed)
		if tt.failed > 0 {
			line += fmt.Sprintf(" (from %s to %s, %s)", tl.at(tt.firstFail), tl.at(tt.lastFail), tt.lastFail.Sub(tt.firstFail).Round(time.Millisecond))
		}
		t.Log(line)
		for e, n := range x.errors {
			t.Logf("      %d× %s", n, e)
		}
	}
	t.Logf("cert-manager controller log, issuance and injection lines:\n%s", excerpt(controllerLog.String()))
	t.Logf("ha-webhook serve log, certificate lines:\n%s", excerptServe(serveLog.String()))

	// The chart as configured, cert-manager healthy, and the fix: no pod creation may fail, and no new connection
	// may fail at any moment. The counterfactual phases must show a moment when a new connection fails (else this
	// harness would not see a broken chain); how many pod creations they lose depends on connection reuse and is
	// reported, not asserted.
	for i, x := range ts {
		if x.unmutated != 0 {
			t.Errorf("phase %d %s: %d pods were created without mutation (failurePolicy is Fail: that must not happen)", i, x.phase, x.unmutated)
		}
		switch {
		case !ph.wantFailures[i] && (x.failed != 0 || trust[i].failed != 0):
			t.Errorf("phase %d %s: %d of %d pod creations failed, %d of %d new-connection checks failed", i, x.phase,
				x.failed, x.sent, trust[i].failed, trust[i].probes)
		case ph.wantFailures[i] && trust[i].failed == 0:
			t.Errorf("phase %d %s: no new-connection check failed, but the webhook served a certificate of a new CA key "+
				"while caBundle lacked it: the measurement is broken", i, x.phase)
		}
	}
	if backlog != 0 {
		t.Errorf("the load generator skipped %d ticks (every worker busy): the rate was not held", backlog)
	}
}

// cainjectorOutage is how long the cainjector is down in the phases that stop it: longer than the kubelet's delay,
// so that the webhook serves the new certificate before the cainjector is back, as it would with a pod rescheduled
// during a node drain (tens of seconds in a cluster).
const cainjectorOutage = 6 * time.Second

// phases records the named stretches of the load and whether each is expected to lose admissions.
type phases struct {
	tl           *timeline
	list         []phase
	wantFailures []bool
}

func (p *phases) begin(name string, wantFailures bool) {
	p.list = append(p.list, phase{name: name, start: time.Now()})
	p.wantFailures = append(p.wantFailures, wantFailures)
	p.tl.logf("── phase %d: %s", len(p.list)-1, name)
}

// rotator renews the chart's Certificates as `cmctl renew` does and waits for the results.
type rotator struct {
	t                       *testing.T
	ctx                     context.Context
	c                       client.Client
	tl                      *timeline
	certs                   *certNames
	prober                  *prober
	ca, serving             string
	caSecret, servingSecret types.NamespacedName
	caData                  map[string][]byte
	leaf                    *x509.Certificate
}

// renewServing renews the serving Certificate and waits until cert-manager wrote a new certificate into its Secret
// and ha-webhook serves it (after the kubelet's delay); it returns the new leaf.
func (r *rotator) renewServing() *x509.Certificate {
	t := r.t
	t.Helper()
	renew(t, r.ctx, r.c, r.tl, r.serving)
	var data map[string][]byte
	waitFor(t, r.ctx, 60*time.Second, "a new certificate in "+r.servingSecret.Name, func() (bool, error) {
		var s corev1.Secret
		if err := r.c.Get(r.ctx, r.servingSecret, &s); err != nil {
			return false, err
		}
		leaf, err := firstCert(s.Data[corev1.TLSCertKey])
		if err != nil {
			return false, nil
		}
		data = s.Data
		return !r.leaf.Equal(leaf), nil
	})
	leaf := mustCert(t, data)
	waitFor(t, r.ctx, 60*time.Second, "the Certificate "+r.serving+" Ready", func() (bool, error) {
		return certificateReady(r.ctx, r.c, releaseNS, r.serving)
	})
	waitFor(t, r.ctx, kubeletDelay+30*time.Second, "ha-webhook serving "+r.certs.name(leaf), func() (bool, error) {
		served, _ := r.prober.served()
		return served != nil && served.Equal(leaf), nil
	})
	r.leaf = leaf
	return leaf
}

// renewCA renews the CA Certificate and waits until its Secret holds a new CA certificate and the Certificate is
// Ready again; it returns the Secret's data.
func (r *rotator) renewCA() map[string][]byte {
	t := r.t
	t.Helper()
	renew(t, r.ctx, r.c, r.tl, r.ca)
	var data map[string][]byte
	waitFor(t, r.ctx, 60*time.Second, "a new CA in "+r.caSecret.Name, func() (bool, error) {
		var s corev1.Secret
		if err := r.c.Get(r.ctx, r.caSecret, &s); err != nil {
			return false, err
		}
		data = s.Data
		return len(s.Data[corev1.TLSCertKey]) > 0 && !sameCerts(s.Data[corev1.TLSCertKey], r.caData[corev1.TLSCertKey]), nil
	})
	waitFor(t, r.ctx, 60*time.Second, "the Certificate "+r.ca+" Ready", func() (bool, error) {
		return certificateReady(r.ctx, r.c, releaseNS, r.ca)
	})
	old, renewed := mustCert(t, r.caData), mustCert(t, data)
	r.tl.logf("CA renewed: %s -> %s, same private key: %v", r.certs.describe(old), r.certs.describe(renewed), keyID(old) == keyID(renewed))
	r.caData = data
	return data
}

// background runs the test's watchers and stops them (waiting) before the test returns: t.Log after a test ends
// panics.
type background struct {
	cancels []context.CancelFunc
	done    []chan struct{}
}

func (b *background) go_(ctx context.Context, f func(context.Context)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.cancels, b.done = append(b.cancels, cancel), append(b.done, done)
	go func() {
		defer close(done)
		f(ctx)
	}()
}

func (b *background) stop() {
	for _, cancel := range b.cancels {
		cancel()
	}
	for _, d := range b.done {
		<-d
	}
	b.cancels, b.done = nil, nil
}

// renew is `cmctl renew`: the Issuing condition set True with reason ManuallyTriggered through the status
// subresource; cert-manager's issuing controllers take it from there.
func renew(t *testing.T, ctx context.Context, c client.Client, tl *timeline, name string) {
	t.Helper()
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var crt cmapi.Certificate
		if err := c.Get(ctx, types.NamespacedName{Namespace: releaseNS, Name: name}, &crt); err != nil {
			return err
		}
		if apiutil.CertificateHasCondition(&crt, cmapi.CertificateCondition{Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue}) {
			return fmt.Errorf("certificate %s is already being issued", name) // cmctl renew refuses too
		}
		apiutil.SetCertificateCondition(&crt, crt.Generation, cmapi.CertificateConditionIssuing, cmmeta.ConditionTrue,
			"ManuallyTriggered", "Certificate re-issuance manually triggered")
		return c.Status().Update(ctx, &crt)
	}); err != nil {
		t.Fatalf("renewing %s: %v", name, err)
	}
	tl.logf("renew: Certificate %s Issuing=True (ManuallyTriggered), as cmctl renew sets it", name)
}

func certificateReady(ctx context.Context, c client.Client, ns, name string) (bool, error) {
	var crt cmapi.Certificate
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &crt); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return apiutil.CertificateHasCondition(&crt, cmapi.CertificateCondition{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue}) &&
		!apiutil.CertificateHasCondition(&crt, cmapi.CertificateCondition{Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue}), nil
}

// checkCABundle checks that every webhook of both configurations has exactly want as its caBundle.
func checkCABundle(t *testing.T, ctx context.Context, c client.Client, certs *certNames, want []byte, what string) {
	t.Helper()
	got, err := caBundles(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !sameCerts(got, want) {
		t.Errorf("caBundle %s, want %s (%s)", certs.describeBundle(got), certs.describeBundle(want), what)
	}
}

// caBundles is the caBundle every webhook of both configurations has, or an error when they differ.
func caBundles(ctx context.Context, c client.Client) ([]byte, error) {
	var m admissionregistrationv1.MutatingWebhookConfiguration
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, types.NamespacedName{Name: release}, &m); err != nil {
		return nil, err
	}
	if err := c.Get(ctx, types.NamespacedName{Name: release}, &v); err != nil {
		return nil, err
	}
	var bundles [][]byte
	for _, w := range m.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, w := range v.Webhooks {
		bundles = append(bundles, w.ClientConfig.CABundle)
	}
	for _, b := range bundles[1:] {
		if !bytes.Equal(b, bundles[0]) {
			return nil, nil // in between: the cainjector patches one configuration after the other
		}
	}
	return bundles[0], nil
}

func concatPEM(blocks ...[]byte) []byte { return bytes.Join(blocks, nil) }

func waitFor(t *testing.T, ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func secretData(t *testing.T, ctx context.Context, c client.Client, key types.NamespacedName) map[string][]byte {
	t.Helper()
	var s corev1.Secret
	if err := c.Get(ctx, key, &s); err != nil {
		t.Fatalf("secret %s: %v", key, err)
	}
	return s.Data
}

func mustCert(t *testing.T, data map[string][]byte) *x509.Certificate {
	t.Helper()
	c, err := firstCert(data[corev1.TLSCertKey])
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func testPod(generateName string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: generateName, Namespace: appNS},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}}}}},
	}
}

// localClientConfig points a rendered clientConfig (the chart's Service) at the local server, same path, and
// leaves caBundle to the cainjector.
func localClientConfig(t *testing.T, base string, cc admissionregistrationv1.WebhookClientConfig) admissionregistrationv1.WebhookClientConfig {
	t.Helper()
	if cc.Service == nil || cc.Service.Path == nil {
		t.Fatalf("rendered clientConfig %+v: want a Service with a path", cc)
	}
	if len(cc.CABundle) != 0 {
		t.Fatalf("rendered clientConfig has a caBundle already; with tls.mode=certManager the cainjector sets it")
	}
	url := base + *cc.Service.Path
	return admissionregistrationv1.WebhookClientConfig{URL: &url}
}
