package console

import (
	"net/http"
	"strings"

	"github.com/wxclub/wxclub/ritual"
)

// membersPage finds a member by openid or phone and shows everything about
// them: level, points, ledger, ceremonies, coupons and messages.
type membersPage struct {
	*renderer
	members Members
}

type membersData struct {
	Query string
	Page  *ritual.MemberPage
	Error string
}

func (p membersPage) serve(q *request) {
	d := membersData{Query: strings.TrimSpace(q.r.URL.Query().Get("q"))}
	status := http.StatusOK
	if d.Query != "" {
		page, err := p.members.MemberPage(q.r.Context(), q.m, d.Query)
		switch ritual.ErrorCode(err) {
		case "":
			d.Page = &page
		case ritual.ENOTFOUND:
			d.Error, status = "没有找到会员 "+d.Query+"（按 openid 或手机号查找）。", http.StatusNotFound
		case ritual.EINVALID:
			d.Error, status = ritual.ErrorMessage(err), http.StatusUnprocessableEntity
		default:
			p.fail(q, err)
			return
		}
	}
	p.render(q.w, q.r, status, "members", q.view("会员", "members", d))
}
