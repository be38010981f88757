package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// ---- overview

type homeData struct {
	Version        int
	OpenCeremonies int
	Failures       int
	Campaigns      []ritual.CampaignStatus
	LatestVersions []ritual.SettingsVersion
	PreviewReady   bool
	Levels         []ritual.Level
}

func (h *Handler) home(q *request) {
	ctx := q.r.Context()
	_, version, err := h.club.Section(ctx, q.m, "profile")
	if err != nil {
		h.fail(q, err)
		return
	}
	d := homeData{Version: version, PreviewReady: h.shopper != nil, Levels: q.m.Membership.Levels}
	open, err := h.club.Ceremonies(ctx, q.m, ritual.CeremonyOpen, 500)
	if err != nil {
		h.fail(q, err)
		return
	}
	failed, err := h.club.OutboxFailures(ctx, q.m, 500)
	if err != nil {
		h.fail(q, err)
		return
	}
	d.OpenCeremonies, d.Failures = len(open), len(failed)
	if d.Campaigns, err = h.club.CampaignStatuses(ctx, q.m); err != nil {
		h.fail(q, err)
		return
	}
	if d.LatestVersions, err = h.club.SettingsVersions(ctx, q.m, 5); err != nil {
		h.fail(q, err)
		return
	}
	h.render(q.w, q.r, http.StatusOK, "home", q.view("概览", "home", d))
}

// ---- the section editors

// editor edits one settings section of type T with one form.
type editor[T any] struct {
	section string // the settings section UpdateSettings replaces
	title   string
	nav     string
	action  string
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

// edit serves an editor: GET shows the section; POST (owners only, by the
// route) replaces it through ritual.UpdateSettings. A refused change
// shows the posted values with the error at the field it names and changes
// nothing; a saved one redirects to the page with the new version.
func edit[T any](h *Handler, e editor[T]) func(q *request) {
	return func(q *request) {
		ctx := q.r.Context()
		raw, version, err := h.club.Section(ctx, q.m, e.section)
		if err != nil {
			h.fail(q, err)
			return
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			h.fail(q, fmt.Errorf("console: read section %s: %w", e.section, err))
			return
		}
		f := e.form(q, v)
		f.Action, f.Section, f.Version = e.action, e.section, version
		status, flash := http.StatusOK, ""
		switch {
		case q.r.Method == http.MethodPost:
			if status = e.save(h, q, f, &v); status == answered {
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
				h.fail(q, err)
				return
			}
		}
		page := q.view(e.title, e.nav, d)
		page.Flash = flash
		if g := q.r.URL.Query().Get("granted"); g != "" {
			page.Flash = "已手动完成仪式 #" + g + "：会员已升级。"
		}
		h.render(q.w, q.r, status, "edit", page)
	}
}

// answered is what save returns when it has answered the request itself.
const answered = 0

// save binds the posted form into v and stores it. Saved, it redirects to
// the page with the new version and returns answered; refused, it returns
// the status to show the form with, errors in place.
func (e editor[T]) save(h *Handler, q *request, f *form, v *T) int {
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
		h.fail(q, err)
		return answered
	}
	saved, err := h.club.UpdateSettings(q.r.Context(), q.m, e.section, body, "console:"+q.s.Username, ifVersion)
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
		h.fail(q, err)
		return answered
	}
}

// ---- levels and rights

var rightKinds = []option{
	{Value: ritual.RightDiscount, Label: "折扣 discount"},
	{Value: ritual.RightFreeShipping, Label: "包邮 free_shipping"},
	{Value: ritual.RightPrepayRatio, Label: "定制预付比例 prepay_ratio"},
	{Value: ritual.RightMemberOnly, Label: "会员专享商品 member_only"},
	{Value: ritual.RightFreeSample, Label: "免费试用装 free_sample"},
}

