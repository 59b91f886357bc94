package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/report"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Event reasons and the action of the audit's Events.
const (
	ReasonNonCompliant = "NonCompliant"
	ReasonCompliant    = "Compliant"
	EventAction        = "Audit"
	// maxEventNote is the API server's limit on an events.k8s.io Event's note.
	maxEventNote = 1024
)

// WriterConfig says what the writer writes.
type WriterConfig struct {
	// Events records an Event on each workload whose compliance changed between audits.
	Events bool
	// PolicyReports keeps one PolicyReport per opted-in namespace, when the API server serves the CRD.
	PolicyReports bool
	// Election, when set, is the Lease that elects the one replica that writes; without it every replica writes.
	Election *Election
	// RestConfig reaches the API server for the Lease.
	RestConfig *rest.Config
}

// Writer writes what the audits imply. It needs leader election: with several replicas, one writes.
type Writer struct {
	cfg      WriterConfig
	auditor  *Auditor
	client   client.Client
	recorder events.EventRecorder
	log      logr.Logger
	// done is signalled after each audit.
	done <-chan struct{}
	// prev is the last audit this writer acted on. The latest audit when it starts (or becomes leader) is its
	// baseline: a restart or a leader change repeats no Event.
	prev *Result
	// servedLogged: "the CRD is not served" is logged once per change of that fact.
	served *bool
}

// NewWriter writes after each of a's audits, through c (live, not cached) and recorder.
func NewWriter(cfg WriterConfig, a *Auditor, c client.Client, recorder events.EventRecorder, log logr.Logger) *Writer {
	return &Writer{cfg: cfg, auditor: a, client: c, recorder: recorder, log: log, done: a.Subscribe()}
}

// NeedLeaderElection is false: the writer holds a Lease of its own (leader.go), so that the manager never needs one.
func (w *Writer) NeedLeaderElection() bool { return false }

// Start acts on every audit until ctx ends, while this replica holds the Lease if there is one.
func (w *Writer) Start(ctx context.Context) error {
	if w.cfg.Election == nil {
		w.write(ctx)
		return nil
	}
	return runElected(ctx, w.cfg.RestConfig, *w.cfg.Election, w.log, w.write)
}

// write acts on every audit until ctx ends. The first audit it sees is its baseline for Events.
func (w *Writer) write(ctx context.Context) {
	w.prev = w.auditor.Latest()
	if w.prev != nil && w.cfg.PolicyReports {
		w.syncPolicyReports(ctx, w.prev)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.done:
			w.act(ctx)
		}
	}
}

func (w *Writer) act(ctx context.Context) {
	cur := w.auditor.Latest()
	if cur == nil || cur == w.prev {
		return
	}
	if w.cfg.Events {
		since := cur.Seq // without a previous audit, the first one is the baseline
		if w.prev != nil {
			since = w.prev.Seq
		}
		changes, _, lost := w.auditor.ChangesSince(since)
		if lost {
			w.log.Info("audit writer: fell behind the audits; the Events of the oldest changes are lost")
		}
		for _, c := range changes {
			w.record(c)
		}
	}
	w.prev = cur
	if w.cfg.PolicyReports {
		w.syncPolicyReports(ctx, cur)
	}
}

func (w *Writer) syncPolicyReports(ctx context.Context, r *Result) {
	if err := w.SyncPolicyReports(ctx, r.Report); err != nil {
		w.log.Error(err, "audit: writing PolicyReports")
	}
}

// record emits the Event of one change on its workload.
func (w *Writer) record(c Change) {
	obj := regarding(c.Workload)
	if c.Fixed {
		w.recorder.Eventf(obj, nil, corev1.EventTypeNormal, ReasonCompliant, EventAction,
			"ha-webhook audit: compliant again: survives node drains and rollouts")
		return
	}
	var b strings.Builder
	// The change itself was elsewhere (a PDB or HPA, or a write admitted while the webhook was down or in audit
	// mode): the note says what is wrong now and how to fix it.
	b.WriteString("ha-webhook audit: no longer survives node drains and rollouts:")
	for _, v := range c.Gained {
		fmt.Fprintf(&b, " %s: %s", v.Rule, v.Why)
		if v.Fix != "" {
			fmt.Fprintf(&b, "; fix: %s", v.Fix)
		}
		b.WriteString(".")
	}
	note := b.String()
	if len(note) > maxEventNote {
		note = note[:maxEventNote-3] + "..."
	}
	// The note is a format string to the recorder: pass it as an argument, never as the format.
	w.recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonNonCompliant, EventAction, "%s", note)
}

