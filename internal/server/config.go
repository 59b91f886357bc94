// Package server assembles `ha-webhook serve`: a controller-runtime manager with the webhook server, the informer
// cache the rules read, health and metrics endpoints, and graceful shutdown. Integration tests start the same code.
package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/ha-webhook/ha-webhook/internal/mutate"
	"github.com/ha-webhook/ha-webhook/internal/names"
	"github.com/ha-webhook/ha-webhook/internal/validate"
)

// Config is everything `serve` is configured with; cmd/webhook builds it from flags.
type Config struct {
	Mode   names.Mode
	Mutate mutate.Options
	Rules  validate.Options

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

	// ShutdownDelay is how long the server keeps serving after SIGTERM with readiness already false, so that
	// Service endpoints move away before connections close. Answers during the delay carry "Connection: close", so
	// that clients re-dial (through the Service, to a ready replica) instead of keeping connections to this one.
	ShutdownDelay time.Duration
	// GracefulShutdownTimeout bounds the drain of in-flight requests after the delay.
	GracefulShutdownTimeout time.Duration
	// NativeSleepRecheck is how often --prestop-mode=auto re-reads the API server's version.
	NativeSleepRecheck time.Duration
}

// DefaultConfig holds the documented defaults of `ha-webhook serve`.
func DefaultConfig() Config {
	return Config{
		Mode:                    names.ModeEnforce,
		Mutate:                  mutate.DefaultOptions(),
		Rules:                   validate.DefaultOptions(),
		WebhookPort:             9443,
		CertDir:                 "/tmp/k8s-webhook-server/serving-certs",
		CertName:                "tls.crt",
		KeyName:                 "tls.key",
		MetricsAddr:             ":8080",
		HealthAddr:              ":8081",
		ShutdownDelay:           10 * time.Second,
		GracefulShutdownTimeout: 30 * time.Second,
		NativeSleepRecheck:      10 * time.Minute,
	}
}

// Validate rejects contradictory configuration before anything starts.
func (c Config) Validate() error {
	var errs []error
	if _, err := names.ParseMode(string(c.Mode)); err != nil {
		errs = append(errs, fmt.Errorf("--mode: %w", err))
	}
	errs = append(errs, c.Mutate.Validate(), c.Rules.Validate())
	if c.WebhookPort < 1 || c.WebhookPort > 65535 {
		errs = append(errs, fmt.Errorf("--webhook-port must be 1-65535, got %d", c.WebhookPort))
	}
	if c.ShutdownDelay < 0 || c.GracefulShutdownTimeout < 0 {
		errs = append(errs, errors.New("--shutdown-delay and --graceful-shutdown-timeout must be >= 0"))
	}
	if c.NativeSleepRecheck <= 0 {
		errs = append(errs, errors.New("--native-sleep-recheck-interval must be > 0"))
	}
	return errors.Join(errs...)
}
