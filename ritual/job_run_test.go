package ritual_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestEachSlotRunsOnceAcrossReplicas(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, _ := newClub(t, db, clock)
		job := ritualtest.RandomID("job-")
		slot := clock.Now().Truncate(time.Minute)
		var runs atomic.Int32
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := club.RunJob(context.Background(), job, slot, []string{"a", "b", "c"}[i], func(context.Context) (string, error) {
					runs.Add(1)
					time.Sleep(20 * time.Millisecond)
					return "did it", nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got := runs.Load(); got != 1 {
			t.Fatalf("the slot ran %d times across three replicas, want 1", got)
		}
		ran, err := club.RunJob(context.Background(), job, slot, "a", func(context.Context) (string, error) { runs.Add(1); return "", nil })
		if err != nil || ran {
			t.Fatalf("running the slot again: ran=%v err=%v, want it refused", ran, err)
		}
		last, err := club.LastJobRun(context.Background(), job)
		if err != nil || last.Result != ritual.JobOK || last.Detail != "did it" || last.FinishedAt == nil {
			t.Fatalf("last run = %+v, %v", last, err)
		}

		// A failing run is recorded as failed, and the next slot runs again.
		next := slot.Add(time.Hour)
		_, err = club.RunJob(context.Background(), job, next, "b", func(context.Context) (string, error) { return "", errors.New("boom") })
		if err == nil {
			t.Fatal("a failing job reported no error")
		}
		if last, _ := club.LastJobRun(context.Background(), job); last.Result != ritual.JobFailed || last.Detail != "boom" {
			t.Fatalf("last run = %+v, want failed with its reason", last)
		}
	})
}

// TestLastRunIsTheOneStartedLast: a slot run ahead of time by hand does not
// hide the runs after it; each slot's own run can be found.
func TestLastRunIsTheOneStartedLast(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		clock.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
		club, _ := newClub(t, db, clock)
		job := ritualtest.RandomID("job-")
		ahead, late := clock.Now().AddDate(0, 0, 6), clock.Now().AddDate(0, 0, -1)
		for i, slot := range []time.Time{ahead, late} {
			detail := []string{"ahead", "late"}[i]
			if _, err := club.RunJob(ctx, job, slot, "test", func(context.Context) (string, error) { return detail, nil }); err != nil {
				t.Fatal(err)
			}
			clock.Advance(time.Minute)
		}
		last, err := club.LastJobRun(ctx, job)
		if err != nil || !last.Slot.Equal(late) || last.Detail != "late" || last.AheadOfTime() {
			t.Fatalf("last run = %+v %v, want the slot run last (%s)", last, err, late)
		}
		run, err := club.JobRunOf(ctx, job, ahead.Add(30*time.Second))
		if err != nil || !run.Slot.Equal(ahead) || run.Detail != "ahead" || !run.AheadOfTime() {
			t.Fatalf("run of %s = %+v %v, want it, run ahead of time", ahead, run, err)
		}
		if _, err := club.JobRunOf(ctx, job, ahead.Add(time.Hour)); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("a slot never run: %v, want ENOTFOUND", err)
		}
	})
}
