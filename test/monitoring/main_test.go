package monitoring

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

var (
	// helmBin is helm from hack/testbin.sh.
	helmBin string
	// suite starts the control plane on first use, so the tests that need none do not wait for it.
	suite  *testenv.Suite
	tmpDir string
)

func TestMain(m *testing.M) {
	testenv.Main(m, "monitoring", func(s *testenv.Suite) error {
		suite, tmpDir = s, s.Dir()
		assets, err := testenv.Assets("helm")
		if err != nil {
			return fmt.Errorf("helm is needed (hack/testbin.sh helm builds it from the Go module proxy): %w", err)
		}
		helmBin = filepath.Join(assets, "helm")
		return nil
	})
}
