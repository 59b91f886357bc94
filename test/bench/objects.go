package main

import (
	"encoding/json"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// The objects the benchmark sends. They are built once; every request of a case carries the same bytes.

// podSpec is a typical web Deployment's pod spec as a user writes it: an app container serving HTTP and metrics,
// with resources and env, and a log shipper without ports.
func podSpec() corev1.PodSpec {
	return corev1.PodSpec{
		Containers: []corev1.Container{
			{
				Name:  "app",
				Image: "registry.example/shop/web:1.4.2",
				Ports: []corev1.ContainerPort{
					{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
					{Name: "metrics", ContainerPort: 9102, Protocol: corev1.ProtocolTCP},
				},
				Env: []corev1.EnvVar{
					{Name: "PORT", Value: "8080"},
					{Name: "LOG_LEVEL", Value: "info"},
					{Name: "DATABASE_HOST", Value: "postgres.shop.svc.cluster.local"},
					{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
				},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "config", MountPath: "/etc/web", ReadOnly: true}},
			},
			{
				Name:      "log-shipper",
				Image:     "registry.example/platform/fluent-bit:3.1",
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")}},
			},
		},
		Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "web-config"}}}}},
	}
}

// podTemplateLabels are the labels of the benchmark's web pods.
func podTemplateLabels(app string) map[string]string {
	return map[string]string{"app": app, "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop", "tier": "frontend"}
}

// manifestPod is the pod a client sends to the API server (the API server adds defaults and the service account
// volume before webhooks see it).
func manifestPod(namespace string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "web-7d9c8b6f5-",
			Namespace:    namespace,
			Labels:       podTemplateLabels("web"),
			Annotations:  map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9102"},
		},
		Spec: podSpec(),
	}
}

// admittedPod is the pod as a mutating webhook receives it from the ReplicaSet controller: defaulted by the API
// server, owner reference, service account token volume.
func admittedPod(namespace string) *corev1.Pod {
	p := manifestPod(namespace)
	p.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	p.Labels["pod-template-hash"] = "7d9c8b6f5"
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-7d9c8b6f5",
		UID: "6f1b5e0c-9a0e-4c1e-8f57-3b1c2d4e5f60", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
	setPodDefaults(&p.Spec, "kube-api-access-x7k2p")
	return p
}

// setPodDefaults sets what the API server and its admission plugins add to a pod spec before webhooks see it: the
// defaults (where the spec sets nothing), the not-ready/unreachable tolerations, and the service account token volume
// (named tokenVolume) mounted in every container.
func setPodDefaults(s *corev1.PodSpec, tokenVolume string) {
	s.RestartPolicy = corev1.RestartPolicyAlways
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptr.To[int64](30)
	}
	s.DNSPolicy = corev1.DNSClusterFirst
	if s.ServiceAccountName == "" {
		s.ServiceAccountName = "default"
	}
	s.SchedulerName = corev1.DefaultSchedulerName
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	s.EnableServiceLinks = ptr.To(true)
	s.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	s.Priority = ptr.To[int32](0)
	s.Tolerations = []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
	}
	s.Volumes = append(s.Volumes, corev1.Volume{Name: tokenVolume, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}})
	for i := range s.Containers {
		c := &s.Containers[i]
		c.ImagePullPolicy = corev1.PullIfNotPresent
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: tokenVolume, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true})
	}
}

// bigPod is admittedPod padded with environment variables until its JSON is at least size bytes (a pod with a
// large generated config in env, the worst case next to the 3 MB object limit that still happens in practice).
func bigPod(namespace string, size int) *corev1.Pod {
	p := admittedPod(namespace)
	app := &p.Spec.Containers[0]
	for i := 0; ; i++ {
		b, _ := json.Marshal(p)
		if len(b) >= size {
			return p
		}
		app.Env = append(app.Env, corev1.EnvVar{Name: fmt.Sprintf("FEATURE_FLAG_%04d", i),
			Value: fmt.Sprintf("service-%04d.shop.svc.cluster.local:8080,timeout=250ms,retries=3,weight=%d", i, i%100)})
	}
}

