package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// TestCheckGolden runs `check` over examples/ and compares its output with testdata/*.golden. Run
// `go test ./cmd/webhook -run TestCheckGolden -update` after an intended change, and review the diff.
func TestCheckGolden(t *testing.T) {
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	// The output names files relative to the repository root, as the README's commands do.
	t.Chdir(filepath.Join("..", ".."))
	tests := map[string]struct {
		args     []string
		golden   string
		wantCode int
	}{
		"text":           {args: []string{"-f", "examples/"}, golden: "check-examples.txt.golden", wantCode: 1},
		"json":           {args: []string{"-f", "examples/", "-o", "json"}, golden: "check-examples.json.golden", wantCode: 1},
		"compliant text": {args: []string{"-f", "examples/compliant"}, golden: "check-compliant.txt.golden", wantCode: 0},
		"audit json":     {args: []string{"-f", "examples", "-o", "json", "--mode", "audit"}, golden: "check-examples-audit.json.golden", wantCode: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := checkCommand(tc.args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("unexpected stderr:\n%s", stderr.String())
			}
			golden := filepath.Join(testdata, tc.golden)
			if *update {
				if err := os.WriteFile(golden, stdout.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), stdout.String()); diff != "" {
				t.Errorf("output differs from %s (-want +got; run with -update if intended):\n%s", tc.golden, diff)
			}
		})
	}
}

