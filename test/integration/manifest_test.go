package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/ha-webhook/ha-webhook/internal/manifest"
	"github.com/ha-webhook/ha-webhook/test/testenv"
)

// `ha-webhook check` reads manifests as `kubectl apply -f` reads them: internal/manifest's inputs about reading
// (internal/manifest/testdata/kubectl, written from its unit tests' tables) compared with the kubectl binary of the
// control plane. The inputs manifest.Decode rejects on purpose where kubectl does not (no object at all, a field of
// the wrong type, which kubectl leaves to the API server) are not among them.
func TestManifestReaderAgreesWithKubectl(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "internal", "manifest", "testdata", "kubectl", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no inputs (%v)", err)
	}
	for _, f := range files {
		in, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			want, kubectlErr := kubectlNames(t, env.Kubectl(), string(in))
			objs, err := manifest.Decode(manifest.StdinName, in)
			got := ourNames(objs)
			switch {
			case kubectlErr == nil && (err != nil || !cmp.Equal(want, got)):
				t.Errorf("kubectl reads %q; we read %q, error %v", want, got, err)
			case kubectlErr != nil && (err == nil || !isSubset(want, got)):
				t.Errorf("kubectl reads %q and fails (%v); we read %q, error %v", want, kubectlErr, got, err)
			}
		})
	}
}

// kubectlNames runs `kubectl label --local -f - -o name`, which reads its input with the resource builder of
// `kubectl apply -f` but needs no API server, and returns the objects it read of kinds client-go's scheme knows.
func kubectlNames(t *testing.T, kubectl, in string) ([]string, error) {
	t.Helper()
	cmd := exec.Command(kubectl, "label", "--local", "--overwrite", "-f", "-", "ha-webhook.test/read=yes", "-o", "name")
	cmd.Stdin = strings.NewReader(in)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+os.DevNull)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	known := map[string]bool{}
	for gvk := range scheme.Scheme.AllKnownTypes() {
		known[gvk.GroupKind().String()] = true
	}
	var names []string
	for _, line := range strings.Fields(stdout.String()) {
		kind, _, _ := strings.Cut(line, "/")
		for gk := range known {
			if strings.EqualFold(gk, kind) {
				names = append(names, line)
				break
			}
		}
	}
	return names, err
}

// ourNames are the objects Decode read, named as `kubectl -o name` names them.
func ourNames(objs []manifest.Object) []string {
	var names []string
	for _, o := range objs {
		m, _ := meta.Accessor(o.Object)
		names = append(names, strings.ToLower(o.GVK.GroupKind().String())+"/"+m.GetName())
	}
	return names
}

// TestManifestDirectoryAgreesWithKubectl compares which files of a directory are read with `kubectl label --local -R -f DIR`.
func TestManifestDirectoryAgreesWithKubectl(t *testing.T) {
	kubectl := env.Kubectl()
	dir := writeFiles(t, map[string]string{
		"a.yaml": pod("a"), "b.YAML": pod("b"), "c.json": jsonPod("c"), "d.yml": pod("d"), "e.txt": pod("e"),
		"f.Yml": pod("f"), "sub/g.yaml": pod("g"), ".h.yaml": pod("h"), "i.yaml.bak": pod("i"),
	})
	cmd := exec.Command(kubectl, "label", "--local", "--overwrite", "-R", "-f", dir, "ha-webhook.test/read=yes", "-o", "name")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+os.DevNull)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubectl: %v", err)
	}
	want := strings.Fields(string(out))
	objs, err := manifest.Read([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ourNames(objs)
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("objects read (-kubectl +ours):\n%s", diff)
	}
}

func isSubset(sub, of []string) bool {
	for _, s := range sub {
		if !slices.Contains(of, s) {
			return false
		}
	}
	return true
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func pod(name string) string { return "apiVersion: v1\nkind: Pod\nmetadata:\n  name: " + name + "\n" }

func jsonPod(name string) string {
	return `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"` + name + `"}}`
}
