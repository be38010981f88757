package ritual

import "context"

// Observer is told what the domain did, after it committed, so an adapter
// can count it (package handlers exports Prometheus metrics from it). Calls
// must be cheap and must not block.
type Observer interface {
	// OrderRecorded: outcome is created, resent, conflict or invalid.
	OrderRecorded(merchant, outcome string)
	// PointsChanged: source is order, refund, expiry, ...; delta is signed.
	PointsChanged(merchant, source string, delta int64)
	LevelChanged(merchant string, up bool)
	// MessageSent: result is sent, retry, quota, waiting_follow or failed.
	MessageSent(merchant, purpose, result string, errcode int)
	JobRan(job, result string)
	// CampaignQueued: n messages of a campaign were queued.
	CampaignQueued(merchant, campaign string, n int64)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) OrderRecorded(string, string)            {}
func (nopObserver) PointsChanged(string, string, int64)     {}
func (nopObserver) LevelChanged(string, bool)               {}
func (nopObserver) MessageSent(string, string, string, int) {}
func (nopObserver) JobRan(string, string)                   {}
func (nopObserver) CampaignQueued(string, string, int64)    {}

func (c *Club) observe(fn func(Observer)) { fn(c.observer) }

// observeBook reports what a committed points book did.
func (c *Club) observeBook(m *Merchant, book *pointsBook) {
	if book == nil {
		return
	}
	for _, e := range book.entries {
		if e.Delta != 0 {
			c.observer.PointsChanged(m.ID, e.Source, e.Delta)
		}
	}
	if ch := book.levelChange; ch != nil {
		_, from := m.Membership.Level(ch.From)
		_, to := m.Membership.Level(ch.To)
		c.observer.LevelChanged(m.ID, to > from)
	}
	c.observeBook(m, book.also)
}

// booksKey marks a context whose transaction collects the points books it
// changes, to be observed once it commits.
type booksKey struct{}

type bookCollector struct{ books []*pointsBook }

// collecting returns ctx with a fresh collector.
func collecting(ctx context.Context) (context.Context, *bookCollector) {
	col := &bookCollector{}
	return context.WithValue(ctx, booksKey{}, col), col
}

// collect adds book to the context's collector, if it has one.
func collect(ctx context.Context, book *pointsBook) {
	if col, ok := ctx.Value(booksKey{}).(*bookCollector); ok {
		col.books = append(col.books, book)
	}
}