// regarding is the workload as an Event's object reference: the recorder needs its kind, name and UID.
func regarding(wl report.Workload) runtime.Object {
	meta := metav1.ObjectMeta{Namespace: wl.Namespace, Name: wl.Name, UID: wl.UID}
	if wl.Kind == validate.KindStatefulSet {
		return &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: wl.Kind}, ObjectMeta: meta}
	}
	return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: wl.Kind}, ObjectMeta: meta}
}

// SyncPolicyReports makes the PolicyReports ha-webhook owns match r: one per opted-in namespace, written only when
// its content changed, and deleted from namespaces that opted out (a deleted namespace takes its report with it).
// Without the CRD it does nothing.
func (w *Writer) SyncPolicyReports(ctx context.Context, r report.Report) error {
	var existing unstructured.UnstructuredList
	existing.SetGroupVersionKind(PolicyReportGVK.GroupVersion().WithKind(PolicyReportGVK.Kind + "List"))
	err := w.client.List(ctx, &existing, client.MatchingLabels{names.LabelManagedBy: names.ManagedByValue})
	if w.noteServed(err == nil || !isNotServed(err)); err != nil {
		if isNotServed(err) {
			return nil
		}
		return fmt.Errorf("listing PolicyReports: %w", err)
	}
	have := map[string]*unstructured.Unstructured{}
	for i := range existing.Items {
		if o := &existing.Items[i]; o.GetName() == PolicyReportName {
			have[o.GetNamespace()] = o
		}
	}
	var errs []error
	for _, p := range PolicyReports(r) {
		want, err := p.Object()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		old, ok := have[p.Namespace]
		delete(have, p.Namespace)
		switch {
		case !ok:
			err = w.client.Create(ctx, want)
			if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) && apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
				err = nil // the namespace is going away
			}
		case sameContent(old, want):
			continue
		default:
			want.SetResourceVersion(old.GetResourceVersion())
			err = w.client.Update(ctx, want)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("PolicyReport %s/%s: %w", p.Namespace, PolicyReportName, err))
		}
	}
	for ns, o := range have {
		if err := w.client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("deleting PolicyReport %s/%s of a namespace no longer opted in: %w", ns, PolicyReportName, err))
		}
	}
	return errors.Join(errs...)
}

// sameContent compares what ha-webhook writes: summary, results, and its label and annotation.
func sameContent(old, want *unstructured.Unstructured) bool {
	for _, f := range []string{"summary", "results"} {
		if !apiequality.Semantic.DeepEqual(old.Object[f], want.Object[f]) {
			return false
		}
	}
	return old.GetLabels()[names.LabelManagedBy] == names.ManagedByValue &&
		old.GetAnnotations()[names.AnnotationOmittedResults] == want.GetAnnotations()[names.AnnotationOmittedResults]
}

func isNotServed(err error) bool {
	return meta.IsNoMatchError(err) || apierrors.IsNotFound(err) && strings.Contains(err.Error(), "the server could not find the requested resource")
}

// noteServed logs when the PolicyReport CRD starts or stops being served.
func (w *Writer) noteServed(served bool) {
	if w.served != nil && *w.served == served {
		return
	}
	w.served = &served
	if served {
		w.log.Info("PolicyReports: the wgpolicyk8s.io/v1alpha2 CRD is served; writing one per opted-in namespace")
	} else {
		w.log.Info("PolicyReports: the wgpolicyk8s.io/v1alpha2 CRD is not served; none written until it is")
	}
}
