package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tgbot "github.com/go-telegram/bot"
	"github.com/rs/zerolog"

	"github.com/herald-ci/herald/bot/telegramtest"
	"github.com/herald-ci/herald/commands"
)

// runPoller runs a poller against apiURL until the test ends and returns its log.
func runPoller(t *testing.T, h *harness, apiURL string, opts ...PollerOption) *lineBuffer {
	t.Helper()
	logs := &lineBuffer{}
	p := NewPoller(h.st, h.api, nil, apiURL, time.Second, zerolog.New(logs), opts...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Errorf("poller did not stop")
		}
		for _, l := range logs.lines() {
			if strings.Contains(l, testToken) {
				t.Errorf("the token is in the log: %s", l)
			}
		}
	})
	return logs
}

// logLine is the first line of logs whose message contains want, decoded; nil if none.
func logLine(logs *lineBuffer, want string) map[string]any {
	for _, l := range logs.lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.Contains(fmt.Sprint(m["message"]), want) {
			return m
		}
	}
	return nil
}

// Telegram's flood control applies to getUpdates too: asking again before retry_after only
// earns another 429, so the poller waits at least that long instead of its own backoff.
func TestPollerObeysRetryAfter(t *testing.T) {
	h := newHarness(t, nil, fastOptions())
	h.tg.FailNext("getUpdates", 0, telegramtest.TooManyRequests(2))
	logs := runPoller(t, h, h.tg.URL())
	waitFor(t, "the first getUpdates", func() bool { return h.tg.Calls("getUpdates") >= 1 })
	first := time.Now()
	waitFor(t, "a second getUpdates", func() bool { return h.tg.Calls("getUpdates") >= 2 })
	if waited := time.Since(first); waited < 1900*time.Millisecond {
		t.Errorf("asked again %v after a 429 with retry_after 2; want at least 2s", waited.Round(time.Millisecond))
	}
	l := logLine(logs, "getUpdates")
	if l == nil {
		t.Fatalf("no getUpdates line in the log:\n%s", strings.Join(logs.lines(), "\n"))
	}
	if l["retry_in"] != float64(2000) {
		t.Errorf("logged retry_in %v; want 2000 (ms): %v", l["retry_in"], l)
	}
}

// otherPoll is a getUpdates by another program with the bot's token, returning at once.
func otherPoll(h *harness) {
	body := bytes.NewReader([]byte(`{"offset":0,"timeout":0}`))
	resp, err := http.Post(h.tg.URL()+"/bot"+testToken+"/getUpdates", "application/json", body)
	if err == nil {
		resp.Body.Close()
	}
}

// logLines are the lines of logs whose message contains want, decoded.
func logLines(logs *lineBuffer, want string) []map[string]any {
	var out []map[string]any
	for _, l := range logs.lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.Contains(fmt.Sprint(m["message"]), want) {
			out = append(out, m)
		}
	}
	return out
}

