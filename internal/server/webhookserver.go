package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// webhookServer serves the webhooks as controller-runtime's webhook server does — TLS from a reloaded certificate
// file, its request metrics: Register and WebhookMux are the DefaultServer's — but owns its connections, so that it
// never closes one a client may be writing a request on. An HTTP/1.1 server that closes an idle keep-alive
// connection races the client that picks it at that instant: the client reads EOF, and neither the API server nor
// Go's transport retries a POST. So the server closes none: its idle timeout outlasts the clients', who close
// first, and on shutdown Server.Run waits for the clients to close theirs (openConns) before the drain.
type webhookServer struct {
	webhook.Server
	opts webhook.Options
	// idleTimeout closes connections idle for longer than any client keeps one (the clients close them first).
	idleTimeout time.Duration
	// drain bounds the wait for in-flight requests once the server stops.
	drain time.Duration

	started atomic.Bool
	open    atomic.Int64
	// lastRequest is when a connection last began a request (Unix nanoseconds).
	lastRequest atomic.Int64
}

// recentRequest is how long a request begun proves the server accepts TLS connections, for StartedChecker.
const recentRequest = 5 * time.Second

func newWebhookServer(opts webhook.Options, clientIdle, drain time.Duration) *webhookServer {
	return &webhookServer{Server: webhook.NewServer(opts), opts: opts, idleTimeout: clientIdle + 30*time.Second, drain: drain}
}

// openConns is the number of connections open now.
func (s *webhookServer) openConns() int64 { return s.open.Load() }

// NeedLeaderElection: every replica serves.
func (s *webhookServer) NeedLeaderElection() bool { return false }

// Start serves until ctx ends, then lets in-flight requests finish within the drain bound.
func (s *webhookServer) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("webhook-server")
	cfg := &tls.Config{NextProtos: []string{"h2"}}
	for _, op := range s.opts.TLSOpts {
		op(cfg)
	}
	watcher, err := certwatcher.New(filepath.Join(s.opts.CertDir, s.opts.CertName), filepath.Join(s.opts.CertDir, s.opts.KeyName))
	if err != nil {
		return err
	}
	cfg.GetCertificate = watcher.GetCertificate
	go func() {
		if err := watcher.Start(ctx); err != nil {
			log.Error(err, "certificate watcher")
		}
	}()
	ln, err := net.Listen("tcp", net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)))
	if err != nil {
		return err
	}
	srv := &http.Server{
		BaseContext:       func(net.Listener) context.Context { return ctx },
		Handler:           s.WebhookMux(),
		MaxHeaderBytes:    1 << 20,
		ReadHeaderTimeout: 32 * time.Second,
		IdleTimeout:       s.idleTimeout,
		ConnState: func(_ net.Conn, state http.ConnState) {
			switch state {
			case http.StateNew:
				s.open.Add(1)
			case http.StateActive:
				s.lastRequest.Store(time.Now().UnixNano())
			case http.StateClosed, http.StateHijacked:
				s.open.Add(-1)
			}
		},
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		log.Info("draining in-flight requests", "open connections", s.openConns(), "timeout", s.drain)
		shutdownCtx, cancel := context.WithTimeout(context.Background(), s.drain)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			log.Error(err, "draining")
		}
	}()
	log.Info("serving webhooks", "host", s.opts.Host, "port", s.opts.Port)
	s.started.Store(true)
	if err := srv.Serve(tls.NewListener(ln, cfg)); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-stopped
	return nil
}

// StartedChecker passes once the server accepts TLS connections: a request begun within recentRequest proves it,
// otherwise a TLS handshake of its own does (as controller-runtime's checker always does). Under load the handshake
// queues behind every client's and turns the replica unready only because it is busy, the readiness probe failing
// (measured: a third of the probes past a 1 s timeout at 3× the maximum); with every replica that busy, the Service
// would have no endpoint left and each call would fail at once.
func (s *webhookServer) StartedChecker() healthz.Checker {
	cfg := &tls.Config{InsecureSkipVerify: true} // only reachability is checked
	return func(*http.Request) error {
		if !s.started.Load() {
			return errors.New("webhook server has not been started yet")
		}
		if time.Since(time.Unix(0, s.lastRequest.Load())) < recentRequest {
			return nil
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)), cfg)
		if err != nil {
			return fmt.Errorf("webhook server is not reachable: %w", err)
		}
		return conn.Close()
	}
}