func (h *Handler) levels(q *request) {
	edit(h, editor[ritual.Membership]{
		section: "membership", title: "等级与权益", nav: "levels", action: "/console/levels",
		form: func(_ *request, ms ritual.Membership) *form { return levelsForm(ms) },
		bind: func(b binder, ms *ritual.Membership) func(string) string {
			bindLevels(b, ms)
			return nil
		},
	})(q)
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
			choice(p+".right.kind", "核心权益（每级一项）", lv.Right.Kind, slices.Clone(rightKinds)...),
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

// ---- rituals

var stepOptions = []option{
	{Value: ritual.StepPledge, Label: "复述口号 pledge"},
	{Value: ritual.StepBirthday, Label: "留下生日 birthday"},
	{Value: ritual.StepGroupSignIn, Label: "在群里签到 group_signin"},
	{Value: ritual.StepConfirm, Label: "回复确认 confirm"},
}

type ritualsExtra struct {
	Open []ritual.CeremonyView
}

func (h *Handler) rituals(q *request) {
	edit(h, editor[ritual.Membership]{
		section: "membership", title: "升级仪式", nav: "rituals", action: "/console/rituals",
		form: func(q *request, ms ritual.Membership) *form { return ritualsForm(ms, q.m.Rewards) },
		bind: func(b binder, ms *ritual.Membership) func(string) string {
			bindRituals(b, ms)
			return nil
		},
		extra: func(q *request) (any, error) {
			open, err := h.club.Ceremonies(q.r.Context(), q.m, ritual.CeremonyOpen, 200)
			return ritualsExtra{Open: open}, err
		},
	})(q)
}

func couponOptions(rewards []ritual.Reward) []option {
	out := []option{{Value: "", Label: "— 不送券 —"}}
	for _, r := range rewards {
		out = append(out, option{Value: r.Key, Label: r.Name + " " + r.Key})
	}
	return out
}

func ritualsForm(ms ritual.Membership, rewards []ritual.Reward) *form {
	f := &form{Submit: "保存升级仪式"}
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
			if o := findOption(stepOptions, s); o != nil {
				steps.Options = append(steps.Options, option{Value: o.Value, Label: o.Label, Selected: true})
			}
		}
		for _, o := range stepOptions {
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

func findOption(opts []option, value string) *option {
	for i := range opts {
		if opts[i].Value == value {
			return &opts[i]
		}
	}
	return nil
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

// grantCeremony completes an open ceremony by hand; operators may.
func (h *Handler) grantCeremony(q *request) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil {
		h.errorPage(q.w, q.r, q, http.StatusNotFound, "没有这个仪式。")
		return
	}
	if _, err := h.club.GrantCeremony(q.r.Context(), q.m, id); err != nil {
		h.fail(q, err)
		return
	}
	h.log.InfoContext(q.r.Context(), "console: ceremony granted by hand", "merchant", q.m.ID, "ceremony", id, "user", q.s.Username)
	http.Redirect(q.w, q.r, "/console/rituals?granted="+strconv.FormatInt(id, 10), http.StatusSeeOther)
}

// ---- coupons

func (h *Handler) coupons(q *request) {
	edit(h, editor[[]ritual.Reward]{
		section: "rewards", title: "优惠券", nav: "coupons", action: "/console/coupons",
		form: func(_ *request, rewards []ritual.Reward) *form { return couponsForm(rewards) },
		bind: bindCoupons,
	})(q)
}

const newReward = "rewards[new]"

func couponsForm(rewards []ritual.Reward) *form {
	f := &form{Submit: "保存优惠券"}
	for i, r := range rewards {
		p := fmt.Sprintf("rewards[%d]", i)
		key := text(p+".key", "key（发出的券按它记录，不能改）", r.Key)
		key.ReadOnly = true
		fields := append([]*field{key}, rewardFields(p, r)...)
		fields = append(fields, checkbox(p+".delete", "删除这张券（已发出的券仍然有效）", false))
		f.set(r.Name+" · "+r.Key, fields...)
	}
	f.set("新增一张券（不填 key 则不新增）",
		append([]*field{text(newReward+".key", "key（小写字母、数字、- 或 _）", "")}, rewardFields(newReward, ritual.Reward{ValidDays: 30, Stock: 100})...)...)
	return f
}

func rewardFields(p string, r ritual.Reward) []*field {
	return []*field{
		text(p+".name", "名称（会员回复「兑换 名称」，最多 16 字）", r.Name),
		text(p+".product", "可以买什么（写清楚商品）", r.Product),
		number(p+".value_fen", "面值（分）", r.ValueFen).hint(yuan(r.ValueFen)),
		number(p+".points_price", "兑换所需积分（0 = 只赠送，不能兑换）", r.PointsPrice),
		number(p+".stock", "库存", r.Stock),
		number(p+".per_member_limit", "每人限兑（0 = 不限）", r.PerMemberLimit),
		number(p+".valid_days", "领取后有效（天）", r.ValidDays),
	}
}

func bindCoupons(b binder, rewards *[]ritual.Reward) func(string) string {
	var kept []ritual.Reward
	var inputs []string // the form's prefix of each kept reward
	for i, r := range *rewards {
		p := fmt.Sprintf("rewards[%d]", i)
		if b.flag(p + ".delete") {
			continue
		}
		bindReward(b, p, &r)
		kept = append(kept, r)
		inputs = append(inputs, p)
	}
	if key := strings.TrimSpace(b.posted.Get(newReward + ".key")); key != "" {
		r := ritual.Reward{Key: key}
		bindReward(b, newReward, &r)
		kept = append(kept, r)
		inputs = append(inputs, newReward)
	}
	if kept == nil {
		kept = []ritual.Reward{}
	}
	*rewards = kept
	return func(key string) string {
		var i int
		var rest string
		if n, _ := fmt.Sscanf(key, "rewards[%d]", &i); n == 1 && i >= 0 && i < len(inputs) {
			rest = key[strings.Index(key, "]")+1:]
			return inputs[i] + rest
		}
		return key
	}
}

func bindReward(b binder, p string, r *ritual.Reward) {
	b.str(p+".name", &r.Name)
	b.str(p+".product", &r.Product)
	b.int64(p+".value_fen", &r.ValueFen)
	b.int64(p+".points_price", &r.PointsPrice)
	b.int64(p+".stock", &r.Stock)
	b.int(p+".per_member_limit", &r.PerMemberLimit)
	b.int(p+".valid_days", &r.ValidDays)
}

// ---- campaigns

func (h *Handler) campaigns(q *request) {
	edit(h, editor[ritual.Campaigns]{
		section: "campaigns", title: "活动排期", nav: "campaigns", action: "/console/campaigns",
		form: func(q *request, cs ritual.Campaigns) *form {
			statuses, err := h.club.CampaignStatuses(q.r.Context(), q.m)
			if err != nil {
				h.log.WarnContext(q.r.Context(), "console: campaign statuses", "err", err)
			}
			return campaignsForm(cs, q.m, statuses)
		},
		bind: func(b binder, cs *ritual.Campaigns) func(string) string {
			bindCampaigns(b, cs)
			return nil
		},
	})(q)
}

var jobTitles = map[string]string{
	"signin_reminder": "签到提醒 signin_reminder",
	"member_day":      "会员日 member_day",
	"birthday":        "生日礼 birthday",
	"points_expiry":   "积分到期 points_expiry",
	"leaderboard":     "周排行奖励 leaderboard",
}

func campaignsForm(cs ritual.Campaigns, m *ritual.Merchant, statuses []ritual.CampaignStatus) *form {
	f := &form{Submit: "保存活动排期"}
	jf := jobForm{f: f, loc: m.Location(), statuses: statuses}
	coupons := couponOptions(m.Rewards)

	sr := valueOr(cs.SignInReminder)
	jf.job("signin_reminder", cs.SignInReminder != nil, sr.Schedule,
		&field{Name: "campaigns.signin_reminder.text", Label: "提醒文字（空 = 默认）", Kind: "textarea", Value: sr.Text})

	md := valueOr(cs.MemberDay)
	jf.job("member_day", cs.MemberDay != nil, md.Schedule,
		text("campaigns.member_day.eve_schedule", "前一天预告（cron）", md.EveSchedule),
		text("campaigns.member_day.summary_schedule", "结束后汇总（cron）", md.SummarySchedule),
		number("campaigns.member_day.multiplier", "当天订单积分倍数（1-10）", md.Multiplier),
		choice("campaigns.member_day.coupon", "当天人人可领的券", md.Coupon, slices.Clone(coupons)...),
	)

	bd := valueOr(cs.Birthday)
	jf.job("birthday", cs.Birthday != nil, bd.Schedule,
		number("campaigns.birthday.points", "生日积分", bd.Points),
		choice("campaigns.birthday.coupon", "生日券", bd.Coupon, slices.Clone(coupons)...),
	)

	pe := valueOr(cs.PointsExpiry)
	jf.job("points_expiry", cs.PointsExpiry != nil, pe.Schedule,
		number("campaigns.points_expiry.notice_days", "提前几天提醒", pe.NoticeDays))

	lb := valueOr(cs.Leaderboard)
	rewards := make([]string, len(lb.Rewards))
	for i, p := range lb.Rewards {
		rewards[i] = strconv.FormatInt(p, 10)
	}
	jf.job("leaderboard", cs.Leaderboard != nil, lb.Schedule,
		number("campaigns.leaderboard.top", "奖励前几名", lb.Top),
		text("campaigns.leaderboard.rewards", "各名次奖励积分（逗号分隔）", strings.Join(rewards, ", ")).hint("如 300, 200, 100"),
	)
	return f
}

// jobForm builds the campaigns form one job at a time.
type jobForm struct {
	f        *form
	loc      *time.Location
	statuses []ritual.CampaignStatus
}

// job adds a job's fieldset: enabled, its schedule and catch-up, its own
// fields, and notes on when it runs next and how it last ran.
func (jf jobForm) job(name string, enabled bool, s ritual.Schedule, fields ...*field) {
	p := "campaigns." + name
	all := []*field{
		checkbox(p, "启用", enabled),
		text(p+".schedule", "时间（cron，按商户时区）", s.Spec).hint("分 时 日 月 周，如 0 20 * * * = 每天 20:00"),
		text(p+".catch_up", "停机错过后补跑的时限", shortDuration(time.Duration(s.CatchUp))).hint("如 1h、30m；0 = 不补跑"),
	}
	set := jf.f.set(jobTitles[name], append(all, fields...)...)
	set.Notes = jf.notes(name)
}

// notes says when each of a job's schedules runs next and how its last
// run went (the member day has its eve and summary too).
func (jf jobForm) notes(job string) []string {
	var out []string
	for _, st := range jf.statuses {
		if st.Job != job && !strings.HasPrefix(st.Job, job+"_") {
			continue
		}
		name := ""
		if st.Job != job {
			name = st.Job + " "
		}
		out = append(out, name+"下次运行："+st.NextRun.In(jf.loc).Format("2006-01-02 15:04 MST"))
		if st.LastRun == nil {
			out = append(out, name+"上次结果：还没运行过")
			continue
		}
		last := name + "上次结果：" + st.LastRun.Slot.In(jf.loc).Format("2006-01-02 15:04") + " " + resultName(st.LastRun.Result)
		if st.LastRun.Detail != "" {
			last += " · " + st.LastRun.Detail
		}
		out = append(out, last)
	}
	if out == nil {
		return []string{"未启用"}
	}
	return out
}

func valueOr[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func bindCampaigns(b binder, cs *ritual.Campaigns) {
	schedule := func(p string, s *ritual.Schedule) {
		b.str(p+".schedule", &s.Spec)
		raw := strings.TrimSpace(b.posted.Get(p + ".catch_up"))
		if raw == "" || raw == "0" {
			s.CatchUp = 0
			return
		}
		d, err := time.ParseDuration(raw)
		if err != nil {
			b.f.field(p + ".catch_up").Err = "请填写时长，如 1h、30m"
			return
		}
		s.CatchUp = ritual.Duration(d)
	}
	cs.SignInReminder = bindJob(b, "campaigns.signin_reminder", cs.SignInReminder, func(p string, j *ritual.SignInReminderJob) {
		schedule(p, &j.Schedule)
		b.str(p+".text", &j.Text)
	})
	cs.MemberDay = bindJob(b, "campaigns.member_day", cs.MemberDay, func(p string, j *ritual.MemberDayJob) {
		schedule(p, &j.Schedule)
		b.str(p+".eve_schedule", &j.EveSchedule)
		b.str(p+".summary_schedule", &j.SummarySchedule)
		b.int(p+".multiplier", &j.Multiplier)
		b.str(p+".coupon", &j.Coupon)
	})
	cs.Birthday = bindJob(b, "campaigns.birthday", cs.Birthday, func(p string, j *ritual.BirthdayJob) {
		schedule(p, &j.Schedule)
		b.int64(p+".points", &j.Points)
		b.str(p+".coupon", &j.Coupon)
	})
	cs.PointsExpiry = bindJob(b, "campaigns.points_expiry", cs.PointsExpiry, func(p string, j *ritual.PointsExpiryJob) {
		schedule(p, &j.Schedule)
		b.int(p+".notice_days", &j.NoticeDays)
	})
	cs.Leaderboard = bindJob(b, "campaigns.leaderboard", cs.Leaderboard, func(p string, j *ritual.LeaderboardJob) {
		schedule(p, &j.Schedule)
		b.int(p+".top", &j.Top)
		j.Rewards = nil
		for _, part := range strings.FieldsFunc(b.posted.Get(p+".rewards"), func(r rune) bool { return r == ',' || r == '，' || r == ' ' }) {
			n, err := strconv.ParseInt(part, 10, 64)
			if err != nil {
				b.f.field(p + ".rewards").Err = "请填写整数，用逗号分隔，如 300, 200, 100"
				return
			}
			j.Rewards = append(j.Rewards, n)
		}
	})
}

// bindJob returns the job as posted: nil when not enabled, else the stored
// job (or a new one) with the posted fields.
func bindJob[T any](b binder, p string, current *T, fill func(p string, j *T)) *T {
	if !b.flag(p) {
		return nil
	}
	var j T
	if current != nil {
		j = *current
	}
	fill(p, &j)
	return &j
}

// ---- the funnel

var stageNames = map[string]string{
	"recognized":         "下单被识别",
	"card_scanned":       "扫会员卡",
	"followed":           "关注公众号",
	"activated":          "激活会员",
	"benefit_claimed":    "领取权益",
	"first_repeat_order": "首次复购",
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

func (h *Handler) funnel(q *request) {
	loc := q.m.Location()
	now := h.club.Now().In(loc)
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
		report, err := h.club.Funnel(q.r.Context(), q.m, from, to)
		switch ritual.ErrorCode(err) {
		case "":
			d.Report, d.Chart = report, chartOf(report)
		case ritual.EINVALID:
			d.Error, status = "日期范围不对："+ritual.ErrorMessage(err), http.StatusUnprocessableEntity
		default:
			h.fail(q, err)
			return
		}
	} else {
		status = http.StatusUnprocessableEntity
	}
	h.render(q.w, q.r, status, "funnel", q.view("激活漏斗", "funnel", d))
}

func chartOf(r ritual.FunnelReport) funnelChart {
	c := funnelChart{Width: chartWidth, Height: len(r.Stages)*chartRow + 10}
	most := 0
	for _, s := range r.Stages {
		most = max(most, s.Members)
	}
	for i, s := range r.Stages {
		bar := funnelBar{Stage: s.Stage, Name: stageNames[s.Stage], Members: s.Members, Y: i*chartRow + 8}
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

// ---- the points board

func (h *Handler) leaderboard(q *request) {
	board, err := h.club.Leaderboard(q.r.Context(), q.m, 20)
	if err != nil {
		h.fail(q, err)
		return
	}
	h.render(q.w, q.r, http.StatusOK, "leaderboard", q.view("本周积分排行", "leaderboard", board))
}

// ---- members

type membersData struct {
	Query string
	Page  *ritual.MemberPage
	Error string
}

func (h *Handler) members(q *request) {
	d := membersData{Query: strings.TrimSpace(q.r.URL.Query().Get("q"))}
	status := http.StatusOK
	if d.Query != "" {
		page, err := h.club.MemberPage(q.r.Context(), q.m, d.Query)
		switch ritual.ErrorCode(err) {
		case "":
			d.Page = &page
		case ritual.ENOTFOUND:
			d.Error, status = "没有找到会员 "+d.Query+"（按 openid 或手机号查找）。", http.StatusNotFound
		case ritual.EINVALID:
			d.Error, status = ritual.ErrorMessage(err), http.StatusUnprocessableEntity
		default:
			h.fail(q, err)
			return
		}
	}
	h.render(q.w, q.r, status, "members", q.view("会员", "members", d))
}

// ---- failed messages and versions

func (h *Handler) outbox(q *request) {
	failed, err := h.club.OutboxFailures(q.r.Context(), q.m, 200)
	if err != nil {
		h.fail(q, err)
		return
	}
	h.render(q.w, q.r, http.StatusOK, "outbox", q.view("发送失败的消息", "outbox", failed))
}

func (h *Handler) versions(q *request) {
	list, err := h.club.SettingsVersions(q.r.Context(), q.m, 100)
	if err != nil {
		h.fail(q, err)
		return
	}
	h.render(q.w, q.r, http.StatusOK, "versions", q.view("设置版本", "versions", list))
}
