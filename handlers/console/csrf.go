package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
)

// Every form the console posts carries a token in a hidden field:
//
//   - signed in, the session's own CSRF token (kept with the session in the
//     database, compared in constant time by ritual.ConsoleSession.ValidCSRF);
//   - on the sign-in form, where there is no session yet, a random token
//     that must match a cookie set with the form (double submit), so another
//     site cannot sign a browser into an account of its choosing.
//
// SameSite=Lax on the session cookie already keeps other sites' POSTs
// unauthenticated; the tokens hold even where a browser ignores SameSite.

// csrfField is the hidden field that carries the token.
const csrfField = "csrf"

// loginCookie carries the sign-in form's token.
const loginCookie = "wxclub_console_login"

// loginToken returns the sign-in form's token, setting its cookie if the
// browser has none.
func loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && len(c.Value) >= 32 {
		return c.Value
	}
	token := newToken()
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: token, Path: "/console/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
	})
	return token
}

// validLoginToken reports whether the posted sign-in form carries its
// cookie's token.
func validLoginToken(r *http.Request) bool {
	c, err := r.Cookie(loginCookie)
	if err != nil || len(c.Value) < 32 {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get(csrfField))) == 1
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
