package jenkinstest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// Notification is one post of the Notification plugin.
type Notification struct {
	Job     string // the job's full name
	Phase   string // QUEUED, STARTED, COMPLETED, FINALIZED
	Body    []byte
	Dropped bool   // lost on the way (DropNotifications)
	Status  int    // what the endpoint answered; 0 when it was not reached
	Answer  string // the endpoint's body, the first 1 kB
	Err     string // why it was not reached
	Done    bool
}

// notifyLocked posts a job's state at phase when the job has the plugin's endpoint. The
// body is the plugin's JSON format. Its scm is what the plugin finds in the build's
// environment (GIT_URL, GIT_BRANCH, GIT_COMMIT): the git plugin sets them for a freestyle
// build, not for a Pipeline, whose posts carry an empty scm.
func (s *Server) notifyLocked(n *node, b *build, phase string) {
	if !n.notify {
		return
	}
	bs := map[string]any{"phase": phase, "timestamp": s.now().UnixMilli(), "scm": map[string]any{}, "artifacts": map[string]any{}, "log": "", "notes": ""}
	if b != nil {
		bs["number"], bs["queue_id"] = b.number, b.queueID
		bs["url"] = b.job.path() + fmt.Sprint(b.number) + "/"
		bs["full_url"] = b.url(s.root)
		bs["display_name"] = fmt.Sprintf("#%d", b.number)
		bs["duration"] = b.duration
		if !b.building {
			bs["status"] = b.result
		}
		params := map[string]string{}
		for _, d := range n.params {
			if d.Type != ParamPassword { // the plugin leaves sensitive values out
				params[d.Name] = b.params[d.Name]
			}
		}
		bs["parameters"] = params
		if b.sha != "" && n.kind == kindFreestyle {
			bs["scm"] = map[string]any{"url": "https://git.example.com/app.git", "branch": b.branch, "commit": b.sha, "changes": []string{}, "culprits": []string{}}
		}
	}
	body, _ := json.Marshal(map[string]any{"name": n.name, "display_name": displayName(n), "url": n.path(), "build": bs})
	note := &Notification{Job: n.fullName(), Phase: phase, Body: body}
	s.notes = append(s.notes, note)
	if s.dropNext > 0 {
		s.dropNext--
		note.Dropped, note.Done = true, true
		return
	}
	s.noteQueue = append(s.noteQueue, note)
	select {
	case s.hookWake <- struct{}{}:
	default:
	}
}

// Notifications lists every post made, in order (copies).
func (s *Server) Notifications() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Notification, len(s.notes))
	for i, n := range s.notes {
		out[i] = *n
	}
	return out
}

// DropNotifications makes the next n posts get lost.
func (s *Server) DropNotifications(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropNext += n
}

// Redeliver posts notification i again (the plugin retries a post that failed).
func (s *Server) Redeliver(i int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.notes[i]
	note := &Notification{Job: old.Job, Phase: old.Phase, Body: old.Body}
	s.notes = append(s.notes, note)
	s.noteQueue = append(s.noteQueue, note)
	select {
	case s.hookWake <- struct{}{}:
	default:
	}
}

// deliverLoop posts the queued notifications one at a time, in order.
func (s *Server) deliverLoop() {
	for {
		s.mu.Lock()
		var note *Notification
		if len(s.noteQueue) > 0 {
			note, s.noteQueue = s.noteQueue[0], s.noteQueue[1:]
		}
		s.mu.Unlock()
		if note == nil {
			select {
			case <-s.closed:
				return
			case <-s.hookWake:
				continue
			}
		}
		status, answer, errText := s.post(note.Body)
		s.mu.Lock()
		note.Status, note.Answer, note.Err, note.Done = status, answer, errText, true
		s.changedLocked()
		s.mu.Unlock()
	}
}

// post sends a body as the plugin's HTTP protocol does: JSON, with the URL's user info as
// Basic authorization.
func (s *Server) post(body []byte) (int, string, string) {
	if s.opts.NotifyURL == "" {
		return 0, "", "no NotifyURL"
	}
	u, err := url.Parse(s.opts.NotifyURL)
	if err != nil {
		return 0, "", err.Error()
	}
	userInfo := u.User.String() // as written, still percent-encoded, as Java's URL keeps it
	u.User = nil
	req, err := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, "", err.Error()
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	if userInfo != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(userInfo)))
	}
	ctx, cancel := contextUntil(s.closed, 10*time.Second)
	defer cancel()
	resp, err := s.hookHTTP.Do(req.WithContext(ctx))
	if err != nil {
		return 0, "", err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return resp.StatusCode, string(b), ""
}
