package ritual

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
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) OrderRecorded(string, string)            {}
func (nopObserver) PointsChanged(string, string, int64)     {}
func (nopObserver) LevelChanged(string, bool)               {}
func (nopObserver) MessageSent(string, string, string, int) {}
func (nopObserver) JobRan(string, string)                   {}

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
