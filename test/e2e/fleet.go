package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Groups of the fleet.
const (
	groupOptedIn = "opted-in"
	groupControl = "control"
)

// partOfLabel on pods is what a PDB shared by several workloads selects.
const partOfLabel = "app.kubernetes.io/part-of"

// App is one workload of the fleet (a Deployment or a StatefulSet) with its Service and, when opted in, the
// PodDisruptionBudget that selects its pods: its own, or one it shares with other apps.
type App struct {
	Namespace, Name string
	Group           string
	// Kind is validate.KindDeployment or validate.KindStatefulSet.
	Kind     string
	Replicas int32
	// SharedPDB, when set, is the app.kubernetes.io/part-of label of the app's pods and the name of the one PDB that
	// selects every app with that label (maxUnavailable 1 over all of their pods); otherwise an opted-in app has a
	// PDB of its own, named after it.
	SharedPDB string
	// Colocated replicas prefer to share a node (a preferred pod affinity, e.g. for a node-local cache): draining
	// that node must then wait for the PDB between its evictions.
	Colocated bool
}

// Key is "namespace/name", the proxy's route and the report's key.
func (a App) Key() string { return a.Namespace + "/" + a.Name }

// PDB is the name of the PodDisruptionBudget that selects the app's pods ("" in the control group: none).
func (a App) PDB() string {
	switch {
	case a.Group != groupOptedIn:
		return ""
	case a.SharedPDB != "":
		return a.SharedPDB
	}
	return a.Name
}

// Shape says what kind of workload and budget the app is, for the drill's breakdown of the figures.
func (a App) Shape() string {
	switch {
	case a.Group != groupOptedIn:
		return a.Kind + ", no PDB"
	case a.SharedPDB != "":
		return a.Kind + ", shared PDB"
	}
	return a.Kind + ", own PDB"
}

// Fleet is what one drill run deploys.
type Fleet struct {
	Run  string // prefix of the namespaces, and the node pool's name
	Apps []App
	// Namespaces by group.
	OptedIn []string
	Control []string
}

// NewFleet is the opted-in group in two namespaces — ten Deployments of 2 or 3 replicas with a PDB of
// maxUnavailable 1 each (two of them keep their replicas together on one node), two Deployments of 2 replicas
// sharing one PDB of maxUnavailable 1 (app.kubernetes.io/part-of=feedback), each behind its own Service, and a
// StatefulSet of 3 replicas with its PDB of maxUnavailable 1 — and a control group of two Deployments of one
// replica, no PDB, in a namespace that is not opted in.
func NewFleet(run string) Fleet {
	f := Fleet{Run: run}
	add := func(ns, group string, apps ...App) {
		ns = run + "-" + ns
		if group == groupOptedIn {
			f.OptedIn = append(f.OptedIn, ns)
		} else {
			f.Control = append(f.Control, ns)
		}
		slices.SortFunc(apps, func(a, b App) int { return strings.Compare(a.Name, b.Name) })
		for _, a := range apps {
			a.Namespace, a.Group = ns, group
			if a.Kind == "" {
				a.Kind = validate.KindDeployment
			}
			f.Apps = append(f.Apps, a)
		}
	}
	add("shop", groupOptedIn,
		App{Name: "web", Replicas: 3}, App{Name: "search", Replicas: 2, Colocated: true}, App{Name: "cart", Replicas: 2},
		App{Name: "catalog", Replicas: 3}, App{Name: "checkout", Replicas: 2},
		App{Name: "reviews", Replicas: 2, SharedPDB: "feedback"}, App{Name: "ratings", Replicas: 2, SharedPDB: "feedback"})
	add("accounts", groupOptedIn,
		App{Name: "login", Replicas: 3}, App{Name: "profile", Replicas: 2}, App{Name: "billing", Replicas: 2, Colocated: true},
		App{Name: "notify", Replicas: 2}, App{Name: "media", Replicas: 3},
		App{Name: "sessions", Kind: validate.KindStatefulSet, Replicas: 3})
	add("legacy", groupControl, App{Name: "inventory", Replicas: 1}, App{Name: "reports", Replicas: 1})
	return f
}

