package admission

import (
	"cmp"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// decode decodes a request's object into obj, which must be of kind want, as controller-runtime's admission decoder
// does (case-sensitive field names, integers kept as integers; a missing apiVersion or kind means want, any other is
// an error), without the API machinery serializer's first pass over the whole object, which only finds its
// apiVersion and kind: that pass was a third of the decoding time.
func decode(raw []byte, obj runtime.Object, want schema.GroupVersionKind) error {
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
