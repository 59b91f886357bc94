package mutate

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/fixture"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// set applies fn to a fresh pod and returns it: a compact way to write expected pods.
func set(p *corev1.Pod, fn func(p *corev1.Pod)) *corev1.Pod {
	fn(p)
	return p
}

func recorded(p *corev1.Pod, record string) {
	fixture.WithAnnotations(p, names.AnnotationInjected, record)
}

var port8080 = intstr.FromInt32(8080)

func TestPod(t *testing.T) {
	tests := map[string]struct {
		opts func(*Options)
		in   *corev1.Pod
		// want is the mutated pod; nil means the pod must come back unchanged.
		want     *corev1.Pod
		wantSkip string
		// wantInjections lists "field:container", or "field=value" for the grace period, in order.
		wantInjections []string
		// wantWarnings are substrings of the warnings, one per warning, in order.
		wantWarnings []string
	}{
		// Skip rules.
		"mirror pod": {
			in:       fixture.WithAnnotations(fixture.WebPod(), names.AnnotationMirrorPod, "9f3c0e"),
			wantSkip: "mirror pod",
		},
		"mirror pod with an empty annotation value": {
			in:       fixture.WithAnnotations(fixture.WebPod(), names.AnnotationMirrorPod, ""),
			wantSkip: "mirror pod",
		},
		"restartPolicy Never": {
			in:       set(fixture.WebPod(), func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyNever }),
			wantSkip: "restartPolicy Never",
		},
		"restartPolicy OnFailure": {
			in:       set(fixture.WebPod(), func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }),
			wantSkip: "restartPolicy OnFailure",
		},
		"skip-mutation true": {
			in:       fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, "true"),
			wantSkip: names.AnnotationSkipMutation,
		},
		"skip-mutation false is mutated": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, "false"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, "false"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"skip-mutation True is mutated: only the exact value true skips": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, "True"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, "True"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"skip-mutation empty is mutated": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, ""),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationSkipMutation, ""), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"empty restartPolicy counts as Always": {
			in: set(fixture.WebPod(), func(p *corev1.Pod) { p.Spec.RestartPolicy = "" }),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.RestartPolicy = ""
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},

		// Which containers serve traffic.
		"container without ports": {
			in: fixture.NewPod(fixture.Container("worker")),
		},
		"UDP-only container": {
			in: fixture.NewPod(fixture.Container("dns", fixture.UDPPort("dns", 53))),
		},
		"SCTP-only container": {
			in: fixture.NewPod(fixture.Container("sig", corev1.ContainerPort{ContainerPort: 3868, Protocol: corev1.ProtocolSCTP})),
		},
		"unnamed TCP port probed by number": {
			in: fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080))),
			want: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080))), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"named TCP port probed by name": {
			in: fixture.NewPod(fixture.Container("app", fixture.TCPPort("http", 8080))),
			want: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("http", 8080))), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(intstr.FromString("http"))
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"first TCP port after a UDP port": {
			in: fixture.NewPod(fixture.Container("app", fixture.UDPPort("dns", 53), fixture.TCPPort("", 9090), fixture.TCPPort("http", 8080))),
			want: set(fixture.NewPod(fixture.Container("app", fixture.UDPPort("dns", 53), fixture.TCPPort("", 9090), fixture.TCPPort("http", 8080))), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(intstr.FromInt32(9090))
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},

		// What the user already has is kept.
		"existing readiness probe kept, preStop still added": {
			in: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/own", intstr.FromInt32(8081))
			}),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/own", intstr.FromInt32(8081))
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"existing exec preStop never replaced and grace left alone": {
			in: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/bin/drain")}
			}),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/bin/drain")}
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				recorded(p, "readinessProbe:app")
			}),
			wantInjections: []string{"readinessProbe:app"},
		},
		"existing httpGet preStop never replaced": {
			in: set(fixture.WithGrace(fixture.WebPod(), 60), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/quit", Port: port8080}}}
			}),
			want: set(fixture.WithGrace(fixture.WebPod(), 60), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/quit", Port: port8080}}}
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				recorded(p, "readinessProbe:app")
			}),
			wantInjections: []string{"readinessProbe:app"},
		},
		"existing shorter sleep preStop never replaced": {
			in: set(fixture.WebPod(), func(p *corev1.Pod) { p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(3) }),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(3)
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				recorded(p, "readinessProbe:app")
			}),
			wantInjections: []string{"readinessProbe:app"},
		},
		"postStart kept when preStop added": {
			in: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: fixture.ExecHandler("/bin/warm-up")}
			}),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PostStart: fixture.ExecHandler("/bin/warm-up"), PreStop: fixture.SleepHandler(15)}
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"init containers and native sidecars untouched": {
			in: set(fixture.NewPod(fixture.Container("worker")), func(p *corev1.Pod) {
				sidecar := fixture.Container("proxy", fixture.TCPPort("proxy", 15001))
				sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
				p.Spec.InitContainers = []corev1.Container{fixture.Container("migrate", fixture.TCPPort("", 5432)), sidecar}
			}),
		},
		"native sidecar untouched while the main container is mutated": {
			in: set(fixture.WebPod(), func(p *corev1.Pod) {
				sidecar := fixture.Container("proxy", fixture.TCPPort("proxy", 15001))
				sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
				p.Spec.InitContainers = []corev1.Container{sidecar}
			}),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				sidecar := fixture.Container("proxy", fixture.TCPPort("proxy", 15001))
				sidecar.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
				p.Spec.InitContainers = []corev1.Container{sidecar}
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"several serving containers share one grace budget": {
			in: fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("logs"), fixture.Container("metrics", fixture.TCPPort("metrics", 9090))),
			want: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("logs"), fixture.Container("metrics", fixture.TCPPort("metrics", 9090))), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.Containers[2].ReadinessProbe = fixture.TCPProbe(intstr.FromString("metrics"))
				p.Spec.Containers[2].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45) // the sleeps run at once: 30 + 15, not 30 + 2×15
				recorded(p, "readinessProbe:app,preStop:app,readinessProbe:metrics,preStop:metrics,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "readinessProbe:metrics", "preStop:metrics", "terminationGracePeriodSeconds=45"},
		},
		"one container with its own preStop, the other gets the sleep": {
			in: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("admin", fixture.TCPPort("", 9000))), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/drain")}
			}),
			want: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("admin", fixture.TCPPort("", 9000))), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/drain")}
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[1].ReadinessProbe = fixture.TCPProbe(intstr.FromInt32(9000))
				p.Spec.Containers[1].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,readinessProbe:admin,preStop:admin,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "readinessProbe:admin", "preStop:admin", "terminationGracePeriodSeconds=45"},
		},

		// Readiness annotations.
		"readiness-path gives httpGet on the first TCP port": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/healthz"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/healthz"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/healthz", port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"readiness-path with a query string": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/healthz?deep=1"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/healthz?deep=1"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/healthz?deep=1", port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"readiness-path of exactly 256 characters accepted": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/"+strings.Repeat("a", 255)),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/"+strings.Repeat("a", 255)), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/"+strings.Repeat("a", 255), port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"readiness-path and readiness-port by name": {
			in: fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.TCPPort("grpc", 9000), fixture.TCPPort("http", 8080))),
				names.AnnotationReadinessPath, "/ready", names.AnnotationReadinessPort, "http"),
			want: set(fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.TCPPort("grpc", 9000), fixture.TCPPort("http", 8080))),
				names.AnnotationReadinessPath, "/ready", names.AnnotationReadinessPort, "http"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.HTTPProbe("/ready", intstr.FromString("http"))
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"readiness-port by number, declared": {
			in: fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.TCPPort("grpc", 9000), fixture.TCPPort("", 8080))), names.AnnotationReadinessPort, "8080"),
			want: set(fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.TCPPort("grpc", 9000), fixture.TCPPort("", 8080))), names.AnnotationReadinessPort, "8080"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"readiness-port by name, not declared": {
			in: fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.TCPPort("grpc", 9000))), names.AnnotationReadinessPort, "http"),
			want: set(fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.TCPPort("grpc", 9000))), names.AnnotationReadinessPort, "http"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(intstr.FromString("grpc"))
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`ha-webhook.io/readiness-port: http not declared, probing port grpc in container "app"`},
		},
		"readiness-port by number, not declared": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPort, "9999"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPort, "9999"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`ha-webhook.io/readiness-port: 9999 not declared, probing port 8080 in container "app"`},
		},
		"readiness-port declared only as UDP": {
			in: fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.UDPPort("stats", 8125), fixture.TCPPort("", 8080))), names.AnnotationReadinessPort, "stats"),
			want: set(fixture.WithAnnotations(fixture.NewPod(fixture.Container("app", fixture.UDPPort("stats", 8125), fixture.TCPPort("", 8080))), names.AnnotationReadinessPort, "stats"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{"readiness-port: stats not declared"},
		},
		"readiness-port warned once per serving container": {
			in: fixture.WithAnnotations(fixture.NewPod(fixture.Container("a", fixture.TCPPort("", 80)), fixture.Container("b", fixture.TCPPort("", 81))), names.AnnotationReadinessPort, "9999"),
			want: set(fixture.WithAnnotations(fixture.NewPod(fixture.Container("a", fixture.TCPPort("", 80)), fixture.Container("b", fixture.TCPPort("", 81))), names.AnnotationReadinessPort, "9999"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(intstr.FromInt32(80))
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.Containers[1].ReadinessProbe = fixture.TCPProbe(intstr.FromInt32(81))
				p.Spec.Containers[1].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:a,preStop:a,readinessProbe:b,preStop:b,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:a", "preStop:a", "readinessProbe:b", "preStop:b", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`probing port 80 in container "a"`, `probing port 81 in container "b"`},
		},
		"readiness-port 0 invalid": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPort, "0"),
			want:           mutatedWebPod(names.AnnotationReadinessPort, "0"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`ha-webhook.io/readiness-port: ignored (port number must be 1-65535): "0"`},
		},
		"readiness-port 70000 invalid": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPort, "70000"),
			want:           mutatedWebPod(names.AnnotationReadinessPort, "70000"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`(port number must be 1-65535): "70000"`},
		},
		"readiness-port invalid name": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPort, "Not_A_Port"),
			want:           mutatedWebPod(names.AnnotationReadinessPort, "Not_A_Port"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`ha-webhook.io/readiness-port: ignored (not a port number or name): "Not_A_Port"`},
		},
		"readiness-path relative": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "healthz"),
			want:           mutatedWebPod(names.AnnotationReadinessPath, "healthz"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`ha-webhook.io/readiness-path: ignored (must start with /), probing tcpSocket: "healthz"`},
		},
		"readiness-path empty": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, ""),
			want:           mutatedWebPod(names.AnnotationReadinessPath, ""),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`(must start with /), probing tcpSocket: ""`},
		},
		"readiness-path with a control character": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/health\r\nHost: evil"),
			want:           mutatedWebPod(names.AnnotationReadinessPath, "/health\r\nHost: evil"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`(whitespace or control characters), probing tcpSocket: "/health\r\nHost: evil"`},
		},
		"readiness-path with a space": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/health z"),
			want:           mutatedWebPod(names.AnnotationReadinessPath, "/health z"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`(whitespace or control characters), probing tcpSocket: "/health z"`},
		},
		"readiness-path with invalid UTF-8": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/h\xffz"),
			want:           mutatedWebPod(names.AnnotationReadinessPath, "/h\xffz"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{"(whitespace or control characters)"},
		},
		"readiness-path too long": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationReadinessPath, "/"+strings.Repeat("a", 256)),
			want:           mutatedWebPod(names.AnnotationReadinessPath, "/"+strings.Repeat("a", 256)),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			// Cut at 120 characters, in the quoted value at the end.
			wantWarnings: []string{`ha-webhook.io/readiness-path: ignored (longer than 256 characters), probing tcpSocket: "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…`},
		},

		// preStop sleep override.
		"sleep override 20": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "20"),
			want:           sleptWebPod(20, 50, names.AnnotationPreStopSleepSeconds, "20"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=50"},
		},
		"sleep override with surrounding spaces": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, " 20 "),
			want:           sleptWebPod(20, 50, names.AnnotationPreStopSleepSeconds, " 20 "),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=50"},
		},
		"sleep override 0 injects no preStop and leaves grace alone": {
			in: fixture.WithAnnotations(fixture.WithGrace(fixture.WebPod(), 10), names.AnnotationPreStopSleepSeconds, "0"),
			want: set(fixture.WithAnnotations(fixture.WithGrace(fixture.WebPod(), 10), names.AnnotationPreStopSleepSeconds, "0"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				recorded(p, "readinessProbe:app")
			}),
			wantInjections: []string{"readinessProbe:app"},
		},
		"sleep override equal to the maximum": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "120"),
			want:           sleptWebPod(120, 150, names.AnnotationPreStopSleepSeconds, "120"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=150"},
		},
		"sleep override above the maximum is clamped": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "1000"),
			want:           sleptWebPod(120, 150, names.AnnotationPreStopSleepSeconds, "1000"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=150"},
			wantWarnings:   []string{`ha-webhook.io/prestop-sleep-seconds: using the maximum 120 instead of "1000"`},
		},
		"sleep override overflowing int64 is clamped": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "99999999999999999999"),
			want:           sleptWebPod(120, 150, names.AnnotationPreStopSleepSeconds, "99999999999999999999"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=150"},
			wantWarnings:   []string{`using the maximum 120 instead of "99999999999999999999"`},
		},
		"sleep override negative overflow uses the default": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "-99999999999999999999"),
			want:           sleptWebPod(15, 45, names.AnnotationPreStopSleepSeconds, "-99999999999999999999"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`using 15, not a whole number of seconds >= 0: "-99999999999999999999"`},
		},
		"sleep override negative uses the default": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "-5"),
			want:           sleptWebPod(15, 45, names.AnnotationPreStopSleepSeconds, "-5"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`ha-webhook.io/prestop-sleep-seconds: using 15, not a whole number of seconds >= 0: "-5"`},
		},
		"sleep override non-numeric uses the default": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "20s"),
			want:           sleptWebPod(15, 45, names.AnnotationPreStopSleepSeconds, "20s"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`not a whole number of seconds >= 0: "20s"`},
		},
		"sleep override fraction uses the default": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "1.5"),
			want:           sleptWebPod(15, 45, names.AnnotationPreStopSleepSeconds, "1.5"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`not a whole number of seconds >= 0: "1.5"`},
		},
		"sleep override empty uses the default": {
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, ""),
			want:           sleptWebPod(15, 45, names.AnnotationPreStopSleepSeconds, ""),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
			wantWarnings:   []string{`not a whole number of seconds >= 0: ""`},
		},

		// Termination budget.
		"grace below the sleep": {
			in:             fixture.WithGrace(fixture.WebPod(), 10),
			want:           sleptWebPod(15, 25),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=25"},
		},
		"grace equal to the sleep": {
			in:             fixture.WithGrace(fixture.WebPod(), 15),
			want:           sleptWebPod(15, 30),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=30"},
		},
		"grace above the sleep": {
			in:             fixture.WithGrace(fixture.WebPod(), 40),
			want:           sleptWebPod(15, 55),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=55"},
		},
		"grace raise capped": {
			in:             fixture.WithGrace(fixture.WebPod(), 590),
			want:           sleptWebPod(15, 600),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=600"},
		},
		"grace at the cap left alone": {
			in: fixture.WithGrace(fixture.WebPod(), 600),
			want: set(fixture.WithGrace(fixture.WebPod(), 600), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				recorded(p, "readinessProbe:app,preStop:app")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app"},
		},
		"grace above the cap never lowered": {
			in: fixture.WithGrace(fixture.WebPod(), 3600),
			want: set(fixture.WithGrace(fixture.WebPod(), 3600), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				recorded(p, "readinessProbe:app,preStop:app")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app"},
		},
		"grace 0 raised above the sleep": {
			in:             fixture.WithGrace(fixture.WebPod(), 0),
			want:           sleptWebPod(15, 16),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=16"},
		},
		"small grace cap still above the largest sleep": {
			opts:           func(o *Options) { o.MaxPreStopSleepSeconds, o.MaxTerminationGracePeriodSeconds = 90, 100 },
			in:             fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "90"),
			want:           sleptWebPod(90, 100, names.AnnotationPreStopSleepSeconds, "90"),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=100"},
		},

		"unset grace with a cap below the API server default stays unset": {
			opts: func(o *Options) { o.MaxPreStopSleepSeconds, o.MaxTerminationGracePeriodSeconds = 20, 25 },
			in:   fixture.WebPod(),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				recorded(p, "readinessProbe:app,preStop:app")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app"},
		},

		// preStop modes.
		"exec mode": {
			opts: func(o *Options) { o.PreStopMode = PreStopExec },
			in:   fixture.WebPod(),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("sleep", "15")}
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"exec mode ignores native sleep support": {
			opts: func(o *Options) { o.PreStopMode, o.NativeSleepSupported = PreStopExec, false },
			in:   fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "7"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "7"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("sleep", "7")}
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](37)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=37"},
		},
		"sleep mode without detected support still injects the native sleep": {
			opts:           func(o *Options) { o.PreStopMode, o.NativeSleepSupported = PreStopSleep, false },
			in:             fixture.WebPod(),
			want:           sleptWebPod(15, 45),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"auto mode with native sleep support": {
			opts:           func(o *Options) { o.PreStopMode, o.NativeSleepSupported = PreStopAuto, true },
			in:             fixture.WebPod(),
			want:           sleptWebPod(15, 45),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"auto mode without native sleep support: no preStop, one warning": {
			opts: func(o *Options) { o.PreStopMode, o.NativeSleepSupported = PreStopAuto, false },
			in:   fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("admin", fixture.TCPPort("", 9000))),
			want: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("admin", fixture.TCPPort("", 9000))), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[1].ReadinessProbe = fixture.TCPProbe(intstr.FromInt32(9000))
				recorded(p, "readinessProbe:app,readinessProbe:admin")
			}),
			wantInjections: []string{"readinessProbe:app", "readinessProbe:admin"},
			wantWarnings:   []string{"preStop sleep not injected: API server lacks lifecycle.preStop.sleep (< 1.30); upgrade it or use --prestop-mode=exec"},
		},
		"auto mode without support and a zero sleep: no warning": {
			opts: func(o *Options) { o.PreStopMode, o.NativeSleepSupported = PreStopAuto, false },
			in:   fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "0"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), names.AnnotationPreStopSleepSeconds, "0"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				recorded(p, "readinessProbe:app")
			}),
			wantInjections: []string{"readinessProbe:app"},
		},
		"auto mode without support and the user's own preStop: no warning": {
			opts: func(o *Options) { o.PreStopMode, o.NativeSleepSupported = PreStopAuto, false },
			in: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/drain")}
			}),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: fixture.ExecHandler("/drain")}
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				recorded(p, "readinessProbe:app")
			}),
			wantInjections: []string{"readinessProbe:app"},
		},

		// The ha-webhook.io/injected record.
		"previous record merged, other annotations kept": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationInjected, "readinessProbe:istio-proxy", "team", "payments"),
			want: set(fixture.WithAnnotations(fixture.WebPod(), "team", "payments"), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:istio-proxy,readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"previous record entries not repeated": {
			in: fixture.WithAnnotations(fixture.WebPod(), names.AnnotationInjected, "preStop:app"),
			want: set(fixture.WebPod(), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "preStop:app,readinessProbe:app,terminationGracePeriodSeconds")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=45"},
		},
		"reinvoked after another webhook added a serving container: the budget is not added twice": {
			in: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("proxy", fixture.TCPPort("http-envoy", 15090))), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
			}),
			want: set(fixture.NewPod(fixture.Container("app", fixture.TCPPort("", 8080)), fixture.Container("proxy", fixture.TCPPort("http-envoy", 15090))), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.Containers[1].ReadinessProbe = fixture.TCPProbe(intstr.FromString("http-envoy"))
				p.Spec.Containers[1].Lifecycle = fixture.SleepLifecycle(15)
				p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](45)
				recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds,readinessProbe:proxy,preStop:proxy")
			}),
			wantInjections: []string{"readinessProbe:proxy", "preStop:proxy"},
		},
		"recorded budget but a grace period below the sleep is still raised above it": {
			in: fixture.WithAnnotations(fixture.WithGrace(fixture.WebPod(), 10), names.AnnotationInjected, "terminationGracePeriodSeconds"),
			want: set(fixture.WithGrace(fixture.WebPod(), 16), func(p *corev1.Pod) {
				p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
				p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(15)
				recorded(p, "terminationGracePeriodSeconds,readinessProbe:app,preStop:app")
			}),
			wantInjections: []string{"readinessProbe:app", "preStop:app", "terminationGracePeriodSeconds=16"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			opts := testOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			if err := opts.Validate(); err != nil {
				t.Fatalf("test options invalid: %v", err)
			}
			pod := tc.in.DeepCopy()
			want := tc.want
			if want == nil {
				want = tc.in
			}

			res := Pod(pod, opts)

			if res.SkipReason != tc.wantSkip {
				t.Errorf("SkipReason = %q, want %q", res.SkipReason, tc.wantSkip)
			}
			if diff := cmp.Diff(want, pod); diff != "" {
				t.Errorf("mutated pod mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantInjections, injectionStrings(res.Injections)); diff != "" {
				t.Errorf("injections mismatch (-want +got):\n%s", diff)
			}
			checkWarnings(t, res.Warnings, tc.wantWarnings)
			checkSleepBelowGrace(t, pod)

			// Idempotence: mutating the mutated pod changes nothing.
			again := pod.DeepCopy()
			res2 := Pod(again, opts)
			if len(res2.Injections) > 0 {
				t.Errorf("second pass injected %v, want nothing", injectionStrings(res2.Injections))
			}
			if diff := cmp.Diff(pod, again); diff != "" {
				t.Errorf("second pass changed the pod (-first +second):\n%s", diff)
			}
		})
	}
}