// Group returns the fleet's apps of one group.
func (f Fleet) Group(group string) []App {
	var out []App
	for _, a := range f.Apps {
		if a.Group == group {
			out = append(out, a)
		}
	}
	return out
}

// Namespaces are every namespace of the fleet.
func (f Fleet) Namespaces() []string { return append(append([]string{}, f.OptedIn...), f.Control...) }

// PDBs are the fleet's PodDisruptionBudgets, each once: one per opted-in app, or one per shared label.
func (f Fleet) PDBs() []*policyv1.PodDisruptionBudget {
	var out []*policyv1.PodDisruptionBudget
	seen := map[string]bool{}
	for _, a := range f.Apps {
		if a.PDB() == "" || seen[a.Namespace+"/"+a.PDB()] {
			continue
		}
		seen[a.Namespace+"/"+a.PDB()] = true
		out = append(out, pdb(a))
	}
	return out
}

// FleetOptions shape the fleet's objects.
type FleetOptions struct {
	// Mode is the opted-in namespaces' ha-webhook.io/mode label.
	Mode policy.Mode
	// PreStopSleepSeconds is the ha-webhook.io/prestop-sleep-seconds annotation of the opted-in pod templates.
	PreStopSleepSeconds int
}

// Create creates the namespaces, then every app's Service and the PDBs (opted in only), then the Deployments and
// StatefulSets: PDBs first, as Helm and Argo CD order them, because the webhook denies a workload no PDB selects.
//
// The webhook reads PDBs from its informer cache, which may lag the API by a few milliseconds: a workload created
// right after its PDB can be denied pdb-missing. Create retries such a denial for up to 30 s and returns how many it
// met, so the drill can report them.
func (f Fleet) Create(ctx context.Context, c kubernetes.Interface, o FleetOptions) (cacheLagDenials int, err error) {
	for _, ns := range f.OptedIn {
		labels := map[string]string{fleetLabel: "true", groupLabel: groupOptedIn, names.LabelEnabled: "true", names.LabelMode: string(o.Mode)}
		if err := createNamespace(ctx, c, ns, labels); err != nil {
			return 0, err
		}
	}
	for _, ns := range f.Control {
		if err := createNamespace(ctx, c, ns, map[string]string{fleetLabel: "true", groupLabel: groupControl}); err != nil {
			return 0, err
		}
	}
	for _, a := range f.Apps {
		if _, err := c.CoreV1().Services(a.Namespace).Create(ctx, service(a), metav1.CreateOptions{}); err != nil {
			return 0, fmt.Errorf("creating Service %s: %w", a.Key(), err)
		}
	}
	for _, p := range f.PDBs() {
		if _, err := c.PolicyV1().PodDisruptionBudgets(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return 0, fmt.Errorf("creating PodDisruptionBudget %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	for _, a := range f.Apps {
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := createWorkload(ctx, c, a, f.Run, o)
			if err == nil {
				break
			}
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), validate.RulePDBMissing) || time.Now().After(deadline) {
				return cacheLagDenials, fmt.Errorf("creating %s %s: %w", a.Kind, a.Key(), err)
			}
			cacheLagDenials++
			select {
			case <-ctx.Done():
				return cacheLagDenials, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return cacheLagDenials, nil
}

func createNamespace(ctx context.Context, c kubernetes.Interface, name string, labels map[string]string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := c.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

func createWorkload(ctx context.Context, c kubernetes.Interface, a App, pool string, o FleetOptions) error {
	var err error
	if a.Kind == validate.KindStatefulSet {
		_, err = c.AppsV1().StatefulSets(a.Namespace).Create(ctx, statefulSet(a, pool, o), metav1.CreateOptions{})
	} else {
		_, err = c.AppsV1().Deployments(a.Namespace).Create(ctx, deployment(a, pool, o), metav1.CreateOptions{})
	}
	return err
}
