package ritual

import (
	"strings"
	"testing"
)

func TestCouponCodesAreUnambiguousAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 20000 {
		code := newCouponCode()
		if len(code) != couponCodeLen {
			t.Fatalf("code %q has %d characters, want %d", code, len(code), couponCodeLen)
		}
		if strings.ContainsAny(code, "01OIL") {
			t.Fatalf("code %q holds a character that reads as another", code)
		}
		if seen[code] {
			t.Fatalf("code %q drawn twice", code)
		}
		seen[code] = true
		for _, r := range code {
			counts[r]++
		}
	}
	// 200,000 draws over 31 characters: about 6,450 each (σ ≈ 80). A
	// plain byte % 31 would give the first 8 characters about 7,030.
	for _, r := range couponCodeAlphabet {
		if n := counts[r]; n < 6000 || n > 6900 {
			t.Errorf("%c drawn %d times in 200,000, want about 6,450", r, n)
		}
	}
}
