package ritual

import (
	"context"
	"sort"
	"time"
)

// Funnel stages, in order.
var funnelStages = []string{"recognized", "card_scanned", "followed", "activated", "benefit_claimed", "first_repeat_order"}

// stageTimes lists a member's stage times in funnelStages order.
func (f Funnel) stageTimes() []*time.Time {
	return []*time.Time{f.RecognizedAt, f.CardScannedAt, f.FollowedAt, f.ActivatedAt, f.BenefitClaimedAt, f.FirstRepeatOrderAt}
}

// FunnelReport shows where members recognized in a window dropped out.
type FunnelReport struct {
	From   time.Time     `json:"from"`
	To     time.Time     `json:"to"`
	Stages []FunnelStage `json:"stages"`
}

// FunnelStage is one stage: how many reached it, what share of the stage
// before, and the median time it took from the stage before (for those who
// reached both).
type FunnelStage struct {
	Stage      string   `json:"stage"`
	Members    int      `json:"members"`
	Conversion *float64 `json:"conversion_from_previous"`
	// MedianSeconds is nil for the first stage and when no one reached it.
	MedianSeconds *float64 `json:"median_seconds_from_previous"`
}

// funnelDays is how far back a funnel report looks when it is given no
// start: a merchant who just asks sees the month up to today, as the
// console's funnel page shows it.
const funnelDays = 30

// Funnel reports the card-activation funnel of the members recognized from
// an order in [from, to). A zero to is the end of today in the merchant's
// time zone and a zero from is funnelDays before to: with neither, the last
// 30 days, today included.
func (c *Reports) Funnel(ctx context.Context, m *Merchant, from, to time.Time) (FunnelReport, error) {
	if to.IsZero() {
		to = dayStart(c.clock(), m.Location()).AddDate(0, 0, 1)
	}
	if from.IsZero() {
		from = to.In(m.Location()).AddDate(0, 0, -funnelDays)
	}
	if !to.After(from) {
		return FunnelReport{}, FieldErrorf("to", "must be after from")
	}
	members, err := c.store.Members().Funnel(ctx, m.ID, from, to)
	if err != nil {
		return FunnelReport{}, err
	}
	report := FunnelReport{From: from.UTC(), To: to.UTC()}
	for i, name := range funnelStages {
		report.Stages = append(report.Stages, stageOf(members, i, name))
	}
	for i := 1; i < len(report.Stages); i++ {
		if prev := report.Stages[i-1].Members; prev > 0 {
			rate := float64(report.Stages[i].Members) / float64(prev)
			report.Stages[i].Conversion = &rate
		}
	}
	return report, nil
}

func stageOf(members []Funnel, i int, name string) FunnelStage {
	stage := FunnelStage{Stage: name}
	var waits []float64
	for _, f := range members {
		times := f.stageTimes()
		if times[i] == nil {
			continue
		}
		stage.Members++
		if i > 0 && times[i-1] != nil {
			waits = append(waits, max(0, times[i].Sub(*times[i-1]).Seconds()))
		}
	}
	if len(waits) > 0 {
		sort.Float64s(waits)
		median := waits[len(waits)/2]
		if len(waits)%2 == 0 {
			median = (waits[len(waits)/2-1] + waits[len(waits)/2]) / 2
		}
		stage.MedianSeconds = &median
	}
	return stage
}
