package console

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// The campaigns page edits the scheduled jobs, each with when it runs next
// and how it last ran.

func campaignsEditor(rd *renderer, settings Settings, campaigns Campaigns) editor[ritual.Campaigns] {
	return editor[ritual.Campaigns]{
		renderer: rd, settings: settings,
		section: "campaigns", title: "活动排期", nav: "campaigns", action: "/console/campaigns",
		form: func(q *request, cs ritual.Campaigns) *form {
			statuses, err := campaigns.CampaignStatuses(q.r.Context(), q.m)
			if err != nil {
				rd.log.WarnContext(q.r.Context(), "console: campaign statuses", "err", err)
			}
			return campaignsForm(cs, q.m, statuses)
		},
		bind: func(b binder, cs *ritual.Campaigns) func(string) string {
			bindCampaigns(b, cs)
			return nil
		},
	}
}

func jobTitle(job string) string {
	switch job {
	case "signin_reminder":
		return "签到提醒 signin_reminder"
	case "member_day":
		return "会员日 member_day"
	case "birthday":
		return "生日礼 birthday"
	case "points_expiry":
		return "积分到期 points_expiry"
	case "leaderboard":
		return "周排行奖励 leaderboard"
	}
	return ""
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
	set := jf.f.set(jobTitle(name), append(all, fields...)...)
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
		out = append(out, name+"下次运行："+zoned(st.NextRun, jf.loc))
		if st.LastRun == nil {
			out = append(out, name+"上次结果：还没运行过")
			continue
		}
		out = append(out, name+"上次结果："+jf.lastRun(st.LastRun))
	}
	if out == nil {
		return []string{"未启用"}
	}
	return out
}

// lastRun says a run's slot with the merchant's offset and how it went; a
// slot run by hand ahead of its time says so and when it ran.
func (jf jobForm) lastRun(r *ritual.JobRun) string {
	out := zoned(r.Slot, jf.loc) + " " + resultName(r.Result)
	if r.AheadOfTime() {
		out += "（提前运行于 " + zoned(r.StartedAt, jf.loc) + "）"
	}
	if r.Detail != "" {
		out += " · " + r.Detail
	}
	return out
}

// zoned shows a time in the merchant's zone with its offset:
// 2026-12-08 09:00 +08:00.
func zoned(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 -07:00")
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
