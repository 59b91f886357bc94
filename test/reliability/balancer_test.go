package reliability

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// balancer is a small layer-4 load balancer standing in for a Service and kube-proxy: each client connection is
// pinned to one backend, chosen round-robin among the backends whose readiness (followed like the endpoints
// pipeline, with a lag) is good. It never moves an established connection; only the server can end one.
type balancer struct {
	ln net.Listener

	mu       sync.Mutex
	backends []*lbBackend
	next     int

	noBackend  atomic.Int64 // connections refused: no backend listed
	dialFailed atomic.Int64 // connections to a listed backend that failed
}

type lbBackend struct {
	name, addr string
	follower   *readinessFollower
	conns      atomic.Int64
}

func newBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &balancer{ln: ln}
	go b.serve()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, be := range b.backends {
			be.follower.close()
		}
	})
	return b
}

func (b *balancer) addr() string { return b.ln.Addr().String() }

// add puts a backend behind the balancer; it takes traffic once its /readyz passes (plus the lag).
func (b *balancer) add(p *serveProc) *lbBackend {
	be := &lbBackend{name: p.name, addr: p.webhookAddr, follower: followReadiness(p.readyzURL(), readyPoll, propagationLag)}
	b.mu.Lock()
	b.backends = append(b.backends, be)
	b.mu.Unlock()
	return be
}

// waitListed waits until the backend takes new connections.
func (be *lbBackend) waitListed(t *testing.T) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if be.follower.listed.Load() {
			return
		}
	}
	t.Fatalf("backend %s never listed", be.name)
}

func (b *balancer) pick() *lbBackend {
	b.mu.Lock()
	defer b.mu.Unlock()
	for range b.backends {
		be := b.backends[b.next%len(b.backends)]
		b.next++
		if be.follower.listed.Load() {
			return be
		}
	}
	return nil
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.proxy(c)
	}
}

func (b *balancer) proxy(client net.Conn) {
	defer client.Close()
	be := b.pick()
	if be == nil {
		b.noBackend.Add(1)
		return
	}
	upstream, err := net.DialTimeout("tcp", be.addr, 2*time.Second)
	if err != nil {
		b.dialFailed.Add(1)
		return
	}
	defer upstream.Close()
	be.conns.Add(1)
	go func() {
		_, _ = io.Copy(upstream, client)
		_ = upstream.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(client, upstream)
}

// target sends every request to the balancer's address: the client knows only the Service, not the replicas.
func (b *balancer) target(url string) target {
	return func() (string, string, bool) { return url, "balancer", true }
}
