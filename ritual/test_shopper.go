package ritual

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
)

// Test shoppers are the only shoppers the console's phone preview plays.
// The preview sends messages to the bot as a shopper and reads what they
// received, so played as a real member it would spend their points,
// finish their ceremonies and read their messages. It may therefore act
// only as members it made itself, marked as tests in the database when
// they were made; the mark never changes after, and no real member ever
// has it. Owners and operators alike may use the preview, with test
// shoppers only.

// testShopperPrefix begins every test shopper's openid, so one is told
// apart at a glance in the member page, the logs and the emulator.
const testShopperPrefix = "oPreview"

// NewTestShopper makes a test shopper of m, not yet following the
// account, and returns its openid.
func (c *Admin) NewTestShopper(ctx context.Context, m *Merchant) (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(errors.Join(errors.New("ritual: no randomness"), err))
	}
	openid := testShopperPrefix + hex.EncodeToString(b)
	if _, err := c.store.Members().CreateTestShopper(ctx, m.ID, openid, c.clock()); err != nil {
		return "", err
	}
	c.log.InfoContext(ctx, "test shopper made", "merchant", m.ID, "openid", openid)
	return openid, nil
}

// TestShopper returns nil if openid is one of m's test shoppers: EFORBIDDEN
// if it is a real member's, ENOTFOUND if m has no member with it.
func (c *Admin) TestShopper(ctx context.Context, m *Merchant, openid string) error {
	member, err := c.store.Members().ByOpenID(ctx, m.ID, openid)
	if ErrorCode(err) == ENOTFOUND {
		return Errorf(ENOTFOUND, "no test shopper has openid %s", openid)
	} else if err != nil {
		return err
	}
	if !member.TestShopper {
		return Errorf(EFORBIDDEN, "openid %s is a real member's: the preview plays only the test shoppers it made", openid)
	}
	return nil
}

// TestShoppers returns the openids of m's newest test shoppers.
func (c *Admin) TestShoppers(ctx context.Context, m *Merchant, limit int) ([]string, error) {
	return c.store.Members().TestShoppers(ctx, m.ID, limit)
}
