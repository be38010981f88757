package ritual_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// copyOf returns a deep copy of the merchant's settings, to edit one
// number in.
func copyOf(t *testing.T, m *ritual.Merchant) *ritual.Merchant {
	t.Helper()
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var cp ritual.Merchant
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	return &cp
}

func TestSettingsRefuseNumbersPastTheirBounds(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := settingsClub(t, db, clock)
		ctx := context.Background()
		before, err := club.Settings(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		schedule := ritual.Schedule{Spec: "0 9 * * *"}
		cases := []struct {
			section string
			edit    func(c *ritual.Merchant) any
			field   string
		}{
			{"signin", func(c *ritual.Merchant) any { c.SignIn.Points = math.MaxInt64; return c.SignIn }, "signin.points"},
			{"signin", func(c *ritual.Merchant) any { c.SignIn.MakeupCost = 2_000_000; return c.SignIn }, "signin.makeup_cost"},
			{"signin", func(c *ritual.Merchant) any {
				c.SignIn.Streaks = []ritual.StreakBonus{{Days: 7, Points: math.MaxInt64}}
				return c.SignIn
			}, "signin.streaks[0].points"},
			{"signin", func(c *ritual.Merchant) any {
				c.SignIn.Streaks = []ritual.StreakBonus{{Days: 40_000, Points: 10}}
				return c.SignIn
			}, "signin.streaks[0].days"},
			{"membership", func(c *ritual.Merchant) any { c.Membership.PointsExpireDays = 1_000_000_000_000; return c.Membership }, "membership.points_expire_days"},
			{"membership", func(c *ritual.Merchant) any { c.Membership.Levels[2].MinAmountFen = math.MaxInt64; return c.Membership }, "membership.levels[2].min_amount_fen"},
			{"membership", func(c *ritual.Merchant) any { c.Membership.Levels[2].MinOrders = math.MaxInt32; return c.Membership }, "membership.levels[2].min_orders"},
			{"membership", func(c *ritual.Merchant) any {
				c.Membership.Levels[1].Ceremony = &ritual.CeremonyRule{Steps: []string{ritual.StepConfirm}, DeadlineDays: 7,
					OnDeadline: ritual.DeadlineWait, Reward: ritual.CeremonyReward{Points: math.MaxInt64}}
				return c.Membership
			}, "membership.levels[1].ceremony.reward.points"},
			{"activation", func(c *ritual.Merchant) any { c.Activation.Gift.Points = 2_000_000; return c.Activation }, "activation.gift.points"},
			{"rewards", func(c *ritual.Merchant) any { c.Rewards[1].ValueFen = math.MaxInt64; return c.Rewards }, "rewards[1].value_fen"},
			{"rewards", func(c *ritual.Merchant) any { c.Rewards[1].PointsPrice = math.MaxInt64; return c.Rewards }, "rewards[1].points_price"},
			{"rewards", func(c *ritual.Merchant) any { c.Rewards[1].Stock = math.MaxInt64; return c.Rewards }, "rewards[1].stock"},
			{"rewards", func(c *ritual.Merchant) any { c.Rewards[1].PerMemberLimit = math.MaxInt32; return c.Rewards }, "rewards[1].per_member_limit"},
			{"rewards", func(c *ritual.Merchant) any { c.Rewards[1].ValidDays = 10_000_000; return c.Rewards }, "rewards[1].valid_days"},
			{"referral", func(c *ritual.Merchant) any { c.Referral.Points = math.MaxInt64; return c.Referral }, "referral.points"},
			{"referral", func(c *ritual.Merchant) any { c.Referral.MonthlyCap = math.MaxInt32; return c.Referral }, "referral.monthly_cap"},
			{"campaigns", func(c *ritual.Merchant) any {
				return ritual.Campaigns{Birthday: &ritual.BirthdayJob{Schedule: schedule, Points: math.MaxInt64}}
			}, "campaigns.birthday.points"},
			{"campaigns", func(c *ritual.Merchant) any {
				return ritual.Campaigns{Leaderboard: &ritual.LeaderboardJob{Schedule: schedule, Top: 1, Rewards: []int64{math.MaxInt64}}}
			}, "campaigns.leaderboard.rewards[0]"},
			{"campaigns", func(c *ritual.Merchant) any {
				late := ritual.Schedule{Spec: "0 9 * * *", CatchUp: ritual.Duration(365 * 24 * time.Hour)}
				return ritual.Campaigns{Birthday: &ritual.BirthdayJob{Schedule: late, Points: 88}}
			}, "campaigns.birthday.catch_up"},
			{"template_quota", func(c *ritual.Merchant) any { return math.MaxInt32 }, "template_quota"},
		}
		for _, tc := range cases {
			_, err := put(club, m, tc.section, tc.edit(copyOf(t, m)), "mallory", 0)
			if ritual.ErrorCode(err) != ritual.EINVALID || ritual.ErrorField(err) != tc.field {
				t.Errorf("%s: got %v (field %q), want invalid naming %s", tc.field, err, ritual.ErrorField(err), tc.field)
			}
		}

		after, err := club.Settings(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if after.Version != before.Version || string(after.Merchant) != string(before.Merchant) {
			t.Errorf("after refused settings: version %d (was %d), settings changed: %v", after.Version, before.Version, string(after.Merchant) != string(before.Merchant))
		}
		if list, _ := club.SettingsVersions(ctx, m, 50); len(list) != 0 {
			t.Errorf("versions after refused settings: %d, want none", len(list))
		}
	})
}
