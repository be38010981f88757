package console

import (
	"fmt"

	"github.com/wxclub/wxclub/ritual"
)

// The levels page edits the membership's period and points, and each
// level's name, nickname, thresholds and right.

func levelsEditor(rd *renderer, settings Settings) editor[ritual.Membership] {
	return editor[ritual.Membership]{
		renderer: rd, settings: settings,
		section: "membership", title: "等级与权益", nav: "levels", action: "/console/levels",
		form: func(_ *request, ms ritual.Membership) *form { return levelsForm(ms) },
		bind: func(b binder, ms *ritual.Membership) func(string) string {
			bindLevels(b, ms)
			return nil
		},
	}
}

func levelsForm(ms ritual.Membership) *form {
	f := &form{Submit: "保存等级与权益"}
	f.set("积分与统计周期",
		number("membership.period_days", "统计周期（天）", ms.PeriodDays).hint("等级按这段时间内的消费金额和订单数计算"),
		number("membership.points_per_yuan", "每消费 1 元得积分", ms.PointsPerYuan),
		number("membership.points_expire_days", "积分有效期（天）", ms.PointsExpireDays),
	)
	for i, lv := range ms.Levels {
		p := fmt.Sprintf("membership.levels[%d]", i)
		s := f.set(fmt.Sprintf("第 %d 级 · %s", i+1, lv.Key),
			text(p+".name", "等级名称", lv.Name),
			text(p+".nickname", "品牌昵称（会员看到的称呼）", lv.Nickname).hint("最多 10 个字，如 茶苗 → 茶友 → 茶仙"),
		)
		if i == 0 {
			s.Notes = append(s.Notes, "最低等级：每位会员都是，没有门槛。")
		} else {
			s.Fields = append(s.Fields,
				number(p+".min_amount_fen", "消费金额门槛（分）", lv.MinAmountFen).hint(fmt.Sprintf("当前 %s；两个门槛都达到才升级", yuan(lv.MinAmountFen))),
				number(p+".min_orders", "订单数门槛", lv.MinOrders),
			)
		}
		s.Fields = append(s.Fields,
			choice(p+".right.kind", "核心权益（每级一项）", lv.Right.Kind, rightKinds()...),
			number(p+".right.value", "权益数值", lv.Right.Value).hint("折扣填实付百分比（95 即 95 折）；预付比例填百分比；其余不填"),
			text(p+".right.title", "权益说明（会员看到的文字）", lv.Right.Title),
		)
	}
	return f
}

func bindLevels(b binder, ms *ritual.Membership) {
	b.int("membership.period_days", &ms.PeriodDays)
	b.int("membership.points_per_yuan", &ms.PointsPerYuan)
	b.int("membership.points_expire_days", &ms.PointsExpireDays)
	for i := range ms.Levels {
		lv := &ms.Levels[i]
		p := fmt.Sprintf("membership.levels[%d]", i)
		b.str(p+".name", &lv.Name)
		b.str(p+".nickname", &lv.Nickname)
		if i > 0 {
			b.int64(p+".min_amount_fen", &lv.MinAmountFen)
			b.int(p+".min_orders", &lv.MinOrders)
		}
		b.str(p+".right.kind", &lv.Right.Kind)
		b.int(p+".right.value", &lv.Right.Value)
		b.str(p+".right.title", &lv.Right.Title)
	}
}
