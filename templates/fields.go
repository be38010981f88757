package templates

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode"
)

// MaxFieldRunes is WeChat's limit for a template-message keyword (a
// "thing" value takes at most 20 characters; longer sends fail with 47003).
const MaxFieldRunes = 20

// Field is one rendered keyword of a template message.
type Field struct {
	Key   string
	Value string // fitted to WeChat's rules
	Raw   string // as rendered, before fitting
}

// TemplateFields renders the keywords of a template message for purpose.
// overrides maps a keyword to an inline text/template ("{{.Reason}}") and
// replaces the defaults shipped in template_messages.tmpl when given.
// Every value is one line of at most MaxFieldRunes characters.
func (s *Set) TemplateFields(purpose string, overrides map[string]string, data any) ([]Field, error) {
	render := func(key string) (string, error) { return renderInline(key, overrides[key], data) }
	sources := overrides
	if len(sources) == 0 {
		sources = s.defaultFields(purpose)
		render = func(key string) (string, error) { return s.Render(sources[key], data) }
	}
	if len(sources) == 0 {
		return nil, fmt.Errorf("templates: no fields for %q", purpose)
	}
	fields := make([]Field, 0, len(sources))
	for _, key := range keywordOrder(sources) {
		value, err := render(key)
		if err != nil {
			return nil, err
		}
		fields = append(fields, Field{Key: key, Value: FitField(value), Raw: value})
	}
	return fields, nil
}

// CheckFieldTemplate reports whether an inline field template parses.
func CheckFieldTemplate(text string) error {
	_, err := template.New("field").Funcs(funcs).Option("missingkey=error").Parse(text)
	return err
}

// FitField makes value one line of at most MaxFieldRunes characters,
// shortened as Shorten does.
func FitField(value string) string {
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
	return Shorten(strings.TrimSpace(value), MaxFieldRunes)
}

// Shorten makes value at most max runes without cutting an identifier (an
// order number, an amount: a run of ASCII letters, digits and ¥.-_#/), so
// a shopper never reads half an order number as a whole one. It first
// drops bracketed asides that hold one ("（订单T1001）"), last first, then
// cuts between words and ends in "…". Only a single identifier longer
// than max is cut inside.
func Shorten(value string, max int) string {
	runes := []rune(value)
	if len(runes) <= max {
		return value
	} else if max < 1 {
		return ""
	}
	for {
		open, close := lastAside(runes)
		if open < 0 {
			break
		}
		runes = []rune(strings.TrimSpace(string(runes[:open]) + string(runes[close+1:])))
		if len(runes) <= max {
			return string(runes)
		}
	}
	cut := 0
	for i := 0; i < len(runes) && i < max; {
		j := i + 1
		for isIDRune(runes[i]) && j < len(runes) && isIDRune(runes[j]) {
			j++
		}
		if j > max-1 {
			break
		}
		cut, i = j, j
	}
	if cut == 0 {
		cut = max - 1 // one identifier longer than the field: nothing else to keep
	}
	return strings.TrimRight(string(runes[:cut]), " （(") + "…"
}

// lastAside finds the last bracketed part of runes that holds an
// identifier; -1 when there is none.
func lastAside(runes []rune) (open, close int) {
	close = -1
	for i := len(runes) - 1; i >= 0; i-- {
		switch runes[i] {
		case '）', ')':
			close = i
		case '（', '(':
			if close > i {
				for _, r := range runes[i+1 : close] {
					if isIDRune(r) {
						return i, close
					}
				}
			}
			close = -1
		}
	}
	return -1, -1
}

func isIDRune(r rune) bool {
	return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) || strings.ContainsRune("¥.-_#/…", r)
}

// defaultFields returns the shipped field templates of purpose, named
// "<purpose>.<keyword>", as keyword → template name.
func (s *Set) defaultFields(purpose string) map[string]string {
	out := map[string]string{}
	for _, t := range s.t.Templates() {
		if key, ok := strings.CutPrefix(t.Name(), purpose+"."); ok {
			out[key] = t.Name()
		}
	}
	return out
}

func renderInline(key, text string, data any) (string, error) {
	t, err := template.New(key).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return "", fmt.Errorf("templates: field %s: %w", key, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("templates: field %s: %w", key, err)
	}
	return b.String(), nil
}

// keywordOrder sorts WeChat keywords by their number ("thing1" before
// "character_string2" before "time10"), then by name.
func keywordOrder(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	num := func(k string) int {
		i := strings.LastIndexFunc(k, func(r rune) bool { return !unicode.IsDigit(r) })
		n, _ := strconv.Atoi(k[i+1:])
		return n
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := num(keys[i]), num(keys[j]); a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	return keys
}
