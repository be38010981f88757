package ritual

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"
)

// Calendar runs the merchants' campaign jobs on their schedules, and the
// system's daily and hourly jobs.
type Calendar struct {
	*changer
}

// CampaignJob is one of a merchant's campaign jobs on its schedule.
type CampaignJob struct {
	Merchant string
	Name     string // member_day, member_day_eve, member_day_summary, birthday, points_expiry, leaderboard, signin_reminder
	Spec     string
	CatchUp  time.Duration
	zoned    string
	schedule cron.Schedule
	run      func(ctx context.Context, m *Merchant, slot time.Time) (detail string, err error)
}

// ID names the job in job_runs: "<merchant>:<job>".
func (j CampaignJob) ID() string { return j.Merchant + ":" + j.Name }

// Next returns the first slot after t.
func (j CampaignJob) Next(t time.Time) time.Time { return j.schedule.Next(t) }

// Missed returns the latest slot at or before now that is still within the
// job's catch-up window, if there is one.
func (j CampaignJob) Missed(now time.Time) (time.Time, bool) {
	if j.CatchUp <= 0 {
		return time.Time{}, false
	}
	var last time.Time
	for t := j.schedule.Next(now.Add(-j.CatchUp).Add(-time.Second)); !t.After(now); t = j.schedule.Next(t) {
		last = t
	}
	return last, !last.IsZero()
}

// CampaignJobs lists every merchant's campaign jobs.
func (c *Calendar) CampaignJobs(ctx context.Context) ([]CampaignJob, error) {
	merchants, err := c.store.Merchants().List(ctx)
	if err != nil {
		return nil, err
	}
	var jobs []CampaignJob
	for _, m := range merchants {
		jobs = append(jobs, c.jobsOf(m)...)
	}
	return jobs, nil
}

// jobsOf lists one merchant's campaign jobs; specs were validated with the
// merchant, so a parse failure here means a job is simply left out.
func (c *Calendar) jobsOf(m *Merchant) []CampaignJob {
	cs := m.Campaigns
	var jobs []CampaignJob
	add := func(name string, s Schedule, run func(context.Context, *Merchant, time.Time) (string, error)) {
		if s.Spec == "" {
			return
		}
		sched, err := s.parse(m.Timezone)
		if err != nil {
			return
		}
		jobs = append(jobs, CampaignJob{Merchant: m.ID, Name: name, Spec: s.Spec, CatchUp: time.Duration(s.CatchUp),
			zoned: s.zoned(m.Timezone), schedule: sched, run: run})
	}
	if j := cs.MemberDay; j != nil {
		add("member_day", j.Schedule, c.memberDay)
		add("member_day_eve", Schedule{Spec: j.EveSchedule, CatchUp: j.CatchUp}, c.memberDayEve)
		add("member_day_summary", Schedule{Spec: j.SummarySchedule, CatchUp: j.CatchUp}, c.memberDaySummary)
	}
	if j := cs.Birthday; j != nil {
		add("birthday", j.Schedule, c.birthdays)
	}
	if j := cs.PointsExpiry; j != nil {
		add("points_expiry", j.Schedule, c.pointsExpiry)
	}
	if j := cs.Leaderboard; j != nil {
		add("leaderboard", j.Schedule, c.leaderboard)
	}
	if j := cs.SignInReminder; j != nil {
		add("signin_reminder", j.Schedule, c.signInReminder)
	}
	return jobs
}

// RunCampaign runs job's slot unless it ran before (on any replica); the
// merchant's settings are read afresh, so a change applies from the next
// slot.
func (c *Calendar) RunCampaign(ctx context.Context, job CampaignJob, slot time.Time, owner string) (bool, error) {
	slot = slot.UTC().Truncate(time.Minute)
	return c.RunJob(ctx, job.ID(), slot, owner, func(ctx context.Context) (string, error) {
		m, err := c.store.Merchants().ByID(ctx, job.Merchant)
		if err != nil {
			return "", err
		}
		return job.run(ctx, m, slot)
	})
}

// CatchUp runs, once, each job's latest slot missed while no replica ran,
// if it is still within the job's catch-up window. It returns the jobs it
// ran.
func (c *Calendar) CatchUp(ctx context.Context, owner string) ([]string, error) {
	jobs, err := c.CampaignJobs(ctx)
	if err != nil {
		return nil, err
	}
	var ran []string
	for _, job := range jobs {
		slot, ok := job.Missed(c.clock())
		if !ok {
			continue
		}
		did, err := c.RunCampaign(ctx, job, slot, owner)
		if err != nil {
			c.log.WarnContext(ctx, "catch-up run failed", "job", job.ID(), "slot", slot, "err", err)
			continue
		}
		if did {
			ran = append(ran, job.ID())
		}
	}
	return ran, nil
}

// ZonedSpec is the job's spec with its zone made explicit.
func (j CampaignJob) ZonedSpec() string { return j.zoned }

// CampaignStatus is one of a merchant's campaign jobs as operators see it.
type CampaignStatus struct {
	Job      string    `json:"job"`
	Schedule string    `json:"schedule"`
	NextRun  time.Time `json:"next_run"`
	LastRun  *JobRun   `json:"last_run"`
}

// CampaignStatuses lists the merchant's campaign jobs with their next slot
// and last run (whose detail holds the member day's summary).
func (c *Calendar) CampaignStatuses(ctx context.Context, m *Merchant) ([]CampaignStatus, error) {
	out := []CampaignStatus{}
	for _, job := range c.jobsOf(m) {
		last, err := c.store.JobRuns().Last(ctx, job.ID())
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return nil, err
		}
		out = append(out, CampaignStatus{Job: job.Name, Schedule: job.Spec, NextRun: job.Next(c.clock()), LastRun: last})
	}
	return out, nil
}