// mutatedWebPod is webPod with the given annotations after the default mutation.
func mutatedWebPod(annotations ...string) *corev1.Pod {
	return sleptWebPod(15, 45, annotations...)
}

// sleptWebPod is webPod (with the given annotations) after a mutation with sleep s and grace g.
func sleptWebPod(s, g int64, annotations ...string) *corev1.Pod {
	p := fixture.WebPod()
	if len(annotations) > 0 {
		fixture.WithAnnotations(p, annotations...)
	}
	p.Spec.Containers[0].ReadinessProbe = fixture.TCPProbe(port8080)
	p.Spec.Containers[0].Lifecycle = fixture.SleepLifecycle(s)
	p.Spec.TerminationGracePeriodSeconds = ptr.To(g)
	recorded(p, "readinessProbe:app,preStop:app,terminationGracePeriodSeconds")
	return p
}

func injectionStrings(ins []Injection) []string {
	var out []string
	for _, in := range ins {
		if in.Container == "" {
			out = append(out, fmt.Sprintf("%s=%v", in.Field, in.Value))
		} else {
			out = append(out, in.Field+":"+in.Container)
		}
	}
	return out
}

// checkWarnings wants one warning per substring, in order, each at most 120 characters.
func checkWarnings(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d warnings %q, want %d matching %q", len(got), got, len(want), want)
	}
	for i := range min(len(got), len(want)) {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("warning %d = %q, want it to contain %q", i, got[i], want[i])
		}
	}
	for _, w := range got {
		if n := utf8.RuneCountInString(w); n > text.MaxWarningLength {
			t.Errorf("warning is %d characters long, more than %d: %q", n, text.MaxWarningLength, w)
		}
	}
}

// checkSleepBelowGrace asserts what the API server enforces: every preStop sleep is strictly less than the grace
// period (the API server's default 30 when unset).
func checkSleepBelowGrace(t *testing.T, p *corev1.Pod) {
	t.Helper()
	grace := DefaultGracePeriodSeconds
	if p.Spec.TerminationGracePeriodSeconds != nil {
		grace = *p.Spec.TerminationGracePeriodSeconds
	}
	for _, c := range p.Spec.Containers {
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
			continue
		}
		if s := c.Lifecycle.PreStop.Sleep.Seconds; s >= grace {
			t.Errorf("container %q: preStop sleep %d not less than terminationGracePeriodSeconds %d", c.Name, s, grace)
		}
	}
}
