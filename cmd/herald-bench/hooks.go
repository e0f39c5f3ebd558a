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
	"github.com/herald-ci/herald/ci/hook"
	"github.com/herald-ci/herald/store"
)

const benchHookSecret = "bench-hook-secret"

// hookIntakeFigure: the intake figure through POST /hooks/<name>, as a tool reaches it. A
// message hook (Allure TestOps' launch events, the README's template): each body signed
// with X-Hub-Signature-256, the signature checked, the JSON decoded, filter, dedup and
// message templates rendered, the key recorded and the message queued to the 10 chats
// subscribed to hook:allure, in one transaction, then 202. A check hook (a monitor's
// results for 64 checks, ok and critical by turns): each result stored as a build through
// the notifier, classified against the check's history and its problem or recovery queued to
// the 10 chats on problem recovery. c.intakeEvents deliveries of each, c.intakeWorkers in
// flight at once.
func hookIntakeFigure(ctx context.Context, st *store.Store, c config) error {
	allure, ps := hook.Compile(hook.Config{Name: "allure", Secret: benchHookSecret,
		Template: `{{if eq .event "launch_created" "launch_closed"}}🧪 {{.createdBy}}: launch <b>{{.launchName}}</b> {{if eq .event "launch_closed"}}closed{{else}}started{{end}} in {{.projectName}} · {{link .launchUrl "open"}}{{end}}`,
		Filter:   `{{eq .event "launch_closed"}}`,
	}, nil)
	if len(ps) > 0 {
		return fmt.Errorf("allure hook: %v", ps)
	}
	monitorHook, ps := hook.Compile(hook.Config{Name: "monitor", Kind: hook.KindCheck, Secret: benchHookSecret,
		Check: "{{.service}}", Status: "{{.status}}", Text: "{{.message}}"}, nil)
	if len(ps) > 0 {
		return fmt.Errorf("monitor hook: %v", ps)
	}
	if err := st.RegisterHooks(ctx, []store.HookDef{{Name: "allure", Kind: hook.KindMessage}, {Name: "monitor", Kind: hook.KindCheck}}); err != nil {
		return err
	}
	if err := subscribe(ctx, st, 1, 10, []string{store.HookEvent("allure")}); err != nil {
		return err
	}
	if err := subscribe(ctx, st, 11, 10, []string{"problem", "recovery"}); err != nil {
		return err
	}
	monitor := hook.NewCheck(monitorHook)
	monitor.Attach(st)
	n := bot.NewNotifier(st, bot.NotifyOptions{Wake: func() {}}, zerolog.Nop())
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{name}", hook.NewHandler([]*hook.Hook{allure, monitor.Hook()}, []*hook.Check{monitor}, st, n, nil, zerolog.Nop()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	elapsed, err := inParallel(c.intakeEvents, c.intakeWorkers, func(i int) error {
		return postHook(ctx, client, srv.URL+"/hooks/allure", fmt.Sprintf("launch-%d", i), map[string]any{
			"event": "launch_closed", "projectName": "Checkout <web>", "launchName": fmt.Sprintf("Nightly regression #%d", i),
			"launchId": 1741270605000 + i, "launchUrl": fmt.Sprintf("https://allure.example.org/launch/%d", 1741270605000+i),
			"createdBy": "qaqa",
		})
	})
	if err != nil {
		return err
	}
	messages, err := st.OutboxDepth(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("hooks: %d signed Allure deliveries (message hook, 10 chats subscribed, %d concurrent) in %v: %.0f events/s, %d messages queued\n",
		c.intakeEvents, c.intakeWorkers, elapsed.Round(time.Millisecond), float64(c.intakeEvents)/elapsed.Seconds(), messages)

	statuses := []string{"ok", "critical", "ok", "ok"}
	elapsed, err = inParallel(c.intakeEvents, c.intakeWorkers, func(i int) error {
		return postHook(ctx, client, srv.URL+"/hooks/monitor", fmt.Sprintf("result-%d", i), map[string]any{
			"service": fmt.Sprintf("check-%d", i%64), "status": statuses[(i/64)%len(statuses)], "message": "disk 97% full",
		})
	})
	if err != nil {
		return err
	}
	depth, err := st.OutboxDepth(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("hooks: %d signed check results (64 checks, ok and critical by turns, 10 chats on problem recovery, %d concurrent) in %v: %.0f events/s, %d messages queued\n",
		c.intakeEvents, c.intakeWorkers, elapsed.Round(time.Millisecond), float64(c.intakeEvents)/elapsed.Seconds(), depth-messages)
	return nil
}

// postHook posts body to a hook signed with its secret, keyed by key, and wants 202 stored.
func postHook(ctx context.Context, client *http.Client, url, key string, body map[string]any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(benchHookSecret))
	mac.Write(raw)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.HasPrefix(string(answer), "stored") {
		return fmt.Errorf("delivery %s answered %d %q", key, resp.StatusCode, answer)
	}
	return nil
}
