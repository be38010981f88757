package console

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/wxclub/wxclub/ritual"
)

// sessionCookie carries the session token. It is scoped to the console,
// HttpOnly, SameSite=Lax, and Secure when the request came over https.
const sessionCookie = "wxclub_console"

// maxForm bounds what a console form may post.
const maxForm = 256 << 10

// request is one signed-in request: the session and its merchant, the
// only merchant the request may read or change.
type request struct {
	w http.ResponseWriter
	r *http.Request
	s *ritual.ConsoleSession
	m *ritual.Merchant
}

func (q *request) view(title, nav string, data any) view {
	return view{Title: title, Nav: nav, Session: q.s, Merchant: q.m, Loc: q.m.Location(), Data: data}
}

// gate lets signed-in requests through to the pages.
type gate struct {
	*renderer
	sessions  Sessions
	merchants Merchants
}

// signedIn resolves the session cookie to a session and its merchant. A
// page asked for without one sends the browser to sign in and back; a
// form posted without one is refused. Every form posted with one must
// carry the session's CSRF token.
func (g gate) signedIn(next func(q *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if c, err := r.Cookie(sessionCookie); err == nil {
			token = c.Value
		}
		s, err := g.sessions.ConsoleSession(r.Context(), token)
		if ritual.ErrorCode(err) == ritual.EUNAUTHORIZED {
			if token != "" {
				clearCookie(w, r, sessionCookie)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/console/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			g.errorPage(w, r, nil, http.StatusUnauthorized, "登录已过期，请重新登录。")
			return
		}
		q := &request{w: w, r: r, s: s}
		if err != nil {
			g.fail(q, err)
			return
		}
		if q.m, err = g.merchants.Merchant(r.Context(), s.MerchantID); err != nil {
			g.fail(q, err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				g.errorPage(w, r, q, http.StatusBadRequest, "表单无法读取。")
				return
			}
			if !s.ValidCSRF(r.PostForm.Get(csrfField)) {
				g.log.WarnContext(r.Context(), "console: CSRF token refused", "merchant", s.MerchantID, "path", r.URL.Path)
				g.errorPage(w, r, q, http.StatusForbidden, "表单已失效（CSRF 校验未通过）。请刷新页面后重试。")
				return
			}
		}
		next(q)
	}
}

// ownerOnly refuses everyone but owners: operators read settings and
// grant ceremonies, but change nothing.
func (g gate) ownerOnly(next func(q *request)) func(q *request) {
	return func(q *request) {
		if !q.s.CanChangeSettings() {
			g.log.InfoContext(q.r.Context(), "console: settings change refused to an operator", "merchant", q.m.ID, "user", q.s.Username)
			g.errorPage(q.w, q.r, q, http.StatusForbidden, "只有店主（owner）可以修改设置。你的角色是运营（operator）：可以查看一切、手动完成仪式。")
			return
		}
		next(q)
	}
}

// loginPage signs users in and out.
type loginPage struct {
	*renderer
	sessions        Sessions
	defaultMerchant string // fills in the sign-in form's merchant
}

type loginData struct {
	Merchant, Username, Next, Token string
}

// get shows the sign-in form, or sends a signed-in user on.
func (p loginPage) get(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if _, err := p.sessions.ConsoleSession(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	merchant := r.URL.Query().Get("merchant")
	if merchant == "" {
		merchant = p.defaultMerchant
	}
	p.renderLogin(w, r, http.StatusOK, loginData{Merchant: merchant, Next: r.URL.Query().Get("next")}, "")
}

func (p loginPage) renderLogin(w http.ResponseWriter, r *http.Request, status int, d loginData, msg string) {
	d.Token = loginToken(w, r)
	p.render(w, r, status, "login", view{Title: "登录", Error: msg, Data: d})
}

// post signs a user in: the form's token must match its cookie, then
// the password is checked (with the rate limits ritual keeps).
func (p loginPage) post(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, nil, http.StatusBadRequest, "表单无法读取。")
		return
	}
	d := loginData{
		Merchant: strings.TrimSpace(r.PostForm.Get("merchant")), Username: strings.TrimSpace(r.PostForm.Get("username")),
		Next: r.PostForm.Get("next"),
	}
	if !validLoginToken(r) {
		p.renderLogin(w, r, http.StatusForbidden, d, "登录表单已失效，请重新输入。")
		return
	}
	s, err := p.sessions.SignIn(r.Context(), d.Merchant, d.Username, r.PostForm.Get("password"), clientIP(r))
	switch ritual.ErrorCode(err) {
	case "":
	case ritual.EUNAUTHORIZED:
		p.renderLogin(w, r, http.StatusUnauthorized, d, "商户、用户名或密码不正确。")
		return
	case ritual.ERATELIMITED:
		p.renderLogin(w, r, http.StatusTooManyRequests, d, "登录失败次数过多，请 15 分钟后再试。")
		return
	default:
		p.log.ErrorContext(r.Context(), "console: sign-in", "err", err)
		p.renderLogin(w, r, http.StatusInternalServerError, d, "服务出错了，请稍后再试。")
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: s.Token, Path: "/console/", MaxAge: int(ritual.SessionLifetime.Seconds()),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(r),
	})
	clearCookie(w, r, loginCookie)
	http.Redirect(w, r, safeNext(d.Next), http.StatusSeeOther)
}

// logout ends the session.
func (p loginPage) logout(q *request) {
	if c, err := q.r.Cookie(sessionCookie); err == nil {
		if err := p.sessions.SignOut(q.r.Context(), c.Value); err != nil {
			p.fail(q, err)
			return
		}
	}
	clearCookie(q.w, q.r, sessionCookie)
	http.Redirect(q.w, q.r, "/console/login", http.StatusSeeOther)
}

// safeNext keeps a post-sign-in redirect inside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

func clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(r)})
}

// isHTTPS reports whether the browser reached us over https, directly or
// through a balancer that says so.
func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// clientIP is the address sign-in failures are counted against: the
// peer's. (X-Forwarded-For is not trusted: anyone can write it.)
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
