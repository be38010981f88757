package templates_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wxclub/wxclub/templates"
)

type notice struct {
	Reason, Delta, Time, FromNickname, ToNickname, Right string
	Balance                                              int64
}

func TestDefaultFieldsInKeywordOrder(t *testing.T) {
	fields, err := templates.Default().TemplateFields("points_changed", nil, notice{Reason: "消费¥128.00得积分", Delta: "+128", Balance: 128, Time: "2026-11-24 10:00"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		got = append(got, f.Key+"="+f.Value)
	}
	want := "thing1=消费¥128.00得积分 character_string2=+128 character_string3=128 time4=2026-11-24 10:00"
	if strings.Join(got, " ") != want {
		t.Fatalf("fields = %q, want %q", strings.Join(got, " "), want)
	}
}

func TestMerchantFieldsReplaceTheDefaults(t *testing.T) {
	fields, err := templates.Default().TemplateFields("points_changed", map[string]string{
		"keyword10": "{{.Time}}", "keyword2": "共{{.Balance}}分", "first": "您好",
	}, notice{Balance: 99, Time: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 3 || fields[0].Key != "first" || fields[1].Value != "共99分" || fields[2].Key != "keyword10" {
		t.Fatalf("fields = %+v, want first, keyword2, keyword10 in that order", fields)
	}
}

func TestFieldsFitWeChatsRules(t *testing.T) {
	for in, want := range map[string]string{
		"短":                               "短",
		"第一行\n第二行":                        "第一行 第二行",
		strings.Repeat("长", 25):           strings.Repeat("长", 19) + "…",
		"  padded  ":                      "padded",
		strings.Repeat("a", 20):           strings.Repeat("a", 20),
		"\r\nx" + strings.Repeat("b", 30): "x" + strings.Repeat("b", 18) + "…",
	} {
		got := templates.FitField(in)
		if got != want || utf8.RuneCountInString(got) > templates.MaxFieldRunes {
			t.Errorf("FitField(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBadFieldTemplate(t *testing.T) {
	if err := templates.CheckFieldTemplate("{{.Reason"); err == nil {
		t.Fatal("an unclosed action parsed")
	}
	if _, err := templates.Default().TemplateFields("points_changed", map[string]string{"thing1": "{{.Nope}}"}, notice{}); err == nil {
		t.Fatal("a field naming unknown data rendered")
	}
}

func TestShortenKeepsIdentifiersWhole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"退款¥180.00扣回积分（订单…123456）", 20, "退款¥180.00扣回积分"},
		{"退款扣回积分 T10001234567890 多余文字", 20, "退款扣回积分…"},
		{"兑换10元券", 20, "兑换10元券"},
		{"T100012345678901234567890", 20, "T100012345678901234…"},
		{"退款¥180.00扣回积分", 0, ""},
		{"退款¥180.00扣回积分", 1, "…"},
	} {
		if got := templates.Shorten(tc.in, tc.max); got != tc.want {
			t.Errorf("Shorten(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
