package console

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/wxclub/wxclub/ritual"
)

// An edit form is a list of fieldsets of fields, each named by its
// settings key ("membership.levels[1].nickname"): the key is the input's
// name, is shown next to the label for merchants' engineers, and is how an
// error from ritual.UpdateSettings, which names the key, finds its field.

// field is one input.
type field struct {
	Name     string // the settings key; also the input's name
	Label    string
	Kind     string // text | number | select | checkbox | checks | textarea
	Value    string
	Checked  bool
	ReadOnly bool
	Options  []option // select and checks
	Hint     string
	Err      string
	ErrKey   string // the key the error named, when it was below this field
}

type option struct {
	Value, Label string
	Selected     bool
}

// findOption returns the option with value in opts, or nil.
func findOption(opts []option, value string) *option {
	for i := range opts {
		if opts[i].Value == value {
			return &opts[i]
		}
	}
	return nil
}

// fieldset groups the fields of one level, coupon or job.
type fieldset struct {
	Legend string
	Notes  []string
	Fields []*field
}

// form is one edit form of one settings section.
type form struct {
	Action  string
	Section string
	Version int
	Sets    []*fieldset
	Error   string // an error no field of the form shows
	Submit  string
}

func (f *form) set(legend string, fields ...*field) *fieldset {
	s := &fieldset{Legend: legend, Fields: fields}
	f.Sets = append(f.Sets, s)
	return s
}

func (f *form) field(name string) *field {
	for _, s := range f.Sets {
		for _, fl := range s.Fields {
			if fl.Name == name {
				return fl
			}
		}
	}
	return nil
}

// place shows err next to the field it names or, when no input has that
// key, next to the closest input above it ("…ceremony.steps[1]" at
// "…ceremony.steps"); failing that, above the form.
func (f *form) place(err error) {
	key, msg := ritual.ErrorField(err), ritual.ErrorMessage(err)
	for name := key; name != ""; name = parentKey(name) {
		if fl := f.field(name); fl != nil {
			fl.Err = msg
			if name != key {
				fl.ErrKey = key
			}
			return
		}
	}
	if key != "" {
		msg = key + ": " + msg
	}
	f.Error = msg
}

// hasErrors reports whether any field shows an error.
func (f *form) hasErrors() bool {
	for _, s := range f.Sets {
		for _, fl := range s.Fields {
			if fl.Err != "" {
				return true
			}
		}
	}
	return f.Error != ""
}

// keep shows what was posted instead of the stored values, so a refused
// form keeps the user's input.
func (f *form) keep(posted url.Values) {
	for _, s := range f.Sets {
		for _, fl := range s.Fields {
			switch fl.Kind {
			case "checkbox":
				fl.Checked = posted.Has(fl.Name)
			case "checks":
				picked := map[string]bool{}
				for _, v := range posted[fl.Name] {
					picked[v] = true
				}
				for i := range fl.Options {
					fl.Options[i].Selected = picked[fl.Options[i].Value]
				}
			case "select":
				fl.Value = posted.Get(fl.Name)
				for i := range fl.Options {
					fl.Options[i].Selected = fl.Options[i].Value == fl.Value
				}
			default:
				if posted.Has(fl.Name) {
					fl.Value = posted.Get(fl.Name)
				}
			}
		}
	}
}

// parentKey drops the last step of a key: "a.b[2]" → "a.b", "a.b" → "a".
func parentKey(key string) string {
	if strings.HasSuffix(key, "]") {
		if i := strings.LastIndex(key, "["); i > 0 {
			return key[:i]
		}
	}
	if i := strings.LastIndex(key, "."); i > 0 {
		return key[:i]
	}
	return ""
}

func text(name, label, value string) *field {
	return &field{Name: name, Label: label, Kind: "text", Value: value}
}

func number[T ~int | ~int64](name, label string, value T) *field {
	return &field{Name: name, Label: label, Kind: "number", Value: strconv.FormatInt(int64(value), 10)}
}

func checkbox(name, label string, checked bool) *field {
	return &field{Name: name, Label: label, Kind: "checkbox", Checked: checked}
}

func choice(name, label, value string, options ...option) *field {
	for i := range options {
		options[i].Selected = options[i].Value == value
	}
	return &field{Name: name, Label: label, Kind: "select", Value: value, Options: options}
}

func (fl *field) hint(h string) *field {
	fl.Hint = h
	return fl
}

// binder reads posted values into a section, noting inputs that are not
// numbers at their field; values the domain refuses are for
// UpdateSettings to name.
type binder struct {
	posted url.Values
	f      *form
}

func (b binder) str(name string, dst *string) {
	if b.posted.Has(name) {
		*dst = strings.TrimSpace(b.posted.Get(name))
	}
}

func (b binder) flag(name string) bool { return b.posted.Has(name) }

func (b binder) int(name string, dst *int) {
	v := int64(*dst)
	b.int64(name, &v)
	*dst = int(v)
}

func (b binder) int64(name string, dst *int64) {
	if !b.posted.Has(name) {
		return
	}
	raw := strings.TrimSpace(b.posted.Get(name))
	if raw == "" {
		*dst = 0
		return
	}
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		if fl := b.f.field(name); fl != nil {
			fl.Err = "请填写整数（如 50000）"
		} else {
			b.f.Error = name + ": 请填写整数"
		}
		return
	}
	*dst = v
}
