package githubtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
)

// HookID is the X-GitHub-Hook-ID of every delivery: the fake has one repository hook.
const HookID = 424242

// Delivery is one webhook delivery, sent or not.
type Delivery struct {
	ID       string // X-GitHub-Delivery, a GUID
	Event    string // X-GitHub-Event: workflow_run, workflow_job, ping, …
	Action   string // the payload's action, "" for events without one
	RepoID   int64  // X-GitHub-Hook-Installation-Target-ID (0: the first repository's)
	Body     []byte
	Dropped  bool   // DropWebhooks: recorded, never sent
	Done     bool   // sent and answered, or failed, or dropped
	Status   int    // herald's HTTP status; 0 if not sent or the request failed
	Answer   string // herald's answer body (first 4 KiB), or the request's error
	Redelive bool   // a Redeliver of an earlier delivery
}

// MaxDeliveries is how many deliveries the server keeps (Deliveries, Redeliver): the
// oldest are forgotten past it, so cmd/fake-github can play for ever.
const MaxDeliveries = 1000

// recordLocked keeps a delivery, forgetting the oldest past MaxDeliveries. Callers hold
// s.mu.
func (s *Server) recordLocked(d *Delivery) {
	s.deliveries = append(s.deliveries, d)
	if n := len(s.deliveries) - MaxDeliveries; n > 0 {
		s.deliveries = append([]*Delivery(nil), s.deliveries[n:]...)
	}
}

// DropWebhooks makes the next n deliveries be recorded but never sent, as when a
// delivery is lost on the way.
func (s *Server) DropWebhooks(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext += n
}

// Deliveries returns copies of the deliveries so far (the last MaxDeliveries), in order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		out[i] = *d
		out[i].Body = append([]byte(nil), d.Body...)
	}
	return out
}

// guid is a random version-4 GUID, the form of X-GitHub-Delivery.
func guid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// enqueueLocked records a delivery and hands it to the delivery goroutine (unless
// dropped or no URL is set). Callers hold s.mu.
func (s *Server) enqueueLocked(event, action string, repoID int64, payload any) *Delivery {
	body, err := json.Marshal(payload)
	if err != nil {
		panic(fmt.Sprintf("githubtest: marshal %s payload: %v", event, err))
	}
	d := &Delivery{ID: guid(), Event: event, Action: action, RepoID: repoID, Body: body}
	s.recordLocked(d)
	switch {
	case s.dropNext > 0:
		s.dropNext--
		d.Dropped, d.Done = true, true
	case s.opts.WebhookURL == "":
		d.Done = true
	}
	// Dropped and unsent deliveries go through the queue too, so OnDelivery sees every
	// delivery once, in order.
	s.hookQueue = append(s.hookQueue, d)
	select {
	case s.hookWake <- struct{}{}:
	default:
	}
	s.notifyLocked()
	return d
}

// deliverLoop sends queued deliveries one at a time, in order, without the lock.
// GitHub does not retry a failed delivery: the result is recorded, and a test may
// Redeliver it.
func (s *Server) deliverLoop() {
	for {
		select {
		case <-s.closed:
			return
		default:
		}
		s.mu.Lock()
		var d *Delivery
		if len(s.hookQueue) > 0 {
			d = s.hookQueue[0]
			s.hookQueue = s.hookQueue[1:]
		}
		s.mu.Unlock()
		if d == nil {
			select {
			case <-s.hookWake:
				continue
			case <-s.closed:
				return
			}
		}
		s.mu.Lock()
		send := !d.Done
		s.mu.Unlock()
		if send {
			status, answer, err := s.post(d)
			s.mu.Lock()
			d.Done, d.Status, d.Answer = true, status, answer
			if err != nil {
				d.Answer = err.Error()
			}
			s.notifyLocked()
			s.mu.Unlock()
		}
		s.reportDelivery(d)
	}
}

// reportDelivery hands a copy of a finished delivery to Options.OnDelivery.
func (s *Server) reportDelivery(d *Delivery) {
	if s.opts.OnDelivery == nil {
		return
	}
	s.mu.Lock()
	cp := *d
	s.mu.Unlock()
	s.opts.OnDelivery(cp)
}

