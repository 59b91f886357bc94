package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// maxRequestBody is controller-runtime's own limit on an admission request (two objects of at most 3 MB each plus
// the envelope).
const maxRequestBody = 7 << 20

// maxUID bounds the request UID echoed in the answer; the API server sends 36-character UUIDs.
const maxUID = 128

// envelope is the part of an AdmissionReview that must be right before any handler runs.
type envelope struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID types.UID `json:"uid"`
	} `json:"request"`
}

// checkEnvelope answers, without calling h, any body that is not an AdmissionReview as the API server sends one:
// larger than the limit, not JSON, another apiVersion or kind, no request or no (or an oversized) uid.
// controller-runtime's admission.Webhook would decode such a body anyway and echo its uid, apiVersion and kind into
// the answer whatever their size, or hand a request without uid to the handlers. The answer is an AdmissionReview
// with code 400 (413 for the size) that quotes nothing from the request.
func checkEnvelope(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r) // controller-runtime answers "request body is empty"
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
		r.Body.Close()
		switch {
		case err != nil:
			writeError(w, "", http.StatusBadRequest, errors.New("reading the request body failed"))
			return
		case len(body) > maxRequestBody:
			writeError(w, "", http.StatusRequestEntityTooLarge, fmt.Errorf("request entity is too large; limit is %d bytes", maxRequestBody))
			return
		}
		var env envelope
		if err := utiljson.Unmarshal(body, &env); err != nil {
			writeError(w, "", http.StatusBadRequest, errors.New("the body is not a JSON AdmissionReview"))
			return
		}
		var uid types.UID
		if env.Request != nil && len(env.Request.UID) <= maxUID {
			uid = env.Request.UID
		}
		switch {
		case env.Kind != "AdmissionReview" || env.APIVersion != "admission.k8s.io/v1" && env.APIVersion != "admission.k8s.io/v1beta1":
			writeError(w, uid, http.StatusBadRequest, errors.New("expected apiVersion admission.k8s.io/v1 (or v1beta1) and kind AdmissionReview"))
			return
		case env.Request == nil:
			writeError(w, "", http.StatusBadRequest, errors.New("the AdmissionReview has no request"))
			return
		case env.Request.UID == "" || len(env.Request.UID) > maxUID:
			writeError(w, "", http.StatusBadRequest, fmt.Errorf("the request needs a uid of 1 to %d characters", maxUID))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		h.ServeHTTP(w, r)
	})
}

// writeError answers like controller-runtime's admission.Webhook does for a request it cannot handle: HTTP 200 and
// an AdmissionReview whose response carries the code.
func writeError(w http.ResponseWriter, uid types.UID, code int32, err error) {
	resp := admission.Errored(code, err)
	resp.UID = uid
	review := admissionv1.AdmissionReview{Response: &resp.AdmissionResponse}
	review.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind("AdmissionReview"))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(review)
}
