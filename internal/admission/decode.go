package admission

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	cradmission "sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// kinded is a decoding target that tells its apiVersion and kind: an API object, or a part of one (podObject).
type kinded interface{ GetObjectKind() schema.ObjectKind }

// decodeRequest checks that req is about want (its group and kind, no subresource) and decodes its object into obj.
func decodeRequest(req cradmission.Request, obj kinded, want schema.GroupVersionKind) error {
	if req.Kind.Kind != want.Kind || req.Kind.Group != want.Group || req.SubResource != "" {
		return fmt.Errorf("expected %s, got %s %s", kindName(want), req.Kind.String(), req.SubResource)
	}
	return decode(req.Object.Raw, obj, want)
}

// decode decodes a request's object into obj, which must be of kind want, as controller-runtime's admission decoder
// does (case-sensitive field names, integers kept as integers; a missing apiVersion or kind means want, any other is
// an error), without the API machinery serializer's first pass over the whole object, which only finds its
// apiVersion and kind: that pass was a third of the decoding time.
func decode(raw []byte, obj kinded, want schema.GroupVersionKind) error {
	if len(raw) == 0 {
		return errors.New("there is no content to decode")
	}
	if err := utiljson.Unmarshal(raw, obj); err != nil {
		return err
	}
	apiVersion, kind := obj.GetObjectKind().GroupVersionKind().ToAPIVersionAndKind()
	wantAPIVersion, wantKind := want.ToAPIVersionAndKind()
	if apiVersion, kind = cmp.Or(apiVersion, wantAPIVersion), cmp.Or(kind, wantKind); apiVersion != wantAPIVersion || kind != wantKind {
		return fmt.Errorf("unable to decode %s, Kind=%s into %s, Kind=%s", apiVersion, kind, wantAPIVersion, wantKind)
	}
	return nil
}

// kindName reads like a message: "a Pod", "an apps Deployment".
func kindName(gvk schema.GroupVersionKind) string {
	name := strings.TrimSpace(gvk.Group + " " + gvk.Kind)
	if strings.ContainsRune("aeiouAEIOU", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}
