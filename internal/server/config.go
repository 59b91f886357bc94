package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/ha-webhook/ha-webhook/internal/policy"
)

// Config is everything `serve` is configured with; cmd/webhook builds it from flags (AddFlags).
type Config struct {
	// Options are the mode, mutation and rules, bound to the same flags as `check` and `report`.
	policy.Options

	WebhookHost string
	WebhookPort int
	// CertDir holds CertName and KeyName; they are reloaded when they change.
	CertDir  string
	CertName string
	KeyName  string
	// EnableHTTP2 is off by default: HTTP/2 rapid-reset and stream-cancellation attacks (CVE-2023-44487).
	EnableHTTP2 bool

	MetricsAddr string
	HealthAddr  string
	// PprofAddr serves net/http/pprof (heap and CPU profiles of a replica); "" or "0" serves none.
	PprofAddr string

	// ShutdownDelay is how long the server keeps serving after SIGTERM with readiness already false, so that
	// Service endpoints move away before connections close. Answers during the delay carry "Connection: close", so
	// that clients re-dial (through the Service, to a ready replica) instead of keeping connections to this one.
	ShutdownDelay time.Duration
	// ClientIdleTimeout is how long the webhook's clients keep an idle connection (kube-apiserver's webhook client:
	// 90 s, Go's default). The server's own idle timeout is 30 s longer, so that clients close idle connections, not
	// the server; after the shutdown delay it waits for them to (at most this + 5 s from SIGTERM).
	ClientIdleTimeout time.Duration
	// MaxInFlight is how many admission requests the replica handles at once; a request beyond them waits up to
	// MaxInFlightWait for a slot, then is answered with an error for the API server's failurePolicy (inflight.go).
	// 0: no limit.
	MaxInFlight     int
	MaxInFlightWait time.Duration
	// GracefulShutdownTimeout bounds the drain of in-flight requests after the delay.
	GracefulShutdownTimeout time.Duration
	// NativeSleepRecheck is how often --prestop-mode=auto re-reads the API server's version.
	NativeSleepRecheck time.Duration

	// AuditInterval re-audits the opted-in namespaces at least this often; 0 turns the audit (and so its gauges,
	// Events and PolicyReports) off.
	AuditInterval time.Duration
	// AuditDebounce is the longest a change waits for its audit; changes within it share one.
	AuditDebounce time.Duration
	// AuditEvents records an Event on a workload that turns non-compliant (or compliant again) between audits.
	AuditEvents bool
	// PolicyReports writes one wgpolicyk8s.io/v1alpha2 PolicyReport per opted-in namespace when the CRD is served.
	PolicyReports bool
	// LeaderElect elects, by a Lease in LeaderElectionNamespace, the one replica that writes Events and
	// PolicyReports; without it every replica writes them. Serving and auditing never wait for it.
	LeaderElect             bool
	LeaderElectionNamespace string
	LeaderElectionID        string
}

// DefaultConfig holds the documented defaults of `ha-webhook serve`.
func DefaultConfig() Config {
	return Config{
		Options:                 policy.DefaultOptions(),
		WebhookPort:             9443,
		CertDir:                 "/tmp/k8s-webhook-server/serving-certs",
		CertName:                "tls.crt",
		KeyName:                 "tls.key",
		MetricsAddr:             ":8080",
		HealthAddr:              ":8081",
		ShutdownDelay:           10 * time.Second,
		GracefulShutdownTimeout: 30 * time.Second,
		ClientIdleTimeout:       90 * time.Second,
		MaxInFlight:             64,
		MaxInFlightWait:         time.Second,
		NativeSleepRecheck:      10 * time.Minute,
		AuditInterval:           10 * time.Minute,
		AuditDebounce:           5 * time.Second,
		AuditEvents:             true,
		LeaderElectionID:        "ha-webhook-audit",
	}
}

// Validate rejects contradictory configuration before anything starts, naming the flags of AddFlags.
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, c.Options.Validate())
	if c.WebhookPort < 1 || c.WebhookPort > 65535 {
		errs = append(errs, fmt.Errorf("--webhook-port must be 1-65535, got %d", c.WebhookPort))
	}
	if c.ShutdownDelay < 0 || c.GracefulShutdownTimeout < 0 || c.ClientIdleTimeout < 0 {
		errs = append(errs, errors.New("--shutdown-delay, --client-idle-timeout and --graceful-shutdown-timeout must be >= 0"))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("--max-in-flight must be >= 0 (0: no limit), got %d", c.MaxInFlight))
	}
	if c.MaxInFlightWait < 0 {
		errs = append(errs, fmt.Errorf("--max-in-flight-wait must be >= 0, got %s", c.MaxInFlightWait))
	}
	if c.NativeSleepRecheck <= 0 {
		errs = append(errs, errors.New("--native-sleep-recheck-interval must be > 0"))
	}
	if c.AuditInterval < 0 || c.AuditDebounce <= 0 {
		errs = append(errs, errors.New("--audit-interval must be >= 0 (0 disables the audit) and --audit-debounce > 0"))
	}
	if c.LeaderElect && (c.LeaderElectionNamespace == "" || c.LeaderElectionID == "") {
		errs = append(errs, errors.New("--leader-elect needs --leader-election-namespace and --leader-election-id"))
	}
	if c.PolicyReports && c.AuditInterval == 0 {
		errs = append(errs, errors.New("--policy-reports needs the audit: --audit-interval must be > 0"))
	}
	return errors.Join(errs...)
}

