// Package ritualtest holds fixtures and a movable clock for tests of the
// domain and of the adapters around it.
package ritualtest

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// Clock is a clock tests move by hand. Its zero value stands at
// 2026-11-24 10:00 Asia/Shanghai.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t.UTC()} }

// Now returns the clock's time; pass c.Now where a ritual.Clock is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.now.IsZero() {
		c.now = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	}
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t.UTC()
	c.mu.Unlock()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	now := c.Now()
	c.Set(now.Add(d))
}

// RandomID returns a short random id with prefix, so tests sharing one
// database never see each other's merchants or members.
func RandomID(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// AESKey is a valid EncodingAESKey for tests.
const AESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

// Merchant returns a valid merchant with a random id, the demo tea house's
// three levels, and credentials in the given message mode.
func Merchant(mode string) *ritual.Merchant {
	id := RandomID("m")
	return &ritual.Merchant{
		ID:       id,
		Name:     "测试茶舍",
		Timezone: "Asia/Shanghai",
		OfficialAccount: ritual.OfficialAccount{
			AppID: "wx" + id, AppSecret: "secret-" + id, Token: "tok" + id,
			EncodingAESKey: AESKey, Mode: mode,
		},
		Membership: ritual.Membership{
			PeriodDays: 365, PointsPerYuan: 1, PointsExpireDays: 365,
			Levels: []ritual.Level{
				{Key: "ordinary", Name: "普通会员", Nickname: "茶苗", Right: ritual.Right{Kind: ritual.RightFreeSample, Title: "新人试饮装"}},
				{Key: "senior", Name: "高级会员", Nickname: "茶友", MinAmountFen: 50000, MinOrders: 2, Right: ritual.Right{Kind: ritual.RightDiscount, Value: 95, Title: "全场95折"}},
				{Key: "vip", Name: "VIP会员", Nickname: "茶仙", MinAmountFen: 300000, MinOrders: 5, Right: ritual.Right{Kind: ritual.RightPrepayRatio, Value: 30, Title: "定制款预付30%"}},
			},
		},
		Activation: ritual.Activation{
			Method: ritual.ActivatePhoneLast4,
			Gift:   ritual.Gift{Points: 100, Coupons: []string{"welcome-tea"}},
		},
		Rewards: []ritual.Reward{
			{Key: "welcome-tea", Name: "新人茶包", Product: "明前龙井试饮装一份", ValueFen: 3800, Stock: 100000, PerMemberLimit: 1, ValidDays: 30},
			{Key: "cash-10", Name: "10元券", Product: "全店满100减10", ValueFen: 1000, PointsPrice: 300, Stock: 500, PerMemberLimit: 3, ValidDays: 30},
			{Key: "teapot", Name: "紫砂小壶", Product: "宜兴紫砂小壶一只", ValueFen: 16800, PointsPrice: 2000, Stock: 20, PerMemberLimit: 1, ValidDays: 60},
		},
		Referral: ritual.Referral{Points: 200, MonthlyCap: 10},
		Templates: map[string]ritual.TemplateRef{
			ritual.PurposePointsChanged:  {ID: "TPL_POINTS"},
			ritual.PurposeLevelChanged:   {ID: "TPL_LEVEL"},
			ritual.PurposeCouponIssued:   {ID: "TPL_COUPON"},
			ritual.PurposeGiftGranted:    {ID: "TPL_GIFT"},
			ritual.PurposeCeremony:       {ID: "TPL_CEREMONY"},
			ritual.PurposeMemberDay:      {ID: "TPL_MEMBER_DAY"},
			ritual.PurposeBirthday:       {ID: "TPL_BIRTHDAY"},
			ritual.PurposePointsExpiring: {ID: "TPL_EXPIRING"},
			ritual.PurposeSignInReminder: {ID: "TPL_SIGNIN"},
			ritual.PurposeLeaderboard:    {ID: "TPL_BOARD"},
		},
	}
}
