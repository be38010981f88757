// Package ritual is wxclub's domain: merchants and their membership
// programme, members and their levels, the points ledger, the
// card-activation funnel, upgrade ceremonies, groups, campaigns and the
// outbox of messages to members.
//
// It is plain Go. It imports neither gin nor gorm: storage and WeChat are
// reached through the interfaces declared here (Store, Repos and friends),
// which the models and wechat packages implement.
//
// Two mechanisms carry everything, each written once. The member change
// (change.go) is the only way a member's points, level and ceremony move:
// it runs in a transaction with the member locked, settles due expiry, lets
// its body book points, settles the level and any ceremony, queues the
// messages, and is reported to metrics after commit. The conversation turn
// (turn.go) makes an inbound delivery happen once: it answers in a
// transaction that ends by claiming the delivery's key with the answer, and
// replays the stored answer to a repeat; the official account (chat.go) and
// the groups (group_chat.go) are its callers. A text that changes nothing
// (glance.go: 帮助, 积分) needs no transaction: its answer is read from what
// is committed and claimed in one statement.
//
// Club wires the parts, each holding only what it uses: Directory, Chat,
// GroupChat, Shop, Upgrades, Calendar, Admin, Reports, Cards, Tags and the
// Relay.
package ritual
