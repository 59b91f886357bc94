package hostile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCorpusParses(t *testing.T) {
	raw, err := Read(Dir())
	if err != nil {
		t.Fatal(err)
	}
	expanded := Load(t, Dir())
	if len(expanded) != len(raw) || len(raw) < 30 {
		t.Fatalf("Read: %d cases, Load: %d, want the same and at least 30", len(raw), len(expanded))
	}
	templates := 0
	for i, c := range expanded {
		if c.Template || c.File != raw[i].File {
			t.Errorf("%s: Load left a template or changed the order", c.File)
		}
		if raw[i].Template {
			templates++
			if strings.Contains(string(c.Body), "{{") {
				t.Errorf("%s: template body not expanded", c.File)
			}
		}
	}
	if templates == 0 {
		t.Errorf("no template case in the corpus")
	}
}

func TestParse(t *testing.T) {
	c, err := Parse("dir/x.txt", []byte("description: d\npath: /p\ncontent-type: a/b\nexpect: http 415\ncheck: sleep=3\ntemplate: true\n---\n{{repeat \"ab\" 3}}"))
	if err != nil {
		t.Fatal(err)
	}
	want := Case{File: "x.txt", Description: "d", Path: "/p", ContentType: "a/b", Expect: "http 415", Check: "sleep=3", Template: true,
		Body: []byte(`{{repeat "ab" 3}}`)}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	if e, err := c.Expand(); err != nil || string(e.Body) != "ababab" || e.Template {
		t.Errorf("Expand = %q, %v", e.Body, err)
	}
	for name, data := range map[string]string{
		"no separator":   "path: /p\nexpect: allowed\n",
		"unknown header": "path: /p\nexpect: allowed\nexpected: denied\n---\n{}",
		"no path":        "expect: allowed\n---\n{}",
		"no expect":      "path: /p\n---\n{}",
	} {
		if _, err := Parse(name, []byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
