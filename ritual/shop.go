package ritual

// Shop is what the merchant's shop tells wxclub and asks of it: orders,
// refunds, redemptions of points for coupons, and coupons used.
type Shop struct {
	*changer
	replies
}