// deployment is the web Deployment named app, 3 replicas, rolling update, in namespace.
func deployment(namespace, app string) *appsv1.Deployment {
	labels := podTemplateLabels(app)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: namespace, Labels: map[string]string{"app": app}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"prometheus.io/scrape": "true"}},
				Spec:       podSpec(),
			},
		},
	}
}

// appName is the app of the i-th PDB, HPA and Deployment of a filled namespace.
func appName(i int) string { return fmt.Sprintf("svc-%02d", i) }

// filledNamespace is the name of the i-th namespace of the 10k fill.
func filledNamespace(i int) string { return fmt.Sprintf("bench-fill-%04d", i) }

// namespaceObject is an opted-in namespace.
func namespaceObject(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{names.LabelEnabled: "true"}}}
}

// pdbFor protects app: maxUnavailable 1, selecting the app label.
func pdbFor(namespace, app string) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: namespace, Labels: map[string]string{"app": app}},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		},
	}
}

// hpaFor scales the workload app of kind (validate.KindDeployment or KindStatefulSet) between 2 and 10 replicas on
// CPU.
func hpaFor(namespace, app, kind string) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: namespace, Labels: map[string]string{"app": app}},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: kind, Name: app},
			MinReplicas:    ptr.To[int32](2),
			MaxReplicas:    10,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)}}}},
		},
	}
}

// review is the AdmissionReview the API server sends for a CREATE of obj in namespace.
func review(obj runtime.Object, namespace string, gvk metav1.GroupVersionKind, gvr metav1.GroupVersionResource, user string) []byte {
	return reviewOf(admissionv1.Create, obj, nil, namespace, gvk, gvr, user)
}

// reviewOf is the AdmissionReview of op on obj (and old, for an UPDATE) in namespace.
func reviewOf(op admissionv1.Operation, obj, old runtime.Object, namespace string, gvk metav1.GroupVersionKind, gvr metav1.GroupVersionResource, user string) []byte {
	raw, err := json.Marshal(obj)
	if err != nil {
		panic(err)
	}
	optsType := metav1.TypeMeta{APIVersion: "meta.k8s.io/v1", Kind: "CreateOptions"}
	var opts []byte
	if op == admissionv1.Update {
		optsType.Kind = "UpdateOptions"
		opts, _ = json.Marshal(metav1.UpdateOptions{TypeMeta: optsType})
	} else {
		opts, _ = json.Marshal(metav1.CreateOptions{TypeMeta: optsType})
	}
	r := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "0b3c8a5e-6a3d-4f6b-9a8e-5d2f1c7b9e01", Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr,
			Namespace: namespace, Operation: op,
			UserInfo: authenticationv1.UserInfo{Username: user, UID: "8c1f7a52-3b9e-4d0a-a1f6-2e7c9b5d4a13",
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}},
			Object: runtime.RawExtension{Raw: raw}, Options: runtime.RawExtension{Raw: opts}, DryRun: ptr.To(false),
		},
	}
	if old != nil {
		if r.Request.OldObject.Raw, err = json.Marshal(old); err != nil {
			panic(err)
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

func podReview(p *corev1.Pod) []byte {
	return review(p, p.Namespace, metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, "system:serviceaccount:kube-system:replicaset-controller")
}

func deploymentReview(d *appsv1.Deployment) []byte {
	return review(d, d.Namespace, metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
		metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, "system:serviceaccount:argocd:argocd-application-controller")
}

// pdbUpdateReview is the AdmissionReview of an UPDATE of the PDB old to pdb, as Argo CD sends it.
func pdbUpdateReview(old, pdb *policyv1.PodDisruptionBudget) []byte {
	tm := metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"}
	old, pdb = old.DeepCopy(), pdb.DeepCopy()
	old.TypeMeta, pdb.TypeMeta = tm, tm
	return reviewOf(admissionv1.Update, pdb, old, pdb.Namespace,
		metav1.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
		metav1.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}, "system:serviceaccount:argocd:argocd-application-controller")
}
