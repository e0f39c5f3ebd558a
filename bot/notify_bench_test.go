package bot

import (
	"context"
	"testing"
	"time"

	"github.com/herald-ci/herald/ci"
)

// BenchmarkFanOut is the pure part of one event's fan-out to 3,000 chats (plan, render,
// outbox rows; no database): go test -run '^$' -bench FanOut -benchtime 200x ./bot/
// It reports the formatting calls per event, which stay at the number of distinct looks
// (before the stages, Plan formatted each chat's messages anew: one call per message).
func BenchmarkFanOut(b *testing.B) {
	ev, targets := fanOut(3000)
	now := ev.Build.FinishedAt
	calls := 0
	count := func(ev ci.Event, look ci.Kind, now time.Time) string {
		calls++
		return formatLook(ev, look, now)
	}
	b.ReportAllocs()
	msgs := 0
	for b.Loop() {
		p := PlanEvent(ev, targets, false)
		out, err := outMessages(context.Background(), nil, ev, p, renderWith(count, ev, p.Looks, now))
		if err != nil {
			b.Fatal(err)
		}
		msgs += len(out)
	}
	b.ReportMetric(float64(calls)/float64(b.N), "formats/event")
	b.ReportMetric(float64(msgs)/float64(b.N), "messages/event")
}

// BenchmarkFanOutRerun is BenchmarkFanOut on a connection that can re-run builds: each of
// the 3,000 chats gets a Re-run button, its payload stored in memory (the fake counts the
// round trips, one per event).
func BenchmarkFanOutRerun(b *testing.B) {
	ev, targets := fanOut(3000)
	now := ev.Build.FinishedAt
	cb := &fakeCallbacks{}
	b.ReportAllocs()
	for b.Loop() {
		cb.chats, cb.puts = cb.chats[:0], cb.puts[:0]
		p := PlanEvent(ev, targets, true)
		if _, err := outMessages(context.Background(), cb, ev, p, Render(ev, p.Looks, now)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cb.calls)/float64(b.N), "round-trips/event")
}
