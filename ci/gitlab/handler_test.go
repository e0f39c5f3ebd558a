package gitlab_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/gitlab"
	"github.com/herald-ci/herald/ci/gitlab/gitlabtest"
	"github.com/herald-ci/herald/ci/webhook"
)

type memSink struct {
	mu   sync.Mutex
	keys []string
	seen map[string]bool
}

func (s *memSink) Deliver(_ context.Context, ev ci.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seen[ev.Key()] {
		s.seen[ev.Key()] = true
		s.keys = append(s.keys, ev.Key())
	}
	return nil
}

func (s *memSink) stored() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

type memDeliveries struct {
	mu sync.Mutex
	m  map[string]bool
}

func (m *memDeliveries) DeliverySeen(_ context.Context, conn, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.m[conn+"/"+id], nil
}

func (m *memDeliveries) RecordDelivery(_ context.Context, conn, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[conn+"/"+id] = true
	return nil
}

// TestHooksThroughHandler has the fake GitLab post its hooks to herald's webhook handler
// with the provider behind it: the answers GitLab sees, a dropped delivery, a redelivery,
// and a token that does not match.
func TestHooksThroughHandler(t *testing.T) {
	sink := &memSink{seen: map[string]bool{}}
	var p *gitlab.Provider
	parsers := map[string]ci.WebhookParser{}
	h := webhook.New(parsers, sink, &memDeliveries{m: map[string]bool{}}, webhook.Options{}, zerolog.Nop())
	mux := http.NewServeMux()
	mux.Handle("POST /ci/{conn}/webhook", h)
	herald := httptest.NewServer(mux)
	t.Cleanup(herald.Close)

	fake := newFake(t, gitlabtest.Options{WebhookURL: herald.URL + "/ci/gl/webhook", WebhookToken: testSecret})
	fake.AddProject("acme/app", "main")
	p = newProvider(t, fake, nil, "acme/app")
	parsers["gl"] = p

	id := fake.CreatePipeline("acme/app", "main", gitlabtest.PipelineOptions{Jobs: failingUnit})
	fake.DropWebhooks(1) // the running hook is lost; the pending one told the start
	if err := fake.Finish(id); err != nil {
		t.Fatal(err)
	}
	var ds []gitlabtest.Delivery
	if err := fake.WaitFor(ctx(t), func() bool {
		ds = fake.Deliveries()
		return len(ds) > 0 && ds[len(ds)-1].Event == "Pipeline Hook" && len(ds) >= 6
	}); err != nil {
		t.Fatal(err)
	}
	answers := map[string]int{}
	var finished string
	for _, d := range ds {
		switch {
		case d.Dropped:
			answers["dropped"]++
		case d.Status == 200 && d.Answer == "ignored: Job Hook: job progress is read from the API\n":
			answers["job"]++
		case d.Status == 200 && d.Answer == "ok: 1 events stored\n":
			answers["stored"]++
			finished = d.UUID
		default:
			t.Errorf("delivery %s %s answered %d %q", d.Event, d.UUID, d.Status, d.Answer)
		}
	}
	// Pipeline Hooks: pending, running (dropped), failed; Job Hooks: compile success, unit
	// failed, ship skipped.
	if answers["dropped"] != 1 || answers["stored"] != 2 || answers["job"] != 3 {
		t.Errorf("answers %v", answers)
	}
	want := []string{
		"gl/build/" + gitlab.BuildID(id, 1) + "/started",
		"gl/build/" + gitlab.BuildID(id, 1) + "/finished",
	}
	if got := sink.stored(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("stored %v, want %v", got, want)
	}

	n := len(ds)
	if err := fake.Redeliver(finished); err != nil {
		t.Fatal(err)
	}
	if err := fake.WaitFor(ctx(t), func() bool { return len(fake.Deliveries()) > n }); err != nil {
		t.Fatal(err)
	}
	if d := fake.Deliveries()[n]; d.Status != 200 || d.Answer != "duplicate delivery\n" {
		t.Errorf("redelivery answered %d %q", d.Status, d.Answer)
	}

	req, _ := http.NewRequest(http.MethodPost, herald.URL+"/ci/gl/webhook", nil)
	req.Header = ds[len(ds)-1].Header.Clone()
	req.Header.Set("X-Gitlab-Token", "a guess")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token answered %d", resp.StatusCode)
	}
}
