package templates_test

import (
	"strings"
	"testing"

	"github.com/wxclub/wxclub/templates"
)

func TestDefaultRendersEveryReply(t *testing.T) {
	set := templates.Default()
	for _, name := range []string{"reply.welcome", "reply.welcome_back", "reply.help", "reply.default"} {
		t.Run(name, func(t *testing.T) {
			got, err := set.Render(name, map[string]any{"Merchant": "茶舍"})
			if err != nil {
				t.Fatal(err)
			}
			if got == "" || strings.HasPrefix(got, "\n") || strings.HasSuffix(got, "\n") {
				t.Fatalf("render %q = %q, want trimmed non-empty text", name, got)
			}
		})
	}
}

func TestRenderNamesMissingData(t *testing.T) {
	_, err := templates.Default().Render("reply.welcome", map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "Merchant") {
		t.Fatalf("err = %v, want an error naming the missing key", err)
	}
}

func TestRenderUnknownTemplate(t *testing.T) {
	if _, err := templates.Default().Render("reply.nope", nil); err == nil {
		t.Fatal("want error for unknown template")
	}
}

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{0: "0.00", 5: "0.05", 1234: "12.34", 100000: "1000.00", -250: "-2.50"} {
		if got := templates.Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}
