package certmanager

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// timeline is the test's log: every line stamped with the wall clock and the time since the test started, kept for
// the summary. The goroutines that write to it are stopped before the test returns.
type timeline struct {
	t     *testing.T
	start time.Time
	mu    sync.Mutex
	lines []string
}

func newTimeline(t *testing.T) *timeline { return &timeline{t: t, start: time.Now()} }

func (tl *timeline) logf(format string, args ...any) {
	now := time.Now()
	line := fmt.Sprintf("%s +%7.3fs  %s", now.Format("15:04:05.000"), now.Sub(tl.start).Seconds(), fmt.Sprintf(format, args...))
	tl.mu.Lock()
	tl.lines = append(tl.lines, line)
	tl.mu.Unlock()
	tl.t.Log(line)
}

// since formats a moment relative to the start of the test.
func (tl *timeline) at(t time.Time) string { return fmt.Sprintf("+%.3fs", t.Sub(tl.start).Seconds()) }

// observer watches what cert-manager does in the release namespace and what the cainjector does to the webhook
// configurations, and logs every change: Certificate conditions and revisions, the certificates in the CA and
// serving Secrets, cert-manager's Events (its own record of issuance), and the CAs in each configuration's caBundle.
type observer struct {
	c     client.WithWatch
	ns    string
	hooks string // name of both webhook configurations
	tl    *timeline
	names *certNames

	mu   sync.Mutex
	seen map[string]string
	pods []byte // caBundle of the pods webhook, the one the load goes through
}

// podsCABundle is the pods webhook's caBundle as last seen.
func (o *observer) podsCABundle() []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pods
}

func (o *observer) run(ctx context.Context) {
	o.seen = map[string]string{}
	var wg sync.WaitGroup
	watchers := []struct {
		list   client.ObjectList
		opts   []client.ListOption
		handle func(watch.Event)
	}{
		{&cmapi.CertificateList{}, []client.ListOption{client.InNamespace(o.ns)}, o.certificate},
		{&corev1.SecretList{}, []client.ListOption{client.InNamespace(o.ns)}, o.secret},
		{&corev1.EventList{}, []client.ListOption{client.InNamespace(o.ns)}, o.event},
		{&admissionregistrationv1.MutatingWebhookConfigurationList{}, nil, o.webhookConfiguration},
		{&admissionregistrationv1.ValidatingWebhookConfigurationList{}, nil, o.webhookConfiguration},
	}
	for _, w := range watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o.watch(ctx, w.list, w.opts, w.handle)
		}()
	}
	wg.Wait()
}

// watch re-opens a watch that the API server ends; the ADDED events a new watch starts with are de-duplicated by
// change (logOnce).
func (o *observer) watch(ctx context.Context, list client.ObjectList, opts []client.ListOption, handle func(watch.Event)) {
	for ctx.Err() == nil {
		w, err := o.c.Watch(ctx, list, opts...)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				break
			}
			handle(ev)
		}
		w.Stop()
	}
}

// logOnce logs what when key's last logged state differs.
func (o *observer) logOnce(key, what string) bool {
	o.mu.Lock()
	if o.seen[key] == what {
		o.mu.Unlock()
		return false
	}
	o.seen[key] = what
	o.mu.Unlock()
	o.tl.logf("%s", what)
	return true
}

func (o *observer) certificate(ev watch.Event) {
	crt, ok := ev.Object.(*cmapi.Certificate)
	if !ok || ev.Type == watch.Deleted {
		return
	}
	cond := func(t cmapi.CertificateConditionType) string {
		for _, c := range crt.Status.Conditions {
			if c.Type == t {
				return fmt.Sprintf("%s=%s(%s)", t, c.Status, c.Reason)
			}
		}
		return string(t) + "=-"
	}
	rev := 0
	if crt.Status.Revision != nil {
		rev = *crt.Status.Revision
	}
	o.logOnce("Certificate/"+crt.Name, fmt.Sprintf("cert-manager: Certificate %s %s %s revision=%d", crt.Name,
		cond(cmapi.CertificateConditionReady), cond(cmapi.CertificateConditionIssuing), rev))
}

func (o *observer) secret(ev watch.Event) {
	s, ok := ev.Object.(*corev1.Secret)
	if !ok || ev.Type == watch.Deleted || len(s.Data[corev1.TLSCertKey]) == 0 {
		return // the key manager's next-private-key Secrets hold no certificate
	}
	leaf, err := firstCert(s.Data[corev1.TLSCertKey])
	what := ""
	if err != nil {
		what = "invalid tls.crt: " + err.Error()
	} else {
		what = "tls.crt " + o.names.describe(leaf)
	}
	o.logOnce("Secret/"+s.Name, fmt.Sprintf("cert-manager: Secret %s written: %s, ca.crt %s", s.Name, what,
		o.names.describeBundle(s.Data["ca.crt"])))
}

func (o *observer) event(ev watch.Event) {
	e, ok := ev.Object.(*corev1.Event)
	if !ok || ev.Type == watch.Deleted {
		return
	}
	o.logOnce(fmt.Sprintf("Event/%s/%d", e.UID, e.Count), fmt.Sprintf("cert-manager event: %s/%s %s: %s",
		e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Reason, e.Message))
}

