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
// slot missed while the service was down may still run (at most 7 days).
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
	if s.CatchUp < 0 || time.Duration(s.CatchUp) > maxCatchUp {
		return FieldErrorf("catch_up", "must be between 0 and %s, got %s", maxCatchUp, time.Duration(s.CatchUp))
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
	Multiplier      int    `json:"multiplier"`       // points multiplier on the day's orders; 1 = none; at most 10
	Coupon          string `json:"coupon,omitempty"` // reward key given to every member on the day
}

// BirthdayJob gives members their birthday gift once a year, on the day.
type BirthdayJob struct {
	Schedule
	Points int64  `json:"points"` // 0 to 1,000,000
	Coupon string `json:"coupon,omitempty"`
}

// PointsExpiryJob retires points on the day they expire and announces,
// once per lot, points expiring within NoticeDays.
type PointsExpiryJob struct {
	Schedule
	NoticeDays int `json:"notice_days"` // 0 to 365
}

// LeaderboardJob rewards the top members of each group and of the whole
// merchant for the week's points, once, and announces it in the groups.
type LeaderboardJob struct {
	Schedule
	Top     int     `json:"top"`     // 1 to 50
	Rewards []int64 `json:"rewards"` // points for rank 1, 2, ...; each 0 to 1,000,000
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
		jobs = append(jobs, named{"birthday", &j.Schedule, func() error {
			return firstError(between("points", j.Points, 0, maxPointsPerAction), couponKnown(j.Coupon, rewards))
		}})
	}
	if j := cs.PointsExpiry; j != nil {
		jobs = append(jobs, named{"points_expiry", &j.Schedule, func() error {
			return between("notice_days", j.NoticeDays, 0, 365)
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
	if err := between("multiplier", j.Multiplier, 1, maxMultiplier); err != nil {
		return err
	}
	return couponKnown(j.Coupon, rewards)
}

func (j *LeaderboardJob) validate() error {
	if err := between("top", j.Top, 1, 50); err != nil {
		return err
	}
	if len(j.Rewards) != j.Top {
		return FieldErrorf("rewards", "needs one reward per place: %d for top %d", len(j.Rewards), j.Top)
	}
	for i, p := range j.Rewards {
		if err := between(fmt.Sprintf("rewards[%d]", i), p, 0, maxPointsPerAction); err != nil {
			return err
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