// AddFlags binds every setting to its flag, with the current values as defaults; the Helm chart maps its values
// onto these names.
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	c.Options.AddFlags(fs)
	fs.StringVar(&c.WebhookHost, "webhook-host", c.WebhookHost, "address the webhook server listens on (empty: all)")
	fs.IntVar(&c.WebhookPort, "webhook-port", c.WebhookPort, "port of the HTTPS webhook server")
	fs.StringVar(&c.CertDir, "webhook-cert-path", c.CertDir, "directory holding the serving certificate and key (reloaded when they change)")
	fs.StringVar(&c.CertName, "webhook-cert-name", c.CertName, "file name of the serving certificate in --webhook-cert-path")
	fs.StringVar(&c.KeyName, "webhook-key-name", c.KeyName, "file name of the serving key in --webhook-cert-path")
	fs.BoolVar(&c.EnableHTTP2, "enable-http2", c.EnableHTTP2, "serve HTTP/2 (off by default: rapid-reset attacks)")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", c.MetricsAddr, "address of the Prometheus metrics endpoint (0 disables it)")
	fs.StringVar(&c.HealthAddr, "health-probe-bind-address", c.HealthAddr, "address of /healthz and /readyz")
	fs.StringVar(&c.PprofAddr, "pprof-bind-address", c.PprofAddr, "address of Go's /debug/pprof profiles (empty or 0: off); keep it on loopback or behind a port-forward")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", c.ShutdownDelay, "after SIGTERM, keep serving this long with readiness false (each answer asks the client to close its connection) before draining; must exceed the time the pod takes to leave the Service's endpoints")
	fs.DurationVar(&c.ClientIdleTimeout, "client-idle-timeout", c.ClientIdleTimeout, "how long the webhook's clients keep an idle connection (kube-apiserver: 90s); the server keeps idle connections 30s longer, and after SIGTERM waits for the clients to close theirs (at most this + 5s) instead of closing one a client may be writing on")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", c.MaxInFlight, "admission requests handled at once; a request beyond them waits in arrival order for --max-in-flight-wait, then is answered with an error (HTTP 500), so that under overload the API server's failurePolicy decides after that wait instead of the webhook's timeout (0: no limit)")
	fs.DurationVar(&c.MaxInFlightWait, "max-in-flight-wait", c.MaxInFlightWait, "how long a request beyond --max-in-flight waits for a slot before it is answered with an error; keep it well below the webhooks' timeoutSeconds (0: answer at once)")
	fs.DurationVar(&c.GracefulShutdownTimeout, "graceful-shutdown-timeout", c.GracefulShutdownTimeout, "after --shutdown-delay, how long in-flight requests may take to drain")
	fs.DurationVar(&c.NativeSleepRecheck, "native-sleep-recheck-interval", c.NativeSleepRecheck, "how often --prestop-mode=auto re-reads the API server version")
	fs.DurationVar(&c.AuditInterval, "audit-interval", c.AuditInterval, "re-audit the opted-in namespaces at least this often, besides after every change (0 disables the audit, its gauges, Events and PolicyReports)")
	fs.DurationVar(&c.AuditDebounce, "audit-debounce", c.AuditDebounce, "the longest a change waits for its audit; changes within it share one")
	fs.BoolVar(&c.AuditEvents, "audit-events", c.AuditEvents, "record an Event on a workload that turns non-compliant, or compliant again, through a change elsewhere")
	fs.BoolVar(&c.PolicyReports, "policy-reports", c.PolicyReports, "write one wgpolicyk8s.io/v1alpha2 PolicyReport per opted-in namespace when the CRD is served")
	fs.BoolVar(&c.LeaderElect, "leader-elect", c.LeaderElect, "elect the one replica that writes Events and PolicyReports (serving and auditing never wait for it)")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", c.LeaderElectionNamespace, "namespace of the leader election Lease")
	fs.StringVar(&c.LeaderElectionID, "leader-election-id", c.LeaderElectionID, "name of the leader election Lease")
}
