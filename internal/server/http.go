package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/ha-webhook/ha-webhook/internal/admission"
	"github.com/ha-webhook/ha-webhook/internal/text"
)

// The HTTP path of one admission request, in the order the request meets it. controller-runtime's webhook server
// (TLS, certificate reload, its request metrics) hands each request to serveHTTP:
//
//  1. closeWhenStopping: once shutdown has begun, ask the client to re-dial a ready replica.
//  2. detachFromDrain: a request context that the drain does not cancel, bounded by the API server's ?timeout=.
//  3. readReview: the body, bounded, decoded once into an AdmissionReview; a body that is not one as the API server
//     sends it is answered here, quoting nothing from it.
//  4. controller-runtime's admission.Webhook.Handle: panic recovery, the request logger, the handler
//     (internal/admission: decodes the object once, calls the pure rules) and the patch encoding.
//  5. admission.Bound: messages, warnings and audit annotations cut to size.
//  6. writeAnswer: a refusal for a reason of the server's own (5xx) as an HTTP 500, anything else as an
//     AdmissionReview in the request's apiVersion.
func serveHTTP(stopping func() bool, hook *cradmission.Webhook) http.Handler {
	return closeWhenStopping(stopping, detachFromDrain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		review, refusal := readReview(r)
		if refusal != nil {
			writeAnswer(w, admissionv1.SchemeGroupVersion.String(), *refusal)
			return
		}
		resp := hook.Handle(r.Context(), cradmission.Request{AdmissionRequest: *review.Request})
		writeAnswer(w, review.APIVersion, admission.Bound(resp))
	})))
}

// closeWhenStopping asks HTTP/1.1 clients to close their keep-alive connection after the current response once
// shutdown has begun. The API server reaches a webhook through a Service, and kube-proxy pins each connection to
// the pod it was opened to: removing the pod from the endpoints moves new connections only. Answering the requests
// that still arrive on pinned connections with "Connection: close" makes the client re-dial, through the Service, to
// a ready replica — a clean hand-over, instead of the race of an idle connection closed by the drain while the
// client is writing a request on it.
func closeWhenStopping(stopping func() bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && stopping() {
			w.Header().Set("Connection", "close")
		}
		h.ServeHTTP(w, r)
	})
}

// maxRequestTimeout is the longest timeoutSeconds a webhook configuration may set.
const maxRequestTimeout = 30 * time.Second

// detachFromDrain gives each request a context that the drain does not cancel. controller-runtime's webhook server
// derives every request's context from its own run context, which is cancelled the moment the drain begins: a
// request still in flight then would fail its live reads (a deployments/scale check reads the Deployment) with
// "context canceled", although the drain exists to let it finish. The request is bounded instead by the timeout the
// API server sends with every webhook call (?timeout=5s), or by the longest allowed one; the drain itself is
// bounded by --graceful-shutdown-timeout.
func detachFromDrain(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), requestTimeout(r))
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestTimeout is the API server's ?timeout= for this call, within (0, maxRequestTimeout].
func requestTimeout(r *http.Request) time.Duration {
	if d, err := time.ParseDuration(r.URL.Query().Get("timeout")); err == nil && d > 0 && d <= maxRequestTimeout {
		return d
	}
	return maxRequestTimeout
}

const (
	// maxRequestBody is controller-runtime's limit on an admission request: two objects of at most 3 MB each plus
	// the envelope.
	maxRequestBody = 7 << 20
	// maxUID bounds the request UID echoed in the answer; the API server sends 36-character UUIDs.
	maxUID = 128
	// maxContentType bounds the Content-Type header quoted in the "expected application/json" answer.
	maxContentType = 128
)

// readReview reads and decodes the AdmissionReview of r, or returns the refusal that answers it: code 400 (413 for
// the size) for a body that is not an AdmissionReview as the API server sends one — another content type, larger
// than the limit, not JSON, another apiVersion or kind, no request, no (or an oversized) uid. A refusal quotes
// nothing from the request but a valid uid, so a crafted 10 KB kind or uid is never echoed.
func readReview(r *http.Request) (*admissionv1.AdmissionReview, *cradmission.Response) {
	refuse := func(uid types.UID, code int32, err error) (*admissionv1.AdmissionReview, *cradmission.Response) {
		resp := cradmission.Errored(code, err)
		resp.UID = uid
		return nil, &resp
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return refuse("", http.StatusBadRequest, fmt.Errorf("contentType=%s, expected application/json", text.Truncate(ct, maxContentType)))
	}
	if r.Body == nil || r.Body == http.NoBody {
		return refuse("", http.StatusBadRequest, errors.New("request body is empty"))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	switch {
	case err != nil:
		return refuse("", http.StatusBadRequest, errors.New("reading the request body failed"))
	case len(body) > maxRequestBody:
		return refuse("", http.StatusRequestEntityTooLarge, fmt.Errorf("request entity is too large; limit is %d bytes", maxRequestBody))
	case len(body) == 0:
		return refuse("", http.StatusBadRequest, errors.New("request body is empty"))
	}
	var review admissionv1.AdmissionReview
	if err := utiljson.Unmarshal(body, &review); err != nil {
		return refuse("", http.StatusBadRequest, errors.New("the body is not a JSON AdmissionReview"))
	}
	req := review.Request
	switch {
	case req == nil:
		return refuse("", http.StatusBadRequest, errors.New("the AdmissionReview has no request"))
	case req.UID == "" || len(req.UID) > maxUID:
		return refuse("", http.StatusBadRequest, fmt.Errorf("the request needs a uid of 1 to %d characters", maxUID))
	case review.Kind != "AdmissionReview" || review.APIVersion != "admission.k8s.io/v1" && review.APIVersion != "admission.k8s.io/v1beta1":
		return refuse(req.UID, http.StatusBadRequest, errors.New("expected apiVersion admission.k8s.io/v1 (or v1beta1) and kind AdmissionReview"))
	}
	return &review, nil
}

// writeAnswer writes resp. A refusal for a reason of the server's own — code 5xx: a cache that has not synced, a
// live read that failed, a recovered panic — becomes an HTTP 500 with the cause as text. The API server applies a
// webhook's failurePolicy to call errors only: an AdmissionReview with allowed=false is a rejection whatever the
// policy. Answered as an AdmissionReview, a replica whose caches have not synced would make the API server refuse
// every pod and Deployment it asks about even under the chart's default failurePolicy Ignore; answered with an HTTP
// error, Fail refuses with the cause and Ignore admits (the API server records the failed-open call). The status is
// always 500, whatever the handler's code: the API server quotes the text of a 500 in its error ("an error on the
// server (\"ha-webhook: …\") has prevented the request from succeeding"), but replaces a 503's with a generic
// sentence. Policy denials (403) and malformed requests (4xx) stay AdmissionReviews.
func writeAnswer(w http.ResponseWriter, apiVersion string, resp cradmission.Response) {
	if !resp.Allowed && resp.Result != nil && resp.Result.Code >= 500 && resp.Result.Code <= 599 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "ha-webhook: %s\n", resp.Result.Message)
		return
	}
	review := admissionv1.AdmissionReview{Response: &resp.AdmissionResponse}
	review.APIVersion, review.Kind = apiVersion, "AdmissionReview"
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}
