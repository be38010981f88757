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

// turn answers the delivery with key. It runs answer in a transaction
// whose last statement claims key with the reply answer returned, so the
// delivery's effects and its stored answer commit together, and a reply
// costs no statement of its own. A repeat delivery gets the stored answer
// and changes nothing: one that comes after the first committed finds key
// claimed and rolls back what it did; one that comes at the same moment
// waits on key, or on the member the first one locked, until the first
// commits. A turn that lost a race runs again. The member changes it made
// are reported once it commits.
func (c *changer) turn(ctx context.Context, m *Merchant, key string, answer func(tx *work) (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		var reply string
		err := c.atomically(ctx, func(tx *work) error {
			var err error
			if reply, err = answer(tx); err != nil {
				return err
			}
			return c.claim(ctx, tx, m, key, reply)
		})
		switch {
		case err == nil:
			return reply, nil
		case errors.Is(err, errRaced) && attempt < racedAttempts:
			continue
		}
		return c.answeredBefore(ctx, m, key, err)
	}
}

// answered stores reply as the answer to the delivery with key, for a
// reply that changed nothing: one statement and no transaction. A repeat
// gets the stored answer instead.
func (c *changer) answered(ctx context.Context, m *Merchant, key, reply string) (string, error) {
	if err := c.claim(ctx, c.store, m, key, reply); err != nil {
		return c.answeredBefore(ctx, m, key, err)
	}
	return reply, nil
}

// claim records the delivery with key and its reply; errRepeated if it was
// recorded before.
func (c *changer) claim(ctx context.Context, repos Repos, m *Merchant, key, reply string) error {
	fresh, err := repos.Inbound().Claim(ctx, m.ID, key, reply, c.clock())
	if err == nil && !fresh {
		return errRepeated
	}
	return err
}

// answeredBefore answers a delivery whose turn failed with err: if the
// delivery was answered before — it is a repeat, or a concurrent copy of it
// committed first and made this one fail — with that answer; otherwise
// with err.
func (c *changer) answeredBefore(ctx context.Context, m *Merchant, key string, err error) (string, error) {
	stored, lookErr := c.store.Inbound().Reply(ctx, m.ID, key)
	switch {
	case lookErr == nil:
		return stored, nil
	case errors.Is(err, errRepeated):
		return "", lookErr
	}
	return "", err
}
