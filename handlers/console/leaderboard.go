package console

import "net/http"

// leaderboardPage shows the week's points board, as the weekly
// leaderboard campaign will reward it.
type leaderboardPage struct {
	*renderer
	reports Reports
}

func (p leaderboardPage) serve(q *request) {
	board, err := p.reports.Leaderboard(q.r.Context(), q.m, 20)
	if err != nil {
		p.fail(q, err)
		return
	}
	p.render(q.w, q.r, http.StatusOK, "leaderboard", q.view("本周积分排行", "leaderboard", board))
}
