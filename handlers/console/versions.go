package console

import "net/http"

// versionsPage lists the settings changes, newest first: who, when, which
// section, before and after.
type versionsPage struct {
	*renderer
	settings Settings
}

func (p versionsPage) serve(q *request) {
	list, err := p.settings.SettingsVersions(q.r.Context(), q.m, 100)
	if err != nil {
		p.fail(q, err)
		return
	}
	p.render(q.w, q.r, http.StatusOK, "versions", q.view("设置版本", "versions", list))
}
