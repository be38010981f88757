package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// jobRunRow is one run of one recurring job for one slot. (job, slot) is
// unique: the replica that inserts the row runs the slot, and every other
// replica sees it taken.
type jobRunRow struct {
	ID         int64      `gorm:"primaryKey;autoIncrement"`
	Job        string     `gorm:"size:128;not null;uniqueIndex:ux_job_slot,priority:1"`
	Slot       time.Time  `gorm:"precision:3;not null;uniqueIndex:ux_job_slot,priority:2"`
	Owner      string     `gorm:"size:64;not null"`
	StartedAt  time.Time  `gorm:"precision:3;not null"`
	FinishedAt *time.Time `gorm:"precision:3"`
	Result     string     `gorm:"size:16;not null;default:'running'"`
	Detail     string     `gorm:"size:1024;not null;default:''"`
}

func (jobRunRow) TableName() string { return "job_runs" }

type jobRuns struct{ db *gorm.DB }

func (s jobRuns) Claim(ctx context.Context, job string, slot time.Time, owner string, now time.Time) (bool, error) {
	row := jobRunRow{Job: job, Slot: slot.UTC(), Owner: owner, StartedAt: now.UTC(), Result: ritual.JobRunning}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	return res.RowsAffected == 1, translate(res.Error, "claim job slot")
}

func (s jobRuns) Finish(ctx context.Context, job string, slot time.Time, result, detail string, now time.Time) error {
	err := s.db.WithContext(ctx).Model(&jobRunRow{}).Where("job = ? AND slot = ?", job, slot.UTC()).
		Updates(map[string]any{"result": result, "detail": truncate(detail, 1024), "finished_at": now.UTC()}).Error
	return translate(err, "finish job run")
}

func (s jobRuns) Get(ctx context.Context, job string, slot time.Time) (*ritual.JobRun, error) {
	var row jobRunRow
	if err := s.db.WithContext(ctx).Where("job = ? AND slot = ?", job, slot.UTC()).Take(&row).Error; err != nil {
		return nil, translate(err, "find run of "+job)
	}
	return row.run(), nil
}

// Last is the run started most recently: a slot run ahead of time by hand
// does not hide the runs after it, nor an old slot run late.
func (s jobRuns) Last(ctx context.Context, job string) (*ritual.JobRun, error) {
	var row jobRunRow
	if err := s.db.WithContext(ctx).Where("job = ?", job).Order("started_at DESC, id DESC").Take(&row).Error; err != nil {
		return nil, translate(err, "find last run of "+job)
	}
	return row.run(), nil
}

func (row jobRunRow) run() *ritual.JobRun {
	return &ritual.JobRun{Job: row.Job, Slot: row.Slot.UTC(), Owner: row.Owner, StartedAt: row.StartedAt.UTC(),
		FinishedAt: utcPtr(row.FinishedAt), Result: row.Result, Detail: row.Detail}
}
