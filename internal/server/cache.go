package server

import (
	"slices"
	"strings"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// cachedObjects are the only kinds the server reads from its informer cache. The admission rules read the first
// five; the audit reads them all: Pods (serving pods without the injections) and Services (traffic a drain cuts).
func cachedObjects() []client.Object {
	return []client.Object{
		&policyv1.PodDisruptionBudget{}, &autoscalingv2.HorizontalPodAutoscaler{}, &corev1.Namespace{},
		&appsv1.Deployment{}, &appsv1.StatefulSet{}, &corev1.Pod{}, &corev1.Service{},
	}
}

// cacheOptions strip every cached object of its managedFields, the workloads of everything the rules do not read
// (validate.Workload: their pod template's spec, status, other annotations), the HPAs of all but their target and
// bounds (their metrics, behavior and status conditions), and the Pods and Services of all the audit does not read.
// A cluster's Pods, Deployments and StatefulSets outnumber its PDBs and are far larger; kept whole they would be most
// of the webhook's memory.
func cacheOptions() cache.Options {
	st := &stripper{}
	byObject := map[client.Object]cache.ByObject{}
	for _, o := range cachedObjects() {
		switch o.(type) {
		case *appsv1.Deployment:
			byObject[o] = cache.ByObject{Transform: st.deployment}
		case *appsv1.StatefulSet:
			byObject[o] = cache.ByObject{Transform: st.statefulSet}
		case *autoscalingv2.HorizontalPodAutoscaler:
			byObject[o] = cache.ByObject{Transform: stripHPA}
		case *corev1.Pod:
			byObject[o] = cache.ByObject{Transform: st.pod}
		case *corev1.Service:
			byObject[o] = cache.ByObject{Transform: st.service}
		case *policyv1.PodDisruptionBudget:
			byObject[o] = cache.ByObject{Transform: st.pdb}
		default:
			byObject[o] = cache.ByObject{}
		}
	}
	return cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()}
}

// strippedMeta keeps what identifies a workload and, of its annotations, only ha-webhook's own (kubectl's
// last-applied-configuration alone is the size of the object). Its labels are not kept: the rules read the pod
// template's. Everything kept is copied into allocations of its own: left inside the decoded object's, the few bytes
// that live on would pin the pages of the whole object, which the initial list of 10,000 workloads turns into tens of
// megabytes of resident memory that the garbage collector frees but cannot return.
func strippedMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	out := metav1.ObjectMeta{
		Name: strings.Clone(m.Name), Namespace: strings.Clone(m.Namespace), UID: types.UID(strings.Clone(string(m.UID))),
		ResourceVersion: strings.Clone(m.ResourceVersion), Generation: m.Generation, DeletionTimestamp: m.DeletionTimestamp.DeepCopy(),
	}
	for k, v := range m.Annotations {
		if strings.HasPrefix(k, names.Prefix) {
			if out.Annotations == nil {
				out.Annotations = map[string]string{}
			}
			out.Annotations[strings.Clone(k)] = strings.Clone(v)
		}
	}
	return out
}

// cloneLabels copies a label map into fresh allocations (see strippedMeta).
func cloneLabels(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[strings.Clone(k)] = strings.Clone(v)
	}
	return out
}

// selector copies a selector into fresh allocations (see strippedMeta), its matchLabels shared.
func (st *stripper) selector(s *metav1.LabelSelector) *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{MatchLabels: st.labels.intern(s.MatchLabels)}
	for _, r := range s.MatchExpressions {
		req := metav1.LabelSelectorRequirement{Key: strings.Clone(r.Key), Operator: r.Operator}
		for _, v := range r.Values {
			req.Values = append(req.Values, strings.Clone(v))
		}
		out.MatchExpressions = append(out.MatchExpressions, req)
	}
	return out
}

// cloneInt32 copies an optional count into an allocation of its own (see strippedMeta).
func cloneInt32(p *int32) *int32 {
	if p == nil {
		return nil
	}
	return ptr.To(*p)
}

// cloneInt64 copies an optional number into an allocation of its own (see strippedMeta).
func cloneInt64(p *int64) *int64 {
	if p == nil {
		return nil
	}
	return ptr.To(*p)
}

func (st *stripper) deployment(obj any) (any, error) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return obj, nil // a cache.DeletedFinalStateUnknown tombstone
	}
	out := &appsv1.Deployment{ObjectMeta: strippedMeta(d.ObjectMeta)}
	out.Spec.Replicas, out.Spec.Selector = cloneInt32(d.Spec.Replicas), st.selector(d.Spec.Selector)
	out.Spec.Strategy = *d.Spec.Strategy.DeepCopy()
	out.Spec.Template.Labels = st.labels.intern(d.Spec.Template.Labels)
	return out, nil
}

func (st *stripper) statefulSet(obj any) (any, error) {
	s, ok := obj.(*appsv1.StatefulSet)
	if !ok {
		return obj, nil
	}
	out := &appsv1.StatefulSet{ObjectMeta: strippedMeta(s.ObjectMeta)}
	out.Spec.Replicas, out.Spec.Selector = cloneInt32(s.Spec.Replicas), st.selector(s.Spec.Selector)
	out.Spec.UpdateStrategy = *s.Spec.UpdateStrategy.DeepCopy()
	out.Spec.Template.Labels = st.labels.intern(s.Spec.Template.Labels)
	return out, nil
}

