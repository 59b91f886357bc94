package server

import (
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// WebhookServer is the webhook server Run starts. An in-process harness may register extra handlers on it before
// Run, to have them served by exactly the same listener, TLS configuration and HTTP stack as ha-webhook's own
// (test/bench registers a null webhook there).
func (s *Server) WebhookServer() webhook.Server { return s.mgr.GetWebhookServer() }

// CacheReader reads the informer cache the rules read (PDBs, HPAs, Deployments, StatefulSets, Namespaces), so a harness can wait until the
// cache holds what it created.
func (s *Server) CacheReader() client.Reader { return s.mgr.GetCache() }
