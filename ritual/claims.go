package ritual

import (
	"context"
	"crypto/rand"
	"strings"
	"time"
)

// codeAlphabet has no 0/O, 1/I/L: codes are read off printed cards.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newCode returns n random characters of codeAlphabet. Six give 31^6 ≈ 887
// million codes, against which guessing is rate-limited per sender.
func newCode(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

const claimCodeLen = 6

// newClaimCode returns a claim code with at least one digit, so that a
// six-letter word sent in chat ("THANKS") is never mistaken for one.
func newClaimCode() string {
	for {
		if code := newCode(claimCodeLen); strings.ContainsAny(code, "23456789") {
			return code
		}
	}
}

// looksLikeClaimCode reports whether a text message is a claim code.
func looksLikeClaimCode(s string) bool {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) != claimCodeLen || !strings.ContainsAny(s, "23456789") {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune(codeAlphabet, r) {
			return false
		}
	}
	return true
}

// giveClaimCode gives a member recognized from an order the code printed on
// their card, retrying on the rare collision.
func (c *changer) giveClaimCode(ctx context.Context, tx *work, member *Member) error {
	if member.ClaimCode != "" {
		return nil
	}
	var err error
	for range 5 {
		member.ClaimCode = newClaimCode()
		if err = tx.Members().Update(ctx, member); ErrorCode(err) != ECONFLICT {
			return err
		}
	}
	return err
}

// Limits on guessing: per sender, per hour.
const (
	claimTriesPerHour      = 5
	activationTriesPerHour = 5
)

// bindClaim binds the WeChat user follower to the member whose card
// carries code: the member they already are, from an order, before they
// knew it. follower is the record the user's follow created; it is folded
// into the claimed member if it has no history of its own.
func (c *Chat) bindClaim(ctx context.Context, tx *work, m *Merchant, follower *Member, code string) (Reply, error) {
	now := c.clock()
	if n, err := tx.Limits().Hit(ctx, "claim:"+m.ID+":"+follower.OpenID, time.Hour, now); err != nil {
		return Reply{}, err
	} else if n > claimTriesPerHour {
		return c.render(m, "reply.claim_slow_down", nil)
	}
	code = strings.ToUpper(strings.TrimSpace(code))
	claimed, err := tx.Members().ByClaimCode(ctx, m.ID, code)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return c.render(m, "reply.claim_unknown", map[string]any{"Code": code})
	case err != nil:
		return Reply{}, err
	case follower.TestShopper && !claimed.TestShopper:
		// The console's preview plays test shoppers; binding a real buyer's
		// card to one would hand their membership to a made-up WeChat user.
		return c.render(m, "reply.claim_test_shopper", nil)
	case claimed.OpenID == follower.OpenID:
		return c.claimedReply(ctx, tx, m, claimed)
	case claimed.OpenID != "":
		return c.render(m, "reply.claim_taken", nil)
	case follower.ID != claimed.ID && c.hasHistory(ctx, tx, follower):
		return c.render(m, "reply.claim_has_history", nil)
	}
	if err := c.fold(ctx, tx, follower, claimed); err != nil {
		return Reply{}, err
	}
	stamp(&claimed.Funnel.CardScannedAt, now)
	if err := tx.Members().Update(ctx, claimed); err != nil {
		return Reply{}, err
	}
	if err := c.releaseWaiting(ctx, tx, claimed); err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "card claimed", "merchant", m.ID, "member", claimed.ID)
	return c.claimedReply(ctx, tx, m, claimed)
}

// hasHistory reports whether a member has anything of their own that
// folding them into another member would lose.
func (c *Chat) hasHistory(ctx context.Context, tx *work, member *Member) bool {
	if member.Points != 0 || member.ClaimCode != "" || member.Phone != "" || member.Funnel.ActivatedAt != nil {
		return true
	}
	n, err := tx.Orders().CountForMember(ctx, member.ID)
	return err != nil || n > 0
}

// fold moves the follower's WeChat identity onto the claimed member and
// removes the follower's empty record.
func (c *Chat) fold(ctx context.Context, tx *work, follower, claimed *Member) error {
	if follower.ID != claimed.ID {
		if err := tx.Members().Delete(ctx, follower.ID); err != nil {
			return err
		}
	}
	claimed.OpenID = follower.OpenID
	claimed.State = follower.State
	claimed.SubscribeScene = follower.SubscribeScene
	claimed.FollowedAt, claimed.UnfollowedAt = follower.FollowedAt, follower.UnfollowedAt
	if follower.Funnel.FollowedAt != nil {
		stamp(&claimed.Funnel.FollowedAt, *follower.Funnel.FollowedAt)
	}
	if claimed.ReferredBy == 0 {
		claimed.ReferredBy = follower.ReferredBy
	}
	return nil
}

// claimedReply is the card's promise, told in chat: you are a member, a
// benefit is waiting, here is how to activate it.
func (c *Chat) claimedReply(ctx context.Context, tx *work, m *Merchant, member *Member) (Reply, error) {
	if member.Funnel.ActivatedAt != nil {
		return c.pointsReply(ctx, tx, m, member)
	}
	return c.render(m, "reply.claimed", c.activationData(m, member))
}
