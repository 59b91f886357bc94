package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
)

// serverErrorsAsHTTP turns an answer that refuses a request for a reason of the server's own — code 5xx: a cache
// that has not synced, a live read that failed, a recovered panic — into an HTTP 500 with the cause as text.
// The API server applies a webhook's failurePolicy to call errors only: an AdmissionReview with allowed=false is a
// rejection whatever the policy. Answered as an AdmissionReview, a replica whose caches have not synced would make
// the API server refuse every pod and Deployment it asks about even under the chart's default failurePolicy
// Ignore; answered with an HTTP error, Fail refuses with the cause and Ignore admits (the API server records the
// failed-open call). The status is always 500, whatever the handler's code: the API server quotes the text of a
// 500 in its error ("an error on the server (\"ha-webhook: …\") has prevented the request from succeeding"), but
// replaces a 503's with a generic sentence. Policy denials (403) and malformed requests (4xx) stay AdmissionReviews.
func serverErrorsAsHTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := &bufferedResponse{header: http.Header{}}
		h.ServeHTTP(buf, r)
		if message, ok := serverError(buf.body.Bytes()); ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "ha-webhook: %s\n", message)
			return
		}
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		if buf.status != 0 {
			w.WriteHeader(buf.status)
		}
		_, _ = w.Write(buf.body.Bytes())
	})
}

// serverError reports whether body is an AdmissionReview refusing with a 5xx code, and its message.
func serverError(body []byte) (string, bool) {
	if !bytes.Contains(body, []byte(`"allowed":false`)) {
		return "", false
	}
	var review struct {
		Response *struct {
			Allowed bool `json:"allowed"`
			Status  *struct {
				Code    int32  `json:"code"`
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if json.Unmarshal(body, &review) != nil || review.Response == nil || review.Response.Allowed || review.Response.Status == nil {
		return "", false
	}
	if code := review.Response.Status.Code; code >= 500 && code <= 599 {
		return review.Response.Status.Message, true
	}
	return "", false
}

// bufferedResponse holds an answer until it is known whether it is a server error. Answers are small: the largest
// is the patch of a pod with hundreds of containers.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }
func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
