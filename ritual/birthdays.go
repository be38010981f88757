package ritual

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// SourceBirthday books the birthday gift; reference "<member id>:<year>",
// so it is given once a year.
const SourceBirthday = "birthday"

// birthdays gives today's birthday members their gift, once a year, on the
// day in the merchant's time zone. A 02-29 birthday is kept on 02-28 in
// other years.
func (c *Club) birthdays(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	today := slot.In(m.Location())
	days := []string{today.Format("01-02")}
	if today.Format("01-02") == "02-28" && !isLeap(today.Year()) {
		days = append(days, "02-29")
	}
	given := 0
	for _, md := range days {
		ids, err := c.store.Members().WithBirthday(ctx, m.ID, md)
		if err != nil {
			return "", err
		}
		for _, id := range ids {
			ok, err := c.birthdayGift(ctx, m, id, today.Year())
			if err != nil {
				return "", err
			}
			if ok {
				given++
			}
		}
	}
	detail, _ := json.Marshal(map[string]any{"day": today.Format("2006-01-02"), "gifts": given})
	return string(detail), nil
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

// birthdayGift gives one member this year's gift: points, the coupon and
// a message, in one transaction keyed by (member, year).
func (c *Club) birthdayGift(ctx context.Context, m *Merchant, memberID int64, year int) (bool, error) {
	j := m.Campaigns.Birthday
	given := false
	var book *pointsBook
	err := c.store.Atomic(ctx, func(tx Repos) error {
		member, err := tx.Members().ByID(ctx, memberID)
		if err != nil {
			return err
		}
		ref := fmt.Sprintf("%d:%d", member.ID, year)
		book = newPointsBook(ctx, tx, m, member, c.clock())
		if err := book.expireDue(); err != nil {
			return err
		}
		if _, err := book.earn(j.Points, SourceBirthday, ref, "生日礼"); err == errAlreadyOnLedger {
			return nil
		} else if err != nil {
			return err
		}
		if r, ok := findReward(m.Rewards, j.Coupon); ok {
			if _, err := c.issueCoupon(ctx, tx, m, member, r, CouponFromCampaign, "birthday:"+ref, c.clock()); err != nil && err != errCouponIssued {
				return err
			}
		}
		if _, err := c.settle(ctx, tx, m, member, book, "birthday:"+ref); err != nil {
			return err
		}
		given = true
		notice := Notice{Reason: "生日快乐！生日礼已送到", Delta: j.Points, Balance: member.Points, At: c.clock()}
		return c.enqueue(ctx, tx, m, member, PurposeBirthday, "birthday:"+ref, notice, c.clock())
	})
	if err == nil && given {
		c.observeBook(m, book)
	}
	return given, err
}
