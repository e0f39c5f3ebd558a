package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot"
	"github.com/herald-ci/herald/ci"
	"github.com/herald-ci/herald/ci/github"
	"github.com/herald-ci/herald/ci/webhook"
	"github.com/herald-ci/herald/store"
)

const benchWebhookSecret = "bench-webhook-secret"

// webhookIntake: the intake figure through herald's CI webhook endpoint, as GitHub reaches
// it: a signed workflow_run delivery posted over HTTP, its signature checked, parsed, the
// delivery id looked up, the event stored, classified and matched and its messages committed
// to the outbox, then the delivery id recorded and 200 answered. The same 20 chats as the
// intake figure are subscribed; c.intakeWorkers deliveries are in flight at once.
func webhookIntake(ctx context.Context, st *store.Store, c config) error {
	if err := subscribe(ctx, st, 1, 10, []string{"failure", "problem", "recovery"}); err != nil {
		return err
	}
	if err := subscribe(ctx, st, 11, 10, []string{"finished"}); err != nil {
		return err
	}
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: func() {}}, zerolog.Nop())
	parser := github.NewParser(github.ParserConfig{Conn: "gh", Repos: []string{"acme/widgets"}, Secret: benchWebhookSecret})
	h := webhook.New(map[string]ci.WebhookParser{"gh": parser}, n, st, webhook.Options{}, zerolog.Nop())
	mux := http.NewServeMux()
	mux.Handle("POST /ci/{conn}/webhook", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	elapsed, err := inParallel(c.intakeEvents, c.intakeWorkers, func(i int) error {
		return postRun(ctx, client, srv.URL+"/ci/gh/webhook", i)
	})
	if err != nil {
		return err
	}
	depth, err := st.OutboxDepth(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("webhook: %d signed workflow_run deliveries (20 chats subscribed, %d concurrent) in %v: %.0f events/s, %d messages queued\n",
		c.intakeEvents, c.intakeWorkers, elapsed.Round(time.Millisecond), float64(c.intakeEvents)/elapsed.Seconds(), depth)
	return nil
}

// postRun posts the completed delivery of run i: 64 workflows, runs alternating between
// success and failure, so problems and recoveries are classified as in the intake figure.
func postRun(ctx context.Context, client *http.Client, url string, i int) error {
	conclusions := []string{"success", "failure", "success", "neutral"} // neutral is a success; GitHub has no warnings
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	body, err := json.Marshal(map[string]any{
		"action": "completed",
		"workflow_run": map[string]any{
			"id": 100000 + i, "name": fmt.Sprintf("workflow-%d", i%64), "run_number": i/64 + 1, "run_attempt": 1,
			"workflow_id": 500 + i%64, "head_branch": "main", "head_sha": fmt.Sprintf("%040x", i),
			"status": "completed", "conclusion": conclusions[i%len(conclusions)], "event": "push",
			"html_url":       fmt.Sprintf("https://github.com/acme/widgets/actions/runs/%d", 100000+i),
			"run_started_at": at.Format(time.RFC3339), "created_at": at.Format(time.RFC3339),
			"updated_at": at.Add(90 * time.Second).Format(time.RFC3339),
			"actor":      map[string]any{"login": "mona"}, "triggering_actor": map[string]any{"login": "mona"},
			"head_commit": map[string]any{"message": "Change " + fmt.Sprint(i), "author": map[string]any{"name": "Mona"}},
		},
		"repository": map[string]any{"name": "widgets", "full_name": "acme/widgets", "default_branch": "main"},
		"sender":     map[string]any{"login": "mona"},
	})
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(benchWebhookSecret))
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "workflow_run")
	req.Header.Set("X-GitHub-Delivery", fmt.Sprintf("bench-%d", i))
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(answer), "ok") {
		return fmt.Errorf("delivery %d answered %d %q", i, resp.StatusCode, answer)
	}
	return nil
}
