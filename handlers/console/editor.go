package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/wxclub/wxclub/ritual"
)

// editor is a page that edits one settings section of type T with one
// form: the levels, rituals, coupons and campaigns pages are each one.
type editor[T any] struct {
	*renderer
	settings Settings
	section  string // the settings section UpdateSettings replaces
	title    string
	nav      string
	action   string
	// form builds the form showing v.
	form func(q *request, v T) *form
	// bind reads the posted form into v. It may return rename, which maps
	// a key UpdateSettings names in v to the form's input for it (when the
	// form's rows are not v's indexes).
	bind func(b binder, v *T) (rename func(string) string)
	// extra is more for the page: open ceremonies, campaign runs.
	extra func(q *request) (any, error)
}

type editData struct {
	Form  *form
	Extra any
}

// serve shows the section on GET; on POST (owners only, by the route) it
// replaces it through Settings.UpdateSettings. A refused change shows the
// posted values with the error at the field it names and changes nothing;
// a saved one redirects to the page with the new version.
func (e editor[T]) serve(q *request) {
	ctx := q.r.Context()
	raw, version, err := e.settings.Section(ctx, q.m, e.section)
	if err != nil {
		e.fail(q, err)
		return
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		e.fail(q, fmt.Errorf("console: read section %s: %w", e.section, err))
		return
	}
	f := e.form(q, v)
	f.Action, f.Section, f.Version = e.action, e.section, version
	status, flash := http.StatusOK, ""
	switch {
	case q.r.Method == http.MethodPost:
		if status = e.save(q, f, &v); status == answered {
			return
		}
	case q.r.URL.Query().Get("saved") != "":
		flash = "已保存。设置现在是版本 " + q.r.URL.Query().Get("saved") + "。"
	case q.r.URL.Query().Has("unchanged"):
		flash = "没有改动，设置版本不变。"
	}
	d := editData{Form: f}
	if e.extra != nil {
		if d.Extra, err = e.extra(q); err != nil {
			e.fail(q, err)
			return
		}
	}
	page := q.view(e.title, e.nav, d)
	page.Flash = flash
	if g := q.r.URL.Query().Get("granted"); g != "" {
		page.Flash = "已手动完成仪式 #" + g + "：会员已升级。"
	}
	e.render(q.w, q.r, status, "edit", page)
}

// answered is what save returns when it has answered the request itself.
const answered = 0

// save binds the posted form into v and stores it. Saved, it redirects to
// the page with the new version and returns answered; refused, it returns
// the status to show the form with, errors in place.
func (e editor[T]) save(q *request, f *form, v *T) int {
	posted := q.r.PostForm
	f.keep(posted)
	ifVersion, _ := strconv.Atoi(posted.Get("version"))
	f.Version = ifVersion
	rename := e.bind(binder{posted: posted, f: f}, v)
	if f.hasErrors() {
		return http.StatusUnprocessableEntity
	}
	body, err := json.Marshal(v)
	if err != nil {
		e.fail(q, err)
		return answered
	}
	saved, err := e.settings.UpdateSettings(q.r.Context(), q.m, e.section, body, "console:"+q.s.Username, ifVersion)
	switch ritual.ErrorCode(err) {
	case "":
		target := e.action + "?saved=" + strconv.Itoa(saved.Version)
		if saved.Version == ifVersion {
			target = e.action + "?unchanged"
		}
		http.Redirect(q.w, q.r, target, http.StatusSeeOther)
		return answered
	case ritual.EINVALID, ritual.EBADREQUEST:
		if key := ritual.ErrorField(err); rename != nil && key != "" {
			err = &ritual.Error{Code: ritual.EINVALID, Field: rename(key), Message: ritual.ErrorMessage(err)}
		}
		f.place(err)
		return http.StatusUnprocessableEntity
	case ritual.ECONFLICT:
		f.Error = "设置已被其他人修改，你看到的不是最新版本。请重新打开本页，在最新的设置上再改。（" + ritual.ErrorMessage(err) + "）"
		return http.StatusConflict
	default:
		e.fail(q, err)
		return answered
	}
}
