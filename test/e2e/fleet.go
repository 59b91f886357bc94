package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/policy"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Groups of the fleet.
const (
	groupOptedIn = "opted-in"
	groupControl = "control"
)

// App is one Deployment of the fleet with its Service (and, when opted in, its PodDisruptionBudget).
type App struct {
	Namespace, Name string
	Group           string
	Replicas        int32
	// Colocated replicas prefer to share a node (a preferred pod affinity, e.g. for a node-local cache): draining
	// that node must then wait for the PDB between its evictions.
	Colocated bool
}

// Key is "namespace/name", the proxy's route and the report's key.
func (a App) Key() string { return a.Namespace + "/" + a.Name }

// Fleet is what one drill run deploys.
type Fleet struct {
	Run  string // prefix of the namespaces, and the node pool's name
	Apps []App
	// Namespaces by group.
	OptedIn []string
	Control []string
}

// NewFleet is ten opted-in Deployments (2 or 3 replicas, a PDB of maxUnavailable 1 each; two of them keep their
// replicas together on one node) in two namespaces, and a control group of two Deployments of one replica, no PDB,
// in a namespace that is not opted in.
func NewFleet(run string) Fleet {
	f := Fleet{Run: run}
	colocated := map[string]bool{"search": true, "billing": true}
	add := func(ns, group string, apps map[string]int32) {
		ns = run + "-" + ns
		if group == groupOptedIn {
			f.OptedIn = append(f.OptedIn, ns)
		} else {
			f.Control = append(f.Control, ns)
		}
		for _, name := range slices.Sorted(maps.Keys(apps)) {
			f.Apps = append(f.Apps, App{Namespace: ns, Name: name, Group: group, Replicas: apps[name], Colocated: colocated[name]})
		}
	}
	add("shop", groupOptedIn, map[string]int32{"web": 3, "search": 2, "cart": 2, "catalog": 3, "checkout": 2})
	add("accounts", groupOptedIn, map[string]int32{"login": 3, "profile": 2, "billing": 2, "notify": 2, "media": 3})
	add("legacy", groupControl, map[string]int32{"inventory": 1, "reports": 1})
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

// FleetOptions shape the fleet's objects.
type FleetOptions struct {
	// Mode is the opted-in namespaces' ha-webhook.io/mode label.
	Mode policy.Mode
	// PreStopSleepSeconds is the ha-webhook.io/prestop-sleep-seconds annotation of the opted-in pod templates.
	PreStopSleepSeconds int
}

// Create creates the namespaces, then every app's Service and PDB (opted in only), then the Deployments: PDBs first,
// as Helm and Argo CD order them, because the webhook denies a Deployment no PDB selects.
//
// The webhook reads PDBs from its informer cache, which may lag the API by a few milliseconds: a Deployment created
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
		if a.Group == groupOptedIn {
			if _, err := c.PolicyV1().PodDisruptionBudgets(a.Namespace).Create(ctx, pdb(a), metav1.CreateOptions{}); err != nil {
				return 0, fmt.Errorf("creating PodDisruptionBudget %s: %w", a.Key(), err)
			}
		}
	}
	for _, a := range f.Apps {
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := c.AppsV1().Deployments(a.Namespace).Create(ctx, deployment(a, f.Run, o), metav1.CreateOptions{})
			if err == nil {
				break
			}
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), validate.RulePDBMissing) || time.Now().After(deadline) {
				return cacheLagDenials, fmt.Errorf("creating Deployment %s: %w", a.Key(), err)
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

func appLabels(a App) map[string]string { return map[string]string{"app": a.Name} }

func service(a App) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace, Labels: map[string]string{fleetLabel: "true"}},
		Spec: corev1.ServiceSpec{
			Selector: appLabels(a),
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
}

func pdb(a App) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: appLabels(a)},
		},
	}
}

// deployment is a plain web Deployment, as a team would write it: one container serving HTTP on a named port, no
// readiness probe, no preStop hook, the default grace period. The opted-in ones carry the prestop-sleep annotation
// that keeps the drill short; everything else comes from the webhook. The finalizer lets the drill's runtime hold a
// deleted pod until its simulated process has exited.
func deployment(a App, pool string, o FleetOptions) *appsv1.Deployment {
	labels := appLabels(a)
	podLabels := map[string]string{"app": a.Name, fleetLabel: "true"}
	annotations := map[string]string{}
	if a.Group == groupOptedIn {
		annotations[names.AnnotationPreStopSleepSeconds] = strconv.Itoa(o.PreStopSleepSeconds)
	}
	var affinity *corev1.Affinity
	if a.Colocated {
		affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname",
					LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}}},
		}}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: a.Name, Namespace: a.Namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(a.Replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations, Finalizers: []string{processFinalizer}},
				Spec: corev1.PodSpec{
					NodeSelector:                 map[string]string{poolLabel: pool},
					Affinity:                     affinity,
					AutomountServiceAccountToken: ptr.To(false),
					EnableServiceLinks:           ptr.To(false),
					Containers: []corev1.Container{{
						Name:  "app",
						Image: "registry.example/" + a.Name + ":1.0",
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
					}},
				},
			},
		},
	}
}
