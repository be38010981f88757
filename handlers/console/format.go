package console

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// when shows a time in the merchant's zone; nil and zero times are "—".
func when(loc *time.Location, v any) string {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v != nil {
			t = *v
		}
	}
	if t.IsZero() {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// yuan shows fen as yuan: 50000 → ¥500.00.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s¥%d.%02d", sign, fen/100, fen%100)
}

// humanSeconds says a duration in the largest unit that fits.
func humanSeconds(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.0f 秒", s)
	case s < 3600:
		return fmt.Sprintf("%.0f 分钟", s/60)
	case s < 86400:
		return fmt.Sprintf("%.1f 小时", s/3600)
	default:
		return fmt.Sprintf("%.1f 天", s/86400)
	}
}

// shortDuration writes 1h0m0s as 1h and 90m as 1h30m.
func shortDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// or is a unless it is empty, then b.
func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func itoa(n int) string { return strconv.Itoa(n) }
