package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build is how BuildWebhook builds ha-webhook.
type Build int

const (
	// BuildDev is a plain `go build`: it shares the build cache with `go build ./...`, so it costs nothing more
	// after the tree was built.
	BuildDev Build = iota
	// BuildRace adds the race detector, so that a test run under -race exercises the real server's concurrency too.
	BuildRace
	// BuildRelease is what `make build` and the image ship (CGO_ENABLED=0, -trimpath): for measuring the process
	// itself, e.g. its resident memory, which linking libc would change.
	BuildRelease
)

// BuildWebhook builds the ha-webhook binary from this checkout's ./cmd/webhook into dir and returns its path. The
// tests that need the product's own process (SIGTERM, flags, exit codes, resident memory) and `make demo` run this
// binary rather than the server in-process; it is built here, one way, from the root module whichever module or
// working directory the caller runs in.
func BuildWebhook(ctx context.Context, dir string, build Build) (string, error) {
	bin := filepath.Join(dir, "ha-webhook")
	args := []string{"build", "-o", bin}
	env := os.Environ()
	switch build {
	case BuildRace:
		args = append(args, "-race")
	case BuildRelease:
		args = append(args, "-trimpath")
		env = append(env, "CGO_ENABLED=0")
	}
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/webhook")...)
	cmd.Dir = RepoRoot()
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building ha-webhook from ./cmd/webhook: %v\n%s", err, out)
	}
	return bin, nil
}
