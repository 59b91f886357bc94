// Package hostile reads the committed corpus of hostile admission requests, test/reliability/testdata/hostile/*.txt.
// The reliability tests send every case to a real `ha-webhook serve` and check the verdict; internal/server's tests
// use the same files as fuzz seeds and as direct handler inputs. One parser serves both so that the file format has
// one definition.
//
// The package imports nothing of ha-webhook (not even test/testenv, which imports internal/server), so that
// internal/server's own tests can import it without an import cycle.
package hostile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"text/template"
)

// Case is one file of the corpus: "key: value" header lines (description, path, content-type, expect, template,
// check), a "---" line, then the body byte for byte (it may be invalid JSON or UTF-8 on purpose). path and expect
// are required; an unknown header is an error, so that a typo cannot silently drop an expectation.
//
// With "template: true" the body and content-type are Go templates, for inputs too large to commit:
// {{repeat "x" 10240}}, {{nest 20000}} (nested JSON arrays), {{containers 500}} (a JSON array of serving
// containers). Read leaves them as written (Template is true); Expand and Load execute them.
type Case struct {
	// File is the file's base name, e.g. "01-empty-body.txt".
	File        string
	Description string
	// Path is the webhook path the request is sent to, e.g. /mutate-v1-pod.
	Path string
	// ContentType is the request's Content-Type header; empty sends none.
	ContentType string
	// Expect is the verdict: "allowed", "denied", "errored CODE" or "http STATUS".
	Expect string
	// Check is an extra check of the patch, e.g. "sleep=30" or "probe=tcpSocket"; empty for none.
	Check string
	// Template says Body and ContentType are still Go templates.
	Template bool
	Body     []byte
}

// Dir is the corpus directory of this checkout, found from this file's location, so that a test of any package (or
// module) can read it.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "reliability", "testdata", "hostile")
}

// Parse parses one corpus file's content; file names it in errors and becomes Case.File. Templates are not
// expanded.
func Parse(file string, data []byte) (Case, error) {
	header, body, ok := bytes.Cut(data, []byte("\n---\n"))
	if !ok {
		return Case{}, fmt.Errorf("%s: no --- line", file)
	}
	c := Case{File: filepath.Base(file), Body: body}
	for _, line := range strings.Split(string(header), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "description":
			c.Description = v
		case "path":
			c.Path = v
		case "content-type":
			c.ContentType = v
		case "expect":
			c.Expect = v
		case "check":
			c.Check = v
		case "template":
			c.Template = v == "true"
		default:
			return Case{}, fmt.Errorf("%s: unknown header %q", file, k)
		}
	}
	if c.Path == "" || c.Expect == "" {
		return Case{}, fmt.Errorf("%s: path and expect are required", file)
	}
	return c, nil
}

// Read parses every *.txt of dir, in name order, with templates unexpanded (as fuzz seeds they are as good as any,
// and far smaller). An empty corpus is an error.
func Read(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no hostile corpus in %s (%v)", dir, err)
	}
	out := make([]Case, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c, err := Parse(f, data)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Expand returns the case with its body and content-type templates executed; a case that is not a template comes
// back unchanged.
func (c Case) Expand() (Case, error) {
	if !c.Template {
		return c, nil
	}
	body, err := expand(c.File, string(c.Body))
	if err != nil {
		return c, err
	}
	contentType, err := expand(c.File, c.ContentType)
	if err != nil {
		return c, err
	}
	c.Body, c.ContentType, c.Template = []byte(body), contentType, false
	return c, nil
}

// Load reads dir and expands every template, failing t at the first error: the corpus as a real request sends it.
func Load(t testing.TB, dir string) []Case {
	t.Helper()
	cases, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range cases {
		if cases[i], err = cases[i].Expand(); err != nil {
			t.Fatal(err)
		}
	}
	return cases
}

var funcs = template.FuncMap{
	"repeat": strings.Repeat,
	"nest":   func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) },
	"containers": func(n int) string {
		cs := make([]string, n)
		for i := range cs {
			cs[i] = fmt.Sprintf(`{"name":"c%d","image":"registry.example/web:1","ports":[{"containerPort":%d}]}`, i, 1024+i)
		}
		return "[" + strings.Join(cs, ",") + "]"
	},
}

func expand(file, s string) (string, error) {
	tmpl, err := template.New(file).Funcs(funcs).Parse(s)
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	return b.String(), nil
}
