package ritual

import "time"

// PeriodStats is what counts towards a level: paid minus refunded amounts
// and the orders not wholly refunded, within the statistical period.
type PeriodStats struct {
	AmountFen int64 `json:"amount_fen"`
	Orders    int   `json:"orders"`
	Days      int   `json:"days"`
}

// PeriodStart is the first moment that counts towards a level at now.
func (ms Membership) PeriodStart(now time.Time) time.Time {
	return now.AddDate(0, 0, -ms.PeriodDays)
}

// LevelFor returns the highest level whose thresholds are both met; being
// exactly at a threshold qualifies, and levels may be skipped.
func (ms Membership) LevelFor(s PeriodStats) Level {
	best := ms.Levels[0]
	for _, lv := range ms.Levels[1:] {
		if s.AmountFen >= lv.MinAmountFen && s.Orders >= lv.MinOrders {
			best = lv
		}
	}
	return best
}

// Level returns the level with key and its rank (0 lowest). An unknown key
// (a level the merchant removed) is the lowest level.
func (ms Membership) Level(key string) (Level, int) {
	for i, lv := range ms.Levels {
		if lv.Key == key {
			return lv, i
		}
	}
	return ms.Levels[0], 0
}

// Has reports whether the programme has a level with key.
func (ms Membership) Has(key string) bool {
	for _, lv := range ms.Levels {
		if lv.Key == key {
			return true
		}
	}
	return false
}

// rankOf is the rank of the level a member holds for moving them: a level
// the merchant removed ranks above every level, so leaving it is a fall,
// which opens no ceremony and pays no entry reward.
func (ms Membership) rankOf(key string) int {
	for i, lv := range ms.Levels {
		if lv.Key == key {
			return i
		}
	}
	return len(ms.Levels)
}

// NextLevel is the level above the one a member holds or qualifies for,
// and what they still need for it.
type NextLevel struct {
	Key             string `json:"key"`
	Name            string `json:"name"`
	Nickname        string `json:"nickname"`
	AmountFenNeeded int64  `json:"amount_fen_needed"`
	OrdersNeeded    int    `json:"orders_needed"`
}

// Next returns the level directly above both current and the level s
// qualifies for, and what s lacks for it, or nil at the top. A member whose
// ceremony into a level is open holds the level below it but qualifies
// for it: what they still need is for the level after, since the one they
// are entering needs nothing more.
func (ms Membership) Next(current string, s PeriodStats) *NextLevel {
	_, rank := ms.Level(current)
	if _, qualified := ms.Level(ms.LevelFor(s).Key); qualified > rank {
		rank = qualified
	}
	if rank+1 >= len(ms.Levels) {
		return nil
	}
	next := ms.Levels[rank+1]
	return &NextLevel{
		Key: next.Key, Name: next.Name, Nickname: next.Nickname,
		AmountFenNeeded: max(0, next.MinAmountFen-s.AmountFen),
		OrdersNeeded:    max(0, next.MinOrders-s.Orders),
	}
}

// LevelChange is one move on the ladder, kept with its cause.
type LevelChange struct {
	ID         int64
	MerchantID string
	MemberID   int64
	From       string
	To         string
	Cause      string // "order:<no>", "refund:<no>", "period", ...
	At         time.Time
}
