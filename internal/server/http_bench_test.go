package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ha-webhook/ha-webhook/internal/names"
)

// BenchmarkServeHTTP is one admission through the whole HTTP chain a request meets (envelope, controller-runtime's
// Handle, the handler, bounds, the answer's encoding), without TLS and without the network:
// go test ./internal/server -run '^$' -bench ServeHTTP -benchmem
func BenchmarkServeHTTP(b *testing.B) {
	for name, tc := range map[string]struct{ path, file string }{
		"pod":        {names.PathMutatePod, "pod.json"},
		"deployment": {names.PathValidateDeployment, "deployment.json"},
	} {
		body, err := os.ReadFile(filepath.Join("..", "..", "examples", "admission-review", tc.file))
		if err != nil {
			b.Fatal(err)
		}
		h := testHandlers(b, 0, false)[tc.path]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if w := post(h, tc.path, "application/json", body); w.Code != 200 {
					b.Fatalf("HTTP %d: %s", w.Code, w.Body.String())
				}
			}
		})
	}
}
