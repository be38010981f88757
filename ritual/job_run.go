package ritual

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Job run results.
const (
	JobRunning = "running"
	JobOK      = "ok"
	JobFailed  = "failed"
)

// JobRun is one run of a recurring job for one slot (the time the schedule
// fired, truncated to the minute).
type JobRun struct {
	Job        string     `json:"job"`
	Slot       time.Time  `json:"slot"`
	Owner      string     `json:"owner"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Result     string     `json:"result"`
	// Detail is what the job reports: a JSON object for campaigns, the
	// reason for a failure (older rows may hold plain text).
	Detail string `json:"detail"`
}

// AheadOfTime reports whether the run was started before its slot came: a
// slot run by hand, on purpose, ahead of the schedule.
func (r JobRun) AheadOfTime() bool { return r.StartedAt.Before(r.Slot) }

// In returns the run with its times in loc, so that they are shown (and
// written as JSON) with the merchant's offset.
func (r JobRun) In(loc *time.Location) JobRun {
	r.Slot, r.StartedAt = r.Slot.In(loc), r.StartedAt.In(loc)
	if r.FinishedAt != nil {
		f := r.FinishedAt.In(loc)
		r.FinishedAt = &f
	}
	return r
}

// DetailJSON is the detail as a JSON object: the job's own report when it
// is one; a failure's reason as {"error": ...}; other text (rows written
// before details were JSON) as {"text": ...}; nothing as {}.
func (r JobRun) DetailJSON() json.RawMessage {
	d := strings.TrimSpace(r.Detail)
	if d == "" {
		return json.RawMessage(`{}`)
	}
	if strings.HasPrefix(d, "{") && json.Valid([]byte(d)) {
		return json.RawMessage(d)
	}
	key := "text"
	if r.Result == JobFailed {
		key = "error"
	}
	b, _ := json.Marshal(map[string]string{key: r.Detail})
	return b
}

// MarshalJSON writes the run with its detail as a JSON object, not as a
// string holding JSON.
func (r JobRun) MarshalJSON() ([]byte, error) {
	type plain JobRun
	return json.Marshal(struct {
		plain
		Detail json.RawMessage `json:"detail"`
	}{plain(r), r.DetailJSON()})
}

// JobRuns claims slots, so that with any number of replicas each slot of
// each job runs once.
type JobRuns interface {
	// Claim records that owner runs job's slot; false if it was claimed before.
	Claim(ctx context.Context, job string, slot time.Time, owner string, now time.Time) (bool, error)
	Finish(ctx context.Context, job string, slot time.Time, result, detail string, now time.Time) error
	// Get returns the run of job's slot; ENOTFOUND if it never ran.
	Get(ctx context.Context, job string, slot time.Time) (*JobRun, error)
	// Last returns the run of job started most recently (whatever its
	// slot); ENOTFOUND if it never ran.
	Last(ctx context.Context, job string) (*JobRun, error)
}

// RunJob runs fn for job's slot unless another replica (or an earlier run)
// claimed that slot, and records the result. ran is false when the slot was
// taken; fn's error is recorded and returned.
func (c *Calendar) RunJob(ctx context.Context, job string, slot time.Time, owner string, fn func(ctx context.Context) (detail string, err error)) (ran bool, err error) {
	claimed, err := c.store.JobRuns().Claim(ctx, job, slot, owner, c.clock())
	if err != nil || !claimed {
		return false, err
	}
	detail, runErr := fn(ctx)
	result := JobOK
	if runErr != nil {
		result, detail = JobFailed, runErr.Error()
	}
	c.observe(func(o Observer) { o.JobRan(job, result) })
	if err := c.store.JobRuns().Finish(context.WithoutCancel(ctx), job, slot, result, detail, c.clock()); err != nil {
		return true, err
	}
	return true, runErr
}

// LastJobRun returns the run of job started most recently; ENOTFOUND if it
// never ran. A slot run ahead of time by hand is the last run from then on
// (AheadOfTime tells it).
func (c *Calendar) LastJobRun(ctx context.Context, job string) (*JobRun, error) {
	return c.store.JobRuns().Last(ctx, job)
}

// JobRunOf returns the run of job's slot (truncated to the minute, as runs
// are recorded); ENOTFOUND if that slot never ran.
func (c *Calendar) JobRunOf(ctx context.Context, job string, slot time.Time) (*JobRun, error) {
	return c.store.JobRuns().Get(ctx, job, slot.UTC().Truncate(time.Minute))
}
