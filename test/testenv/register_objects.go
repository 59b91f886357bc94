package testenv

import (
	"context"
	"fmt"
	"net/url"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RegisterConfigurations creates webhook configurations exactly as given (rules, namespace selector, match
// conditions, failure policy…) except for each webhook's clientConfig, which is pointed at this Env's local server:
// same path, local URL and CA. The chart tests use it to register what the Helm chart renders. Like Register, it
// replaces existing configurations of the same names and waits until the API server calls the mutating webhook for
// a pod in an opted-in namespace.
func (e *Env) RegisterConfigurations(ctx context.Context, m *admissionregistrationv1.MutatingWebhookConfiguration,
	v *admissionregistrationv1.ValidatingWebhookConfiguration) error {
	local := e.WebhookOptions().ClientConfig
	m, v = m.DeepCopy(), v.DeepCopy()
	for i := range m.Webhooks {
		path, err := webhookPath(m.Webhooks[i].ClientConfig)
		if err != nil {
			return fmt.Errorf("webhook %s: %w", m.Webhooks[i].Name, err)
		}
		m.Webhooks[i].ClientConfig = local(path)
	}
	for i := range v.Webhooks {
		path, err := webhookPath(v.Webhooks[i].ClientConfig)
		if err != nil {
			return fmt.Errorf("webhook %s: %w", v.Webhooks[i].Name, err)
		}
		v.Webhooks[i].ClientConfig = local(path)
	}
	for _, obj := range []client.Object{m, v} {
		obj.SetResourceVersion("")
		obj.SetUID("")
		obj.SetManagedFields(nil)
		obj.SetCreationTimestamp(metav1.Time{})
		if err := e.Client.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replacing %s: %w", obj.GetName(), err)
		}
		if err := e.Client.Create(ctx, obj); err != nil {
			return fmt.Errorf("registering %s: %w", obj.GetName(), err)
		}
	}
	return e.waitForMutation(ctx)
}

// webhookPath is the path a clientConfig calls: the Service's path, or the URL's.
func webhookPath(cc admissionregistrationv1.WebhookClientConfig) (string, error) {
	switch {
	case cc.Service != nil:
		if cc.Service.Path == nil {
			return "/", nil
		}
		return *cc.Service.Path, nil
	case cc.URL != nil:
		u, err := url.Parse(*cc.URL)
		if err != nil {
			return "", err
		}
		return u.Path, nil
	}
	return "", fmt.Errorf("clientConfig has neither service nor url")
}