func (o *observer) webhookConfiguration(ev watch.Event) {
	var kind string
	var bundles [][]byte
	switch obj := ev.Object.(type) {
	case *admissionregistrationv1.MutatingWebhookConfiguration:
		if obj.Name != o.hooks || ev.Type == watch.Deleted {
			return
		}
		kind = "MutatingWebhookConfiguration"
		for _, w := range obj.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
			if w.Name == names.WebhookMutatePod {
				o.mu.Lock()
				o.pods = w.ClientConfig.CABundle
				o.mu.Unlock()
			}
		}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		if obj.Name != o.hooks || ev.Type == watch.Deleted {
			return
		}
		kind = "ValidatingWebhookConfiguration"
		for _, w := range obj.Webhooks {
			bundles = append(bundles, w.ClientConfig.CABundle)
		}
	default:
		return
	}
	described := map[string]int{}
	for _, b := range bundles {
		described[o.names.describeBundle(b)]++
	}
	var parts []string
	for d, n := range described {
		parts = append(parts, fmt.Sprintf("%s on %d of %d webhooks", d, n, len(bundles)))
	}
	sort.Strings(parts)
	o.logOnce(kind, fmt.Sprintf("cainjector: %s/%s caBundle %s", kind, o.hooks, strings.Join(parts, ", ")))
}

// prober opens a new TLS connection to the webhook every 100 ms and records which certificate is served and
// whether a new connection from the API server would verify it at that moment: the served chain checked against
// the pods webhook's caBundle as it is now, for the IP the API server dials. That is the check the API server's TLS
// client makes in every handshake; the pod creations alone cannot show it, because they mostly travel over
// keep-alive connections verified earlier (the API server opens new ones when idle ones time out, when a webhook
// pod restarts, or when a spike of requests needs more).
type prober struct {
	addr  string
	trust func() []byte // the caBundle to verify against
	tl    *timeline
	names *certNames

	mu      sync.Mutex
	current *x509.Certificate
	since   time.Time
	lastErr string
	checks  []trustCheck
	// handshakeErrs counts probes whose connection or handshake failed before any certificate was seen.
	handshakeErrs int
}

type trustCheck struct {
	at  time.Time
	err error // nil: a new connection would have verified
}

func (p *prober) run(ctx context.Context) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		p.probe()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *prober) probe() {
	now := time.Now()
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: 2 * time.Second},
		// Verification is done below, against the caBundle of this moment; the handshake only fetches the chain.
		Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} //nolint:gosec // verified below
	conn, err := d.Dial("tcp", p.addr)
	if err != nil {
		// Not a verification result: the webhook did not answer in time (the pod creations measure that).
		p.mu.Lock()
		p.handshakeErrs++
		p.mu.Unlock()
		return
	}
	chain := conn.(*tls.Conn).ConnectionState().PeerCertificates
	_ = conn.Close()
	roots := x509.NewCertPool()
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	var verr error
	if !roots.AppendCertsFromPEM(p.trust()) {
		verr = fmt.Errorf("caBundle holds no certificate")
	} else {
		host, _, _ := net.SplitHostPort(p.addr)
		_, verr = chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	}
	p.record(now, chain[0], verr)
}

func (p *prober) record(at time.Time, leaf *x509.Certificate, err error) {
	p.mu.Lock()
	p.checks = append(p.checks, trustCheck{at: at, err: err})
	changed := leaf != nil && (p.current == nil || !leaf.Equal(p.current))
	if changed {
		p.current, p.since = leaf, at
	}
	errText := ""
	if err != nil {
		errText = err.Error()
	}
	flipped := errText != p.lastErr
	p.lastErr = errText
	p.mu.Unlock()
	if changed {
		p.tl.logf("ha-webhook: serves %s to new TLS connections", p.names.describe(leaf))
	}
	if flipped {
		if err != nil {
			p.tl.logf("trust: a new connection from the API server would FAIL now: %v", err)
		} else {
			p.tl.logf("trust: a new connection from the API server verifies again against the caBundle %s", p.names.describeBundle(p.trust()))
		}
	}
}

// served is the certificate served last and since when.
func (p *prober) served() (*x509.Certificate, time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.current, p.since
}

func (p *prober) handshakeErrors() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handshakeErrs
}

// trustTally counts, per phase, the probes and those a new connection would have failed.
type trustTally struct {
	probes, failed      int
	firstFail, lastFail time.Time
}

func (p *prober) tally(phases []phase) []trustTally {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := make([]trustTally, len(phases))
	for _, c := range p.checks {
		i := sort.Search(len(phases), func(i int) bool { return phases[i].start.After(c.at) }) - 1
		if i < 0 {
			continue // before the load started: the webhook's start-up
		}
		t := &ts[i]
		t.probes++
		if c.err != nil {
			t.failed++
			if t.firstFail.IsZero() {
				t.firstFail = c.at
			}
			t.lastFail = c.at
		}
	}
	return ts
}
