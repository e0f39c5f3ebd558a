package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/herald-ci/herald/bot/actions"
)

const (
	deploySecret  = "deploy-hook-secret-0123456789"
	forwardSecret = "forward-secret-0123456789abc"
)

// opsSystem is the system behind the actions and the forward receiver, the way a real one
// is written: it checks every request's signature and refuses what is not signed.
type opsSystem struct {
	mu        sync.Mutex
	calls     []actions.ActionBody // signed action calls, in order
	forwards  []string             // delivery id + " " + body of every forward attempt
	failFirst int                  // forward attempts to answer 503 before taking them
	unsigned  int                  // requests refused for their signature
}

func (o *opsSystem) handler() http.Handler {
	mux := http.NewServeMux()
	signed := func(secret string, next func(w http.ResponseWriter, r *http.Request, body []byte)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if !actions.Verify(secret, body, r.Header.Get(actions.SignatureHeader)) {
				o.mu.Lock()
				o.unsigned++
				o.mu.Unlock()
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
			next(w, r, body)
		}
	}
	record := func(body []byte) actions.ActionBody {
		var b actions.ActionBody
		_ = json.Unmarshal(body, &b)
		o.mu.Lock()
		o.calls = append(o.calls, b)
		o.mu.Unlock()
		return b
	}
	mux.Handle("POST /deploy", signed(deploySecret, func(w http.ResponseWriter, r *http.Request, body []byte) {
		b := record(body)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"text":    fmt.Sprintf("Deploying %s for @%s <now>", strings.Join(b.Args, " "), b.User.Username),
			"buttons": [][]map[string]string{{{"text": "Pipeline", "url": "https://ops.example.com/p/1"}}},
		})
	}))
	mux.Handle("POST /slow", signed(deploySecret, func(w http.ResponseWriter, r *http.Request, body []byte) {
		record(body)
		<-r.Context().Done() // never answers: herald gives up after the action's timeout
	}))
	mux.Handle("POST /forward", signed(forwardSecret, func(w http.ResponseWriter, r *http.Request, body []byte) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.forwards = append(o.forwards, r.Header.Get(actions.DeliveryHeader)+" "+string(body))
		if o.failFirst > 0 {
			o.failFirst--
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

func (o *opsSystem) snapshot() (calls []actions.ActionBody, forwards []string, unsigned int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]actions.ActionBody(nil), o.calls...), append([]string(nil), o.forwards...), o.unsigned
}

// Chat actions with the real binary: /deploy (dangerous, alice only) posts a signed body and
// its answer is the reply, with its link button; bob is refused, audited, and nothing is
// called; an action that does not answer in its timeout is answered so; /deploy is in the
// command menu. forward: a message in the team chat reaches the receiver, which fails the
// first attempt: it is delivered again under the same delivery id and leaves the queue.
func TestE2EActions(t *testing.T) {
	ops := &opsSystem{failFirst: 1}
	srv := httptest.NewServer(ops.handler())
	t.Cleanup(srv.Close)
	tg := newFakeTelegram(t, nil)
	h := newHerald(t, heraldOptions{tg: tg, extra: fmt.Sprintf(`authz:
  rules:
    - commands: [deploy]
      allow: [%d]
actions:
  - name: deploy
    description: deploy a service
    url: %s/deploy
    secret: ${DEPLOY_SECRET}
    dangerous: true
  - name: slow
    description: an action that takes too long
    url: %s/slow
    secret: ${DEPLOY_SECRET}
    timeout: 1s
forward:
  url: %s/forward
  secret: ${FORWARD_SECRET}
  chats: [%d]
`, alice.ID, srv.URL, srv.URL, srv.URL, team.ID)})
	h.env = append(h.env, "DEPLOY_SECRET="+deploySecret, "FORWARD_SECRET="+forwardSecret)
	h.start()
	t.Cleanup(func() {
		if logs := h.logs.String(); strings.Contains(logs, deploySecret) || strings.Contains(logs, forwardSecret) {
			t.Errorf("herald's logs show an action's secret")
		}
	})

	tg.SendText(team, alice, "/deploy api v2")
	reply := waitText(t, tg, team.ID, "Deploying api v2 for @alice &lt;now&gt;")
	if len(reply.Keyboard) != 1 || len(reply.Keyboard[0]) != 1 || reply.Keyboard[0][0].URL != "https://ops.example.com/p/1" {
		t.Errorf("reply keyboard = %+v, want the Pipeline link", reply.Keyboard)
	}
	calls, _, unsigned := ops.snapshot()
	if len(calls) != 1 || calls[0].Action != "deploy" || calls[0].User.ID != alice.ID || calls[0].Chat.ID != team.ID ||
		calls[0].Chat.Type != "supergroup" || calls[0].MessageID == 0 || calls[0].At.IsZero() || unsigned != 0 {
		t.Fatalf("calls = %+v (unsigned %d)", calls, unsigned)
	}

	tg.SendText(team, bob, "/deploy api v3")
	waitText(t, tg, team.ID, "You may not use /deploy")
	if calls, _, _ := ops.snapshot(); len(calls) != 1 {
		t.Fatalf("bob's /deploy reached the system: %+v", calls)
	}
	var audit []auditRow
	waitFor(t, "deploy's allowed and denied attempts audited", func() bool {
		audit = auditRows(t, h)
		return len(audit) == 2
	})
	if a := audit[0]; a.UserID != alice.ID || a.Command != "deploy" || a.Outcome != "allowed" || a.Args != "api v2" {
		t.Errorf("first audit row = %+v", a)
	}
	if a := audit[1]; a.UserID != bob.ID || a.Command != "deploy" || a.Outcome != "denied" || a.Args != "api v3" {
		t.Errorf("second audit row = %+v", a)
	}

	tg.SendText(team, bob, "/slow")
	waitText(t, tg, team.ID, "slow: no answer within 1s")

	menu := map[string]string{}
	for _, c := range tg.Commands() {
		menu[c.Command] = c.Description
	}
	if menu["deploy"] != "deploy a service" || menu["slow"] != "an action that takes too long" {
		t.Errorf("setMyCommands = %+v, want the actions in it", tg.Commands())
	}

	tg.SendText(team, alice, "db-3 is down again")
	var forwards []string
	waitFor(t, "the message relayed, the second attempt taken", func() bool {
		_, forwards, _ = ops.snapshot()
		return len(forwards) == 2 && dbCount(t, h, `SELECT count(*) FROM forward_queue`) == 0
	})
	id, body, _ := strings.Cut(forwards[0], " ")
	if id == "" || forwards[1] != forwards[0] {
		t.Fatalf("attempts %q: want the same delivery id and body both times", forwards)
	}
	var msg actions.MessageBody
	if err := json.Unmarshal([]byte(body), &msg); err != nil || msg.Text != "db-3 is down again" || msg.User.ID != alice.ID ||
		msg.User.Username != "alice" || msg.Chat.ID != team.ID {
		t.Fatalf("relayed %s (%v)", body, err)
	}
	// Commands are not relayed: only the one message went out.
	if _, forwards, _ := ops.snapshot(); len(forwards) != 2 {
		t.Errorf("forward attempts = %q", forwards)
	}
}
