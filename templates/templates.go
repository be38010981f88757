// Package templates holds every text wxclub shows a shopper — passive
// replies in chat and the fields of WeChat template messages — as embedded
// text/template files, rendered by name. Wording lives here, not in code, so
// it can be reviewed in one place and overridden per merchant.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"strings"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// Set is a parsed set of named text templates.
type Set struct {
	t *template.Template
}

// Default returns the templates shipped with wxclub. It panics if they do
// not parse, which a test catches before any release.
func Default() *Set {
	t := template.New("wxclub").Funcs(funcs).Option("missingkey=error")
	return &Set{t: template.Must(t.ParseFS(files, "*.tmpl"))}
}

var funcs = template.FuncMap{
	"yuan": Yuan,
}

// Yuan formats an amount in fen as yuan with two decimals ("1234" → "12.34").
func Yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

// Render executes the template called name with data. Surrounding white
// space is trimmed, so template files can be laid out for reading.
func (s *Set) Render(name string, data any) (string, error) {
	t := s.t.Lookup(name)
	if t == nil {
		return "", fmt.Errorf("templates: no template %q", name)
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", fmt.Errorf("templates: render %q: %w", name, err)
	}
	return strings.TrimSpace(buf.String()), nil
}

// Has reports whether a template called name exists.
func (s *Set) Has(name string) bool { return s.t.Lookup(name) != nil }