func stripHPA(obj any) (any, error) {
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return obj, nil
	}
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: strippedMeta(h.ObjectMeta)}
	ref := h.Spec.ScaleTargetRef
	out.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{
		APIVersion: strings.Clone(ref.APIVersion), Kind: strings.Clone(ref.Kind), Name: strings.Clone(ref.Name),
	}
	out.Spec.MinReplicas = cloneInt32(h.Spec.MinReplicas)
	out.Spec.MaxReplicas = h.Spec.MaxReplicas
	return out, nil
}

// stripPod keeps what the audit reads of a pod (report: alive, owner, Service and PDB selection, and mutate.Pod on a
// copy to tell whether it lacks the injections): its labels, controller reference, ha-webhook's and the mirror
// annotation, node, restart policy, grace period and phase, and of each serving container (one with a TCP port:
// mutation leaves the others alone) its name, ports and whether it has a readiness probe and a preStop handler. The
// probe and handler are kept as empty markers: mutation only asks whether they are there, and a probe or an exec
// command can be most of a container's size. The labels map is shared by the pods that have the same labels (the
// replicas of a ReplicaSet): read-only, as everything in the cache.
func (st *stripper) pod(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{ObjectMeta: strippedMeta(p.ObjectMeta)}
	out.Labels = st.labels.intern(p.Labels)
	if v, ok := p.Annotations[names.AnnotationMirrorPod]; ok {
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[names.AnnotationMirrorPod] = strings.Clone(v)
	}
	if ref := metav1.GetControllerOfNoCopy(p); ref != nil {
		out.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: strings.Clone(ref.APIVersion), Kind: strings.Clone(ref.Kind), Name: strings.Clone(ref.Name),
			UID: types.UID(strings.Clone(string(ref.UID))), Controller: ptr.To(true),
		}}
	}
	out.Spec.NodeName = strings.Clone(p.Spec.NodeName)
	out.Spec.RestartPolicy = p.Spec.RestartPolicy
	out.Spec.TerminationGracePeriodSeconds = cloneInt64(p.Spec.TerminationGracePeriodSeconds)
	for _, c := range p.Spec.Containers {
		if !servesTCP(c) {
			continue
		}
		k := corev1.Container{Name: strings.Clone(c.Name)}
		for _, port := range c.Ports {
			k.Ports = append(k.Ports, corev1.ContainerPort{Name: strings.Clone(port.Name), ContainerPort: port.ContainerPort, Protocol: port.Protocol})
		}
		if c.ReadinessProbe != nil {
			k.ReadinessProbe = &corev1.Probe{}
		}
		if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
			k.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{}}
		}
		out.Spec.Containers = append(out.Spec.Containers, k)
	}
	out.Status.Phase = p.Status.Phase
	return out, nil
}

// stripService keeps what tells whether a drain cuts a Service's traffic: its type and selector.
func (st *stripper) service(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	out := &corev1.Service{ObjectMeta: strippedMeta(s.ObjectMeta)}
	out.Spec.Type = s.Spec.Type
	out.Spec.Selector = st.labels.intern(s.Spec.Selector)
	return out, nil
}

// servesTCP: a container with a TCP port serves traffic (mutate's rule).
func servesTCP(c corev1.Container) bool {
	for _, p := range c.Ports {
		if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
			return true
		}
	}
	return false
}

// stripper holds the transforms of the kinds whose label maps it shares.
type stripper struct{ labels labelInterner }

// maxInternedLabels bounds the interner: past it, it starts over (the maps already shared stay shared). Each entry
// costs its key, about 100 bytes.
const maxInternedLabels = 100000

// labelInterner hands out one map per distinct label set, to every cached object that has it: the replicas of a
// ReplicaSet have the same labels, and a workload's selector, its pod template's labels, its PDB's and its Service's
// selector are usually the same map (app=web). A small map costs about as much as the rest of a stripped object.
// The maps are read-only, as everything in the cache.
type labelInterner struct {
	mu   sync.Mutex
	maps map[string]map[string]string
}

func (l *labelInterner) intern(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	// NUL separates: the API server admits no NUL in label keys or values.
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	key := b.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if shared, ok := l.maps[key]; ok {
		return shared
	}
	if l.maps == nil || len(l.maps) >= maxInternedLabels {
		l.maps = map[string]map[string]string{}
	}
	shared := cloneLabels(m)
	l.maps[key] = shared
	return shared
}

// stripPDB keeps a PDB's spec whole (the budget arithmetic reads all of it) and of its status the counts the audit
// reports; not its other annotations (kubectl's last-applied-configuration is most of a PDB) or its disrupted pods.
func (st *stripper) pdb(obj any) (any, error) {
	p, ok := obj.(*policyv1.PodDisruptionBudget)
	if !ok {
		return obj, nil
	}
	out := &policyv1.PodDisruptionBudget{ObjectMeta: strippedMeta(p.ObjectMeta), Spec: *p.Spec.DeepCopy()}
	out.Spec.Selector = st.selector(p.Spec.Selector)
	s := p.Status
	out.Status = policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: s.ObservedGeneration, DisruptionsAllowed: s.DisruptionsAllowed,
		CurrentHealthy: s.CurrentHealthy, DesiredHealthy: s.DesiredHealthy, ExpectedPods: s.ExpectedPods,
	}
	return out, nil
}
