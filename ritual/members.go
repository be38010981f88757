package ritual

import "context"

// Member returns the merchant's member with openid; ENOTFOUND if none.
func (c *Reports) Member(ctx context.Context, m *Merchant, openid string) (*Member, error) {
	if openid == "" {
		return nil, FieldErrorf("openid", "is required")
	}
	return c.store.Members().ByOpenID(ctx, m.ID, openid)
}
