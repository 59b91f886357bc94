package text

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestQuote(t *testing.T) {
	tests := map[string]struct {
		in, want string
	}{
		"plain":                 {in: "web", want: `"web"`},
		"empty":                 {in: "", want: `""`},
		"control characters":    {in: "a\nb\x00", want: `"a\nb\x00"`},
		"exactly 40 runes":      {in: strings.Repeat("é", 40), want: `"` + strings.Repeat("é", 40) + `"`},
		"41 runes cut at 40":    {in: strings.Repeat("é", 41), want: `"` + strings.Repeat("é", 40) + `"…`},
		"very long":             {in: strings.Repeat("x", 100000), want: `"` + strings.Repeat("x", 40) + `"…`},
		"invalid UTF-8 is safe": {in: "a\xffb", want: `"a\xffb"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Quote(tc.in)
			if got != tc.want {
				t.Errorf("Quote(%q) = %s, want %s", tc.in, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Quote(%q) is not valid UTF-8", tc.in)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := map[string]struct {
		in   string
		n    int
		want string
	}{
		"shorter":           {in: "abc", n: 5, want: "abc"},
		"exact":             {in: "abcde", n: 5, want: "abcde"},
		"cut with ellipsis": {in: "abcdef", n: 5, want: "abcd…"},
		"counts runes":      {in: "ééééééé", n: 3, want: "éé…"},
		"one":               {in: "abc", n: 1, want: "…"},
		"zero":              {in: "abc", n: 0, want: ""},
		"negative":          {in: "abc", n: -1, want: ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Truncate(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if tc.n >= 0 && utf8.RuneCountInString(got) > tc.n {
				t.Errorf("Truncate(%q, %d) has %d runes", tc.in, tc.n, utf8.RuneCountInString(got))
			}
		})
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("hello world", 5)
	f.Add("ééé\xff", 2)
	f.Fuzz(func(t *testing.T, s string, n int) {
		got := Truncate(s, n)
		if n >= 0 && utf8.RuneCountInString(got) > n {
			t.Errorf("Truncate(%q, %d) = %q: too long", s, n, got)
		}
		// At most 40 runes, each escaped to at most 10 characters (\UXXXXXXXX), two quotes and an ellipsis.
		if q := Quote(s); utf8.RuneCountInString(q) > 2+10*40+1 || !utf8.ValidString(q) {
			t.Errorf("Quote(%q) = %q: unbounded or invalid", s, q)
		}
	})
}