// post sends one delivery with GitHub's headers and signatures.
func (s *Server) post(d *Delivery) (int, string, error) {
	if s.opts.WebhookURL == "" {
		return 0, "", errors.New("githubtest: no WebhookURL")
	}
	req, err := http.NewRequest(http.MethodPost, s.opts.WebhookURL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, "", fmt.Errorf("githubtest: delivery request: %w", err)
	}
	repoID := d.RepoID
	if repoID == 0 {
		s.mu.Lock()
		if len(s.repos) > 0 {
			repoID = s.repos[0].id
		}
		s.mu.Unlock()
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/f00d123")
	h.Set("X-GitHub-Event", d.Event)
	h.Set("X-GitHub-Delivery", d.ID)
	h.Set("X-GitHub-Hook-ID", strconv.Itoa(HookID))
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(repoID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-Type", "repository")
	if s.opts.WebhookSecret != "" {
		h.Set("X-Hub-Signature", "sha1="+Sign(sha1.New, s.opts.WebhookSecret, d.Body))
		h.Set("X-Hub-Signature-256", "sha256="+Sign(sha256.New, s.opts.WebhookSecret, d.Body))
	}
	resp, err := s.hookClient.Do(req)
	if err != nil {
		s.logf("githubtest: delivery %s %s/%s failed: %v", d.ID, d.Event, d.Action, err)
		return 0, "", fmt.Errorf("githubtest: deliver %s: %w", d.Event, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	s.logf("githubtest: delivery %s %s/%s status=%d", d.ID, d.Event, d.Action, resp.StatusCode)
	return resp.StatusCode, string(answer), nil
}

// Sign is the hex HMAC of body under secret with hash h (sha256.New for
// X-Hub-Signature-256, sha1.New for X-Hub-Signature), for tests that forge or check
// signatures themselves.
func Sign(h func() hash.Hash, secret string, body []byte) string {
	m := hmac.New(h, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Redeliver sends an earlier delivery again, now and synchronously, with the same
// X-GitHub-Delivery id and body, as GitHub's "Redeliver" button does. The new attempt
// is recorded as a delivery of its own (Redelive set).
func (s *Server) Redeliver(id string) (status int, answer string, err error) {
	s.mu.Lock()
	var orig *Delivery
	for _, d := range s.deliveries {
		if d.ID == id {
			orig = d
		}
	}
	if orig == nil {
		s.mu.Unlock()
		return 0, "", fmt.Errorf("githubtest: no delivery %s", id)
	}
	d := &Delivery{ID: orig.ID, Event: orig.Event, Action: orig.Action, RepoID: orig.RepoID, Body: orig.Body, Redelive: true}
	s.recordLocked(d)
	s.mu.Unlock()
	return s.sendNow(d)
}

// SendWebhook signs and sends any event body now (a ping, a payload the fake does not
// produce, a malformed body) and records it as a delivery.
func (s *Server) SendWebhook(event string, body []byte) (status int, answer string, err error) {
	var probe struct {
		Action string `json:"action"`
	}
	_ = json.Unmarshal(body, &probe)
	d := &Delivery{ID: guid(), Event: event, Action: probe.Action, Body: append([]byte(nil), body...)}
	s.mu.Lock()
	s.recordLocked(d)
	s.mu.Unlock()
	return s.sendNow(d)
}

func (s *Server) sendNow(d *Delivery) (int, string, error) {
	status, answer, err := s.post(d)
	s.mu.Lock()
	d.Done, d.Status, d.Answer = true, status, answer
	if err != nil {
		d.Answer = err.Error()
	}
	s.notifyLocked()
	s.mu.Unlock()
	s.reportDelivery(d)
	return status, answer, err
}

// PingBody is a ping event's payload for this server's hook, as GitHub sends it when
// a hook is created.
func (s *Server) PingBody() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := map[string]any{
		"zen":     "Keep it logically awesome.",
		"hook_id": HookID,
		"hook": map[string]any{
			"type": "Repository", "id": HookID, "name": "web", "active": true,
			"events": []string{"workflow_run", "workflow_job"},
			"config": map[string]any{"content_type": "json", "insecure_ssl": "0", "url": s.opts.WebhookURL},
		},
	}
	if len(s.repos) > 0 {
		p["repository"] = s.repoJSON(s.repos[0])
		p["sender"] = s.user("octocat")
	}
	data, _ := json.Marshal(p)
	return data
}

// runEventLocked queues a workflow_run delivery for the run's latest attempt.
func (s *Server) runEventLocked(rn *run, action string) {
	s.enqueueLocked("workflow_run", action, rn.repo.id, map[string]any{
		"action":       action,
		"workflow_run": s.runJSON(rn, rn.latest()),
		"workflow":     s.workflowJSON(rn.wf),
		"repository":   s.repoJSON(rn.repo),
		"sender":       s.user(rn.latest().triggeringActor),
	})
}

// jobEventLocked queues a workflow_job delivery.
func (s *Server) jobEventLocked(rn *run, j *job, action string) {
	s.enqueueLocked("workflow_job", action, rn.repo.id, map[string]any{
		"action":       action,
		"workflow_job": s.jobJSON(rn, j),
		"repository":   s.repoJSON(rn.repo),
		"sender":       s.user(rn.latest().triggeringActor),
	})
}
