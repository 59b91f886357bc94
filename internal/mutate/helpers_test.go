package mutate

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

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
func testOptions() Options {
	o := DefaultOptions()
	o.PreStopMode = PreStopSleep
	return o
}