// Right after a takeover the previous poller may ask Telegram once more before it notices
// it lost the role, and Telegram ends this poller's long poll with 409. That passes: the
// poller asks again within about a second each time (not after a growing backoff), says so
// as a warning in Telegram's words, and stays ready.
func TestPollerRetriesATransientConflictSoon(t *testing.T) {
	h := newHarness(t, nil, fastOptions())
	health := NewHealth(nil)
	logs := runPoller(t, h, h.tg.URL(), PollerHealth(health))
	for round := range 6 {
		conflicts := h.tg.PollConflicts()
		waitFor(t, "a conflict", func() bool {
			otherPoll(h)
			return h.tg.PollConflicts() > conflicts
		})
		calls := h.tg.Calls("getUpdates")
		deadline := time.Now().Add(3 * time.Second)
		for h.tg.Calls("getUpdates") == calls {
			if time.Now().After(deadline) {
				t.Fatalf("conflict %d: the poller did not ask again within 3s", round+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	warns := logLines(logs, "conflict")
	if len(warns) == 0 {
		t.Fatalf("no conflict in the log:\n%s", strings.Join(logs.lines(), "\n"))
	}
	for _, l := range warns {
		if l["level"] != "warn" {
			t.Errorf("logged %v; want a warning: a conflict that passes is no error", l)
		}
	}
	if !strings.HasPrefix(fmt.Sprint(warns[0]["error"]), "conflict, Conflict: terminated by other getUpdates request") {
		t.Errorf("logged %v; want the error to be go-telegram/bot's ErrorConflict with Telegram's words", warns[0])
	}
	if ok, problems := health.Check(); !ok {
		t.Errorf("not ready after conflicts that passed: %v", problems)
	}
}

// A conflict that lasts (here 2s instead of a minute) comes from outside this database's
// lease: another program polling with the token, or a webhook someone set. It is one error
// line that says which and what to do, not repeated every second (here: not within the
// hour), and readiness fails with it until polling works again.
func TestPollerReportsAPersistentConflict(t *testing.T) {
	for _, tc := range []struct {
		name   string
		start  func(h *harness) (stop func())
		reason string
	}{
		{"another poller", func(h *harness) func() {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				for sleep(ctx, 50*time.Millisecond) {
					otherPoll(h)
				}
			}()
			return func() { cancel(); <-done }
		}, "getUpdates conflict for 2s: another program polls Telegram with this bot's token, outside this database"},
		{"a webhook set by something else", func(h *harness) func() {
			ctx := context.Background()
			if _, err := h.api.SetWebhook(ctx, &tgbot.SetWebhookParams{URL: "http://127.0.0.1:9/elsewhere"}); err != nil {
				t.Fatal(err)
			}
			return func() {
				if _, err := h.api.DeleteWebhook(ctx, &tgbot.DeleteWebhookParams{}); err != nil {
					t.Error(err)
				}
			}
		}, "getUpdates conflict for 2s: a webhook is set for this bot, by something other than this poller"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, fastOptions())
			health := NewHealth(nil)
			logs := runPoller(t, h, h.tg.URL(), PollerHealth(health), pollerConflict(200*time.Millisecond, 2*time.Second, time.Hour))
			waitFor(t, "polling", func() bool { return h.tg.Calls("getUpdates") >= 1 })
			stop := tc.start(h)
			waitFor(t, "the error", func() bool { return len(errorLines(logs)) > 0 })
			l := errorLines(logs)[0]
			if msg := fmt.Sprint(l["message"]); !strings.HasPrefix(msg, tc.reason) {
				t.Errorf("logged %q; want it to start %q", msg, tc.reason)
			}
			if !strings.Contains(fmt.Sprint(l["error"]), "Conflict:") {
				t.Errorf("logged %v; want Telegram's words in error", l)
			}
			ok, problems := health.Check()
			if ok || len(problems) != 1 || !strings.HasPrefix(problems[0], "poller: getUpdates conflict for ") {
				t.Errorf("health: ready %v, problems %q; want not ready: poller: getUpdates conflict for ...", ok, problems)
			}
			// Conflicts go on: said once, not once a try.
			conflicts := h.tg.PollConflicts()
			waitFor(t, "more conflicts", func() bool { return h.tg.PollConflicts() >= conflicts+5 })
			if n := len(errorLines(logs)); n != 1 {
				t.Errorf("%d error lines; want 1 (repeated at most every conflictRepeat)", n)
			}
			stop()
			waitFor(t, "ready again", func() bool { ok, _ := health.Check(); return ok })
			waitFor(t, "the end of the conflict in the log", func() bool { return logLine(logs, "conflict is over") != nil })
		})
	}
}

func errorLines(logs *lineBuffer) []map[string]any {
	var out []map[string]any
	for _, l := range logLines(logs, "conflict") {
		if l["level"] == "error" {
			out = append(out, l)
		}
	}
	return out
}

// getUpdates answers up to 100 updates of up to a few megabytes; an answer longer than
// herald reads is refused as such, not cut and then misread.
func TestPollerRefusesAnOverlongAnswer(t *testing.T) {
	h := newHarness(t, nil, fastOptions())
	var served atomic.Int64
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/getUpdates") {
			http.NotFound(w, r)
			return
		}
		served.Add(1)
		w.Header().Set("Content-Type", "application/json")
		text := strings.Repeat("x", 1<<20)
		_, _ = fmt.Fprint(w, `{"ok":true,"result":[`)
		for i := range 70 { // 70 MB: more than any real answer
			if i > 0 {
				_, _ = fmt.Fprint(w, ",")
			}
			if _, err := fmt.Fprintf(w, `{"update_id":%d,"message":{"message_id":%d,"date":1,"chat":{"id":1,"type":"private"},"text":%q}}`, i+1, i+1, text); err != nil {
				return // the client stopped reading
			}
		}
		_, _ = fmt.Fprint(w, `]}`)
	}))
	defer fake.Close()
	logs := runPoller(t, h, fake.URL)
	waitFor(t, "a refusal in the log", func() bool { return logLine(logs, "getUpdates") != nil })
	l := logLine(logs, "getUpdates")
	if !strings.Contains(fmt.Sprint(l["error"]), "longer than") {
		t.Errorf("logged %v; want the error to say the answer is longer than herald reads", l)
	}
	off, err := h.st.Offset(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if off != 0 {
		t.Errorf("offset %d after a refused answer; want 0", off)
	}
}

