package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/ci/tghtml"
)

const (
	allureSecret  = "allure-hook-secret-4711"
	monitorSecret = "monitor-hook-secret-0815"
)

// hooksYAML is the README's Allure TestOps example and a monitor's check hook with a short
// expect_every, beside a chat subscribed to problem, recovery and worker events.
func hooksYAML(fixed, ops int64) string {
	return fmt.Sprintf(`chats:
  - id: %d
    events: [problem, recovery, worker]
hooks:
  - name: allure
    secret: ${ALLURE_SECRET}
    template: |
      🧪 {{.createdBy}} closed <b>{{.launchName}}</b> in {{.projectName}}: {{link .launchUrl "open"}}{{with .meta}} run {{.run.id}}{{end}}
    chats: [%d]
  - name: monitor
    kind: check
    secret: ${MONITOR_SECRET}
    check: '{{.service}}'
    status: '{{.status}}'
    text: '{{.message}}'
    expect_every: 3s
`, ops, fixed)
}

func postHook(t *testing.T, h *heraldProc, path, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+h.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func mustPost(t *testing.T, h *heraldProc, path, body string, header map[string]string, status int, says string) {
	t.Helper()
	got, text := postHook(t, h, path, body, header)
	if got != status || !strings.Contains(text, says) {
		t.Fatalf("POST %s: %d %q, want %d %q", path, got, text, status, says)
	}
}

// The whole story for generic webhooks, with the real binary: the Allure TestOps
// example reaches a chat that subscribed (/notify on hook:allure) and the hook's fixed chat;
// the wrong secret is 401, bad JSON 400; a retried delivery (Idempotency-Key) is stored
// once; a body the template fails on arrives raw; a huge one is cut under Telegram's limit.
// A monitor's check goes critical then ok: one problem, one recovery; then it falls silent
// and is reported missing, and back when it reports again.
func TestE2EHooks(t *testing.T) {
	tg := newFakeTelegram(t, nil)
	const fixed = int64(-1001000000077)
	ops := telegramtest.Chat{ID: -1001000000088, Type: "supergroup", Title: "Ops"}
	h := newHerald(t, heraldOptions{tg: tg, extra: hooksYAML(fixed, ops.ID)})
	h.env = append(h.env, "ALLURE_SECRET="+allureSecret, "MONITOR_SECRET="+monitorSecret)
	h.start()
	t.Cleanup(func() {
		if logs := h.logs.String(); strings.Contains(logs, allureSecret) || strings.Contains(logs, monitorSecret) {
			t.Errorf("herald's logs show a hook secret")
		}
	})

	tg.SendText(team, alice, "/notify on hook:allure")
	waitText(t, tg, team.ID, "Hooks: <code>allure</code>")
	tg.SendText(team, alice, "/notify on hook:nope")
	waitText(t, tg, team.ID, "There is no hook nope")

	launch, err := os.ReadFile(filepath.Join("..", "..", "ci", "hook", "testdata", "allure_launch_closed.json"))
	if err != nil {
		t.Fatal(err)
	}
	bearer := map[string]string{"Authorization": "Bearer " + allureSecret}
	mustPost(t, h, "/hooks/allure", string(launch), nil, 401, "unauthorized")
	mustPost(t, h, "/hooks/allure?token=wrong", string(launch), nil, 401, "unauthorized")
	mustPost(t, h, "/hooks/allure", `{"createdBy": "qaqa",`, bearer, 400, "not JSON")
	mustPost(t, h, "/hooks/nope", string(launch), bearer, 404, "no hook")
	mustPost(t, h, "/hooks/allure", string(launch), bearer, 202, "stored")
	want := `🧪 qaqa closed <b>Nightly regression &amp; smoke</b> in Checkout &lt;web&gt;: <a href="https://allure.example.org/launch/1741270605123">open</a>`
	waitText(t, tg, team.ID, want)
	waitText(t, tg, fixed, want)

	// A retry with the same Idempotency-Key is stored once; ?token= is a secret too.
	retry := map[string]string{"Idempotency-Key": "launch-9"}
	body := `{"createdBy":"ci","launchName":"retried","projectName":"p","launchUrl":"https://allure.example.org/launch/9"}`
	mustPost(t, h, "/hooks/allure?token="+allureSecret, body, retry, 202, "stored")
	mustPost(t, h, "/hooks/allure?token="+allureSecret, body, retry, 202, "duplicate")

	// The template fails on this body (meta is no object): the event arrives raw.
	mustPost(t, h, "/hooks/allure", `{"createdBy":"x","launchName":"y","meta":"<not an object>"}`, bearer, 202, "raw: template, line 1")
	waitText(t, tg, team.ID, "the template failed on this event", `"meta": "&lt;not an object&gt;"`, "</pre>")

	// A body far over Telegram's limit is cut, and still delivered.
	huge := fmt.Sprintf(`{"createdBy":"big","launchName":%q,"projectName":"p","launchUrl":"https://x.example.org"}`, strings.Repeat("é&", 3000))
	mustPost(t, h, "/hooks/allure", huge, bearer, 202, "stored")
	cut := waitText(t, tg, fixed, "🧪 big closed <b>", "…</b>")
	// Accepted by the fake Bot API, which refuses what Telegram refuses (over 4096 units
	// once parsed); cut inside the bold name, which is closed again, and no shorter than it
	// must be: what Telegram counts (tags dropped, each entity one unit) is near the limit.
	if n := tghtml.Visible(cut.Text); !strings.HasSuffix(cut.Text, "…</b>") || n < tghtml.MaxMessage-6 || n > tghtml.MaxMessage {
		t.Errorf("cut message %q… counts %d units as Telegram counts them, want the name cut and closed within [%d, %d]",
			cut.Text[:80], n, tghtml.MaxMessage-6, tghtml.MaxMessage)
	}
	waitText(t, tg, team.ID, "🧪 big closed <b>", "…</b>")
	if n := countText(tg, team.ID, "retried"); n != 1 {
		t.Errorf("the retried delivery arrived %d times, want once:\n%s", n, dumpMessages(tg.Messages(team.ID)))
	}
	if n := countText(tg, fixed, "retried"); n != 1 {
		t.Errorf("the retried delivery reached the fixed chat %d times, want once", n)
	}

	// A monitor check: ok, critical, ok → one problem, one recovery.
	mon := map[string]string{"Authorization": "Bearer " + monitorSecret}
	mustPost(t, h, "/hooks/monitor", `{"service":"db-backup","status":"ok"}`, mon, 202, "stored: db-backup success")
	mustPost(t, h, "/hooks/monitor", `{"service":"db-backup","status":"critical","message":"disk full"}`, mon, 202, "stored: db-backup failure")
	waitText(t, tg, ops.ID, "Problem", "db-backup", "disk full")
	mustPost(t, h, "/hooks/monitor", `{"service":"db-backup","status":"ok"}`, mon, 202, "stored: db-backup success")
	waitText(t, tg, ops.ID, "Recovery", "db-backup")
	mustPost(t, h, "/hooks/monitor", `{"service":"db-backup","status":"down"}`, mon, 400, `status: "down" is not one of`)

	// Silent for longer than expect_every: missing; reporting again: back.
	waitText(t, tg, ops.ID, "<b>db-backup</b> went missing")
	mustPost(t, h, "/hooks/monitor", `{"service":"db-backup","status":"ok"}`, mon, 202, "stored")
	waitText(t, tg, ops.ID, "<b>db-backup</b> is back online")
	if p, r := countText(tg, ops.ID, "Problem"), countText(tg, ops.ID, "Recovery"); p != 1 || r != 1 {
		t.Errorf("problems %d, recoveries %d; want one each:\n%s", p, r, dumpMessages(tg.Messages(ops.ID)))
	}
	if n := countText(tg, ops.ID, "went missing"); n != 1 {
		t.Errorf("missing told %d times, want once", n)
	}
	// /last lists the check beside builders.
	before := len(tg.Messages(ops.ID))
	tg.SendText(ops, alice, "/last db-backup")
	waitFor(t, "/last's answer", func() bool {
		msgs := tg.Messages(ops.ID)
		return len(msgs) > before && strings.Contains(msgs[len(msgs)-1].Text, "db-backup")
	})
	for _, c := range []int64{team.ID, fixed} {
		for _, m := range tg.Messages(c) {
			if strings.Contains(m.Text, "db-backup") {
				t.Errorf("chat %d, not subscribed to problems, heard of the check: %q", c, m.Text)
			}
		}
	}
}

// check-config reports a template that cannot parse at its line in the file, and
// `herald hook test` renders a hook against a sample body, as the chats would get it.
func TestE2EHookCheckConfigAndTest(t *testing.T) {
	dir := t.TempDir()
	cfg := `telegram:
  token: "123456:ABCdef_ghi-JKL"
database:
  url: postgres://herald@localhost/herald
hooks:
  - name: allure
    secret: ${ALLURE_SECRET}
    template: |
      🧪 {{.createdBy}} closed <b>{{.launchName}}</b>
      {{link .launchUrl "open"}} {{if}}
`
	path := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		cmd := exec.Command(heraldBin, args...)
		cmd.Env = append(os.Environ(), "ALLURE_SECRET="+allureSecret)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, out.String(), errb.String()
	}
	code, _, stderr := run("check-config", path)
	if want := path + ":10: hooks[0].template, line 2: missing value for if"; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("check-config: %d %q, want 1 and %q", code, stderr, want)
	}
	if strings.Contains(stderr, allureSecret) {
		t.Errorf("check-config shows the secret")
	}
	if err := os.WriteFile(path, []byte(strings.Replace(cfg, " {{if}}", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	sample := filepath.Join("..", "..", "ci", "hook", "testdata", "allure_launch_closed.json")
	code, stdout, stderr := run("--config", path, "hook", "test", "allure", sample)
	want := "🧪 qaqa closed <b>Nightly regression &amp; smoke</b>\n<a href=\"https://allure.example.org/launch/1741270605123\">open</a>\n"
	if code != 0 || stdout != want {
		t.Errorf("hook test: %d %q (stderr %q), want 0 %q", code, stdout, stderr, want)
	}
	if code, _, stderr := run("--config", path, "hook", "test", "nope", sample); code != 1 || !strings.Contains(stderr, `has no hook "nope"`) {
		t.Errorf("hook test nope: %d %q", code, stderr)
	}
}
