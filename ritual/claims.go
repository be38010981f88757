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

// Limits on guessing, counted in the database so they hold across
// replicas. A code only binds (AwaitsProof); what the binding is worth needs
// the order phone's last four digits, guessed at most proofTriesPerWindow
// times per membership.
const (
	claimTriesPerHour      = 5  // per sender: scans, codes sent, take-backs
	typedCodesPerHour      = 60 // per merchant, all senders together: codes sent in chat
	activationTriesPerHour = 5  // per sender
	proofTriesPerWindow    = 5  // per membership
	proofWindow            = 30 * 24 * time.Hour
)

// claimRefused counts a claim attempt by sender and says whether it is
// over a limit. A code sent in chat (typed) may be a guess, so it also
// counts against the merchant's hourly total; a scene comes from a QR code
// the merchant made, so it names a real card.
func (c *Chat) claimRefused(ctx context.Context, tx *work, m *Merchant, sender string, typed bool) (bool, error) {
	now := c.clock()
	if over, err := overLimit(ctx, tx.Limits(), "claim:"+m.ID+":"+sender, time.Hour, claimTriesPerHour, now); err != nil || over {
		return over, err
	}
	if !typed {
		return false, nil
	}
	return overLimit(ctx, tx.Limits(), "claim-typed:"+m.ID, time.Hour, typedCodesPerHour, now)
}

// bindClaim binds the WeChat user follower to the member whose card
// carries code: the member they already are, from an order, before they
// knew it. follower is the record the user's follow created; it is folded
// into the claimed member if it has no history of its own. The binding
// awaits the activation's proof (AwaitsProof); a card bound by code alone to
// someone else can be taken back with the proof (takeBack).
func (c *Chat) bindClaim(ctx context.Context, tx *work, m *Merchant, follower *Member, code string, typed bool) (Reply, error) {
	if over, err := c.claimRefused(ctx, tx, m, follower.OpenID, typed); err != nil || over {
		return c.slowDown(m, err)
	}
	code = strings.ToUpper(strings.TrimSpace(code))
	claimed, err := tx.Members().ByClaimCode(ctx, m.ID, code)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return c.render(m, "reply.claim_unknown", map[string]any{"Code": code, "Scanned": !typed})
	case err != nil:
		return Reply{}, err
	case follower.TestShopper && !claimed.TestShopper:
		// The console's preview plays test shoppers; binding a real buyer's
		// card to one would hand their membership to a made-up WeChat user.
		return c.render(m, "reply.claim_test_shopper", nil)
	case claimed.OpenID == follower.OpenID:
		return c.claimedReply(ctx, tx, m, claimed)
	case claimed.OpenID != "" && claimed.AwaitsProof():
		return c.render(m, "reply.claim_take_back", map[string]any{"Code": code})
	case claimed.OpenID != "":
		return c.render(m, "reply.claim_taken", nil)
	case follower.ID != claimed.ID && c.hasHistory(ctx, tx, follower):
		return c.render(m, "reply.claim_has_history", nil)
	}
	if err := c.fold(ctx, tx, follower, claimed); err != nil {
		return Reply{}, err
	}
	stamp(&claimed.Funnel.CardScannedAt, c.clock())
	if err := tx.Members().Update(ctx, claimed); err != nil {
		return Reply{}, err
	}
	// Messages that waited for the buyer keep waiting: they carry the
	// balance, which is for whoever proves the order (activate releases them).
	c.log.InfoContext(ctx, "card claimed", "merchant", m.ID, "member", claimed.ID)
	return c.claimedReply(ctx, tx, m, claimed)
}

func (c *Chat) slowDown(m *Merchant, err error) (Reply, error) {
	if err != nil {
		return Reply{}, err
	}
	return c.render(m, "reply.claim_slow_down", nil)
}

// takeBackText reads "<code> <last four digits>": how the buyer takes back
// a card someone else bound by its code.
func takeBackText(s string) (code, digits string, ok bool) {
	fields := strings.Fields(s)
	if len(fields) != 2 || !looksLikeClaimCode(fields[0]) || !fourDigits.MatchString(fields[1]) {
		return "", "", false
	}
	return strings.ToUpper(fields[0]), fields[1], true
}

// takeBack binds the card whose code is code to the sender who proves the
// order's phone and activates it for them. Whoever had bound it by code
// alone is unbound: they could neither see nor spend anything meanwhile, so
// nothing needs undoing but the WeChat member card they may have taken.
// An activated membership is proven already and cannot be taken.
func (c *Chat) takeBack(ctx context.Context, tx *work, m *Merchant, follower *Member, code, digits string) (Reply, error) {
	if over, err := c.claimRefused(ctx, tx, m, follower.OpenID, true); err != nil || over {
		return c.slowDown(m, err)
	}
	claimed, err := tx.Members().ByClaimCode(ctx, m.ID, code)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return c.render(m, "reply.claim_unknown", map[string]any{"Code": code})
	case err != nil:
		return Reply{}, err
	case claimed.OpenID == follower.OpenID: // their own card: the code adds nothing to the proof
		if reply, ok, err := c.tryActivate(ctx, tx, m, claimed, digits); ok || err != nil {
			return reply, err
		}
		return c.activationReply(ctx, tx, m, claimed, "reply.how_to_activate")
	case claimed.OpenID != "" && !claimed.AwaitsProof():
		return c.render(m, "reply.claim_taken", nil)
	case c.hasHistory(ctx, tx, follower):
		return c.render(m, "reply.claim_has_history", nil)
	}
	if reply, proven, err := c.proveOrderPhone(ctx, tx, m, claimed, follower.OpenID, digits); !proven || err != nil {
		return reply, err
	}
	if stranger := claimed.OpenID; stranger != "" {
		claimed.CardCode = "" // the member card in the stranger's WeChat is theirs, not the buyer's
		c.log.WarnContext(ctx, "card taken back from a WeChat user who bound it by code alone", "merchant", m.ID, "member", claimed.ID)
	}
	if err := c.fold(ctx, tx, follower, claimed); err != nil {
		return Reply{}, err
	}
	stamp(&claimed.Funnel.CardScannedAt, c.clock())
	if err := tx.Members().Update(ctx, claimed); err != nil {
		return Reply{}, err
	}
	return c.activate(ctx, tx, m, claimed)
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
	return c.activationReply(ctx, tx, m, member, "reply.claimed")
}
