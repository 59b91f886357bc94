package server

import (
	"fmt"
	"net/http"
	"time"
)

// limitInFlight lets max admission requests be handled at once (max ≤ 0: no limit). A request beyond them waits, in
// arrival order and before its body is read, for up to wait; if no slot frees in that time it is answered with an
// error. Without a bound, under a load the replica cannot serve, every request runs beside all the others: latency
// climbs until the API server's calls time out, each pod creation then waits the webhook's whole timeoutSeconds
// before the failurePolicy decides, the replica keeps working on requests whose caller has gone, and what piles up
// holds memory without bound. With it, a burst the replica can absorb is queued and answered (a request shed is a
// pod admitted unmutated under failurePolicy Ignore, so shedding early is not free), and the excess of a sustained
// overload is decided by the failurePolicy after wait instead of timeoutSeconds. The answer is an HTTP 500 without
// Retry-After, so that client-go in the API server does not retry it (it retries a 429 or 5xx only with Retry-After)
// and quotes its text in the error.
func limitInFlight(max int, wait time.Duration, shed func()) func(http.Handler) http.Handler {
	if max <= 0 {
		return func(h http.Handler) http.Handler { return h }
	}
	// One for every path: the replica's CPU and memory are shared. Senders blocked on a full channel are woken in
	// the order they blocked, so the wait is a FIFO queue.
	slots := make(chan struct{}, max)
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !acquire(slots, wait, r) {
				if r.Context().Err() != nil {
					return // the caller has gone: nobody reads an answer
				}
				shed()
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
				w.Header().Set("X-Content-Type-Options", "nosniff")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, "ha-webhook: overloaded: %d admission requests in flight (--max-in-flight) and no slot freed within %s (--max-in-flight-wait); answered at once for the failurePolicy to decide\n", max, wait)
				return
			}
			defer func() { <-slots }()
			h.ServeHTTP(w, r)
		})
	}
}

// acquire takes a slot, waiting at most wait or until the request's caller goes away.
func acquire(slots chan struct{}, wait time.Duration, r *http.Request) bool {
	select {
	case slots <- struct{}{}:
		return true
	default:
	}
	if wait <= 0 {
		return false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case slots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	case <-r.Context().Done():
		return false
	}
}
