package main

import (
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// The Pods and Services of the fill. A cluster of 10,000 workloads runs pods; ha-webhook's audit caches them and
// the Services, so the memory and start-up measurements need them, as large as real ones. Nothing runs them (no
// kube-controller-manager, scheduler or kubelet): the fill writes them as those would leave them — the pod as the
// ReplicaSet controller creates it (bound to a node in spec, so no scheduler is needed), then its status as the
// kubelet reports a running, ready pod.

// fillNodes is how many node names the fill's pods are spread over (spec.nodeName only: no Node objects).
const fillNodes = 50

// uninjectedEvery: every uninjectedEvery-th pod of the fill went through no mutation (created before ha-webhook was
// installed, from a template without a readiness probe); the others carry ha-webhook's injection.
const uninjectedEvery = 10

// fillServiceCIDR is an extra Service CIDR for the fill's ClusterIP Services: envtest's kube-apiserver allocates
// from 10.0.0.0/24 (254 addresses), fewer than the fill's Deployments.
const fillServiceCIDR = "10.96.0.0/16"

// serviceCIDR is the ServiceCIDR object holding fillServiceCIDR.
func serviceCIDR() *networkingv1.ServiceCIDR {
	return &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "bench-fill"},
		Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{fillServiceCIDR}}}
}

// filledService is the Service of the fill's workload app: a ClusterIP Service for a Deployment, the headless
// governing Service (its spec.serviceName) for a StatefulSet; both select the workload's pods, as its PDB does.
func filledService(namespace, app, kind string) *corev1.Service {
	s := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: namespace, Labels: workloadLabels(app)},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{"app": app},
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP},
				{Name: "metrics", Port: 9102, TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP},
			},
		},
	}
	if kind == validate.KindStatefulSet {
		s.Name = app + "-headless"
		s.Spec.ClusterIP = corev1.ClusterIPNone
		s.Spec.PublishNotReadyAddresses = true
	}
	setLastApplied(&s.ObjectMeta, s)
	return s
}

// podDeployments are the apps of a filled namespace that are Deployments (filledKind), whose ReplicaSets own the
// namespace's pods.
func podDeployments(perNamespace int) []int {
	var out []int
	for i := range perNamespace {
		if filledKind(i, perNamespace) == validate.KindDeployment {
			out = append(out, i)
		}
	}
	return out
}

// hashOf is a stable hash of the parts, for the names and ids the controllers would generate.
func hashOf(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// safeChars are the characters Kubernetes generates names from (rand.SafeEncodeString).
const safeChars = "bcdfghjklmnpqrstvwxz2456789"

func safeString(seed uint64, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(safeChars[seed%uint64(len(safeChars))])
		seed = seed/uint64(len(safeChars)) ^ (seed * 0x9e3779b97f4a7c15)
	}
	return b.String()
}

// hexString is n hex digits derived from the parts (image digests, container ids).
func hexString(n int, parts ...string) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "%016x", hashOf(append(parts, fmt.Sprint(i))...))
	}
	return b.String()[:n]
}

// uuidOf is a UUID-shaped id derived from the parts.
func uuidOf(parts ...string) types.UID {
	h := hexString(32, parts...)
	return types.UID(h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32])
}

// filledPod is pod replica of the fill's Deployment app (the app at index appIndex of the namespace), as its
// ReplicaSet creates it and the API server defaults it, bound to a node. Pods of apps at index 3 mod 4 run their app
// container alone (no log shipper). With injected, the pod is what ha-webhook's mutation made of it (mutate.Pod with
// the defaults of `serve` against this API server: readiness probe kept, preStop sleep, grace period, the
// ha-webhook.io/injected record); without, it has no readiness probe and no injection: an "uninjected" pod.
func filledPod(namespace, app string, appIndex, replica int, injected bool) *corev1.Pod {
	hash := safeString(hashOf(namespace, app, "template"), 10)
	rs := app + "-" + hash
	t := workloadTemplate(app)
	labels := t.Labels
	labels["pod-template-hash"] = hash
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: rs + "-" + safeString(hashOf(namespace, app, fmt.Sprint(replica)), 5), Namespace: namespace,
			GenerateName: rs + "-", Labels: labels, Annotations: t.Annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs,
				UID: uuidOf(namespace, rs), Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}},
		},
		Spec: t.Spec,
	}
	if appIndex%4 == 3 {
		p.Spec.Containers = p.Spec.Containers[:1]
	}
	setPodDefaults(&p.Spec, "kube-api-access-"+safeString(hashOf(p.Name), 5))
	p.Spec.NodeName = nodeName(hashOf(namespace, p.Name))
	if !injected {
		p.Spec.Containers[0].ReadinessProbe = nil
		return p
	}
	mutate.Pod(p, mutate.DefaultOptions())
	return p
}

// nodeName is one of fillNodes GKE-style node names.
func nodeName(seed uint64) string {
	n := seed % fillNodes
	return fmt.Sprintf("gke-prod-default-pool-%s-%s", hexString(8, "pool", fmt.Sprint(n%3)), safeString(n, 4))
}

// runningStatus is the status the kubelet reports for p once its containers run and are ready, over the status the
// API server set at creation (its qosClass): phase, conditions, IPs, and a status per container.
func runningStatus(p *corev1.Pod, index int) corev1.PodStatus {
	s := p.Status
	created := p.CreationTimestamp.Time
	if created.IsZero() {
		created = time.Now()
	}
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(created.Add(d).Truncate(time.Second)) }
	s.Phase = corev1.PodRunning
	s.Conditions = nil
	for _, c := range []struct {
		t corev1.PodConditionType
		d time.Duration
	}{
		{corev1.PodReadyToStartContainers, 2 * time.Second}, {corev1.PodInitialized, 0}, {corev1.PodReady, 9 * time.Second},
		{corev1.ContainersReady, 9 * time.Second}, {corev1.PodScheduled, 0},
	} {
		s.Conditions = append(s.Conditions, corev1.PodCondition{Type: c.t, Status: corev1.ConditionTrue, LastTransitionTime: at(c.d)})
	}
	host := fmt.Sprintf("10.128.%d.%d", index/250%250, index%250+2)
	pod := fmt.Sprintf("10.%d.%d.%d", 4+index/62500, index/250%250, index%250+2)
	s.HostIP, s.HostIPs = host, []corev1.HostIP{{IP: host}}
	s.PodIP, s.PodIPs = pod, []corev1.PodIP{{IP: pod}}
	s.StartTime = ptr.To(at(0))
	s.ContainerStatuses = nil
	for _, c := range p.Spec.Containers {
		image, _, _ := strings.Cut(c.Image, ":")
		cs := corev1.ContainerStatus{
			Name: c.Name, Ready: true, Started: ptr.To(true), Image: c.Image,
			ImageID:            image + "@sha256:" + hexString(64, c.Image),
			ContainerID:        "containerd://" + hexString(64, p.Namespace, p.Name, c.Name),
			State:              corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: at(3 * time.Second)}},
			AllocatedResources: c.Resources.Requests.DeepCopy(), Resources: c.Resources.DeepCopy(),
		}
		for _, m := range c.VolumeMounts {
			cs.VolumeMounts = append(cs.VolumeMounts, corev1.VolumeMountStatus{Name: m.Name, MountPath: m.MountPath,
				ReadOnly: m.ReadOnly, RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyDisabled)})
		}
		s.ContainerStatuses = append(s.ContainerStatuses, cs)
	}
	return s
}
