package ritual_test

import (
	"context"
	"encoding/json"
	"math"
	"strings"
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

func TestBookingPastTheMostAMemberHoldsIsRefused(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		ctx := context.Background()
		anna := e.follower()
		// Settings stored before their bounds existed: Validate refuses
		// them now, but a merchant may still hold them.
		e.m.SignIn = ritual.SignIn{Points: math.MaxInt64}
		_, err := e.club.HandleMessage(ctx, e.m, text(clock, anna, "签到", nextMsgID()))
		if ritual.ErrorCode(err) != ritual.EINVALID || ritual.ErrorField(err) != "points" {
			t.Fatalf("签到 worth MaxInt64 points: %v, want refused as invalid points", err)
		}
		if got := e.member(anna).Points; got != 0 {
			t.Fatalf("balance after the refused sign-in = %d, want 0", got)
		}
		if s := e.signIn(anna, "2026-11-24"); s != nil {
			t.Fatalf("the refused sign-in was recorded: %+v", s)
		}

		// Up to the most a member can hold is fine; a 1-yuan order past it
		// is refused, and nothing of it is kept.
		e.m.SignIn = ritual.SignIn{Points: ritual.MaxBalance}
		if got := e.signInOA(anna, false); !strings.Contains(got, "签到成功") {
			t.Fatalf("签到 up to the most a member holds = %q", got)
		}
		_, _, err = e.club.RecordOrder(ctx, e.m, ritual.OrderInput{OrderNo: "OVER-1", OpenID: anna, AmountFen: 100})
		if ritual.ErrorCode(err) != ritual.EINVALID || ritual.ErrorField(err) != "points" || !strings.Contains(err.Error(), "most a member can hold") {
			t.Fatalf("1-yuan order past the most a member holds: %v, want invalid points", err)
		}
		if got := e.member(anna).Points; got != ritual.MaxBalance {
			t.Errorf("balance after the refused order = %d, want %d", got, ritual.MaxBalance)
		}
		if _, err := db.Orders().ByNo(ctx, e.m.ID, "OVER-1"); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Errorf("the refused order was stored: %v", err)
		}
		checkBalanced(t, db, e.m)
	})
}

func TestHugePointsExpiryIsRefusedAndNeverBreaksOrders(t *testing.T) {
	start := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start)
		club, m := settingsClub(t, db, clock)
		ctx := context.Background()
		var ms ritual.Membership
		v := section(t, club, m, "membership", &ms)
		ms.PointsExpireDays = 1_000_000_000_000
		if _, err := put(club, m, "membership", ms, "mallory", 0); ritual.ErrorCode(err) != ritual.EINVALID || ritual.ErrorField(err) != "membership.points_expire_days" {
			t.Fatalf("points_expire_days 10^12: %v, want invalid naming membership.points_expire_days", err)
		}
		if section(t, club, m, "membership", &ms); ms.PointsExpireDays != 365 {
			t.Fatalf("points_expire_days after the refusal = %d, want 365 kept (version %d)", ms.PointsExpireDays, v)
		}

		// A merchant that stored it before the bound existed still takes
		// orders: points expire at the bound, in a date both databases hold.
		m.Membership.PointsExpireDays = 1_000_000_000_000
		buyer := ritualtest.RandomID("o")
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "EXP-1", OpenID: buyer, AmountFen: 100})
		if got := mustOrder(t, club, m, ritual.OrderInput{OrderNo: "EXP-2", OpenID: buyer, AmountFen: 100}); got.Member.Points != 2 {
			t.Fatalf("balance after two 1-yuan orders = %d, want 2", got.Member.Points)
		}
		member, err := db.Members().ByOpenID(ctx, m.ID, buyer)
		if err != nil {
			t.Fatal(err)
		}
		entries, err := db.Ledger().Entries(ctx, member.ID, 0, 10)
		if err != nil || len(entries) != 2 {
			t.Fatalf("ledger: %d entries, %v; want 2", len(entries), err)
		}
		if want := start.AddDate(0, 0, 36_500); entries[0].ExpiresAt == nil || !entries[0].ExpiresAt.Equal(want) {
			t.Errorf("points expire %v, want %v (100 years)", entries[0].ExpiresAt, want)
		}
		checkBalanced(t, db, m)
	})
}

func TestRefundOfTheLargestOrderTakesBackEveryPoint(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := settingsClub(t, db, clock)
		var ms ritual.Membership
		section(t, club, m, "membership", &ms)
		ms.PointsPerYuan = 1000
		if _, err := put(club, m, "membership", ms, "alice", 0); err != nil {
			t.Fatal(err)
		}
		m, err := club.Merchant(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		// 10 million yuan at 1,000 points a yuan: 10^10 points, and points
		// times fen refunded is 10^19, past int64.
		buyer := ritualtest.RandomID("o")
		if got := mustOrder(t, club, m, ritual.OrderInput{OrderNo: "BIG-1", OpenID: buyer, AmountFen: 1_000_000_000}); got.PointsEarned != 10_000_000_000 {
			t.Fatalf("points earned = %d, want 10^10", got.PointsEarned)
		}
		refund := mustRefund(t, club, m, "BIG-1", "BIG-R1", 1_000_000_000)
		if refund.PointsReversed != 10_000_000_000 || refund.Member.Points != 0 {
			t.Errorf("full refund took back %d points, balance %d; want all 10^10 back, 0 left", refund.PointsReversed, refund.Member.Points)
		}
		checkBalanced(t, db, m)
	})
}
