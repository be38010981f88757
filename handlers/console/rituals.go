package console

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/wxclub/wxclub/ritual"
)

// The rituals page edits each level's upgrade ceremony and lists the
// ceremonies still open, each of which an operator may complete by hand.

type ritualsExtra struct {
	Open []ritual.CeremonyView
}

func ritualsEditor(rd *renderer, settings Settings, ceremonies Ceremonies) editor[ritual.Membership] {
	return editor[ritual.Membership]{
		renderer: rd, settings: settings,
		section: "membership", title: "升级仪式", nav: "rituals", action: "/console/rituals",
		form: func(q *request, ms ritual.Membership) *form { return ritualsForm(ms, q.m.Rewards) },
		bind: func(b binder, ms *ritual.Membership) func(string) string {
			bindRituals(b, ms)
			return nil
		},
		extra: func(q *request) (any, error) {
			open, err := ceremonies.Ceremonies(q.r.Context(), q.m, ritual.CeremonyOpen, 200)
			return ritualsExtra{Open: open}, err
		},
	}
}

func ritualsForm(ms ritual.Membership, rewards []ritual.Reward) *form {
	f := &form{Submit: "保存升级仪式"}
	options := stepOptions()
	for i, lv := range ms.Levels {
		if i == 0 {
			continue // everyone's level: no ceremony
		}
		p := fmt.Sprintf("membership.levels[%d].ceremony", i)
		r := ritual.CeremonyRule{DeadlineDays: 7, OnDeadline: ritual.DeadlineGrant}
		if lv.Ceremony != nil {
			r = *lv.Ceremony
		}
		steps := &field{Name: p + ".steps", Label: "步骤（按顺序完成）", Kind: "checks"}
		for _, s := range r.Steps { // the rule's order first, then the others
			if o := findOption(options, s); o != nil {
				steps.Options = append(steps.Options, option{Value: o.Value, Label: o.Label, Selected: true})
			}
		}
		for _, o := range options {
			if !slices.Contains(r.Steps, o.Value) {
				steps.Options = append(steps.Options, o)
			}
		}
		s := f.set(fmt.Sprintf("升入「%s」%s 的仪式", lv.Nickname, lv.Key),
			checkbox(p, "启用升级仪式（会员完成后才升级，从不悄悄升级）", lv.Ceremony != nil),
			steps,
			text(p+".pledge", "口号（有 pledge 步骤时必填，最多 30 字）", r.Pledge),
			number(p+".deadline_days", "期限（天）", r.DeadlineDays),
			number(p+".reward.points", "完成奖励积分", r.Reward.Points),
			choice(p+".reward.coupon", "完成奖励券", r.Reward.Coupon, couponOptions(rewards)...),
			checkbox(p+".announce", "完成后在会员所在的群里公布", r.Announce),
			choice(p+".on_deadline", "到期还没完成", r.OnDeadline,
				option{Value: ritual.DeadlineGrant, Label: "直接升级 grant"}, option{Value: ritual.DeadlineWait, Label: "继续等会员 wait"}),
		)
		if lv.Ceremony == nil {
			s.Notes = append(s.Notes, "现在没有仪式：达到门槛即升级。")
		}
	}
	return f
}

func bindRituals(b binder, ms *ritual.Membership) {
	for i := 1; i < len(ms.Levels); i++ {
		lv := &ms.Levels[i]
		p := fmt.Sprintf("membership.levels[%d].ceremony", i)
		if !b.flag(p) {
			lv.Ceremony = nil
			continue
		}
		var r ritual.CeremonyRule
		if lv.Ceremony != nil {
			r = *lv.Ceremony
		}
		r.Steps = slices.Clone(b.posted[p+".steps"])
		b.str(p+".pledge", &r.Pledge)
		b.int(p+".deadline_days", &r.DeadlineDays)
		b.int64(p+".reward.points", &r.Reward.Points)
		b.str(p+".reward.coupon", &r.Reward.Coupon)
		r.Announce = b.flag(p + ".announce")
		b.str(p+".on_deadline", &r.OnDeadline)
		lv.Ceremony = &r
	}
}

// grantPage completes an open ceremony by hand, from the rituals page's
// list; operators may.
type grantPage struct {
	*renderer
	ceremonies Ceremonies
}

func (p grantPage) serve(q *request) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil {
		p.errorPage(q.w, q.r, q, http.StatusNotFound, "没有这个仪式。")
		return
	}
	if _, err := p.ceremonies.GrantCeremony(q.r.Context(), q.m, id); err != nil {
		p.fail(q, err)
		return
	}
	p.log.InfoContext(q.r.Context(), "console: ceremony granted by hand", "merchant", q.m.ID, "ceremony", id, "user", q.s.Username)
	http.Redirect(q.w, q.r, "/console/rituals?granted="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}
