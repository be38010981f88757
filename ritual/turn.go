package ritual

import (
	"context"
	"errors"
)

// The conversation turn: every inbound channel (the official account, a
// group bridge) authenticates and parses a delivery, then hands it to
// Club.turn, which makes it happen exactly once.

// errRepeated aborts the transaction of a delivery that was handled before.
var errRepeated = errors.New("ritual: delivery seen before")

// errRaced aborts a transaction that lost a race to a concurrent one (two
// messages linking one sender, joining one activity, signing one member
// in): run again, it sees what the winner committed and answers
// accordingly.
var errRaced = errors.New("ritual: lost a race to a concurrent change")

// racedAttempts is how many times a turn that lost a race runs in all.
const racedAttempts = 3

// turn answers the delivery with key. It claims key, runs answer and stores
// what answer returns, all in one transaction, so the delivery's effects
// and its stored answer commit together. A repeat delivery (also one
// arriving at the same moment) gets the stored answer and changes nothing.
// A turn that lost a race runs again. The member changes it made are
// reported once it commits.
func (c *changer) turn(ctx context.Context, m *Merchant, key string, answer func(tx *work) (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		var stored string
		err := c.atomically(ctx, func(tx *work) error {
			fresh, err := tx.Inbound().Claim(ctx, m.ID, key, c.clock())
			if err != nil {
				return err
			}
			if !fresh {
				return errRepeated
			}
			if stored, err = answer(tx); err != nil {
				return err
			}
			return tx.Inbound().SaveReply(ctx, m.ID, key, stored)
		})
		switch {
		case errors.Is(err, errRepeated):
			return c.store.Inbound().Reply(ctx, m.ID, key)
		case errors.Is(err, errRaced) && attempt < racedAttempts:
			continue
		}
		return stored, err
	}
}
