package testenv

import (
	"sync"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ha-webhook/ha-webhook/internal/server"
)

// WarningCollector is a rest.WarningHandler that records the Warning headers the API server relays from admission
// webhooks (audit-mode findings, ignored overrides), so that tests can assert on them instead of finding them in the
// log. It is safe for concurrent use.
type WarningCollector struct {
	mu       sync.Mutex
	warnings []string
}

var _ rest.WarningHandler = (*WarningCollector)(nil)

// HandleWarningHeader records one warning's text.
func (w *WarningCollector) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

// All returns a copy of the warnings recorded so far, oldest first.
func (w *WarningCollector) All() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.warnings...)
}

// Reset forgets the warnings recorded so far.
func (w *WarningCollector) Reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = nil
}

// WarningClient is an admin client whose warnings land in the returned collector instead of the log.
func (e *Env) WarningClient(t testing.TB) (client.Client, *WarningCollector) {
	t.Helper()
	collector := &WarningCollector{}
	cfg := rest.CopyConfig(e.Config)
	cfg.WarningHandler = collector
	c, err := client.New(cfg, client.Options{Scheme: server.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	return c, collector
}
