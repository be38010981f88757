package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// funnelPage shows the card-activation funnel of a date range, by default
// the last 30 days up to today, as a table and a bar chart.
type funnelPage struct {
	*renderer
	reports Reports
	clock   Clock
}

// stageName is the merchant's word for a funnel stage; "" for a stage the
// console does not know.
func stageName(stage string) string {
	switch stage {
	case "recognized":
		return "下单被识别"
	case "card_scanned":
		return "扫会员卡"
	case "followed":
		return "关注公众号"
	case "activated":
		return "激活会员"
	case "benefit_claimed":
		return "领取权益"
	case "first_repeat_order":
		return "首次复购"
	}
	return ""
}

type funnelData struct {
	From, To string
	Report   ritual.FunnelReport
	Chart    funnelChart
	Error    string
}

// funnelChart lays the stages out as horizontal bars in an SVG of
// Width × Height.
type funnelChart struct {
	Width, Height int
	Bars          []funnelBar
}

type funnelBar struct {
	Stage, Name      string
	Members          int
	Y, TextY, BarW   int
	CountX           int
	Conversion       string
	Median           string
	ConversionAndMed string
}

const (
	chartWidth  = 760
	chartLabelW = 130
	chartBarMax = 360
	chartRow    = 40
)

func (p funnelPage) serve(q *request) {
	loc := q.m.Location()
	now := p.clock.Now().In(loc)
	to := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc)
	from := to.AddDate(0, 0, -30)
	d := funnelData{}
	if s := q.r.URL.Query().Get("from"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			d.Error = "开始日期要写成 2026-11-01 的样子"
		} else {
			from = t
		}
	}
	if s := q.r.URL.Query().Get("to"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		if err != nil {
			d.Error = "结束日期要写成 2026-11-30 的样子"
		} else {
			to = t.AddDate(0, 0, 1) // the form's end date is included
		}
	}
	d.From, d.To = from.Format("2006-01-02"), to.AddDate(0, 0, -1).Format("2006-01-02")
	status := http.StatusOK
	if d.Error == "" {
		report, err := p.reports.Funnel(q.r.Context(), q.m, from, to)
		switch ritual.ErrorCode(err) {
		case "":
			d.Report, d.Chart = report, chartOf(report)
		case ritual.EINVALID:
			d.Error, status = "日期范围不对："+ritual.ErrorMessage(err), http.StatusUnprocessableEntity
		default:
			p.fail(q, err)
			return
		}
	} else {
		status = http.StatusUnprocessableEntity
	}
	p.render(q.w, q.r, status, "funnel", q.view("激活漏斗", "funnel", d))
}

func chartOf(r ritual.FunnelReport) funnelChart {
	c := funnelChart{Width: chartWidth, Height: len(r.Stages)*chartRow + 10}
	most := 0
	for _, s := range r.Stages {
		most = max(most, s.Members)
	}
	for i, s := range r.Stages {
		bar := funnelBar{Stage: s.Stage, Name: stageName(s.Stage), Members: s.Members, Y: i*chartRow + 8}
		bar.TextY = bar.Y + 19
		if most > 0 {
			bar.BarW = s.Members * chartBarMax / most
		}
		if s.Members > 0 && bar.BarW < 2 {
			bar.BarW = 2
		}
		bar.CountX = chartLabelW + bar.BarW + 8
		bar.Conversion, bar.Median = "—", "—"
		if s.Conversion != nil {
			bar.Conversion = fmt.Sprintf("%.0f%%", *s.Conversion*100)
		}
		if s.MedianSeconds != nil {
			bar.Median = humanSeconds(*s.MedianSeconds)
		}
		if i > 0 {
			bar.ConversionAndMed = "转化 " + bar.Conversion + " · 中位 " + bar.Median
		}
		c.Bars = append(c.Bars, bar)
	}
	return c
}
