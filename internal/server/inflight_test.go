package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLimitInFlight: with max requests being handled, the next waits up to wait for a slot: it is handled if one
// frees in time, and otherwise answered (HTTP 500, no Retry-After, the cause as text) and counted as shed, on any
// path the limit wraps. A request whose caller leaves while it waits is neither answered nor counted. max 0 is no
// limit.
func TestLimitInFlight(t *testing.T) {
	for name, tc := range map[string]struct {
		max, held int
		wait      time.Duration
		// releaseAfter frees the held requests this long after the probe request was sent (0: after it returned).
		releaseAfter time.Duration
		// cancelAfter ends the probe request's context this long after it was sent (0: never).
		cancelAfter time.Duration
		wantCode    int
		wantShed    int32
	}{
		"below the limit":                    {max: 3, held: 2, wait: time.Second, wantCode: http.StatusNoContent},
		"no limit (max 0)":                   {max: 0, held: 50, wantCode: http.StatusNoContent},
		"nothing held, max 1":                {max: 1, wantCode: http.StatusNoContent},
		"at the limit, no wait":              {max: 2, held: 2, wantCode: http.StatusInternalServerError, wantShed: 1},
		"at the limit, no slot within wait":  {max: 1, held: 1, wait: 50 * time.Millisecond, wantCode: http.StatusInternalServerError, wantShed: 1},
		"at the limit, a slot within wait":   {max: 1, held: 1, wait: 5 * time.Second, releaseAfter: 50 * time.Millisecond, wantCode: http.StatusNoContent},
		"at the limit, the caller goes away": {max: 1, held: 1, wait: 5 * time.Second, cancelAfter: 50 * time.Millisecond, wantCode: http.StatusOK /* nothing written */},
	} {
		t.Run(name, func(t *testing.T) {
			var shed atomic.Int32
			limit := limitInFlight(tc.max, tc.wait, func() { shed.Add(1) })
			release, entered := make(chan struct{}), make(chan struct{}, tc.held+1)
			blocking := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				entered <- struct{}{}
				<-release
			}))
			other := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
			var wg sync.WaitGroup
			for range tc.held {
				wg.Add(1)
				go func() {
					defer wg.Done()
					blocking.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/a", nil))
				}()
				<-entered
			}
			var once sync.Once
			releaseHeld := func() { once.Do(func() { close(release) }) }
			defer releaseHeld()
			if tc.releaseAfter > 0 {
				time.AfterFunc(tc.releaseAfter, releaseHeld)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			w := httptest.NewRecorder()
			other.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/b", nil).WithContext(ctx))
			if w.Code != tc.wantCode {
				t.Errorf("with %d held of %d: HTTP %d %q, want %d", tc.held, tc.max, w.Code, w.Body.String(), tc.wantCode)
			}
			if w.Code == http.StatusInternalServerError {
				if !strings.Contains(w.Body.String(), "overloaded") || w.Header().Get("Retry-After") != "" {
					t.Errorf("shed answer %q, Retry-After %q: want the cause and no Retry-After", w.Body.String(), w.Header().Get("Retry-After"))
				}
			}
			if got := shed.Load(); got != tc.wantShed {
				t.Errorf("shed counted %d times, want %d", got, tc.wantShed)
			}
			releaseHeld()
			wg.Wait()
			w = httptest.NewRecorder()
			other.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/b", nil))
			if w.Code != http.StatusNoContent {
				t.Errorf("after the held requests finished: HTTP %d, want it handled", w.Code)
			}
		})
	}
}

// TestLimitInFlightQueuesInArrivalOrder: requests waiting for a slot get it in the order they arrived.
func TestLimitInFlightQueuesInArrivalOrder(t *testing.T) {
	limit := limitInFlight(1, 10*time.Second, func() { t.Error("shed a request that had a slot within its wait") })
	release := make(chan struct{})
	entered := make(chan struct{})
	blocking := limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var mu sync.Mutex
	var order []int
	recording := func(i int) http.Handler {
		return limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
		}))
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		blocking.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/a", nil))
	}()
	<-entered
	const waiting = 5
	for i := range waiting {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recording(i).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/b", nil))
		}()
		time.Sleep(20 * time.Millisecond) // let it block before the next arrives
	}
	close(release)
	wg.Wait()
	want := []int{0, 1, 2, 3, 4}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("order handled (-want +got):\n%s", diff)
	}
}
