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

func (c *changer) observe(fn func(Observer)) { fn(c.observer) }
