package handlers_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/handlers"
)

// TestNewRefusesMissingDomain holds New to failing at construction, naming
// the field, when any interface the routes need is missing: a wiring
// mistake must not wait for the first request to surface as a 500.
func TestNewRefusesMissingDomain(t *testing.T) {
	full := noDomain()
	v := reflect.ValueOf(full)
	domain := 0
	for i := range v.NumField() {
		f := v.Type().Field(i)
		// The domain interfaces are the ones package handlers declares.
		if f.Type.Kind() != reflect.Interface || f.Type.PkgPath() != reflect.TypeOf(full).PkgPath() {
			continue
		}
		domain++
		t.Run(f.Name, func(t *testing.T) {
			opts := full
			reflect.ValueOf(&opts).Elem().Field(i).SetZero()
			got := panicOf(func() { handlers.New(opts) })
			if !strings.Contains(got, "Options."+f.Name+" ") {
				t.Fatalf("New without %s panicked with %q, want a panic naming Options.%s", f.Name, got, f.Name)
			}
		})
	}
	if domain == 0 {
		t.Fatal("found no domain interfaces in handlers.Options")
	}
	if got := panicOf(func() { handlers.New(full) }); got != "" {
		t.Fatalf("New with every domain field set panicked: %s", got)
	}
}

// panicOf runs f and returns what it panicked with, "" if it did not.
func panicOf(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return ""
}
