package handlers

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wxclub/wxclub/ritual"
)

// Metrics is the Prometheus registry of one process: the HTTP surface
// counts webhook requests, the domain reports through ritual.Observer, and
// collectors read the outbox depth and the database pool at scrape time.
type Metrics struct {
	reg *prometheus.Registry

	webhookRequests *prometheus.CounterVec
	webhookSeconds  *prometheus.HistogramVec
	orders          *prometheus.CounterVec
	points          *prometheus.CounterVec
	levelChanges    *prometheus.CounterVec
	sends           *prometheus.CounterVec
	jobRuns         *prometheus.CounterVec
	campaigns       *prometheus.CounterVec
}

var _ ritual.Observer = (*Metrics)(nil)

// NewMetrics returns a registry with wxclub's metrics and Go's own.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		webhookRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxclub_webhook_requests_total", Help: "Webhook requests (official account, and kind group for the group bridge) by merchant, message kind and outcome.",
		}, []string{"merchant", "kind", "outcome"}),
		webhookSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "wxclub_webhook_request_duration_seconds", Help: "Time to answer a webhook request; WeChat gives up after 5 s.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"merchant", "kind"}),
		orders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxclub_orders_total", Help: "Orders reported by merchant and outcome (created, resent, conflict, invalid, error).",
		}, []string{"merchant", "outcome"}),
		points: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxclub_points_total", Help: "Points moved, by merchant, source and direction (issued or spent).",
		}, []string{"merchant", "source", "direction"}),
		levelChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxclub_level_changes_total", Help: "Level changes by merchant and direction (up, down).",
		}, []string{"merchant", "direction"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxclub_outbox_sends_total", Help: "Send attempts by merchant, purpose, result and WeChat errcode.",
		}, []string{"merchant", "purpose", "result", "errcode"}),
		jobRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxclub_cron_runs_total", Help: "Recurring job runs by job and result.",
		}, []string{"job", "result"}),
		campaigns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wxclub_campaign_messages_queued_total", Help: "Campaign messages queued, by merchant and campaign kind.",
		}, []string{"merchant", "campaign"}),
	}
	m.reg.MustRegister(m.webhookRequests, m.webhookSeconds, m.orders, m.points, m.levelChanges, m.sends, m.jobRuns, m.campaigns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchDB exports the connection pool's statistics.
func (m *Metrics) WatchDB(db *sql.DB, name string) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// WatchStatements exports how many SQL statements the service has sent, so
// that statements per request can be read off two scrapes.
func (m *Metrics) WatchStatements(count func() uint64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "wxclub_sql_statements_total", Help: "SQL statements sent to the database, BEGIN and COMMIT included.",
	}, func() float64 { return float64(count()) }))
}

// WatchOutbox exports the outbox depth by status, read at scrape time.
func (m *Metrics) WatchOutbox(depth func(context.Context) (map[ritual.OutboxStatus]int64, error)) {
	m.reg.MustRegister(&outboxCollector{depth: depth, desc: prometheus.NewDesc(
		"wxclub_outbox_messages", "Outbox messages by status.", []string{"status"}, nil)})
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) observeWebhook(merchant, kind, outcome string, took time.Duration) {
	m.webhookRequests.WithLabelValues(merchant, kind, outcome).Inc()
	m.webhookSeconds.WithLabelValues(merchant, kind).Observe(took.Seconds())
}

// OrderRecorded implements ritual.Observer.
func (m *Metrics) OrderRecorded(merchant, outcome string) {
	m.orders.WithLabelValues(merchant, outcome).Inc()
}

// PointsChanged implements ritual.Observer.
func (m *Metrics) PointsChanged(merchant, source string, delta int64) {
	direction := "issued"
	if delta < 0 {
		direction, delta = "spent", -delta
	}
	m.points.WithLabelValues(merchant, source, direction).Add(float64(delta))
}

// LevelChanged implements ritual.Observer.
func (m *Metrics) LevelChanged(merchant string, up bool) {
	direction := "down"
	if up {
		direction = "up"
	}
	m.levelChanges.WithLabelValues(merchant, direction).Inc()
}

// MessageSent implements ritual.Observer.
func (m *Metrics) MessageSent(merchant, purpose, result string, errcode int) {
	m.sends.WithLabelValues(merchant, purpose, result, strconv.Itoa(errcode)).Inc()
}

// JobRan implements ritual.Observer.
func (m *Metrics) JobRan(job, result string) {
	m.jobRuns.WithLabelValues(job, result).Inc()
}

// outboxCollector reads the outbox depth when Prometheus scrapes.
type outboxCollector struct {
	depth func(context.Context) (map[ritual.OutboxStatus]int64, error)
	desc  *prometheus.Desc
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	depth, err := c.depth(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, status := range []ritual.OutboxStatus{ritual.OutboxPending, ritual.OutboxSent, ritual.OutboxFailed, ritual.OutboxWaitingFollow, ritual.OutboxMerged} {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(depth[status]), string(status))
	}
}

// CampaignQueued implements ritual.Observer. The label is the campaign's
// kind ("member_day"), not the run ("member_day:2026-12-08"), to keep the
// series few.
func (m *Metrics) CampaignQueued(merchant, campaign string, n int64) {
	kind, _, _ := strings.Cut(campaign, ":")
	m.campaigns.WithLabelValues(merchant, kind).Add(float64(n))
}
