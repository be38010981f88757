package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/wxclub/wxclub/ritual"
)

// scheduledJob is one piece of recurring work.
type scheduledJob struct {
	name string
	spec string // robfig/cron spec, e.g. "@hourly" or "CRON_TZ=Asia/Shanghai 0 3 * * *"
	run  func(ctx context.Context) error
	// everyReplica runs the job on each replica instead of claiming the
	// slot for one (for work about this process, like its schedule).
	everyReplica bool
}

// scheduler runs the recurring work on robfig/cron. A job that panics is
// recovered and logged; a job still running when its next slot comes is
// skipped rather than overlapped; and each slot is claimed in the database
// first, so with any number of replicas it runs once.
type scheduler struct {
	cron  *cron.Cron
	ctx   context.Context
	log   *slog.Logger
	club  *ritual.Club
	owner string

	mu        sync.Mutex
	campaigns map[string]campaignEntry // by job id
}

// campaignEntry is a campaign job on this replica's cron.
type campaignEntry struct {
	spec string
	id   cron.EntryID
}

func newScheduler(ctx context.Context, logger *slog.Logger, club *ritual.Club, owner string) *scheduler {
	cl := cronLogger{logger.With("component", "cron")}
	return &scheduler{
		cron:      cron.New(cron.WithLogger(cl), cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl))),
		ctx:       ctx,
		log:       logger,
		club:      club,
		owner:     owner,
		campaigns: map[string]campaignEntry{},
	}
}

// add schedules job; a bad spec is an error naming the job.
func (s *scheduler) add(job scheduledJob) error {
	_, err := s.cron.AddFunc(job.spec, func() {
		if job.everyReplica {
			if err := job.run(s.ctx); err != nil && s.ctx.Err() == nil {
				s.log.Warn("job failed", "job", job.name, "err", err)
			}
			return
		}
		s.runSlot(job, time.Now())
	})
	if err != nil {
		return &jobSpecError{job: job.name, spec: job.spec, err: err}
	}
	return nil
}

type jobSpecError struct {
	job, spec string
	err       error
}

func (e *jobSpecError) Error() string {
	return "job " + e.job + ": bad schedule " + e.spec + ": " + e.err.Error()
}

// reloadCampaigns brings this replica's cron in line with the merchants'
// campaign settings: jobs added, removed or rescheduled since the last
// reload are added, removed or replaced. Settings changed on any replica
// take effect everywhere within a minute.
func (s *scheduler) reloadCampaigns(ctx context.Context) error {
	jobs, err := s.club.CampaignJobs(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for _, job := range jobs {
		want[job.ID()] = true
		if have, ok := s.campaigns[job.ID()]; ok && have.spec == job.ZonedSpec() {
			continue
		} else if ok {
			s.cron.Remove(have.id)
		}
		id, err := s.addCampaign(job)
		if err != nil {
			return err
		}
		s.campaigns[job.ID()] = campaignEntry{spec: job.ZonedSpec(), id: id}
	}
	for key, have := range s.campaigns {
		if !want[key] {
			s.cron.Remove(have.id)
			delete(s.campaigns, key)
		}
	}
	return nil
}

// addCampaign schedules a merchant's campaign job; each slot is claimed in
// the database before it runs.
func (s *scheduler) addCampaign(job ritual.CampaignJob) (cron.EntryID, error) {
	spec := job.ZonedSpec()
	id, err := s.cron.AddFunc(spec, func() {
		ran, err := s.club.RunCampaign(s.ctx, job, time.Now(), s.owner)
		switch {
		case err != nil && s.ctx.Err() == nil:
			s.log.Warn("campaign failed", "job", job.ID(), "err", err)
		case !ran:
			s.log.Debug("campaign slot already run", "job", job.ID())
		}
	})
	if err != nil {
		return 0, &jobSpecError{job: job.ID(), spec: spec, err: err}
	}
	return id, nil
}

// runSlot runs job for the slot the schedule fired at: specs have minute
// granularity, so the minute names the slot on every replica.
func (s *scheduler) runSlot(job scheduledJob, fired time.Time) {
	slot := fired.UTC().Truncate(time.Minute)
	ran, err := s.club.RunJob(s.ctx, job.name, slot, s.owner, func(ctx context.Context) (string, error) {
		return "", job.run(ctx)
	})
	switch {
	case err != nil && s.ctx.Err() == nil:
		s.log.Warn("job failed", "job", job.name, "slot", slot, "err", err)
	case !ran:
		s.log.Debug("slot already run", "job", job.name, "slot", slot)
	}
}

// start runs the schedule; stop waits for running jobs to return.
func (s *scheduler) start() { s.cron.Start() }

func (s *scheduler) stop() { <-s.cron.Stop().Done() }

// cronLogger adapts slog to robfig/cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug(msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error(msg, append(kv, "err", err)...)
}
