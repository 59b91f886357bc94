package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// binaries are the `ha-webhook serve` binaries the separate-process phases run: the current checkout's, and a
// baseline built from another checkout (-baseline-repo), empty when there is none.
type binaries struct {
	current, baseline string
}

// baselineBinary is the name of the baseline's binary: another command name than the current one's, so that the
// CPU time of the two processes is told apart in /proc (a command name is cut at 15 characters).
const baselineBinary = "ha-webhook-base"

// buildBinaries builds the current checkout's cmd/webhook (testenv.BuildRelease) into dir, and the baseline's when
// o.baselineRepo is set.
func buildBinaries(ctx context.Context, o options, dir string, p progress) (binaries, *baselineResult, error) {
	var bins binaries
	var err error
	p.printf("building ha-webhook (cmd/webhook) for the separate-process phases")
	if bins.current, err = testenv.BuildWebhook(ctx, dir, testenv.BuildRelease); err != nil {
		return bins, nil, err
	}
	if o.baselineRepo == "" {
		return bins, nil, nil
	}
	info, err := describeRepo(o.baselineRepo)
	if err != nil {
		return bins, nil, err
	}
	p.printf("building the baseline's ha-webhook from %s (%.12s %s)", info.Repo, info.Commit, info.Subject)
	if bins.baseline, err = buildRelease(ctx, info.Repo, filepath.Join(dir, baselineBinary)); err != nil {
		return bins, nil, err
	}
	return bins, info, nil
}

// buildRelease builds repo's ./cmd/webhook into bin as testenv.BuildRelease builds this checkout's (CGO_ENABLED=0,
// -trimpath, the same Go toolchain and environment): testenv builds only the checkout it belongs to.
func buildRelease(ctx context.Context, repo, bin string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "-trimpath", "./cmd/webhook")
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the baseline's ha-webhook from %s/cmd/webhook: %v\n%s", repo, err, out)
	}
	return bin, nil
}

// describeRepo checks that dir is a checkout of ha-webhook and reads its commit.
func describeRepo(dir string) (*baselineResult, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(filepath.Join(abs, "cmd", "webhook")); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("-baseline-repo %s: no cmd/webhook there (a git worktree of an older commit, e.g. `git worktree add /tmp/base COMMIT`)", dir)
	}
	info := &baselineResult{Repo: abs}
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", abs}, args...)...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	info.Commit, info.Subject = git("rev-parse", "HEAD"), git("log", "-1", "--format=%s")
	info.Dirty = git("status", "--porcelain", "--untracked-files=no") != ""
	return info, nil
}
