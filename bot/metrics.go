package bot

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the sender's delivery figures. It is a prometheus.Collector: the lead
// registers it on the registry behind /metrics. A sender without one keeps a private set.
type Metrics struct {
	sent        prometheus.Counter
	retried     prometheus.Counter
	failed      prometheus.Counter
	rateLimited prometheus.Counter
	queued      prometheus.Counter
	paused      prometheus.Counter
	migrated    prometheus.Counter
	depth       prometheus.Gauge
	latency     prometheus.Histogram
}

// NewMetrics makes the sender's metrics, named herald_outbox_*.
func NewMetrics() *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "herald", Subsystem: "outbox", Name: name, Help: help})
	}
	return &Metrics{
		sent:        c("sent_total", "Messages Telegram accepted (sends and edits)."),
		retried:     c("retried_total", "Send attempts that failed with a retryable error (5xx, network) and were retried."),
		failed:      c("failed_total", "Messages Telegram refused for good (400, chat blocked)."),
		rateLimited: c("rate_limited_total", "Send attempts Telegram answered 429."),
		queued:      c("queued_total", "Messages the sender took from the outbox."),
		paused:      c("chats_paused_total", "Chats paused because Telegram answered 403."),
		migrated:    c("chats_migrated_total", "Chats moved to a new id after migrate_to_chat_id."),
		depth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "herald", Subsystem: "outbox", Name: "queue_depth",
			Help: "Messages taken from the outbox and not yet accepted or given up."}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "herald", Subsystem: "outbox", Name: "delivery_seconds",
			Help:    "From enqueue to Telegram accepting the message.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}),
	}
}

func (m *Metrics) all() []prometheus.Collector {
	return []prometheus.Collector{m.sent, m.retried, m.failed, m.rateLimited, m.queued, m.paused, m.migrated, m.depth, m.latency}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all() {
		c.Collect(ch)
	}
}
