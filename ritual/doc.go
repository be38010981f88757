// Package ritual is wxclub's domain: merchants and their membership
// programme, members, the conversation a shopper has with the official
// account, and (as the product grows) levels, points, the activation funnel,
// ceremonies and campaigns.
//
// It is plain Go. It imports neither gin nor gorm: storage and WeChat are
// reached through the interfaces declared here (Store, Repos and friends),
// which the models and wechat packages implement. Every operation that a
// retry could repeat carries a unique key and runs in one Store.Atomic
// transaction, so a repeated request has no second effect.
package ritual
