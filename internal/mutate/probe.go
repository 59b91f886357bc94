package mutate

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// readinessProbe builds the probe injected into a serving container: httpGet on the readiness-path annotation when
// set, else tcpSocket, on the readiness-port annotation when the container declares that port, else on its first TCP
// port (by name when named, so the probe follows the port if its number changes).
func readinessProbe(c *corev1.Container, first corev1.ContainerPort, ov overrides, d ProbeDefaults) (*corev1.Probe, string) {
	port := portRef(first)
	var warning string
	if ov.readinessPort != nil {
		if declaresPort(c, *ov.readinessPort) {
			port = *ov.readinessPort
		} else {
			warning = text.Warnf("%s: %s not declared, probing port %s in container %s",
				names.AnnotationReadinessPort, ov.readinessPort.String(), port.String(), text.Quote(c.Name))
		}
	}
	probe := &corev1.Probe{
		PeriodSeconds:    d.PeriodSeconds,
		TimeoutSeconds:   d.TimeoutSeconds,
		FailureThreshold: d.FailureThreshold,
		SuccessThreshold: d.SuccessThreshold,
	}
	if ov.readinessPath != "" {
		probe.HTTPGet = &corev1.HTTPGetAction{Path: ov.readinessPath, Port: port}
	} else {
		probe.TCPSocket = &corev1.TCPSocketAction{Port: port}
	}
	return probe, warning
}

func portRef(p corev1.ContainerPort) intstr.IntOrString {
	if p.Name != "" {
		return intstr.FromString(p.Name)
	}
	return intstr.FromInt32(p.ContainerPort)
}

func declaresPort(c *corev1.Container, port intstr.IntOrString) bool {
	for _, p := range c.Ports {
		if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if port.Type == intstr.String && p.Name == port.StrVal || port.Type == intstr.Int && p.ContainerPort == port.IntVal {
			return true
		}
	}
	return false
}
