package console

import "net/http"

// outboxPage lists the messages WeChat refused for good, with its reason.
type outboxPage struct {
	*renderer
	reports Reports
}

func (p outboxPage) serve(q *request) {
	failed, err := p.reports.OutboxFailures(q.r.Context(), q.m, 200)
	if err != nil {
		p.fail(q, err)
		return
	}
	p.render(q.w, q.r, http.StatusOK, "outbox", q.view("发送失败的消息", "outbox", failed))
}
