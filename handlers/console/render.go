package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

//go:embed templates/*.html
var templateFiles embed.FS

// renderer writes the console's pages, and the error page for what went
// wrong; every page holds it. It is built once by New and never changed.
type renderer struct {
	templates map[string]*template.Template // page → the page with layout.html
	log       *slog.Logger
}

func newRenderer(log *slog.Logger) *renderer {
	funcs := templateFuncs()
	templates := map[string]*template.Template{}
	for _, name := range []string{"login", "home", "edit", "funnel", "leaderboard", "members", "outbox", "versions", "preview", "error"} {
		templates[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	return &renderer{templates: templates, log: log}
}

// templateFuncs are the words and formats the templates use.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"when":     when,
		"yuan":     yuan,
		"stage":    func(s string) string { return or(stageName(s), s) },
		"purpose":  func(s string) string { return or(purposeName(s), s) },
		"status":   func(s ritual.OutboxStatus) string { return or(statusName(s), string(s)) },
		"steps":    stepsNames,
		"role":     roleName,
		"result":   resultName,
		"state":    func(s ritual.MemberState) string { return or(stateName(s), string(s)) },
		"right":    func(s string) string { return or(rightName(s), s) },
		"ceremony": func(s string) string { return or(ceremonyName(s), s) },
		"seconds": func(p *float64) string {
			if p == nil {
				return "—"
			}
			return humanSeconds(*p)
		},
		"pct": func(p *float64) string {
			if p == nil {
				return "—"
			}
			return fmt.Sprintf("%.0f%%", *p*100)
		},
		"pretty": func(raw json.RawMessage) string {
			var b bytes.Buffer
			if json.Indent(&b, raw, "", "  ") != nil {
				return string(raw)
			}
			return b.String()
		},
		"signed": func(n int64) string {
			if n > 0 {
				return "+" + strconv.FormatInt(n, 10)
			}
			return strconv.FormatInt(n, 10)
		},
	}
}

// view is what every page template gets.
type view struct {
	Title    string
	Nav      string
	Session  *ritual.ConsoleSession
	Merchant *ritual.Merchant
	Loc      *time.Location
	Flash    string
	Error    string
	Data     any
}

// CSRF is the session's token for the page's forms.
func (v view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.CSRFToken
}

// CanEdit reports whether the signed-in user may change settings.
func (v view) CanEdit() bool { return v.Session != nil && v.Session.CanChangeSettings() }

// render writes page with status.
func (rd *renderer) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := rd.templates[page]
	if !ok {
		panic("console: no page template " + page)
	}
	if v.Loc == nil {
		v.Loc = time.UTC
		if v.Merchant != nil {
			v.Loc = v.Merchant.Location()
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", v); err != nil {
		rd.log.ErrorContext(r.Context(), "console: render", "page", page, "err", err)
	}
}

// errorPage answers status with a page saying msg.
func (rd *renderer) errorPage(w http.ResponseWriter, r *http.Request, q *request, status int, msg string) {
	v := view{Title: statusTitle(status), Error: msg, Data: status}
	if q != nil {
		v.Session, v.Merchant = q.s, q.m
	}
	rd.render(w, r, status, "error", v)
}

// statusTitle heads the error page of status.
func statusTitle(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "请求有误"
	case http.StatusUnauthorized:
		return "需要登录"
	case http.StatusForbidden:
		return "没有权限"
	case http.StatusNotFound:
		return "找不到"
	case http.StatusConflict:
		return "有冲突"
	case http.StatusUnprocessableEntity:
		return "输入有误"
	case http.StatusInternalServerError:
		return "出错了"
	case http.StatusServiceUnavailable:
		return "暂不可用"
	}
	return http.StatusText(status)
}

// fail answers an error from the domain: its message for the codes a user
// can act on, a generic sentence (and a log line) for the rest.
func (rd *renderer) fail(q *request, err error) {
	switch ritual.ErrorCode(err) {
	case ritual.ENOTFOUND:
		rd.errorPage(q.w, q.r, q, http.StatusNotFound, "没有找到："+ritual.ErrorMessage(err))
	case ritual.EINVALID, ritual.EBADREQUEST:
		rd.errorPage(q.w, q.r, q, http.StatusUnprocessableEntity, ritual.ErrorField(err)+" "+ritual.ErrorMessage(err))
	case ritual.ECONFLICT:
		rd.errorPage(q.w, q.r, q, http.StatusConflict, ritual.ErrorMessage(err))
	default:
		if errors.Is(q.r.Context().Err(), context.Canceled) {
			return
		}
		rd.log.ErrorContext(q.r.Context(), "console", "path", q.r.URL.Path, "err", err)
		rd.errorPage(q.w, q.r, q, http.StatusInternalServerError, "服务出错了，请稍后再试。")
	}
}