// An ok:true answer whose result is not a list of updates (a proxy, a changed API) is an
// error retried with backoff, not an empty batch that would look like a quiet chat.
func TestPollerRetriesAResultThatIsNotAList(t *testing.T) {
	h := newHarness(t, nil, fastOptions())
	var calls atomic.Int64
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) == 1 {
			_, _ = fmt.Fprint(w, `{"ok":true,"result":{"update_id":1}}`)
			return
		}
		_, _ = fmt.Fprint(w, `{"ok":true,"result":[]}`)
	}))
	defer fake.Close()
	logs := runPoller(t, h, fake.URL)
	waitFor(t, "getUpdates asked again", func() bool { return calls.Load() >= 2 })
	if logLine(logs, "getUpdates") == nil {
		t.Errorf("no getUpdates failure in the log:\n%s", strings.Join(logs.lines(), "\n"))
	}
}

// TestPollerSurvivesAnUpdateJSONBRefuses: jsonb refuses a lone UTF-16 surrogate escape
// ("\ud83d" without its pair), which any client can put into a text. The batch holding it
// used to fail for ever, so the poller never acknowledged it and no chat was served again.
// It is stored re-encoded (U+FFFD in its place) and handled, and the poller goes on.
func TestPollerSurvivesAnUpdateJSONBRefuses(t *testing.T) {
	handler := handlerMap{"ping": func(ctx context.Context, req commands.Request) (commands.Response, error) {
		return commands.Say("pong " + strings.Join(req.Args, " ")), nil
	}}
	h := newHarness(t, fastLimits(), fastOptions())
	r := startIntake(t, h, handler, IntakeOptions{})
	r.tg.SendRawUpdate("message", json.RawMessage(`{"message_id":1,"date":1767000000,"from":{"id":42,"is_bot":false,"first_name":"Ann"},
		"chat":{"id":42,"type":"private","first_name":"Ann"},"text":"/ping \ud83d","entities":[{"type":"bot_command","offset":0,"length":5}]}`))
	r.tg.SendText(telegramtest.PrivateChat(bob), bob, "/ping")
	if msgs := waitMessages(t, r.tg, ann.ID, 1); msgs[0].Text != "pong \ufffd" {
		t.Errorf("answer %q, want %q", msgs[0].Text, "pong \ufffd")
	}
	if msgs := waitMessages(t, r.tg, bob.ID, 1); msgs[0].Text != "pong " {
		t.Errorf("answer %q", msgs[0].Text)
	}
	waitFor(t, "every update handled", func() bool { return r.tg.Pending() == 0 && pendingUpdates(t, r.st) == 0 })
}
