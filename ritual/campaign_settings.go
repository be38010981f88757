package ritual

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// Duration is a time.Duration written as "2h" in settings.
type Duration time.Duration

// MarshalText writes the duration as Go does ("2h0m0s").
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "90m", "2h".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// Schedule is when a campaign job runs: a robfig/cron spec, usually with
// the merchant's zone ("CRON_TZ=Asia/Shanghai 0 9 8 * *"), and how late a
// slot missed while the service was down may still run.
type Schedule struct {
	Spec    string   `json:"schedule"`
	CatchUp Duration `json:"catch_up,omitempty"`
}

// zoned returns the spec with the merchant's zone when it names none.
func (s Schedule) zoned(zone string) string {
	spec := strings.TrimSpace(s.Spec)
	if !strings.HasPrefix(spec, "CRON_TZ=") && !strings.HasPrefix(spec, "TZ=") && !strings.HasPrefix(spec, "@") {
		spec = "CRON_TZ=" + zone + " " + spec
	}
	return spec
}

// parse returns the spec's schedule; a spec without CRON_TZ is read in
// the merchant's zone.
func (s Schedule) parse(zone string) (cron.Schedule, error) {
	return cron.ParseStandard(s.zoned(zone))
}

// Validate checks the spec parses.
func (s Schedule) Validate(zone string) error {
	if s.Spec == "" {
		return FieldErrorf("schedule", "is required")
	}
	if _, err := s.parse(zone); err != nil {
		return FieldErrorf("schedule", "bad cron spec %q: %v", s.Spec, err)
	}
	if s.CatchUp < 0 {
		return FieldErrorf("catch_up", "must not be negative")
	}
	return nil
}

// Campaigns are the merchant's jobs on cron. Each is optional.
type Campaigns struct {
	SignInReminder *SignInReminderJob `json:"signin_reminder,omitempty"`
	MemberDay      *MemberDayJob      `json:"member_day,omitempty"`
	Birthday       *BirthdayJob       `json:"birthday,omitempty"`
	PointsExpiry   *PointsExpiryJob   `json:"points_expiry,omitempty"`
	Leaderboard    *LeaderboardJob    `json:"leaderboard,omitempty"`
}

// SignInReminderJob reminds, in the evening, members whose sign-in streak
// is at stake.
type SignInReminderJob struct {
	Schedule
	Text string `json:"text,omitempty"` // the reminder; a default is shipped
}

// MemberDayJob is the member day: the same privilege for every level — a
// points multiplier on that day's orders and/or a coupon — announced the
// day before (EveSchedule) and on the day (Schedule), and summarised to the
// merchant after (SummarySchedule).
type MemberDayJob struct {
	Schedule
	EveSchedule     string `json:"eve_schedule,omitempty"`
	SummarySchedule string `json:"summary_schedule,omitempty"`
	Multiplier      int    `json:"multiplier"`       // points multiplier on the day's orders; 1 = none
	Coupon          string `json:"coupon,omitempty"` // reward key given to every member on the day
}

// BirthdayJob gives members their birthday gift once a year, on the day.
type BirthdayJob struct {
	Schedule
	Points int64  `json:"points"`
	Coupon string `json:"coupon,omitempty"`
}

// PointsExpiryJob retires points on the day they expire and announces,
// once per lot, points expiring within NoticeDays.
type PointsExpiryJob struct {
	Schedule
	NoticeDays int `json:"notice_days"`
}

// LeaderboardJob rewards the top members of each group and of the whole
// merchant for the week's points, once, and announces it in the groups.
type LeaderboardJob struct {
	Schedule
	Top     int     `json:"top"`
	Rewards []int64 `json:"rewards"` // points for rank 1, 2, ...
}

// Validate checks every configured job; errors name the job.
func (cs Campaigns) Validate(zone string, rewards []Reward) error {
	type named struct {
		name string
		s    *Schedule
		more func() error
	}
	var jobs []named
	if j := cs.SignInReminder; j != nil {
		jobs = append(jobs, named{"signin_reminder", &j.Schedule, nil})
	}
	if j := cs.MemberDay; j != nil {
		jobs = append(jobs, named{"member_day", &j.Schedule, func() error { return j.validate(zone, rewards) }})
	}
	if j := cs.Birthday; j != nil {
		jobs = append(jobs, named{"birthday", &j.Schedule, func() error { return couponKnown(j.Coupon, rewards) }})
	}
	if j := cs.PointsExpiry; j != nil {
		jobs = append(jobs, named{"points_expiry", &j.Schedule, func() error {
			if j.NoticeDays < 0 || j.NoticeDays > 365 {
				return FieldErrorf("notice_days", "must be between 0 and 365")
			}
			return nil
		}})
	}
	if j := cs.Leaderboard; j != nil {
		jobs = append(jobs, named{"leaderboard", &j.Schedule, j.validate})
	}
	for _, job := range jobs {
		if err := job.s.Validate(zone); err != nil {
			return Prefix(job.name, err)
		}
		if job.more != nil {
			if err := job.more(); err != nil {
				return Prefix(job.name, err)
			}
		}
	}
	return nil
}

func (j *MemberDayJob) validate(zone string, rewards []Reward) error {
	for field, spec := range map[string]string{"eve_schedule": j.EveSchedule, "summary_schedule": j.SummarySchedule} {
		if spec == "" {
			continue
		}
		if _, err := (Schedule{Spec: spec}).parse(zone); err != nil {
			return FieldErrorf(field, "bad cron spec %q: %v", spec, err)
		}
	}
	if j.Multiplier < 1 || j.Multiplier > 10 {
		return FieldErrorf("multiplier", "must be between 1 and 10, got %d", j.Multiplier)
	}
	return couponKnown(j.Coupon, rewards)
}

func (j *LeaderboardJob) validate() error {
	switch {
	case j.Top < 1 || j.Top > 50:
		return FieldErrorf("top", "must be between 1 and 50")
	case len(j.Rewards) != j.Top:
		return FieldErrorf("rewards", "needs one reward per place: %d for top %d", len(j.Rewards), j.Top)
	}
	for i, p := range j.Rewards {
		if p < 0 {
			return FieldErrorf(fmt.Sprintf("rewards[%d]", i), "must not be negative")
		}
	}
	return nil
}

func couponKnown(key string, rewards []Reward) error {
	if key == "" {
		return nil
	}
	if _, ok := findReward(rewards, key); !ok {
		return FieldErrorf("coupon", "no reward with key %q", key)
	}
	return nil
}
