package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Proxy is a Kong-like data plane: it routes GET /NAMESPACE/SERVICE/... to the ready endpoints of that Service,
// round-robin, as Kong does with the upstream targets its ingress controller pushes. Like the controller, it learns
// endpoints from EndpointSlices and applies each change Lag late (Kong's controller syncs about every 3 s): a pod
// that turned unready keeps receiving requests for Lag, a pod that turned ready receives none for Lag. An endpoint
// is a pod UID; the Runtime says on which loopback port that pod's process listens. It never retries a failed
// request on another endpoint (Kong's retries would hide the connection refusals, not a Service without endpoints).
type Proxy struct {
	Lag     time.Duration
	runtime *Runtime
	logf    func(string, ...any)

	informer  cache.SharedIndexInformer
	transport *http.Transport
	changes   chan change

	mu sync.Mutex
	// observed are the ready endpoints per Service and EndpointSlice, as the API says now.
	observed map[string]map[string][]types.UID
	// routes are the endpoints applied to the data plane, Lag late.
	routes map[string]*route
	// history records every applied change of a Service's number of ready endpoints.
	history map[string][]countChange
	// routed records when the proxy started and stopped routing to each endpoint.
	routed map[types.UID]*RoutedTimes
}

// RoutedTimes is when the proxy started routing to an endpoint, and when it stopped (zero: still routing).
type RoutedTimes struct {
	From, Until time.Time
}

type route struct {
	uids []types.UID
	next int
}

type change struct {
	at      time.Time // when the proxy applies it
	service string
	uids    []types.UID
}

type countChange struct {
	at    time.Time
	count int
}

// NewProxy watches the fleet's EndpointSlices; call Run to start it and serve it with http.Serve.
func NewProxy(client kubernetes.Interface, rt *Runtime, lag time.Duration, logf func(string, ...any)) *Proxy {
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = fleetLabel }))
	p := &Proxy{
		Lag:      lag,
		runtime:  rt,
		logf:     logf,
		informer: factory.Discovery().V1().EndpointSlices().Informer(),
		transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     30 * time.Second,
		},
		changes:  make(chan change, 10000),
		observed: map[string]map[string][]types.UID{},
		routes:   map[string]*route{},
		history:  map[string][]countChange{},
		routed:   map[types.UID]*RoutedTimes{},
	}
	_, _ = p.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.observe(obj, false) },
		UpdateFunc: func(_, obj any) { p.observe(obj, false) },
		DeleteFunc: func(obj any) { p.observe(obj, true) },
	})
	return p
}

// Run watches EndpointSlices and applies their changes Lag late, in order, until ctx ends.
func (p *Proxy) Run(ctx context.Context) error {
	go p.informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), p.informer.HasSynced) {
		return fmt.Errorf("proxy: EndpointSlice informer did not sync")
	}
	for {
		select {
		case <-ctx.Done():
			p.transport.CloseIdleConnections()
			return nil
		case c := <-p.changes:
			select {
			case <-time.After(time.Until(c.at)):
			case <-ctx.Done():
				return nil
			}
			p.apply(c)
		}
	}
}

// observe records an EndpointSlice's ready endpoints and schedules the Service's new endpoint set.
func (p *Proxy) observe(obj any, deleted bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	slice, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	svc := slice.Labels[discoveryv1.LabelServiceName]
	if svc == "" {
		return
	}
	key := slice.Namespace + "/" + svc
	var ready []types.UID
	if !deleted {
		for _, ep := range slice.Endpoints {
			if (ep.Conditions.Ready == nil || *ep.Conditions.Ready) && ep.TargetRef != nil && ep.TargetRef.Kind == "Pod" {
				ready = append(ready, ep.TargetRef.UID)
			}
		}
	}
	p.mu.Lock()
	if p.observed[key] == nil {
		p.observed[key] = map[string][]types.UID{}
	}
	if deleted {
		delete(p.observed[key], slice.Name)
	} else {
		p.observed[key][slice.Name] = ready
	}
	var all []types.UID
	for _, uids := range p.observed[key] {
		all = append(all, uids...)
	}
	p.mu.Unlock()
	slices.Sort(all)
	p.changes <- change{at: time.Now().Add(p.Lag), service: key, uids: slices.Compact(all)}
}

func (p *Proxy) apply(c change) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.routes[c.service]
	if r == nil {
		r = &route{}
		p.routes[c.service] = r
	}
	now := time.Now()
	for _, uid := range r.uids {
		if !slices.Contains(c.uids, uid) {
			p.routed[uid].Until = now
		}
	}
	for _, uid := range c.uids {
		if rt := p.routed[uid]; rt == nil || !rt.Until.IsZero() {
			p.routed[uid] = &RoutedTimes{From: now}
		}
	}
	r.uids = c.uids
	h := p.history[c.service]
	if len(h) == 0 || h[len(h)-1].count != len(c.uids) {
		p.history[c.service] = append(h, countChange{at: now, count: len(c.uids)})
	}
}

// Routed returns when the proxy routed to an endpoint.
func (p *Proxy) Routed(uid types.UID) (RoutedTimes, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rt, ok := p.routed[uid]
	if !ok {
		return RoutedTimes{}, false
	}
	return *rt, true
}

// Endpoints is the number of endpoints the proxy routes a Service to now.
func (p *Proxy) Endpoints(service string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.routes[service]; r != nil {
		return len(r.uids)
	}
	return 0
}

// ServeHTTP routes GET /NAMESPACE/SERVICE/REST to one ready endpoint of the Service.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 3)
	if r.Method != http.MethodGet || len(parts) < 2 {
		http.Error(w, "proxy: GET /NAMESPACE/SERVICE/ only", http.StatusNotFound)
		return
	}
	service := parts[0] + "/" + parts[1]
	p.mu.Lock()
	var uid types.UID
	if rt := p.routes[service]; rt != nil && len(rt.uids) > 0 {
		uid = rt.uids[rt.next%len(rt.uids)]
		rt.next++
	}
	p.mu.Unlock()
	if uid == "" {
		http.Error(w, "no ready endpoint", http.StatusServiceUnavailable)
		return
	}
	addr, ok := p.runtime.Addr(uid)
	if !ok {
		http.Error(w, "endpoint without a process", http.StatusBadGateway)
		return
	}
	rest := "/"
	if len(parts) == 3 {
		rest += parts[2]
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://"+addr+rest, nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		http.Error(w, "upstream: "+errorClass(err), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// errorClass names a transport error briefly: "connection refused", "connection reset", "timeout", "EOF"…
func errorClass(err error) string {
	s := err.Error()
	for _, c := range []string{"connection refused", "connection reset", "timeout", "EOF", "broken pipe"} {
		if strings.Contains(s, c) {
			return c
		}
	}
	return s
}
