package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
)

const jobsAbout = `usage: wxclub jobs list|run [flags]

actions:
  list                             every campaign job: schedule, next run, last slot and result,
                                   times in the merchant's zone with its offset
  run JOB --merchant M [--at TIME] run one slot of a merchant's job by hand and print that run;
                                   a slot that already ran (by hand or by the scheduler) is not
                                   run again; a slot still to come is refused without --future;
                                   --dry-run prints who would get what and changes nothing;
                                   progress (members, messages, rate) goes to stderr`

// byHand is what jobs run was asked to do.
type byHand struct {
	merchant, job, at string
	future, dryRun    bool
	sample            int
	progress          time.Duration
}

// runJobs lists the campaign jobs or runs one slot by hand:
//
//	wxclub jobs list [-config FILE]
//	wxclub jobs run JOB --merchant M [--at 2026-12-08T09:00:00+08:00] [--future] [--dry-run] [-config FILE]
//
// A run by hand claims its slot like the scheduler does: running a slot
// that already ran does nothing and says so.
func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommandLine(jobsAbout, stdout)
	path := fs.String("config", "config.yaml", "configuration file")
	var h byHand
	fs.StringVar(&h.merchant, "merchant", "", "merchant id (jobs run)")
	fs.StringVar(&h.at, "at", "", "the slot to run, RFC 3339 (default: now)")
	fs.BoolVar(&h.future, "future", false, "run a slot that has not come yet, ahead of the schedule")
	fs.BoolVar(&h.dryRun, "dry-run", false, "print who would get what; store, queue and send nothing")
	fs.IntVar(&h.sample, "sample", 5, "members shown as examples by --dry-run")
	fs.DurationVar(&h.progress, "progress", time.Second, "how often a run prints its progress on stderr (0: never)")
	positional, err := fs.parse(args)
	if err != nil {
		return err
	}
	switch {
	case len(positional) == 0:
		return fs.usageErrorf("jobs: say list or run")
	case positional[0] != "list" && positional[0] != "run":
		return fs.usageErrorf("jobs: unknown action %q (list or run)", positional[0])
	case positional[0] == "run" && (len(positional) != 2 || h.merchant == ""):
		return fs.usageErrorf("jobs run: give the job and --merchant, e.g. jobs run member_day --merchant demo")
	}
	cfg, err := LoadConfig(*path, os.Environ())
	if err != nil {
		return err
	}
	db, err := models.Open(ctx, models.Config{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	club := ritual.NewClub(db, ritual.ClubOptions{})
	for _, mc := range cfg.Merchants { // as serve does: a fresh database learns the configured merchants
		if _, err := club.SeedMerchant(ctx, &mc.Merchant, mc.APIKey); err != nil {
			return fmt.Errorf("seed merchant %s: %w", mc.ID, err)
		}
	}
	if positional[0] == "list" {
		return listJobs(ctx, club, stdout)
	}
	h.job = positional[1]
	return runJobByHand(ctx, club, h, stdout, stderr)
}

// zoned writes t in loc with its offset: 2026-12-08 09:00 +08:00.
func zoned(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2006-01-02 15:04 -07:00")
}

// listJobs prints every campaign job with its next slot and last result,
// in its merchant's time zone.
func listJobs(ctx context.Context, club *ritual.Club, stdout io.Writer) error {
	jobs, err := club.CampaignJobs(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tSCHEDULE\tNEXT RUN\tLAST SLOT\tRESULT\tDETAIL")
	for _, job := range jobs {
		m, err := club.Merchant(ctx, job.Merchant)
		if err != nil {
			return err
		}
		loc := m.Location()
		last, err := club.LastJobRun(ctx, job.ID())
		slot, result, detail := "-", "never run", ""
		if err == nil {
			slot, result, detail = zoned(last.Slot, loc), last.Result, string(last.DetailJSON())
			if last.AheadOfTime() {
				result += " (ahead of time, at " + zoned(last.StartedAt, loc) + ")"
			}
		} else if ritual.ErrorCode(err) != ritual.ENOTFOUND {
			return err
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", job.ID(), job.Spec, zoned(job.Next(club.Now()), loc), slot, result, detail)
	}
	return w.Flush()
}

// runJobByHand runs (or, dry, previews) one slot of one merchant's job and
// prints that slot's run.
func runJobByHand(ctx context.Context, club *ritual.Club, h byHand, stdout, stderr io.Writer) error {
	job, loc, err := findJob(ctx, club, h.merchant, h.job)
	if err != nil {
		return err
	}
	now := club.Now()
	slot, err := slotOf(h.at, now)
	if err != nil {
		return err
	}
	if slot.After(now) && !h.future && !h.dryRun {
		return fmt.Errorf("jobs run: slot %s is in the future (now %s); pass --future to run it ahead of time, or --dry-run to see what it would do",
			zoned(slot, loc), zoned(now, loc))
	}
	if done, err := club.JobRunOf(ctx, job.ID(), slot); err == nil {
		fmt.Fprintf(stdout, "%s slot %s already ran; nothing done (that run: %s)\n", job.ID(), zoned(slot, loc), done.Result)
		return nil
	} else if ritual.ErrorCode(err) != ritual.ENOTFOUND {
		return err
	}
	if h.dryRun {
		return previewJob(ctx, club, job, slot, loc, h.sample, stdout)
	}
	progress := &ritual.JobProgress{}
	stop := watchProgress(job.ID(), progress, h.progress, stderr)
	ran, runErr := club.RunCampaign(ritual.WithJobProgress(ctx, progress), job, slot, "by-hand-"+replicaName())
	stop()
	if !ran {
		if runErr == nil {
			fmt.Fprintf(stdout, "%s slot %s already ran; nothing done\n", job.ID(), zoned(slot, loc))
		}
		return runErr
	}
	run, err := club.JobRunOf(ctx, job.ID(), slot)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s slot %s ran: %s %s\n", job.ID(), zoned(run.Slot, loc), run.Result, run.DetailJSON())
	return runErr
}

// findJob finds the merchant's job and the merchant's time zone.
func findJob(ctx context.Context, club *ritual.Club, merchant, name string) (ritual.CampaignJob, *time.Location, error) {
	m, err := club.Merchant(ctx, merchant)
	if err != nil {
		return ritual.CampaignJob{}, nil, fmt.Errorf("jobs run: merchant %s: %w", merchant, err)
	}
	jobs, err := club.CampaignJobs(ctx)
	if err != nil {
		return ritual.CampaignJob{}, nil, err
	}
	for _, job := range jobs {
		if job.Merchant == merchant && job.Name == name {
			return job, m.Location(), nil
		}
	}
	return ritual.CampaignJob{}, nil, fmt.Errorf("jobs run: merchant %s has no job %q (see jobs list)", merchant, name)
}

// slotOf reads --at (default now) as the minute it names, as runs are
// recorded.
func slotOf(at string, now time.Time) (time.Time, error) {
	if at == "" {
		return now.UTC().Truncate(time.Minute), nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return time.Time{}, fmt.Errorf("jobs run: --at must be RFC 3339, such as 2026-12-08T09:00:00+08:00: %v", err)
	}
	return t.UTC().Truncate(time.Minute), nil
}

// previewJob prints what the slot would do: how many members, messages,
// coupons and points, the message, and a few members as examples.
func previewJob(ctx context.Context, club *ritual.Club, job ritual.CampaignJob, slot time.Time, loc *time.Location, sample int, stdout io.Writer) error {
	p, err := club.PreviewCampaign(ctx, job, slot, sample)
	if err != nil {
		return fmt.Errorf("jobs run --dry-run: %w", err)
	}
	fmt.Fprintf(stdout, "%s slot %s, dry run: nothing stored, queued or sent\n", job.ID(), zoned(slot, loc))
	fmt.Fprintf(stdout, "  members:  %d\n  messages: %d (to followers): %s\n", p.Members, p.Messages, p.Text)
	if p.Coupon != "" {
		fmt.Fprintf(stdout, "  coupons:  %d × %s\n", p.Coupons, p.Coupon)
	}
	if p.Points != 0 {
		fmt.Fprintf(stdout, "  points:   %d in all\n", p.Points)
	}
	for _, r := range p.Sample {
		fmt.Fprintf(stdout, "  e.g. member %d %s: %s\n", r.MemberID, r.Who, recipientGets(r))
	}
	return nil
}

// recipientGets says what one member would get.
func recipientGets(r ritual.PreviewRecipient) string {
	var parts []string
	if r.Message {
		parts = append(parts, "the message")
	}
	if r.Coupon != "" {
		parts = append(parts, "coupon "+r.Coupon)
	}
	if r.Points != 0 {
		parts = append(parts, fmt.Sprintf("%d points", r.Points))
	}
	if parts == nil {
		return "nothing (not following)"
	}
	return strings.Join(parts, " + ")
}
