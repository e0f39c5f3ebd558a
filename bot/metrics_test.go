package bot

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatalf("read counter: %v", err)
	}
	return m.GetCounter().GetValue()
}

func TestMetricsRegister(t *testing.T) {
	reg := prometheus.NewRegistry()
	if err := reg.Register(NewMetrics()); err != nil {
		t.Fatalf("register: %v", err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	want := map[string]bool{"herald_outbox_sent_total": false, "herald_outbox_retried_total": false,
		"herald_outbox_failed_total": false, "herald_outbox_rate_limited_total": false,
		"herald_outbox_queued_total": false, "herald_outbox_queue_depth": false}
	for _, f := range fams {
		if _, ok := want[f.GetName()]; ok {
			want[f.GetName()] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Errorf("metric %s not exported", name)
		}
	}
}
