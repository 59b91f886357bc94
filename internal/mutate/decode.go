package mutate

import (
	"cmp"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// decodePod decodes a request's object as controller-runtime's admission decoder did (case-sensitive field names,
// integers kept as integers; a missing apiVersion or kind means v1 Pod, any other is an error) without the API
// machinery serializer's first pass over the whole object, which only finds its apiVersion and kind. That pass was a
// third of the decoding time.
func decodePod(raw []byte, pod *corev1.Pod) error {
	if len(raw) == 0 {
		return errors.New("there is no content to decode")
	}
	if err := utiljson.Unmarshal(raw, pod); err != nil {
		return err
	}
	if gv, kind := cmp.Or(pod.APIVersion, "v1"), cmp.Or(pod.Kind, "Pod"); gv != "v1" || kind != "Pod" {
		return fmt.Errorf("unable to decode %s, Kind=%s into a v1 Pod", gv, kind)
	}
	return nil
}
