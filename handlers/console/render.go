package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"strconv"
	"strings"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// pageNames are the page templates; each is parsed with layout.html.
var pageNames = []string{"login", "home", "edit", "funnel", "leaderboard", "members", "outbox", "versions", "preview", "error"}

func parsePages() map[string]*template.Template {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

var funcs = template.FuncMap{
	"when":     when,
	"yuan":     yuan,
	"stage":    func(s string) string { return or(stageNames[s], s) },
	"purpose":  func(s string) string { return or(purposeNames[s], s) },
	"status":   func(s ritual.OutboxStatus) string { return or(statusNames[s], string(s)) },
	"steps":    stepsNames,
	"role":     roleName,
	"result":   resultName,
	"state":    func(s ritual.MemberState) string { return or(stateNames[s], string(s)) },
	"right":    func(s string) string { return or(rightNames[s], s) },
	"ceremony": func(s string) string { return or(ceremonyNames[s], s) },
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

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// when shows a time in the merchant's zone; nil and zero times are "—".
func when(loc *time.Location, v any) string {
	var t time.Time
	switch v := v.(type) {
	case time.Time:
		t = v
	case *time.Time:
		if v != nil {
			t = *v
		}
	}
	if t.IsZero() {
		return "—"
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04")
}

// yuan shows fen as yuan: 50000 → ¥500.00.
func yuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s¥%d.%02d", sign, fen/100, fen%100)
}

// humanSeconds says a duration in the largest unit that fits.
func humanSeconds(s float64) string {
	switch {
	case s < 60:
		return fmt.Sprintf("%.0f 秒", s)
	case s < 3600:
		return fmt.Sprintf("%.0f 分钟", s/60)
	case s < 86400:
		return fmt.Sprintf("%.1f 小时", s/3600)
	default:
		return fmt.Sprintf("%.1f 天", s/86400)
	}
}

// shortDuration writes 1h0m0s as 1h and 90m as 1h30m.
func shortDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

var purposeNames = map[string]string{
	ritual.PurposePointsChanged: "积分变动 points_changed",
	ritual.PurposeLevelChanged:  "等级变动 level_changed",
	ritual.PurposeCouponIssued:  "发券 coupon_issued",
	ritual.PurposeGiftGranted:   "新人礼 gift_granted",
	ritual.PurposeCeremony:      "升级仪式 ceremony",
	ritual.PurposeGroupPost:     "群消息 group_post",
	ritual.PurposeCustomText:    "客服消息 custom_text",
	ritual.PurposeCardSync:      "会员卡同步 card_sync",
}

var statusNames = map[ritual.OutboxStatus]string{
	ritual.OutboxPending:       "待发送 pending",
	ritual.OutboxSent:          "已发送 sent",
	ritual.OutboxFailed:        "失败 failed",
	ritual.OutboxWaitingFollow: "等待关注 waiting_follow",
	ritual.OutboxMerged:        "已合并 merged",
}

var stateNames = map[ritual.MemberState]string{
	ritual.StateRecognized: "已识别（未关注） recognized",
	ritual.StateFollowing:  "已关注 following",
	ritual.StateUnfollowed: "已取关 unfollowed",
}

var rightNames = map[string]string{}

func init() {
	for _, o := range rightKinds {
		rightNames[o.Value] = o.Label
	}
}

var ceremonyNames = map[string]string{
	ritual.CeremonyOpen:      "进行中 open",
	ritual.CeremonyCompleted: "已完成 completed",
	ritual.CeremonyClosed:    "已收起 closed",
}

func stepsNames(steps []string) string {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s
		if o := findOption(stepOptions, s); o != nil {
			names[i] = o.Label
		}
	}
	if len(names) == 0 {
		return "—"
	}
	return strings.Join(names, "、")
}

func roleName(role string) string {
	switch role {
	case ritual.RoleOwner:
		return "店主 owner"
	case ritual.RoleOperator:
		return "运营 operator"
	}
	return role
}

func resultName(result string) string {
	switch result {
	case ritual.JobOK:
		return "成功 ok"
	case ritual.JobFailed:
		return "失败 failed"
	case ritual.JobRunning:
		return "运行中 running"
	}
	return result
}

func itoa(n int) string { return strconv.Itoa(n) }
