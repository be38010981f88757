package ritual

import (
	"log/slog"
	"strings"
	"time"

	"github.com/wxclub/wxclub/templates"
)

// Club is the membership service of every merchant on this deployment,
// wired from its parts: each part holds only the stores and collaborators
// it uses, and the handlers and the wiring in cmd reach each through the
// small interface they declare. Club holds no state of its own beyond a
// short-lived merchant cache: everything that matters is in the Store, so
// any number of replicas can run it.
type Club struct {
	*Directory // merchants, by id and API key
	*Chat      // the official account's conversation
	*GroupChat // the groups' conversation
	*Shop      // orders, refunds, redemptions, coupons
	*Upgrades  // upgrade ceremonies: steps, deadlines, grants
	*Calendar  // the campaign and system jobs on cron
	*Admin     // settings, console accounts
	*Reports   // what the merchant reads
	*Cards     // membership cards and their QR codes
	*Tags      // WeChat user tags mirroring groups and levels
}

// ClubOptions configures a Club; zero values pick sensible defaults.
type ClubOptions struct {
	Clock  Clock
	Texts  *templates.Set
	Logger *slog.Logger
	// MerchantTTL is how long a merchant's settings are cached; a change
	// made on another replica shows here within this time.
	MerchantTTL time.Duration
	// Observer is told what happened, for metrics.
	Observer Observer
	// WeChat makes QR codes for cards and invitations on request.
	WeChat CardMessenger
	// PublicURL is where shoppers reach this service (links in chat).
	PublicURL string
}

// NewClub returns a Club on store.
func NewClub(store Store, opts ClubOptions) *Club {
	if opts.Clock == nil {
		opts.Clock = SystemClock
	}
	if opts.Texts == nil {
		opts.Texts = templates.Default()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MerchantTTL == 0 {
		opts.MerchantTTL = 10 * time.Second
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	dir := &Directory{store: store, clock: opts.Clock,
		cache: &merchantCache{ttl: opts.MerchantTTL, entries: map[string]cachedMerchant{}}}
	ch := &changer{store: store, clock: opts.Clock, log: opts.Logger, observer: opts.Observer}
	say := replies{texts: opts.Texts}
	cards := &Cards{changer: ch, replies: say, directory: dir, wechat: opts.WeChat, publicURL: strings.TrimRight(opts.PublicURL, "/")}
	upgrades := &Upgrades{changer: ch, replies: say}
	signIns := &signIns{changer: ch, replies: say, upgrades: upgrades}
	shop := &Shop{changer: ch, replies: say}
	return &Club{
		Directory: dir,
		Chat:      &Chat{changer: ch, replies: say, signIns: signIns, upgrades: upgrades, shop: shop, cards: cards},
		GroupChat: &GroupChat{changer: ch, replies: say, signIns: signIns},
		Shop:      shop,
		Upgrades:  upgrades,
		Calendar:  &Calendar{changer: ch},
		Admin:     &Admin{changer: ch, merchants: dir.cache},
		Reports:   &Reports{store: store, clock: opts.Clock},
		Cards:     cards,
		Tags:      &Tags{store: store, log: opts.Logger},
	}
}