func TestCheckExitCodes(t *testing.T) {
	compliantPod := "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: app, image: x, ports: [{containerPort: 8080}]}]}\n"
	tests := map[string]struct {
		args       []string
		stdin      string
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string // substrings; stderr must be empty when nil
	}{
		"compliant examples": {args: []string{"-f", "../../examples/compliant"}, wantCode: 0, wantStdout: []string{"Deployment shop/web: allowed"}},
		"all examples are denied in enforce mode": {
			args: []string{"-f", "../../examples"}, wantCode: 1,
			wantStdout: []string{"Deployment shop/search: DENIED", "pdb-missing"},
		},
		"audit mode exits 0": {
			args: []string{"-f", "../../examples", "--mode=audit"}, wantCode: 0,
			wantStdout: []string{"Deployment shop/search: allowed in audit mode"},
		},
		"repeated -f and --filename": {
			args: []string{"-f", "../../examples/compliant/web.yaml", "--filename", "../../examples/noncompliant/missing-pdb.yaml"}, wantCode: 1,
			wantStdout: []string{"Deployment shop/web: allowed", "Deployment shop/search: DENIED", "3 checked: 1 denied"},
		},
		"rule flags are applied": {
			args: []string{"-f", "../../examples/compliant/web.yaml", "--min-replicas=4"}, wantCode: 1,
			wantStdout: []string{"min-replicas: 3 replica(s), below 4: a node drain or eviction cuts all traffic"},
		},
		"mutation flags are applied": {
			args: []string{"-f", "-", "--prestop-mode=exec", "--prestop-sleep=20", "-o", "json"}, stdin: compliantPod, wantCode: 0,
			wantStdout: []string{`"command": [`, `"20"`, `"value": 50`},
		},
		"stdin and --namespace": {
			args: []string{"-f", "-", "-n", "team-a"}, stdin: compliantPod, wantCode: 0,
			wantStdout: []string{"Pod team-a/x: allowed", "source: <stdin>: document 1"},
		},
		"stdin with a denied Deployment": {
			args: []string{"--filename=-"}, stdin: readFile(t, "../../examples/noncompliant/two-pdbs.yaml"), wantCode: 1,
			wantStdout: []string{"pdb-multiple"},
		},
		"a StatefulSet is denied like a Deployment": {
			args: []string{"-f", "../../examples/noncompliant/statefulset-single-replica.yaml"}, wantCode: 1,
			wantStdout: []string{"StatefulSet shop/ledger: DENIED", "kubectl scale statefulset ledger -n shop --replicas=2", "1 checked: 1 denied"},
		},
		"a StatefulSet in audit mode": {
			args: []string{"-f", "../../examples/noncompliant/statefulset-single-replica.yaml", "--mode", "audit"}, wantCode: 0,
			wantStdout: []string{"StatefulSet shop/ledger: allowed in audit mode (enforce mode denies it)", "ha-webhook audit: min-replicas"},
		},
		"a PDB shared by two Deployments is judged on both": {
			args: []string{"-f", "../../examples/noncompliant/shared-pdb-unprotective.yaml"}, wantCode: 1,
			wantStdout: []string{"Deployment shop/email: DENIED", "Deployment shop/sms: DENIED", "lets 2 of 4 shared pods go at once", "3 checked: 2 denied, 1 with warnings"},
		},
		"a PDB's warnings never deny": {
			args: []string{"-f", "-"}, stdin: "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: web}\nspec: {maxUnavailable: 1}\n", wantCode: 0,
			wantStdout: []string{"PodDisruptionBudget default/web: allowed", "warning: ha-webhook: pdb-unhealthy-eviction: ", "fix: kubectl patch pdb web -n default", "1 checked: 0 denied, 1 with warnings"},
		},
		"input without workloads": {
			args: []string{"-f", "-"}, stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", wantCode: 0,
			wantStdout: []string{"No Deployments"},
		},
		"unparsable file": {
			args: []string{"-f", "testdata/unparsable.yaml"}, wantCode: 2,
			wantStderr: []string{"testdata/unparsable.yaml: document 2: invalid YAML: line 15: "},
		},
		"missing file": {
			args: []string{"-f", "testdata/nope.yaml"}, wantCode: 2,
			wantStderr: []string{"testdata/nope.yaml: no such file or directory"},
		},
		"no -f": {args: nil, wantCode: 2, wantStderr: []string{"no manifests given"}},
		"positional argument": {
			args: []string{"examples/"}, wantCode: 2,
			wantStderr: []string{`unexpected argument "examples/": name manifests with -f PATH`},
		},
		"bad output": {args: []string{"-f", "-", "-o", "yaml"}, wantCode: 2, wantStderr: []string{`--output must be text or json, got "yaml"`}},
		"bad mode":   {args: []string{"-f", "-", "--mode", "warn"}, wantCode: 2, wantStderr: []string{`mode must be "enforce" or "audit", got "warn"`}},
		"unknown flag": {
			args: []string{"-f", "-", "--replicas=3"}, wantCode: 2,
			wantStderr: []string{"unknown flag: --replicas", `Run "ha-webhook check --help" for usage.`},
		},
		"contradictory flags": {
			args: []string{"-f", "-", "--max-prestop-sleep=700"}, wantCode: 2,
			wantStderr: []string{"--max-termination-grace-period (600) must be greater than --max-prestop-sleep (700)"},
		},
		"bad namespace": {args: []string{"-f", "-", "-n", "Team_A"}, wantCode: 2, wantStderr: []string{`--namespace "Team_A"`}},
		"help":          {args: []string{"--help"}, wantCode: 0, wantStderr: []string{"Usage: ha-webhook check", "--prestop-mode", "--min-replicas", "--filename"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := checkCommand(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout.String(), stderr.String())
			}
			for _, s := range tc.wantStdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout.String())
				}
			}
			if tc.wantStderr == nil && stderr.Len() > 0 {
				t.Errorf("unexpected stderr:\n%s", stderr.String())
			}
			for _, s := range tc.wantStderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr.String())
				}
			}
		})
	}
}

// TestRunDispatchesCheck goes through main's dispatcher, as the binary does.
func TestRunDispatchesCheck(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"check", "-f", "../../examples/noncompliant/missing-pdb.yaml", "-o", "json"}, strings.NewReader(""), &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit code %d, want 1; stderr: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "{\n  \"results\": [") {
		t.Errorf("stdout is not the JSON report:\n%s", stdout.String())
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
