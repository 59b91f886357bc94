package admission

import (
	"fmt"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Builders of the objects the handler tests send, as the mutate and validate tests build them.

// Builders for test pods. Expected pods are built from the same builders plus explicit injections, never copied
// from Pod's output.

func tcpPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolTCP}
}

func udpPort(name string, port int32) corev1.ContainerPort {
	return corev1.ContainerPort{Name: name, ContainerPort: port, Protocol: corev1.ProtocolUDP}
}

func ctr(name string, ports ...corev1.ContainerPort) corev1.Container {
	return corev1.Container{Name: name, Image: "registry.example/" + name + ":1", Ports: ports}
}

// newPod is a pod as the API server hands it to a mutating webhook from a Deployment: no name, restartPolicy
// Always, the given containers.
func newPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-7d4b9c-", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyAlways,
			Containers:    containers,
		},
	}
}

// webPod is the common case: one container "app" serving on an unnamed TCP port 8080.
func webPod() *corev1.Pod { return newPod(ctr("app", corev1.ContainerPort{ContainerPort: 8080})) }

func withAnnotations(p *corev1.Pod, kv ...string) *corev1.Pod {
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Annotations[kv[i]] = kv[i+1]
	}
	return p
}

func withGrace(p *corev1.Pod, g int64) *corev1.Pod {
	p.Spec.TerminationGracePeriodSeconds = ptr.To(g)
	return p
}

// probe is an injected probe with the default timings.
func probe(h corev1.ProbeHandler) *corev1.Probe {
	return &corev1.Probe{ProbeHandler: h, PeriodSeconds: 5, TimeoutSeconds: 1, FailureThreshold: 3, SuccessThreshold: 1}
}

func tcpProbe(port intstr.IntOrString) *corev1.Probe {
	return probe(corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: port}})
}

func httpProbe(path string, port intstr.IntOrString) *corev1.Probe {
	return probe(corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: port}})
}

func sleepHandler(s int64) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: s}}
}

func execHandler(cmd ...string) *corev1.LifecycleHandler {
	return &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: cmd}}
}

func sleepLifecycle(s int64) *corev1.Lifecycle { return &corev1.Lifecycle{PreStop: sleepHandler(s)} }

// testOptions are the defaults with the native sleep forced, so tests do not depend on detection.
func testOptions() mutate.Options {
	o := mutate.DefaultOptions()
	o.PreStopMode = mutate.PreStopSleep
	return o
}

// fuzzPod builds a pod from fuzz input. Each byte of shape describes one container: bits 0-1 the protocol of its
// port (none, TCP, UDP, SCTP), bit 2 a named port, bit 3 an existing readiness probe, bit 4 an existing exec
// preStop, bit 5 no port at all, bit 6 a second, TCP port, bit 7 an init container instead.
func fuzzPod(sleep, path, port, skip, record string, grace int64, hasGrace bool, shape []byte) *corev1.Pod {
	pod := newPod()
	pod.Annotations = map[string]string{}
	for k, v := range map[string]string{
		names.AnnotationPreStopSleepSeconds: sleep,
		names.AnnotationReadinessPath:       path,
		names.AnnotationReadinessPort:       port,
		names.AnnotationSkipMutation:        skip,
		names.AnnotationInjected:            record,
	} {
		if v != "" {
			pod.Annotations[k] = v
		}
	}
	if hasGrace {
		pod.Spec.TerminationGracePeriodSeconds = ptr.To(grace)
	}
	if len(shape) > 16 {
		shape = shape[:16]
	}
	for i, b := range shape {
		c := ctr(fmt.Sprintf("c%d", i))
		if b&32 == 0 {
			p := corev1.ContainerPort{ContainerPort: int32(8000 + i), Protocol: []corev1.Protocol{"", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}[b&3]}
			if b&4 != 0 {
				p.Name = fmt.Sprintf("p%d", i)
			}
			c.Ports = append(c.Ports, p)
			if b&64 != 0 {
				c.Ports = append(c.Ports, tcpPort("http", 9000))
			}
		}
		if b&8 != 0 {
			c.ReadinessProbe = httpProbe("/own", intstr.FromInt32(1))
		}
		if b&16 != 0 {
			c.Lifecycle = &corev1.Lifecycle{PreStop: execHandler("/drain")}
		}
		if b&128 != 0 {
			pod.Spec.InitContainers = append(pod.Spec.InitContainers, c)
		} else {
			pod.Spec.Containers = append(pod.Spec.Containers, c)
		}
	}
	return pod
}

func fuzzOptions(mode uint8, native bool) mutate.Options {
	opts := testOptions()
	opts.PreStopMode = []mutate.PreStopMode{mutate.PreStopAuto, mutate.PreStopSleep, mutate.PreStopExec}[int(mode)%3]
	opts.NativeSleepSupported = native
	if mode&4 != 0 { // a tight cap, to reach the clamping paths
		opts.PreStopSleepSeconds, opts.MaxPreStopSleepSeconds, opts.MaxTerminationGracePeriodSeconds = 5, 9, 10
	}
	return opts
}

// deploy is a Deployment "name" in namespace shop whose selector and pod template carry labels app=name. replicas
// nil leaves spec.replicas unset.
func deploy(name string, replicas *int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}}},
			},
		},
	}
}

func replicas(n int32) *int32 { return ptr.To(n) }

func with(d *appsv1.Deployment, fn func(*appsv1.Deployment)) *appsv1.Deployment {
	fn(d)
	return d
}

func selectApp(name string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
}

func intOrStr(s string) *intstr.IntOrString {
	v := intstr.Parse(s)
	return &v
}

// maxUnavailable is a PDB selecting app=web with maxUnavailable v ("1", "0%", ...).
func maxUnavailable(name, v string) *policyv1.PodDisruptionBudget {
	return pdb(name, selectApp("web"), nil, intOrStr(v))
}

// minAvailable is a PDB selecting app=web with minAvailable v.
func minAvailable(name, v string) *policyv1.PodDisruptionBudget {
	return pdb(name, selectApp("web"), intOrStr(v), nil)
}

func pdb(name string, sel *metav1.LabelSelector, minAvail, maxUnavail *intstr.IntOrString) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: sel, MinAvailable: minAvail, MaxUnavailable: maxUnavail},
	}
}

func hpa(name, apiVersion, kind, target string, minReplicas *int32) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: kind, Name: target},
			MinReplicas:    minReplicas,
			MaxReplicas:    10,
		},
	}
}

func webHPA(minReplicas *int32) *autoscalingv2.HorizontalPodAutoscaler {
	return hpa("web", "apps/v1", "Deployment", "web", minReplicas)
}

func pdbs(ps ...*policyv1.PodDisruptionBudget) validate.Cluster { return validate.Cluster{PDBs: ps} }

// comparePaths compares field paths by their rendering (field.Path has unexported fields).
var comparePaths = cmp.Comparer(func(a, b *field.Path) bool { return a.String() == b.String() })

// rules lists the rule IDs of vs, in order.
func rules(vs []validate.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Rule)
	}
	return out
}

var port8080 = intstr.FromInt32(8080)
